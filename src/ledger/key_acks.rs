//! What the ledger knows of each address's transaction count: the highest
//! nonce it signed a vote with, and the counts operators acknowledged with
//! `govnode keys ack`. The doppelganger check compares them with the chain.
//!
//! Both are per (chain, address): one wallet signs for every DAO on its
//! chain, so a handle of any DAO there sees the same floor.

use alloy::primitives::Address;
use rusqlite::Connection;
use serde::Serialize;

use super::model::{addr, now_ms};
use super::pg::Durability::Durable;
use super::pg::pg_write;
use super::{Ledger, LedgerError, pg, queries};

/// The transaction count the ledger can account for, for one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyFloor {
    /// The highest nonce a vote was signed with.
    pub signed_max: Option<u64>,
    /// The highest transaction count an operator acknowledged.
    pub acked: Option<u64>,
}

impl KeyFloor {
    /// The most transactions the address may have sent without anyone but
    /// this ledger (or an acknowledged past) sending them.
    pub fn explained(&self) -> u64 {
        let signed = self.signed_max.map_or(0, |n| n.saturating_add(1));
        signed.max(self.acked.unwrap_or(0))
    }
}

/// One recorded acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct KeyAck {
    pub node: String,
    pub voter: Address,
    /// The address's transaction count (latest block) when acknowledged.
    pub nonce: u64,
    /// Unix milliseconds.
    pub acked_at: i64,
}

impl Ledger {
    pub async fn key_floor(&self, voter: Address) -> Result<KeyFloor, LedgerError> {
        let chain = self.scope.chain;
        if let Some(pg) = self.postgres() {
            return pg
                .bounded(async {
                    let c = pg.session().await?;
                    Ok(KeyFloor {
                        signed_max: pg::queries::max_nonce(&*c, chain, voter).await?,
                        acked: pg::queries::acked(&*c, chain, voter).await?,
                    })
                })
                .await;
        }
        self.with_connection(move |c| {
            Ok(KeyFloor {
                signed_max: queries::max_nonce(c, chain, voter)?,
                acked: acked(c, chain, voter)?,
            })
        })
        .await
    }

    /// Records (fsynced) that `node`'s address had sent `nonce` transactions
    /// the operator accepts.
    pub async fn record_key_ack(
        &self,
        node: &str,
        voter: Address,
        nonce: u64,
    ) -> Result<KeyAck, LedgerError> {
        let ack = KeyAck {
            node: node.to_owned(),
            voter,
            nonce,
            acked_at: now_ms(),
        };
        let chain = self.scope.chain;
        if let Some(pg) = self.postgres() {
            let result: Result<(), LedgerError> =
                pg_write!(pg, Durable, |tx| pg::queries::record_key_ack(
                    &tx, chain, &ack
                ));
            result?;
            return Ok(ack);
        }
        let row = ack.clone();
        self.with_connection(move |c| {
            c.execute(
                "INSERT INTO key_acks (chain_id, voter, node, nonce, acked_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![
                    chain,
                    addr(row.voter),
                    row.node,
                    i64::try_from(row.nonce).unwrap_or(i64::MAX),
                    row.acked_at
                ],
            )?;
            Ok(())
        })
        .await?;
        Ok(ack)
    }
}

fn acked(conn: &Connection, chain: i64, voter: Address) -> Result<Option<u64>, LedgerError> {
    let n: Option<i64> = conn.query_row(
        "SELECT max(nonce) FROM key_acks WHERE chain_id = ?1 AND voter = ?2",
        rusqlite::params![chain, addr(voter)],
        |r| r.get(0),
    )?;
    Ok(n.map(|v| v.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_is_the_later_of_what_was_signed_and_what_was_acknowledged() {
        let floor = |signed_max, acked| KeyFloor { signed_max, acked }.explained();
        assert_eq!(floor(None, None), 0);
        assert_eq!(floor(Some(0), None), 1);
        assert_eq!(floor(Some(4), Some(3)), 5);
        assert_eq!(floor(Some(4), Some(9)), 9);
        assert_eq!(floor(None, Some(2)), 2);
    }
}
