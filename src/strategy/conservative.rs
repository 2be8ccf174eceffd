//! The `conservative` strategy: protect the treasury. It invests only in
//! stablecoins, refuses large amounts, welcomes reducing volatile exposure,
//! and skips what it cannot judge. Rules in order, the first that applies
//! decides (the `rule` name is recorded with every decision):
//!
//! | # | rule | applies to | vote |
//! |---|------|------------|------|
//! | 1 | `not-asset-proposal` | parameter-change and other proposals | skip |
//! | 2 | `unknown-asset` | no asset, or its `symbol()`/`decimals()` unreadable | skip |
//! | 3 | `large-amount` | amount > 100 000 whole tokens | against |
//! | 4 | `stablecoin-investment` | investment in USDC, USDT, DAI, EURT, EURC | for |
//! | 5 | `volatile-investment` | investment in any other asset | against |
//! | 6 | `reduce-volatile` | divestment of a non-stablecoin | for |
//! | 7 | `keep-stable-reserves` | divestment of a stablecoin | against |

use super::builtin::{decide, is_stablecoin, judgeable, whole_tokens};
use super::view::ProposalView;
use super::{Decision, Strategy, VoteChoice};
use crate::dao::ProposalKind;

/// Amounts strictly above this many whole tokens are voted down.
pub const LARGE_AMOUNT: u64 = 100_000;

#[derive(Debug, Default)]
pub struct Conservative;

impl Strategy for Conservative {
    fn name(&self) -> &str {
        "conservative"
    }

    fn decide(&self, view: &ProposalView) -> Decision {
        let p = match judgeable(view) {
            Ok(p) => p,
            Err(skip) => return skip,
        };
        let label = view.amount_label();
        if p.amount > whole_tokens(LARGE_AMOUNT) {
            return decide(
                VoteChoice::Against,
                "large-amount",
                format!("amount {label} is above the {LARGE_AMOUNT}-token limit"),
            );
        }
        let stable = is_stablecoin(p.symbol);
        match (p.kind, stable) {
            (ProposalKind::Investment, true) => decide(
                VoteChoice::For,
                "stablecoin-investment",
                format!("investment of {label} in a stablecoin"),
            ),
            (ProposalKind::Investment, false) => decide(
                VoteChoice::Against,
                "volatile-investment",
                format!("{} is not a stablecoin: no volatile investments", p.symbol),
            ),
            (_, false) => decide(
                VoteChoice::For,
                "reduce-volatile",
                format!("divesting {label} reduces volatile exposure"),
            ),
            (_, true) => decide(
                VoteChoice::Against,
                "keep-stable-reserves",
                format!("divesting {label} would shrink stable reserves"),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::builtin::fixtures::view;
    use super::*;
    use ProposalKind::*;
    use VoteChoice::*;

    /// Every rule of the table, its boundaries, and first-match order.
    #[test]
    fn decides_every_rule() {
        let table = [
            (
                ParameterChange,
                Some("USDC"),
                "10",
                Skip,
                "not-asset-proposal",
            ),
            (Other, None, "0", Skip, "not-asset-proposal"),
            (Investment, None, "10", Skip, "unknown-asset"),
            (
                Investment,
                Some("USDC"),
                "not-a-number",
                Skip,
                "unknown-asset",
            ),
            (
                Investment,
                Some("USDC"),
                "100000.000001",
                Against,
                "large-amount",
            ),
            (Divestment, Some("WBTC"), "250000", Against, "large-amount"),
            (
                Investment,
                Some("USDC"),
                "100000",
                For,
                "stablecoin-investment",
            ),
            (
                Investment,
                Some("eurt"),
                "5000",
                For,
                "stablecoin-investment",
            ),
            (
                Investment,
                Some("WBTC"),
                "1",
                Against,
                "volatile-investment",
            ),
            (
                Investment,
                Some("PAXG"),
                "10",
                Against,
                "volatile-investment",
            ),
            (Divestment, Some("WETH"), "100", For, "reduce-volatile"),
            (
                Divestment,
                Some("DAI"),
                "100",
                Against,
                "keep-stable-reserves",
            ),
        ];
        for (kind, symbol, amount, vote, rule) in table {
            let d = Conservative.decide(&view(kind, symbol, amount));
            assert_eq!(
                (d.vote, d.rule.as_deref()),
                (vote, Some(rule)),
                "{kind:?} {symbol:?} {amount}: {}",
                d.reason
            );
            assert!(!d.reason.is_empty());
        }
    }

    #[test]
    fn is_deterministic() {
        let v = view(Investment, Some("USDC"), "42");
        assert_eq!(Conservative.decide(&v), Conservative.decide(&v));
    }
}
