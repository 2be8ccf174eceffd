//! Everything a round works with, built once from the settings: the DAO
//! adapter, the ledger, the token resolver and the voters with their keys
//! and strategies. Rebuilt on reload (strategies may change); the ledger and
//! the DAO adapter are kept, since they hold state worth keeping.

use std::sync::Arc;

use alloy::primitives::Address;
use alloy::providers::DynProvider;

use super::metrics::RoundMetrics;
use super::node_keys::NodeKeys;
use crate::config::{RoundConfig, Settings};
use crate::dao::{Dao, DaoError, TokenResolver, VoteMargin};
use crate::ledger::pg::{Fence, FenceSet};
use crate::ledger::{Ledger, LedgerError, LedgerIdentity};
use crate::signer::Signer;
use crate::strategy::{Strategy, StrategyError};

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("dao: {0}")]
    Dao(#[from] DaoError),
    #[error("ledger: {0}")]
    Ledger(#[from] LedgerError),
    #[error("round metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("{0}")]
    Webhook(#[from] crate::webhook::HubError),
    #[error("node {node}: strategy {strategy:?}: {source}")]
    Strategy {
        node: String,
        strategy: String,
        source: StrategyError,
    },
}

/// One voter: its name, address, signer and strategy.
#[derive(Clone)]
pub struct Voter {
    pub name: String,
    pub address: Address,
    /// Signs for `address`; the round never sees the key behind it.
    pub signer: Arc<dyn Signer>,
    pub strategy_name: String,
    pub strategy: Arc<dyn Strategy>,
    /// Its lease group (`nodes[].ha.group`).
    pub group: String,
}

impl std::fmt::Debug for Voter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Voter")
            .field("name", &self.name)
            .field("address", &self.address)
            .field("signer", &self.signer.kind())
            .field("strategy", &self.strategy_name)
            .field("group", &self.group)
            .finish()
    }
}

/// The round's world. Cheap to clone.
#[derive(Clone)]
pub struct Voting {
    pub provider: DynProvider,
    pub dao: Arc<dyn Dao>,
    pub ledger: Ledger,
    pub tokens: Arc<TokenResolver>,
    pub voters: Arc<Vec<Voter>>,
    pub margin: VoteMargin,
    pub round: RoundConfig,
    pub chain_id: u64,
    pub metrics: RoundMetrics,
    /// Where the round's events go; pushing never waits on a receiver.
    pub webhooks: crate::webhook::Hub,
    /// Whether the chain has Multicall3, for the balance reads.
    pub multicall: crate::dao::MulticallProbe,
    /// Signer health and pauses per node; kept over reloads.
    pub keys: NodeKeys,
    /// New heads from the daemon's subscription, where it has one; the
    /// confirmation polls while it is not open.
    pub heads: crate::chain::Heads,
    /// The DAO's name (`daos[].name`; `default` in the single-DAO form).
    pub dao_name: String,
    /// Its chain's wallet locks, shared with the other DAOs on that chain.
    pub wallets: super::WalletLocks,
}

impl Voting {
    /// `fence`, with `ha.enabled`: the leases the ledger's writes need (a
    /// round narrows it to the groups it votes for, [`Voting::for_groups`]).
    pub async fn build(
        settings: &Settings,
        provider: DynProvider,
        registry: &prometheus::Registry,
        fence: Option<FenceSet>,
    ) -> Result<Self, ContextError> {
        let config = &settings.config;
        // One look at the chain's Multicall3 for every reader of it.
        let multicall = crate::dao::MulticallProbe::default();
        let dao = crate::dao::build(
            &config.dao,
            provider.clone(),
            config.round.concurrency,
            config.round.batch_size,
            multicall.clone(),
        )?;
        let ledger = Ledger::open_fenced(
            &settings.ledger_location(),
            LedgerIdentity {
                chain_id: config.chain.id,
                dao: dao.address(),
            },
            fence,
        )
        .await?;
        let metrics = RoundMetrics::register(registry)?;
        let webhooks = crate::webhook::Hub::start(
            settings,
            crate::webhook::metrics::WebhookMetrics::register(registry)?,
        )?;
        let keys = NodeKeys::register(registry)?;
        let voting = Voting {
            tokens: Arc::new(
                TokenResolver::new(provider.clone())
                    .with_batch_size(config.round.batch_size)
                    .with_multicall(multicall.clone()),
            ),
            voters: Arc::new(voters(settings)?),
            margin: VoteMargin::from_config(&config.dao),
            round: config.round.clone(),
            chain_id: config.chain.id,
            provider,
            dao,
            ledger,
            metrics,
            webhooks,
            multicall,
            keys,
            heads: crate::chain::Heads::default(),
            dao_name: settings.dao_name().to_owned(),
            wallets: super::WalletLocks::default(),
        };
        voting.prime_metrics();
        Ok(voting)
    }

