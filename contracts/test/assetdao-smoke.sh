#!/usr/bin/env bash
# End-to-end check of the committed TestToken/TestAssetDAO artifacts on a real anvil:
# deploys them with cast and asserts the AssetDAO behaviour govnode relies on
# (revert selectors and their order, direction-blind re-votes, field order of
# getProposal, the VoteCast log). Ends with "N passed, N failed".
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_anvil
OWNER="${ACCOUNTS[0]}"
ALICE="${ACCOUNTS[1]}"
BOB="${ACCOUNTS[2]}"
NOBODY="${ACCOUNTS[3]}" # holds no DLOOP
deploy() { local name="$1"; shift; deploy_json "$ART/$name.json" "$@"; }

# ---- selectors ----------------------------------------------------------------

expect_eq "selector ContractPaused" 0xab35696f "$("$CAST" sig 'ContractPaused()')"
expect_eq "selector ProposalNotFound" 0x635e8737 "$("$CAST" sig 'ProposalNotFound()')"
expect_eq "selector VotingPeriodEnded" 0xdc3b0dc4 "$("$CAST" sig 'VotingPeriodEnded()')"
expect_eq "selector InvalidProposalState" 0xb4372803 "$("$CAST" sig 'InvalidProposalState()')"
expect_eq "selector VotingBufferNotElapsed" 0xf80433b7 "$("$CAST" sig 'VotingBufferNotElapsed()')"
expect_eq "the artifact declares these errors without arguments" \
    "ContractPaused InvalidProposalState ProposalNotFound VotingBufferNotElapsed VotingPeriodEnded" \
    "$(jq -r '[.abi[] | select(.type=="error" and (.inputs|length)==0) | .name
        | select(IN("ContractPaused","ProposalNotFound","VotingPeriodEnded","InvalidProposalState","VotingBufferNotElapsed"))]
        | sort | join(" ")' "$ART/TestAssetDAO.json")"
expect_eq "getProposal outputs in documented order" \
    "id proposalType assetAddress amount description proposer createdAt votingEnds yesVotes noVotes status executed" \
    "$(jq -r '.abi[] | select(.name=="getProposal") | [.outputs[].name] | join(" ")' "$ART/TestAssetDAO.json")"

# ---- deployment ---------------------------------------------------------------

DAY=86400
WEEK=$((7 * DAY))
DLOOP="$(deploy TestToken 'constructor(string,string,uint8)' 'D-Loop Token' DLOOP 18)"
USDC="$(deploy TestToken 'constructor(string,string,uint8)' 'USD Coin' USDC 6)"
DAO="$(deploy TestAssetDAO 'constructor(address,uint256)' "$DLOOP" "$WEEK")"
ok "deployed DLOOP=$DLOOP USDC=$USDC DAO=$DAO"

expect_eq "dloopToken()" "$(lc "$DLOOP")" "$(lc "$(call "$DAO" 'dloopToken()(address)')")"
expect_eq "votingPeriod()" "$WEEK" "$(call "$DAO" 'votingPeriod()(uint256)' | num)"
expect_eq "quorum() default" 1000 "$(call "$DAO" 'quorum()(uint256)' | num)"
expect_eq "USDC decimals" 6 "$(call "$USDC" 'decimals()(uint8)')"

ALICE_BAL=1000000000000000000000 # 1,000 DLOOP
BOB_BAL=3000000000000000000000   # 3,000 DLOOP
send "$OWNER" "$DLOOP" 'mint(address,uint256)' "$ALICE" "$ALICE_BAL" >/dev/null
send "$OWNER" "$DLOOP" 'mint(address,uint256)' "$BOB" "$BOB_BAL" >/dev/null
expect_eq "alice's DLOOP balance" "$ALICE_BAL" "$(call "$DLOOP" 'balanceOf(address)(uint256)' "$ALICE" | num)"

# ---- proposal 1: create, read back ---------------------------------------------

receipt="$(send "$ALICE" "$DAO" 'createProposal(uint8,address,uint256,string)' 0 "$USDC" 2500000 'Invest 2.5 USDC')"
created_at="$("$CAST" block --rpc-url "$RPC" "$(jq -r .blockNumber <<<"$receipt")" --field timestamp)"
expect_eq "getProposalCount() after first proposal" 1 "$(call "$DAO" 'getProposalCount()(uint256)')"
created_topic="$("$CAST" keccak 'ProposalCreated(uint256,uint256,address,uint8)')"
expect_eq "ProposalCreated log emitted" 1 \
    "$(jq --arg t "$created_topic" '[.logs[] | select(.topics[0] == $t)] | length' <<<"$receipt")"

