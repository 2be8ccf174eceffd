//! The plain-text table `govnode plan` prints: one line per (proposal,
//! node), columns padded to their widest cell, the free-text reason last so
//! that it may run on.

use super::{Action, Preview};

pub fn render(p: &Preview) -> String {
    let mut rows: Vec<Vec<String>> = vec![
        ["PROPOSAL", "NODE", "ACTION", "DECISION", "RULE", "REASON"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
    ];
    for v in &p.votes {
        let mut reason = v.reason.clone();
        if let Some(state) = &v.ledger_state {
            reason = format!("[{state}] {reason}");
        }
        if let Some(gas) = v.gas {
            reason = format!("{reason} (gas {gas})");
        }
        if let Some(note) = &v.note {
            reason = format!("{reason} — {note}");
        }
        rows.push(vec![
            v.proposal_id.clone(),
            v.node.clone(),
            v.action.as_str().to_owned(),
            v.decision.clone(),
            v.rule.clone().unwrap_or_else(|| "-".into()),
            reason,
        ]);
    }
    let columns = rows[0].len();
    let widths: Vec<usize> = (0..columns - 1)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c + 1 == columns {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}  ", w = widths[c]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if p.votes.is_empty() {
        out.push_str("(no open proposal, or no node)\n");
    }
    out.push_str(&p.summary());
    out.push('\n');
    if p.count(Action::Vote) > 0 && p.daemon_dry_run {
        out.push_str("note: round.dry_run is on, so the daemon's rounds send nothing either\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::PlannedVote;
    use super::*;

    #[test]
    fn pads_columns_and_keeps_the_reason_whole() {
        let vote = |id: &str, node: &str, action, reason: &str| PlannedVote {
            proposal_id: id.into(),
            node: node.into(),
            address: "0x0".into(),
            action,
            decision: "for".into(),
            rule: Some("r".into()),
            reason: reason.into(),
            strategy: "s".into(),
            ledger_state: None,
            gas: Some(51_000),
            note: None,
        };
        let p = Preview {
            block: 7,
            block_timestamp: 0,
            paused: false,
            daemon_dry_run: false,
            simulated: true,
            proposals_open: 2,
            votes: vec![
                vote("1", "alpha", Action::Vote, "a long reason, with commas"),
                vote("12", "b", Action::Refused, "x"),
            ],
        };
        let text = render(&p);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "PROPOSAL  NODE   ACTION   DECISION  RULE  REASON");
        assert_eq!(
            lines[1],
            "1         alpha  vote     for       r     a long reason, with commas (gas 51000)"
        );
        assert_eq!(
            lines[3],
            "block 7: 2 open proposal(s), 1 to vote, 1 refused; simulated, nothing sent or recorded"
        );
    }
}
