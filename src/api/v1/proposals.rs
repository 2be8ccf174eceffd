//! `GET /api/v1/proposals` (alias `/active-proposals`): the DAO's open
//! proposals, as a round would judge them now, with each node's decision and
//! vote from the ledger.
//!
//! The listing (head, proposals, asset symbols) is cached for
//! [`crate::api::state::CHAIN_READ_TTL`]; openness (the configured margin)
//! and the ledger part are judged on every request.

use std::collections::HashMap;
use std::time::Duration;

use alloy::primitives::Address;
use hyper::{Response, StatusCode};
use serde::Serialize;

use super::super::response::{self, Body};
use super::super::state::ApiState;
use super::nodes::TokenView;
use super::rounds::ledger_error;
use super::{Amount, checksum, redacted};
use crate::dao::{DaoError, Listing, Proposal, ProposalStatus, Timepoint, TokenInfo};
use crate::ledger::{DecisionRecord, LedgerError, VoteRow};
use crate::round::Voting;

/// Listing every proposal of a large DAO over a public endpoint takes a while.
pub const LIST_TIMEOUT: Duration = Duration::from_secs(20);

pub struct ProposalSnapshot {
    dao: Address,
    listing: Listing,
    tokens: HashMap<Address, TokenInfo>,
}

#[derive(Serialize)]
pub struct ProposalsBody {
    pub block: u64,
    pub block_timestamp: u64,
    pub paused: bool,
    /// Proposals the DAO has ever had.
    pub total_proposals: u64,
    /// Length of `proposals`.
    pub open: usize,
    /// Seconds since the listing was read (it is cached briefly).
    pub age_seconds: u64,
    pub proposals: Vec<ProposalView>,
}

#[derive(Serialize)]
pub struct ProposalView {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub status: &'static str,
    pub asset: Option<TokenView>,
    pub amount: Amount,
    pub description: String,
    pub proposer: String,
    pub created_at: Timepoint,
    pub deadline: Timepoint,
    pub yes_votes: String,
    pub no_votes: String,
    pub abstain_votes: String,
    pub nodes: Vec<ProposalNode>,
}

/// One node's standing on one proposal; all but name and address are
/// `null` when nothing was decided yet. A strategy's `skip` shows with
/// `decision: "skip"`, its reason and rule, and `state: null` (nothing sent).
#[derive(Serialize)]
pub struct ProposalNode {
    pub name: String,
    pub address: String,
    pub state: Option<&'static str>,
    pub decision: Option<&'static str>,
    pub reason: Option<String>,
    pub strategy: Option<String>,
    pub rule: Option<String>,
    pub tx_hash: Option<String>,
    pub block_number: Option<u64>,
    pub error: Option<String>,
}

/// Why [`collect`] has no answer.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// Already redacted: it may carry an endpoint's error text.
    #[error("cannot list the DAO's proposals: {0}")]
    Chain(String),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

pub async fn get(state: &ApiState) -> Response<Body> {
    match collect(state).await {
        Ok(body) => response::json(StatusCode::OK, &body),
        Err(CollectError::Ledger(e)) => ledger_error(&state.daemon, &e),
        Err(e @ CollectError::Chain(_)) => response::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "chain_unavailable",
            &e.to_string(),
        ),
    }
}

/// The open proposals with each node's standing, as `GET /api/v1/proposals`
/// and the status page show them.
pub async fn collect(state: &ApiState) -> Result<ProposalsBody, CollectError> {
    let daemon = &state.daemon;
    let voting = daemon.voting();
    let dao = voting.dao.address();
    let (snapshot, age) = state
        .proposals
        .get_or_fetch(|cached| cached.dao == dao, || fetch(&voting))
        .await
        .map_err(|e| CollectError::Chain(redacted(daemon, &e.to_string()).into_owned()))?;
    let open = voting.dao.open_proposals(&snapshot.listing, voting.margin);
    let mut proposals = Vec::with_capacity(open.len());
    for p in open {
        let rows = voting.ledger.votes_by_proposal(dao, p.id).await?;
        let decided = voting.ledger.decisions_by_proposal(dao, p.id).await?;
        proposals.push(view(state, &voting, &snapshot, p, &rows, &decided));
    }
    let listing = &snapshot.listing;
    Ok(ProposalsBody {
        block: listing.head.number,
        block_timestamp: listing.head.timestamp,
        paused: listing.paused,
        total_proposals: listing.total,
        open: proposals.len(),
        age_seconds: age.as_secs(),
        proposals,
    })
}

