# Persistent= catch-up: a round missed while the timer was not running (the
# machine off) runs as soon as the timer starts again, and only then. The
# schedule is once a year, so no round falls due during the test by itself;
# the downtime is simulated the way systemd measures it, by the time of the
# timer's last trigger (its stamp file under /var/lib/systemd/timers).
{ pkgs, self }:
let
  common = import ./common.nix { inherit pkgs self; };
  stamp = "/var/lib/systemd/timers/stamp-govnode-round.timer";
in
pkgs.testers.runNixOSTest {
  name = "govnode-timer-persistent";

  nodes.machine = {
    imports = [ common.machine ];
    services.govnode.timer = {
      onCalendar = "*-01-01 00:00:00";
      persistent = true;
      randomizedDelaySec = "0";
    };
  };

  testScript = ''
    ${common.pythonHelpers}

    start_all()
    machine.wait_for_unit("govnode.service")
    machine.wait_for_unit("govnode-round.timer")
    read_devnet(machine)

    with subtest("the timer is persistent and has not fired"):
        props = show(machine, "govnode-round.timer", "Persistent", "RandomizedDelayUSec")
        assert props == {"Persistent": "yes", "RandomizedDelayUSec": "0"}, props
        machine.succeed("test -e ${stamp}")
        assert finished_rounds(machine) == 0, "a round ran before any was due"

    with subtest("a restart of the timer without a missed round starts none"):
        # Last trigger now: the last elapse (1 January) is older, nothing missed.
        machine.succeed("systemctl stop govnode-round.timer")
        machine.succeed("touch ${stamp}")
        machine.succeed("systemctl start govnode-round.timer")
        machine.sleep(10)
        assert finished_rounds(machine) == 0, "the timer fired although no round was missed"
        machine.succeed("systemctl is-active govnode-round.timer")

    with subtest("after a downtime over the scheduled time the missed round runs at once"):
        machine.succeed("systemctl stop govnode-round.timer")
        # Last trigger 400 days ago: at least one 1 January passed since.
        machine.succeed("touch -d '400 days ago' ${stamp}")
        machine.succeed("systemctl start govnode-round.timer")
        wait_for_round(machine, 0, timeout=60)
        # The catch-up moved the stamp to now, so another restart runs nothing.
        machine.succeed("test \"$(( $(date +%s) - $(stat -c %Y ${stamp}) ))\" -lt 120")
        machine.succeed("systemctl restart govnode-round.timer")
        machine.sleep(10)
        assert finished_rounds(machine) == 1, "the timer fired twice for one missed round"
  '';
}
