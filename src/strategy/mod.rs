//! Vote strategies: how a node decides its vote on one proposal.
//!
//! A [`Strategy`] is pure and deterministic: it sees a [`ProposalView`]
//! (the proposal plus the chain facts resolved for it) and returns a
//! [`Decision`] with a reason and the name of the rule that decided, which the
//! ledger records and the API shows. Built in: [`Conservative`] and
//! [`Aggressive`] (their rule tables are in their module docs); any other name
//! is a declarative [`RulesStrategy`] from `strategies:` in the configuration.

mod aggressive;
mod amount;
mod builtin;
mod config;
mod conservative;
mod rules;
mod view;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use aggressive::{Aggressive, GROWTH_CAP, OVERSIZED};
pub use amount::Decimal;
pub use builtin::{GROWTH_ASSETS, STABLECOINS};
pub use config::{RuleConfig, RuleMatch, RuleOutcome, RulesStrategyConfig, VoteChoice};
pub use conservative::{Conservative, LARGE_AMOUNT};
pub use rules::{RuleProblem, RulesStrategy, check as check_rules};
pub use view::ProposalView;

use crate::config::Config;

/// Names that always resolve to a built-in strategy.
pub const BUILTIN: [&str; 2] = ["conservative", "aggressive"];

/// One decision, with what explains it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub vote: VoteChoice,
    pub reason: String,
    /// The rule that decided (`large-amount`, a configured rule's name,
    /// `rules[3]` for an unnamed one, `default`).
    pub rule: Option<String>,
}

pub trait Strategy: Send + Sync + std::fmt::Debug {
    /// The name nodes use for it in the configuration.
    fn name(&self) -> &str;
    /// Same view, same decision: no clock, no randomness, no I/O.
    fn decide(&self, proposal: &ProposalView) -> Decision;
}

#[derive(Debug, thiserror::Error)]
pub enum StrategyError {
    #[error("unknown strategy {name:?}: use conservative, aggressive or a name under strategies")]
    Unknown { name: String },
    #[error("strategy {name:?} has invalid rules: {}", describe(problems))]
    InvalidRules {
        name: String,
        problems: Vec<RuleProblem>,
    },
}

fn describe(problems: &[RuleProblem]) -> String {
    problems
        .iter()
        .map(|p| format!("{}: {}", p.path, p.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The strategy called `name`: a built-in, or a rules strategy from
/// `config.strategies` (a configured strategy cannot shadow a built-in; the
/// validator refuses such a name).
pub fn build(name: &str, config: &Config) -> Result<Arc<dyn Strategy>, StrategyError> {
    match name {
        "conservative" => Ok(Arc::new(Conservative)),
        "aggressive" => Ok(Arc::new(Aggressive)),
        _ => {
            let rules = config
                .strategies
                .get(name)
                .ok_or_else(|| StrategyError::Unknown { name: name.into() })?;
            let compiled = RulesStrategy::compile(name, rules).map_err(|problems| {
                StrategyError::InvalidRules {
                    name: name.into(),
                    problems,
                }
            })?;
            Ok(Arc::new(compiled))
        }
    }
}
