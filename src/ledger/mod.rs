//! The vote ledger: govnode's memory of every vote it decided and sent, in
//! SQLite (the default) or PostgreSQL, modelled on a validator client's
//! slashing protection.
//!
//! One ledger holds the rows of every DAO the daemon votes in, on every
//! chain: votes, decisions and rounds are keyed by (chain, DAO, ...), and
//! the pairs it has seen are registered in `ledger_daos`. A [`Ledger`]
//! handle is scoped to one pair ([`Ledger::scoped`] gives another pair's
//! handle over the same connection): its reads and writes of votes,
//! decisions and rounds see that DAO only. A wallet's nonces, spend and key
//! acknowledgements are per (chain, wallet), shared by every DAO on the
//! chain, since one address signs for all of them there.
//!
//! The protocol for one (chain, dao, proposal, voter):
//! 1. [`Ledger::record_intent`] before signing — the decision and its reason;
//!    if a row exists, it is returned instead and the caller never decides again;
//! 2. [`Ledger::record_signed`] before broadcasting — nonce, hash, raw bytes;
//! 3. [`Ledger::mark_sent`] once a node accepted it;
//! 4. [`Ledger::mark_mined`] with the receipt (`confirmed` / `reverted`).
//!
//! Each step is one transaction that checks the previous state. Steps 1 and
//! 2 are fsynced before the round goes on (a round records all its intents
//! in one transaction, [`Ledger::record_intents`]); steps 3 and 4 record what
//! the chain itself shows and can be re-read from it, so they are written
//! without waiting for the disk ([`Ledger::with_connection_relaxed`]): a
//! power cut may undo them, and [`reconcile`] then reads the same facts
//! again. A process crash loses nothing (the data is in the OS already), and
//! the next fsynced commit makes them durable too (the WAL is one file,
//! synced as a whole). After a crash, [`reconcile`] compares every unfinished
//! row with the chain before anything is sent again.
//!
//! SQLite: one connection, behind a mutex, used from `spawn_blocking`: writes
//! are serialised by construction, and SQLite's online backup can run on the
//! same connection later without a second writer. The modules `schema`,
//! `votes` and `queries` are this backend; [`pg`] is the PostgreSQL one,
//! with the same steps and the same durability (see its documentation).
//! The rest of govnode sees only [`Ledger`]'s methods, whichever backend.

mod error;
mod facts;
mod key_acks;
mod model;
pub mod pg;
mod queries;
mod reconcile;
mod schema;
mod snapshot;
mod votes;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use alloy::primitives::{Address, B256, Bytes, U256};
use rusqlite::Connection;

use pg::Durability::{Durable, Relaxed};
use pg::{PgLedger, PgTarget, pg_read, pg_write};

pub use error::LedgerError;
pub use facts::{
    ReconcileError, Reconciled, apply, mined as mined_from_receipt, reconcile, reconcile_for,
};
pub use key_acks::{KeyAck, KeyFloor};
use model::Scope;
pub use model::{
    Attempt, FoundVote, Intent, Mined, NewIntent, NodeVoteCounts, RoundRow, VoteRow, VoteSource,
    VoteState, now_ms,
};
/// Per-node vote counts on a connection of its own (a read-only one, say).
pub use queries::counts as node_vote_counts;
pub use reconcile::{Action, Facts, decide};
pub use schema::{
    APPLICATION_ID, LedgerIdentity, MOVED_TO_KEY, SCHEMA_VERSION, prepare_connection,
    prepare_schema,
};
pub use snapshot::{LedgerInfo, each_vote, inspect, open_read_only};
pub use votes::{DecisionRecord, SignedVote};

/// A handle on the ledger, scoped to one (chain, DAO) pair; clones and
/// [`Ledger::scoped`] handles share the connection.
#[derive(Debug, Clone)]
pub struct Ledger {
    backend: Arc<Backend>,
    identity: LedgerIdentity,
    scope: Arc<Scope>,
}

#[derive(Debug)]
enum Backend {
    Sqlite {
        conn: Mutex<Connection>,
        path: PathBuf,
    },
    Postgres(PgLedger),
}

