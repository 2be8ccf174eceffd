//! The chain followed over a WebSocket: new heads for every round's
//! confirmation (an endpoint's `ws_url`, see [`crate::chain::Heads`]) and,
//! with `round.on_new_proposal`, rounds started by the DAO's own
//! `ProposalCreated` logs, in addition to the systemd timer (which stays the
//! safety net).
//!
//! With an endpoint that has a `ws_url`, the follower subscribes to new
//! heads (and the DAO's logs) over that WebSocket. Every (re)subscription is
//! followed by a catch-up read over HTTP of the blocks since the last head it
//! saw, so a drop loses nothing. Without a WebSocket (or while every one is
//! down) it polls `eth_blockNumber` and `eth_getLogs` every
//! `round.new_proposal_poll`. A found proposal starts a round through the
//! coordinator after `round.new_proposal_debounce` of quiet; a round that was
//! already running (and planned before the proposal existed) is followed by
//! one more.

mod follower;
mod metrics;
mod trigger;
pub mod ws;

pub use follower::{Follower, Proposals, WsEndpoint};
pub use metrics::FollowMetrics;
pub use trigger::start_rounds;
