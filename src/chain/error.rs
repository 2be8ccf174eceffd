//! Errors of the pool. Every message names the endpoint by its configured
//! name and shows its URL only redacted.

use std::fmt;
use std::time::Duration;

use alloy::transports::{TransportError, TransportErrorKind};

use super::classify::FailureClass;

/// One failed attempt on one endpoint. `detail` is already redacted.
#[derive(Debug, Clone)]
pub struct EndpointFailure {
    pub class: FailureClass,
    pub detail: String,
}

impl EndpointFailure {
    pub fn new(class: FailureClass, detail: impl Into<String>) -> Self {
        EndpointFailure {
            class,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for EndpointFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.class.as_str(), self.detail)
    }
}

/// The last failure of a call, with the endpoint it happened on.
#[derive(Debug, Clone)]
pub struct AttemptFailure {
    pub endpoint: String,
    pub url: String,
    pub failure: EndpointFailure,
}

impl fmt::Display for AttemptFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "endpoint {} ({}): {}",
            self.endpoint, self.url, self.failure
        )
    }
}

/// Why a call through the pool failed. JSON-RPC errors that are answers
/// (reverts, invalid params) are not here: they reach the caller as alloy's
/// `RpcError::ErrorResp`, unchanged.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PoolError {
    /// Every endpoint is quarantined, or its breaker is open.
    #[error("{method}: no healthy RPC endpoint ({why})")]
    NoHealthyEndpoint { method: String, why: String },
    /// `rpc.retry.call_deadline` passed before an endpoint answered.
    #[error(
        "{method}: no answer within the call deadline of {} after {attempts} attempt(s); last error: {}",
        humantime::format_duration(*deadline),
        last_error.as_ref().map(ToString::to_string).unwrap_or_else(|| "none".into())
    )]
    DeadlineExceeded {
        method: String,
        attempts: u32,
        deadline: Duration,
        last_error: Option<AttemptFailure>,
    },
    /// `rpc.retry.max_attempts` attempts failed.
    #[error("{method}: all {attempts} attempt(s) failed; last error: {last_error}")]
    AttemptsExhausted {
        method: String,
        attempts: u32,
        last_error: AttemptFailure,
    },
    /// A call that must not run twice failed in a way that leaves open
    /// whether the node executed it; it was not sent again.
    #[error("{method}: not repeated, the node may have executed it; error: {last_error}")]
    MaybeExecuted {
        method: String,
        last_error: AttemptFailure,
    },
    /// The endpoints' own `max_rps` left no permit before the deadline.
    #[error(
        "{method}: no rate-limit permit for endpoint {endpoint} (its max_rps) within the call deadline of {}",
        humantime::format_duration(*deadline)
    )]
    Throttled {
        method: String,
        endpoint: String,
        deadline: Duration,
    },
    /// The request could not be serialized (a bug in the caller).
    #[error("{method}: cannot serialize the request: {reason}")]
    Serialize { method: String, reason: String },
}

impl PoolError {
    /// Finds a pool error inside an alloy transport error, if it came from the pool.
    pub fn from_transport(err: &TransportError) -> Option<&PoolError> {
        match err {
            TransportError::Transport(kind) => kind.as_custom()?.downcast_ref::<PoolError>(),
            _ => None,
        }
    }
}

impl From<PoolError> for TransportError {
    fn from(e: PoolError) -> Self {
        TransportErrorKind::custom(e)
    }
}

/// Why the pool could not be built from the configuration.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("no RPC endpoint configured")]
    NoEndpoints,
    #[error("{endpoints} RPC endpoint(s) configured but {urls} URL(s) resolved")]
    UrlCount { endpoints: usize, urls: usize },
    #[error("endpoint {endpoint}: the URL is not valid ({reason})")]
    InvalidUrl { endpoint: String, reason: String },
    #[error("endpoint {endpoint}: cannot build the HTTP client: {reason}")]
    Client { endpoint: String, reason: String },
    #[error("endpoint {endpoint}: max_rps and burst must be at least 1")]
    RateLimit { endpoint: String },
    #[error("cannot register the RPC metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}
