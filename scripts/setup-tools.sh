#!/usr/bin/env bash
# Installs the pinned test-chain tooling (anvil, cast, solc-js, OpenZeppelin) into
# tools/node_modules, and optionally Debian packages that tests need.
#
# Usage:
#   scripts/setup-tools.sh                 # npm tooling only
#   scripts/setup-tools.sh --apt PKG...    # also install PKGs whose command is missing
#   scripts/setup-tools.sh --localstack    # also LocalStack's KMS (pinned) in tools/localstack
#   scripts/setup-tools.sh --quiet         # print nothing on success
#
# A second run is a no-op: npm runs only when node_modules is missing or older than
# the lock file, apt only when a package's command is not on PATH. CI starts from a
# fresh machine, so everything a test needs must be reachable from here.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/tools"
NM="$TOOLS/node_modules"
LOCK="$TOOLS/package-lock.json"

quiet=0
localstack=0
apt_pkgs=()
while [ $# -gt 0 ]; do
    case "$1" in
        --apt)
            shift
            while [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; do
                apt_pkgs+=("$1")
                shift
            done
            ;;
        --localstack) localstack=1; shift ;;
        --quiet|-q) quiet=1; shift ;;
        -h|--help)
            sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *) echo "setup-tools: unknown argument: $1" >&2; exit 2 ;;
    esac
done

say() { [ "$quiet" = 1 ] || echo "$@"; }
die() { echo "setup-tools: $*" >&2; exit 1; }

# The command a Debian package provides, where it differs from the package name.
apt_command_for() {
    case "$1" in
        nix-bin) echo nix-instantiate ;;
        systemd-container) echo systemd-nspawn ;;
        prometheus) echo promtool ;;
        softhsm2) echo softhsm2-util ;;
        poppler-utils) echo pdftoppm ;;
        imagemagick) echo convert ;;
        *) echo "$1" ;;
    esac
}

if [ "${#apt_pkgs[@]}" -gt 0 ]; then
    missing=()
    for pkg in "${apt_pkgs[@]}"; do
        cmd="$(apt_command_for "$pkg")"
        # imagemagick's `convert` may be a stand-in here; trust dpkg for it instead.
        if [ "$pkg" = imagemagick ]; then
            dpkg-query -W -f='${Status}' imagemagick 2>/dev/null | grep -q 'install ok installed' \
                || missing+=("$pkg")
        # Debian keeps PostgreSQL's server commands off PATH, under a versioned directory.
        elif [ "$pkg" = postgresql ]; then
            compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=("$pkg")
        elif ! command -v "$cmd" >/dev/null 2>&1; then
            missing+=("$pkg")
        fi
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install by hand: ${missing[*]}"
        sudo=()
        [ "$(id -u)" = 0 ] || sudo=(sudo)
        say "setup-tools: apt-get install ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        # Other jobs on the machine may hold dpkg's lock for a while; wait instead of failing.
        lock=(-o DPkg::Lock::Timeout=300)
        "${sudo[@]}" apt-get "${lock[@]}" update -qq >&2
        "${sudo[@]}" apt-get "${lock[@]}" install -y -qq "${missing[@]}" >&2 \
            || die "apt-get install ${missing[*]} failed"
    fi
fi

command -v npm >/dev/null 2>&1 || die "npm not found (needed for anvil, cast and solc-js)"

# node_modules/.package-lock.json is rewritten by every successful install, so its
# mtime says when node_modules last matched a lock file.
stamp="$NM/.package-lock.json"
needs_install() { [ ! -f "$stamp" ] || [ "$LOCK" -nt "$stamp" ]; }
if needs_install; then
    # Test scripts call this in parallel on a fresh machine; one npm ci at a time,
    # and whoever waited finds the work done.
    lockfile="${TMPDIR:-/tmp}/govnode-setup-tools-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1).lock"
    exec 9>"$lockfile"
    flock 9
    if needs_install; then
        say "setup-tools: npm ci in $TOOLS"
        (cd "$TOOLS" && npm ci --no-audit --no-fund --loglevel=error >&2) \
            || die "npm ci failed in $TOOLS"
        touch "$stamp"
    fi
    exec 9>&-
fi

ANVIL="$NM/@foundry-rs/anvil-linux-amd64/bin/anvil"
CAST="$NM/@foundry-rs/cast-linux-amd64/bin/cast"
SOLCJS="$NM/solc/solc.js"

for bin in "$ANVIL" "$CAST"; do
    [ -f "$bin" ] || die "missing $bin (is this linux-amd64?)"
    # Some npm versions unpack platform binaries without the exec bit.
    [ -x "$bin" ] || chmod +x "$bin"
    "$bin" --version >/dev/null 2>&1 || die "$bin does not run"
done
[ -f "$SOLCJS" ] || die "missing $SOLCJS"
[ -x "$SOLCJS" ] || chmod +x "$SOLCJS"

# LocalStack (PyPI) in its own virtualenv, so its pins never touch the host's
# Python; rebuilt when the requirements change, a no-op otherwise.
if [ "$localstack" = 1 ]; then
    LS="$TOOLS/localstack"
    REQ="$ROOT/tests/aws_kms/requirements.txt"
    if [ ! -f "$LS/.installed" ] || [ "$REQ" -nt "$LS/.installed" ]; then
        say "setup-tools: LocalStack into $LS (pinned in $REQ)"
        rm -rf "$LS"
        python3 -m venv "$LS" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
        "$LS/bin/pip" install -q --disable-pip-version-check -r "$REQ" >&2 \
            || die "pip install of LocalStack failed"
        touch "$LS/.installed"
    fi
    "$LS/bin/python" -c 'import localstack.runtime.main' 2>/dev/null || die "LocalStack in $LS does not import"
    say "localstack: $LS/bin/python -m localstack.runtime.main"
fi

say "anvil:  $ANVIL"
say "cast:   $CAST"
say "solcjs: $SOLCJS"
