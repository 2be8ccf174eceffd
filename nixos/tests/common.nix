# What the VM tests share: an anvil chain, the test AssetDAO and its proposal
# scenario deployed onto it by `govnode devnet --setup-only` (which writes the
# files and exits; the daemon under test is services.govnode), and
# services.govnode configured for that deployment.
#
# The module writes the config at build time, but the DAO is deployed at run
# time. `govnode devnet` deploys deterministically (fixed deployer, fixed
# order), so the same deployment run once in the build sandbox tells the
# addresses and node names up front; the tests check that the deployment in
# the VM landed on the same addresses.
{ pkgs, self, package ? self.packages.${pkgs.stdenv.hostPlatform.system}.default }:
let
  inherit (pkgs) lib;

  port = 8545;
  rpcUrl = "http://127.0.0.1:${toString port}";
  devnetDir = "/var/lib/govnode-devnet";
  # Six open proposals cover every kind the strategies treat differently
  # (small and large investments, a divestment, a parameter change that
  # AssetDAO strategies skip); the devnet adds expired, executed and canceled
  # ones that must not be voted.
  devnetArgs = [ "--setup-only" "--nodes" "3" "--proposals" "6" ];

  waitForAnvil = ''
    for _ in $(seq 200); do
      cast chain-id --rpc-url ${rpcUrl} >/dev/null 2>&1 && break
      sleep 0.1
    done
    cast chain-id --rpc-url ${rpcUrl} >/dev/null
  '';

  reference = pkgs.runCommand "govnode-devnet-reference"
    { nativeBuildInputs = [ pkgs.foundry package pkgs.yq-go ]; }
    ''
      anvil --host 127.0.0.1 --port ${toString port} --silent &
      anvil=$!
      trap 'kill $anvil' EXIT
      ${waitForAnvil}
      govnode devnet --rpc-url ${rpcUrl} --dir "$TMPDIR/devnet" ${lib.escapeShellArgs devnetArgs}
      mkdir -p "$out"
      cp "$TMPDIR/devnet/devnet.json" "$out/devnet.json"
      # Paths in the generated config become relative to the devnet dir, as
      # they will be in the VM.
      yq -o=json '.' "$TMPDIR/devnet/config.yaml" \
        | sed "s|$TMPDIR/devnet/||g" > "$out/config.json"
    '';

  devnet = lib.importJSON "${reference}/devnet.json";
  devnetConfig = lib.importJSON "${reference}/config.json";

  keyPath = node:
    if node ? key_file then
      (if lib.hasPrefix "/" node.key_file then node.key_file else "${devnetDir}/${node.key_file}")
    else throw "govnode devnet wrote node ${node.name} without key_file; the VM test needs the key as a file";
in
{
  inherit rpcUrl devnetDir devnet;

  cast = "${pkgs.foundry}/bin/cast";

  # The NixOS configuration of the machine under test.
  machine = { ... }: {
    imports = [ self.nixosModules.default ];

    virtualisation.memorySize = 2048;
    # sqlite: the test reads the ledger.
    environment.systemPackages = [ pkgs.foundry package pkgs.jq pkgs.sqlite ];

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
      path = [ package pkgs.coreutils ];
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
      logLevel = "debug";
      settings = {
        chain = devnetConfig.chain;
        dao = devnetConfig.dao;
        rpc.endpoints.anvil.url = rpcUrl;
        nodes = lib.listToAttrs (map
          (node: {
            inherit (node) name;
            value = {
              keyFile = keyPath node;
            } // lib.optionalAttrs (node ? strategy) { inherit (node) strategy; };
          })
          devnetConfig.nodes);
        # Written by the devnet next to the node keys.
        api.tokenFile = "${devnetDir}/keys/api-token";
      } // lib.optionalAttrs (devnetConfig ? strategies) { inherit (devnetConfig) strategies; };
    };
  };

  # Python helpers for the test scripts.
  pythonHelpers = ''
    import collections
    import json
    import shlex

    RPC = "${rpcUrl}"
    CAST = "${pkgs.foundry}/bin/cast"
    EXPECTED_DAO = "${devnet.asset_dao}".lower()

    def read_devnet(machine):
        d = json.loads(machine.succeed("cat ${devnetDir}/devnet.json"))
        assert d["asset_dao"].lower() == EXPECTED_DAO, (
            f"devnet deployed the DAO at {d['asset_dao']}, the build-time deployment at "
            f"{EXPECTED_DAO}: govnode devnet must deploy deterministically"
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

    def show(machine, unit, *props):
        out = machine.succeed(f"systemctl show {unit} " + " ".join(f"-p {p}" for p in props))
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
  '';
}
