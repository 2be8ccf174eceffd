//! Turns found proposals into rounds: after `debounce` of quiet, one round
//! through the coordinator. A trigger that joins a running round joins one
//! planned before the proposal existed, so one more round follows it.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::round::{Coordinator, Trigger};

pub async fn start_rounds(
    mut found: mpsc::Receiver<u64>,
    rounds: Coordinator,
    debounce: Duration,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            block = found.recv() => if block.is_none() { return },
        }
        // Proposals created together (one batch, one block) share a round.
        loop {
            match tokio::time::timeout(debounce, found.recv()).await {
                Ok(Some(_)) => continue,
                Ok(None) => return,
                Err(_) => break,
            }
        }
        let ticket = match rounds.trigger(Trigger::NewProposal) {
            Ok(ticket) => ticket,
            Err(standby) => {
                // The leader follows the same proposals and votes them.
                tracing::debug!(reason = %standby, "new proposal: no round here");
                continue;
            }
        };
        if ticket.joined {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = ticket.report() => {}
            }
            if let Err(standby) = rounds.trigger(Trigger::NewProposal) {
                tracing::debug!(reason = %standby, "new proposal: no round here");
            }
        }
    }
}
