//! The seed's scenario: which tokens exist and which proposals the devnet
//! creates, in id order. Pure data, deterministic: the same number of open
//! proposals always gives the same list.
//!
//! Open proposals cycle through [`TEMPLATES`], a mix meant to make the built-in
//! strategies disagree: small stablecoin investments (conservative says yes),
//! large amounts over the 100k threshold (conservative says no), volatile
//! growth assets (aggressive says yes), divestments, and parameter changes and
//! other proposals without an asset (address zero, amount zero). Each later
//! cycle multiplies the amounts by the cycle number, so amounts cross the
//! thresholds in both directions.
//!
//! A few proposals must never be voted: two expired, one executed, two
//! canceled. Expired and executed ones need the chain's clock moved forward,
//! so they come first in id order, before any open proposal exists; canceled
//! ones are spread among the open ones.

use alloy::primitives::U256;
use alloy::primitives::utils::{format_units, parse_units};
use serde::Serialize;

use Fate::{Canceled, Executed, Expired};
use Kind::{Divestment as D, Investment as I, Other as O, ParameterChange as P};

/// An ERC-20 the devnet deploys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub symbol: &'static str,
    pub name: &'static str,
    pub decimals: u8,
    /// Whole units minted to the DAO as its treasury.
    pub treasury: &'static str,
}

pub const VOTING_TOKEN: Token = Token {
    symbol: "DLOOP",
    name: "DLoop Governance Token",
    decimals: 18,
    treasury: "0",
};

/// Treasury assets, in deployment order.
pub const ASSETS: [Token; 6] = [
    token("USDC", "USD Coin", 6, "5000000"),
    token("EURT", "Euro Tether", 6, "3000000"),
    token("WBTC", "Wrapped Bitcoin", 8, "120"),
    token("PAXG", "Paxos Gold", 18, "2000"),
    token("WETH", "Wrapped Ether", 18, "3000"),
    token("LINK", "Chainlink", 18, "400000"),
];

const fn token(
    symbol: &'static str,
    name: &'static str,
    decimals: u8,
    treasury: &'static str,
) -> Token {
    Token {
        symbol,
        name,
        decimals,
        treasury,
    }
}

/// AssetDAO's `ProposalType`, with its on-chain numbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Investment = 0,
    Divestment = 1,
    ParameterChange = 2,
    Other = 3,
}

/// What the devnet does with a proposal after creating it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fate {
    /// Left open for the daemon to vote on.
    Open,
    /// Created with a short voting period that is over by the end of the setup.
    Expired,
    /// Voted by the deployer and executed after the timelock.
    Executed,
    /// Canceled right after creation.
    Canceled,
}

impl Fate {
    /// Expired and executed proposals need the clock moved past their deadline.
    pub fn needs_time_travel(self) -> bool {
        matches!(self, Fate::Expired | Fate::Executed)
    }
}

/// One proposal to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub fate: Fate,
    pub kind: Kind,
    /// Symbol of one of [`ASSETS`]; `None` means address zero.
    pub asset: Option<&'static str>,
    /// In the asset's smallest unit.
    pub amount: U256,
    pub description: String,
}

