#!/usr/bin/env bash
# Compiles the OpenZeppelin Governor fixtures and runs one proposal through them on
# anvil: delegate, propose, vote, execute. Proves the fixtures compile with the pinned
# solc-js/OpenZeppelin and that their clock is block numbers (moved with anvil_mine).
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUT="$_TEST_TMP/governor"
t0=$SECONDS
"$ROOT/contracts/build-governor.sh" "$OUT" >/dev/null || die "governor fixtures do not compile"
ok "governor fixtures compile (~$((SECONDS - t0)) s)"

for name in GovToken TestGovernor; do
    [ -f "$OUT/$name.json" ] || die "build-governor.sh wrote no $name.json"
    expect_eq "$name.json has the artifact keys" "abi bytecode contractName deployedBytecode" \
        "$(jq -r 'keys | join(" ")' "$OUT/$name.json")"
    size=$(( ($(jq -r '.deployedBytecode | length' "$OUT/$name.json") - 2) / 2 ))
    [ "$size" -gt 0 ] && [ "$size" -le 24576 ] && ok "$name runtime size $size bytes fits EIP-170" \
        || fail "$name runtime size $size bytes"
done
expect_eq "TestGovernor ABI has the Governor entry points" "castVote hasVoted proposalDeadline proposalSnapshot propose state" \
    "$(jq -r '[.abi[] | select(.type=="function") | .name
        | select(IN("propose","castVote","state","hasVoted","proposalSnapshot","proposalDeadline"))] | sort | join(" ")' \
        "$OUT/TestGovernor.json")"

start_anvil
ALICE="${ACCOUNTS[1]}"
TOKEN="$(deploy_json "$OUT/GovToken.json" 'constructor(string,string)' 'Gov Token' GOV)"
GOV="$(deploy_json "$OUT/TestGovernor.json" 'constructor(address,uint48,uint32,uint256)' "$TOKEN" 1 20 4)"
ok "deployed GovToken=$TOKEN TestGovernor=$GOV"
expect_eq "clock mode is block numbers" "mode=blocknumber&from=default" "$(call "$GOV" 'CLOCK_MODE()(string)' | tr -d '"')"
expect_eq "votingDelay" 1 "$(call "$GOV" 'votingDelay()(uint256)')"
expect_eq "votingPeriod" 20 "$(call "$GOV" 'votingPeriod()(uint256)')"

send "${ACCOUNTS[0]}" "$TOKEN" 'mint(address,uint256)' "$ALICE" 100000000000000000000 >/dev/null
send "$ALICE" "$TOKEN" 'delegate(address)' "$ALICE" >/dev/null

# The proposal calls GovToken.name(): harmless, and execute() needs a call that succeeds.
TARGETS="[$TOKEN]"; VALUES="[0]"; CALLDATAS="[$("$CAST" sig 'name()')]"; DESC="Smoke proposal"
send "$ALICE" "$GOV" 'propose(address[],uint256[],bytes[],string)' "$TARGETS" "$VALUES" "$CALLDATAS" "$DESC" >/dev/null
DESC_HASH="$("$CAST" keccak "$DESC")"
PID="$(call "$GOV" 'hashProposal(address[],uint256[],bytes[],bytes32)(uint256)' "$TARGETS" "$VALUES" "$CALLDATAS" "$DESC_HASH" | num)"
expect_eq "state after propose: Pending" 0 "$(call "$GOV" 'state(uint256)(uint8)' "$PID")"
mine 2
expect_eq "state after the delay: Active" 1 "$(call "$GOV" 'state(uint256)(uint8)' "$PID")"
receipt="$(send "$ALICE" "$GOV" 'castVote(uint256,uint8)' "$PID" 1)"
expect_eq "castVote mined" 0x1 "$(jq -r .status <<<"$receipt")"
expect_eq "hasVoted" true "$(call "$GOV" 'hasVoted(uint256,address)(bool)' "$PID" "$ALICE")"
expect_eq "a second castVote reverts GovernorAlreadyCastVote" "$("$CAST" sig 'GovernorAlreadyCastVote(address)')" \
    "$(revert_of "$ALICE" "$GOV" 'castVote(uint256,uint8)' "$PID" 1 | cut -c1-10)"
mine 21
expect_eq "state after the period: Succeeded" 4 "$(call "$GOV" 'state(uint256)(uint8)' "$PID")"
send "$ALICE" "$GOV" 'execute(address[],uint256[],bytes[],bytes32)' "$TARGETS" "$VALUES" "$CALLDATAS" "$DESC_HASH" >/dev/null
expect_eq "state after execute: Executed" 7 "$(call "$GOV" 'state(uint256)(uint8)' "$PID")"

finish
