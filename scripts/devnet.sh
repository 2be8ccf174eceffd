#!/usr/bin/env bash
# The newcomer's demo: builds govnode, installs the local chain tooling, and runs
# `govnode devnet` — a local anvil chain with DLoop's AssetDAO, five voting nodes
# and a scenario of proposals, then the daemon voting on them. Ctrl-C stops it all.
#
# Usage: scripts/devnet.sh [govnode devnet flags, e.g. --once, --proposals 10]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
scripts/setup-tools.sh --quiet
cargo build --quiet
# shellcheck source=lib/tools-env.sh
source scripts/lib/tools-env.sh
exec target/debug/govnode devnet "$@"
