//! The status page's voting sections: the open proposals with their
//! deadline and tallies, each node's decision and reason on each, and every
//! node's recent vote history. Built from the same reads as
//! `GET /api/v1/proposals` and the ledger, so page and API cannot disagree.

use std::fmt::Write as _;

use super::html::{Cell, Tone, escape, section, short_time};
use super::state::ApiState;
use super::v1::proposals::{CollectError, ProposalView, ProposalsBody};
use super::v1::{VoteView, format_units, rfc3339_ms};
use crate::dao::Timepoint;

/// More than this many open proposals are summarised with a link to the API:
/// the page is read by people, and a DAO can have hundreds open.
pub const MAX_PROPOSALS: usize = 50;
/// Rows of each node's vote history.
pub const HISTORY_ROWS: u32 = 10;

/// The DAO's paused flag and the proposal sections, or why they are missing.
pub struct VotingSections {
    /// `None` when the chain could not be read.
    pub paused: Option<bool>,
    html: String,
}

impl VotingSections {
    pub fn html(&self) -> &str {
        &self.html
    }
}

/// `tally_decimals`: the voting token's decimals, to show tallies in whole
/// tokens (raw base units when unknown).
pub async fn render(
    state: &ApiState,
    tally_decimals: Option<u8>,
) -> Result<VotingSections, crate::ledger::LedgerError> {
    let mut html = String::with_capacity(8 * 1024);
    let paused = match super::v1::proposals::collect(state).await {
        Ok(body) => {
            proposals(&mut html, &body, tally_decimals);
            Some(body.paused)
        }
        Err(CollectError::Ledger(e)) => return Err(e),
        Err(e @ CollectError::Chain(_)) => {
            let _ = write!(
                html,
                "<section><h2>Open proposals</h2><p class=\"err\">{}</p></section>",
                escape(&e.to_string())
            );
            None
        }
    };
    history(state, &mut html).await?;
    Ok(VotingSections { paused, html })
}

fn proposals(out: &mut String, body: &ProposalsBody, tally_decimals: Option<u8>) {
    let tally = |raw: &str| match (tally_decimals, raw.parse::<alloy::primitives::U256>()) {
        (Some(d), Ok(v)) => Cell::text(format_units(v, d)),
        _ => Cell::text(raw),
    };
    let shown = &body.proposals[..body.proposals.len().min(MAX_PROPOSALS)];
    let rows: Vec<Vec<Cell>> = shown
        .iter()
        .map(|p| {
            vec![
                Cell::text(&p.id),
                Cell::text(p.kind),
                Cell::text(p.status),
                Cell::text(deadline(p.deadline, body)),
                tally(&p.yes_votes),
                tally(&p.no_votes),
                tally(&p.abstain_votes),
                Cell::text(&p.description),
            ]
        })
        .collect();
    section(
        out,
        "Open proposals",
        &[
            "proposal",
            "type",
            "status",
            "deadline",
            "yes",
            "no",
            "abstain",
            "description",
        ],
        &rows,
        "The DAO has no open proposal.",
    );
    if body.proposals.len() > shown.len() {
        let _ = write!(
            out,
            "<p class=\"muted\">{} more open proposals are not shown here; \
             <a href=\"/api/v1/proposals\">/api/v1/proposals</a> lists them all.</p>",
            body.proposals.len() - shown.len()
        );
    }
    let decisions: Vec<Vec<Cell>> = shown.iter().flat_map(decision_rows).collect();
    section(
        out,
        "Decisions",
        &[
            "proposal", "node", "decision", "state", "rule", "reason", "tx",
        ],
        &decisions,
        "No open proposal to decide on.",
    );
}

fn decision_rows(p: &ProposalView) -> Vec<Vec<Cell>> {
    p.nodes
        .iter()
        .map(|n| {
            let problem = n.error.as_deref().map(|e| format!(" ({e})"));
            vec![
                Cell::text(&p.id),
                Cell::text(&n.name),
                match n.decision {
                    Some(d) => decision_badge(d),
                    None => Cell::Badge("not decided".into(), Tone::Plain),
                },
                Cell::opt(n.state),
                Cell::opt(n.rule.as_deref()),
                Cell::text(format!(
                    "{}{}",
                    n.reason.as_deref().unwrap_or("—"),
                    problem.unwrap_or_default()
                )),
                match &n.tx_hash {
                    Some(h) => Cell::Code(h.clone()),
                    None => Cell::opt(None::<&str>),
                },
            ]
        })
        .collect()
}

