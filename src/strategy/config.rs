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

impl VoteChoice {
    /// The spelling used in the configuration, the ledger and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            VoteChoice::For => "for",
            VoteChoice::Against => "against",
            VoteChoice::Abstain => "abstain",
            VoteChoice::Skip => "skip",
        }
    }

    pub fn parse(s: &str) -> Option<VoteChoice> {
        [
            VoteChoice::For,
            VoteChoice::Against,
            VoteChoice::Abstain,
            VoteChoice::Skip,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for VoteChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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