/// A proposal to be: type, asset (`None`: address zero), amount in whole
/// units for the first cycle, and the description (`{amount}` is replaced by
/// the amount and symbol).
type Template = (Kind, Option<&'static str>, &'static str, &'static str);

#[rustfmt::skip]
const TEMPLATES: [Template; 20] = [
    (I, Some("USDC"), "25000",   "Invest {amount} in the stablecoin liquidity reserve"),
    (I, Some("WBTC"), "12",      "Add {amount} to the long-term treasury allocation"),
    (D, Some("WETH"), "40",      "Divest {amount} to rebalance towards stablecoins"),
    (I, Some("EURT"), "40000",   "Invest {amount} to hedge euro-denominated expenses"),
    (P, None,         "0",       "Raise the quorum from 10% to 15% of the votes cast"),
    (I, Some("USDC"), "1500000", "Allocate {amount} to a market-making partnership"),
    (I, Some("LINK"), "20000",   "Buy {amount} ahead of oracle staking"),
    (I, Some("PAXG"), "250",     "Hold {amount} as an inflation hedge"),
    (D, Some("USDC"), "300000",  "Withdraw {amount} to fund the developer grants programme"),
    (O, None,         "0",       "Adopt the updated contributor code of conduct"),
    (I, Some("WETH"), "800",     "Grow the ether position by {amount}"),
    (D, Some("WBTC"), "2.5",     "Take profit: sell {amount}"),
    (I, Some("EURT"), "2000000", "Move {amount} into a euro money-market fund"),
    (P, None,         "0",       "Shorten the voting period from 7 to 5 days"),
    (D, Some("LINK"), "5000",    "Reduce the oracle token exposure by {amount}"),
    (I, Some("USDC"), "80000",   "Top up the operations buffer with {amount}"),
    (D, Some("PAXG"), "100",     "Sell {amount} after the gold rally"),
    (O, Some("USDC"), "15000",   "Sponsor the community hackathon with {amount}"),
    (I, Some("WETH"), "5",       "Stake {amount} with a liquid staking provider"),
    (P, None,         "0",       "Cap a single investment at 250,000 USDC"),
];

/// The proposals that must not be voted, in id order among themselves.
#[rustfmt::skip]
const NOT_TO_VOTE: [(Fate, Template); 5] = [
    (Expired,  (I, Some("USDC"), "10000",  "Invest {amount} in short-term treasury bills (voting closed)")),
    (Expired,  (D, Some("WETH"), "25",     "Sell {amount} before the network upgrade (voting closed)")),
    (Executed, (I, Some("EURT"), "50000",  "Invest {amount} in the euro reserve (approved and executed)")),
    (Canceled, (I, Some("LINK"), "100000", "Buy {amount} (withdrawn by the proposer)")),
    (Canceled, (O, None,         "0",      "Rename the treasury multisig (withdrawn by the proposer)")),
];

/// Every proposal, in the order (and so with the ids) the chain will give them.
pub fn plan(open: usize) -> Vec<Planned> {
    let extra = |fate: Fate| {
        NOT_TO_VOTE
            .iter()
            .filter(move |(f, _)| *f == fate)
            .map(|(f, tpl)| planned(*f, tpl, 1))
    };
    let mut out: Vec<Planned> = extra(Expired).chain(extra(Executed)).collect();
    // Canceled ones sit a third and two thirds of the way through the open ones.
    let slots = [open / 3, 2 * open / 3];
    let mut pending = extra(Canceled).zip(slots).peekable();
    for i in 0..open {
        while let Some((p, _)) = pending.next_if(|(_, slot)| *slot == i) {
            out.push(p);
        }
        let cycle = i / TEMPLATES.len() + 1;
        out.push(planned(Fate::Open, &TEMPLATES[i % TEMPLATES.len()], cycle));
    }
    out.extend(pending.map(|(p, _)| p));
    out
}

/// A proposal from a template; cycle `n` multiplies the amount by `n`.
fn planned(fate: Fate, tpl: &Template, cycle: usize) -> Planned {
    let &(kind, asset, whole, text) = tpl;
    let decimals = decimals_of(asset);
    let amount = units(whole, decimals) * U256::from(cycle);
    let mut description = describe(text, asset, amount, decimals);
    if cycle > 1 {
        let what = if asset.is_some() {
            "tranche"
        } else {
            "revision"
        };
        description.push_str(&format!(" ({what} {cycle})"));
    }
    Planned {
        fate,
        kind,
        asset,
        amount,
        description,
    }
}

fn decimals_of(asset: Option<&str>) -> u8 {
    asset
        .and_then(|s| ASSETS.iter().find(|a| a.symbol == s))
        .map_or(18, |a| a.decimals)
}

/// Whole units to the smallest unit. The inputs are this file's constants,
/// checked by the tests, so a parse failure cannot happen at run time.
pub fn units(whole: &str, decimals: u8) -> U256 {
    parse_units(whole, decimals)
        .map(|u| u.get_absolute())
        .unwrap_or_default()
}

fn describe(text: &str, asset: Option<&str>, amount: U256, decimals: u8) -> String {
    match asset {
        Some(symbol) => text.replace(
            "{amount}",
            &format!("{} {symbol}", display_amount(amount, decimals)),
        ),
        None => text.to_owned(),
    }
}

/// `1500000000000` with 6 decimals → `1,500,000`; `2500000000` with 8 → `25`.
pub fn display_amount(amount: U256, decimals: u8) -> String {
    let text = format_units(amount, decimals).unwrap_or_else(|_| amount.to_string());
    let (whole, frac) = text.split_once('.').unwrap_or((text.as_str(), ""));
    let frac = frac.trim_end_matches('0');
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if frac.is_empty() {
        grouped
    } else {
        format!("{grouped}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_count_same_plan() {
        assert_eq!(plan(49), plan(49));
        let open = |n| {
            plan(n)
                .into_iter()
                .filter(|p| p.fate == Fate::Open)
                .collect::<Vec<_>>()
        };
        assert_eq!(open(49)[..17], open(17)[..]);
    }

    #[test]
    fn fates_and_order() {
        for n in [0, 1, 2, 12, 49, 100] {
            let p = plan(n);
            assert_eq!(p.len(), n + 5, "n={n}");
            assert_eq!(p.iter().filter(|x| x.fate == Fate::Open).count(), n);
            let first_late = p
                .iter()
                .position(|x| !x.fate.needs_time_travel())
                .unwrap_or(p.len());
            assert!(
                p[first_late..].iter().all(|x| !x.fate.needs_time_travel()),
                "time-travel proposals must come first (n={n})"
            );
            assert_eq!(p.iter().filter(|x| x.fate == Fate::Canceled).count(), 2);
        }
    }

    #[test]
    fn open_proposals_are_varied_and_readable() {
        let p = plan(49);
        let open: Vec<_> = p.iter().filter(|x| x.fate == Fate::Open).collect();
        for kind in [
            Kind::Investment,
            Kind::Divestment,
            Kind::ParameterChange,
            Kind::Other,
        ] {
            assert!(open.iter().any(|x| x.kind == kind), "{kind:?} missing");
        }
        let descriptions: std::collections::BTreeSet<_> =
            open.iter().map(|x| &x.description).collect();
        assert_eq!(
            descriptions.len(),
            open.len(),
            "descriptions must be unique"
        );
        assert_eq!(
            open[0].description,
            "Invest 25,000 USDC in the stablecoin liquidity reserve"
        );
        assert_eq!(open[0].amount, U256::from(25_000_000_000u64));
        assert_eq!(open[11].description, "Take profit: sell 2.5 WBTC");
        assert_eq!(
            open[20].description,
            "Invest 50,000 USDC in the stablecoin liquidity reserve (tranche 2)"
        );
        assert!(
            open.iter()
                .filter(|x| x.asset.is_none())
                .all(|x| x.amount.is_zero())
        );
        assert!(
            open.iter()
                .filter(|x| x.asset.is_some())
                .all(|x| !x.amount.is_zero())
        );
    }

    #[test]
    fn amounts_display() {
        assert_eq!(display_amount(units("1500000", 6), 6), "1,500,000");
        assert_eq!(display_amount(units("2.5", 8), 8), "2.5");
        assert_eq!(display_amount(units("100", 18), 18), "100");
        for a in ASSETS {
            assert!(!units(a.treasury, a.decimals).is_zero(), "{}", a.symbol);
        }
    }
}
