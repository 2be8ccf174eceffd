//! `kind: web3signer`: a remote signer speaking Web3Signer's Ethereum
//! `eth_signTransaction` JSON-RPC. The daemon names the address and every
//! field; what comes back is decoded and checked before the ledger sees it,
//! so a signer that signs for another key or alters the transaction is
//! refused and nothing is sent.

use std::time::Duration;

use alloy::consensus::{SignableTransaction, Transaction, TxEnvelope};
use alloy::eips::eip2718::Decodable2718;
use alloy::primitives::{Address, Bytes, TxKind, U256};
use alloy::rpc::types::TransactionRequest;
use serde::Serialize;

use super::{SignedTx, Signer, SignerError};

const KIND: &str = "web3signer";

/// Signs through a Web3Signer over HTTP(S), optionally with a client certificate.
pub struct Web3Signer {
    address: Address,
    url: reqwest::Url,
    client: reqwest::Client,
}

/// TLS material for the connection, already read from files or credentials.
#[derive(Default)]
pub struct Web3SignerTls {
    /// PEM CA certificate(s) the signer's certificate must chain to.
    pub ca_pem: Option<Vec<u8>>,
    /// PEM client certificate chain followed by its private key.
    pub identity_pem: Option<Vec<u8>>,
}

/// Why a web3signer could not be set up (a configuration issue).
#[derive(Debug, thiserror::Error)]
pub enum Web3SignerSetupError {
    #[error("not a valid URL: {reason}")]
    Url { reason: String },
    #[error("the CA certificate is not valid PEM: {reason}")]
    Ca { reason: String },
    // The reason comes from the TLS library and never quotes the key.
    #[error("the client certificate and key are not a valid PEM pair: {reason}")]
    Identity { reason: String },
    #[error("the HTTP client cannot be built: {reason}")]
    Client { reason: String },
}

impl Web3Signer {
    pub fn new(
        url: &str,
        address: Address,
        timeout: Duration,
        tls: Web3SignerTls,
    ) -> Result<Self, Web3SignerSetupError> {
        let url = reqwest::Url::parse(url).map_err(|e| Web3SignerSetupError::Url {
            reason: e.to_string(),
        })?;
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout);
        if let Some(ca) = &tls.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(ca).map_err(|e| {
                Web3SignerSetupError::Ca {
                    reason: e.to_string(),
                }
            })?;
            builder = builder.tls_certs_only(certs);
        } else if url.scheme() == "http" {
            // Plain HTTP verifies no certificate: the system CA store is not needed.
            builder = builder.tls_certs_only(std::iter::empty());
        }
        if let Some(pem) = &tls.identity_pem {
            let identity =
                reqwest::Identity::from_pem(pem).map_err(|e| Web3SignerSetupError::Identity {
                    reason: e.to_string(),
                })?;
            builder = builder.identity(identity);
        }
        let client = builder.build().map_err(|e| Web3SignerSetupError::Client {
            reason: e.to_string(),
        })?;
        Ok(Web3Signer {
            address,
            url,
            client,
        })
    }

    /// The URL without credentials or query, for messages.
    fn shown_url(&self) -> String {
        format!(
            "{}://{}{}",
            self.url.scheme(),
            self.url.host_str().unwrap_or(""),
            self.url.port().map(|p| format!(":{p}")).unwrap_or_default()
        )
    }
}

impl std::fmt::Debug for Web3Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Web3Signer")
            .field("address", &self.address)
            .field("url", &self.shown_url())
            .finish()
    }
}

/// The `eth_signTransaction` parameter object, as Web3Signer reads it.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
struct SignParams {
    from: Address,
    to: Address,
    #[serde(with = "alloy::serde::quantity")]
    gas: u64,
    #[serde(with = "alloy::serde::quantity")]
    max_fee_per_gas: u128,
    #[serde(with = "alloy::serde::quantity")]
    max_priority_fee_per_gas: u128,
    #[serde(with = "alloy::serde::quantity")]
    nonce: u64,
    data: Bytes,
    value: U256,
    #[serde(with = "alloy::serde::quantity")]
    chain_id: u64,
}

