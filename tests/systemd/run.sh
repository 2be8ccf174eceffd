#!/usr/bin/env bash
# govnode under a real systemd: a minimal Debian bookworm booted with
# systemd-nspawn, the units from systemd/ installed as a Debian package would
# install them, the daemon pointed at an anvil devnet on the host's loopback
# (the container shares the host network).
#
# usage: tests/systemd/run.sh [--only NAME,NAME] [--list] [--verbose] [GOVNODE]
#   GOVNODE  a govnode binary built with `--features failpoints`
#            (default: target/debug/govnode)
#   --only   run these checks (and what they need) instead of all
#   --list   print the check names
#   --verbose  print every check's output, not only a failing one's
#
# The rootfs is cached in tests/systemd/.rootfs (git-ignored) and reused.
# There is no systemd on the host, so the container is driven with
# `nsenter --target <its PID 1> --all systemctl ...`.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
rootfs="$here/.rootfs"
# Bump when the package list changes, so cached rootfs are rebuilt.
rootfs_stamp="bookworm minbase systemd systemd-sysv dbus procps ca-certificates v2"
anvil_bin="$repo/tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
cast_bin="$repo/tools/node_modules/@foundry-rs/cast-linux-amd64/bin/cast"

all_checks=(rootfs boot install verify security start round-timer votes journal
  key-in-use reload watchdog bad-config stop)
# What each check needs to have run first (its own PASS/FAIL is not required).
declare -A needs=(
  [boot]="rootfs" [install]="boot" [verify]="install" [security]="install"
  [devnet]="install" [start]="devnet" [round-timer]="start" [votes]="round-timer"
  [journal]="round-timer" [key-in-use]="journal" [reload]="start" [watchdog]="start"
  [bad-config]="install" [stop]="start"
)

only=""
govnode=""
verbose=""
while [ $# -gt 0 ]; do
  case "$1" in
    --only) only="$2"; shift 2 ;;
    --only=*) only="${1#--only=}"; shift ;;
    --list) printf '%s\n' "${all_checks[@]}"; exit 0 ;;
    -v|--verbose) verbose=1; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) govnode="$1"; shift ;;
  esac
done
govnode="${govnode:-$repo/target/debug/govnode}"

declare -A selected=()
if [ -n "$only" ]; then
  IFS=, read -r -a wanted <<<"$only"
  for name in "${wanted[@]}"; do
    [[ " ${all_checks[*]} " == *" $name "* ]] || { echo "unknown check: $name (see --list)" >&2; exit 2; }
    selected[$name]=1
  done
else
  for name in "${all_checks[@]}"; do selected[$name]=1; done
fi

work="$(mktemp -d /var/tmp/govnode-systemd.XXXXXX)"
passed=0 failed=0 skipped=0
declare -A done_steps=()

pass() { echo "PASS: $1"; passed=$((passed + 1)); }
fail() { echo "FAIL: $1${2:+ — $2}"; failed=$((failed + 1)); }
skip() { echo "SKIP: $1${2:+ — $2}"; skipped=$((skipped + 1)); }
log() { echo "      $*"; }

# --- processes we start, and their cleanup -----------------------------------
nspawn_pid="" leader="" anvil_pid=""

