# shellcheck shell=bash source-path=SCRIPTDIR
# A live govnode for the monitoring checks: anvil on a free 127.0.0.1 port, the
# devnet contracts and files (`govnode devnet --setup-only`) with a second,
# unreachable RPC endpoint and a webhook target (a local receiver answering
# 200), the daemon on them (no round at start) and the rounds that make every
# metric family appear.
#
#   source tests/monitoring/lib/live.sh
#   live_start BIN WORKDIR      # sets LIVE_API (host:port), LIVE_CONFIG, LIVE_RPC
#   live_rounds                 # a round with one wallet drained, then a full round
#   live_scrape FILE            # GET /metrics into FILE
#   live_stop                   # stops the daemon and anvil (also run on EXIT)
#
# Every process started here is killed by its pid on exit; nothing else is.
# Requires: curl, jq, python3 (free port), scripts/lib/tools-env.sh's anvil.

_live_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
LIVE_ANVIL_PID=""
LIVE_DAEMON_PID=""
LIVE_RECEIVER_PID=""
LIVE_BIN=""
LIVE_DIR=""
LIVE_API=""
LIVE_CONFIG=""
LIVE_RPC=""

_live_fail() {
    echo "live: $*" >&2
    if [ -n "$LIVE_DIR" ]; then
        for f in anvil.log daemon.log; do
            [ -s "$LIVE_DIR/$f" ] && { echo "--- tail $f" >&2; tail -n 20 "$LIVE_DIR/$f" >&2; }
        done
    fi
    return 1
}

_live_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Polls CMD... every 0.1 s until it succeeds or SECONDS_LEFT run out.
_live_poll() {
    local seconds="$1"; shift
    local until=$((SECONDS + seconds))
    while ! "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$until" ] || return 1
        sleep 0.1
    done
}

_live_rpc() {
    curl -sf -H 'content-type: application/json' \
        --data "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$1\",\"params\":$2}" "$LIVE_RPC"
}

live_stop() {
    local pid
    for pid in "$LIVE_DAEMON_PID" "$LIVE_ANVIL_PID" "$LIVE_RECEIVER_PID"; do
        [ -n "$pid" ] || continue
        kill -TERM "$pid" 2>/dev/null || continue
        # The daemon drains for up to shutdown.drain_timeout; the devnet's round is long over.
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    LIVE_DAEMON_PID=""
    LIVE_ANVIL_PID=""
    LIVE_RECEIVER_PID=""
}

