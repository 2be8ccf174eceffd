//! `GET /api/v1/nodes` (alias `/nodes`): each voter with its live balances
//! and voting power, and what the ledger holds of its votes.
//!
//! Chain reads are bounded by a short timeout each and cached for
//! [`crate::api::state::CHAIN_READ_TTL`]; a read that fails leaves its field
//! `null` and says why in the node's `error`, so one slow wallet or endpoint
//! does not fail the whole answer. The ledger part is always fresh.

use std::collections::HashMap;
use std::time::Duration;

use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use futures::future::join_all;
use hyper::{Response, StatusCode};
use serde::Serialize;

use super::super::response::{self, Body};
use super::super::state::ApiState;
use super::rounds::ledger_error;
use super::{Amount, VoteView, checksum, redacted, rfc3339_ms};
use crate::dao::{Head, TokenInfo};
use crate::ledger::LedgerError;
use crate::round::Voting;

/// Each chain read of this endpoint gives up after this long.
pub const READ_TIMEOUT: Duration = Duration::from_secs(3);

/// What the chain said, per voter address.
pub struct ChainReads {
    voters: Vec<Address>,
    block: Option<u64>,
    token: Option<TokenInfo>,
    nodes: HashMap<Address, NodeReads>,
}

struct NodeReads {
    eth: Result<U256, String>,
    token_balance: Result<U256, String>,
    power: Result<U256, String>,
}

#[derive(Serialize)]
pub struct NodesBody {
    /// The block the balances were read at; `null` when no head was readable.
    pub block: Option<u64>,
    /// Seconds since the chain reads were made (they are cached briefly).
    pub age_seconds: u64,
    pub voting_token: Option<TokenView>,
    pub nodes: Vec<NodeView>,
}

#[derive(Serialize)]
pub struct TokenView {
    pub address: String,
    pub symbol: Option<String>,
    pub decimals: Option<u8>,
}

impl TokenView {
    pub fn new(t: &TokenInfo) -> TokenView {
        TokenView {
            address: checksum(t.address),
            symbol: t.symbol.clone(),
            decimals: t.decimals,
        }
    }
}