fn request_error(reason: &str) -> SignerError {
    SignerError::Request {
        kind: KIND,
        reason: reason.to_owned(),
    }
}

impl SignParams {
    fn from_request(from: Address, r: &TransactionRequest) -> Result<Self, SignerError> {
        let to = match r.to {
            Some(TxKind::Call(to)) => to,
            _ => return Err(request_error("a vote is a call: the recipient is missing")),
        };
        Ok(SignParams {
            from,
            to,
            gas: r.gas.ok_or_else(|| request_error("gas is not set"))?,
            max_fee_per_gas: r
                .max_fee_per_gas
                .ok_or_else(|| request_error("maxFeePerGas is not set"))?,
            max_priority_fee_per_gas: r
                .max_priority_fee_per_gas
                .ok_or_else(|| request_error("maxPriorityFeePerGas is not set"))?,
            nonce: r.nonce.ok_or_else(|| request_error("nonce is not set"))?,
            data: r.input.input().cloned().unwrap_or_default(),
            value: r.value.unwrap_or_default(),
            chain_id: r
                .chain_id
                .ok_or_else(|| request_error("chain id is not set"))?,
        })
    }
}

/// Decodes what the signer returned and checks it is exactly what was asked,
/// signed by `params.from`. Any difference is a refusal: nothing is sent.
fn verify(params: &SignParams, raw: &[u8]) -> Result<SignedTx, SignerError> {
    let refused = |reason: String| SignerError::Refused { kind: KIND, reason };
    let mut buf = raw;
    let envelope = TxEnvelope::decode_2718(&mut buf)
        .map_err(|e| refused(format!("returned bytes are not a signed transaction: {e}")))?;
    if !buf.is_empty() {
        return Err(refused(
            "returned bytes carry data after the transaction".into(),
        ));
    }
    let signed = envelope
        .as_eip1559()
        .ok_or_else(|| refused("returned transaction is not EIP-1559".into()))?;
    let signer = signed
        .signature()
        .recover_address_from_prehash(&signed.tx().signature_hash())
        .map_err(|e| refused(format!("returned signature does not recover: {e}")))?;
    if signer != params.from {
        return Err(refused(format!(
            "returned transaction is signed by {signer}, not by the configured address {}",
            params.from
        )));
    }
    let mut differs = Vec::new();
    if envelope.to() != Some(params.to) {
        differs.push("to");
    }
    if envelope.input() != &params.data {
        differs.push("data");
    }
    if envelope.nonce() != params.nonce {
        differs.push("nonce");
    }
    if envelope.gas_limit() != params.gas {
        differs.push("gas");
    }
    if envelope.max_fee_per_gas() != params.max_fee_per_gas {
        differs.push("maxFeePerGas");
    }
    if envelope.max_priority_fee_per_gas() != Some(params.max_priority_fee_per_gas) {
        differs.push("maxPriorityFeePerGas");
    }
    if envelope.value() != params.value {
        differs.push("value");
    }
    if envelope.chain_id() != Some(params.chain_id) {
        differs.push("chainId");
    }
    if !differs.is_empty() {
        return Err(refused(format!(
            "returned transaction differs from the request in: {}",
            differs.join(", ")
        )));
    }
    Ok(SignedTx {
        hash: *envelope.tx_hash(),
        raw: Bytes::copy_from_slice(raw),
    })
}

#[derive(serde::Deserialize)]
struct RpcReply {
    #[serde(default)]
    result: Option<Bytes>,
    #[serde(default)]
    error: Option<RpcError>,
}

#[derive(serde::Deserialize)]
struct RpcError {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    message: String,
}

