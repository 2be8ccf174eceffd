//! The daemon's one view of new heads from a WebSocket `newHeads`
//! subscription, shared by every round's confirmation. The subscriber (the
//! follower, see `crate::follow`) says when its subscription is open and
//! passes each head it is told of; a round follows these heads while the
//! subscription is open and polls `eth_blockNumber` while it is not (see
//! `crate::round`'s head feed). One subscription serves every round, so a
//! round opens no socket of its own.

use std::sync::Arc;

use tokio::sync::watch;

/// What the subscription knows now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeadState {
    /// The highest head a notification carried (`None` before the first).
    pub latest: Option<u64>,
    /// True while a `newHeads` subscription is open.
    pub live: bool,
}

/// Cheap to clone; every clone publishes into the same state.
#[derive(Clone)]
pub struct Heads {
    state: Arc<watch::Sender<HeadState>>,
}

impl Default for Heads {
    fn default() -> Self {
        Heads {
            state: Arc::new(watch::Sender::new(HeadState::default())),
        }
    }
}

impl Heads {
    /// The state, and every change to it.
    pub fn watch(&self) -> watch::Receiver<HeadState> {
        self.state.subscribe()
    }

    /// A subscription is open: rounds follow its heads.
    pub fn opened(&self) {
        self.state
            .send_if_modified(|s| !std::mem::replace(&mut s.live, true));
    }

    /// The subscription ended: rounds poll until the next one opens.
    pub fn closed(&self) {
        self.state
            .send_if_modified(|s| std::mem::replace(&mut s.live, false));
    }

    /// A head the subscription announced; older ones (a reorg's, or a
    /// second endpoint's lagging view) do not move the head back.
    pub fn announced(&self, number: u64) {
        self.state.send_if_modified(|s| {
            let newer = s.latest.is_none_or(|seen| number > seen);
            if newer {
                s.latest = Some(number);
            }
            newer
        });
    }

    /// How the confirmation follows new heads now, as `/health` shows it.
    pub fn source(&self) -> &'static str {
        if self.state.borrow().live {
            "websocket"
        } else {
            "polling"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_only_move_forward_and_the_source_follows_the_subscription() {
        let heads = Heads::default();
        let seen = heads.watch();
        assert_eq!(heads.source(), "polling");
        heads.opened();
        heads.announced(7);
        heads.announced(5);
        assert_eq!(
            *seen.borrow(),
            HeadState {
                latest: Some(7),
                live: true
            }
        );
        assert_eq!(heads.source(), "websocket");
        heads.closed();
        assert_eq!(heads.source(), "polling");
        assert_eq!(seen.borrow().latest, Some(7));
    }
}
