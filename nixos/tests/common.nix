# What the VM tests share: an anvil chain, the test AssetDAO and its proposal
# scenario deployed onto it by `govnode devnet --setup-only` (which writes the
# files and exits; the daemon under test is services.govnode), and
# services.govnode configured for that deployment.
#
# The module writes the config at build time, but the DAO is deployed at run
# time. `govnode devnet` deploys deterministically (fixed deployer, keys and
# order), so the addresses and node names are known up front: ./devnet.json
# holds them, read as a plain source file (no import-from-derivation). The
# derivation `reference` checks them: it deploys in the build sandbox and
# fails when the deployment differs from ./devnet.json; the machine links it
# into /etc, so every VM test depends on it, and the tests check that the
# deployment in the VM agrees too.
{
  pkgs,
  self,
  package ? self.packages.${pkgs.stdenv.hostPlatform.system}.default,
}:
let
  inherit (pkgs) lib;

  port = 8545;
  rpcUrl = "http://127.0.0.1:${toString port}";
  devnetDir = "/var/lib/govnode-devnet";
  # Six open proposals cover every kind the strategies treat differently
  # (small and large investments, a divestment, a parameter change that
  # AssetDAO strategies skip); the devnet adds expired, executed and canceled
  # ones that must not be voted.
  devnetArgs = [
    "--setup-only"
    "--nodes"
    "3"
    "--proposals"
    "6"
  ];

  # The parts of devnet.json that do not depend on the run (its RPC URL, API
  # address and config path do).
  stable = ''del(.rpc_url, .api, .config)'';

  waitForAnvil = ''
    for _ in $(seq 200); do
      cast chain-id --rpc-url ${rpcUrl} >/dev/null 2>&1 && break
      sleep 0.1
    done
    cast chain-id --rpc-url ${rpcUrl} >/dev/null
  '';

  devnet = lib.importJSON ./devnet.json;

  # services.govnode.settings for the devnet's deployment, reached at
  # `rpcUrl`, with the node keys and the API token in `keyDir`.
  settingsFor =
    { rpcUrl, keyDir }:
    {
      chain = {
        id = devnet.chain_id;
        name = "devnet";
      };
      dao = {
        kind = "assetdao";
        address = devnet.asset_dao;
        vote_margin = "60s";
      };
      rpc.endpoints.anvil.url = rpcUrl;
      nodes = lib.listToAttrs (
        map (node: {
          inherit (node) name;
          value = {
            keyFile = "${keyDir}/${node.name}";
            inherit (node) strategy;
          };
        }) devnet.nodes
      );
      api.tokenFile = "${keyDir}/api-token";
      log.level = "debug";
    };

  reference =
    pkgs.runCommand "govnode-devnet-reference"
      {
        nativeBuildInputs = [
          pkgs.foundry
          package
          pkgs.jq
        ];
      }
      ''
        export HOME="$TMPDIR"
        anvil --host 127.0.0.1 --port ${toString port} --silent &
        anvil=$!
        trap 'kill $anvil' EXIT
        ${waitForAnvil}
        govnode devnet --rpc-url ${rpcUrl} --dir "$TMPDIR/devnet" ${lib.escapeShellArgs devnetArgs}
        jq -S '${stable}' "$TMPDIR/devnet/devnet.json" > deployed.json
        if ! diff -u ${./devnet.json} deployed.json; then
          echo "govnode devnet no longer deploys what nixos/tests/devnet.json says; update that file" >&2
          exit 1
        fi
        cp deployed.json "$out"
      '';
