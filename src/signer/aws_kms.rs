//! `kind: aws-kms`: a secp256k1 key (`ECC_SECG_P256K1`, `SIGN_VERIFY`) that
//! never leaves AWS KMS. The transaction's signing hash is sent as a
//! `DIGEST` and KMS answers a DER (r, s); alloy's AWS signer normalises s and
//! recovers the parity against the key's public key.
//!
//! The KMS client and the key's public key are fetched on the first
//! signature, not at start: loading AWS credentials (environment, profile,
//! instance role) and `GetPublicKey` are network calls, and a KMS outage at
//! start must not keep the other nodes from voting. The configured `address`
//! is what the node votes as from the start; a key whose public key derives
//! another address is refused on every signature and nothing is sent.

use std::time::Duration;

use alloy::consensus::SignableTransaction;
use alloy::eips::eip2718::Encodable2718;
use alloy::network::{EthereumWallet, NetworkTransactionBuilder};
use alloy::primitives::{Address, Bytes};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::aws::{AwsSigner, AwsSignerError};
use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_kms::config::{Credentials, Region};
use tokio::sync::OnceCell;

use super::{SignedTx, Signer, SignerError};
use crate::config::Secret;

const KIND: &str = "aws-kms";

/// Static AWS credentials for the KMS client; without them the SDK's
/// default chain is used (environment, profile, web identity, instance role).
pub struct AwsStaticCredentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
}

/// What the signer needs to reach the key.
pub struct AwsKmsSettings {
    pub key_id: String,
    pub address: Address,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    pub credentials: Option<AwsStaticCredentials>,
    pub timeout: Duration,
}

pub struct AwsKmsSigner {
    settings: AwsKmsSettings,
    wallet: OnceCell<EthereumWallet>,
}

impl AwsKmsSigner {
    pub fn new(settings: AwsKmsSettings) -> Self {
        AwsKmsSigner {
            settings,
            wallet: OnceCell::new(),
        }
    }

    async fn client(&self) -> aws_sdk_kms::Client {
        let s = &self.settings;
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(s.timeout)
                .build(),
        );
        if let Some(region) = &s.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &s.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(c) = &s.credentials {
            loader = loader.credentials_provider(Credentials::new(
                c.access_key_id.clone(),
                c.secret_access_key.expose().to_owned(),
                None,
                None,
                "govnode configuration",
            ));
        }
        aws_sdk_kms::Client::new(&loader.load().await)
    }

    /// The wallet over the KMS key, made once its address is checked.
    async fn wallet(&self) -> Result<&EthereumWallet, SignerError> {
        self.wallet
            .get_or_try_init(|| async {
                let s = &self.settings;
                let client = Box::pin(self.client()).await;
                let signer = Box::pin(AwsSigner::new(client, s.key_id.clone(), None))
                    .await
                    .map_err(|e| classify(&s.key_id, &e))?;
                let found = alloy::signers::Signer::address(&signer);
                if found != s.address {
                    return Err(SignerError::Refused {
                        kind: KIND,
                        reason: format!(
                            "key {} signs for {found}, not for the configured address {}; \
                             fix nodes[].signer.address or key_id",
                            s.key_id, s.address
                        ),
                    });
                }
                Ok(EthereumWallet::from(signer))
            })
            .await
    }
}

/// An SDK error as unreachable (network, timeout, throttling) or refused
/// (the key, its policy or the credentials); the text names the key, never
/// the credentials.
fn classify(key_id: &str, e: &AwsSignerError) -> SignerError {
    let text = match e {
        AwsSignerError::GetPublicKey(e) => describe(e),
        AwsSignerError::Sign(e) => describe(e),
        other => other.to_string(),
    };
    let reason = format!("key {key_id}: {text}");
    let transient = matches!(
        e,
        AwsSignerError::GetPublicKey(
            aws_sdk_kms::error::SdkError::TimeoutError(_)
                | aws_sdk_kms::error::SdkError::DispatchFailure(_)
        ) | AwsSignerError::Sign(
            aws_sdk_kms::error::SdkError::TimeoutError(_)
                | aws_sdk_kms::error::SdkError::DispatchFailure(_)
        )
    );
    if transient {
        SignerError::Unreachable { kind: KIND, reason }
    } else {
        SignerError::Refused { kind: KIND, reason }
    }
}

/// The service's own message when it sent one (`AccessDeniedException: …`);
/// the SDK's `Display` says only "service error".
fn describe<E, R>(e: &aws_sdk_kms::error::SdkError<E, R>) -> String
where
    E: aws_sdk_kms::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_sdk_kms::error::SdkError;
    match e {
        SdkError::ServiceError(s) => {
            let err = s.err();
            match (err.code(), err.message()) {
                (Some(code), Some(msg)) => format!("{code}: {msg}"),
                (Some(code), None) => code.to_owned(),
                _ => err.to_string(),
            }
        }
        SdkError::TimeoutError(_) => "no answer in time".to_owned(),
        SdkError::DispatchFailure(d) => {
            let why = if d.is_timeout() {
                "timed out"
            } else if d.is_io() {
                "connection failed"
            } else {
                "request could not be sent"
            };
            format!("KMS unreachable: {why}")
        }
        other => other.to_string(),
    }
}

impl std::fmt::Debug for AwsKmsSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The credentials stay out; the key id and address are not secret.
        f.debug_struct("AwsKmsSigner")
            .field("key_id", &self.settings.key_id)
            .field("address", &self.settings.address)
            .finish()
    }
}

#[async_trait::async_trait]
impl Signer for AwsKmsSigner {
    fn address(&self) -> Address {
        self.settings.address
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    async fn sign_transaction(&self, request: TransactionRequest) -> Result<SignedTx, SignerError> {
        let key_id = &self.settings.key_id;
        let work = async {
            // Boxed: the SDK's futures nest too deep for the async block's layout.
            let wallet = Box::pin(self.wallet()).await?;
            request.build(wallet).await.map_err(|e| {
                // A KMS refusal surfaces through alloy's signer error; its
                // text is the SDK's, which carries no credentials.
                SignerError::Refused {
                    kind: KIND,
                    reason: format!("key {key_id}: {e}"),
                }
            })
        };
        let envelope = tokio::time::timeout(self.settings.timeout, work)
            .await
            .map_err(|_| SignerError::Unreachable {
                kind: KIND,
                reason: format!(
                    "key {key_id}: no signature within {} s",
                    self.settings.timeout.as_secs_f64()
                ),
            })??;
        let refused = |reason: String| SignerError::Refused {
            kind: KIND,
            reason: format!("key {key_id}: {reason}"),
        };
        let signed = envelope
            .as_eip1559()
            .ok_or_else(|| refused("the signed transaction is not EIP-1559".into()))?;
        let signer = signed
            .signature()
            .recover_address_from_prehash(&signed.tx().signature_hash())
            .map_err(|e| refused(format!("the signature does not recover: {e}")))?;
        if signer != self.settings.address {
            return Err(SignerError::Refused {
                kind: KIND,
                reason: format!("key {key_id}: the signature recovers to {signer}"),
            });
        }
        Ok(SignedTx {
            hash: *envelope.tx_hash(),
            raw: Bytes::from(envelope.encoded_2718()),
        })
    }
}
