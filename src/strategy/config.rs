//! Declarative `rules` strategies as written under `strategies:` in the
//! configuration. The first matching rule decides; `default` decides otherwise.

use serde::{Deserialize, Serialize};

/// What a strategy may decide for one proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VoteChoice {
    For,
    Against,
    /// Governor DAOs record an abstention; AssetDAO has none, so it becomes `skip`.
    Abstain,
    /// Send nothing.
    Skip,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RulesStrategyConfig {
    pub rules: Vec<RuleConfig>,
    pub default: RuleOutcome,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleOutcome {
    pub vote: VoteChoice,
    pub reason: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Shown in the decision's reason and in logs.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(rename = "match", default)]
    pub matcher: RuleMatch,
    pub vote: VoteChoice,
    pub reason: String,
}

/// Every condition that is set must hold; an empty match matches everything.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuleMatch {
    /// `investment`, `divestment`, `parameter_change`, `other` (AssetDAO) — any of them.
    pub proposal_type: Vec<String>,
    /// ERC-20 symbols read from the chain, compared case-insensitively.
    pub asset_symbol: Vec<String>,
    pub asset_address: Vec<String>,
    /// Amounts in whole token units (decimal strings, e.g. "1000.5").
    pub amount_min: Option<String>,
    pub amount_max: Option<String>,
    pub description_regex: Option<String>,
    pub proposer: Vec<String>,
}