live_start() {
    LIVE_BIN="$1"
    LIVE_DIR="$2"
    [ -x "$LIVE_BIN" ] || _live_fail "no govnode binary at $LIVE_BIN (cargo build --features failpoints)" || return 1
    # shellcheck source=../../../scripts/lib/tools-env.sh
    source "$_live_root/scripts/lib/tools-env.sh"
    [ -x "$GOVNODE_ANVIL" ] || _live_fail "no anvil at $GOVNODE_ANVIL (scripts/setup-tools.sh)" || return 1
    mkdir -p "$LIVE_DIR"

    local port
    port="$(_live_free_port)"
    LIVE_RPC="http://127.0.0.1:$port"
    "$GOVNODE_ANVIL" --host 127.0.0.1 --port "$port" >"$LIVE_DIR/anvil.log" 2>&1 &
    LIVE_ANVIL_PID=$!
    _live_poll 15 _live_rpc eth_chainId '[]' || _live_fail "anvil did not answer on $LIVE_RPC" || return 1

    "$LIVE_BIN" devnet --rpc-url "$LIVE_RPC" --dir "$LIVE_DIR/devnet" --setup-only \
        --proposals 6 --nodes 2 >"$LIVE_DIR/devnet.log" 2>&1 \
        || { cat "$LIVE_DIR/devnet.log" >&2; _live_fail "govnode devnet --setup-only failed"; return 1; }
    LIVE_CONFIG="$LIVE_DIR/devnet/config.yaml"
    LIVE_API="$(jq -r '.api | sub("^https?://"; "")' "$LIVE_DIR/devnet/devnet.json")"

    # A second endpoint nobody listens on, least preferred: its probes fail
    # (outcome="connect") and, probed every 200 ms, its breaker opens within a
    # second, so the failure and breaker-state series exist too.
    local dead
    dead="$(_live_free_port)"
    sed -i "s|^  endpoints:\$|  endpoints:\n    - name: unreachable\n      url: \"http://127.0.0.1:$dead\"\n      priority: 9\n      timeout: 1s|" "$LIVE_CONFIG"
    grep -q 'name: unreachable' "$LIVE_CONFIG" || _live_fail "cannot add the unreachable endpoint to $LIVE_CONFIG" || return 1

    # A notification receiver that accepts everything: the webhook families
    # get series and deliveries (no GovnodeWebhookFailing).
    local hook
    hook="$(_live_free_port)"
    python3 - "$hook" >"$LIVE_DIR/receiver.log" 2>&1 <<'PY' &
import http.server, sys
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Hook).serve_forever()
PY
    LIVE_RECEIVER_PID=$!
    printf 'http://127.0.0.1:%s/hooks/live\n' "$hook" >"$LIVE_DIR/devnet/webhook.url"
    printf '\nwebhooks:\n  - name: live\n    kind: generic\n    url_file: webhook.url\n' >>"$LIVE_CONFIG"

    # The devnet's own endpoint is [1], after the unreachable one; its
    # WebSocket carries the new-proposal subscription.
    GOVNODE__ROUND__ON_START=false GOVNODE__RPC__PROBE__INTERVAL=200ms \
        GOVNODE__ROUND__ON_NEW_PROPOSAL=true GOVNODE__RPC__ENDPOINTS__1__WS_URL="${LIVE_RPC/http:/ws:}" \
        "$LIVE_BIN" run --config "$LIVE_CONFIG" >"$LIVE_DIR/daemon.log" 2>&1 &
    LIVE_DAEMON_PID=$!
    _live_poll 15 curl -sf "http://$LIVE_API/health/ready" \
        || _live_fail "the daemon did not become ready at http://$LIVE_API/health/ready" || return 1
}

# The address of devnet node NAME.
_live_node_address() {
    jq -r --arg n "$1" '.nodes[] | select(.name == $n) | .address' "$LIVE_DIR/devnet/devnet.json"
}

# Two rounds. In the first, ai-gov-02's wallet holds too little ETH for its votes,
# so it is skipped (govnode_wallet_insufficient_funds_total appears) and the round
# is partial (exit 1); the wallet is then refunded and the second round lands
# every vote (exit 0, govnode_last_successful_round_timestamp_seconds set).
live_rounds() {
    local poor rc
    poor="$(_live_node_address ai-gov-02)"
    [ -n "$poor" ] || _live_fail "no ai-gov-02 in devnet.json" || return 1
    # 1e12 wei = 0.000001 ETH: far below one vote's gas reservation.
    _live_rpc anvil_setBalance "[\"$poor\",\"0xe8d4a51000\"]" >/dev/null \
        || _live_fail "anvil_setBalance failed" || return 1
    rc=0
    "$LIVE_BIN" round --config "$LIVE_CONFIG" >"$LIVE_DIR/round1.txt" 2>&1 || rc=$?
    [ "$rc" = 1 ] || { cat "$LIVE_DIR/round1.txt" >&2; _live_fail "round with a drained wallet: exit $rc, expected 1 (partial)"; return 1; }
    # 10 ETH again.
    _live_rpc anvil_setBalance "[\"$poor\",\"0x8ac7230489e80000\"]" >/dev/null \
        || _live_fail "anvil_setBalance failed" || return 1
    "$LIVE_BIN" round --config "$LIVE_CONFIG" >"$LIVE_DIR/round2.txt" 2>&1 \
        || { cat "$LIVE_DIR/round2.txt" >&2; _live_fail "second round did not land every vote"; return 1; }
}

live_scrape() {
    curl -sf "http://$LIVE_API/metrics" -o "$1" || _live_fail "GET http://$LIVE_API/metrics failed"
}