cleanup() {
  if [ -n "$leader" ] && kill -0 "$leader" 2>/dev/null; then
    nsenter --target "$leader" --all systemctl poweroff >/dev/null 2>&1
  fi
  if [ -n "$nspawn_pid" ]; then
    for _ in $(seq 50); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.2; done
    kill "$nspawn_pid" 2>/dev/null && sleep 1
    kill -9 "$nspawn_pid" 2>/dev/null
    wait "$nspawn_pid" 2>/dev/null
  fi
  if [ -n "$anvil_pid" ]; then
    kill "$anvil_pid" 2>/dev/null
    wait "$anvil_pid" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# In the container: every namespace of its PID 1.
ct() { nsenter --target "$leader" --all "$@"; }
show() { ct systemctl show -p "$2" --value "$1"; }

# Polls a shell condition (evaluated on the host) for up to $1 seconds.
wait_for() {
  local secs="$1"; shift
  local end=$((SECONDS + secs))
  while [ $SECONDS -lt $end ]; do
    if eval "$*"; then return 0; fi
    sleep 0.5
  done
  eval "$*"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- setup steps (run once, on demand) --------------------------------------
step() {
  local name="$1"
  [ -n "${done_steps[$name]+x}" ] && return "${done_steps[$name]}"
  local dep
  for dep in ${needs[$name]:-}; do
    if ! step "$dep"; then
      done_steps[$name]=1
      [ -n "${selected[$name]+x}" ] && fail "$name" "not run: it needs $dep, which failed"
      return 1
    fi
  done
  "step_${name//-/_}" >"$work/$name.log" 2>&1
  local rc=$?
  done_steps[$name]=$rc
  if [ -n "${selected[$name]+x}" ]; then
    if [ $rc -eq 0 ]; then
      [ -n "$verbose" ] && sed 's/^/      /' "$work/$name.log"
      pass "$name"
    else sed 's/^/      /' "$work/$name.log" | tail -40; fail "$name"; fi
  elif [ $rc -ne 0 ]; then
    sed 's/^/      /' "$work/$name.log" | tail -40
    fail "$name (needed by another check)"
  fi
  return $rc
}

ensure_host_tools() {
  local missing=()
  command -v systemd-nspawn >/dev/null || missing+=(systemd-container)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v nsenter >/dev/null || missing+=(util-linux)
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; }
}

step_rootfs() {
  ensure_host_tools || return 1
  if [ "$(cat "$rootfs/.govnode-rootfs" 2>/dev/null)" = "$rootfs_stamp" ]; then
    echo "reusing $rootfs"
  else
    # A debootstrap killed midway leaves /proc mounted in its staging tree;
    # unmount it first, or rm fails (and would walk into the host's /proc).
    awk -v p="$rootfs.tmp/" 'index($2, p) == 1 { print $2 }' /proc/self/mounts |
      sort -r | xargs -r -n1 umount -l
    rm -rf "$rootfs" "$rootfs.tmp"
    # ca-certificates: the daemon's HTTP client loads the system's CA store at
    # start (a Debian package of govnode depends on it).
    debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,procps,ca-certificates \
      bookworm "$rootfs.tmp" http://deb.debian.org/debian || return 1
    echo "$rootfs_stamp" >"$rootfs.tmp/.govnode-rootfs"
    mv "$rootfs.tmp" "$rootfs"
  fi
  test -x "$rootfs/lib/systemd/systemd" && test -x "$rootfs/bin/kill" &&
    test -x "$rootfs/usr/bin/systemd-analyze"
}

step_boot() {
  # A clean slate from earlier runs: the rootfs is reused.
  rm -rf "$rootfs"/etc/govnode "$rootfs"/var/lib/govnode "$rootfs"/var/lib/private/govnode \
    "$rootfs"/etc/systemd/system/govnode* "$rootfs"/etc/systemd/system/*/govnode* \
    "$rootfs"/var/log/journal/*
  systemd-nspawn -D "$rootfs" --boot --register=no --keep-unit --console=pipe \
    >"$work/console.log" 2>&1 </dev/null &
  nspawn_pid=$!
  wait_for 20 'leader="$(pgrep -P "$nspawn_pid" -x systemd | head -n1)"; [ -n "$leader" ]' || return 1
  # systemctl cannot wait for a manager whose bus is not up yet (a loaded
  # machine shows this window).
  wait_for 30 'nsenter --target "$leader" --mount test -S /run/systemd/private' || { echo "no systemd bus in the container"; return 1; }
  local state
  state="$(timeout 60 nsenter --target "$leader" --all systemctl is-system-running --wait)"
  echo "system state: $state"
  [ "$state" = running ] || [ "$state" = degraded ]
}

step_install() {
  [ -x "$govnode" ] || { echo "no govnode binary at $govnode (build it with --features failpoints)"; return 1; }
  # Where a Debian package puts them; operators' drop-ins go to /etc.
  install -Dm755 "$govnode" "$rootfs/usr/bin/govnode" &&
    for unit in "$repo"/systemd/*.service "$repo"/systemd/*.timer; do
      install -Dm644 "$unit" "$rootfs/usr/lib/systemd/system/$(basename "$unit")" || return 1
    done &&
    ct systemctl daemon-reload &&
    ct govnode version
}

step_verify() {
  local unit rc=0
  for unit in govnode.service govnode-round.service govnode-round.timer; do
    ct systemd-analyze verify "/usr/lib/systemd/system/$unit" >"$work/verify.out" 2>&1
    if [ -s "$work/verify.out" ]; then
      echo "$unit:"; cat "$work/verify.out"; rc=1
    else
      echo "$unit: clean"
    fi
  done
  return $rc
}

step_security() {
  local unit score rc=0
  for unit in govnode.service govnode-round.service; do
    ct systemd-analyze security --no-pager "$unit" >"$work/security.out" 2>&1
    score="$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$work/security.out")"
    echo "exposure $unit: ${score:-unknown}"
    echo "SECURITY $unit $score" >>"$work/summary"
    python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) <= 2.0 else 1)' "${score:-99}" || rc=1
  done
  return $rc
}

# --- the devnet and the daemon's config -----------------------------------------
devnet="$work/devnet"
api_port=""

step_devnet() {
  [ -x "$anvil_bin" ] || { echo "no anvil at $anvil_bin (run scripts/setup-tools.sh)"; return 1; }
  local port
  port="$(free_port)"
  "$anvil_bin" --host 127.0.0.1 --port "$port" --silent >"$work/anvil.log" 2>&1 &
  anvil_pid=$!
  rpc="http://127.0.0.1:$port"
  wait_for 20 '"$cast_bin" chain-id --rpc-url "$rpc" >/dev/null 2>&1' || { echo "anvil did not answer"; return 1; }
  # Deploy and write config.yaml and devnet.json only: the daemon under test
  # is govnode.service, not the devnet's own.
  "$govnode" devnet --rpc-url "$rpc" --dir "$devnet" --setup-only --nodes 3 --proposals 6 || return 1
  api_port="$(free_port)"
  python3 -c 'import yaml' 2>/dev/null || python3 -m pip install -q pyyaml || return 1
  # Into the container the way an operator installs it: config in
  # /etc/govnode, secrets as root-only files named after their credential id,
  # handed over with LoadCredential= in a drop-in (as the comment in
  # systemd/govnode.service describes).
  python3 - "$devnet" "$rootfs" "$api_port" <<'EOF' || return 1
import os, sys
import yaml
devnet, root, api_port = sys.argv[1], sys.argv[2], sys.argv[3]
cfg = yaml.safe_load(open(os.path.join(devnet, "config.yaml")))
creds_dir = os.path.join(root, "etc/govnode/credentials")
os.makedirs(creds_dir, mode=0o700, exist_ok=True)
lines = ["[Service]"]

def credential(name, source):
    content = open(os.path.join(devnet, source)).read()
    path = os.path.join(creds_dir, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, content.encode())
    os.close(fd)
    lines.append(f"LoadCredential={name}:/etc/govnode/credentials/{name}")

for node in cfg["nodes"]:
    if "key_file" not in node:
        sys.exit(f"devnet node {node['name']} has no key_file")
    node["key_credential"] = f"node-{node['name']}"
    credential(node["key_credential"], node.pop("key_file"))
api = cfg.setdefault("api", {})
if "token_file" not in api:
    sys.exit("the devnet config has no api.token_file")
api["token_credential"] = "api-token"
credential("api-token", api.pop("token_file"))
api["listen"] = f"127.0.0.1:{api_port}"
for endpoint in cfg["rpc"]["endpoints"]:
    if "url" not in endpoint:
        sys.exit(f"RPC endpoint {endpoint['name']} has no plain url")
# The unit's RuntimeDirectory and StateDirectory decide where the control
# socket and the ledger live.
cfg.pop("control", None)
cfg.pop("ledger", None)
# journald under systemd: the journal check needs its fields.
cfg.setdefault("log", {})["target"] = "auto"
# The timer's round, not a start-up round, must be the one that votes.
cfg.setdefault("round", {})["on_start"] = False
open(os.path.join(root, "etc/govnode/config.yaml"), "w").write(yaml.safe_dump(cfg, sort_keys=False))
dropin = os.path.join(root, "etc/systemd/system/govnode.service.d")
os.makedirs(dropin, exist_ok=True)
open(os.path.join(dropin, "credentials.conf"), "w").write("\n".join(lines) + "\n")
EOF
  chmod 0644 "$rootfs/etc/govnode/config.yaml"
  local dropin="$rootfs/etc/systemd/system/govnode.service.d/credentials.conf"
  # One secret kept as an operator keeps it encrypted at rest: the first
  # node's key sealed by systemd-creds with the container's host key (there
  # is no TPM here), the plaintext removed, handed over with
  # LoadCredentialEncrypted=. The daemon starts only if systemd decrypts it.
  local sealed
  sealed="$(sed -n 's/^LoadCredential=\(node-[^:]*\):.*/\1/p' "$dropin" | head -n1)"
  [ -n "$sealed" ] || { echo "no node credential to encrypt"; return 1; }
  # Kept on the host for the journal check's secret scan.
  install -m 0600 "$rootfs/etc/govnode/credentials/$sealed" "$work/plain-$sealed"
  ct systemd-creds encrypt --with-key=host --name="$sealed" \
    "/etc/govnode/credentials/$sealed" "/etc/govnode/credentials/$sealed.cred" || return 1
  ct chmod 0600 "/etc/govnode/credentials/$sealed.cred" && rm "$rootfs/etc/govnode/credentials/$sealed"
  sed -i "s|^LoadCredential=$sealed:.*|LoadCredentialEncrypted=$sealed:/etc/govnode/credentials/$sealed.cred|" "$dropin"
  ! grep -qiF -- "$(tr -d '\n' <"$work/plain-$sealed" | sed 's/^0x//')" "$rootfs/etc/govnode/credentials/$sealed.cred" ||
    { echo "the sealed credential holds the key in clear"; return 1; }
  ct systemctl daemon-reload
  cat "$dropin"
  # What an operator runs before starting: check-config under the unit's own
  # credentials (the encrypted one is decrypted by systemd, never on disk).
  local props=()
  mapfile -t props < <(sed -n 's/^\(LoadCredential[A-Za-z]*=.*\)/\1/p' "$dropin")
  ct systemd-run --quiet --wait --pipe --collect "${props[@]/#/--property=}" \
    govnode check-config --config /etc/govnode/config.yaml
}

step_start() {
  ct systemctl start govnode.service || { ct journalctl -b -u govnode --no-pager | tail -30; return 1; }
  local state status
  state="$(show govnode.service ActiveState)"
  status="$(show govnode.service StatusText)"
  echo "ActiveState=$state StatusText=$status"
  [ "$state" = active ] && [ -n "$status" ]
}

# The timer, not a manual start, runs the round: a runtime drop-in makes it
# fire two seconds after it is (re)started.
step_round_timer() {
  ct sh -c 'mkdir -p /run/systemd/system/govnode-round.timer.d && cat > /run/systemd/system/govnode-round.timer.d/test.conf' <<'EOF'
[Timer]
OnCalendar=
OnActiveSec=2s
RandomizedDelaySec=0
EOF
  ct systemctl daemon-reload
  local before
  before="$(show govnode-round.service InvocationID)"
  ct systemctl restart govnode-round.timer || return 1
  wait_for 30 '[ "$(show govnode-round.service InvocationID)" != "$before" ]' || { echo "the timer did not start a round"; return 1; }
  wait_for 660 '[ "$(show govnode-round.service ActiveState)" != activating ]'
  ct journalctl -b -u govnode-round.service --no-pager -o cat | tail -15
  local result status
  result="$(show govnode-round.service Result)"
  status="$(show govnode-round.service ExecMainStatus)"
  echo "govnode-round.service Result=$result ExecMainStatus=$status"
  ct systemctl stop govnode-round.timer
  [ "$result" = success ] && [ "$status" = 0 ] && return 0
  echo "the daemon's last journal entries:"
  ct journalctl -b -u govnode.service --no-pager -o cat | tail -25
  return 1
}

# On chain, from the DAO's VoteCast events: every open proposal is voted at
# most once per node (the strategies skip some, e.g. parameter changes), every
# node voted, no expired/executed/canceled proposal got a vote, and the
# ledger's confirmed rows are exactly those votes, in the same direction.
# Then a second round sends nothing.
check_votes() {
  python3 - "$devnet/devnet.json" "$cast_bin" "$rootfs/var/lib/private/govnode/ledger.sqlite" <<'EOF'
import collections, json, sqlite3, subprocess, sys, urllib.request
d = json.load(open(sys.argv[1]))
cast, ledger = sys.argv[2], sys.argv[3]

def rpc(method, params):
    req = urllib.request.Request(d["rpc_url"], json.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode(),
        {"Content-Type": "application/json"})
    reply = json.load(urllib.request.urlopen(req, timeout=10))
    assert "error" not in reply, reply
    return reply["result"]

topic = subprocess.run([cast, "keccak", "VoteCast(uint256,address,bool,uint256)"],
                       check=True, capture_output=True, text=True).stdout.strip()
logs = rpc("eth_getLogs", [{"address": d["asset_dao"], "fromBlock": "0x0", "toBlock": "latest",
                            "topics": [topic]}])
nodes = {n["address"].lower(): n["name"] for n in d["nodes"]}
# (proposal, node name, support); the deployer's vote on the proposal it
# executed is not ours.
votes = [(int(l["topics"][1], 16), nodes["0x" + l["topics"][2][-40:].lower()], int(l["data"][2:66], 16) == 1)
         for l in logs if "0x" + l["topics"][2][-40:].lower() in nodes]
counts = collections.Counter((p, n) for p, n, _ in votes)
fates = d["proposals"]
open_ids = fates["open"]
closed = {p: fate for fate in ("expired", "executed", "canceled") for p in fates.get(fate, [])}
assert open_ids and closed, f"the devnet scenario lacks open or closed proposals: {fates}"
support = {(p, n): s for p, n, s in votes}
print("proposal  " + "  ".join(f"{n['name']:>9}" for n in d["nodes"]))
for p in sorted(open_ids + list(closed)):
    cells = []
    for n in d["nodes"]:
        c = counts[(p, n["name"])]
        cells.append(f"{('-' if c == 0 else ('for' if support[(p, n['name'])] else 'against') + ('' if c == 1 else f' x{c}')):>9}")
    print(f"{p:>8}  " + "  ".join(cells) + ("" if p in open_ids else f"  ({closed[p]})"))

problems = []
problems += [f"node {n} voted {c} times on proposal {p}" for (p, n), c in counts.items() if c > 1]
problems += [f"{closed[p]} proposal {p} was voted by {n}" for (p, n) in counts if p in closed]
problems += [f"node {n} cast no vote" for n in nodes.values() if not any(v == n for _, v in counts)]

conn = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)
rows = conn.execute("SELECT proposal_id, voter, decision, state FROM votes").fetchall()
states = collections.Counter(r[3] for r in rows)
print(f"ledger: {len(rows)} vote row(s) by state {dict(states)}")
confirmed = {(int(p), nodes.get(v.lower(), v)): dec for p, v, dec, st in rows if st == "confirmed"}
if set(confirmed) != set(counts):
    problems.append(f"ledger confirmed {sorted(confirmed)} but the chain has {sorted(counts)}")
problems += [f"proposal {p} node {n}: chain says {'for' if s else 'against'}, ledger {confirmed[(p, n)]}"
             for (p, n), s in support.items() if (p, n) in confirmed and (confirmed[(p, n)] == "for") != s]
problems += [f"{c} ledger row(s) still {s}" for s, c in states.items() if s in ("intent", "signed", "sent")]
for p in problems:
    print("problem:", p)
sys.exit(1 if problems else 0)
EOF
}

