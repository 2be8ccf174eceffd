//! The floor: what the chain itself allows. The same number of votes a round
//! cast, per wallet, from the same wallets, with the same calldata shape
//! (`vote(id, true)` on fresh proposals, so each is a first vote), the same
//! gas-limit rule and fees, pre-signed with explicit nonces — then sent
//! straight to anvil as fast as it takes them (`eth_sendRawTransaction`,
//! one after the other per wallet, wallets side by side) and awaited until
//! every receipt is in. Only the sending and the waiting are timed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use alloy::eips::eip2718::Encodable2718;
use alloy::network::{EthereumWallet, NetworkTransactionBuilder, TransactionBuilder};
use alloy::primitives::{Address, B256, Bytes, U64};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::client::BatchRequest;
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::sol_types::SolCall;
use futures::future::join_all;
use govnode::devnet::contracts::TestAssetDAO;

use crate::net::Net;

pub struct Floor {
    pub votes: usize,
    /// Start → the last send answered.
    pub sent: Duration,
    /// Start → every receipt in.
    pub total: Duration,
    /// Blocks from the head at the start to the block of the last receipt.
    pub blocks: u64,
}

/// One wallet's pre-signed votes.
struct Signed {
    address: Address,
    last_nonce: u64,
    raw: Vec<Bytes>,
    hashes: Vec<B256>,
}

/// Same rule as the daemon's (round/send.rs): estimate + 20 % + 10,000.
fn gas_limit(estimate: u64) -> u64 {
    estimate.saturating_mul(12) / 10 + 10_000
}

/// `aligned`: start right after a new block (as the round did, with interval mining).
pub async fn measure(net: &Net, per_voter: &BTreeMap<Address, usize>, aligned: bool) -> Floor {
    let most = per_voter.values().copied().max().unwrap_or(0);
    let votes: usize = per_voter.values().sum();
    if votes == 0 {
        return Floor {
            votes,
            sent: Duration::ZERO,
            total: Duration::ZERO,
            blocks: 0,
        };
    }
    let ids = net.create_proposals(most).await;
    let provider: DynProvider = ProviderBuilder::new()
        .disable_recommended_fillers()
        .connect_http(net.anvil.url().parse().expect("anvil URL"))
        .erased();
    let dao = net.dao();
    let fees = provider.estimate_eip1559_fees().await.expect("fees");
    let call = |id| {
        TestAssetDAO::voteCall {
            proposalId: id,
            support: true,
        }
        .abi_encode()
    };
    let signers = net.node_signers();
    let first = signers
        .iter()
        .find(|s| per_voter.contains_key(&s.address()))
        .expect("a voting wallet");
    let estimate = provider
        .estimate_gas(
            TransactionRequest::default()
                .with_from(first.address())
                .with_to(dao)
                .with_input(call(ids[0])),
        )
        .await
        .expect("estimate a vote");

    let mut wallets = Vec::new();
    for signer in &signers {
        let Some(&count) = per_voter.get(&signer.address()) else {
            continue;
        };
        let wallet = EthereumWallet::from(signer.clone());
        let nonce = provider
            .get_transaction_count(signer.address())
            .pending()
            .await
            .expect("nonce");
        let mut signed = Signed {
            address: signer.address(),
            last_nonce: nonce + count as u64 - 1,
            raw: Vec::with_capacity(count),
            hashes: Vec::with_capacity(count),
        };
        for (k, id) in ids.iter().take(count).enumerate() {
            let envelope = TransactionRequest::default()
                .with_from(signer.address())
                .with_to(dao)
                .with_input(call(*id))
                .with_nonce(nonce + k as u64)
                .with_chain_id(net.anvil.chain_id())
                .with_gas_limit(gas_limit(estimate))
                .with_max_fee_per_gas(fees.max_fee_per_gas)
                .with_max_priority_fee_per_gas(fees.max_priority_fee_per_gas)
                .build(&wallet)
                .await
                .expect("sign");
            signed.hashes.push(*envelope.tx_hash());
            signed.raw.push(Bytes::from(envelope.encoded_2718()));
        }
        wallets.push(signed);
    }

    if aligned {
        net.wait_next_block().await;
    }
    let head = provider.get_block_number().await.expect("head");
    let started = Instant::now();
    join_all(wallets.iter().map(|w| {
        let provider = &provider;
        async move {
            for raw in &w.raw {
                let _pending = provider
                    .send_raw_transaction(raw)
                    .await
                    .expect("anvil takes the vote");
            }
        }
    }))
    .await;
    let sent = started.elapsed();
    wait_mined(&provider, &wallets).await;
    let receipts = receipts(&provider, &wallets).await;
    let total = started.elapsed();
    assert!(receipts.iter().all(|r| r.status()), "a floor vote reverted");
    let last = receipts
        .iter()
        .filter_map(|r| r.block_number)
        .max()
        .unwrap_or(head);
    Floor {
        votes,
        sent,
        total,
        blocks: last.saturating_sub(head),
    }
}

/// Polls every wallet's mined nonce (one batch of a few calls) until all are in.
async fn wait_mined(provider: &DynProvider, wallets: &[Signed]) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mut batch = BatchRequest::new(provider.client());
        let waiters: Vec<_> = wallets
            .iter()
            .map(|w| {
                batch
                    .add_call::<_, U64>("eth_getTransactionCount", &(w.address, "latest"))
                    .expect("batch call")
            })
            .collect();
        batch.send().await.expect("nonce batch");
        let mut done = true;
        for (w, waiter) in wallets.iter().zip(waiters) {
            let mined: u64 = waiter.await.expect("nonce").to();
            done &= mined > w.last_nonce;
        }
        if done {
            return;
        }
        assert!(Instant::now() < deadline, "floor votes not mined in 120 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Every receipt, fetched in batches. anvil may show a nonce as used a moment
/// before the block's receipts are readable, so missing ones are asked again.
async fn receipts(provider: &DynProvider, wallets: &[Signed]) -> Vec<TransactionReceipt> {
    let mut missing: Vec<B256> = wallets.iter().flat_map(|w| w.hashes.clone()).collect();
    let mut out = Vec::with_capacity(missing.len());
    let deadline = Instant::now() + Duration::from_secs(60);
    while !missing.is_empty() {
        let mut again = Vec::new();
        for chunk in missing.chunks(500) {
            let mut batch = BatchRequest::new(provider.client());
            let waiters: Vec<_> = chunk
                .iter()
                .map(|h| {
                    batch
                        .add_call::<_, Option<TransactionReceipt>>(
                            "eth_getTransactionReceipt",
                            &(h,),
                        )
                        .expect("batch call")
                })
                .collect();
            batch.send().await.expect("receipt batch");
            for (h, w) in chunk.iter().zip(waiters) {
                match w.await.expect("receipt") {
                    Some(r) => out.push(r),
                    None => again.push(*h),
                }
            }
        }
        assert!(
            again.is_empty() || Instant::now() < deadline,
            "floor receipts missing after 60 s: {again:?}"
        );
        if !again.is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        missing = again;
    }
    out
}