/// Which backend a method runs on: SQLite closures run on a blocking
/// thread, PostgreSQL ones on the async connection.
macro_rules! on_backend {
    ($self:ident, sqlite: $sqlite:expr, pg: |$pg:ident| $pg_body:expr) => {
        match &*$self.backend {
            Backend::Sqlite { .. } => $sqlite.await,
            Backend::Postgres($pg) => $pg_body,
        }
    };
}

impl Ledger {
    /// Opens or creates the SQLite ledger at `path` (creating its
    /// directory), migrates it, and registers `identity` if the ledger has
    /// not seen that (chain, DAO) pair yet; the handle is scoped to it.
    /// Blocking: call at start-up or from `spawn_blocking`.
    pub fn open(path: &Path, identity: LedgerIdentity) -> Result<Ledger, LedgerError> {
        let conn = schema::open(path, identity)?;
        Ledger::with_backend(
            Backend::Sqlite {
                conn: Mutex::new(conn),
                path: path.to_owned(),
            },
            identity,
        )
    }

    /// Connects to the PostgreSQL ledger, migrates it and registers
    /// `identity` as [`Ledger::open`] does.
    pub async fn open_postgres(
        target: PgTarget,
        identity: LedgerIdentity,
    ) -> Result<Ledger, LedgerError> {
        let pg = PgLedger::open(target, identity).await?;
        Ledger::with_backend(Backend::Postgres(pg), identity)
    }

    /// The ledger the configuration names: `ledger.kind` picks the backend.
    pub async fn open_configured(
        location: &LedgerLocation,
        identity: LedgerIdentity,
    ) -> Result<Ledger, LedgerError> {
        Ledger::open_fenced(location, identity, None).await
    }

    /// [`Ledger::open_configured`]; with `fence` (active/standby daemons on
    /// one PostgreSQL database) every write passes only while this daemon
    /// holds the lease.
    pub async fn open_fenced(
        location: &LedgerLocation,
        identity: LedgerIdentity,
        fence: Option<pg::FenceSet>,
    ) -> Result<Ledger, LedgerError> {
        match (location, fence) {
            (LedgerLocation::Postgres(target), Some(fence)) => {
                let pg = PgLedger::open_fenced(target.clone(), identity, fence).await?;
                Ledger::with_backend(Backend::Postgres(pg), identity)
            }
            (location, _) => Ledger::open_unfenced(location, identity).await,
        }
    }

