//! A dev chain given with `--rpc-url` may have seen the devnet's node keys
//! before: they derive from a public seed and are the same on every run, so
//! an earlier devnet on the same chain sent transactions from them. The new
//! ledger knows none of those, and the daemon's check for a key in use
//! elsewhere would pause every node. The devnet acknowledges them in the
//! ledger it creates, as an operator does with `govnode keys ack`, and says
//! so — only for these public test keys, which no one else may hold with a
//! claim to them.

use std::path::Path;

use alloy::primitives::Address;

use super::chain::Chain;
use super::deploy::NodeWallet;
use super::error::DevnetError;
use crate::ledger::{Ledger, LedgerIdentity};

pub async fn acknowledge_earlier_use(
    chain: &Chain,
    ledger: &Path,
    chain_id: u64,
    dao: Address,
    nodes: &[NodeWallet],
) -> Result<(), DevnetError> {
    let mut used = Vec::new();
    for node in nodes {
        let address = node.signer.address();
        let nonce = chain.nonce(address).await?;
        if nonce > 0 {
            used.push((node.name.as_str(), address, nonce));
        }
    }
    if used.is_empty() {
        return Ok(());
    }
    let unexpected = |e: crate::ledger::LedgerError| DevnetError::Unexpected {
        what: format!("the devnet's ledger {}", ledger.display()),
        detail: e.to_string(),
    };
    let ledger = Ledger::open(ledger, LedgerIdentity { chain_id, dao }).map_err(unexpected)?;
    for (name, address, nonce) in used {
        ledger
            .record_key_ack(name, address, nonce)
            .await
            .map_err(unexpected)?;
        say!(
            "{name} ({address}) sent {nonce} transaction(s) on this chain before (an earlier devnet): acknowledged in the new ledger, as `govnode keys ack {name}` would"
        );
    }
    Ok(())
}
