//! Logs, metrics and redaction.

pub mod logging;
pub mod metrics;
pub mod redact;

pub use logging::{LogHandle, init as init_logging};
pub use metrics::Metrics;