    /// Creates every labelled series at zero, so that dashboards show zero
    /// lines and `increase()` sees the first event.
    fn prime_metrics(&self) {
        self.keys
            .track(self.voters.iter().map(|v| (v.name.as_str(), v.address)));
        for outcome in ["success", "partial", "failed"] {
            self.metrics.rounds.with_label_values(&[outcome]);
        }
        for voter in self.voters.iter() {
            let node = voter.name.as_str();
            for outcome in [
                "confirmed",
                "reverted",
                "abandoned",
                "failed",
                "external",
                "retried",
            ] {
                self.metrics.votes.with_label_values(&[node, outcome]);
            }
            for cause in super::send::DEFER_CAUSES {
                self.metrics.deferred.with_label_values(&[node, cause]);
            }
            self.metrics.insufficient_funds.with_label_values(&[node]);
            self.metrics.spend_limit_reached.with_label_values(&[node]);
            self.metrics.no_voting_power.with_label_values(&[node]);
            self.metrics.spent_24h.with_label_values(&[node]);
        }
    }

    /// The same world with the reloaded settings' voters and round options.
    pub fn reloaded(&self, settings: &Settings) -> Result<Self, ContextError> {
        let mut next = self.clone();
        let mut voters = voters(settings)?;
        // Lease groups are elected for at start: a node keeps the group it
        // had (a reload that moves one is warned about as needing a restart).
        for voter in &mut voters {
            if let Some(was) = self.voters.iter().find(|o| o.name == voter.name) {
                voter.group.clone_from(&was.group);
            }
        }
        next.voters = Arc::new(voters);
        next.round = settings.config.round.clone();
        next.margin = VoteMargin::from_config(&settings.config.dao);
        next.webhooks = self.webhooks.reloaded(settings);
        next.prime_metrics();
        Ok(next)
    }

    /// The same world for a round of the lease groups `led`: their nodes
    /// only, and a ledger that writes only while every one of their leases
    /// is held.
    pub fn for_groups(&self, led: &[Arc<Fence>]) -> Self {
        let voters = self
            .voters
            .iter()
            .filter(|v| led.iter().any(|f| f.group() == v.group))
            .cloned()
            .collect();
        Voting {
            voters: Arc::new(voters),
            ledger: self.ledger.fenced_by(FenceSet::all(led.to_vec())),
            ..self.clone()
        }
    }

    /// The same world for round `id`: its events carry the round.
    pub fn in_round(&self, id: i64) -> Self {
        Voting {
            webhooks: self.webhooks.in_round(id),
            ..self.clone()
        }
    }
}

fn voters(settings: &Settings) -> Result<Vec<Voter>, ContextError> {
    let config = &settings.config;
    let mut out = Vec::with_capacity(settings.node_keys.len());
    for key in &settings.node_keys {
        let node = config.nodes.iter().find(|n| n.name == key.name);
        let strategy_name = node.map(|n| n.strategy.clone()).unwrap_or_default();
        let strategy = crate::strategy::build(&strategy_name, config).map_err(|source| {
            ContextError::Strategy {
                node: key.name.clone(),
                strategy: strategy_name.clone(),
                source,
            }
        })?;
        out.push(Voter {
            name: key.name.clone(),
            address: key.signer.address(),
            signer: key.signer.clone(),
            strategy_name,
            strategy,
            group: node
                .map(|n| n.ha_group())
                .unwrap_or(crate::ledger::pg::DEFAULT_GROUP)
                .to_owned(),
        });
    }
    Ok(out)
}
