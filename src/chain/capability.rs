//! Methods some endpoints lack: `eth_simulateV1` (all gas estimates of a
//! wallet in one call) and `eth_getBlockReceipts` (a block's receipts in one
//! call). What each endpoint answered is remembered, so that an endpoint
//! found without a method is not asked again and callers fall back to the
//! per-transaction methods once, not every round.
//!
//! The pool learns this from the answers themselves: "method not found" (or
//! a provider's "unsupported" wording of it) marks the endpoint, any other
//! answer proves the method is there. A call of such a method skips the
//! endpoints known to lack it; when every endpoint lacks it, the pool
//! answers "method not found" itself, without a request.

use std::sync::atomic::{AtomicU8, Ordering};

use alloy::rpc::json_rpc::{ErrorPayload, Id, Response, ResponsePacket, ResponsePayload};
use serde::Serialize;

/// The JSON-RPC code for a method the server does not have.
pub const METHOD_NOT_FOUND: i64 = -32601;

/// A method the round prefers but can do without.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionalMethod {
    SimulateV1,
    GetBlockReceipts,
}

impl OptionalMethod {
    pub const ALL: [OptionalMethod; 2] =
        [OptionalMethod::SimulateV1, OptionalMethod::GetBlockReceipts];

    pub fn name(self) -> &'static str {
        match self {
            OptionalMethod::SimulateV1 => "eth_simulateV1",
            OptionalMethod::GetBlockReceipts => "eth_getBlockReceipts",
        }
    }

    pub fn of(method: &str) -> Option<OptionalMethod> {
        OptionalMethod::ALL.into_iter().find(|m| m.name() == method)
    }

    fn slot(self) -> usize {
        self as usize
    }
}

/// What is known of one endpoint and one method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Support {
    /// Not asked yet.
    Unknown,
    Supported,
    Unsupported,
}

impl Support {
    fn from_u8(v: u8) -> Support {
        match v {
            1 => Support::Supported,
            2 => Support::Unsupported,
            _ => Support::Unknown,
        }
    }
}

/// Per endpoint, per optional method; lock-free (read on every such call).
#[derive(Debug, Default)]
pub struct Capabilities {
    slots: [AtomicU8; 2],
}

impl Capabilities {
    pub fn get(&self, method: OptionalMethod) -> Support {
        Support::from_u8(self.slots[method.slot()].load(Ordering::Relaxed))
    }

    /// Records what an answer showed; returns the previous knowledge.
    pub fn set(&self, method: OptionalMethod, support: Support) -> Support {
        let v = match support {
            Support::Unknown => 0,
            Support::Supported => 1,
            Support::Unsupported => 2,
        };
        Support::from_u8(self.slots[method.slot()].swap(v, Ordering::Relaxed))
    }

    /// `method name → support`, for `/health`.
    pub fn report(&self) -> std::collections::BTreeMap<&'static str, Support> {
        OptionalMethod::ALL
            .into_iter()
            .map(|m| (m.name(), self.get(m)))
            .collect()
    }
}

/// Whether a JSON-RPC error says the endpoint lacks the method, rather than
/// refusing this call's parameters: code -32601, EIP-1474's -32004 "method
/// not supported", or the wording providers use with other codes.
pub fn lacks_method(err: &ErrorPayload) -> bool {
    if err.code == METHOD_NOT_FOUND || err.code == -32004 {
        return true;
    }
    let msg = err.message.to_ascii_lowercase();
    // A revert reason may say anything.
    if err.code == 3 || msg.contains("revert") {
        return false;
    }
    [
        "method not found",
        "method not supported",
        "unsupported method",
        "does not exist/is not available",
        "not whitelisted",
        "is not available",
    ]
    .iter()
    .any(|w| msg.contains(w))
}

/// What an answer says of the endpoint's support for the method.
pub fn support_shown(packet: &ResponsePacket) -> Support {
    match packet {
        ResponsePacket::Single(r) => match &r.payload {
            ResponsePayload::Failure(e) if lacks_method(e) => Support::Unsupported,
            _ => Support::Supported,
        },
        ResponsePacket::Batch(_) => Support::Unknown,
    }
}

/// The pool's own answer when no endpoint has the method.
pub fn not_found_answer(id: Id, method: OptionalMethod) -> ResponsePacket {
    ResponsePacket::Single(Response {
        id,
        payload: ResponsePayload::Failure(ErrorPayload {
            code: METHOD_NOT_FOUND,
            message: format!(
                "{}: no RPC endpoint supports this method (learned from earlier answers)",
                method.name()
            )
            .into(),
            data: None,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: i64, message: &str) -> ErrorPayload {
        ErrorPayload {
            code,
            message: message.to_owned().into(),
            data: None,
        }
    }

    #[test]
    fn method_not_found_in_its_usual_wordings() {
        assert!(lacks_method(&err(-32601, "Method not found")));
        assert!(lacks_method(&err(-32004, "Method not supported")));
        assert!(lacks_method(&err(
            -32000,
            "the method eth_simulateV1 does not exist/is not available"
        )));
        assert!(lacks_method(&err(
            -32600,
            "Unsupported method: eth_simulateV1"
        )));
        assert!(!lacks_method(&err(-32602, "invalid params")));
        assert!(!lacks_method(&err(
            3,
            "execution reverted: method not found"
        )));
    }

    #[test]
    fn capabilities_remember_per_method() {
        let c = Capabilities::default();
        assert_eq!(c.get(OptionalMethod::SimulateV1), Support::Unknown);
        c.set(OptionalMethod::SimulateV1, Support::Unsupported);
        assert_eq!(c.get(OptionalMethod::SimulateV1), Support::Unsupported);
        assert_eq!(c.get(OptionalMethod::GetBlockReceipts), Support::Unknown);
        assert_eq!(
            OptionalMethod::of("eth_getBlockReceipts"),
            Some(OptionalMethod::GetBlockReceipts)
        );
        assert_eq!(OptionalMethod::of("eth_call"), None);
    }
}