#[async_trait::async_trait]
impl Signer for Web3Signer {
    fn address(&self) -> Address {
        self.address
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    async fn sign_transaction(&self, request: TransactionRequest) -> Result<SignedTx, SignerError> {
        let params = SignParams::from_request(self.address, &request)?;
        let body = serde_json::json!({
            "jsonrpc": "2.0",
            "id": 1,
            "method": "eth_signTransaction",
            "params": [&params],
        });
        let unreachable = |reason: String| SignerError::Unreachable { kind: KIND, reason };
        let at = self.shown_url();
        let reply = self
            .client
            .post(self.url.clone())
            .json(&body)
            .send()
            .await
            .map_err(|e| unreachable(describe(&at, &e)))?;
        let status = reply.status();
        if !status.is_success() {
            return Err(SignerError::Refused {
                kind: KIND,
                reason: format!("{at} answered HTTP {status}"),
            });
        }
        let reply: RpcReply = reply
            .json()
            .await
            .map_err(|e| unreachable(describe(&at, &e)))?;
        if let Some(err) = reply.error {
            return Err(SignerError::Refused {
                kind: KIND,
                reason: format!("{at}: error {}: {}", err.code, err.message),
            });
        }
        let raw = reply.result.ok_or_else(|| SignerError::Refused {
            kind: KIND,
            reason: format!("{at}: the answer has no result"),
        })?;
        verify(&params, &raw)
    }
}

/// A transport error as one line, without the request URL's credentials.
fn describe(at: &str, e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "did not answer in time"
    } else if e.is_connect() {
        "cannot be reached"
    } else if e.is_decode() {
        "sent an answer that is not JSON-RPC"
    } else {
        "request failed"
    };
    let mut chain = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        source = s.source();
    }
    format!("{at} {what}{chain}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::eips::eip2718::Encodable2718;
    use alloy::network::{EthereumWallet, NetworkTransactionBuilder, TransactionBuilder};
    use alloy::signers::local::PrivateKeySigner;

    fn request(from: Address) -> TransactionRequest {
        TransactionRequest::default()
            .with_from(from)
            .with_to(Address::repeat_byte(7))
            .with_input(Bytes::from_static(&[1, 2, 3]))
            .with_nonce(4)
            .with_gas_limit(100_000)
            .with_max_fee_per_gas(30)
            .with_max_priority_fee_per_gas(2)
            .with_chain_id(31337)
    }

    async fn sign(key: &PrivateKeySigner, r: TransactionRequest) -> Vec<u8> {
        let r = r.with_from(key.address());
        let envelope = r.build(&EthereumWallet::from(key.clone())).await.unwrap();
        envelope.encoded_2718()
    }

    #[tokio::test]
    async fn accepts_exactly_what_was_asked() {
        let key = PrivateKeySigner::random();
        let r = request(key.address());
        let params = SignParams::from_request(key.address(), &r).unwrap();
        let raw = sign(&key, r).await;
        assert_eq!(verify(&params, &raw).unwrap().raw.as_ref(), raw.as_slice());
    }

    #[tokio::test]
    async fn refuses_another_key() {
        let key = PrivateKeySigner::random();
        let other = PrivateKeySigner::random();
        let r = request(key.address());
        let params = SignParams::from_request(key.address(), &r).unwrap();
        let raw = sign(&other, r).await;
        let err = verify(&params, &raw).unwrap_err().to_string();
        assert!(err.contains("not by the configured address"), "{err}");
    }

    #[tokio::test]
    async fn refuses_altered_fields() {
        let key = PrivateKeySigner::random();
        let r = request(key.address());
        let params = SignParams::from_request(key.address(), &r).unwrap();
        let raw = sign(&key, r.with_input(Bytes::from_static(&[9])).with_nonce(5)).await;
        let err = verify(&params, &raw).unwrap_err().to_string();
        assert!(err.contains("data, nonce"), "{err}");
    }

    #[test]
    fn refuses_garbage() {
        let params = SignParams::from_request(Address::ZERO, &request(Address::ZERO)).unwrap();
        let err = verify(&params, &[0x02, 0xc0]).unwrap_err().to_string();
        assert!(err.contains("not a signed transaction"), "{err}");
    }
}
