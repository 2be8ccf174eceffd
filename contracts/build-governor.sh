#!/usr/bin/env bash
# Compiles the OpenZeppelin Governor fixtures (contracts/governor/*.sol) into OUT_DIR
# as GovToken.json and TestGovernor.json. They are built at test time rather than
# committed: they pull in a large part of OpenZeppelin, pinned by tools/package-lock.json.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"

if [ $# -ne 1 ] || [ "${1#-}" != "$1" ]; then
    echo "usage: contracts/build-governor.sh OUT_DIR" >&2
    exit 2
fi
out="$1"

"$ROOT/scripts/setup-tools.sh" --quiet
mkdir -p "$out"
node "$HERE/compile.js" --out "$out" "$HERE"/governor/*.sol
