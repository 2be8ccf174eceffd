//! The vote ledger: govnode's memory of every vote it decided and sent, in
//! SQLite, modelled on a validator client's slashing protection.
//!
//! The protocol for one (dao, proposal, voter):
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
//! One connection, behind a mutex, used from `spawn_blocking`: writes are
//! serialised by construction, and SQLite's online backup can run on the same
//! connection later without a second writer.

mod error;
mod facts;
mod key_acks;
mod model;
mod queries;
mod reconcile;
mod schema;
mod snapshot;
mod votes;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use alloy::primitives::{Address, B256, Bytes, U256};
use rusqlite::Connection;

pub use error::LedgerError;
pub use facts::{ReconcileError, Reconciled, apply, mined as mined_from_receipt, reconcile};
pub use key_acks::{KeyAck, KeyFloor};
pub use model::{
    Attempt, FoundVote, Intent, Mined, NewIntent, NodeVoteCounts, RoundRow, VoteRow, VoteSource,
    VoteState, now_ms,
};
/// Per-node vote counts on a connection of its own (a read-only one, say).
pub use queries::counts as node_vote_counts;
pub use reconcile::{Action, Facts, decide};
pub use schema::{APPLICATION_ID, LedgerIdentity, SCHEMA_VERSION};
pub use snapshot::{LedgerInfo, each_vote, inspect, open_read_only};
pub use votes::{DecisionRecord, SignedVote};

#[derive(Debug, Clone)]
pub struct Ledger {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    conn: Mutex<Connection>,
    path: PathBuf,
    identity: LedgerIdentity,
}

