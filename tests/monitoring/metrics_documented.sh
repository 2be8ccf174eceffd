#!/usr/bin/env bash
# Checks docs/metrics.md against what a live daemon serves at /metrics: every
# family served is documented with its type and labels, every documented family
# is served (except those documented as appearing on a `first event`), and each
# has its own section.
#
# Usage:
#   tests/monitoring/metrics_documented.sh [GOVNODE]        # starts anvil, a devnet and the daemon,
#                                                           # runs two rounds, scrapes (default
#                                                           # GOVNODE: target/debug/govnode)
#   tests/monitoring/metrics_documented.sh --scrape FILE    # checks a scrape taken already
#
# Prints PASS/FAIL lines and `metrics-documented: N passed, N failed`; exits 1 on a failure.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DOC="$ROOT/docs/metrics.md"

scrape=""
bin="$ROOT/target/debug/govnode"
while [ $# -gt 0 ]; do
    case "$1" in
        --scrape) scrape="$2"; shift 2 ;;
        -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) bin="$1"; shift ;;
    esac
done

passed=0
failed=0
pass() { echo "PASS $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }

if [ -z "$scrape" ]; then
    # shellcheck source=lib/live.sh
    source "$ROOT/tests/monitoring/lib/live.sh"
    work="$(mktemp -d)"
    trap 'live_stop; rm -rf "$work"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    live_start "$bin" "$work"
    live_rounds
    scrape="$work/metrics.txt"
    live_scrape "$scrape"
fi
[ -s "$scrape" ] || { fail "scrape $scrape is empty"; exit 1; }

# Documented families from the table: `name type label,label appears`.
doc_families() {
    awk -F'|' "$AWK_SORTED"'
        /^\| `(govnode|process)_[a-z0-9_]+` \|/ {
            name = $2; gsub(/[ `]/, "", name)
            typ = $3; gsub(/ /, "", typ)
            ls = $4; gsub(/[ `]/, "", ls); if (ls == "—" || ls == "") ls = "-"
            appears = $6; gsub(/^ +| +$/, "", appears); gsub(/ /, "_", appears)
            print name, typ, sorted(ls), appears
        }
    ' "$DOC"
}

# awk: a comma list sorted, "-" when empty (mawk has no sort function).
AWK_SORTED='
function sorted(list,    n, a, i, j, t, out) {
    n = split(list, a, ",")
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j > 0 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    out = ""
    for (i = 1; i <= n; i++) if (a[i] != "" && a[i] != "-") out = out (out == "" ? "" : ",") a[i]
    return out == "" ? "-" : out
}'

# Live families as `name type label,label samples|empty` (`le` and `quantile`
# belong to the type, not to the family).
mapfile -t live_lines < <(
    awk "$AWK_SORTED"'
        /^# TYPE / { type[$3] = $4; order[++n] = $3; next }
        /^#/ || NF == 0 { next }
        {
            name = $0; sub(/[{ ].*/, "", name)
            fam = name
            if (!(fam in type)) { base = fam; sub(/_(bucket|sum|count)$/, "", base); if (base in type) fam = base }
            if (!(fam in type)) { type[fam] = "untyped"; order[++n] = fam }
            seen[fam] = 1
            if (index($0, "{") > 0) {
                body = $0; sub(/^[^{]*\{/, "", body)
                while (match(body, /^[a-zA-Z_][a-zA-Z0-9_]*="/)) {
                    key = substr(body, 1, RLENGTH - 2)
                    if (key != "le" && key != "quantile") labels[fam, key] = 1
                    body = substr(body, RLENGTH + 1)
                    if (!match(body, /^([^"\\]|\\.)*"/)) break
                    body = substr(body, RLENGTH + 1)
                    sub(/^,/, "", body)
                }
            }
        }
        END {
            for (i = 1; i <= n; i++) {
                f = order[i]; ls = ""
                for (k in labels) { split(k, p, SUBSEP); if (p[1] == f) ls = ls (ls == "" ? "" : ",") p[2] }
                printf "%s %s %s %s\n", f, type[f], sorted(ls), (f in seen ? "samples" : "empty")
            }
        }
    ' "$scrape"
)
mapfile -t doc_lines < <(doc_families)

[ "${#doc_lines[@]}" -gt 0 ] || { fail "no metric table found in docs/metrics.md"; exit 1; }
[ "${#live_lines[@]}" -gt 0 ] || { fail "no metric family in the scrape"; exit 1; }

declare -A live_type live_labels live_has doc_type doc_labels doc_appears
for l in "${live_lines[@]}"; do
    read -r f t ls has <<<"$l"
    live_type[$f]="$t"; live_labels[$f]="$ls"; live_has[$f]="$has"
done
for l in "${doc_lines[@]}"; do
    read -r f t ls appears <<<"$l"
    doc_type[$f]="$t"; doc_labels[$f]="$ls"; doc_appears[$f]="$appears"
done

for f in $(printf '%s\n' "${!live_type[@]}" | sort); do
    if [ -z "${doc_type[$f]:-}" ]; then
        fail "$f (${live_type[$f]}, labels ${live_labels[$f]}) is served but not in docs/metrics.md"
        continue
    fi
    problems=()
    [ "${live_type[$f]}" = "${doc_type[$f]}" ] \
        || problems+=("type: served ${live_type[$f]}, documented ${doc_type[$f]}")
    # A vector family with no series yet shows no labels: nothing to compare.
    if [ "${live_has[$f]}" = samples ] && [ "${live_labels[$f]}" != "${doc_labels[$f]}" ]; then
        problems+=("labels: served ${live_labels[$f]}, documented ${doc_labels[$f]}")
    fi
    if [ "${#problems[@]}" -eq 0 ]; then
        pass "$f documented (${doc_type[$f]}, labels ${doc_labels[$f]})"
    else
        fail "$f: ${problems[*]}"
    fi
done

for f in $(printf '%s\n' "${!doc_type[@]}" | sort); do
    if [ -z "${live_type[$f]:-}" ] || [ "${live_has[$f]}" != samples ]; then
        if [ "${doc_appears[$f]}" = first_event ]; then
            echo "note: $f is absent, as documented (appears on its first event)"
        else
            fail "$f is documented (appears: ${doc_appears[$f]//_/ }) but not served"
        fi
    fi
    case "${doc_appears[$f]}" in
        start|first_round|first_event) ;;
        *) fail "$f: unknown 'appears' value '${doc_appears[$f]}' in docs/metrics.md" ;;
    esac
    grep -q "^### \`$f\`\$" "$DOC" || fail "$f has no '### \`$f\`' section in docs/metrics.md"
done

echo "metrics-documented: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
