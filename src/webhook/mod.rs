//! Operator notifications sent to chat services and generic HTTP receivers.
//!
//! A round hands events to a per-target queue and never waits on delivery:
//! `event` names what happened, `payload` renders it for each receiver kind,
//! `queue` holds what is not yet delivered.

pub mod deliver;
pub mod event;
pub mod metrics;
pub mod payload;
pub mod queue;
pub mod target;

pub use event::{Event, EventKind};
pub use payload::{TargetKind, render};
pub use queue::DropOldestQueue;
pub use target::{Target, TargetSpec};
