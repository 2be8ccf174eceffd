# A voting round end to end on NixOS: the daemon from services.govnode comes
# up under its packaged unit with the module's drop-ins, the timer's service
# runs a round, the votes are on chain, and the journal has the structured
# fields that let an operator follow one round.
{ pkgs, self }:
let
  common = import ./common.nix { inherit pkgs self; };
  pure = import ../lib.nix;
in
pkgs.testers.runNixOSTest {
  name = "govnode-round";

  nodes.machine = common.machine;

  testScript = ''
    ${common.pythonHelpers}

    EXPECTED_PROPS = json.loads('${builtins.toJSON pure.showExpected}')

    start_all()
    machine.wait_for_unit("govnode.service")

    with subtest("the daemon reports its state"):
        props = show(machine, "govnode.service", "Type", "StatusText", "NotifyAccess")
        assert props["Type"] == "notify-reload", props
        assert props["StatusText"].strip(), "govnode.service sent no STATUS= text"

    with subtest("NixOS drop-ins keep the packaged hardening"):
        props = show(machine, "govnode.service", *EXPECTED_PROPS)
        wrong = {k: (props.get(k), v) for k, v in EXPECTED_PROPS.items() if props.get(k) != v}
        assert not wrong, f"hardening differs (actual, expected): {wrong}"
        creds = machine.succeed("systemctl show -p LoadCredential --value govnode.service")
        assert "node-" in creds and "api-token" in creds, creds

    with subtest("the timer is armed on the module's schedule"):
        machine.succeed("systemctl is-active govnode-round.timer")
        timer = machine.succeed("systemctl cat govnode-round.timer")
        assert "OnCalendar=${pure.timer.OnCalendar}" in timer, timer

    devnet = read_devnet(machine)
    dao = devnet["asset_dao"]

    with subtest("the timer's service runs a round"):
        # What the timer starts; a failed round fails this start.
        machine.succeed("systemctl start govnode-round.service")
        assert show(machine, "govnode-round.service", "Result")["Result"] == "success"
        machine.succeed("systemctl is-active govnode.service")

    with subtest("votes are on chain"):
        count = int(cast_call(machine, dao, "getProposalCount()(uint256)"))
        assert count >= 1, "the devnet created no proposal"
        voted = {
            (node["name"], pid): cast_call(machine, dao, "hasVoted(uint256,address)(bool)", pid, node["address"]) == "true"
            for node in devnet["nodes"]
            for pid in range(1, count + 1)
        }
        for node in devnet["nodes"]:
            assert any(v for (n, _), v in voted.items() if n == node["name"]), f"{node['name']} cast no vote: {voted}"
        for pid in range(1, count + 1):
            assert any(v for (_, p), v in voted.items() if p == pid), f"proposal {pid} got no vote: {voted}"

    with subtest("a second round sends no second vote"):
        before = machine.succeed(f"{CAST} block-number --rpc-url {RPC}").strip()
        machine.succeed("systemctl start govnode-round.service")
        after = machine.succeed(f"{CAST} block-number --rpc-url {RPC}").strip()
        assert before == after, f"a repeated round mined transactions (blocks {before} -> {after})"

    with subtest("the journal carries structured fields"):
        node = devnet["nodes"][0]["name"]
        out = machine.succeed(f"journalctl -u govnode.service NODE={node} -o json --no-pager")
        entries = [json.loads(line) for line in out.splitlines() if line.strip()]
        assert entries, f"no journal entry with NODE={node}"
        assert any("ROUND_ID" in e for e in entries), "no entry of the node carries ROUND_ID"
        assert any("TX_HASH" in e and "PROPOSAL_ID" in e for e in entries), "no vote entry carries TX_HASH and PROPOSAL_ID"
        round_id = next(e["ROUND_ID"] for e in entries if "ROUND_ID" in e)
        machine.succeed(f"journalctl -u govnode.service ROUND_ID={round_id} --no-pager | grep -q .")

    with subtest("no secret reaches the journal"):
        journal = machine.succeed("journalctl --no-pager -o cat")
        token = machine.succeed("cat ${common.devnetDir}/api-token").strip()
        assert token not in journal, "the API token is in the journal"
        for path in machine.succeed("systemctl cat govnode.service | sed -n 's/^LoadCredential=node-[^:]*://p'").split():
            key = machine.succeed(f"cat {path}").strip().removeprefix("0x").lower()
            assert key not in journal.lower(), f"the private key in {path} is in the journal"

    with subtest("reload keeps the daemon up"):
        pid = show(machine, "govnode.service", "MainPID")["MainPID"]
        machine.succeed("systemctl reload govnode.service")
        machine.succeed("systemctl is-active govnode.service")
        assert show(machine, "govnode.service", "MainPID")["MainPID"] == pid, "reload restarted the daemon"

    with subtest("stop is clean"):
        machine.succeed("systemctl stop govnode.service")
        props = show(machine, "govnode.service", "Result", "ExecMainStatus")
        assert props == {"Result": "success", "ExecMainStatus": "0"}, props
  '';
}
