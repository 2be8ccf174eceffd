//! Vote strategies: built-in ones and declarative rules from the configuration.

mod config;

pub use config::{RuleConfig, RuleMatch, RuleOutcome, RulesStrategyConfig, VoteChoice};
