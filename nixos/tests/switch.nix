# What a `nixos-rebuild switch` does to a running daemon: a settings change
# the daemon can take over (the log level) reloads it in place, with the same
# process, and the new file is what it reads; a change it cannot take over
# (the API address) restarts it. No switch starts a round.
{ pkgs, self }:
let
  common = import ./common.nix { inherit pkgs self; };
in
pkgs.testers.runNixOSTest {
  name = "govnode-switch";

  nodes.machine =
    { lib, ... }:
    {
      imports = [ common.machine ];
      # Rounds only when started: a scheduled one must not blur what the
      # switches do.
      services.govnode.timer.enable = false;

      specialisation.reload.configuration = {
        services.govnode.settings.log.level = lib.mkForce "trace";
      };
      specialisation.restart.configuration = {
        services.govnode.settings.api.listen = "127.0.0.1:5002";
      };
    };

  testScript =
    { nodes, ... }:
    let
      toplevel = nodes.machine.system.build.toplevel;
    in
    ''
      ${common.pythonHelpers}

      def switch_to(name):
          machine.succeed(f"${toplevel}/specialisation/{name}/bin/switch-to-configuration test")

      start_all()
      machine.wait_for_unit("govnode.service")
      read_devnet(machine)
      machine.wait_until_succeeds("curl -sf http://127.0.0.1:5001/health")
      first = show(machine, "govnode.service", "MainPID", "NRestarts")

      with subtest("the unit reads the stable config path, not a store path"):
          exec_start = machine.succeed("systemctl show -p ExecStart --value govnode.service")
          assert "--config ${common.configPath}" in exec_start, exec_start

      with subtest("a reloadable settings change reloads the daemon"):
          switch_to("reload")
          machine.succeed("grep -q 'level: trace' ${common.configPath}")
          machine.wait_until_succeeds("journalctl -u govnode.service --no-pager | grep -q 'configuration reloaded'")
          now = show(machine, "govnode.service", "MainPID", "NRestarts", "ActiveState")
          assert now == {**first, "ActiveState": "active"}, f"the switch restarted the daemon: {first} -> {now}"
          assert "reload refused" not in machine.succeed("journalctl -u govnode.service --no-pager")

      with subtest("a change the daemon cannot take over restarts it"):
          switch_to("restart")
          machine.wait_until_succeeds("curl -sf http://127.0.0.1:5002/health")
          now = show(machine, "govnode.service", "MainPID")
          assert now["MainPID"] != first["MainPID"], "the API address changed without a restart"

      with subtest("no switch started a round"):
          assert finished_rounds(machine) == 0, "a switch started govnode-round.service"
    '';
}
