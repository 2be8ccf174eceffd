//! Operator notifications sent to chat services and generic HTTP receivers.
//!
//! A round hands events to a per-target queue and never waits on delivery:
//! `event` names what happened, `hub` fans it out to the configured targets,
//! `payload` renders it for each receiver kind, `queue` holds what is not yet
//! delivered, `target` drains a queue within its rate limit and `deliver`
//! posts with retries.

pub mod deliver;
pub mod event;
pub mod hub;
pub mod metrics;
pub mod payload;
pub mod queue;
pub mod target;

pub use event::{Event, EventKind};
pub use hub::{Hub, HubError};
pub use payload::{TargetKind, render};
pub use queue::DropOldestQueue;
pub use target::{Target, TargetSpec};
