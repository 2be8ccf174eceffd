# shellcheck shell=bash
# Source this to get absolute paths of the pinned test-chain tools:
#   GOVNODE_ANVIL, GOVNODE_CAST, GOVNODE_SOLCJS (solc-js's CLI, run with node),
#   GOVNODE_TOOLS_NODE_MODULES (include path for OpenZeppelin imports).
# It does not install anything; run scripts/setup-tools.sh first. Values already set
# in the environment win, so a developer can point tests at other binaries.

_govnode_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
_govnode_nm="$_govnode_root/tools/node_modules"

export GOVNODE_ROOT="${GOVNODE_ROOT:-$_govnode_root}"
export GOVNODE_TOOLS_NODE_MODULES="${GOVNODE_TOOLS_NODE_MODULES:-$_govnode_nm}"
export GOVNODE_ANVIL="${GOVNODE_ANVIL:-$_govnode_nm/@foundry-rs/anvil-linux-amd64/bin/anvil}"
export GOVNODE_CAST="${GOVNODE_CAST:-$_govnode_nm/@foundry-rs/cast-linux-amd64/bin/cast}"
export GOVNODE_SOLCJS="${GOVNODE_SOLCJS:-$_govnode_nm/solc/solc.js}"

unset _govnode_root _govnode_nm
