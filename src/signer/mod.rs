//! The signing boundary. A round hands a [`Signer`] a transaction request and
//! gets back the signed bytes and their hash; it never holds key material.
//! One signer per node, built at start (and on reload) from `nodes[].signer`:
//! a plain key file or credential (`kind: key`) or an encrypted Web3 Secret
//! Storage keystore (`kind: keystore`) or a key in an HSM (`kind: pkcs11`) or a remote Web3Signer
//! (`kind: web3signer`) or a key in AWS KMS (`kind: aws-kms`). A config-time problem (wrong keystore
//! password, unreadable file) is a configuration issue and exits 78; a
//! failure while signing fails only that node's votes.

mod aws_kms;
mod build;
pub mod cli;
mod config;
mod error;
pub mod keystore;
mod local;
pub mod pkcs11;
pub mod web3signer;

pub use build::node_signer;
pub use config::{
    AwsKmsSignerConfig, KeySignerConfig, KeystoreSignerConfig, Pkcs11SignerConfig, SignerConfig,
    Web3SignerConfig, validate_node,
};
pub use error::SignerError;
pub use local::LocalKeySigner;

use alloy::primitives::{Address, B256, Bytes};
use alloy::rpc::types::TransactionRequest;

/// A transaction signed by a node: what the ledger records before it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTx {
    pub hash: B256,
    pub raw: Bytes,
}

/// Signs a node's transactions. Implementations keep their key material to
/// themselves: `Debug` never shows it and errors never carry it.
#[async_trait::async_trait]
pub trait Signer: Send + Sync + std::fmt::Debug {
    /// The address every transaction is signed for.
    fn address(&self) -> Address;
    /// The backend, as written in `nodes[].signer.kind`.
    fn kind(&self) -> &'static str;
    /// Signs a complete request (nonce, chain id, gas and fees set).
    async fn sign_transaction(&self, request: TransactionRequest) -> Result<SignedTx, SignerError>;
}
