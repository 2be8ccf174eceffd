//! What a strategy sees of a proposal: the DAO's fields plus the chain facts
//! resolved for it (the asset's on-chain symbol and decimals), so that
//! deciding needs no I/O and the same view always gives the same decision.

use alloy::primitives::{Address, U256};
use serde::{Deserialize, Serialize};

use super::amount::Decimal;
use crate::dao::{Proposal, ProposalKind, TokenInfo};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalView {
    pub id: U256,
    pub kind: ProposalKind,
    pub asset: Option<Address>,
    /// The asset's ERC-20 `symbol()` as read on chain; `None` when the asset
    /// has none, the call reverted, or there is no asset.
    pub asset_symbol: Option<String>,
    pub asset_decimals: Option<u8>,
    /// The proposal's amount in base units, as stored by the DAO.
    pub amount_raw: U256,
    /// The amount in whole tokens; `None` without known decimals.
    #[serde(with = "opt_decimal")]
    pub amount: Option<Decimal>,
    pub description: String,
    pub proposer: Address,
}

impl ProposalView {
    /// `token` is what the resolver found for `proposal.asset`, if anything.
    pub fn new(proposal: &Proposal, token: Option<&TokenInfo>) -> ProposalView {
        let token = token.filter(|t| Some(t.address) == proposal.asset);
        let decimals = token.and_then(|t| t.decimals);
        ProposalView {
            id: proposal.id,
            kind: proposal.kind,
            asset: proposal.asset,
            asset_symbol: token.and_then(|t| t.symbol.clone()),
            asset_decimals: decimals,
            amount_raw: proposal.amount,
            amount: decimals.and_then(|d| Decimal::from_base_units(proposal.amount, d)),
            description: proposal.description.clone(),
            proposer: proposal.proposer,
        }
    }

    /// `"250000 USDC"`, or the raw amount when the asset is not known.
    pub fn amount_label(&self) -> String {
        match (&self.amount, &self.asset_symbol) {
            (Some(a), Some(s)) => format!("{a} {s}"),
            (Some(a), None) => a.to_string(),
            _ => format!("{} base units", self.amount_raw),
        }
    }
}

/// Amounts travel as decimal strings in JSON (exact, and readable in the API).
mod opt_decimal {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Decimal;

    pub fn serialize<S: Serializer>(v: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(d) => s.serialize_some(&d.to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        let raw: Option<String> = Option::deserialize(d)?;
        raw.map(|s| {
            Decimal::parse(&s)
                .ok_or_else(|| serde::de::Error::custom(format!("not a decimal amount: {s:?}")))
        })
        .transpose()
    }
}
