#!/usr/bin/env bash
# Checks of the flake, the NixOS module and the VM tests that run without a
# nixpkgs checkout or a Nix store: syntax, the lock, offline flake outputs,
# the module's pure logic against the unit files in systemd/, the config the
# module writes against `govnode check-config`, and the VM tests' scripts.
#
# usage: tests/nix/check.sh [PATH-TO-GOVNODE]
#   PATH-TO-GOVNODE defaults to target/debug/govnode; without a binary the
#   check-config step is skipped (and says so).
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
govnode="${1:-$repo/target/debug/govnode}"
pin="$repo/../shared/nix/nixpkgs-pin.json"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# cargo-installed linters, when a developer has them.
PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin"

nixflags=(--extra-experimental-features 'nix-command flakes')
passed=0 failed=0 skipped=0

pass() { echo "PASS: $1"; passed=$((passed + 1)); }
fail() { echo "FAIL: $1"; failed=$((failed + 1)); }
skip() { echo "SKIP: $1"; skipped=$((skipped + 1)); }

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
    missing = {"package", "clippy", "vm-round", "vm-watchdog", "units-match-lib"} - set(names)
    assert not missing, f"{system}: checks missing {missing}"
EOF
  for attr in packages devShells formatter; do
    nix "${nixflags[@]}" eval --offline --json ".#$attr" --apply builtins.attrNames | grep -q aarch64-linux \
      || { echo "$attr lacks a system"; return 1; }
  done
  nix "${nixflags[@]}" eval --offline --json .#packages.x86_64-linux --apply builtins.attrNames \
    | grep -q govnode-failpoints || { echo "no govnode-failpoints package"; return 1; }
  nix "${nixflags[@]}" eval --offline --json .#nixosModules --apply builtins.attrNames | grep -q default &&
    nix "${nixflags[@]}" eval --offline --json .#overlays --apply builtins.attrNames | grep -q default
}
check "flake outputs for x86_64-linux and aarch64-linux (offline eval)" flake_outputs

# --- pure module logic against the unit files --------------------------------
block() { sed -n "/^# BEGIN $2/,/^# END $2/p" "$1" | grep -v -e '^#' -e '^$' | LC_ALL=C sort; }

lib_renders() {
  eval_json -E '(import ./nixos/lib.nix).rendered' >"$work/rendered.json" &&
    eval_json -E 'let l = import ./nixos/lib.nix; in { inherit (l) defaultSettings defaultLogLevel timer showExpected; }' \
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
check "schedule of govnode-round.timer matches nixos/lib.nix" \
  diff -u "$work/timer.txt" <(block systemd/govnode-round.timer timer)

# The module's assertions, as pure functions: a good example passes, each
# broken one names the problem.
assertions_work() {
  local got
  got="$(eval_json -A problems tests/nix/module-settings.nix)" || return 1
  [ "$got" = "[]" ] || { echo "example settings have problems: $got"; return 1; }
  got="$(eval_json -E '
    let l = import ./nixos/lib.nix; in map (s: builtins.length (l.settingsProblems s)) [
      { }
      { nodes.a.key_file = "/k"; rpc.endpoints.x.url = "u"; }
      { nodes.a.keyFile = "/nix/store/abc-key"; rpc.endpoints.x.url = "u"; }
      { nodes.a.keyFile = "/k"; rpc.endpoints.x = { url = "u"; urlFile = "/f"; }; }
      { nodes.a.keyFile = "/k"; rpc.endpoints.x.url = "u"; shutdown.drain_timeout = "1m 30s"; }
      { nodes.a.keyFile = "/k"; rpc.endpoints.x.url = "u"; control.socket = "/tmp/s"; }
      { nodes."a/b".keyFile = "/k"; rpc.endpoints.x.url = "u"; }
    ]')" || return 1
  echo "problems per broken settings: $got"
  python3 -c 'import json,sys; c=json.loads(sys.argv[1]); assert c[0] >= 2 and all(n >= 1 for n in c), c' "$got"
}
check "module assertions catch impossible settings" assertions_work

# --- the config the module writes, against the daemon -------------------------
module_config() {
  eval_json -A config tests/nix/module-settings.nix >"$work/govnode.yaml" || return 1
  mkdir -p "$work/credentials"
  eval_json -A credentials tests/nix/module-settings.nix | python3 -c '
import json, os, sys
for c in json.load(sys.stdin):
    with open(os.path.join(sys.argv[1], c["id"]), "w") as f:
        f.write(c["content"])' "$work/credentials" || return 1
  echo "rendered: $(cat "$work/govnode.yaml")"
}
check "module settings render to the daemon's config (tests/nix/example-settings.nix)" module_config

if [ -x "$govnode" ]; then
  check "govnode check-config accepts the module's config" \
    env CREDENTIALS_DIRECTORY="$work/credentials" "$govnode" check-config --config "$work/govnode.yaml"
  broken() {
    python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); c["chain"]["idd"]=1; json.dump(c, open(sys.argv[2],"w"))' \
      "$work/govnode.yaml" "$work/broken.yaml"
    CREDENTIALS_DIRECTORY="$work/credentials" "$govnode" check-config --config "$work/broken.yaml"
    local rc=$?
    echo "exit $rc"
    [ "$rc" = 78 ]
  }
  check "govnode check-config rejects an unknown key with exit 78" broken
else
  skip "govnode check-config on the module's config: no binary at $govnode (build it, or pass its path)"
fi

# --- VM tests ----------------------------------------------------------------
vm_tests() {
  local t rc=0
  for t in nixos/tests/*.nix; do
    [ "$(basename "$t")" = common.nix ] && continue
    eval_json -E "let s = import ./tests/nix/stub-pkgs.nix; t = import ./$t s; in
      assert builtins.isString t.name && t.nodes ? machine; t.testScript" >"$work/script.json" \
      || { echo "$t does not evaluate"; rc=1; continue; }
    python3 -c 'import ast, json, sys; ast.parse(json.load(open(sys.argv[1])), sys.argv[2])' "$work/script.json" "$t" \
      || { echo "$t: testScript is not valid Python"; rc=1; continue; }
    echo "$t: ok"
  done
  return $rc
}
check "VM tests evaluate (stub runNixOSTest) and their testScript parses" vm_tests

# --- linters, when present -------------------------------------------------
if command -v deadnix >/dev/null; then
  check "deadnix (no unused bindings)" deadnix --fail "${nixfiles[@]}"
else
  skip "deadnix not installed (cargo install --locked deadnix)"
fi
if command -v nixpkgs-fmt >/dev/null; then
  check "nixpkgs-fmt --check" nixpkgs-fmt --check "${nixfiles[@]}"
else
  skip "nixpkgs-fmt not installed (cargo install --locked nixpkgs-fmt)"
fi

echo
echo "nix-checks: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