#[derive(Serialize)]
pub struct NodeView {
    pub name: String,
    pub address: String,
    pub strategy: String,
    pub eth_balance: Option<Amount>,
    pub voting_token_balance: Option<Amount>,
    pub voting_power: Option<Amount>,
    pub votes: NodeVotes,
    /// The node's newest ledger row, whatever its state.
    pub last_vote: Option<VoteView>,
    /// Why a chain read above is `null`; absent when every read worked.
    /// Addresses the node voted from before its key was rotated; their
    /// votes count in `votes` too.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub previous_addresses: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Serialize, Default)]
pub struct NodeVotes {
    pub total: u64,
    pub confirmed: u64,
    pub pending: u64,
    /// Reverted, failed or abandoned.
    pub unsuccessful: u64,
    /// Votes the chain shows that govnode did not send (or cannot find).
    pub external: u64,
    /// `confirmed`, by the side voted.
    pub confirmed_for: u64,
    pub confirmed_against: u64,
    pub confirmed_abstain: u64,
    pub last_confirmed_at: Option<String>,
}

pub async fn get(state: &ApiState) -> Response<Body> {
    match collect(state).await {
        Ok(body) => response::json(StatusCode::OK, &body),
        Err(e) => ledger_error(&state.daemon, &e),
    }
}

pub async fn collect(state: &ApiState) -> Result<NodesBody, LedgerError> {
    let daemon = &state.daemon;
    let voting = daemon.voting();
    let addresses: Vec<Address> = voting.voters.iter().map(|v| v.address).collect();
    let (reads, age) = state
        .balances
        .get_or_fetch(
            |cached| cached.voters == addresses,
            || async { Ok::<_, std::convert::Infallible>(read_chain(&voting).await) },
        )
        .await
        .unwrap_or_else(|never| match never {});
    let counts = voting.ledger.vote_counts().await?;
    let decimals = reads.token.as_ref().and_then(|t| t.decimals);
    let mut nodes = Vec::with_capacity(voting.voters.len());
    for voter in voting.voters.iter() {
        let last = voting.ledger.votes_by_node(&voter.name, 1).await?;
        let mut errors = Vec::new();
        let mut take = |what: &str, r: Option<&Result<U256, String>>, decimals: Option<u8>| match r
        {
            Some(Ok(v)) => Some(Amount::new(*v, decimals)),
            Some(Err(e)) => {
                errors.push((what.to_owned(), e.clone()));
                None
            }
            None => {
                errors.push((what.to_owned(), "not read yet".to_owned()));
                None
            }
        };
        let chain = reads.nodes.get(&voter.address);
        let eth_balance = take("ETH balance", chain.map(|c| &c.eth), Some(18));
        let voting_token_balance = take(
            "voting-token balance",
            chain.map(|c| &c.token_balance),
            decimals,
        );
        let voting_power = take("voting power", chain.map(|c| &c.power), decimals);
        // By name: a rotated key's history stays the node's.
        let mut votes = NodeVotes::default();
        let mut last_confirmed = None;
        let mut previous_addresses = Vec::new();
        for c in counts.iter().filter(|c| c.node == voter.name) {
            votes.total += c.total;
            votes.confirmed += c.confirmed;
            votes.pending += c.pending;
            votes.unsuccessful += c.unsuccessful;
            votes.external += c.external;
            votes.confirmed_for += c.confirmed_for;
            votes.confirmed_against += c.confirmed_against;
            votes.confirmed_abstain += c.confirmed_abstain;
            last_confirmed = last_confirmed.max(c.last_vote_at);
            if c.voter != voter.address {
                previous_addresses.push(checksum(c.voter));
            }
        }
        votes.last_confirmed_at = last_confirmed.and_then(rfc3339_ms);
        nodes.push(NodeView {
            name: voter.name.clone(),
            address: checksum(voter.address),
            strategy: voter.strategy_name.clone(),
            eth_balance,
            voting_token_balance,
            voting_power,
            votes,
            last_vote: last.first().map(|row| VoteView::new(daemon, row)),
            previous_addresses,
            error: error_text(&errors).map(|e| redacted(daemon, &e).into_owned()),
        });
    }
    Ok(NodesBody {
        block: reads.block,
        age_seconds: age.as_secs(),
        voting_token: reads.token.as_ref().map(TokenView::new),
        nodes,
    })
}

async fn read_chain(v: &Voting) -> ChainReads {
    let voters: Vec<Address> = v.voters.iter().map(|n| n.address).collect();
    let fail_all = |why: String| ChainReads {
        voters: voters.clone(),
        block: None,
        token: None,
        nodes: voters
            .iter()
            .map(|a| {
                (
                    *a,
                    NodeReads {
                        eth: Err(why.clone()),
                        token_balance: Err(why.clone()),
                        power: Err(why.clone()),
                    },
                )
            })
            .collect(),
    };
    let head: Head = match bounded(crate::dao::head(&v.provider)).await {
        Ok(h) => h,
        Err(e) => return fail_all(e),
    };
    let token = bounded(async {
        let address = v.dao.voting_token().await?;
        v.tokens.resolve(address).await
    })
    .await;
    let at = head.block_id();
    let per_node = join_all(voters.iter().map(|&address| {
        let token = token.as_ref().map(|t| t.address);
        async move {
            let eth = bounded(async {
                v.provider
                    .get_balance(address)
                    .block_id(at)
                    .await
                    .map_err(|e| e.to_string())
            });
            let token_balance = async {
                match token {
                    Ok(t) => bounded(crate::dao::balance_of(&v.provider, t, address, at)).await,
                    Err(e) => Err(format!("voting token unknown: {e}")),
                }
            };
            let power = bounded(v.dao.voting_power(address, &head));
            let (eth, token_balance, power) = tokio::join!(eth, token_balance, power);
            (
                address,
                NodeReads {
                    eth,
                    token_balance,
                    power,
                },
            )
        }
    }))
    .await;
    ChainReads {
        voters: voters.clone(),
        block: Some(head.number),
        token: token.ok(),
        nodes: per_node.into_iter().collect(),
    }
}

/// One message for the node's failed reads; when they all failed for the
/// same reason (no head block, say), that reason once.
fn error_text(errors: &[(String, String)]) -> Option<String> {
    let (first_what, first) = errors.first()?;
    if errors.len() > 1 && errors.iter().all(|(_, e)| e == first) {
        return Some(first.clone());
    }
    if errors.len() == 1 {
        return Some(format!("{first_what}: {first}"));
    }
    Some(
        errors
            .iter()
            .map(|(what, e)| format!("{what}: {e}"))
            .collect::<Vec<_>>()
            .join("; "),
    )
}

/// Runs one chain read under [`READ_TIMEOUT`]; the error becomes text.
async fn bounded<T, E: std::fmt::Display>(
    read: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(READ_TIMEOUT, read).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} s", READ_TIMEOUT.as_secs_f32())),
    }
}
