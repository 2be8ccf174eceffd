//! Checks of what the configuration points at, done the way `run` uses it,
//! so that `check-config` passing means `run` does not refuse the same file:
//! the ledger must be a file (or creatable), the control socket's directory
//! must exist (or be the ledger's, which `run` creates first), and no two nodes may hold the same key.

use std::collections::BTreeMap;
use std::path::Path;

use super::issues::{Issues, field, index};
use super::load::NodeKey;
use super::schema::Config;

/// The ledger and control-socket paths.
pub fn check(config: &Config, ledger: &Path, socket: &Path, issues: &mut Issues) {
    let ledger_at = if config.ledger.path.is_some() {
        "ledger.path".to_owned()
    } else {
        format!("ledger.path (default {})", ledger.display())
    };
    if let Some(problem) = ledger_problem(ledger) {
        issues.push(ledger_at, problem);
    }
    // The default socket lives in systemd's RuntimeDirectory, which exists
    // only while the unit runs; an explicit one must have its directory.
    if config.control.socket.is_some()
        && let Some(problem) = socket_problem(socket, ledger.parent())
    {
        issues.push(field("control", "socket"), problem);
    }
}

fn ledger_problem(ledger: &Path) -> Option<String> {
    match std::fs::metadata(ledger) {
        Ok(m) if m.is_dir() => {
            return Some(format!(
                "{} is a directory; name the ledger file, e.g. {}",
                ledger.display(),
                ledger.join("ledger.sqlite").display()
            ));
        }
        Ok(m) if !m.is_file() => {
            return Some(format!("{} is not a regular file", ledger.display()));
        }
        Ok(m) if m.len() == 0 => {
            return Some(format!(
                "{} is empty (0 bytes), which is not a govnode ledger; remove it to start a fresh ledger, restore a backup, or run `govnode ledger init`",
                ledger.display()
            ));
        }
        Ok(_) => return None,
        Err(_) => {}
    }
    // `run` creates missing directories: the nearest existing ancestor must be one.
    let mut dir = ledger.parent();
    while let Some(d) = dir.filter(|d| !d.as_os_str().is_empty()) {
        match std::fs::metadata(d) {
            Ok(m) if m.is_dir() => return None,
            Ok(_) => {
                return Some(format!(
                    "{} cannot be created: {} is not a directory",
                    ledger.display(),
                    d.display()
                ));
            }
            Err(_) => dir = d.parent(),
        }
    }
    None
}

/// `ledger_dir` is created by `run` before the socket is bound, so a socket
/// next to the ledger may live in a directory that does not exist yet.
fn socket_problem(socket: &Path, ledger_dir: Option<&Path>) -> Option<String> {
    if std::fs::metadata(socket).is_ok_and(|m| m.is_dir()) {
        return Some(format!(
            "{} is a directory; name the socket file in it",
            socket.display()
        ));
    }
    let parent = socket.parent().filter(|p| !p.as_os_str().is_empty())?;
    if ledger_dir == Some(parent) {
        return None;
    }
    match std::fs::metadata(parent) {
        Ok(m) if m.is_dir() => None,
        Ok(_) => Some(format!("{} is not a directory", parent.display())),
        Err(_) => Some(format!(
            "the directory {} does not exist; create it (or leave control.socket unset to use the runtime directory)",
            parent.display()
        )),
    }
}

/// Two nodes with one key would be one voter counted twice: the second
/// vote of the same address is refused by the DAO or replaces the first.
pub fn check_distinct_keys(config: &Config, keys: &[NodeKey], issues: &mut Issues) {
    let mut first: BTreeMap<alloy::primitives::Address, &str> = BTreeMap::new();
    for key in keys {
        let address = key.signer.address();
        let Some(i) = config.nodes.iter().position(|n| n.name == key.name) else {
            continue;
        };
        match first.get(&address) {
            Some(other) => issues.push(
                index("nodes", i),
                format!(
                    "holds the same key (address {address}) as node {other:?}; every node needs its own key"
                ),
            ),
            None => {
                first.insert(address, &key.name);
            }
        }
    }
}
