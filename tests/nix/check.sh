#!/usr/bin/env bash
# Checks of the flake, the NixOS module and the VM tests that run without a
# nixpkgs checkout or a Nix store: syntax, the lock, offline flake outputs,
# the module's pure logic against the unit files in systemd/, the config the
# module writes against `govnode check-config`, and the VM tests' scripts.
#
# usage: tests/nix/check.sh [--write-options-doc] [PATH-TO-GOVNODE]
#   PATH-TO-GOVNODE defaults to target/debug/govnode; without a binary the
#   check-config steps are skipped (and say so). --write-options-doc rewrites
#   docs/nixos-options.md from the module instead of comparing it.
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
write_doc=no
if [ "${1:-}" = --write-options-doc ]; then write_doc=yes; shift; fi
govnode="${1:-$repo/target/debug/govnode}"
case "$govnode" in /*) ;; *) govnode="$OLDPWD/$govnode" ;; esac
pin="$repo/../shared/nix/nixpkgs-pin.json"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# cargo-installed linters, when a developer has them.
PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin"

nixflags=(--extra-experimental-features 'nix-command flakes')
passed=0 failed=0 skipped=0 notrun=0

pass() { echo "PASS: $1"; passed=$((passed + 1)); }
fail() { echo "FAIL: $1"; failed=$((failed + 1)); }
skip() { echo "SKIP: $1"; skipped=$((skipped + 1)); }
# What only a machine with the real nixpkgs (and KVM) can check: named, never
# passed.
not_here() { echo "NOT RUN HERE: $1"; notrun=$((notrun + 1)); }

# Runs a named check; its output is shown only when it fails.
check() {
  local name="$1"; shift
  if "$@" >"$work/out" 2>&1; then
    pass "$name"
  else
    sed 's/^/    /' "$work/out"
    fail "$name"
  fi
}

eval_json() { nix-instantiate --eval --strict --json "$@"; }

# --- tools ---------------------------------------------------------------
if ! command -v nix-instantiate >/dev/null; then
  echo "installing nix-bin"
  apt-get install -y -qq nix-bin >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq nix-bin >/dev/null 2>&1; }
fi
if command -v nix-instantiate >/dev/null; then
  pass "nix-bin present ($(nix --version))"
else
  fail "nix-bin could not be installed"
  echo "0 passed, 1 failed"
  exit 1
fi

mapfile -t nixfiles < <(git ls-files --cached --others --exclude-standard -- '*.nix' | sort)

# --- syntax --------------------------------------------------------------
parse_all() {
  local f rc=0
  for f in "${nixfiles[@]}"; do
    nix-instantiate --parse "$f" >/dev/null || { echo "does not parse: $f"; rc=1; }
  done
  return $rc
}
check "every .nix file parses (${#nixfiles[@]} files)" parse_all

# --- the lock --------------------------------------------------------------
lock_matches_pin() {
  python3 - "$pin" flake.lock <<'EOF'
import json, sys
pin = json.load(open(sys.argv[1]))
lock = json.load(open(sys.argv[2]))
assert lock["version"] == 7, f"flake.lock version {lock['version']}, expected 7"
assert lock["root"] == "root", "root node is not named root"
assert set(lock["nodes"]) == {"root", "nixpkgs"}, f"unexpected nodes {sorted(lock['nodes'])}"
assert lock["nodes"]["root"] == {"inputs": {"nixpkgs": "nixpkgs"}}, lock["nodes"]["root"]
node = lock["nodes"]["nixpkgs"]
assert node["locked"] == pin["locked"], f"locked {node['locked']} != pin {pin['locked']}"
assert node["original"] == pin["original"], f"original {node['original']} != pin {pin['original']}"
assert set(node) == {"locked", "original"}, f"extra keys in the nixpkgs node: {sorted(node)}"
EOF
}
if [ -f "$pin" ]; then
  check "flake.lock pins nixpkgs exactly as shared/nix/nixpkgs-pin.json" lock_matches_pin
else
  skip "flake.lock against the pin: $pin not found"
fi

check "nix flake metadata --offline (the lock covers every input)" \
  nix "${nixflags[@]}" flake metadata --offline --no-update-lock-file .

# Outputs are listed per system without touching nixpkgs (inputs are lazy).
flake_outputs() {
  local out
  out="$(nix "${nixflags[@]}" eval --offline --json .#checks --apply 'c: builtins.mapAttrs (_: builtins.attrNames) c')" || return 1
  echo "$out"
  python3 - "$out" <<'EOF'
import json, sys
checks = json.loads(sys.argv[1])
assert sorted(checks) == ["aarch64-linux", "x86_64-linux"], sorted(checks)
for system, names in checks.items():
    missing = {"package", "clippy", "formatting", "options-doc", "units-match-lib",
               "vm-round", "vm-timer-persistent", "vm-switch", "vm-watchdog", "vm-failover"} - set(names)
    assert not missing, f"{system}: checks missing {missing}"
EOF
  for attr in packages devShells formatter; do
    nix "${nixflags[@]}" eval --offline --json ".#$attr" --apply builtins.attrNames | grep -q aarch64-linux \
      || { echo "$attr lacks a system"; return 1; }
  done
  nix "${nixflags[@]}" eval --offline --json .#packages.x86_64-linux --apply builtins.attrNames \
    | grep -q govnode-failpoints || { echo "no govnode-failpoints package"; return 1; }
  nix "${nixflags[@]}" eval --offline --json .#packages.x86_64-linux --apply builtins.attrNames \
    | grep -q nixos-options-doc || { echo "no nixos-options-doc package"; return 1; }
  nix "${nixflags[@]}" eval --offline --json .#nixosModules --apply builtins.attrNames | grep -q default &&
    nix "${nixflags[@]}" eval --offline --json .#overlays --apply builtins.attrNames | grep -q default
}
check "flake outputs for x86_64-linux and aarch64-linux (offline eval)" flake_outputs

# --- pure module logic against the unit files --------------------------------
block() { sed -n "/^# BEGIN $2/,/^# END $2/p" "$1" | grep -v -e '^#' -e '^$' | LC_ALL=C sort; }

lib_renders() {
  eval_json -E '(import ./nixos/lib.nix).rendered' >"$work/rendered.json" &&
    eval_json -E 'let l = import ./nixos/lib.nix; in { inherit (l) defaultSettings timer showExpected; }' \
      >"$work/defaults.json" &&
    python3 - "$work" <<'EOF'
import json, sys, os
d = sys.argv[1]
r = json.load(open(os.path.join(d, "rendered.json")))
for k, v in r.items():
    open(os.path.join(d, k + ".txt"), "w").write(v)
print(open(os.path.join(d, "defaults.json")).read())
EOF
}
check "nixos/lib.nix evaluates (unit blocks, defaults as JSON)" lib_renders

check "hardening of govnode.service matches nixos/lib.nix" \
  diff -u "$work/daemonHardening.txt" <(block systemd/govnode.service hardening)
check "hardening of govnode-round.service matches nixos/lib.nix" \
  diff -u "$work/roundHardening.txt" <(block systemd/govnode-round.service hardening)
check "settings of govnode-round.service (the per-DAO round services' base) match nixos/lib.nix" \
  diff -u "$work/roundService.txt" <(sed -n '/^\[Service\]/,/^# BEGIN hardening/p' systemd/govnode-round.service |
    grep -E '^(Type|TimeoutStartSec|DynamicUser|User|Group|LimitCORE)=' | LC_ALL=C sort)
check "schedule of govnode-round.timer matches nixos/lib.nix" \
  diff -u "$work/timer.txt" <(block systemd/govnode-round.timer timer)

# The module's assertions as pure functions: each broken setting names the
# problem.
assertions_work() {
  local got
  got="$(eval_json -E '
    let l = import ./nixos/lib.nix; in map (s: builtins.length (l.settingsProblems s)) [
      { }
      { nodes.a.key_file = "/k"; rpc.endpoints.x.url = "u"; }
      { nodes.a.keyFile = "/nix/store/abc-key"; rpc.endpoints.x.url = "u"; }
      { nodes.a.keyFile = "/k"; rpc.endpoints.x = { url = "u"; urlFile = "/f"; }; }
      { nodes.a.keyFile = "/k"; rpc.endpoints.x.url = "u"; shutdown.drain_timeout = "1m 30s"; }
      { nodes.a.keyFile = "/k"; rpc.endpoints.x.url = "u"; control.socket = "/tmp/s"; }
      { nodes."a/b".keyFile = "/k"; rpc.endpoints.x.url = "u"; }
      { nodes.a.key_credential = "not-provided"; rpc.endpoints.x.url = "u"; }
      { nodes.a.keyFile = "/k"; rpc.endpoints.x.url = "u"; webhooks.w = { kind = "slack"; url = "https://hooks.example/T/B/x"; }; }
      { nodes.a.keyFile = "/k"; rpc.endpoints.x.url = "u"; webhooks.w.kind = "slack"; }
      { nodes.a.keyFile = "/k"; rpc.endpoints.x.url = "u"; webhooks.w.url_credential = "not-provided"; }
    ]')" || return 1
  echo "problems per broken settings: $got"
  python3 -c 'import json,sys; c=json.loads(sys.argv[1]); assert c[0] >= 2 and all(n >= 1 for n in c), c' "$got" || return 1
  got="$(eval_json -E 'let l = import ./nixos/lib.nix; in map (id: l.globMatches "govnode.*" id) [ "govnode.rpc" "govnodeXrpc" "other" ]')"
  echo "glob govnode.* on govnode.rpc, govnodeXrpc, other: $got"
  [ "$got" = "[true,false,false]" ]
}
check "module assertions catch impossible settings (nixos/lib.nix)" assertions_work

# --- the module under nixpkgs.lib's evalModules --------------------------------
libdir="$repo/../shared/nix/nixpkgs-lib/lib"
mkdir -p "$work/pkg/bin" "$work/units"
[ -x "$govnode" ] && ln -s "$govnode" "$work/pkg/bin/govnode"

eval_module() {
  eval_json tests/nix/eval-module.nix --arg nixpkgsLib "$libdir" --argstr packageDir "$work/pkg" "$@"
}

if [ ! -d "$libdir" ]; then
  fail "nixpkgs.lib not found at $libdir: the module cannot be evaluated"
else
  echo "NOTE: evalModules runs with nixpkgs.lib of the pin; the NixOS options the module sets, pkgs.formats.yaml, runCommand and the package are stubs (tests/nix/eval-module.nix says which)"

  module_full() {
    eval_module -A full >"$work/full.json" || return 1
    python3 - "$work" <<'PY'
import json, os, sys
d = sys.argv[1]
full = json.load(open(os.path.join(d, "full.json")))
assert full["assertions"] == [], f"assertions fail with every option set: {full['assertions']}"
assert full["warnings"] == [], f"warnings with every option set: {full['warnings']}"
sc = full["serviceConfig"]
assert full["config"]["ledger"] == {"kind": "postgres", "url_credential": "ledger-url"}, full["config"]["ledger"]
assert sc["Type"] == "notify-reload" and sc["ReloadSignal"] == "SIGHUP", sc
assert sc["ExecStart"][0] == "" and " --config /etc/govnode/config.yaml" in sc["ExecStart"][1], sc["ExecStart"]
assert "/nix/store" not in sc["ExecStart"][1].split("/bin/govnode", 1)[1], "a store path in ExecStart's arguments"
assert sorted(sc["LoadCredential"]) == ["ledger-url:/run/keys/govnode-ledger.url", "node-ai-gov-01:/run/keys/ai-gov-01.key", "rpc-backup:/run/keys/govnode-rpc-backup.url", "rpc-store", "rpc-ws-backup:/run/keys/govnode-rpc-backup.ws-url", "webhook-ops:/run/keys/govnode-webhook-ops.url", "webhook-store"], sc["LoadCredential"]
assert [(e["name"], e.get("ws_url_credential")) for e in full["config"]["rpc"]["endpoints"]] == [("local", None), ("backup", "rpc-ws-backup"), ("store", None), ("imported", None)], full["config"]["rpc"]["endpoints"]
assert [(w["name"], w["url_credential"]) for w in full["config"]["webhooks"]] == [("chat", "webhook-store"), ("ops", "webhook-ops")], full["config"]["webhooks"]
assert sorted(sc["LoadCredentialEncrypted"]) == ["api-token:/run/keys/govnode-api-token", "node-ai-gov-02:/etc/credstore.encrypted/node-ai-gov-02"], sc["LoadCredentialEncrypted"]
assert sc["ImportCredential"] == ["govnode.rpc.*"], sc["ImportCredential"]
tc = full["timerConfig"]
assert tc == {"OnCalendar": ["", "*:0/15", "Sat 12:00"], "Persistent": False, "RandomizedDelaySec": "30s"}, tc
assert full["wantedBy"] == {"daemon": ["multi-user.target"], "timer": ["timers.target"]}, full["wantedBy"]
assert full["firewall"] == [5001], full["firewall"]
assert full["etc"]["govnode/config.yaml"].endswith("-govnode.yaml"), full["etc"]
for name in ("daemonDropIn", "roundDropIn", "timerDropIn"):
    open(os.path.join(d, name + ".conf"), "w").write(full[name])
json.dump(full["config"], open(os.path.join(d, "full-config.yaml"), "w"))
os.makedirs(os.path.join(d, "credentials"), exist_ok=True)
for c in full["credentials"]:
    open(os.path.join(d, "credentials", c["id"]), "w").write(c["content"])
open(os.path.join(d, "check-script.sh"), "w").write(full["checkScript"])
open(os.path.join(d, "unchecked-path"), "w").write(full["uncheckedPath"])
print(full["daemonDropIn"])
PY
  }
  check "evalModules: every option set (tests/nix/every-option.nix) evaluates, with no assertion or warning, to the expected unit settings" module_full

  module_minimal() {
    eval_module -A minimal >"$work/minimal.json" || return 1
    python3 - "$work/minimal.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
assert m["assertions"] == [] and m["warnings"] == [], m
assert "OnCalendar=*:0/30" in m["timerDropIn"] and "Persistent=true" in m["timerDropIn"], m["timerDropIn"]
assert m["config"]["log"]["level"] == "info", m["config"]["log"]
assert m["config"]["nodes"] == [{"name": "a", "key_credential": "node-a", "strategy": "conservative"}], m["config"]["nodes"]
print(m["daemonDropIn"])
PY
  }
  check "evalModules: the defaults with the least settings" module_minimal

  module_triggers() {
    eval_module -A triggers >"$work/triggers.json" || return 1
    python3 - "$work/triggers.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
base = t["base"]
print(json.dumps(t, indent=1))
for name in ("logLevel", "strategy"):
    assert t[name]["reload"] != base["reload"], f"{name}: the config file did not change"
    assert t[name]["restart"] == base["restart"], f"{name}: a reloadable change would restart the daemon"
for name in ("listen", "rpc", "haLease", "leaseGroup"):
    assert t[name]["restart"] != base["restart"], f"{name}: a change the daemon cannot take over would only reload it"
PY
  }
  check "evalModules: reloadable settings move reloadTriggers only, the rest restartTriggers" module_triggers

  module_multi_dao() {
    eval_module -A multiDao >"$work/multi.json" || return 1
    python3 - "$work" <<'PY'
import json, os, sys
d = sys.argv[1]
m = json.load(open(os.path.join(d, "multi.json")))
assert m["assertions"] == [] and m["warnings"] == [], (m["assertions"], m["warnings"])
c = m["config"]
for single in ("chain", "rpc", "dao"):
    assert single not in c, f"the many-DAO form renders {single}: {c[single]}"
assert c["chains"] == [
    {"name": "base", "id": 8453, "rpc": {"endpoints": [
        {"name": "base-a", "priority": 0, "url_credential": "rpc-base-a", "ws_url_credential": "rpc-ws-base-a"}]}},
    {"name": "mainnet", "id": 1, "rpc": {"breaker": {"failure_threshold": 3}, "endpoints": [
        {"name": "mainnet-a", "priority": 0, "url_credential": "rpc-mainnet-a"},
        {"name": "mainnet-b", "priority": 1, "url": "http://127.0.0.1:8545"}]}},
], json.dumps(c["chains"], indent=1)
assert c["daos"] == [
    {"name": "dloop", "chain": "mainnet", "kind": "assetdao", "address": "0x5FbDB2315678afecb367f032d93F642f64180aa3", "vote_margin": "60s"},
    {"name": "grants", "chain": "mainnet", "kind": "governor", "address": "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0"},
    {"name": "treasury", "chain": "base", "kind": "governor", "address": "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
     "start_block": 123, "vote_margin_blocks": 5, "voters": [{"node": "a"}, {"node": "b", "strategy": "aggressive"}]},
], json.dumps(c["daos"], indent=1)
assert sorted(m["loadCredential"]) == ["node-a:/run/keys/a", "node-b:/run/keys/b", "rpc-base-a:/run/keys/rpc-base-a.url",
    "rpc-mainnet-a:/run/keys/rpc-mainnet-a.url", "rpc-ws-base-a:/run/keys/rpc-base-a.ws-url"], m["loadCredential"]
json.dump(c, open(os.path.join(d, "multi-config.yaml"), "w"))
os.makedirs(os.path.join(d, "multi-credentials"), exist_ok=True)
for cr in m["credentials"]:
    open(os.path.join(d, "multi-credentials", cr["id"]), "w").write(cr["content"])

u = m["units"]
for case, v in u.items():
    assert v["assertions"] == [], (case, v["assertions"])
cmd = lambda s: s["ExecStart"][-1] if isinstance(s["ExecStart"], list) else s["ExecStart"]
rest = lambda s: cmd(s).split("/bin/govnode", 1)[1]
# No DAO with a timer of its own: today's units, every DAO.
none = u["none"]
assert sorted(none["services"]) == ["govnode-round"] and sorted(none["timers"]) == ["govnode-round"], none
assert rest(none["services"]["govnode-round"]) == " round --config /etc/govnode/config.yaml", none
assert none["timers"]["govnode-round"]["wantedBy"] == ["timers.target"], none
# dloop alone on its own timer: the main one runs the others.
some = u["some"]
assert sorted(some["services"]) == ["govnode-round", "govnode-round-dloop"], sorted(some["services"])
assert sorted(some["timers"]) == ["govnode-round", "govnode-round-dloop"], sorted(some["timers"])
assert rest(some["services"]["govnode-round"]) == " round --config /etc/govnode/config.yaml --dao grants --dao treasury", some
own = some["services"]["govnode-round-dloop"]
assert rest(own) == " round --config /etc/govnode/config.yaml --dao dloop", own
assert own["restartIfChanged"] is False, own
sc = own["serviceConfig"]
for k, v in {"Type": "oneshot", "DynamicUser": True, "User": "govnode", "Group": "govnode", "PrivateNetwork": True,
             "IPAddressDeny": "any", "RestrictAddressFamilies": "AF_UNIX", "ProcSubset": "pid",
             "SystemCallFilter": ["@system-service", "~@privileged @resources"], "TimeoutStartSec": "15min"}.items():
    assert sc.get(k) == v, (k, sc.get(k), v)
t = some["timers"]["govnode-round-dloop"]
assert t["wantedBy"] == ["timers.target"] and t["timerConfig"] == {"OnCalendar": "*:0/10", "Persistent": True, "RandomizedDelaySec": "2min"}, t
# Every DAO on its own timer: the main timer and service are masked.
a = u["all"]
assert sorted(a["services"]) == ["govnode-round", "govnode-round-dloop", "govnode-round-grants", "govnode-round-treasury"], sorted(a["services"])
assert a["services"]["govnode-round"]["enable"] is False, a["services"]["govnode-round"]
assert a["timers"]["govnode-round"]["enable"] is False and a["timers"]["govnode-round"]["wantedBy"] == [], a["timers"]["govnode-round"]
assert a["timers"]["govnode-round-grants"]["timerConfig"]["OnCalendar"] == "*:0/30", a["timers"]["govnode-round-grants"]
assert a["timers"]["govnode-round-treasury"]["timerConfig"]["RandomizedDelaySec"] == "0", a["timers"]["govnode-round-treasury"]
# A per-DAO round service as NixOS writes it, for systemd-analyze.
unit = "[Unit]\nDescription=govnode voting round of DAO dloop\nRequires=govnode.service\nAfter=govnode.service\n\n[Service]\n"
for k, v in sorted(sc.items()):
    for item in (v if isinstance(v, list) else [v]):
        unit += f"{k}={'true' if item is True else 'false' if item is False else item}\n"
open(os.path.join(d, "govnode-round-dloop.service"), "w").write(unit)
print(unit)
PY
  }
  check "evalModules: two chains and three DAOs render as chains/daos; per-DAO timers (govnode-round-<dao>), the main timer's --dao list, no main timer when every DAO has one" module_multi_dao

  module_multi_triggers() {
    local got
    got="$(eval_module -A multiDao.triggers)" || return 1
    echo "$got"
    python3 - "$got" <<'PY'
import json, sys
t = json.loads(sys.argv[1])
base = t["base"]
for name in ("voters", "margin", "marginBlocks"):
    assert t[name]["reload"] != base["reload"], f"{name}: the config file did not change"
    assert t[name]["restart"] == base["restart"], f"{name}: a reloadable change would restart the daemon"
for name in ("chainId", "endpoint", "daoChain", "daoKind", "daoAddress"):
    assert t[name]["restart"] != base["restart"], f"{name}: a change the daemon cannot take over would only reload it"
PY
  }
  check "evalModules: many DAOs: chains and a DAO's chain/kind/address restart, voters and margins reload" module_multi_triggers

  module_multi_broken() {
    local got
    got="$(eval_module -A multiDao.broken)" || return 1
    echo "$got"
    python3 - "$got" <<'PY'
import json, sys
b = json.loads(sys.argv[1])
want = {
    "bothForms": "one form or the other",
    "unknownChain": 'daos.grants.chain = "polygon" names no chain',
    "duplicateEndpoint": 'endpoint name "mainnet-a" is used more than once',
    "unknownVoter": "daos.dloop.voters.c names no node",
    "unknownTimer": "services.govnode.daos.polygon-dao (a round timer of its own) names no DAO",
    "badName": 'daos."Bad.Name": a DAO name is',
    "noDaos": "settings.daos is empty",
}
for case, needle in want.items():
    assert any(needle in m for m in b[case]), f"{case}: no assertion says {needle!r}: {b[case]}"
PY
  }
  check "evalModules: broken many-DAO settings fail with messages that name them" module_multi_broken

  module_renamed() {
    local got
    got="$(eval_module -A renamed)" || return 1
    echo "$got"
    python3 - "$got" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
assert r["level"] == "warn" and r["onCalendar"] == "hourly" and r["randomizedDelaySec"] == "5min", r
for old in ("logLevel", "schedule", "randomizedDelay"):
    assert any(f"services.govnode.{old}" in w and "renamed" in w for w in r["warnings"]), (old, r["warnings"])
PY
  }
  check "evalModules: logLevel, schedule, randomizedDelay are renamed (with a warning)" module_renamed

  module_broken() {
    local got
    got="$(eval_module -A broken)" || return 1
    echo "$got"
    python3 - "$got" <<'PY'
import json, sys
b = json.loads(sys.argv[1])
want = {
    "missingCredential": 'credential "node-b"',
    "bothKeys": "exactly one of keyFile",
    "keyFileKey": "key_file is not readable",
    "storeUrlFile": "outside /nix/store",
    "postgresKindAlone": "ledger.kind = \"postgres\" without a connection string",
}
for case, needle in want.items():
    assert any(needle in m for m in b[case]), f"{case}: no assertion says {needle!r}: {b[case]}"
PY
  }
  check "evalModules: broken settings fail with messages that name them" module_broken

  module_local_postgres() {
    eval_module -A localPostgres >"$work/local-postgres.json" || return 1
    python3 - "$work/local-postgres.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
print(json.dumps(m, indent=1))
assert m["assertions"] == [] and m["warnings"] == [], m
ledger = m["config"]["ledger"]
assert ledger["kind"] == "postgres" and ledger["url_file"] == m["conninfoFile"], ledger
assert ledger["url_file"].startswith("/nix/store/") and "url_credential" not in ledger, ledger
# Peer authentication as the unit's User=govnode: no password anywhere.
assert m["conninfoText"] == "host=/run/postgresql user=govnode dbname=govnode", m["conninfoText"]
pg = m["postgresql"]
assert pg["enable"] is True and pg["ensureDatabases"] == ["govnode"], pg
assert pg["ensureUsers"] == [{"name": "govnode", "ensureDBOwnership": True}], pg
for key in ("after", "requires"):
    assert set(m[key]) >= {"postgresql.service", "postgresql-setup.service"}, (key, m[key])
assert not any(c.startswith("ledger-url") for c in m["loadCredential"]), m["loadCredential"]
PY
  }
  check "evalModules: ledger.postgres with the database on this host (services.postgresql, peer authentication, ordering)" module_local_postgres

  module_broken_postgres() {
    local got
    got="$(eval_module -A brokenPostgres)" || return 1
    echo "$got"
    python3 - "$got" <<'PY'
import json, sys
b = json.loads(sys.argv[1])
want = {
    "urlFileWithLocal": "urlFile is set but services.govnode.ledger.postgres.createLocally is true",
    "remoteWithoutUrl": "no connection string is given",
}
for case, needle in want.items():
    assert any(needle in m for m in b[case]), f"{case}: no assertion says {needle!r}: {b[case]}"
PY
  }
  check "evalModules: contradictory ledger.postgres settings fail with messages that name them" module_broken_postgres

  vm_machines() {
    eval_module -A vmMachines >"$work/machines.json" || return 1
    python3 - "$work/machines.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
print(json.dumps(m, indent=1))
for name, v in m.items():
    assert v["assertions"] == [] and v["warnings"] == [], (name, v["assertions"], v["warnings"])
assert m["round"]["timer"]["OnCalendar"] == ["", "*:*:0/20"], m["round"]["timer"]
assert m["timer-persistent"]["timer"]["Persistent"] is True, m["timer-persistent"]["timer"]
assert not m["switch"]["timerWanted"], "the switch test's machine runs the timer"
base, spec = m["switch"]["triggers"], m["switch"]["specialisations"]
assert spec["reload"]["reload"] != base["reload"] and spec["reload"]["restart"] == base["restart"], spec["reload"]
assert spec["restart"]["restart"] != base["restart"], spec["restart"]
PY
  }
  check "evalModules: the VM tests' machines (and the switch test's specialisations: one reloads, one restarts)" vm_machines

  # --- the units NixOS would install, under systemd-analyze ---------------------
  # The packaged units as package.nix installs them, plus the module's
  # drop-ins as overrides.conf, the way NixOS layers them.
  render_units() {
    local unit
    for unit in systemd/govnode.service systemd/govnode-round.service systemd/govnode-round.timer; do
      sed -e "s|/usr/bin/govnode|$work/pkg/bin/govnode|g" \
        -e "s|/usr/share/doc/govnode|$work/pkg/share/doc/govnode|g" \
        -e "s|^ExecReload=kill |ExecReload=$(command -v kill) |" \
        "$unit" >"$work/units/$(basename "$unit")"
    done
    mkdir -p "$work/units/govnode.service.d" "$work/units/govnode-round.service.d" "$work/units/govnode-round.timer.d"
    cp "$work/daemonDropIn.conf" "$work/units/govnode.service.d/overrides.conf"
    cp "$work/roundDropIn.conf" "$work/units/govnode-round.service.d/overrides.conf"
    cp "$work/timerDropIn.conf" "$work/units/govnode-round.timer.d/overrides.conf"
    # systemd-analyze here is Debian 12's 252; NixOS 26.05 runs a newer
    # systemd. What 252 does not know is taken out for it, by name.
    local v
    v="$(systemd-analyze --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p')"
    if [ "${v:-0}" -lt 253 ]; then
      sed -i -e 's/^Type=notify-reload$/Type=notify/' -e '/^ReloadSignal=/d' "$work/units/govnode.service.d/overrides.conf"
      echo "NOTE: systemd $v: Type=notify-reload and ReloadSignal= (253+) checked as Type=notify"
    fi
    if [ "${v:-0}" -lt 254 ]; then
      sed -i -e '/^ImportCredential=/d' "$work/units/govnode.service.d/overrides.conf"
      echo "NOTE: systemd $v: ImportCredential= (254+) left out"
    fi
    cat "$work/units/govnode.service.d/overrides.conf"
  }
  if [ -x "$govnode" ]; then
    check "render the units NixOS installs (packaged units + the module's overrides.conf)" render_units
    # What the local systemd-analyze cannot judge, said rather than passed.
    grep '^NOTE:' "$work/out"
    verify_units() {
      # Unknown keys only warn: any line on stderr is a failure.
      systemd-analyze verify "$work/units/govnode.service" "$work/units/govnode-round.service" \
        "$work/units/govnode-round.timer" 2>"$work/verify.err" || { cat "$work/verify.err"; return 1; }
      grep -v "^$" "$work/verify.err" | grep -v -e "Failed to put bus name" -e "Failed to connect to bus" \
        && return 1
      return 0
    }
    check "systemd-analyze verify on the rendered units" verify_units
    check "systemd-analyze security: rendered govnode.service exposure <= 1.1" \
      systemd-analyze security --offline=true --threshold=11 "$work/units/govnode.service"
    check "systemd-analyze security: rendered govnode-round.service exposure <= 0.4" \
      systemd-analyze security --offline=true --threshold=4 "$work/units/govnode-round.service"
    check "systemd-analyze security: packaged systemd/govnode.service exposure <= 1.1" \
      systemd-analyze security --offline=true --threshold=11 systemd/govnode.service
    verify_dao_unit() {
      sed "s|/nonexistent/govnode|$work/pkg|g" "$work/govnode-round-dloop.service" >"$work/units/govnode-round-dloop.service"
      systemd-analyze verify "$work/units/govnode-round-dloop.service" 2>"$work/verify.err" || { cat "$work/verify.err"; return 1; }
      grep -v "^$" "$work/verify.err" | grep -v -e "Failed to put bus name" -e "Failed to connect to bus" \
        && return 1
      return 0
    }
    if [ -f "$work/govnode-round-dloop.service" ]; then
      check "systemd-analyze verify on a per-DAO round service (govnode-round-dloop.service)" verify_dao_unit
      check "systemd-analyze security: per-DAO govnode-round-dloop.service exposure <= 0.4" \
        systemd-analyze security --offline=true --threshold=4 "$work/units/govnode-round-dloop.service"
    fi
    check "rendered units keep PrivateMounts=yes (both services)" \
      grep -q '^PrivateMounts=yes$' "$work/units/govnode.service" "$work/units/govnode-round.service"
  else
    skip "render and systemd-analyze the units: no binary at $govnode (ExecStart must exist for verify)"
  fi
fi

# --- the config the module writes, against the daemon -------------------------
if [ -x "$govnode" ] && [ -f "$work/full-config.yaml" ]; then
  check "govnode check-config accepts the module's config with every option set" \
    env CREDENTIALS_DIRECTORY="$work/credentials" "$govnode" check-config --config "$work/full-config.yaml"
  # The build-time check itself, as the module's runCommand runs it, on
  # CONFIG, writing OUT.
  run_check_script() {
    sed "s|$(cat "$work/unchecked-path")|$1|g" "$work/check-script.sh" >"$work/check-run.sh"
    (cd "$work" && PATH="$work/pkg/bin:$PATH" out="$2" bash -e "$work/check-run.sh")
  }
  good() {
    run_check_script "$work/full-config.yaml" "$work/checked.yaml" &&
      cmp "$work/full-config.yaml" "$work/checked.yaml"
  }
  check "the module's build-time check script passes a good config" good
  broken() {
    python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); c["chain"]["idd"]=1; json.dump(c, open(sys.argv[2],"w"))' \
      "$work/full-config.yaml" "$work/broken.yaml"
    run_check_script "$work/broken.yaml" "$work/broken-out.yaml"
    local rc=$?
    echo "exit $rc"
    [ "$rc" = 78 ] && [ ! -e "$work/broken-out.yaml" ]
  }
  check "the module's build-time check script fails an unknown key (exit 78, no output)" broken
  vm_config() {
    python3 - "$work" "$1" <<'PY' || return 1
import json, os, sys
d, name = sys.argv[1], sys.argv[2]
m = json.load(open(os.path.join(d, "machines.json")))[name]
json.dump(m["config"], open(os.path.join(d, f"vm-{name}.yaml"), "w"))
os.makedirs(os.path.join(d, f"vm-{name}-credentials"), exist_ok=True)
for c in m["credentials"]:
    open(os.path.join(d, f"vm-{name}-credentials", c["id"]), "w").write(c["content"])
print(json.dumps(m["config"]))
PY
    CREDENTIALS_DIRECTORY="$work/vm-$1-credentials" "$govnode" check-config --config "$work/vm-$1.yaml"
  }
  if [ -f "$work/machines.json" ]; then
    check "govnode check-config accepts the config of the VM tests' machine" vm_config round
    check "govnode check-config accepts the config of the failover test's daemons (PostgreSQL ledger, ha)" vm_config failover-a
  fi
  # The many-DAO form (chains:, daos:): fails until the daemon knows it.
  if [ -f "$work/multi-config.yaml" ]; then
    check "govnode check-config accepts the module's many-DAO config (two chains, three DAOs)" \
      env CREDENTIALS_DIRECTORY="$work/multi-credentials" "$govnode" check-config --config "$work/multi-config.yaml"
  fi
else
  skip "govnode check-config on the module's config: no binary at $govnode (build it, or pass its path)"
fi

# --- the option reference ------------------------------------------------------
options_doc() {
  eval_module -A optionsDoc >"$work/options.json" || return 1
  python3 tests/nix/render-options-doc.py "$work/options.json" >"$work/nixos-options.md" || return 1
  if [ "$write_doc" = yes ]; then
    cp "$work/nixos-options.md" docs/nixos-options.md
    echo "wrote docs/nixos-options.md"
  else
    diff -u docs/nixos-options.md "$work/nixos-options.md" ||
      { echo "docs/nixos-options.md is out of date: tests/nix/check.sh --write-options-doc"; return 1; }
  fi
}
if [ -d "$libdir" ]; then
  check "docs/nixos-options.md is the module's option reference" options_doc
fi

# --- the package's source --------------------------------------------------------
# lib.fileset needs Nix >= 2.14 (builtins.readFileType), so the file set is
# read from package.nix: every path must exist, and every file the crate
# reads at compile time (concat!(env!("CARGO_MANIFEST_DIR"), "...")) must be
# in it.
package_source() {
  python3 - <<'PY'
import os, re, subprocess
text = open("nixos/package.nix").read()
paths = re.findall(r'\(root \+ "/([^"]+)"\)', text.split("fileset = fs.unions [", 1)[1].split("];", 1)[0])
print("file set:", ", ".join(paths))
missing = [p for p in paths if not os.path.exists(p)]
assert not missing, f"in the file set but not in the repository: {missing}"
assert not any(p.endswith(".nix") or p.startswith(("tests", "nixos", "scripts")) for p in paths), paths
src = subprocess.run(["grep", "-rhoz", r'env!("CARGO_MANIFEST_DIR"),[[:space:]]*"[^"]*"', "src"], capture_output=True, text=True).stdout
needed = sorted(set(re.findall(r'"(/[^"]+)"', src)))
print("read at compile time:", ", ".join(needed))
uncovered = [n for n in needed if not any(n.lstrip("/") == p or n.lstrip("/").startswith(p.rstrip("/") + "/") for p in paths)]
assert not uncovered, f"the crate reads these at compile time, the file set lacks them: {uncovered}"
PY
}
check "package.nix: its lib.fileset names existing files and covers what the crate reads at compile time" package_source
not_here "lib.fileset evaluation of the package source (needs Nix >= 2.14; here $(nix --version))"

# --- VM tests ----------------------------------------------------------------
vm_tests() {
  local t rc=0
  for t in nixos/tests/*.nix; do
    [ "$(basename "$t")" = common.nix ] && continue
    eval_json -E "let s = import ./tests/nix/stub-pkgs.nix; t = import ./$t { inherit (s) pkgs self; }; in
      assert builtins.isString t.name && t.nodes != { };
      if builtins.isFunction t.testScript then t.testScript s.testArgs else t.testScript" >"$work/script.json" \
      || { echo "$t does not evaluate"; rc=1; continue; }
    python3 -c 'import ast, json, sys; ast.parse(json.load(open(sys.argv[1])), sys.argv[2])' "$work/script.json" "$t" \
      || { echo "$t: testScript is not valid Python"; rc=1; continue; }
    echo "$t: ok"
  done
  return $rc
}
check "VM tests evaluate (stub runNixOSTest) and their testScript parses" vm_tests

vm_in_flake() {
  local t name rc=0
  for t in nixos/tests/*.nix; do
    name="$(basename "$t" .nix)"
    [ "$name" = common ] && continue
    grep -q "vm-$name = ./nixos/tests/$name.nix;" flake.nix || { echo "$t is no check of the flake"; rc=1; }
  done
  return $rc
}
check "every VM test is a check of the flake" vm_in_flake

no_ifd() {
  # What a test's evaluation reads must be a source file, never a build
  # output: no importJSON/readFile/import of an interpolated derivation.
  ! grep -n -E '(importJSON|readFile|import) +"\$\{' nixos/tests/*.nix nixos/*.nix
}
check "no import-from-derivation in the module and VM tests" no_ifd

# --- linters, when present -------------------------------------------------
if command -v deadnix >/dev/null; then
  check "deadnix (no unused bindings)" deadnix --fail "${nixfiles[@]}"
else
  skip "deadnix not installed (cargo install --locked deadnix)"
fi
if command -v nixfmt >/dev/null; then
  check "nixfmt --check" nixfmt --check "${nixfiles[@]}"
else
  not_here "nixfmt --check (the flake's formatter; in no registry reachable here): nix build .#checks.x86_64-linux.formatting"
fi

not_here "(needs the real nixpkgs) the package build, clippy and the unit tests in the sandbox: nix build .#checks.x86_64-linux.package .#checks.x86_64-linux.clippy"
not_here "(needs the real nixpkgs) nixosOptionsDoc of the module: nix build .#nixos-options-doc"
not_here "(needs the real nixpkgs) the module under the real NixOS modules (systemd, etc, assertions): any nix build of a VM test"
not_here "(needs the real nixpkgs and KVM) the VM tests: nix build -L .#checks.x86_64-linux.{vm-round,vm-timer-persistent,vm-switch,vm-watchdog,vm-failover}"

echo
echo "nix-checks: $passed passed, $failed failed, $skipped skipped, $notrun not run here (listed above)"
[ "$failed" -eq 0 ]
