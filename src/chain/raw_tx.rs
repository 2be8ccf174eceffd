//! `eth_sendRawTransaction` across endpoints.
//!
//! Re-sending the *same signed bytes* is always safe: they carry one nonce
//! and hash to one transaction hash, so at most one of the copies can ever be
//! mined. That is why the pool may retry a send on another endpoint after a
//! timeout or a lost answer — the first endpoint may have accepted it. The
//! second endpoint then often refuses the copy, and its refusal means "sent":
//!
//! - "already known" / "known transaction" (and their variants): the node
//!   holds this exact transaction (the message is about the hash of these
//!   bytes), so it is sent.
//! - "nonce too low": the sender's nonce is used — by this transaction (it
//!   was mined already) or by another one. The pool asks the same endpoint
//!   for the transaction by our hash (keccak256 of the raw bytes): found means
//!   ours was mined or is pending, so it is sent; not found means the nonce
//!   went to another transaction, and the error is returned to the caller
//!   unchanged (a new signature is the caller's decision, never the pool's).
//!
//! "Sent" is answered as a normal success with our hash, exactly as the node
//! would have answered the first copy.

use std::time::Duration;

use alloy::primitives::{B256, Bytes, keccak256};
use alloy::rpc::json_rpc::{Id, RequestPacket, Response, ResponsePacket, ResponsePayload};
use serde_json::value::RawValue;

use super::classify::{is_already_known, is_nonce_too_low};
use super::endpoint::Endpoint;
use super::error::EndpointFailure;

pub(crate) struct RawTx {
    hash: B256,
    id: Id,
}

impl RawTx {
    /// Recognises a single `eth_sendRawTransaction` request.
    pub fn from_request(req: &RequestPacket) -> Option<Self> {
        let single = req.as_single()?;
        if single.method() != "eth_sendRawTransaction" {
            return None;
        }
        let params: Vec<Bytes> = serde_json::from_str(single.params()?.get()).ok()?;
        let raw = params.first()?;
        Some(RawTx {
            hash: keccak256(raw),
            id: single.id().clone(),
        })
    }

    /// What an endpoint's answer means for this transaction. A failed
    /// look-up is a failure of the endpoint (the call moves on).
    pub async fn settle(
        &self,
        packet: ResponsePacket,
        ep: &Endpoint,
        timeout: Duration,
    ) -> Result<ResponsePacket, EndpointFailure> {
        let Some(err) = packet.as_error() else {
            return Ok(packet);
        };
        if is_already_known(err) {
            tracing::info!(endpoint = %ep.name, tx_hash = %self.hash, answer = %err.message, "transaction already known to the endpoint: counted as sent");
            return Ok(self.sent());
        }
        if is_nonce_too_low(err) {
            let params = format!(r#"["{}"]"#, self.hash);
            let found = ep
                .request("eth_getTransactionByHash", &params, timeout)
                .await?;
            if found.get() != "null" {
                tracing::info!(endpoint = %ep.name, tx_hash = %self.hash, "nonce too low, and the endpoint knows this transaction: counted as sent");
                return Ok(self.sent());
            }
            tracing::warn!(endpoint = %ep.name, tx_hash = %self.hash, "nonce too low and the transaction is unknown: its nonce went to another transaction");
        }
        Ok(packet)
    }

    fn sent(&self) -> ResponsePacket {
        let result = RawValue::from_string(format!(r#""{}""#, self.hash))
            .unwrap_or_else(|_| RawValue::NULL.to_owned());
        ResponsePacket::Single(Response {
            id: self.id.clone(),
            payload: ResponsePayload::Success(result),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::rpc::json_rpc::Request;

    #[test]
    fn hash_is_keccak_of_the_raw_bytes() {
        let raw = Bytes::from(vec![0x02, 0xf8, 0x01, 0x02]);
        let params = RawValue::from_string(format!(r#"["{raw}"]"#)).unwrap();
        let req = RequestPacket::Single(
            Request::new("eth_sendRawTransaction", Id::Number(7), params)
                .serialize()
                .unwrap(),
        );
        let tx = RawTx::from_request(&req).unwrap();
        assert_eq!(tx.hash, keccak256(&raw));
        let ResponsePacket::Single(r) = tx.sent() else {
            panic!("single expected")
        };
        assert_eq!(r.id, Id::Number(7));
        let got: B256 = r.payload.try_success_as().unwrap().unwrap();
        assert_eq!(got, tx.hash);
    }

    #[test]
    fn other_methods_are_not_sends() {
        let params = RawValue::from_string("[]".into()).unwrap();
        let req = RequestPacket::Single(
            Request::new("eth_chainId", Id::Number(1), params)
                .serialize()
                .unwrap(),
        );
        assert!(RawTx::from_request(&req).is_none());
    }
}