async fn history(state: &ApiState, out: &mut String) -> Result<(), crate::ledger::LedgerError> {
    let daemon = &state.daemon;
    let voting = daemon.voting();
    out.push_str("<section><h2>Vote history</h2>");
    if voting.voters.is_empty() {
        out.push_str("<p class=\"muted\">No nodes are configured.</p>");
    }
    for voter in voting.voters.iter() {
        let rows = voting
            .ledger
            .votes_by_node(&voter.name, HISTORY_ROWS)
            .await?;
        let _ = write!(
            out,
            "<h3 id=\"history-{}\">{}</h3>",
            escape(&anchor(&voter.name)),
            escape(&voter.name)
        );
        let cells: Vec<Vec<Cell>> = rows
            .iter()
            .map(|r| {
                let v = VoteView::new(daemon, r);
                vec![
                    Cell::text(&v.proposal_id),
                    Cell::opt(v.round_id),
                    decision_badge(v.decision),
                    Cell::text(v.state),
                    Cell::text(&v.reason),
                    match &v.tx_hash {
                        Some(h) => Cell::Code(h.clone()),
                        None => Cell::opt(None::<&str>),
                    },
                    Cell::opt(
                        v.finished_at
                            .as_deref()
                            .or(v.created_at.as_deref())
                            .map(short_time),
                    ),
                    match &v.error {
                        Some(e) => Cell::Problem(e.clone()),
                        None => Cell::text(""),
                    },
                ]
            })
            .collect();
        table_only(
            out,
            &[
                "proposal", "round", "decision", "state", "reason", "tx", "when", "problem",
            ],
            &cells,
            "No vote recorded yet.",
        );
    }
    out.push_str("</section>");
    Ok(())
}

/// A table without its own heading (the node's `<h3>` is the heading).
fn table_only(out: &mut String, headers: &[&str], rows: &[Vec<Cell>], empty: &str) {
    let mut inner = String::new();
    section(&mut inner, "", headers, rows, empty);
    // `section` wraps in `<section><h2></h2>…</section>`; keep the middle.
    let body = inner
        .strip_prefix("<section><h2></h2>")
        .and_then(|s| s.strip_suffix("</section>"))
        .unwrap_or(&inner);
    out.push_str(body);
}

/// The fragment id of a node's history: node names are free text.
pub fn anchor(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

fn decision_badge(d: &str) -> Cell {
    let tone = match d {
        "for" => Tone::Good,
        "against" => Tone::Bad,
        "skip" => Tone::Warn,
        _ => Tone::Plain,
    };
    Cell::Badge(d.to_owned(), tone)
}

/// `2026-01-02 03:04:05 UTC (in 2h 5m)` for a time, `block 812 (in 40
/// blocks)` for a block; relative to the block the listing was read at.
fn deadline(t: Timepoint, body: &ProposalsBody) -> String {
    match t {
        Timepoint::Timestamp(ts) => {
            let at = i64::try_from(ts)
                .ok()
                .and_then(|s| s.checked_mul(1000))
                .and_then(rfc3339_ms)
                .map(|s| short_time(&s))
                .unwrap_or_else(|| ts.to_string());
            let left = ts.saturating_sub(body.block_timestamp);
            if left == 0 {
                format!("{at} (passed)")
            } else {
                let left = humantime::format_duration(std::time::Duration::from_secs(left));
                format!("{at} (in {left})")
            }
        }
        Timepoint::Block(b) => match b.checked_sub(body.block) {
            Some(0) | None => format!("block {b} (passed)"),
            Some(n) => format!("block {b} (in {n} blocks)"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(block: u64, ts: u64) -> ProposalsBody {
        ProposalsBody {
            block,
            block_timestamp: ts,
            paused: false,
            total_proposals: 0,
            open: 0,
            age_seconds: 0,
            proposals: vec![],
        }
    }

    #[test]
    fn deadlines_read_relative_to_the_head() {
        let b = body(100, 1_700_000_000);
        assert_eq!(
            deadline(Timepoint::Timestamp(1_700_003_600), &b),
            "2023-11-14 23:13:20 UTC (in 1h)"
        );
        assert_eq!(
            deadline(Timepoint::Timestamp(1_699_999_000), &b),
            "2023-11-14 21:56:40 UTC (passed)"
        );
        assert_eq!(
            deadline(Timepoint::Block(140), &b),
            "block 140 (in 40 blocks)"
        );
        assert_eq!(deadline(Timepoint::Block(90), &b), "block 90 (passed)");
    }

    #[test]
    fn anchors_are_plain() {
        assert_eq!(anchor("node <1>"), "node--1-");
        assert_eq!(anchor("alice"), "alice");
    }

    #[test]
    fn empty_listing_says_so() {
        let mut out = String::new();
        proposals(&mut out, &body(1, 1), Some(18));
        assert!(out.contains("The DAO has no open proposal."));
    }
}
