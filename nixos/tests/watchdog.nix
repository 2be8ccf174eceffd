# The watchdog: with the failpoints build, the daemon's heartbeat wedges
# after three good beats; the daemon must then stop sending WATCHDOG=1 and
# systemd must kill and restart it (Result=watchdog).
{ pkgs, self }:
let
  package = self.packages.${pkgs.stdenv.hostPlatform.system}.govnode-failpoints;
  common = import ./common.nix { inherit pkgs self package; };
in
pkgs.testers.runNixOSTest {
  name = "govnode-watchdog";

  nodes.machine = { lib, ... }: {
    imports = [ common.machine ];
    systemd.services.govnode = {
      environment.FAILPOINTS = "heartbeat-wedge=3*off->sleep(600000)";
      serviceConfig = {
        WatchdogSec = lib.mkForce "10s";
        # Long enough to see the unit waiting in auto-restart.
        RestartSec = lib.mkForce "20s";
      };
    };
  };

  testScript = ''
    ${common.pythonHelpers}

    start_all()
    machine.wait_for_unit("govnode.service")
    first_pid = show(machine, "govnode.service", "MainPID")["MainPID"]

    with subtest("a wedged heartbeat is killed by the watchdog"):
        machine.wait_until_succeeds(
            "systemctl show -p Result --value govnode.service | grep -qx watchdog", timeout=120
        )
        machine.succeed("journalctl -u govnode.service --no-pager | grep -q 'Watchdog timeout'")

    with subtest("and restarted"):
        machine.wait_until_succeeds(
            "test \"$(systemctl show -p NRestarts --value govnode.service)\" -ge 1", timeout=120
        )
        machine.wait_for_unit("govnode.service")
        assert show(machine, "govnode.service", "MainPID")["MainPID"] != first_pid
  '';
}
