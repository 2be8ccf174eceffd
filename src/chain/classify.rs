//! What an endpoint's reply means: an answer to pass to the caller, or a
//! failure of the endpoint that justifies trying another one.
//!
//! A JSON-RPC error is usually an *answer* (execution reverted, nonce too low,
//! invalid params): another endpoint would say the same, so it is returned
//! as it is and never retried. Only errors that describe the endpoint itself
//! — rate limits and overload — count as failures.

use alloy::rpc::json_rpc::ErrorPayload;
use serde::Serialize;

/// Why an attempt failed. The `as_str` names are the `outcome` metric label
/// and the `last_error` shown in `/health`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    /// The attempt did not finish within the endpoint's timeout.
    Timeout,
    /// No connection (refused, DNS, TLS handshake).
    Connect,
    /// The connection broke mid-request, or another I/O problem.
    Transport,
    /// HTTP 429, or a JSON-RPC rate-limit / capacity error.
    RateLimited,
    /// HTTP 5xx.
    Http5xx,
    /// Another non-success HTTP status without a JSON-RPC answer (401, 403, 404…).
    HttpStatus,
    /// The body is not a JSON-RPC response.
    Malformed,
    /// A response is missing (batch item, wrong id).
    MissingResponse,
    /// `eth_chainId` reported another chain.
    WrongChain,
}

impl FailureClass {
    /// True when the request may have reached the node and been executed
    /// (no answer, or a broken one); false when it surely was not (no
    /// connection, refused with a rate limit or an HTTP status).
    pub fn maybe_executed(self) -> bool {
        match self {
            FailureClass::Timeout
            | FailureClass::Transport
            | FailureClass::Http5xx
            | FailureClass::Malformed
            | FailureClass::MissingResponse => true,
            FailureClass::Connect
            | FailureClass::RateLimited
            | FailureClass::HttpStatus
            | FailureClass::WrongChain => false,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::Timeout => "timeout",
            FailureClass::Connect => "connect",
            FailureClass::Transport => "transport",
            FailureClass::RateLimited => "rate_limited",
            FailureClass::Http5xx => "http_5xx",
            FailureClass::HttpStatus => "http_status",
            FailureClass::Malformed => "malformed",
            FailureClass::MissingResponse => "missing_response",
            FailureClass::WrongChain => "wrong_chain",
        }
    }
}

/// JSON-RPC error codes and messages providers use for "slow down" and
/// "over capacity" (the list alloy's retry layer recognises, plus the
/// standard "limit exceeded" code -32005).
pub fn is_rate_limit(err: &ErrorPayload) -> bool {
    const CODES: [i64; 4] = [429, -32005, 1008, -32055];
    if CODES.contains(&err.code) {
        return true;
    }
    let msg = err.message.to_ascii_lowercase();
    // A contract's revert reason may say anything, "rate limit" included.
    if err.code == 3 || msg.contains("revert") {
        return false;
    }
    match err.code {
        -32016 if msg.contains("rate limit") => return true,
        -32012 if msg.contains("credits") => return true,
        -32007 if msg.contains("request limit reached") => return true,
        _ => {}
    }
    [
        "rate limit",
        "rate exceeded",
        "too many requests",
        "credits limited",
        "request limit",
        "daily request count exceeded",
        "maximum number of concurrent requests",
    ]
    .iter()
    .any(|needle| msg.contains(needle))
}

/// Node messages meaning "this exact transaction is already in my pool"
/// (geth, erigon, nethermind, besu, anvil wordings).
pub fn is_already_known(err: &ErrorPayload) -> bool {
    let msg = err.message.to_ascii_lowercase();
    [
        "already known",
        "known transaction",
        "alreadyknown",
        "already imported",
        "transaction already exists",
        "already in the pool",
        "already in mempool",
    ]
    .iter()
    .any(|needle| msg.contains(needle))
}

/// "nonce too low": the sender's nonce is used; by this transaction or another.
pub fn is_nonce_too_low(err: &ErrorPayload) -> bool {
    let msg = err.message.to_ascii_lowercase();
    msg.contains("nonce too low") || msg.contains("oldnonce") || msg.contains("nonce is too low")
}

