//! Errors of DAO reads, with the contract and the call that failed. Transport
//! error texts pass through redaction: HTTP errors repeat the URL, and an
//! endpoint's URL may carry an API key.

use alloy::primitives::Address;
use alloy::transports::TransportError;

use super::revert::{RevertReason, revert_data};
use crate::telemetry::redact::redact_text;

#[derive(Debug, Clone, thiserror::Error)]
pub enum DaoError {
    #[error("{contract} {call}: RPC failed: {detail}")]
    Rpc {
        contract: Address,
        call: String,
        detail: String,
    },
    #[error("{contract} {call} reverted: {reason}")]
    Reverted {
        contract: Address,
        call: String,
        reason: RevertReason,
    },
    #[error("{contract} {call}: unexpected answer: {detail}")]
    Decode {
        contract: Address,
        call: String,
        detail: String,
    },
    #[error("reading the head block: {detail}")]
    Head { detail: String },
    #[error("{detail}")]
    Config { detail: String },
}

impl DaoError {
    pub fn from_transport(
        contract: Address,
        call: impl Into<String>,
        err: &TransportError,
    ) -> Self {
        let call = call.into();
        match revert_data(err) {
            Some(data) => DaoError::Reverted {
                contract,
                call,
                reason: RevertReason::decode(&data),
            },
            None => DaoError::Rpc {
                contract,
                call,
                detail: redact_text(&err.to_string(), &[]).into_owned(),
            },
        }
    }

    pub fn from_contract(
        contract: Address,
        call: impl Into<String>,
        err: &alloy::contract::Error,
    ) -> Self {
        use alloy::contract::Error as E;
        match err {
            E::TransportError(t) => DaoError::from_transport(contract, call, t),
            other => DaoError::Decode {
                contract,
                call: call.into(),
                detail: redact_text(&other.to_string(), &[]).into_owned(),
            },
        }
    }

    /// The revert, when the failure was one.
    pub fn revert_reason(&self) -> Option<&RevertReason> {
        match self {
            DaoError::Reverted { reason, .. } => Some(reason),
            _ => None,
        }
    }
}
