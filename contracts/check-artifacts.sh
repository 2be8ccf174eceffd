#!/usr/bin/env bash
# Fails when contracts/artifacts/ does not match a fresh build of contracts/src/.
# Fix with contracts/build.sh and commit the result.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
committed="$HERE/artifacts"
fresh="$(mktemp -d)"
trap 'rm -rf "$fresh"' EXIT

"$HERE/build.sh" --out "$fresh" >/dev/null

stale=0
for f in "$fresh"/*; do
    name="$(basename "$f")"
    if [ ! -f "$committed/$name" ]; then
        echo "check-artifacts: missing contracts/artifacts/$name (run contracts/build.sh)" >&2
        stale=1
    elif ! cmp -s "$f" "$committed/$name"; then
        echo "check-artifacts: stale contracts/artifacts/$name (run contracts/build.sh)" >&2
        diff -u "$committed/$name" "$f" | head -20 >&2 || true
        stale=1
    fi
done
for f in "$committed"/*; do
    [ -e "$f" ] || continue
    name="$(basename "$f")"
    if [ ! -e "$fresh/$name" ]; then
        echo "check-artifacts: contracts/artifacts/$name has no source any more" >&2
        stale=1
    fi
done
[ "$stale" = 0 ] && echo "check-artifacts: contracts/artifacts is up to date"
exit "$stale"
