//! The doppelganger check: a node whose address has sent more transactions
//! (`eth_getTransactionCount`, latest block) than this ledger ever signed or
//! an operator acknowledged shares its key with another signer — a copied
//! machine, a standby started by mistake, a wallet. Two signers of one
//! address can vote twice on one proposal, so the node is paused: nothing
//! is signed for it until `govnode keys ack NODE` records that the operator
//! accepts the transactions seen. Run at start and before each round.
//!
//! What it cannot see: a foreign transaction that takes a nonce this ledger
//! also signed (both signers sending at the same moment) leaves the count
//! where it would be; the ledger's reconciliation then finds its own
//! transaction unmined and the next check, one nonce later, the surplus.

use std::time::Duration;

use alloy::eips::BlockId;
use alloy::primitives::{Address, U64};
use alloy::providers::Provider;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::context::Voting;
use crate::ledger::KeyAck;

/// How often the start-up check is retried while the chain is not reachable.
const START_RETRY: Duration = Duration::from_secs(2);

/// The answer to `govnode keys ack`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Acknowledged {
    pub ack: KeyAck,
    pub was_paused: bool,
    /// Still paused after the acknowledgement (a transaction arrived meanwhile).
    pub paused: Option<String>,
}

async fn chain_nonce(v: &Voting, address: Address) -> Result<u64, String> {
    v.provider
        .get_transaction_count(address)
        .latest()
        .await
        .map_err(|e| format!("cannot read its transaction count: {e}"))
}

/// Every voter's transaction count, in JSON-RPC batches (as the round reads
/// balances), in voter order.
async fn chain_nonces(v: &Voting) -> Vec<Result<u64, String>> {
    let params = v
        .voters
        .iter()
        .map(|n| (n.address, BlockId::latest()))
        .collect();
    crate::dao::call_many::<_, U64>(
        &v.provider,
        "eth_getTransactionCount",
        params,
        v.round.batch_size,
        v.round.concurrency,
    )
    .await
    .into_iter()
    .map(|r| {
        r.map(|n| n.to::<u64>())
            .map_err(|e| format!("cannot read its transaction count: {e}"))
    })
    .collect()
}

/// Checks voter `idx` against its transaction count `chain` as read; true
/// when the check could be made.
async fn check_node(v: &Voting, idx: usize, chain: Result<u64, String>) -> bool {
    let voter = &v.voters[idx];
    let name = voter.name.as_str();
    let floor = v
        .ledger
        .key_floor(voter.address)
        .await
        .map_err(|e| format!("cannot read the ledger: {e}"));
    let (chain, floor) = match (chain, floor) {
        (Ok(c), Ok(f)) => (c, f),
        (Err(why), _) | (_, Err(why)) => {
            let why = format!("the key-in-use check could not be made: {why}");
            tracing::warn!(NODE = %name, reason = %why, "votes wait");
            v.keys.set_unverified(name, Some(why));
            return false;
        }
    };
    v.keys.set_unverified(name, None);
    let explained = floor.explained();
    if chain <= explained {
        if v.keys.set_paused(name, None) {
            tracing::info!(NODE = %name, "node resumes");
        }
        return true;
    }
    let signed = floor
        .signed_max
        .map_or("none".to_owned(), |n| n.to_string());
    let acked = floor.acked.map_or("none".to_owned(), |n| n.to_string());
    let reason = format!(
        "its address {} has sent {chain} transaction(s) but this ledger accounts for {explained} \
         (highest nonce signed: {signed}, transaction count acknowledged: {acked}): another signer \
         uses the key; no vote is signed for it until `govnode keys ack {name}`",
        voter.address
    );
    if v.keys.set_paused(name, Some(reason.clone())) {
        tracing::error!(
            critical = true,
            NODE = %name,
            address = %voter.address,
            chain_nonce = chain,
            ledger_nonces = explained,
            %reason,
            "node paused: its key sent transactions this daemon never signed"
        );
    }
    true
}

/// Checks every node; true when each check could be made.
pub async fn check_all(v: &Voting) -> bool {
    let nonces = chain_nonces(v).await;
    let checks = nonces
        .into_iter()
        .enumerate()
        .map(|(i, chain)| check_node(v, i, chain));
    futures::future::join_all(checks)
        .await
        .into_iter()
        .all(|ok| ok)
}

/// The start-up check, repeated until the chain answers for every node.
pub async fn check_at_start(voting: impl Fn() -> Voting, cancel: CancellationToken) {
    loop {
        if check_all(&voting()).await {
            return;
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(START_RETRY) => {}
        }
    }
}

/// `govnode keys ack NODE`: records the address's current transaction
/// count as accepted and checks the node again.
pub async fn acknowledge(v: &Voting, node: &str) -> Result<Acknowledged, String> {
    let Some(idx) = v.voters.iter().position(|n| n.name == node) else {
        let names: Vec<&str> = v.voters.iter().map(|n| n.name.as_str()).collect();
        return Err(format!(
            "no node named {node:?} (configured: {})",
            names.join(", ")
        ));
    };
    let voter = &v.voters[idx];
    // Checked first, so the answer tells whether the node was paused even
    // when the start-up check has not got to it yet.
    check_node(v, idx, chain_nonce(v, voter.address).await).await;
    let was_paused = v.keys.paused(node).is_some();
    let nonce = chain_nonce(v, voter.address).await?;
    let ack = v
        .ledger
        .record_key_ack(node, voter.address, nonce)
        .await
        .map_err(|e| format!("cannot record the acknowledgement: {e}"))?;
    tracing::warn!(
        NODE = %node,
        address = %voter.address,
        nonce,
        was_paused,
        "operator acknowledged the key's transactions"
    );
    check_node(v, idx, chain_nonce(v, voter.address).await).await;
    Ok(Acknowledged {
        ack,
        was_paused,
        paused: v.keys.paused(node),
    })
}
