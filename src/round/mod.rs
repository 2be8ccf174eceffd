//! The voting round: plan, decide, send, confirm, report — and the
//! coordinator that lets only one round run at a time.

mod coordinator;
mod report;

pub use coordinator::{Coordinator, Progress, Runner, Ticket, Trigger};
pub use report::{Leftover, Outcome, RoundReport, RoundState, VoteCounts};

/// Current UTC time in RFC 3339, for reports and the ledger.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
