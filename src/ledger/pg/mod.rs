//! The PostgreSQL backend of the ledger: the same tables, steps and
//! guarantees as the SQLite file, for operators who keep their state in a
//! database server.
//!
//! One connection, behind an async mutex: writes are serialised as on
//! SQLite, and a lost connection is replaced on the next call (a statement
//! in flight when the server went away fails, and its transaction never
//! committed). Every write goes through [`begin_write`], which fixes the
//! durability of that one transaction.

pub mod connect;
pub mod queries;
pub mod schema;
pub mod votes;

use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};
use tokio_postgres::{Client, Transaction};

use super::error::LedgerError;
use super::schema::LedgerIdentity;
pub use connect::{PgTarget, SslMode};

/// Whether a commit waits for the server's WAL flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Intents and signatures: on disk before the vote is signed or sent.
    Durable,
    /// Facts the chain can tell again (sent, mined, reasons, decisions).
    Relaxed,
}

#[derive(Debug)]
pub struct PgLedger {
    client: Mutex<Option<Client>>,
    target: PgTarget,
    described: String,
}

impl PgLedger {
    /// Connects, migrates and checks the identity, as the SQLite open does.
    pub async fn open(target: PgTarget, identity: LedgerIdentity) -> Result<Self, LedgerError> {
        Self::open_with(target, identity, schema::MIGRATIONS).await
    }

    pub(crate) async fn open_with(
        target: PgTarget,
        identity: LedgerIdentity,
        migrations: &[&str],
    ) -> Result<Self, LedgerError> {
        let described = target.describe();
        let mut client = target.connect().await?;
        schema::prepare(&mut client, &described, identity, migrations).await?;
        Ok(PgLedger {
            client: Mutex::new(Some(client)),
            target,
            described,
        })
    }

    /// Where the ledger is, without credentials.
    pub fn describe(&self) -> &str {
        &self.described
    }

    /// The connection, opened again if the last one was lost.
    pub async fn session(&self) -> Result<MappedMutexGuard<'_, Client>, LedgerError> {
        let mut guard = self.client.lock().await;
        if guard.as_ref().is_none_or(Client::is_closed) {
            *guard = None;
            *guard = Some(self.target.connect().await?);
            tracing::info!(target = %self.described, "ledger database connection opened again");
        }
        MutexGuard::try_map(guard, Option::as_mut)
            .map_err(|_| LedgerError::Task("the ledger database connection vanished".into()))
    }
}

/// Opens every write transaction of the PostgreSQL backend. Durable
/// transactions set `synchronous_commit = on` themselves, whatever the
/// server's default, so the commit returns only once the WAL is flushed.
///
/// A fencing check (a lease token compared in this same transaction) belongs
/// here: every write passes through this function before its first statement.
pub async fn begin_write(
    client: &mut Client,
    durability: Durability,
) -> Result<Transaction<'_>, LedgerError> {
    let tx = client.transaction().await?;
    tx.batch_execute(match durability {
        Durability::Durable => "SET LOCAL synchronous_commit = on",
        Durability::Relaxed => "SET LOCAL synchronous_commit = off",
    })
    .await?;
    Ok(tx)
}

/// One write transaction on `$pg`: `$body` runs with `$tx` open and is
/// committed if it succeeds (dropped, so rolled back, if not).
macro_rules! pg_write {
    ($pg:expr, $durability:expr, |$tx:ident| $body:expr) => {{
        let mut client = $pg.session().await?;
        let $tx = $crate::ledger::pg::begin_write(&mut client, $durability).await?;
        let out = $body.await?;
        $tx.commit().await?;
        Ok(out)
    }};
}

/// One read (or single-statement write, atomic by itself) on `$pg`.
macro_rules! pg_read {
    ($pg:expr, |$c:ident| $body:expr) => {{
        let $c = $pg.session().await?;
        $body.await
    }};
}

pub(crate) use {pg_read, pg_write};
