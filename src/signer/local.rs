//! A key held in the daemon's memory: `kind: key` and, once unlocked,
//! `kind: keystore`.

use alloy::eips::eip2718::Encodable2718;
use alloy::network::{EthereumWallet, NetworkTransactionBuilder};
use alloy::primitives::{Address, Bytes};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;

use super::{SignedTx, Signer, SignerError};

/// Signs with an in-memory secp256k1 key.
#[derive(Clone)]
pub struct LocalKeySigner {
    kind: &'static str,
    address: Address,
    wallet: EthereumWallet,
}

impl LocalKeySigner {
    /// `kind` is the backend the key came from (`key` or `keystore`).
    pub fn new(kind: &'static str, key: PrivateKeySigner) -> Self {
        LocalKeySigner {
            kind,
            address: key.address(),
            wallet: EthereumWallet::from(key),
        }
    }
}

impl std::fmt::Debug for LocalKeySigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The wallet holds the key: never printed.
        f.debug_struct("LocalKeySigner")
            .field("kind", &self.kind)
            .field("address", &self.address)
            .finish()
    }
}

#[async_trait::async_trait]
impl Signer for LocalKeySigner {
    fn address(&self) -> Address {
        self.address
    }

    fn kind(&self) -> &'static str {
        self.kind
    }

    async fn sign_transaction(&self, request: TransactionRequest) -> Result<SignedTx, SignerError> {
        let envelope = request
            .build(&self.wallet)
            .await
            .map_err(|e| SignerError::Request {
                kind: self.kind,
                reason: e.to_string(),
            })?;
        Ok(SignedTx {
            hash: *envelope.tx_hash(),
            raw: Bytes::from(envelope.encoded_2718()),
        })
    }
}
