#!/usr/bin/env bash
# The whole test suite: what CI runs (.ci/run) and what a developer runs before
# pushing. Installs what it needs (idempotent, fast when already done), then runs
# every check and prints one summary line.
#
# Usage: scripts/test.sh [--skip NAME,NAME]   (names: see the `step` calls below)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

skip=",${GOVNODE_TEST_SKIP:-},"
while [ $# -gt 0 ]; do
    case "$1" in
        --skip) skip=",$2,$skip"; shift 2 ;;
        -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "test.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
done

passed=0
failed=0
failures=()
step() {
    local name="$1"; shift
    if [[ "$skip" == *",$name,"* ]]; then
        echo "=== $name: skipped"
        return 0
    fi
    echo "=== $name"
    local start=$SECONDS
    if "$@"; then
        echo "=== $name: PASS ($((SECONDS - start)) s)"
        passed=$((passed + 1))
    else
        echo "=== $name: FAIL ($((SECONDS - start)) s)"
        failed=$((failed + 1))
        failures+=("$name")
    fi
}

setup() {
    scripts/setup-tools.sh --localstack --apt nix-bin systemd-container debootstrap prometheus chromium softhsm2 postgresql
}

# One feature set for every cargo step, so that nothing is compiled twice.
CARGO_FEATURES=(--features failpoints)
# A fresh clone gains nothing from incremental compilation, which adds
# gigabytes to target/; a developer who wants it sets CARGO_INCREMENTAL=1.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

# A full disk fails a link or a debootstrap with an obscure error (SIGBUS in
# the linker); the free space printed beside the steps tells that cause.
free_disk() {
    echo "free disk under $ROOT: $(df -h --output=avail "$ROOT" 2>/dev/null | tail -n 1 | tr -d ' ')"
}
free_disk

step setup setup || { echo "set-up failed; nothing else can run"; exit 1; }
# shellcheck source=lib/tools-env.sh
source scripts/lib/tools-env.sh
step fmt cargo fmt --check
step clippy cargo clippy --all-targets "${CARGO_FEATURES[@]}" -- -D warnings
step build cargo build "${CARGO_FEATURES[@]}"
step monitoring tests/monitoring/check.sh "$ROOT/target/debug/govnode"
step schemathesis tests/api_schemathesis/run.sh "$ROOT/target/debug/govnode"
step cargo-test cargo test "${CARGO_FEATURES[@]}" --no-fail-fast
free_disk
step contract-artifacts contracts/check-artifacts.sh
step assetdao-smoke contracts/test/assetdao-smoke.sh
step governor-compile contracts/test/governor-compile.sh
step nix tests/nix/check.sh "$ROOT/target/debug/govnode"
step systemd tests/systemd/run.sh "$ROOT/target/debug/govnode"

echo
free_disk
if [ "$failed" -gt 0 ]; then
    echo "failed suites: ${failures[*]}"
fi
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
