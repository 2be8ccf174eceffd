//! The per-node lines `govnode devnet` ends a round with, read from the
//! ledger, so the outcome stays on screen below the daemon's log lines.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::ledger::{self, LedgerError};

#[derive(Debug, Default, PartialEq, Eq)]
struct NodeTally {
    confirmed_for: u64,
    confirmed_against: u64,
    confirmed_abstain: u64,
    /// Rows in any other state (pending, deferred, failed, external).
    other: u64,
}

/// One line per node with a vote in the ledger: what is on chain, by side.
/// A node whose key was replaced has rows under two addresses; they add up.
pub fn per_node(ledger_path: &Path) -> Result<String, LedgerError> {
    let conn = ledger::open_read_only(ledger_path)?;
    let mut by_node: BTreeMap<String, NodeTally> = BTreeMap::new();
    for c in ledger::node_vote_counts(&conn)? {
        let t = by_node.entry(c.node).or_default();
        t.confirmed_for += c.confirmed_for;
        t.confirmed_against += c.confirmed_against;
        t.confirmed_abstain += c.confirmed_abstain;
        t.other += c.total - c.confirmed;
    }
    Ok(render(&by_node))
}

fn render(by_node: &BTreeMap<String, NodeTally>) -> String {
    let mut out = String::from("votes on chain, per node:\n");
    for (node, t) in by_node {
        let confirmed = t.confirmed_for + t.confirmed_against + t.confirmed_abstain;
        let _ = write!(
            out,
            "  {node}: {confirmed} confirmed ({} for, {} against",
            t.confirmed_for, t.confirmed_against
        );
        if t.confirmed_abstain > 0 {
            let _ = write!(out, ", {} abstain", t.confirmed_abstain);
        }
        out.push(')');
        if t.other > 0 {
            let _ = write!(out, ", {} not (yet) confirmed", t.other);
        }
        out.push('\n');
    }
    if by_node.is_empty() {
        out.push_str("  none yet\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_name_each_node_with_its_sides() {
        let mut by_node = BTreeMap::new();
        by_node.insert(
            "ai-gov-01".to_owned(),
            NodeTally {
                confirmed_for: 20,
                confirmed_against: 15,
                confirmed_abstain: 0,
                other: 2,
            },
        );
        by_node.insert("ai-gov-02".to_owned(), NodeTally::default());
        assert_eq!(
            render(&by_node),
            "votes on chain, per node:\n  ai-gov-01: 35 confirmed (20 for, 15 against), 2 not (yet) confirmed\n  ai-gov-02: 0 confirmed (0 for, 0 against)\n"
        );
        assert_eq!(
            render(&BTreeMap::new()),
            "votes on chain, per node:\n  none yet\n"
        );
    }
}
