#!/usr/bin/env bash
# Compiles contracts/src/*.sol into contracts/artifacts/<Name>.json (or --out DIR).
# The artifacts are committed so that Rust tests can bind to them without node;
# contracts/check-artifacts.sh proves they match the sources.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
out="$HERE/artifacts"

while [ $# -gt 0 ]; do
    case "$1" in
        --out) out="${2:?--out needs a directory}"; shift 2 ;;
        -h|--help) echo "usage: contracts/build.sh [--out DIR]"; exit 0 ;;
        *) echo "build.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
done

"$ROOT/scripts/setup-tools.sh" --quiet

mkdir -p "$out"
out="$(cd "$out" && pwd)"
# The directory holds generated files only; drop artifacts of removed contracts.
rm -f "$out"/*.json "$out/SOLC_VERSION"

node "$HERE/compile.js" --out "$out" --version-file "$HERE"/src/*.sol
