# What the VM tests share: an anvil chain, the test AssetDAO deployed onto it
# by `govnode devnet`, and services.govnode configured for that deployment.
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
  devnetArgs = [ "--once" "--nodes" "3" "--proposals" "2" ];

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
    environment.systemPackages = [ pkgs.foundry package pkgs.jq ];

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
        head -c 32 /dev/urandom | base64 > ${devnetDir}/api-token
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
        api.tokenFile = "${devnetDir}/api-token";
      } // lib.optionalAttrs (devnetConfig ? strategies) { inherit (devnetConfig) strategies; };
    };
  };

  # Python helpers for the test scripts.
  pythonHelpers = ''
    import json

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

    def cast_call(machine, to, sig, *args):
        cmd = " ".join([CAST, "call", "--rpc-url", RPC, to, repr(sig)] + [str(a) for a in args])
        return machine.succeed(cmd).strip().split()[0]

    def show(machine, unit, *props):
        out = machine.succeed(f"systemctl show {unit} " + " ".join(f"-p {p}" for p in props))
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
  '';
}