    async fn open_unfenced(
        location: &LedgerLocation,
        identity: LedgerIdentity,
    ) -> Result<Ledger, LedgerError> {
        match location {
            LedgerLocation::Sqlite(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || Ledger::open(&path, identity))
                    .await
                    .map_err(|e| LedgerError::Task(e.to_string()))?
            }
            LedgerLocation::Postgres(target) => {
                Ledger::open_postgres(target.clone(), identity).await
            }
        }
    }

    fn with_backend(backend: Backend, identity: LedgerIdentity) -> Result<Ledger, LedgerError> {
        Ok(Ledger {
            backend: Arc::new(backend),
            identity,
            scope: Arc::new(identity.scope()?),
        })
    }

    /// A handle for another (chain, DAO) pair over the same connection (and
    /// the same fence), registering the pair if the ledger has not seen it.
    /// Registering is bookkeeping, not a vote: it needs no lease.
    pub async fn scoped(&self, identity: LedgerIdentity) -> Result<Ledger, LedgerError> {
        let scope = identity.scope()?;
        match &*self.backend {
            Backend::Sqlite { .. } => {
                self.with_connection(move |c| schema::register(c, identity))
                    .await?;
            }
            Backend::Postgres(pg) => {
                pg.bounded(async {
                    let mut c = pg.session().await?;
                    pg::schema::register(&mut c, identity).await
                })
                .await?;
            }
        }
        Ok(Ledger {
            backend: Arc::clone(&self.backend),
            identity,
            scope: Arc::new(scope),
        })
    }

    /// Every (chain, DAO) pair the ledger holds, ordered by chain and DAO.
    pub async fn registered(&self) -> Result<Vec<LedgerIdentity>, LedgerError> {
        on_backend!(self,
            sqlite: self.with_connection(|c| schema::registered(c)),
            pg: |pg| pg_read!(pg, |c| pg::schema::registered(&*c)))
    }

    /// Refuses a DAO other than the handle's: a bug in the caller, which
    /// would otherwise file or find rows under the wrong pair.
    fn check_dao(&self, dao: Address) -> Result<(), LedgerError> {
        if dao == self.identity.dao {
            return Ok(());
        }
        Err(LedgerError::OtherDao {
            handle: self.identity.to_string(),
            asked: format!("{dao:#x}"),
        })
    }

    fn scope(&self) -> Scope {
        (*self.scope).clone()
    }

    /// The same ledger, its writes fenced by `fence` (a round's lease
    /// groups). A SQLite ledger has no fence and is returned as it is.
    pub fn fenced_by(&self, fence: pg::FenceSet) -> Ledger {
        match &*self.backend {
            Backend::Postgres(pg) => Ledger {
                backend: Arc::new(Backend::Postgres(pg.fenced_by(fence))),
                identity: self.identity,
                scope: Arc::clone(&self.scope),
            },
            Backend::Sqlite { .. } => self.clone(),
        }
    }

    /// The SQLite file, or `None` on PostgreSQL.
    pub fn path(&self) -> Option<&Path> {
        match &*self.backend {
            Backend::Sqlite { path, .. } => Some(path),
            Backend::Postgres(_) => None,
        }
    }

    /// The file or database, for messages (never with credentials).
    pub fn describe(&self) -> String {
        match &*self.backend {
            Backend::Sqlite { path, .. } => path.display().to_string(),
            Backend::Postgres(pg) => pg.describe().to_owned(),
        }
    }

    /// The PostgreSQL database's connection details, for a connection of
    /// its own; `None` on SQLite.
    pub fn postgres_target(&self) -> Option<&PgTarget> {
        self.postgres().map(PgLedger::target)
    }

    /// Right before a transaction leaves the process: with a fence, proves
    /// in a transaction of its own that this daemon still holds the lease
    /// (see [`pg::fence`]). Without one there is nothing to prove.
    pub async fn check_fence(&self) -> Result<(), LedgerError> {
        match self.postgres() {
            Some(pg) if pg.fence().is_some() => {
                pg_write!(pg, Relaxed, |tx| async { Ok::<(), LedgerError>(()) })
            }
            _ => Ok(()),
        }
    }

    fn postgres(&self) -> Option<&PgLedger> {
        match &*self.backend {
            Backend::Postgres(pg) => Some(pg),
            Backend::Sqlite { .. } => None,
        }
    }

    /// The (chain, DAO) pair this handle is scoped to.
    pub fn identity(&self) -> LedgerIdentity {
        self.identity
    }

    /// Runs `f` on the SQLite connection on a blocking thread. The SQLite
    /// backend is built on this; a backup uses it to hold the connection
    /// while copying. Refused on PostgreSQL.
    pub async fn with_connection<T, F>(&self, f: F) -> Result<T, LedgerError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, LedgerError> + Send + 'static,
    {
        if let Backend::Postgres(pg) = &*self.backend {
            return Err(LedgerError::NotSqlite(pg.describe().to_owned()));
        }
        let backend = Arc::clone(&self.backend);
        tokio::task::spawn_blocking(move || {
            let Backend::Sqlite { conn, .. } = &*backend else {
                return Err(LedgerError::Task("the SQLite ledger vanished".into()));
            };
            // A panic inside `f` rolled its transaction back when the
            // Transaction dropped, so the connection is still consistent.
            let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut conn)
        })
        .await
        .map_err(|e| LedgerError::Task(e.to_string()))?
    }

    /// Like [`Ledger::with_connection`], with the commit not waiting for the
    /// disk (`synchronous = NORMAL` for this call). Only for facts the chain
    /// can tell again: a power cut may lose them, a process crash does not.
    pub async fn with_connection_relaxed<T, F>(&self, f: F) -> Result<T, LedgerError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, LedgerError> + Send + 'static,
    {
        self.with_connection(move |c| {
            c.execute_batch("PRAGMA synchronous = NORMAL")?;
            let result = f(c);
            let restored = c.execute_batch("PRAGMA synchronous = FULL");
            let out = result?;
            restored?;
            Ok(out)
        })
        .await
    }

    pub async fn record_intent(&self, intent: NewIntent) -> Result<Intent, LedgerError> {
        let mut recorded = self.record_intents(vec![intent]).await?;
        recorded
            .pop()
            .ok_or_else(|| LedgerError::Task("an intent went unrecorded".into()))
    }

    /// [`Ledger::record_intent`] for many votes in one fsynced transaction;
    /// all or none are recorded. Results in input order. Every intent must
    /// be for this handle's DAO; its chain is the handle's.
    pub async fn record_intents(
        &self,
        intents: Vec<NewIntent>,
    ) -> Result<Vec<Intent>, LedgerError> {
        intents.iter().try_for_each(|i| self.check_dao(i.dao))?;
        let s = self.scope();
        on_backend!(self,
            sqlite: self.with_connection(move |c| votes::record_intents(c, &s, &intents)),
            pg: |pg| pg_write!(pg, Durable, |tx| pg::votes::record_intents(&tx, &s, &intents)))
    }

    pub async fn record_signed(
        &self,
        id: i64,
        nonce: u64,
        tx_hash: B256,
        raw: Bytes,
    ) -> Result<VoteRow, LedgerError> {
        let signed = SignedVote {
            id,
            nonce,
            tx_hash,
            raw,
            max_cost: None,
        };
        let mut rows = self.record_signed_many(vec![signed]).await?;
        rows.pop()
            .ok_or_else(|| LedgerError::Task("a signature went unrecorded".into()))
    }

    /// [`Ledger::record_signed`] for many votes (a wallet's, in nonce order)
    /// in one fsynced transaction; all or none are recorded.
    pub async fn record_signed_many(
        &self,
        signed: Vec<SignedVote>,
    ) -> Result<Vec<VoteRow>, LedgerError> {
        on_backend!(self,
            sqlite: self.with_connection(move |c| votes::record_signed_many(c, &signed)),
            pg: |pg| pg_write!(pg, Durable, |tx| pg::votes::record_signed_many(&tx, &signed)))
    }

    pub async fn record_replacement(
        &self,
        id: i64,
        tx_hash: B256,
        raw: Bytes,
        max_cost: Option<U256>,
    ) -> Result<VoteRow, LedgerError> {
        on_backend!(self,
        sqlite: self.with_connection(move |c| {
            votes::record_replacement(c, id, tx_hash, &raw, max_cost)
        }),
        pg: |pg| pg_write!(pg, Durable, |tx| {
            pg::votes::record_replacement(&tx, id, tx_hash, &raw, max_cost)
        }))
    }

    /// Back to `intent` after the chain refused or reverted the vote while
    /// the proposal stays open (see [`votes::rearm`] for what the caller proves).
    pub async fn rearm(&self, id: i64, reason: &str) -> Result<VoteRow, LedgerError> {
        let reason = reason.to_owned();
        on_backend!(self,
            sqlite: self.with_connection(move |c| votes::rearm(c, id, &reason)),
            pg: |pg| pg_write!(pg, Durable, |tx| pg::votes::rearm(&tx, id, &reason)))
    }

    /// Not fsynced: a reason, re-derived from the chain if lost.
    pub async fn set_error(&self, id: i64, reason: &str) -> Result<VoteRow, LedgerError> {
        let reason = reason.to_owned();
        on_backend!(self,
            sqlite: self.with_connection_relaxed(move |c| votes::set_error(c, id, &reason)),
            pg: |pg| pg_write!(pg, Relaxed, |tx| pg::votes::set_error(&tx, id, &reason)))
    }

    /// Votes on chain that had no row; see [`votes::record_found`].
    pub async fn record_found(
        &self,
        found: Vec<FoundVote>,
    ) -> Result<Vec<Option<VoteRow>>, LedgerError> {
        found.iter().try_for_each(|f| self.check_dao(f.dao))?;
        let s = self.scope();
        on_backend!(self,
            sqlite: self.with_connection(move |c| votes::record_found(c, &s, &found)),
            pg: |pg| pg_write!(pg, Durable, |tx| pg::votes::record_found(&tx, &s, &found)))
    }

    /// Not fsynced: decisions are made again by the next round if lost.
    pub async fn record_decisions(
        &self,
        decisions: Vec<DecisionRecord>,
    ) -> Result<(), LedgerError> {
        decisions.iter().try_for_each(|d| self.check_dao(d.dao))?;
        let s = self.scope();
        on_backend!(self,
            sqlite: self.with_connection_relaxed(move |c| votes::record_decisions(c, &s, &decisions)),
            pg: |pg| pg_write!(pg, Relaxed, |tx| pg::votes::record_decisions(&tx, &s, &decisions)))
    }

    /// Wei `voter` spent (or may still spend) on attempts signed since
    /// `since_ms` on this handle's chain, in every DAO there: the budget is
    /// the wallet's, and the wallet is per chain.
    pub async fn spent_since(&self, voter: Address, since_ms: i64) -> Result<U256, LedgerError> {
        let chain = self.scope.chain;
        on_backend!(self,
            sqlite: self.with_connection(move |c| votes::spent_since(c, chain, voter, since_ms)),
            pg: |pg| pg_read!(pg, |c| pg::votes::spent_since(&*c, chain, voter, since_ms)))
    }

    /// Not fsynced: a row left `signed` is reconciled against the chain.
    pub async fn mark_sent(&self, id: i64) -> Result<VoteRow, LedgerError> {
        on_backend!(self,
            sqlite: self.with_connection_relaxed(move |c| votes::mark_sent(c, id)),
            pg: |pg| pg_write!(pg, Relaxed, |tx| pg::votes::mark_sent(&tx, id)))
    }

    /// Not fsynced: the receipt stays on the chain for reconciliation to find.
    pub async fn mark_mined(&self, id: i64, mined: Mined) -> Result<VoteRow, LedgerError> {
        on_backend!(self,
            sqlite: self.with_connection_relaxed(move |c| votes::mark_mined(c, id, &mined)),
            pg: |pg| pg_write!(pg, Relaxed, |tx| pg::votes::mark_mined(&tx, id, &mined)))
    }

    /// Gave up after proving the vote cannot land; from intent, signed or sent.
    pub async fn mark_failed(&self, id: i64, reason: &str) -> Result<VoteRow, LedgerError> {
        self.finish(id, VoteState::Failed, reason).await
    }

    /// Never signed and never will be (closed, refused on estimation); from intent.
    pub async fn mark_abandoned(&self, id: i64, reason: &str) -> Result<VoteRow, LedgerError> {
        self.finish(id, VoteState::Abandoned, reason).await
    }

    /// The chain shows a vote from this voter that is not ours to confirm.
    pub async fn mark_external(&self, id: i64, reason: &str) -> Result<VoteRow, LedgerError> {
        self.finish(id, VoteState::ConfirmedExternal, reason).await
    }

    async fn finish(&self, id: i64, to: VoteState, reason: &str) -> Result<VoteRow, LedgerError> {
        let reason = reason.to_owned();
        on_backend!(self,
            sqlite: self.with_connection(move |c| votes::finish(c, id, to, &reason)),
            pg: |pg| pg_write!(pg, Durable, |tx| pg::votes::finish(&tx, id, to, &reason)))
    }

    pub async fn reset_to_intent(&self, id: i64, reason: &str) -> Result<VoteRow, LedgerError> {
        let reason = reason.to_owned();
        on_backend!(self,
            sqlite: self.with_connection(move |c| votes::reset_to_intent(c, id, &reason)),
            pg: |pg| pg_write!(pg, Durable, |tx| pg::votes::reset_to_intent(&tx, id, &reason)))
    }

    /// The latest strategy decision per node on one proposal, skips included.
    pub async fn decisions_by_proposal(
        &self,
        dao: Address,
        proposal_id: U256,
    ) -> Result<Vec<DecisionRecord>, LedgerError> {
        self.check_dao(dao)?;
        let s = self.scope();
        on_backend!(self,
            sqlite: self.with_connection(move |c| {
                queries::decisions_by_proposal(c, &s, dao, proposal_id)
            }),
            pg: |pg| pg_read!(pg, |c| pg::queries::decisions_by_proposal(&*c, &s, dao, proposal_id)))
    }

    pub async fn vote(&self, id: i64) -> Result<Option<VoteRow>, LedgerError> {
        on_backend!(self,
            sqlite: self.with_connection(move |c| votes::get(c, id)),
            pg: |pg| pg_read!(pg, |c| pg::votes::get(&*c, id)))
    }

    pub async fn vote_for(
        &self,
        dao: Address,
        proposal_id: U256,
        voter: Address,
    ) -> Result<Option<VoteRow>, LedgerError> {
        let mut rows = self.votes_for(dao, vec![(proposal_id, voter)]).await?;
        Ok(rows.pop().flatten())
    }

    /// [`Ledger::vote_for`] of many (proposal, voter) pairs of `dao` in one
    /// visit to the database; results in input order.
    pub async fn votes_for(
        &self,
        dao: Address,
        pairs: Vec<(U256, Address)>,
    ) -> Result<Vec<Option<VoteRow>>, LedgerError> {
        self.check_dao(dao)?;
        let s = self.scope();
        on_backend!(self,
        sqlite: self.with_connection(move |c| {
            pairs
                .into_iter()
                .map(|(proposal_id, voter)| queries::vote_for(c, &s, proposal_id, voter))
                .collect()
        }),
        pg: |pg| pg.bounded(async {
            let c = pg.session().await?;
            let mut out = Vec::with_capacity(pairs.len());
            for (proposal_id, voter) in pairs {
                out.push(pg::queries::vote_for(&*c, &s, proposal_id, voter).await?);
            }
            Ok(out)
        }).await)
    }

    pub async fn attempts(&self, id: i64) -> Result<Vec<Attempt>, LedgerError> {
        on_backend!(self,
            sqlite: self.with_connection(move |c| votes::attempts(c, id)),
            pg: |pg| pg_read!(pg, |c| pg::votes::attempts(&*c, id)))
    }

    /// This DAO's unfinished rows, oldest first.
    pub async fn pending(&self) -> Result<Vec<VoteRow>, LedgerError> {
        let s = self.scope();
        on_backend!(self,
            sqlite: self.with_connection(move |c| queries::pending(c, &s)),
            pg: |pg| pg_read!(pg, |c| pg::queries::pending(&*c, &s)))
    }

    /// A node's votes in this DAO, newest first.
    pub async fn votes_by_node(&self, node: &str, limit: u32) -> Result<Vec<VoteRow>, LedgerError> {
        let node = node.to_owned();
        let s = self.scope();
        on_backend!(self,
            sqlite: self.with_connection(move |c| queries::by_node(c, &s, &node, limit)),
            pg: |pg| pg_read!(pg, |c| pg::queries::by_node(&*c, &s, &node, limit)))
    }

    pub async fn votes_by_proposal(
        &self,
        dao: Address,
        proposal_id: U256,
    ) -> Result<Vec<VoteRow>, LedgerError> {
        self.check_dao(dao)?;
        let s = self.scope();
        on_backend!(self,
            sqlite: self.with_connection(move |c| queries::by_proposal(c, &s, proposal_id)),
            pg: |pg| pg_read!(pg, |c| pg::queries::by_proposal(&*c, &s, proposal_id)))
    }

    pub async fn votes_by_round(&self, round_id: i64) -> Result<Vec<VoteRow>, LedgerError> {
        let s = self.scope();
        on_backend!(self,
            sqlite: self.with_connection(move |c| queries::by_round(c, &s, round_id)),
            pg: |pg| pg_read!(pg, |c| pg::queries::by_round(&*c, &s, round_id)))
    }

    /// Per-node counts of this DAO's votes.
    pub async fn vote_counts(&self) -> Result<Vec<NodeVoteCounts>, LedgerError> {
        let s = self.scope();
        on_backend!(self,
            sqlite: self.with_connection(move |c| queries::counts_for(c, &s)),
            pg: |pg| pg_read!(pg, |c| pg::queries::counts(&*c, &s)))
    }

    /// The highest nonce `voter` signed with on this handle's chain, in any
    /// DAO there: the wallet's nonces are per chain.
    pub async fn max_nonce(&self, voter: Address) -> Result<Option<u64>, LedgerError> {
        let chain = self.scope.chain;
        on_backend!(self,
            sqlite: self.with_connection(move |c| queries::max_nonce(c, chain, voter)),
            pg: |pg| pg_read!(pg, |c| pg::queries::max_nonce(&*c, chain, voter)))
    }

    pub async fn start_round(
        &self,
        trigger: &str,
        head_block: Option<u64>,
    ) -> Result<i64, LedgerError> {
        let trigger = trigger.to_owned();
        let s = self.scope();
        on_backend!(self,
        sqlite: self.with_connection(move |c| queries::start_round(c, &s, &trigger, head_block)),
        pg: |pg| {
            let groups = pg.fence().map(pg::FenceSet::groups);
            pg_write!(pg, Durable, |tx| pg::queries::start_round(&tx, &s, &trigger, head_block, groups.as_deref()))
        })
    }

    pub async fn set_round_head(&self, id: i64, head_block: u64) -> Result<(), LedgerError> {
        let s = self.scope();
        on_backend!(self,
            sqlite: self.with_connection(move |c| queries::set_round_head(c, &s, id, head_block)),
            pg: |pg| pg_write!(pg, Durable, |tx| pg::queries::set_round_head(&tx, &s, id, head_block)))
    }

    pub async fn finish_round(
        &self,
        id: i64,
        outcome: &str,
        summary: serde_json::Value,
    ) -> Result<(), LedgerError> {
        let outcome = outcome.to_owned();
        let s = self.scope();
        on_backend!(self,
        sqlite: self.with_connection(move |c| queries::finish_round(c, &s, id, &outcome, &summary)),
        pg: |pg| pg_write!(pg, Durable, |tx| {
            pg::queries::finish_round(&tx, &s, id, &outcome, &summary)
        }))
    }

    /// Marks this DAO's rounds left unfinished. `group`: only those that
    /// voted for that lease group (a daemon taking one group over leaves its
    /// own running round of another group alone); `None`: all of this DAO's.
    pub async fn interrupt_unfinished_rounds(
        &self,
        group: Option<&str>,
    ) -> Result<usize, LedgerError> {
        let group = group.map(str::to_owned);
        let s = self.scope();
        on_backend!(self,
            sqlite: self.with_connection(move |c| queries::interrupt_unfinished(c, &s)),
            pg: |pg| pg_write!(pg, Durable, |tx| pg::queries::interrupt_unfinished(&tx, &s, group.as_deref())))
    }

    /// This DAO's rounds, newest first.
    pub async fn rounds(
        &self,
        limit: u32,
        before: Option<i64>,
    ) -> Result<Vec<RoundRow>, LedgerError> {
        let s = self.scope();
        on_backend!(self,
            sqlite: self.with_connection(move |c| queries::rounds(c, &s, limit, before)),
            pg: |pg| pg_read!(pg, |c| pg::queries::rounds(&*c, &s, limit, before)))
    }

    pub async fn last_success(&self) -> Result<Option<i64>, LedgerError> {
        let s = self.scope();
        on_backend!(self,
            sqlite: self.with_connection(move |c| queries::last_success(c, &s)),
            pg: |pg| pg_read!(pg, |c| pg::queries::last_success(&*c, &s)))
    }

    pub async fn round_count(&self) -> Result<u64, LedgerError> {
        let s = self.scope();
        on_backend!(self,
            sqlite: self.with_connection(move |c| queries::round_count(c, &s)),
            pg: |pg| pg_read!(pg, |c| pg::queries::round_count(&*c, &s)))
    }

    /// One of this DAO's rounds.
    pub async fn round(&self, id: i64) -> Result<Option<RoundRow>, LedgerError> {
        let s = self.scope();
        on_backend!(self,
            sqlite: self.with_connection(move |c| queries::round(c, &s, id)),
            pg: |pg| pg_read!(pg, |c| pg::queries::round(&*c, &s, id)))
    }
}

/// Where the configured ledger lives.
#[derive(Debug, Clone)]
pub enum LedgerLocation {
    Sqlite(PathBuf),
    Postgres(PgTarget),
}