in
{
  inherit
    rpcUrl
    devnetDir
    devnet
    settingsFor
    ;
  inherit (import ../lib.nix) configPath;

  cast = "${pkgs.foundry}/bin/cast";

  # The NixOS configuration of the machine under test.
  machine =
    { ... }:
    {
      imports = [ self.nixosModules.default ];

      virtualisation.memorySize = 2048;
      # sqlite: the tests read the ledger; curl: the API.
      environment.systemPackages = [
        pkgs.foundry
        package
        pkgs.curl
        pkgs.jq
        pkgs.sqlite
      ];
      environment.etc."govnode-devnet/expected.json".source = reference;

      systemd.services.anvil = {
        description = "anvil test chain";
        wantedBy = [ "multi-user.target" ];
        path = [ pkgs.foundry ];
        serviceConfig = {
          ExecStart = "${pkgs.foundry}/bin/anvil --host 127.0.0.1 --port ${toString port} --chain-id ${toString devnet.chain_id}";
          DynamicUser = true;
          # anvil keeps a cache under $HOME.
          StateDirectory = "anvil";
          Environment = "HOME=/var/lib/anvil";
        };
        # Ready only once it answers, so what comes After= can deploy at once.
        postStart = waitForAnvil;
      };

      systemd.services.govnode-devnet = {
        description = "deploy the govnode test AssetDAO";
        requires = [ "anvil.service" ];
        after = [ "anvil.service" ];
        before = [ "govnode.service" ];
        requiredBy = [ "govnode.service" ];
        path = [
          package
          pkgs.coreutils
        ];
        serviceConfig = {
          Type = "oneshot";
          RemainAfterExit = true;
          StateDirectory = "govnode-devnet";
          UMask = "0077";
        };
        script = ''
          govnode devnet --rpc-url ${rpcUrl} --dir ${devnetDir} ${lib.escapeShellArgs devnetArgs}
        '';
      };

      services.govnode = {
        enable = true;
        inherit package;
        # `govnode devnet` writes the node keys and the API token there.
        settings = settingsFor {
          inherit rpcUrl;
          keyDir = "${devnetDir}/keys";
        };
      };
    };

  # Python helpers for the test scripts.
  pythonHelpers = ''
    import collections
    import json
    import shlex

    RPC = "${rpcUrl}"
    CAST = "${pkgs.foundry}/bin/cast"

    def read_devnet(machine):
        d = json.loads(machine.succeed("cat ${devnetDir}/devnet.json"))
        deployed = json.loads(machine.succeed("jq -S '${stable}' ${devnetDir}/devnet.json"))
        expected = json.loads(machine.succeed("cat /etc/govnode-devnet/expected.json"))
        assert deployed == expected, (
            f"the deployment in the VM ({deployed}) differs from the build-time one ({expected}): "
            "govnode devnet must deploy deterministically"
        )
        return d

    def vote_casts(machine, d):
        """(proposal id, node name, support) of every VoteCast event of the
        devnet's nodes; the deployer's vote on the proposal it executed is not
        theirs."""
        topic = machine.succeed(f"{CAST} keccak 'VoteCast(uint256,address,bool,uint256)'").strip()
        query = json.dumps([{"address": d["asset_dao"], "fromBlock": "0x0", "toBlock": "latest", "topics": [topic]}])
        logs = json.loads(machine.succeed(f"{CAST} rpc --rpc-url {RPC} --raw eth_getLogs {shlex.quote(query)}"))
        nodes = {n["address"].lower(): n["name"] for n in d["nodes"]}
        voter = lambda log: "0x" + log["topics"][2][-40:].lower()
        return [
            (int(log["topics"][1], 16), nodes[voter(log)], int(log["data"][2:66], 16) == 1)
            for log in logs
            if voter(log) in nodes
        ]

    def ledger_votes(machine, d):
        """The ledger's vote rows as (proposal id, node name, decision, state)."""
        out = machine.succeed(
            "sqlite3 -readonly -json /var/lib/govnode/ledger.sqlite "
            "'SELECT proposal_id, voter, decision, state FROM votes'"
        )
        nodes = {n["address"].lower(): n["name"] for n in d["nodes"]}
        rows = json.loads(out) if out.strip() else []
        return [(int(r["proposal_id"]), nodes.get(r["voter"].lower(), r["voter"]), r["decision"], r["state"]) for r in rows]

    def finished_rounds(machine):
        """How many starts of govnode-round.service ended well: systemd logs
        one "Finished ... govnode voting round." line for each (a failed one
        logs "Failed to start" instead)."""
        out = machine.succeed(
            "journalctl -u govnode-round.service -o cat --no-pager | grep -c 'Finished.*govnode voting round' || true"
        )
        return int(out.strip() or 0)

    def wait_for_round(machine, after, timeout):
        """Waits until more than `after` rounds have finished well, started
        by the timer (the tests start none), and checks the last one."""
        machine.wait_until_succeeds(
            "test \"$(journalctl -u govnode-round.service -o cat --no-pager | "
            f"grep -c 'Finished.*govnode voting round')\" -gt {after}",
            timeout=timeout,
        )
        props = show(machine, "govnode-round.service", "Result", "ExecMainStatus")
        assert props == {"Result": "success", "ExecMainStatus": "0"}, props

    def show(machine, unit, *props):
        out = machine.succeed(f"systemctl show {unit} " + " ".join(f"-p {p}" for p in props))
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
  '';
}
