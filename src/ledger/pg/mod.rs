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
pub mod fence;
pub mod queries;
pub mod schema;
pub mod votes;

use std::sync::Arc;

use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};
use tokio_postgres::{Client, Transaction};

use super::error::LedgerError;
use super::schema::LedgerIdentity;
pub use connect::{PgTarget, SslMode};
pub use fence::{DEFAULT_GROUP, Fence, FenceSet};

/// Whether a commit waits for the server's WAL flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Intents and signatures: on disk before the vote is signed or sent.
    Durable,
    /// Facts the chain can tell again (sent, mined, reasons, decisions).
    Relaxed,
}

/// A handle on the PostgreSQL ledger; clones share the connection.
#[derive(Debug, Clone)]
pub struct PgLedger {
    conn: Arc<PgConn>,
    /// Set with `ha.enabled`: every write proves the leases first.
    fence: Option<FenceSet>,
}

#[derive(Debug)]
struct PgConn {
    client: Mutex<Option<Client>>,
    target: PgTarget,
    described: String,
}

impl PgLedger {
    /// Connects, migrates and registers the identity if it is new, as the
    /// SQLite open does.
    pub async fn open(target: PgTarget, identity: LedgerIdentity) -> Result<Self, LedgerError> {
        Self::open_with(target, Some(identity), schema::MIGRATIONS).await
    }

    /// Connects and migrates without registering a pair: for the state
    /// tools, which copy the pairs with the rows.
    pub async fn open_schema(target: PgTarget) -> Result<Self, LedgerError> {
        Self::open_with(target, None, schema::MIGRATIONS).await
    }

    /// [`PgLedger::open`] for a daemon of an active/standby deployment:
    /// its writes pass only while `fence` holds the leases.
    pub async fn open_fenced(
        target: PgTarget,
        identity: LedgerIdentity,
        fence: FenceSet,
    ) -> Result<Self, LedgerError> {
        let mut pg = Self::open_with(target, Some(identity), schema::MIGRATIONS).await?;
        pg.fence = Some(fence);
        Ok(pg)
    }

    pub(crate) async fn open_with(
        target: PgTarget,
        identity: Option<LedgerIdentity>,
        migrations: &[&str],
    ) -> Result<Self, LedgerError> {
        let described = target.describe();
        let after = target.query_timeout;
        let opening = async {
            let mut client = target.connect().await?;
            schema::prepare(&mut client, &described, identity, migrations).await?;
            Ok::<_, LedgerError>(client)
        };
        let client =
            tokio::time::timeout(after, opening)
                .await
                .map_err(|_| LedgerError::PgTimeout {
                    target: described.clone(),
                    after,
                })??;
        Ok(PgLedger {
            conn: Arc::new(PgConn {
                client: Mutex::new(Some(client)),
                target,
                described,
            }),
            fence: None,
        })
    }

    pub fn fence(&self) -> Option<&FenceSet> {
        self.fence.as_ref()
    }

    /// The same connection, its writes fenced by `fence` instead.
    pub fn fenced_by(&self, fence: FenceSet) -> Self {
        PgLedger {
            conn: self.conn.clone(),
            fence: Some(fence),
        }
    }

    /// The connection details, for a connection of its own (the lease's).
    pub fn target(&self) -> &PgTarget {
        &self.conn.target
    }

    /// Where the ledger is, without credentials.
    pub fn describe(&self) -> &str {
        &self.conn.described
    }

    /// Runs one ledger operation within `ledger.query_timeout`. A server
    /// that stops answering without closing the connection (a stalled
    /// network, a frozen host) would otherwise hold the caller until TCP
    /// gives up, many minutes later; on timeout the connection is dropped so
    /// that the next operation opens a new one. Whether a transaction whose
    /// COMMIT went unanswered committed is unknown, which the send protocol
    /// already handles as it handles a crash at that point: nothing is
    /// signed or sent after a write that did not return.
    pub async fn bounded<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, LedgerError>>,
    ) -> Result<T, LedgerError> {
        let after = self.conn.target.query_timeout;
        match tokio::time::timeout(after, work).await {
            Ok(done) => done,
            Err(_) => {
                *self.conn.client.lock().await = None;
                tracing::warn!(
                    target = %self.conn.described,
                    "ledger database did not answer in time; connection dropped"
                );
                Err(LedgerError::PgTimeout {
                    target: self.conn.described.clone(),
                    after,
                })
            }
        }
    }

    /// The connection, opened again if the last one was lost.
    pub async fn session(&self) -> Result<MappedMutexGuard<'_, Client>, LedgerError> {
        let mut guard = self.conn.client.lock().await;
        if guard.as_ref().is_none_or(Client::is_closed) {
            *guard = None;
            *guard = Some(self.conn.target.connect().await?);
            tracing::info!(target = %self.conn.described, "ledger database connection opened again");
        }
        MutexGuard::try_map(guard, Option::as_mut)
            .map_err(|_| LedgerError::Task("the ledger database connection vanished".into()))
    }
}

/// Opens every write transaction of the PostgreSQL backend. Durable
/// transactions set `synchronous_commit = on` themselves, whatever the
/// server's default, so the commit returns only once the WAL is flushed.
///
/// With a `fence` (active/standby daemons), the lease is checked in this
/// same transaction before anything is written ([`Fence::check`]), and a
/// transaction left idle (this process paused mid-write) is ended by the
/// server after half the lease, so its lock on the lease row never holds a
/// takeover up for long.
pub async fn begin_write<'a>(
    client: &'a mut Client,
    durability: Durability,
    fence: Option<&FenceSet>,
) -> Result<Transaction<'a>, LedgerError> {
    if let Some(fence) = fence {
        fence.check_local()?;
    }
    let tx = client.transaction().await?;
    let commit = match durability {
        Durability::Durable => "SET LOCAL synchronous_commit = on",
        Durability::Relaxed => "SET LOCAL synchronous_commit = off",
    };
    match fence {
        None => tx.batch_execute(commit).await?,
        Some(fence) => {
            let idle_ms = (fence.lease() / 2).as_millis().max(1);
            tx.batch_execute(&format!(
                "{commit}; SET LOCAL idle_in_transaction_session_timeout = {idle_ms}"
            ))
            .await?;
            fence.check(&tx).await?;
        }
    }
    Ok(tx)
}

/// One write transaction on `$pg`: `$body` runs with `$tx` open and is
/// committed if it succeeds (dropped, so rolled back, if not).
macro_rules! pg_write {
    ($pg:expr, $durability:expr, |$tx:ident| $body:expr) => {{
        let pg = &$pg;
        pg.bounded(async {
            let mut client = pg.session().await?;
            let $tx = $crate::ledger::pg::begin_write(&mut client, $durability, pg.fence()).await?;
            let out = $body.await?;
            $tx.commit().await?;
            Ok::<_, $crate::ledger::LedgerError>(out)
        })
        .await
    }};
}

/// One read (or single-statement write, atomic by itself) on `$pg`.
macro_rules! pg_read {
    ($pg:expr, |$c:ident| $body:expr) => {{
        let pg = &$pg;
        pg.bounded(async {
            let $c = pg.session().await?;
            $body.await
        })
        .await
    }};
}

pub(crate) use {pg_read, pg_write};