step_votes() {
  check_votes || return 1
  echo "a second round:"
  local before after
  before="$("$cast_bin" block-number --rpc-url "$rpc")"
  ct systemctl start govnode-round.service || return 1
  ct journalctl -b -u govnode-round.service --no-pager -o cat -n 3
  after="$("$cast_bin" block-number --rpc-url "$rpc")"
  echo "blocks $before -> $after"
  [ "$before" = "$after" ] || { echo "the second round mined transactions"; return 1; }
}

step_journal() {
  local node
  node="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["nodes"][0]["name"])' "$devnet/devnet.json")" || return 1
  ct journalctl -b -u govnode.service "NODE=$node" -o json --no-pager >"$work/journal.json" || return 1
  python3 - "$work/journal.json" "$node" >"$work/journal.ids" <<'EOF' || { cat "$work/journal.ids"; return 1; }
import json, sys
entries = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(f"{len(entries)} entries with NODE={sys.argv[2]}", file=sys.stderr)
assert entries, "no structured entries for the node"
assert all(e.get("NODE") == sys.argv[2] for e in entries), "-u govnode.service NODE=... matched entries of other nodes"
assert not any(k.startswith("F_") for e in entries for k in e), "fields carry the F_ prefix"
votes = [e for e in entries if "TX_HASH" in e and "PROPOSAL_ID" in e and "ROUND_ID" in e]
assert votes, "no entry of the node carries ROUND_ID, PROPOSAL_ID and TX_HASH"
assert not any(e.get("PRIORITY") == "5" for e in entries), "a line is at notice (5): info must be 6, debug 7"
assert any(e.get("PRIORITY") == "6" for e in votes), "no vote line is at informational (6)"
e = votes[0]
print(f"e.g. {e['MESSAGE']!r}: " + " ".join(f"{k}={e[k]}" for k in ("NODE", "ROUND_ID", "PROPOSAL_ID", "TX_HASH", "PRIORITY")), file=sys.stderr)
print(e["ROUND_ID"], e["TX_HASH"])
EOF
  cat "$work/journal.ids" >&2
  local round_id tx_hash n
  read -r round_id tx_hash <"$work/journal.ids"
  # The filters an operator follows a round or a transaction with.
  n="$(ct journalctl -b -u govnode.service "ROUND_ID=$round_id" -o cat --no-pager | wc -l)"
  echo "ROUND_ID=$round_id: $n entries"
  [ "$n" -gt 0 ] || return 1
  n="$(ct journalctl -b -u govnode.service "TX_HASH=$tx_hash" -o cat --no-pager | wc -l)"
  echo "TX_HASH=$tx_hash: $n entries"
  [ "$n" -gt 0 ] || return 1
  # No secret may reach the journal, in the message or in any field.
  ct journalctl -b --no-pager -o json >"$work/all.log"
  local f
  for f in "$rootfs"/etc/govnode/credentials/* "$work"/plain-*; do
    case "$f" in *.cred) continue ;; esac
    local s
    s="$(tr -d '\n' <"$f")"; s="${s#0x}"
    if grep -qiF -- "$s" "$work/all.log"; then echo "secret $(basename "$f") is in the journal"; return 1; fi
  done
}

reloads() { ct journalctl -b -u govnode.service -o cat --no-pager | grep -c 'configuration reloaded'; }

# A transaction sent with a node's key outside govnode: the next round pauses
# the node with one entry at priority 2 (crit) carrying CRITICAL=true, and
# `govnode keys ack` run as the operator resumes it.
step_key_in_use() {
  local node
  node="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["nodes"][0]["name"])' "$devnet/devnet.json")" || return 1
  "$cast_bin" send --private-key "$(cat "$devnet/keys/$node")" --rpc-url "$rpc" \
    0x0000000000000000000000000000000000000042 --value 1 >/dev/null || return 1
  ct systemctl start govnode-round.service || true
  ct journalctl -b -u govnode.service -p crit -o json --no-pager >"$work/crit.json" || return 1
  python3 - "$work/crit.json" "$node" <<'EOF' || return 1
import json, sys
entries = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
paused = [e for e in entries if e.get("NODE") == sys.argv[2] and "node paused" in e.get("MESSAGE", "")]
assert len(paused) == 1, f"one crit entry for the paused node, got {len(paused)} of {len(entries)}"
e = paused[0]
assert e.get("PRIORITY") == "2", f"PRIORITY={e.get('PRIORITY')}"
assert e.get("CRITICAL") == "true", f"CRITICAL={e.get('CRITICAL')}"
print(f"{e['MESSAGE']!r}: PRIORITY={e['PRIORITY']} CRITICAL={e['CRITICAL']} NODE={e['NODE']}")
assert not any(x.get("PRIORITY") == "2" and "node paused" not in x.get("MESSAGE", "") for x in entries), "another entry at crit"
EOF
  ct govnode keys ack "$node" --config /etc/govnode/config.yaml || return 1
}

step_reload() {
  local pid before
  pid="$(show govnode.service MainPID)"
  before="$(reloads)"
  ct systemctl reload govnode.service || return 1
  # Type=notify (systemd 252) does not wait for the reload; the daemon logs it.
  wait_for 10 '[ "$(reloads)" -gt "$before" ]' || { echo "the daemon did not log a reload"; return 1; }
  echo "ActiveState=$(show govnode.service ActiveState) MainPID $pid -> $(show govnode.service MainPID) StatusText=$(show govnode.service StatusText)"
  [ "$(show govnode.service ActiveState)" = active ] && [ "$(show govnode.service MainPID)" = "$pid" ]
}

step_watchdog() {
  ct sh -c 'mkdir -p /run/systemd/system/govnode.service.d && cat > /run/systemd/system/govnode.service.d/watchdog-test.conf' <<'EOF'
[Service]
Environment=FAILPOINTS=heartbeat-wedge=3*off->sleep(600000)
WatchdogSec=6s
RestartSec=15s
EOF
  ct systemctl daemon-reload
  ct systemctl restart govnode.service || return 1
  local pid restarts
  pid="$(show govnode.service MainPID)"
  restarts="$(show govnode.service NRestarts)"
  wait_for 90 '[ "$(show govnode.service Result)" = watchdog ]' || { echo "no watchdog kill (Result=$(show govnode.service Result)); is the binary built with --features failpoints?"; return 1; }
  echo "Result=watchdog, SubState=$(show govnode.service SubState)"
  # This boot only: the rootfs, and with it the persistent journal, is reused.
  ct journalctl -b -u govnode.service --no-pager >"$work/watchdog-journal.log"
  grep -F 'Watchdog timeout' "$work/watchdog-journal.log" | tail -n1
  grep -qF 'Watchdog timeout' "$work/watchdog-journal.log" || return 1
  wait_for 60 '[ "$(show govnode.service NRestarts)" -gt "$restarts" ] && [ "$(show govnode.service ActiveState)" = active ]' || return 1
  echo "restarted: MainPID $pid -> $(show govnode.service MainPID), NRestarts=$(show govnode.service NRestarts)"
  ct rm -f /run/systemd/system/govnode.service.d/watchdog-test.conf
  ct systemctl daemon-reload
  ct systemctl restart govnode.service
}

step_bad_config() {
  # A key the daemon does not know: exit 78, failed, and no restart loop.
  ct sh -c 'mkdir -p /etc/govnode && cp -p /etc/govnode/config.yaml /etc/govnode/config.yaml.good 2>/dev/null; { cat /etc/govnode/config.yaml.good 2>/dev/null || printf "chain: { id: 1 }\n"; echo "no_such_key: 1"; } > /etc/govnode/config.yaml; chmod 0644 /etc/govnode/config.yaml'
  ct systemctl restart govnode.service
  wait_for 30 '[ "$(show govnode.service ActiveState)" = failed ]'
  sleep 8 # longer than RestartSec: a restart loop would show by now
  local state status restarts
  state="$(show govnode.service ActiveState)"
  status="$(show govnode.service ExecMainStatus)"
  restarts="$(show govnode.service NRestarts)"
  echo "ActiveState=$state ExecMainStatus=$status NRestarts=$restarts"
  ct journalctl -b -u govnode.service --no-pager -n 5 -o cat
  ct sh -c 'if [ -f /etc/govnode/config.yaml.good ]; then mv /etc/govnode/config.yaml.good /etc/govnode/config.yaml; else rm -f /etc/govnode/config.yaml; fi'
  ct systemctl reset-failed govnode.service
  [ "$state" = failed ] && [ "$status" = 78 ] && [ "$restarts" = 0 ]
}

step_stop() {
  if [ "$(show govnode.service ActiveState)" != active ]; then
    ct systemctl start govnode.service || return 1
  fi
  local t0=$SECONDS
  ct systemctl stop govnode.service || return 1
  local result status
  result="$(show govnode.service Result)"
  status="$(show govnode.service ExecMainStatus)"
  echo "stopped in $((SECONDS - t0))s: Result=$result ExecMainStatus=$status"
  [ "$result" = success ] && [ "$status" = 0 ]
}

# --- run -------------------------------------------------------------------
for name in "${all_checks[@]}"; do
  [ -n "${selected[$name]+x}" ] || continue
  step "$name"
done

if [ -f "$work/summary" ]; then
  while read -r _ unit score; do echo "exposure (in container) $unit: $score"; done <"$work/summary"
fi
# The exposure figure on the host too, offline, from the unit files as shipped.
for unit in govnode.service govnode-round.service; do
  score="$(systemd-analyze security --offline=true --no-pager "$repo/systemd/$unit" 2>/dev/null |
    sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')"
  echo "exposure (offline, host) $unit: ${score:-unknown}"
done

echo
echo "systemd-checks: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
