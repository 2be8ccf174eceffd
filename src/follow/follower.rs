//! Follows new heads over a WebSocket subscription where an endpoint has
//! one (for every round's confirmation, see [`Heads`]) and, with
//! `round.on_new_proposal`, finds the DAO's new proposals: over the same
//! socket, by log polls without one, and by a catch-up read after every
//! (re)subscription.

use std::collections::HashSet;
use std::time::Duration;

use alloy::primitives::{Address, B256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::{Filter, Log};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::metrics::FollowMetrics;
use super::ws::{Connection, WsError};
use crate::chain::Heads;
use crate::config::Secret;
use crate::dao::{DaoError, scan_logs};

/// The seen-set is cleared past this size; a log seen again after that
/// costs one quiet round, nothing more.
const SEEN_LIMIT: usize = 4096;

/// How a proposal was found (`govnode_new_proposals_total`'s `source`).
const SOURCES: [&str; 3] = ["subscription", "catch_up", "poll"];

/// An endpoint's WebSocket URL, by the endpoint's name.
#[derive(Clone)]
pub struct WsEndpoint {
    pub name: String,
    pub url: Secret,
}

/// The DAO's `ProposalCreated` logs, followed with `round.on_new_proposal`.
pub struct Proposals {
    pub dao: Address,
    /// Topic 0 of the DAO's `ProposalCreated`.
    pub topic: B256,
    /// Each new proposal's block goes here.
    pub found: mpsc::Sender<u64>,
}

pub struct Follower {
    /// `None`: only new heads are followed.
    pub proposals: Option<Proposals>,
    /// Where the subscription's heads go, for the rounds.
    pub heads: Heads,
    /// The HTTP pool: catch-up reads and polls go through its breakers.
    pub provider: DynProvider,
    /// In priority order.
    pub endpoints: Vec<WsEndpoint>,
    pub poll: Duration,
    /// Connect, subscribe and ping timeout.
    pub timeout: Duration,
    pub metrics: FollowMetrics,
}

/// How far the chain has been read, and which logs were already reported.
#[derive(Default)]
struct Cursor {
    /// Every block up to this one has been read (or followed live).
    read_to: Option<u64>,
    seen: HashSet<(B256, u64)>,
}

impl Cursor {
    /// True the first time a (transaction, log index) is offered.
    fn first_sight(&mut self, log: &Log) -> bool {
        if log.removed {
            return false;
        }
        let key = (
            log.transaction_hash.unwrap_or_default(),
            log.log_index.unwrap_or_default(),
        );
        if self.seen.len() >= SEEN_LIMIT {
            self.seen.clear();
        }
        self.seen.insert(key)
    }
}

impl Follower {
    /// Runs until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut cursor = Cursor::default();
        // Every series exists from start, so dashboards and alerts see zeros.
        if self.proposals.is_some() {
            for source in SOURCES {
                self.metrics.proposals.with_label_values(&[source]);
            }
        }
        for endpoint in &self.endpoints {
            self.metrics
                .subscription_up
                .with_label_values(&[&endpoint.name]);
            self.metrics
                .subscription_drops
                .with_label_values(&[&endpoint.name]);
        }
        tracing::info!(
            websockets = self.endpoints.len(),
            poll = %humantime::format_duration(self.poll),
            proposals = self.proposals.is_some(),
            "following new heads"
        );
        loop {
            for endpoint in &self.endpoints {
                let up = self
                    .metrics
                    .subscription_up
                    .with_label_values(&[&endpoint.name]);
                let followed = self.follow(endpoint, &mut cursor, &shutdown, &up).await;
                up.set(0);
                self.heads.closed();
                match followed {
                    Ok(()) => return,
                    Err(e) => {
                        self.metrics
                            .subscription_drops
                            .with_label_values(&[&endpoint.name])
                            .inc();
                        tracing::warn!(
                            endpoint = %endpoint.name,
                            error = %e,
                            "subscription lost; rounds poll for heads and the blocks missed are read again"
                        );
                    }
                }
            }
            // No subscription now: a poll covers the gap until the next try.
            if let Err(e) = self.read_new(&mut cursor, "poll").await {
                tracing::warn!(error = %e, "cannot poll for new proposals");
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(self.poll) => {}
            }
        }
    }

    /// One subscription, until it drops (an error) or `shutdown` (`Ok`).
    async fn follow(
        &self,
        endpoint: &WsEndpoint,
        cursor: &mut Cursor,
        shutdown: &CancellationToken,
        up: &prometheus::IntGauge,
    ) -> Result<(), FollowError> {
        let mut conn = Connection::open(&endpoint.url, self.timeout).await?;
        let heads = conn.subscribe(json!(["newHeads"])).await?;
        let logs = match &self.proposals {
            Some(p) => Some(
                conn.subscribe(json!(["logs", {"address": p.dao, "topics": [p.topic]}]))
                    .await?,
            ),
            None => None,
        };
        up.set(1);
        self.heads.opened();
        tracing::info!(endpoint = %endpoint.name, proposals = logs.is_some(), "subscribed to new heads");
        // What was mined before the subscription (or while the last one was down).
        self.read_new(cursor, "catch_up").await?;
        loop {
            let note = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                note = conn.next(self.poll) => note?,
            };
            if logs.as_ref() == Some(&note.subscription) {
                match serde_json::from_value::<Log>(note.result) {
                    Ok(log) => self.offer(cursor, &log, "subscription"),
                    Err(e) => tracing::warn!(error = %e, "unreadable log notification ignored"),
                }
            } else if note.subscription == heads
                && let Some(number) = head_number(&note.result)
            {
                self.heads.announced(number);
                // Logs of a block come with it; by its successor's head they are in.
                let complete = number.saturating_sub(1);
                cursor.read_to = Some(cursor.read_to.map_or(complete, |r| r.max(complete)));
            }
        }
    }

    /// Reads `ProposalCreated` logs from the cursor to the head over HTTP.
    /// The first read only places the cursor: proposals that exist when the
    /// daemon starts are the timer's (and `round.on_start`'s). Nothing to
    /// read when only heads are followed.
    async fn read_new(&self, cursor: &mut Cursor, source: &'static str) -> Result<(), FollowError> {
        let Some(proposals) = &self.proposals else {
            return Ok(());
        };
        let head = self
            .provider
            .get_block_number()
            .await
            .map_err(|e| FollowError::Read(format!("eth_blockNumber: {e}")))?;
        let Some(read_to) = cursor.read_to else {
            cursor.read_to = Some(head);
            return Ok(());
        };
        if head <= read_to {
            return Ok(());
        }
        let filter = Filter::new()
            .address(proposals.dao)
            .event_signature(proposals.topic);
        let logs = scan_logs(&self.provider, proposals.dao, filter, read_to + 1, head)
            .await
            .map_err(FollowError::Logs)?;
        for log in &logs {
            self.offer(cursor, log, source);
        }
        cursor.read_to = Some(head);
        Ok(())
    }

    fn offer(&self, cursor: &mut Cursor, log: &Log, source: &str) {
        let Some(proposals) = &self.proposals else {
            return;
        };
        if !cursor.first_sight(log) {
            return;
        }
        let block = log.block_number.unwrap_or_default();
        self.metrics.proposals.with_label_values(&[source]).inc();
        tracing::info!(block, source, "new proposal");
        // Full means a round is already due; this proposal is in it.
        let _ = proposals.found.try_send(block);
    }
}

fn head_number(head: &Value) -> Option<u64> {
    let hex = head.get("number")?.as_str()?;
    u64::from_str_radix(hex.trim_start_matches("0x"), 16).ok()
}

#[derive(Debug, thiserror::Error)]
enum FollowError {
    #[error(transparent)]
    Ws(#[from] WsError),
    #[error("{0}")]
    Read(String),
    #[error(transparent)]
    Logs(DaoError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(tx: u8, index: u64, removed: bool) -> Log {
        Log {
            transaction_hash: Some(B256::repeat_byte(tx)),
            log_index: Some(index),
            removed,
            ..Log::default()
        }
    }

    #[test]
    fn a_log_is_reported_once_and_a_removed_one_never() {
        let mut c = Cursor::default();
        assert!(c.first_sight(&log(1, 0, false)));
        assert!(!c.first_sight(&log(1, 0, false)));
        assert!(c.first_sight(&log(1, 1, false)));
        assert!(!c.first_sight(&log(2, 0, true)));
    }

    #[test]
    fn head_numbers_are_read_from_hex() {
        assert_eq!(head_number(&json!({"number": "0x1f"})), Some(31));
        assert_eq!(head_number(&json!({"hash": "0x00"})), None);
    }
}
