//! The declarative `rules` strategy: an ordered list of matchers from the
//! configuration, compiled once. The first rule whose every set condition
//! holds decides; `default` decides when none does.
//!
//! Conditions (all optional; a list matches when any entry does):
//! - `proposal_type`: `investment`, `divestment`, `parameter_change`, `other`;
//! - `asset_symbol`: the on-chain ERC-20 symbol, case-insensitive — never
//!   matches when the symbol is unknown;
//! - `asset_address`: the proposal's asset address;
//! - `amount_min` / `amount_max`: whole tokens, both bounds inclusive — never
//!   match when the asset's decimals are unknown;
//! - `description_regex`: searched anywhere in the description (anchor with
//!   `^…$` to match it whole);
//! - `proposer`: the proposer address.
//!
//! [`check`] reports every problem with its path, and `check-config` uses it,
//! so a file the validator accepts always compiles here.

use alloy::primitives::Address;
use regex::Regex;

use super::amount::Decimal;
use super::config::{RuleConfig, RulesStrategyConfig};
use super::view::ProposalView;
use super::{Decision, Strategy, VoteChoice};
use crate::dao::ProposalKind;

/// A problem in a rules config; `path` is relative to the strategy
/// (`rules[2].match.amount_min`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleProblem {
    pub path: String,
    pub message: String,
}

#[derive(Debug)]
pub struct RulesStrategy {
    name: String,
    rules: Vec<Rule>,
    default: (VoteChoice, String),
}

#[derive(Debug)]
struct Rule {
    label: String,
    kinds: Vec<ProposalKind>,
    symbols: Vec<String>,
    addresses: Vec<Address>,
    min: Option<Decimal>,
    max: Option<Decimal>,
    description: Option<Regex>,
    proposers: Vec<Address>,
    vote: VoteChoice,
    reason: String,
}

/// Every problem in `config`, in file order; empty when it compiles.
pub fn check(config: &RulesStrategyConfig) -> Vec<RuleProblem> {
    RulesStrategy::compile("check", config)
        .err()
        .unwrap_or_default()
}

impl RulesStrategy {
    pub fn compile(
        name: &str,
        config: &RulesStrategyConfig,
    ) -> Result<RulesStrategy, Vec<RuleProblem>> {
        let mut problems = Vec::new();
        let rules: Vec<Rule> = config
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| compile_rule(i, r, &mut problems))
            .collect();
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(RulesStrategy {
            name: name.to_owned(),
            rules,
            default: (config.default.vote, config.default.reason.clone()),
        })
    }
}

fn compile_rule(i: usize, rule: &RuleConfig, problems: &mut Vec<RuleProblem>) -> Rule {
    let base = format!("rules[{i}].match");
    let m = &rule.matcher;
    let mut push = |path: String, message: String| problems.push(RuleProblem { path, message });
    let kinds = m
        .proposal_type
        .iter()
        .enumerate()
        .filter_map(|(j, t)| {
            let kind = ProposalKind::parse(t);
            if kind.is_none() {
                push(
                    format!("{base}.proposal_type[{j}]"),
                    format!(
                        "unknown proposal type {t:?} (investment, divestment, parameter_change, other)"
                    ),
                );
            }
            kind
        })
        .collect();
    let mut addresses = |key: &str, list: &[String]| -> Vec<Address> {
        list.iter()
            .enumerate()
            .filter_map(|(j, a)| {
                let parsed = a.parse::<Address>().ok();
                if parsed.is_none() {
                    push(
                        format!("{base}.{key}[{j}]"),
                        "must be a 0x-prefixed 20-byte hex address".into(),
                    );
                }
                parsed
            })
            .collect()
    };
    let asset_addresses = addresses("asset_address", &m.asset_address);
    let proposers = addresses("proposer", &m.proposer);
    let mut amount = |key: &str, value: &Option<String>| {
        let v = value.as_ref()?;
        let parsed = Decimal::parse(v);
        if parsed.is_none() {
            push(
                format!("{base}.{key}"),
                "must be a decimal number of whole tokens, e.g. \"1000\" or \"0.5\"".into(),
            );
        }
        parsed
    };
    let min = amount("amount_min", &m.amount_min);
    let max = amount("amount_max", &m.amount_max);
    if let (Some(lo), Some(hi)) = (min, max)
        && lo > hi
    {
        push(format!("{base}.amount_max"), "must be >= amount_min".into());
    }
    let description = m.description_regex.as_ref().and_then(|re| {
        Regex::new(re)
            .map_err(|e| {
                push(
                    format!("{base}.description_regex"),
                    format!("invalid regex: {e}"),
                )
            })
            .ok()
    });
    Rule {
        label: rule.name.clone().unwrap_or_else(|| format!("rules[{i}]")),
        kinds,
        symbols: m.asset_symbol.clone(),
        addresses: asset_addresses,
        min,
        max,
        description,
        proposers,
        vote: rule.vote,
        reason: rule.reason.clone(),
    }
}

impl Rule {
    fn matches(&self, v: &ProposalView) -> bool {
        let any = |empty: bool, hit: bool| empty || hit;
        any(self.kinds.is_empty(), self.kinds.contains(&v.kind))
            && any(
                self.symbols.is_empty(),
                v.asset_symbol
                    .as_deref()
                    .is_some_and(|s| self.symbols.iter().any(|w| w.eq_ignore_ascii_case(s))),
            )
            && any(
                self.addresses.is_empty(),
                v.asset.is_some_and(|a| self.addresses.contains(&a)),
            )
            && self
                .min
                .is_none_or(|min| v.amount.is_some_and(|a| a >= min))
            && self
                .max
                .is_none_or(|max| v.amount.is_some_and(|a| a <= max))
            && self
                .description
                .as_ref()
                .is_none_or(|re| re.is_match(&v.description))
            && any(
                self.proposers.is_empty(),
                self.proposers.contains(&v.proposer),
            )
    }
}

impl Strategy for RulesStrategy {
    fn name(&self) -> &str {
        &self.name
    }

    fn decide(&self, view: &ProposalView) -> Decision {
        match self.rules.iter().find(|r| r.matches(view)) {
            Some(rule) => Decision {
                vote: rule.vote,
                reason: rule.reason.clone(),
                rule: Some(rule.label.clone()),
            },
            None => Decision {
                vote: self.default.0,
                reason: self.default.1.clone(),
                rule: Some("default".to_owned()),
            },
        }
    }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
