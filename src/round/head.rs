//! The round's first read: the chain head. A round that starts in an
//! outage (every endpoint failing, whether or not its breaker has opened
//! yet) waits for an endpoint to answer, until the round's deadline, rather
//! than failing in the first quarter second and leaving its votes to the
//! next timer tick.

use std::time::{Duration, Instant};

use crate::dao::Head;

use super::context::Voting;
use super::plan::PlanError;

/// First pause between head reads; doubles up to `MAX_PAUSE`.
const FIRST_PAUSE: Duration = Duration::from_millis(250);
/// The longest pause: well under the default probe interval (5 s), so a
/// round resumes within about a second of an endpoint's return.
const MAX_PAUSE: Duration = Duration::from_secs(1);

/// The head, read again after each failure until `deadline`. Every failure
/// is logged; the last is the round's error.
pub async fn first_head(
    v: &Voting,
    deadline: Instant,
    on_wait: &(dyn Fn() + Send + Sync),
) -> Result<Head, PlanError> {
    let mut pause = FIRST_PAUSE;
    let mut failures = 0u32;
    loop {
        match crate::dao::head(&v.provider).await {
            Ok(head) => {
                if failures > 0 {
                    tracing::info!(failures, "an RPC endpoint answers again: the round goes on");
                }
                return Ok(head);
            }
            Err(e) => {
                failures += 1;
                if Instant::now() + pause >= deadline {
                    return Err(PlanError(format!(
                        "{e} (no endpoint answered in {failures} tries until the round's deadline)"
                    )));
                }
                tracing::warn!(failures, error = %e, retry_in_ms = pause.as_millis() as u64, "cannot read the chain head: the round waits for an RPC endpoint");
                on_wait();
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_PAUSE);
            }
        }
    }
}