impl Ledger {
    /// Opens or creates the ledger at `path` (creating its directory),
    /// migrates it, and refuses it if it belongs to another chain or DAO.
    /// Blocking: call at start-up or from `spawn_blocking`.
    pub fn open(path: &Path, identity: LedgerIdentity) -> Result<Ledger, LedgerError> {
        let conn = schema::open(path, identity)?;
        Ok(Ledger {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                path: path.to_owned(),
                identity,
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    pub fn identity(&self) -> LedgerIdentity {
        self.inner.identity
    }

    /// Runs `f` on the connection on a blocking thread. Everything else is
    /// built on this; a backup uses it to hold the connection while copying.
    pub async fn with_connection<T, F>(&self, f: F) -> Result<T, LedgerError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, LedgerError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            // A panic inside `f` rolled its transaction back when the
            // Transaction dropped, so the connection is still consistent.
            let mut conn = inner.conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut conn)
        })
        .await
        .map_err(|e| LedgerError::Task(e.to_string()))?
    }

    pub async fn record_intent(&self, intent: NewIntent) -> Result<Intent, LedgerError> {
        self.with_connection(move |c| votes::record_intent(c, &intent))
            .await
    }

    /// [`Ledger::record_intent`] for many votes in one fsynced transaction;
    /// all or none are recorded. Results in input order.
    pub async fn record_intents(
        &self,
        intents: Vec<NewIntent>,
    ) -> Result<Vec<Intent>, LedgerError> {
        self.with_connection(move |c| votes::record_intents(c, &intents))
            .await
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

    pub async fn record_signed(
        &self,
        id: i64,
        nonce: u64,
        tx_hash: B256,
        raw: Bytes,
    ) -> Result<VoteRow, LedgerError> {
        self.with_connection(move |c| votes::record_signed(c, id, nonce, tx_hash, &raw))
            .await
    }

    /// [`Ledger::record_signed`] for many votes (a wallet's, in nonce order)
    /// in one fsynced transaction; all or none are recorded.
    pub async fn record_signed_many(
        &self,
        signed: Vec<SignedVote>,
    ) -> Result<Vec<VoteRow>, LedgerError> {
        self.with_connection(move |c| votes::record_signed_many(c, &signed))
            .await
    }

    pub async fn record_replacement(
        &self,
        id: i64,
        tx_hash: B256,
        raw: Bytes,
        max_cost: Option<U256>,
    ) -> Result<VoteRow, LedgerError> {
        self.with_connection(move |c| votes::record_replacement(c, id, tx_hash, &raw, max_cost))
            .await
    }

    /// Back to `intent` after the chain refused or reverted the vote while
    /// the proposal stays open (see [`votes::rearm`] for what the caller proves).
    pub async fn rearm(&self, id: i64, reason: &str) -> Result<VoteRow, LedgerError> {
        let reason = reason.to_owned();
        self.with_connection(move |c| votes::rearm(c, id, &reason))
            .await
    }

    /// Not fsynced: a reason, re-derived from the chain if lost.
    pub async fn set_error(&self, id: i64, reason: &str) -> Result<VoteRow, LedgerError> {
        let reason = reason.to_owned();
        self.with_connection_relaxed(move |c| votes::set_error(c, id, &reason))
            .await
    }

    /// Votes on chain that had no row; see [`votes::record_found`].
    pub async fn record_found(
        &self,
        found: Vec<FoundVote>,
    ) -> Result<Vec<Option<VoteRow>>, LedgerError> {
        self.with_connection(move |c| votes::record_found(c, &found))
            .await
    }

    /// Not fsynced: decisions are made again by the next round if lost.
    pub async fn record_decisions(
        &self,
        decisions: Vec<DecisionRecord>,
    ) -> Result<(), LedgerError> {
        self.with_connection_relaxed(move |c| votes::record_decisions(c, &decisions))
            .await
    }

    /// Wei `voter` spent (or may still spend) on attempts signed since `since_ms`.
    pub async fn spent_since(&self, voter: Address, since_ms: i64) -> Result<U256, LedgerError> {
        self.with_connection(move |c| votes::spent_since(c, voter, since_ms))
            .await
    }

    /// Not fsynced: a row left `signed` is reconciled against the chain.
    pub async fn mark_sent(&self, id: i64) -> Result<VoteRow, LedgerError> {
        self.with_connection_relaxed(move |c| votes::mark_sent(c, id))
            .await
    }

    /// Not fsynced: the receipt stays on the chain for reconciliation to find.
    pub async fn mark_mined(&self, id: i64, mined: Mined) -> Result<VoteRow, LedgerError> {
        self.with_connection_relaxed(move |c| votes::mark_mined(c, id, &mined))
            .await
    }

    /// Gave up after proving the vote cannot land; from intent, signed or sent.
    pub async fn mark_failed(&self, id: i64, reason: &str) -> Result<VoteRow, LedgerError> {
        let reason = reason.to_owned();
        self.with_connection(move |c| votes::finish(c, id, VoteState::Failed, &reason))
            .await
    }

    /// Never signed and never will be (closed, refused on estimation); from intent.
    pub async fn mark_abandoned(&self, id: i64, reason: &str) -> Result<VoteRow, LedgerError> {
        let reason = reason.to_owned();
        self.with_connection(move |c| votes::finish(c, id, VoteState::Abandoned, &reason))
            .await
    }

    /// The chain shows a vote from this voter that is not ours to confirm.
    pub async fn mark_external(&self, id: i64, reason: &str) -> Result<VoteRow, LedgerError> {
        let reason = reason.to_owned();
        self.with_connection(move |c| votes::finish(c, id, VoteState::ConfirmedExternal, &reason))
            .await
    }

    pub async fn reset_to_intent(&self, id: i64, reason: &str) -> Result<VoteRow, LedgerError> {
        let reason = reason.to_owned();
        self.with_connection(move |c| votes::reset_to_intent(c, id, &reason))
            .await
    }

    /// The latest strategy decision per node on one proposal, skips included.
    pub async fn decisions_by_proposal(
        &self,
        dao: Address,
        proposal_id: U256,
    ) -> Result<Vec<DecisionRecord>, LedgerError> {
        self.with_connection(move |c| queries::decisions_by_proposal(c, dao, proposal_id))
            .await
    }

    pub async fn vote(&self, id: i64) -> Result<Option<VoteRow>, LedgerError> {
        self.with_connection(move |c| votes::get(c, id)).await
    }

    pub async fn vote_for(
        &self,
        dao: Address,
        proposal_id: U256,
        voter: Address,
    ) -> Result<Option<VoteRow>, LedgerError> {
        self.with_connection(move |c| queries::vote_for(c, dao, proposal_id, voter))
            .await
    }

    /// [`Ledger::vote_for`] of many (proposal, voter) pairs of `dao` in one
    /// visit to the database; results in input order.
    pub async fn votes_for(
        &self,
        dao: Address,
        pairs: Vec<(U256, Address)>,
    ) -> Result<Vec<Option<VoteRow>>, LedgerError> {
        self.with_connection(move |c| {
            pairs
                .into_iter()
                .map(|(proposal_id, voter)| queries::vote_for(c, dao, proposal_id, voter))
                .collect()
        })
        .await
    }

    pub async fn attempts(&self, id: i64) -> Result<Vec<Attempt>, LedgerError> {
        self.with_connection(move |c| votes::attempts(c, id)).await
    }

    pub async fn pending(&self) -> Result<Vec<VoteRow>, LedgerError> {
        self.with_connection(|c| queries::pending(c)).await
    }

    pub async fn votes_by_node(&self, node: &str, limit: u32) -> Result<Vec<VoteRow>, LedgerError> {
        let node = node.to_owned();
        self.with_connection(move |c| queries::by_node(c, &node, limit))
            .await
    }

    pub async fn votes_by_proposal(
        &self,
        dao: Address,
        proposal_id: U256,
    ) -> Result<Vec<VoteRow>, LedgerError> {
        self.with_connection(move |c| queries::by_proposal(c, dao, proposal_id))
            .await
    }

    pub async fn votes_by_round(&self, round_id: i64) -> Result<Vec<VoteRow>, LedgerError> {
        self.with_connection(move |c| queries::by_round(c, round_id))
            .await
    }

    pub async fn vote_counts(&self) -> Result<Vec<NodeVoteCounts>, LedgerError> {
        self.with_connection(|c| queries::counts(c)).await
    }

    pub async fn max_nonce(&self, voter: Address) -> Result<Option<u64>, LedgerError> {
        self.with_connection(move |c| queries::max_nonce(c, voter))
            .await
    }

    pub async fn start_round(
        &self,
        trigger: &str,
        head_block: Option<u64>,
    ) -> Result<i64, LedgerError> {
        let trigger = trigger.to_owned();
        self.with_connection(move |c| queries::start_round(c, &trigger, head_block))
            .await
    }

    pub async fn set_round_head(&self, id: i64, head_block: u64) -> Result<(), LedgerError> {
        self.with_connection(move |c| queries::set_round_head(c, id, head_block))
            .await
    }

    pub async fn finish_round(
        &self,
        id: i64,
        outcome: &str,
        summary: serde_json::Value,
    ) -> Result<(), LedgerError> {
        let outcome = outcome.to_owned();
        self.with_connection(move |c| queries::finish_round(c, id, &outcome, &summary))
            .await
    }

    pub async fn interrupt_unfinished_rounds(&self) -> Result<usize, LedgerError> {
        self.with_connection(|c| queries::interrupt_unfinished(c))
            .await
    }

    pub async fn rounds(
        &self,
        limit: u32,
        before: Option<i64>,
    ) -> Result<Vec<RoundRow>, LedgerError> {
        self.with_connection(move |c| queries::rounds(c, limit, before))
            .await
    }

    pub async fn last_success(&self) -> Result<Option<i64>, LedgerError> {
        self.with_connection(|c| queries::last_success(c)).await
    }

    pub async fn round_count(&self) -> Result<u64, LedgerError> {
        self.with_connection(|c| queries::round_count(c)).await
    }

    pub async fn round(&self, id: i64) -> Result<Option<RoundRow>, LedgerError> {
        self.with_connection(move |c| queries::round(c, id)).await
    }
}
