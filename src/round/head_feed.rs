//! The chain head as a `tokio::sync::watch` channel: the confirmation phase
//! waits on it and reads each new block's receipts as soon as the block is
//! there, instead of polling receipts on a timer.
//!
//! Today the channel is fed by a task polling `eth_blockNumber` (the
//! cheapest call) every [`HEAD_POLL`]. The channel is the hook for other
//! sources: a WebSocket `newHeads` subscription only needs to send each new
//! head number into a `watch::Sender<Option<u64>>` and hand the receiver to
//! [`HeadFeed::from_channel`]; nothing downstream changes.

use std::time::{Duration, Instant};

use alloy::providers::{DynProvider, Provider};
use tokio::sync::watch;
use tokio_util::sync::{CancellationToken, DropGuard};

/// How often the polling source asks for the head: a vote is seen mined at
/// most this long after its block exists.
pub const HEAD_POLL: Duration = Duration::from_millis(100);

/// The latest head number seen (`None` before the first answer).
pub struct HeadFeed {
    rx: watch::Receiver<Option<u64>>,
    /// Stops the polling task when the feed is dropped.
    _stop: Option<DropGuard>,
}

impl HeadFeed {
    /// A feed polling `eth_blockNumber` every `every`, starting at once.
    pub fn poll(provider: DynProvider, every: Duration) -> HeadFeed {
        let (tx, rx) = watch::channel(None);
        let stop = CancellationToken::new();
        let token = stop.clone();
        tokio::spawn(async move {
            loop {
                match provider.get_block_number().await {
                    Ok(n) => {
                        tx.send_if_modified(|seen| {
                            let newer = seen.is_none_or(|s| n > s);
                            if newer {
                                *seen = Some(n);
                            }
                            newer
                        });
                    }
                    Err(e) => tracing::debug!(error = %e, "head poll failed; polling again"),
                }
                tokio::select! {
                    _ = token.cancelled() => return,
                    _ = tokio::time::sleep(every) => {}
                }
            }
        });
        HeadFeed {
            rx,
            _stop: Some(stop.drop_guard()),
        }
    }

    /// A feed over a channel another source fills (see the module docs).
    #[allow(dead_code)] // the hook for a subscription source; used by tests so far
    pub fn from_channel(rx: watch::Receiver<Option<u64>>) -> HeadFeed {
        HeadFeed { rx, _stop: None }
    }

    pub fn latest(&self) -> Option<u64> {
        *self.rx.borrow()
    }

    /// Waits until a head above `seen` arrives or `until` passes; returns
    /// the latest head either way.
    pub async fn newer_than(&mut self, seen: Option<u64>, until: Instant) -> Option<u64> {
        let above = |h: &Option<u64>| match (h, seen) {
            (Some(h), Some(s)) => *h > s,
            (Some(_), None) => true,
            (None, _) => false,
        };
        let _ = tokio::time::timeout_at(until.into(), self.rx.wait_for(above)).await;
        self.latest()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_for_a_newer_head_or_the_time_limit() {
        let (tx, rx) = watch::channel(Some(5));
        let mut feed = HeadFeed::from_channel(rx);
        let soon = Instant::now() + Duration::from_millis(30);
        assert_eq!(feed.newer_than(Some(5), soon).await, Some(5));
        assert!(Instant::now() >= soon);
        let sender = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            tx.send_replace(Some(6));
            tx
        });
        let later = Instant::now() + Duration::from_secs(5);
        assert_eq!(feed.newer_than(Some(5), later).await, Some(6));
        assert!(Instant::now() < later);
        drop(sender.await);
    }
}
