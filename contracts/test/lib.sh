# shellcheck shell=bash
# Shared by the contract tests: tool paths, a private anvil, JSON-RPC and assertions.
# Source it after `set -euo pipefail`; it sets ROOT, ART, CAST, RPC, ACCOUNTS.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ART="$ROOT/contracts/artifacts"

"$ROOT/scripts/setup-tools.sh" --quiet
# shellcheck source=../../scripts/lib/tools-env.sh
source "$ROOT/scripts/lib/tools-env.sh"
CAST="$GOVNODE_CAST"

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   - $1"; }
fail() { failed=$((failed + 1)); echo "FAIL - $1" >&2; }
expect_eq() { # DESCRIPTION EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: expected '$2', got '$3'"; fi
}
die() { echo "${0##*/}: $*" >&2; echo "$passed passed, $((failed + 1)) failed"; exit 1; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" = 0 ]; }

num() { awk '{print $1}'; }          # cast prints "1000 [1e3]" for big numbers
lc() { tr 'A-F' 'a-f' <<<"$1"; }     # addresses compare without their checksum case

_TEST_TMP="$(mktemp -d)"
ANVIL_PID=""
_cleanup() {
    if [ -n "$ANVIL_PID" ]; then
        kill "$ANVIL_PID" 2>/dev/null || true
        wait "$ANVIL_PID" 2>/dev/null || true
    fi
    rm -rf "$_TEST_TMP"
}
trap _cleanup EXIT

rpc() { # METHOD PARAMS_JSON -> full JSON-RPC response
    curl -sS -X POST -H 'content-type: application/json' \
        --data "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$1\",\"params\":$2}" "$RPC"
}

start_anvil() { # extra anvil args...
    local port
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    RPC="http://127.0.0.1:$port"
    "$GOVNODE_ANVIL" --host 127.0.0.1 --port "$port" "$@" >"$_TEST_TMP/anvil.log" 2>&1 &
    ANVIL_PID=$!
    for _ in $(seq 1 200); do
        rpc eth_chainId '[]' >/dev/null 2>&1 && break
        kill -0 "$ANVIL_PID" 2>/dev/null || die "anvil exited: $(cat "$_TEST_TMP/anvil.log")"
        sleep 0.05
    done
    rpc eth_chainId '[]' >/dev/null 2>&1 || die "anvil did not answer on $RPC"
    mapfile -t ACCOUNTS < <(rpc eth_accounts '[]' | jq -r '.result[]')
}

send() { # FROM TO SIG ARGS... -> receipt JSON; non-zero exit if it cannot be sent
    local from="$1"; shift
    "$CAST" send --rpc-url "$RPC" --unlocked --from "$from" --json "$@"
}
deploy_json() { # ARTIFACT_JSON CTOR_SIG ARGS... -> address (sent from ACCOUNTS[0])
    local file="$1" sig="$2"; shift 2
    local code args receipt
    code="$(jq -r .bytecode "$file")"
    args="$("$CAST" abi-encode "$sig" "$@")"
    receipt="$(send "${ACCOUNTS[0]}" --create "${code}${args#0x}")" || die "deploying $file failed"
    [ "$(jq -r .status <<<"$receipt")" = 0x1 ] || die "deploying $file reverted"
    jq -r .contractAddress <<<"$receipt"
}
call() { "$CAST" call --rpc-url "$RPC" "$@"; }
revert_of() { # FROM TO SIG ARGS... -> revert data of an eth_call at latest ("" if it succeeds)
    local from="$1" to="$2"; shift 2
    local data
    data="$("$CAST" calldata "$@")"
    rpc eth_call "[{\"from\":\"$from\",\"to\":\"$to\",\"data\":\"$data\"},\"latest\"]" \
        | jq -r 'if .error then (.error.data // "no-data") else "" end'
}
increase_time() { rpc evm_increaseTime "[$1]" >/dev/null; rpc evm_mine '[]' >/dev/null; }
mine() { rpc anvil_mine "[\"$(printf '0x%x' "$1")\"]" >/dev/null; }
latest_ts() { "$CAST" block --rpc-url "$RPC" latest --field timestamp; }
