//! The voting round: plan (reconcile, list, decide, record), send, confirm,
//! report — and the coordinator that lets only one round run at a time.

mod block_receipts;
mod broadcast;
mod confirm;
mod context;
mod coordinator;
mod doppelganger;
mod fees;
mod found;
mod head;
mod head_feed;
mod metrics;
mod node_keys;
mod plan;
mod power;
mod progress;
mod report;
mod run;
mod send;
mod wallets;

pub use context::{ContextError, Voter, Voting};
pub use coordinator::{Coordinator, Gate, NotLeader, Progress, Runner, Ticket, Trigger};
pub use doppelganger::{Acknowledged, acknowledge, check_at_start};
pub use metrics::RoundMetrics;
pub use node_keys::{NodeKeys, SignBlock};
pub use report::{Leftover, Outcome, RoundReport, RoundState, VoteCounts};
pub use run::{interrupt_unfinished, run_round, runner};
pub use wallets::{WalletLocks, WalletsHeld};

/// Current UTC time in RFC 3339, for reports and the ledger.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