/// Methods whose repetition does something twice: the node picks a nonce
/// (`eth_sendTransaction`) or changes its own state (dev-chain controls).
/// After a failure that may have executed them they are not sent again.
/// `eth_sendRawTransaction` is not here: the same signed bytes can be mined
/// only once.
const NOT_REPEATABLE: [&str; 9] = [
    "eth_sendTransaction",
    "personal_sendTransaction",
    "eth_sendUserOperation",
    "anvil_mine",
    "evm_mine",
    "evm_increaseTime",
    "evm_setNextBlockTimestamp",
    "evm_revert",
    "evm_snapshot",
];

pub fn is_repeatable(method: &str) -> bool {
    !NOT_REPEATABLE.contains(&method)
}

const KNOWN_METHODS: [&str; 31] = [
    "eth_blockNumber",
    "eth_call",
    "eth_chainId",
    "eth_createAccessList",
    "eth_estimateGas",
    "eth_feeHistory",
    "eth_gasPrice",
    "eth_getBalance",
    "eth_getBlockByHash",
    "eth_getBlockByNumber",
    "eth_getBlockReceipts",
    "eth_getCode",
    "eth_getLogs",
    "eth_getProof",
    "eth_getStorageAt",
    "eth_getTransactionByHash",
    "eth_getTransactionCount",
    "eth_getTransactionReceipt",
    "eth_maxPriorityFeePerGas",
    "eth_blobBaseFee",
    "eth_sendRawTransaction",
    "eth_simulateV1",
    "eth_sendRawTransactionSync",
    "eth_syncing",
    "eth_accounts",
    "net_version",
    "web3_clientVersion",
    "anvil_mine",
    "evm_mine",
    "evm_increaseTime",
    "evm_setNextBlockTimestamp",
];

/// The `method` metric label: a known name, `batch`, or `other`, so that a
/// caller cannot grow the label set without bound.
pub fn method_label(method: &str) -> &'static str {
    KNOWN_METHODS
        .iter()
        .find(|m| **m == method)
        .copied()
        .unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn err(code: i64, message: &'static str) -> ErrorPayload {
        ErrorPayload {
            code,
            message: Cow::Borrowed(message),
            data: None,
        }
    }

    #[test]
    fn rate_limits_are_failures_answers_are_not() {
        assert!(is_rate_limit(&err(-32005, "limit exceeded")));
        assert!(is_rate_limit(&err(429, "Too Many Requests")));
        assert!(is_rate_limit(&err(
            -32007,
            "100/second request limit reached - reduce calls per second"
        )));
        assert!(is_rate_limit(&err(
            -32000,
            "Your app has exceeded its rate limit"
        )));
        assert!(!is_rate_limit(&err(-32016, "something else")));
        assert!(!is_rate_limit(&err(3, "execution reverted")));
        assert!(!is_rate_limit(&err(
            -32000,
            "execution reverted: rate limit reached"
        )));
        assert!(!is_rate_limit(&err(-32000, "nonce too low")));
        assert!(!is_rate_limit(&err(-32602, "invalid params")));
    }

    #[test]
    fn recognises_already_known_and_nonce_too_low() {
        assert!(is_already_known(&err(-32000, "already known")));
        assert!(is_already_known(&err(
            -32010,
            "Known transaction: 0xabc already imported"
        )));
        assert!(is_already_known(&err(-32010, "AlreadyKnown")));
        assert!(!is_already_known(&err(-32000, "nonce too low")));
        assert!(is_nonce_too_low(&err(
            -32003,
            "nonce too low: next nonce 2, tx nonce 1"
        )));
        assert!(is_nonce_too_low(&err(-32010, "OldNonce")));
        assert!(!is_nonce_too_low(&err(
            -32000,
            "replacement transaction underpriced"
        )));
    }

    #[test]
    fn node_side_effects_are_not_repeated() {
        assert!(is_repeatable("eth_call"));
        assert!(is_repeatable("eth_sendRawTransaction"));
        assert!(!is_repeatable("eth_sendTransaction"));
        assert!(!is_repeatable("evm_increaseTime"));
        assert!(FailureClass::Timeout.maybe_executed());
        assert!(!FailureClass::Connect.maybe_executed());
    }

    #[test]
    fn method_labels_are_bounded() {
        assert_eq!(method_label("eth_call"), "eth_call");
        assert_eq!(method_label("eth_somethingNew"), "other");
        assert_eq!(method_label("x".repeat(500).as_str()), "other");
    }
}
