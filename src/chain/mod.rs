//! Chain access through a pool of JSON-RPC endpoints.
//!
//! [`Pool`] is a tower `Service` used as the transport of alloy's
//! `RpcClient`, so every alloy call (reads, gas estimation, sends, receipts,
//! batches) goes through it. Per endpoint it keeps its own HTTP client with
//! timeouts, a circuit breaker ([`breaker`]), a `governor` rate limiter, a
//! chain-id check and head tracking (the prober), and rolling statistics.
//! A call picks a healthy endpoint by priority, fails over on endpoint
//! failures and retries with backoff inside a deadline (see the `call`
//! module's rules); JSON-RPC error answers pass through unchanged. Re-sends of raw
//! transactions follow the rule in `raw_tx`.
//!
//! Every log line and error names the endpoint by its configured name and
//! shows its URL only redacted; metric labels never carry a URL.

mod backoff;
pub mod breaker;
mod call;
mod capability;
mod classify;
mod endpoint;
mod error;
mod heads;
mod health;
mod http;
mod metrics;
mod pool;
mod probe;
mod raw_tx;
mod stats;

pub use backoff::Backoff;
pub use breaker::BreakerState;
pub use capability::{METHOD_NOT_FOUND, OptionalMethod, Support, lacks_method};
pub use classify::{FailureClass, method_label};
pub use endpoint::EndpointState;
pub use error::{AttemptFailure, BuildError, EndpointFailure, PoolError};
pub use heads::{HeadState, Heads};
pub use health::RpcHealth;
pub use pool::{EndpointSnapshot, Pool, PoolSnapshot};
