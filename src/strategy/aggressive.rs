//! The `aggressive` strategy: grow the treasury. It backs growth assets up to
//! a high cap, any other investment under a lower cap, keeps growth positions,
//! and rotates out of everything else. Rules in order, the first that applies
//! decides:
//!
//! | # | rule | applies to | vote |
//! |---|------|------------|------|
//! | 1 | `not-asset-proposal` | parameter-change and other proposals | skip |
//! | 2 | `unknown-asset` | no asset, or its `symbol()`/`decimals()` unreadable | skip |
//! | 3 | `growth-investment` | investment in WBTC, WETH, LINK, UNI, AAVE of ≤ 5 000 000 whole tokens | for |
//! | 4 | `oversized` | amount > 1 000 000 whole tokens | against |
//! | 5 | `investment` | any other investment (≤ 1 000 000) | for |
//! | 6 | `keep-growth` | divestment of a growth asset | against |
//! | 7 | `rotate-out` | divestment of any other asset (≤ 1 000 000) | for |

use super::builtin::{decide, is_growth_asset, judgeable, whole_tokens};
use super::view::ProposalView;
use super::{Decision, Strategy, VoteChoice};
use crate::dao::ProposalKind;

/// Growth-asset investments up to this many whole tokens are backed.
pub const GROWTH_CAP: u64 = 5_000_000;
/// Every other proposal above this many whole tokens is voted down.
pub const OVERSIZED: u64 = 1_000_000;

#[derive(Debug, Default)]
pub struct Aggressive;

impl Strategy for Aggressive {
    fn name(&self) -> &str {
        "aggressive"
    }

    fn decide(&self, view: &ProposalView) -> Decision {
        let p = match judgeable(view) {
            Ok(p) => p,
            Err(skip) => return skip,
        };
        let label = view.amount_label();
        let growth = is_growth_asset(p.symbol);
        let investment = p.kind == ProposalKind::Investment;
        if investment && growth && p.amount <= whole_tokens(GROWTH_CAP) {
            return decide(
                VoteChoice::For,
                "growth-investment",
                format!("investment of {label} in a growth asset"),
            );
        }
        if p.amount > whole_tokens(OVERSIZED) {
            return decide(
                VoteChoice::Against,
                "oversized",
                format!("amount {label} is above the {OVERSIZED}-token limit"),
            );
        }
        match (investment, growth) {
            (true, _) => decide(
                VoteChoice::For,
                "investment",
                format!("investment of {label} is within the {OVERSIZED}-token limit"),
            ),
            (false, true) => decide(
                VoteChoice::Against,
                "keep-growth",
                format!("divesting {label} gives up growth exposure"),
            ),
            (false, false) => decide(
                VoteChoice::For,
                "rotate-out",
                format!("divesting {label} frees capital for growth assets"),
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
                Some("WBTC"),
                "1",
                Skip,
                "not-asset-proposal",
            ),
            (Other, Some("WBTC"), "1", Skip, "not-asset-proposal"),
            (Investment, None, "1", Skip, "unknown-asset"),
            (Divestment, Some("WETH"), "bad", Skip, "unknown-asset"),
            (
                Investment,
                Some("WBTC"),
                "5000000",
                For,
                "growth-investment",
            ),
            (Investment, Some("weth"), "1", For, "growth-investment"),
            (Investment, Some("WBTC"), "5000000.1", Against, "oversized"),
            (Investment, Some("USDC"), "1000000.5", Against, "oversized"),
            (Divestment, Some("WETH"), "2000000", Against, "oversized"),
            (Investment, Some("USDC"), "1000000", For, "investment"),
            (Investment, Some("PAXG"), "10", For, "investment"),
            (Divestment, Some("WBTC"), "10", Against, "keep-growth"),
            (Divestment, Some("USDC"), "1000000", For, "rotate-out"),
        ];
        for (kind, symbol, amount, vote, rule) in table {
            let d = Aggressive.decide(&view(kind, symbol, amount));
            assert_eq!(
                (d.vote, d.rule.as_deref()),
                (vote, Some(rule)),
                "{kind:?} {symbol:?} {amount}: {}",
                d.reason
            );
        }
    }
}