GP='getProposal(uint256)(uint256,uint8,address,uint256,string,address,uint256,uint256,uint256,uint256,uint8,bool)'
mapfile -t P < <(call "$DAO" "$GP" 1 | num)
expect_eq "getProposal.id" 1 "${P[0]}"
expect_eq "getProposal.proposalType" 0 "${P[1]}"
expect_eq "getProposal.assetAddress" "$(lc "$USDC")" "$(lc "${P[2]}")"
expect_eq "getProposal.amount" 2500000 "${P[3]}"
expect_eq "getProposal.description" '"Invest' "${P[4]}" # num keeps the first word
expect_eq "getProposal.proposer" "$(lc "$ALICE")" "$(lc "${P[5]}")"
expect_eq "getProposal.createdAt" "$created_at" "${P[6]}"
expect_eq "getProposal.votingEnds" "$((created_at + WEEK))" "${P[7]}"
expect_eq "getProposal.yesVotes before voting" 0 "${P[8]}"
expect_eq "getProposal.noVotes before voting" 0 "${P[9]}"
expect_eq "getProposal.status Active" 1 "${P[10]}"
expect_eq "getProposal.executed" false "${P[11]}"
expect_eq "getProposal.description in full" '"Invest 2.5 USDC"' "$(call "$DAO" "$GP" 1 | sed -n 5p)"

expect_eq "createProposal with type 4 reverts with empty data" 0x \
    "$(revert_of "$ALICE" "$DAO" 'createProposal(uint8,address,uint256,string)' 4 "$USDC" 1 x)"

# ---- voting ---------------------------------------------------------------------

expect_eq "hasVoted before voting" false "$(call "$DAO" 'hasVoted(uint256,address)(bool)' 1 "$ALICE")"
receipt="$(send "$ALICE" "$DAO" 'vote(uint256,bool)' 1 true)"
expect_eq "alice's vote mined" 0x1 "$(jq -r .status <<<"$receipt")"
echo "     first vote used $(( $(jq -r .gasUsed <<<"$receipt") )) gas"
expect_eq "hasVoted after voting" true "$(call "$DAO" 'hasVoted(uint256,address)(bool)' 1 "$ALICE")"
mapfile -t P < <(call "$DAO" "$GP" 1 | num)
expect_eq "yesVotes equals alice's balance" "$ALICE_BAL" "${P[8]}"

vote_topic="$("$CAST" keccak 'VoteCast(uint256,address,bool,uint256)')"
log="$(jq -c --arg t "$vote_topic" '[.logs[] | select(.topics[0] == $t)][0]' <<<"$receipt")"
[ "$log" != null ] && ok "VoteCast(uint256,address,bool,uint256) log emitted ($vote_topic)" \
    || fail "no VoteCast log with topic0 $vote_topic"
expect_eq "VoteCast proposalId topic" 1 "$("$CAST" to-dec "$(jq -r '.topics[1]' <<<"$log")")"
expect_eq "VoteCast voter topic" "$(lc "$ALICE")" \
    "0x$(jq -r '.topics[2]' <<<"$log" | tail -c 41)"
expect_eq "VoteCast data (support, weight)" "true $ALICE_BAL" \
    "$("$CAST" abi-decode --input 'x(bool,uint256)' "$(jq -r .data <<<"$log")" | num | xargs)"

expect_eq "second vote within 6 h reverts VotingBufferNotElapsed" 0xf80433b7 \
    "$(revert_of "$ALICE" "$DAO" 'vote(uint256,bool)' 1 false)"
# Sent anyway, the transaction is mined and reverts.
if receipt="$(send "$ALICE" "$DAO" 'vote(uint256,bool)' 1 false --gas-limit 200000 2>/dev/null)"; then
    expect_eq "a sent vote within the buffer is mined with status 0" 0x0 "$(jq -r .status <<<"$receipt")"
else
    ok "a sent vote within the buffer is refused"
fi

send "$BOB" "$DAO" 'vote(uint256,bool)' 1 false >/dev/null
increase_time $((6 * 3600 + 1))

# Alice votes yes again: her balance leaves the no side and is added to yes once more.
receipt="$(send "$ALICE" "$DAO" 'vote(uint256,bool)' 1 true)"
expect_eq "re-vote after 6 h succeeds (a double vote is possible)" 0x1 "$(jq -r .status <<<"$receipt")"
mapfile -t P < <(call "$DAO" "$GP" 1 | num)
expect_eq "same-direction re-vote counts alice twice" "$((2 * 1000))" "$("$CAST" from-wei "${P[8]}" | cut -d. -f1)"
expect_eq "same-direction re-vote takes weight from bob's no" "$((3000 - 1000))" "$("$CAST" from-wei "${P[9]}" | cut -d. -f1)"
expect_eq "hasVoted stays true" true "$(call "$DAO" 'hasVoted(uint256,address)(bool)' 1 "$ALICE")"

# Bob re-votes no: yes (2,000) holds less than his 3,000, so the subtraction underflows.
increase_time $((6 * 3600 + 1))
expect_eq "re-vote larger than the other side panics 0x11" \
    0x4e487b710000000000000000000000000000000000000000000000000000000000000011 \
    "$(revert_of "$BOB" "$DAO" 'vote(uint256,bool)' 1 false)"

