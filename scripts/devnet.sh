#!/usr/bin/env bash
# The newcomer's demo: builds govnode, installs the local chain tooling, and runs
# `govnode devnet` — a local anvil chain with DLoop's AssetDAO, five voting nodes
# and a scenario of proposals, then the daemon voting on them. Ctrl-C stops it all.
#
# Usage: scripts/devnet.sh [govnode devnet flags, e.g. --once, --proposals 10]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [ ! -x tools/node_modules/.bin/anvil ] || [ ! -x target/debug/govnode ]; then
    echo "devnet: first run: installing the chain tooling into tools/ (npm) and building govnode;" \
        "this takes a few minutes once" >&2
fi
scripts/setup-tools.sh --quiet
echo "devnet: building govnode (cargo build)" >&2
cargo build --quiet
# shellcheck source=lib/tools-env.sh
source scripts/lib/tools-env.sh
exec target/debug/govnode devnet "$@"
