#!/usr/bin/env bash
# Builds govnode in release and runs its benchmarks on a real anvil, printing
# Markdown tables (see docs/benchmarks.md for what each figure means).
#
#   scripts/bench.sh            everything (under 10 minutes after the build)
#   scripts/bench.sh --quick    a subset (under 2 minutes after the build)
#
# Further arguments go to the benchmark itself:
#   --only headline,blocktime,targets,ready,scaling,ledger,faults,many,soak   run only these sections
#   --soak-rounds N                                rounds in the soak
#   --grid PxN[,PxN]                               scaling points (proposals x nodes)
# GOVNODE_BENCH_KEEP=1 keeps every bench directory (config, ledger, daemon.log)
# under target/bench (or GOVNODE_BENCH_DIR).
#
# The output is also written to target/bench/last-run.txt.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup-tools.sh --quiet
# shellcheck source=scripts/lib/tools-env.sh
source scripts/lib/tools-env.sh

# The bench profile is the release profile: the daemon under test is the
# binary a package would ship.
cargo bench --bench round --no-run

mkdir -p target/bench
started=$(date +%s)
cargo bench --bench round -- "$@" | tee target/bench/last-run.txt
echo "scripts/bench.sh: benchmarks took $(($(date +%s) - started)) s (after the build)" |
  tee -a target/bench/last-run.txt