# A zero balance is accepted, counts nothing, and burns the address's vote.
send "$NOBODY" "$DAO" 'vote(uint256,bool)' 1 false >/dev/null
expect_eq "zero-balance vote sets hasVoted" true "$(call "$DAO" 'hasVoted(uint256,address)(bool)' 1 "$NOBODY")"

# ---- not found ------------------------------------------------------------------

expect_eq "vote on id 0 reverts ProposalNotFound" 0x635e8737 \
    "$(revert_of "$ALICE" "$DAO" 'vote(uint256,bool)' 0 true)"
expect_eq "vote on id count+1 reverts ProposalNotFound" 0x635e8737 \
    "$(revert_of "$ALICE" "$DAO" 'vote(uint256,bool)' 2 true)"

# ---- pause, cancel --------------------------------------------------------------

send "$BOB" "$DAO" 'createProposal(uint8,address,uint256,string)' 1 "$USDC" 1000000 'Divest' >/dev/null
send "$OWNER" "$DAO" 'pause()' >/dev/null
expect_eq "paused()" true "$(call "$DAO" 'paused()(bool)')"
expect_eq "vote while paused reverts ContractPaused" 0xab35696f \
    "$(revert_of "$ALICE" "$DAO" 'vote(uint256,bool)' 2 true)"
expect_eq "pause is checked before not-found" 0xab35696f \
    "$(revert_of "$ALICE" "$DAO" 'vote(uint256,bool)' 0 true)"
expect_eq "createProposal while paused reverts ContractPaused" 0xab35696f \
    "$(revert_of "$ALICE" "$DAO" 'createProposal(uint8,address,uint256,string)' 0 "$USDC" 1 x)"
expect_eq "reads answer while paused" 2 "$(call "$DAO" 'getProposalCount()(uint256)')"
send "$BOB" "$DAO" 'cancelProposal(uint256)' 2 >/dev/null
send "$OWNER" "$DAO" 'unpause()' >/dev/null
mapfile -t P < <(call "$DAO" "$GP" 2 | num)
expect_eq "canceled while paused: status Canceled" 5 "${P[10]}"
expect_eq "vote on canceled proposal reverts InvalidProposalState" 0xb4372803 \
    "$(revert_of "$ALICE" "$DAO" 'vote(uint256,bool)' 2 true)"
expect_eq "stranger cannot cancel" "$("$CAST" sig 'Unauthorized()')" \
    "$(revert_of "$NOBODY" "$DAO" 'cancelProposal(uint256)' 1)"

# ---- expiry ---------------------------------------------------------------------

send "$OWNER" "$DAO" 'setVotingPeriod(uint256)' 3600 >/dev/null
send "$ALICE" "$DAO" 'createProposal(uint8,address,uint256,string)' 3 0x0000000000000000000000000000000000000000 0 'Short' >/dev/null
mapfile -t P < <(call "$DAO" "$GP" 3 | num)
ends="${P[7]}"
expect_eq "setVotingPeriod applies to new proposals" 3600 "$((ends - P[6]))"
# A vote in the block whose timestamp equals votingEnds is still accepted.
rpc evm_setNextBlockTimestamp "[$ends]" >/dev/null
receipt="$(send "$ALICE" "$DAO" 'vote(uint256,bool)' 3 true)"
expect_eq "vote at exactly votingEnds accepted" 0x1 "$(jq -r .status <<<"$receipt")"
rpc evm_setNextBlockTimestamp "[$((ends + 1))]" >/dev/null
rpc evm_mine '[]' >/dev/null
[ "$(latest_ts)" -gt "$ends" ] && ok "chain is past votingEnds" || fail "chain not past votingEnds"
expect_eq "vote after votingEnds reverts VotingPeriodEnded" 0xdc3b0dc4 \
    "$(revert_of "$BOB" "$DAO" 'vote(uint256,bool)' 3 true)"
mapfile -t P < <(call "$DAO" "$GP" 3 | num)
expect_eq "expired proposal keeps status Active" 1 "${P[10]}"

# ---- execution ------------------------------------------------------------------

expect_eq "execute before votingEnds + 1 day reverts" "$("$CAST" sig 'ExecutionDelayNotElapsed()')" \
    "$(revert_of "$NOBODY" "$DAO" 'executeProposal(uint256)' 1)"
increase_time $((WEEK + DAY))
send "$NOBODY" "$DAO" 'executeProposal(uint256)' 1 >/dev/null
mapfile -t P < <(call "$DAO" "$GP" 1 | num)
expect_eq "executed proposal: status Executed" 4 "${P[10]}"
expect_eq "executed proposal: executed flag" true "${P[11]}"
expect_eq "cancel after execution reverts InvalidProposalState" 0xb4372803 \
    "$(revert_of "$ALICE" "$DAO" 'cancelProposal(uint256)' 1)"
expect_eq "expiry is checked before state (canceled and expired)" 0xdc3b0dc4 \
    "$(revert_of "$BOB" "$DAO" 'vote(uint256,bool)' 2 true)"

finish
