#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Runs schemathesis (PyPI) against a live daemon on the devnet, checking that
# the daemon answers as docs/openapi.yaml says: no 5xx, status codes, content
# types, headers and bodies conformant to the spec, 401 without the token, 405
# with `Allow` for undocumented methods, 4xx for invalid parameters.
#
#   anvil on a free 127.0.0.1 port → `govnode devnet --setup-only` (4 proposals,
#   2 nodes) → `govnode run` (no round at start, rate limit raised so the fuzzer
#   is not throttled) → `schemathesis run docs/openapi.yaml` with the API token.
#
# Usage: tests/api_schemathesis/run.sh [GOVNODE]   (default: target/debug/govnode)
# Installs the pinned schemathesis (requirements.txt) into python3's environment
# with pip when it is missing or another version; fast when present.
# Ends with `schemathesis: N passed, N failed` (the JUnit test cases: one per
# operation and one for the stateful phase); exits 1 on failure.
# Every process started here is killed by its pid on exit; nothing else is.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BIN="$(realpath -m "${1:-$ROOT/target/debug/govnode}")"
SPEC="$ROOT/docs/openapi.yaml"
cd "$ROOT"

WORK="$(mktemp -d)"
ANVIL_PID=""
DAEMON_PID=""
stop() {
    local pid
    for pid in "$DAEMON_PID" "$ANVIL_PID"; do
        [ -n "$pid" ] || continue
        kill -TERM "$pid" 2>/dev/null || continue
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}
cleanup() {
    stop
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die() {
    echo "api-schemathesis: $*" >&2
    for f in anvil.log devnet.log daemon.log; do
        [ -s "$WORK/$f" ] && { echo "--- tail $f" >&2; tail -n 20 "$WORK/$f" >&2; }
    done
    echo "schemathesis: 0 passed, 1 failed"
    exit 1
}

# Polls CMD... every 0.1 s until it succeeds or SECONDS_LEFT run out.
poll() {
    local seconds="$1"; shift
    local until=$((SECONDS + seconds))
    while ! "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$until" ] || return 1
        sleep 0.1
    done
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ------------------------------------------------------------- schemathesis
want="$(grep -oE '^schemathesis==[0-9.]+' "$HERE/requirements.txt" | cut -d= -f3)"
have="$(python3 -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null || true)"
if [ "$have" != "$want" ]; then
    echo "installing schemathesis $want (have: ${have:-none})"
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r "$HERE/requirements.txt" \
        || die "pip install -r $HERE/requirements.txt failed"
fi
SCHEMATHESIS=(python3 -m schemathesis.cli)
"${SCHEMATHESIS[@]}" --version >/dev/null 2>&1 || die "schemathesis does not run"

# ------------------------------------------------------------- live daemon
[ -x "$BIN" ] || die "no govnode binary at $BIN (cargo build --features failpoints)"
# shellcheck source=../../scripts/lib/tools-env.sh
source "$ROOT/scripts/lib/tools-env.sh"
[ -x "$GOVNODE_ANVIL" ] || die "no anvil at $GOVNODE_ANVIL (scripts/setup-tools.sh)"

port="$(free_port)"
RPC="http://127.0.0.1:$port"
"$GOVNODE_ANVIL" --host 127.0.0.1 --port "$port" >"$WORK/anvil.log" 2>&1 &
ANVIL_PID=$!
poll 15 curl -sf -H 'content-type: application/json' \
    --data '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "$RPC" \
    || die "anvil did not answer on $RPC"

"$BIN" devnet --rpc-url "$RPC" --dir "$WORK/devnet" --setup-only --proposals 4 --nodes 2 \
    >"$WORK/devnet.log" 2>&1 || die "govnode devnet --setup-only failed"
API="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["api"])' "$WORK/devnet/devnet.json")"
TOKEN_FILE="$WORK/devnet/keys/api-token"
[ -s "$TOKEN_FILE" ] || die "no API token at $TOKEN_FILE"

GOVNODE__ROUND__ON_START=false \
    GOVNODE__API__RATE_LIMIT__PER_SECOND=1000 GOVNODE__API__RATE_LIMIT__BURST=1000 \
    "$BIN" run --config "$WORK/devnet/config.yaml" >"$WORK/daemon.log" 2>&1 &
DAEMON_PID=$!
poll 15 curl -sf "$API/health/ready" || die "the daemon did not become ready at $API/health/ready"

# One finished round first, so that rounds, votes and `last_round` hold data
# for the response schemas to be checked against from the first request.
TOKEN="$(tr -d '[:space:]' <"$TOKEN_FILE")"
curl -sf -X POST -H "Authorization: Bearer $TOKEN" "$API/api/v1/rounds?wait=true" \
    -o "$WORK/round1.json" || die "POST /api/v1/rounds?wait=true failed"
python3 - "$WORK/round1.json" <<'PY' || die "the first round did not vote: $(cat "$WORK/round1.json")"
import json, sys
report = json.load(open(sys.argv[1]))["report"]
assert report["outcome"] == "success" and report["votes"]["confirmed"] > 0, report
PY

# ------------------------------------------------------------- the run
# schemathesis masks the Authorization value in its output
# (--output-sanitize, on by default).
rc=0
"${SCHEMATHESIS[@]}" run "$SPEC" --url "$API" \
    --checks all \
    --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-20}" \
    --seed "${SCHEMATHESIS_SEED:-1}" \
    --workers 1 \
    --request-timeout 60 \
    --header "Authorization: Bearer $TOKEN" \
    --report junit --report-dir "$WORK/report" \
    --no-color \
    >"$WORK/schemathesis.txt" 2>&1 || rc=$?
cat "$WORK/schemathesis.txt"

kill -0 "$DAEMON_PID" 2>/dev/null || { rc=1; echo "the daemon died during the run"; }
rounds="$(curl -sf "$API/api/v1/status" | python3 -c 'import json, sys; print(json.load(sys.stdin)["counts"]["rounds"])' || echo 0)"
echo "rounds in the ledger after the run: $rounds"
[ "$rounds" -gt 1 ] || { rc=1; echo "schemathesis started no round: POST was not exercised"; }
if grep -qE 'panicked|ERROR' "$WORK/daemon.log"; then
    echo "--- the daemon logged errors:"
    grep -E 'panicked|ERROR' "$WORK/daemon.log" | head -n 20
fi

# Operations that passed / failed, from the JUnit report (one testcase each).
read -r ok bad < <(python3 - "$WORK/report" <<'PY'
import pathlib, sys, xml.etree.ElementTree as ET
ok = bad = 0
for f in pathlib.Path(sys.argv[1]).glob("*.xml"):
    for case in ET.parse(f).iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            bad += 1
        else:
            ok += 1
print(ok, bad)
PY
) || { ok=0; bad=1; }
if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then bad=1; fi
echo "schemathesis: $ok passed, $bad failed"
[ "$rc" -eq 0 ] && [ "$bad" -eq 0 ]
