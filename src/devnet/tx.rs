//! Pipelined transactions from one local key: a batch is estimated
//! concurrently, given consecutive nonces, signed locally, sent in nonce
//! order without waiting for receipts, and only then awaited. A single
//! sender's transactions are mined in nonce order, so the order of a batch
//! is the order of its effects (proposal ids included).
//!
//! Transactions in one batch must not depend on each other's effects for gas
//! estimation (estimates run against the latest block); give such a call an
//! explicit gas limit or put it in the next batch.

use std::time::{Duration, Instant};

use alloy::consensus::TxEnvelope;
use alloy::eips::eip2718::Encodable2718;
use alloy::network::{EthereumWallet, NetworkTransactionBuilder, TransactionBuilder};
use alloy::primitives::{Address, Bytes, TxHash, U256};
use alloy::providers::Provider;
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use futures::{StreamExt, TryStreamExt, stream};

use super::chain::Chain;
use super::error::DevnetError;

/// Sends and reads in flight at once.
const IN_FLIGHT: usize = 16;
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(60);

/// One transaction of a batch.
pub struct Call {
    /// Names the transaction in errors (`create proposal 7`).
    pub label: String,
    pub to: Option<Address>,
    pub input: Bytes,
    pub value: U256,
    /// Skip estimation with this limit.
    pub gas: Option<u64>,
}

impl Call {
    pub fn new(label: impl Into<String>, to: Address, input: impl Into<Bytes>) -> Call {
        Call {
            label: label.into(),
            to: Some(to),
            input: input.into(),
            value: U256::ZERO,
            gas: None,
        }
    }

    pub fn deploy(label: impl Into<String>, code: impl Into<Bytes>) -> Call {
        Call {
            label: label.into(),
            to: None,
            input: code.into(),
            value: U256::ZERO,
            gas: None,
        }
    }

    pub fn transfer(label: impl Into<String>, to: Address, value: U256) -> Call {
        Call {
            label: label.into(),
            to: Some(to),
            input: Bytes::new(),
            value,
            gas: Some(21_000),
        }
    }

    fn request(&self, from: Address) -> TransactionRequest {
        let tx = TransactionRequest::default()
            .with_from(from)
            .with_input(self.input.clone())
            .with_value(self.value);
        match self.to {
            Some(to) => tx.with_to(to),
            None => tx.into_create(),
        }
    }
}

/// A transaction that was sent.
pub struct Sent {
    pub label: String,
    pub hash: TxHash,
}

pub struct Sender {
    chain: Chain,
    wallet: EthereumWallet,
    from: Address,
    next_nonce: u64,
    chain_id: u64,
    max_fee: u128,
    tip: u128,
}

impl Sender {
    pub async fn new(chain: Chain, signer: PrivateKeySigner) -> Result<Sender, DevnetError> {
        let from = signer.address();
        let p = &chain.provider;
        let (nonce, chain_id, fees) = tokio::try_join!(
            async {
                p.get_transaction_count(from)
                    .pending()
                    .await
                    .map_err(|e| chain.err(format!("read the nonce of {from}"), e))
            },
            chain.chain_id(),
            async {
                p.estimate_eip1559_fees()
                    .await
                    .map_err(|e| chain.err("estimate fees", e))
            },
        )?;
        Ok(Sender {
            wallet: EthereumWallet::from(signer),
            from,
            next_nonce: nonce,
            chain_id,
            // Head-room so that the whole setup fits under one estimate even
            // if the base fee rises meanwhile.
            max_fee: fees.max_fee_per_gas.saturating_mul(2),
            tip: fees.max_priority_fee_per_gas,
            chain,
        })
    }

    pub fn address(&self) -> Address {
        self.from
    }

    /// The nonce the next call will get (a contract deployed with it lands at
    /// `address().create(nonce)`).
    pub fn next_nonce(&self) -> u64 {
        self.next_nonce
    }

    /// Sends every call and waits for all receipts; fails on the first revert.
    pub async fn run(&mut self, calls: Vec<Call>) -> Result<Vec<TransactionReceipt>, DevnetError> {
        let sent = self.submit(calls).await?;
        self.confirm(sent).await
    }

    /// Estimates, signs and sends a batch; returns the hashes in batch order.
    pub async fn submit(&mut self, calls: Vec<Call>) -> Result<Vec<Sent>, DevnetError> {
        let from = self.from;
        let chain = &self.chain;
        let gas: Vec<u64> = stream::iter(calls.iter().map(|call| async move {
            if let Some(gas) = call.gas {
                return Ok(gas);
            }
            let estimate = chain
                .provider
                .estimate_gas(call.request(from))
                .await
                .map_err(|e| chain.err(format!("estimate gas for `{}`", call.label), e))?;
            Ok::<u64, DevnetError>(estimate.saturating_mul(13) / 10)
        }))
        .buffered(IN_FLIGHT)
        .try_collect()
        .await?;

        let mut signed: Vec<(String, TxEnvelope)> = Vec::with_capacity(calls.len());
        for (call, gas) in calls.iter().zip(gas) {
            let request = call
                .request(from)
                .with_nonce(self.next_nonce)
                .with_chain_id(self.chain_id)
                .with_gas_limit(gas)
                .with_max_fee_per_gas(self.max_fee)
                .with_max_priority_fee_per_gas(self.tip);
            let envelope =
                request
                    .build(&self.wallet)
                    .await
                    .map_err(|e| DevnetError::Unexpected {
                        what: format!("sign `{}`", call.label),
                        detail: e.to_string(),
                    })?;
            self.next_nonce += 1;
            signed.push((call.label.clone(), envelope));
        }

        // One after the other, in nonce order: anvil's auto-mining can leave
        // transactions that arrive ahead of a nonce gap unmined for good
        // (foundry-rs/foundry#10122). Sending is quick; the receipts are
        // still awaited together.
        let mut sent = Vec::with_capacity(signed.len());
        for (label, envelope) in signed {
            let hash = *envelope.tx_hash();
            let pending = chain
                .provider
                .send_raw_transaction(&envelope.encoded_2718())
                .await
                .map_err(|e| chain.err(format!("send `{label}` ({hash})"), e))?;
            sent.push(Sent {
                label,
                hash: *pending.tx_hash(),
            });
        }
        Ok(sent)
    }

    /// Waits for every receipt (polling, with a deadline); a revert is an error.
    pub async fn confirm(&self, sent: Vec<Sent>) -> Result<Vec<TransactionReceipt>, DevnetError> {
        let chain = &self.chain;
        stream::iter(sent.into_iter().map(|s| async move {
            let receipt = wait_receipt(chain, &s).await?;
            if !receipt.status() {
                return Err(DevnetError::Reverted {
                    label: s.label,
                    hash: s.hash.to_string(),
                });
            }
            Ok(receipt)
        }))
        .buffered(IN_FLIGHT)
        .try_collect()
        .await
    }
}

async fn wait_receipt(chain: &Chain, sent: &Sent) -> Result<TransactionReceipt, DevnetError> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        let receipt = chain
            .provider
            .get_transaction_receipt(sent.hash)
            .await
            .map_err(|e| chain.err(format!("read the receipt of `{}`", sent.label), e))?;
        if let Some(r) = receipt {
            return Ok(r);
        }
        if started.elapsed() > RECEIPT_TIMEOUT {
            return Err(DevnetError::NoReceipt {
                label: sent.label.clone(),
                hash: sent.hash.to_string(),
                waited: RECEIPT_TIMEOUT,
            });
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}
