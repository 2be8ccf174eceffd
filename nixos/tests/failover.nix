# Two daemons, one PostgreSQL ledger, one chain: `a` and `b` run
# services.govnode with the same nodes and settings.ha, and the database and
# the chain live on `db`. The leader is killed with SIGKILL while its round
# sends votes; the standby takes the lease over, finishes the round, and on
# chain no pair (proposal, node) has two votes and every vote the ledger
# confirms is there. The killed daemon comes back (Restart=on-failure) as the
# standby.
#
# The database trusts the test network (no password): a test VM's choice,
# not a deployment's, which would give urlFile a password or use TLS.
{ pkgs, self }:
let
  common = import ./common.nix { inherit pkgs self; };
  inherit (common) devnet devnetDir;

  rpcUrl = "http://db:8545";
  ledgerUrl = "postgresql://govnode@db:5432/govnode";
  keyDir = "/run/keys/govnode";

  daemon =
    id:
    { lib, ... }:
    {
      imports = [ self.nixosModules.default ];
      virtualisation.memorySize = 1024;
      environment.systemPackages = [
        pkgs.curl
        pkgs.jq
      ];
      # Not a secret here (see above); a real deployment keeps the URL with
      # its password in a file outside the store.
      environment.etc."govnode-test/ledger.url".text = ledgerUrl;
      # The keys come from the devnet on `db`; the test script puts them in
      # place and starts the daemon.
      systemd.services.govnode.wantedBy = lib.mkForce [ ];
      services.govnode = {
        enable = true;
        timer = {
          onCalendar = "*:*:0/20";
          randomizedDelaySec = "0";
        };
        ledger.postgres = {
          enable = true;
          createLocally = false;
          urlFile = "/etc/govnode-test/ledger.url";
        };
        settings = common.settingsFor { inherit rpcUrl keyDir; } // {
          ha = {
            enabled = true;
            inherit id;
            lease = "5s";
          };
        };
      };
    };
in
pkgs.testers.runNixOSTest {
  name = "govnode-failover";

  nodes = {
    db =
      { lib, ... }:
      {
        imports = [ common.machine ];
        # The chain, the DAO and the database only; the daemons are a and b.
        services.govnode.enable = lib.mkForce false;
        systemd.services.anvil.serviceConfig.ExecStart =
          lib.mkForce "${pkgs.foundry}/bin/anvil --host 0.0.0.0 --port 8545 --chain-id ${toString devnet.chain_id}";
        systemd.services.govnode-devnet.wantedBy = [ "multi-user.target" ];
        services.postgresql = {
          enable = true;
          enableTCPIP = true;
          ensureDatabases = [ "govnode" ];
          ensureUsers = [
            {
              name = "govnode";
              ensureDBOwnership = true;
            }
          ];
          authentication = "host govnode govnode 192.168.1.0/24 trust";
        };
        networking.firewall.allowedTCPPorts = [
          5432
          8545
        ];
      };
    a = daemon "a";
    b = daemon "b";
  };

  testScript = ''
    ${common.pythonHelpers}

    def health(machine):
        return json.loads(machine.succeed("curl -sf http://127.0.0.1:5001/health"))

    def role(machine):
        return health(machine).get("ha", {}).get("role")

    start_all()
    db.wait_for_unit("govnode-devnet.service")
    db.wait_for_unit("postgresql.service")
    devnet = read_devnet(db)

    with subtest("both daemons start on the shared ledger, one leads"):
        names = [n["name"] for n in devnet["nodes"]] + ["api-token"]
        for m in (a, b):
            m.succeed("install -d -m 0700 ${keyDir}")
            for name in names:
                secret = db.succeed(f"cat ${devnetDir}/keys/{name}").strip()
                m.succeed(f"install -m 0600 /dev/stdin ${keyDir}/{name} <<< {shlex.quote(secret)}")
        a.succeed("systemctl start govnode.service")
        a.wait_for_unit("govnode.service")
        a.wait_until_succeeds("curl -sf http://127.0.0.1:5001/health | jq -e '.ha.role == \"leader\"'", timeout=60)
        b.succeed("systemctl start govnode.service")
        b.wait_for_unit("govnode.service")
        b.wait_until_succeeds("curl -sf http://127.0.0.1:5001/health | jq -e '.ha.role == \"standby\"'", timeout=60)
        status = show(b, "govnode.service", "StatusText")["StatusText"]
        assert "standby" in status, f"the standby's STATUS= does not say so: {status!r}"

    with subtest("the leader is killed while its round sends votes; the standby finishes it"):
        a.wait_until_succeeds(
            "journalctl -u govnode.service -o cat --no-pager | grep -q 'vote sent'", timeout=120
        )
        a.succeed("systemctl kill -s KILL govnode.service")
        b.wait_until_succeeds("curl -sf http://127.0.0.1:5001/health | jq -e '.ha.role == \"leader\"'", timeout=60)
        metrics = b.succeed("curl -sf http://127.0.0.1:5001/metrics")
        assert any(
            line.startswith("govnode_ha_failovers_total") and float(line.split()[-1]) >= 1
            for line in metrics.splitlines()
        ), "the new leader counted no failover"
        wait_for_round(b, finished_rounds(b), timeout=120)

    with subtest("the killed daemon comes back as the standby"):
        a.wait_until_succeeds("curl -sf http://127.0.0.1:5001/health | jq -e '.ha.role == \"standby\"'", timeout=90)

    with subtest("on chain: no pair voted twice, and every confirmed vote is there"):
        votes = vote_casts(db, devnet)
        counts = collections.Counter((p, n) for p, n, _ in votes)
        doubled = {k: c for k, c in counts.items() if c > 1}
        assert not doubled, f"voted more than once: {doubled}"
        assert counts, "no vote reached the chain"
        out = db.succeed(
            "sudo -u postgres psql -d govnode -At -F '|' -c "
            "\"SELECT proposal_id, voter, state FROM votes WHERE state = 'confirmed'\""
        )
        nodes = {n["address"].lower(): n["name"] for n in devnet["nodes"]}
        confirmed = {(int(p), nodes[v.lower()]) for p, v, _ in (line.split("|") for line in out.splitlines() if line)}
        assert confirmed == set(counts), f"ledger confirmed {sorted(confirmed)}, chain {sorted(counts)}"
  '';
}
