# A voting round end to end on NixOS: the daemon from services.govnode comes
# up under its packaged unit with the module's drop-ins, govnode-round.timer
# fires on its own (a schedule of every 20 s here) and its service runs a
# round, the open proposals' votes are on chain (closed ones get none) and
# agree with the ledger, and the journal has the structured fields that let
# an operator follow one round. Nothing in the script starts a round.
{ pkgs, self }:
let
  common = import ./common.nix { inherit pkgs self; };
  pure = import ../lib.nix;
in
pkgs.testers.runNixOSTest {
  name = "govnode-round";

  nodes.machine = {
    imports = [ common.machine ];
    services.govnode.timer = {
      onCalendar = "*:*:0/20";
      randomizedDelaySec = "0";
    };
  };

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
        assert "OnCalendar=*:*:0/20" in timer, timer
        assert "Persistent=true" in timer, timer
        assert "RandomizedDelaySec=0" in timer, timer
        # The drop-in resets the packaged schedule rather than adding to it.
        props = show(machine, "govnode-round.timer", "TimersCalendar")
        assert props["TimersCalendar"].count("OnCalendar=") == 1, props

    devnet = read_devnet(machine)

    with subtest("the timer starts a round by itself"):
        wait_for_round(machine, 0, timeout=120)
        machine.succeed("journalctl -u govnode-round.timer --no-pager | grep -q .")
        machine.succeed("systemctl is-active govnode.service")

    with subtest("votes are on chain, at most once per node and open proposal, as the ledger says"):
        votes = vote_casts(machine, devnet)
        counts = collections.Counter((p, n) for p, n, _ in votes)
        fates = devnet["proposals"]
        closed = {p: fate for fate in ("expired", "executed", "canceled") for p in fates.get(fate, [])}
        assert fates["open"] and closed, f"the devnet scenario lacks open or closed proposals: {fates}"
        # Strategies skip some proposals (AssetDAO parameter changes and
        # other proposals), so not every pair has a vote; none has two.
        doubled = {k: c for k, c in counts.items() if c > 1}
        assert not doubled, f"voted more than once: {doubled}"
        wrong = sorted(f"{closed[p]} proposal {p} by {n}" for p, n in counts if p in closed)
        assert not wrong, f"voted closed proposals: {wrong}"
        assert all(p in fates["open"] for p, _ in counts), f"votes outside the devnet's proposals: {sorted(counts)}"
        for node in devnet["nodes"]:
            assert any(n == node["name"] for _, n in counts), f"{node['name']} cast no vote: {sorted(counts)}"
        rows = ledger_votes(machine, devnet)
        confirmed = {(p, n): decision for p, n, decision, state in rows if state == "confirmed"}
        assert set(confirmed) == set(counts), f"ledger confirmed {sorted(confirmed)}, chain {sorted(counts)}"
        for p, n, support in votes:
            assert (confirmed[(p, n)] == "for") == support, f"proposal {p} node {n}: chain {support}, ledger {confirmed[(p, n)]}"
        unfinished = [r for r in rows if r[3] in ("intent", "signed", "sent")]
        assert not unfinished, f"ledger rows left unfinished after a successful round: {unfinished}"

    with subtest("the next scheduled round sends no second vote"):
        before = machine.succeed(f"{CAST} block-number --rpc-url {RPC}").strip()
        rounds = finished_rounds(machine)
        wait_for_round(machine, rounds, timeout=120)
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

    with subtest("no secret reaches the journal, in a message or in any field"):
        journal = machine.succeed("journalctl --no-pager -o json")
        token = machine.succeed("cat ${common.devnetDir}/keys/api-token").strip()
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
