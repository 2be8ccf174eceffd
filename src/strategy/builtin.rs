//! What the built-in strategies share: asset classes by on-chain symbol and
//! the checks every built-in makes before judging an amount.
//!
//! Symbols are compared case-insensitively. The amount thresholds are in whole
//! tokens of the proposal's own asset: the DAO stores no price, and a strategy
//! must not fetch one (decisions are pure), so 100 000 WBTC and 100 000 USDC
//! are treated alike. Operators who need value-aware limits write `rules` per
//! asset.

use super::amount::Decimal;
use super::view::ProposalView;
use super::{Decision, VoteChoice};
use crate::dao::ProposalKind;

/// Fiat-backed stablecoins: the conservative strategy's only investments.
pub const STABLECOINS: [&str; 5] = ["USDC", "USDT", "DAI", "EURT", "EURC"];

/// Assets the aggressive strategy treats as growth exposure.
pub const GROWTH_ASSETS: [&str; 5] = ["WBTC", "WETH", "LINK", "UNI", "AAVE"];

pub fn is_stablecoin(symbol: &str) -> bool {
    STABLECOINS.iter().any(|s| s.eq_ignore_ascii_case(symbol))
}

pub fn is_growth_asset(symbol: &str) -> bool {
    GROWTH_ASSETS.iter().any(|s| s.eq_ignore_ascii_case(symbol))
}

/// A proposal a built-in strategy can judge: an investment or divestment of
/// an asset whose symbol and decimals were read on chain.
pub struct Judgeable<'a> {
    pub kind: ProposalKind,
    pub symbol: &'a str,
    pub amount: Decimal,
}

/// The checks that come first in both built-ins (their rules 1 and 2):
/// `Err` is the `skip` decision for a proposal they cannot judge.
pub fn judgeable(view: &ProposalView) -> Result<Judgeable<'_>, Decision> {
    if !matches!(
        view.kind,
        ProposalKind::Investment | ProposalKind::Divestment
    ) {
        return Err(decide(
            VoteChoice::Skip,
            "not-asset-proposal",
            format!(
                "{} proposals are not judged from on-chain data",
                view.kind.as_str()
            ),
        ));
    }
    match (&view.asset_symbol, view.amount) {
        (Some(symbol), Some(amount)) => Ok(Judgeable {
            kind: view.kind,
            symbol,
            amount,
        }),
        _ => Err(decide(
            VoteChoice::Skip,
            "unknown-asset",
            match view.asset {
                Some(a) => format!("asset {a} has no readable ERC-20 symbol/decimals"),
                None => "proposal names no asset".to_owned(),
            },
        )),
    }
}

pub fn decide(vote: VoteChoice, rule: &str, reason: String) -> Decision {
    Decision {
        vote,
        reason,
        rule: Some(rule.to_owned()),
    }
}

/// A threshold written as a literal in this crate.
pub fn whole_tokens(n: u64) -> Decimal {
    Decimal {
        mantissa: alloy::primitives::U256::from(n),
        scale: 0,
    }
}

#[cfg(test)]
pub mod fixtures {
    use alloy::primitives::{Address, U256, address};

    use super::super::amount::Decimal;
    use super::super::view::ProposalView;
    use crate::dao::ProposalKind;

    pub const ASSET: Address = address!("00000000000000000000000000000000000000a5");

    /// A view of an AssetDAO proposal; `amount` in whole tokens.
    pub fn view(kind: ProposalKind, symbol: Option<&str>, amount: &str) -> ProposalView {
        let amount = Decimal::parse(amount);
        ProposalView {
            id: U256::from(1),
            kind,
            asset: Some(ASSET),
            asset_symbol: symbol.map(str::to_owned),
            asset_decimals: amount.map(|_| 0),
            amount_raw: amount.map(|a| a.mantissa).unwrap_or_default(),
            amount,
            description: String::new(),
            proposer: Address::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::view;
    use super::*;

    #[test]
    fn classes_ignore_case() {
        assert!(is_stablecoin("usdc") && is_stablecoin("EURT"));
        assert!(!is_stablecoin("PAXG"));
        assert!(is_growth_asset("wbtc") && !is_growth_asset("USDC"));
    }

    #[test]
    fn only_known_asset_proposals_are_judgeable() {
        let cases = [
            (
                ProposalKind::ParameterChange,
                Some("USDC"),
                "1",
                "not-asset-proposal",
            ),
            (ProposalKind::Other, Some("USDC"), "1", "not-asset-proposal"),
            (ProposalKind::Investment, None, "1", "unknown-asset"),
            (ProposalKind::Divestment, Some("USDC"), "x", "unknown-asset"),
        ];
        for (kind, symbol, amount, rule) in cases {
            let d = judgeable(&view(kind, symbol, amount)).err().unwrap();
            assert_eq!(d.vote, VoteChoice::Skip);
            assert_eq!(d.rule.as_deref(), Some(rule));
        }
        assert!(judgeable(&view(ProposalKind::Investment, Some("USDC"), "1")).is_ok());
    }
}