#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("{0}")]
    Dao(#[from] DaoError),
    #[error("no answer within {} s", LIST_TIMEOUT.as_secs())]
    Timeout,
}

async fn fetch(v: &Voting) -> Result<ProposalSnapshot, FetchError> {
    let work = async {
        let head = crate::dao::head(&v.provider).await?;
        let listing = v.dao.list(&head).await?;
        let tokens = v
            .tokens
            .resolve_many(
                listing.proposals.iter().filter_map(|p| p.asset),
                v.round.concurrency,
            )
            .await?;
        Ok::<_, FetchError>(ProposalSnapshot {
            dao: v.dao.address(),
            listing,
            tokens,
        })
    };
    tokio::time::timeout(LIST_TIMEOUT, work)
        .await
        .map_err(|_| FetchError::Timeout)?
}

fn view(
    state: &ApiState,
    voting: &Voting,
    snapshot: &ProposalSnapshot,
    p: &Proposal,
    rows: &[VoteRow],
    decided: &[DecisionRecord],
) -> ProposalView {
    let token = p.asset.and_then(|a| snapshot.tokens.get(&a));
    let mut nodes: Vec<ProposalNode> = voting
        .voters
        .iter()
        .map(|v| {
            let row = rows.iter().find(|r| r.voter == v.address);
            let mut n = node(state, &v.name, v.address, row);
            // A skip has no vote row: its decision is shown from the round's record.
            if row.is_none()
                && let Some(d) = decided.iter().find(|d| d.voter == v.address)
            {
                n.decision = Some(d.decision.as_str());
                n.reason = Some(d.reason.clone());
                n.strategy = Some(d.strategy.clone());
                n.rule = d.rule.clone();
            }
            n
        })
        .collect();
    // Rows of nodes no longer configured still show what was sent.
    for r in rows {
        if !voting.voters.iter().any(|v| v.address == r.voter) {
            nodes.push(node(state, &r.node, r.voter, Some(r)));
        }
    }
    ProposalView {
        id: p.id.to_string(),
        kind: p.kind.as_str(),
        status: status_str(p.status),
        asset: p.asset.map(|a| match token {
            Some(t) => TokenView::new(t),
            None => TokenView {
                address: checksum(a),
                symbol: None,
                decimals: None,
            },
        }),
        amount: Amount::new(p.amount, token.and_then(|t| t.decimals)),
        description: p.description.clone(),
        proposer: checksum(p.proposer),
        created_at: p.created_at,
        deadline: p.deadline,
        yes_votes: p.yes_votes.to_string(),
        no_votes: p.no_votes.to_string(),
        abstain_votes: p.abstain_votes.to_string(),
        nodes,
    }
}

fn node(state: &ApiState, name: &str, address: Address, row: Option<&VoteRow>) -> ProposalNode {
    ProposalNode {
        name: name.to_owned(),
        address: checksum(address),
        state: row.map(|r| r.state.as_str()),
        decision: row.map(|r| r.decision.as_str()),
        reason: row.map(|r| r.reason.clone()),
        strategy: row.map(|r| r.strategy.clone()),
        rule: row.and_then(|r| r.rule.clone()),
        tx_hash: row.and_then(|r| r.tx_hash).map(|h| format!("{h:#x}")),
        block_number: row.and_then(|r| r.block_number),
        error: row
            .and_then(|r| r.error.as_deref())
            .map(|e| redacted(&state.daemon, e).into_owned()),
    }
}

pub fn status_str(s: ProposalStatus) -> &'static str {
    match s {
        ProposalStatus::Pending => "pending",
        ProposalStatus::Active => "active",
        ProposalStatus::Canceled => "canceled",
        ProposalStatus::Defeated => "defeated",
        ProposalStatus::Succeeded => "succeeded",
        ProposalStatus::Queued => "queued",
        ProposalStatus::Expired => "expired",
        ProposalStatus::Executed => "executed",
        ProposalStatus::Unknown(_) => "unknown",
    }
}
