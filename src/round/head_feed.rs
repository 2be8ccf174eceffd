//! The chain head as a `tokio::sync::watch` channel: the confirmation phase
//! waits on it and reads each new block's receipts as soon as the block is
//! there, instead of polling receipts on a timer.
//!
//! While the daemon's `newHeads` subscription is open ([`Heads`]), the feed
//! passes on the heads it announces and asks nothing; it reads
//! `eth_blockNumber` once when it starts and once each time a subscription
//! (re)opens, since a head mined before that was announced to nobody.
//! While no subscription is open (no endpoint has a `ws_url`, or the socket
//! dropped) it polls `eth_blockNumber` (the cheapest call) every
//! [`HEAD_POLL`]; a drop wakes it at once, so a round never waits on a dead
//! socket longer than the subscriber takes to see the drop.

use std::time::{Duration, Instant};

use alloy::providers::{DynProvider, Provider};
use tokio::sync::watch;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::chain::{HeadState, Heads};

/// How often the polling source asks for the head: a vote is seen mined at
/// most this long after its block exists.
pub const HEAD_POLL: Duration = Duration::from_millis(100);

/// The latest head number seen (`None` before the first answer).
pub struct HeadFeed {
    rx: watch::Receiver<Option<u64>>,
    /// The subscription's state, where the feed follows one.
    subscription: Option<watch::Receiver<HeadState>>,
    /// Stops the feeding task when the feed is dropped.
    _stop: Option<DropGuard>,
}

impl HeadFeed {
    /// A feed following `heads` while its subscription is open and polling
    /// `eth_blockNumber` every `every` while it is not.
    pub fn follow(provider: DynProvider, heads: &Heads, every: Duration) -> HeadFeed {
        let (tx, rx) = watch::channel(None);
        let stop = CancellationToken::new();
        let token = stop.clone();
        let mut shared = heads.watch();
        let subscription = shared.clone();
        tokio::spawn(async move {
            // Whether the open subscription's stretch began with a read.
            let mut looked = false;
            loop {
                let state = *shared.borrow_and_update();
                if let Some(n) = state.latest.filter(|_| state.live) {
                    raise(&tx, n);
                }
                if !state.live || !looked {
                    match provider.get_block_number().await {
                        Ok(n) => raise(&tx, n),
                        Err(e) => tracing::debug!(error = %e, "head read failed; reading again"),
                    }
                }
                looked = state.live;
                // While subscribed, only the subscription says more.
                tokio::select! {
                    _ = token.cancelled() => return,
                    _ = changed(&mut shared) => {}
                    _ = tokio::time::sleep(every), if !state.live => {}
                }
            }
        });
        HeadFeed {
            rx,
            subscription: Some(subscription),
            _stop: Some(stop.drop_guard()),
        }
    }

    /// True while the heads come from an open subscription: no need to ask
    /// the endpoint whether a newer block is there.
    pub fn subscribed(&self) -> bool {
        self.subscription.as_ref().is_some_and(|s| s.borrow().live)
    }

    /// A feed over a channel a test fills.
    #[cfg(test)]
    pub fn from_channel(rx: watch::Receiver<Option<u64>>) -> HeadFeed {
        HeadFeed {
            rx,
            subscription: None,
            _stop: None,
        }
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

/// Passes `n` on if it is above what the feed has seen.
fn raise(tx: &watch::Sender<Option<u64>>, n: u64) {
    tx.send_if_modified(|seen| {
        let newer = seen.is_none_or(|s| n > s);
        if newer {
            *seen = Some(n);
        }
        newer
    });
}

/// The next change of the subscription's state; never, once no subscriber
/// is left (the feed polls on).
async fn changed(state: &mut watch::Receiver<HeadState>) {
    if state.changed().await.is_err() {
        std::future::pending::<()>().await;
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
