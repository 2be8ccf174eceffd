//! Active/standby daemons on one PostgreSQL ledger (`ha.enabled`): one
//! daemon per lease group holds a lease row and votes; the others serve the
//! API and metrics from the ledger and take over when the lease runs out.
//! Every ledger write of the leader is fenced by the lease's token
//! (src/ledger/pg/fence.rs), so a leader that was paused past its lease
//! writes and sends nothing when it wakes up.

mod elector;
mod lease;
mod metrics;
mod role;

pub use elector::{ElectedDao, Elector};
pub use lease::{Claim, ClaimTerms, LeaseError, claim, connect as connect_lease, release, want};
pub use metrics::HaMetrics;
pub use role::{Admission, GroupView, Ha, HaView, NotLeader, Role, status_text};
