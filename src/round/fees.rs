//! The fees a round signs its votes with: alloy's EIP-1559 estimate on the
//! *next* block's base fee, held under the operator's ceilings
//! (`round.max_fee_per_gas`, `round.max_priority_fee_per_gas`). A vote whose
//! next block is already priced above the ceiling is not signed at all: a
//! transaction under the base fee only waits in a mempool, holding its
//! nonce, and may be dropped.

use alloy::eips::BlockNumberOrTag;
use alloy::providers::Provider;
use alloy::providers::utils::{
    EIP1559_FEE_ESTIMATION_PAST_BLOCKS, EIP1559_FEE_ESTIMATION_REWARD_PERCENTILE,
    eip1559_default_estimator,
};

use super::context::Voting;
use crate::config::Wei;

/// Fees to sign with, within the ceilings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fees {
    pub max_fee_per_gas: u128,
    pub max_priority_fee_per_gas: u128,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pricing {
    Priced(Fees),
    /// The next block's base fee alone is above `round.max_fee_per_gas`.
    AboveCeiling {
        base_fee: u128,
        ceiling: u128,
    },
}

impl Pricing {
    pub fn waiting_reason(base_fee: u128, ceiling: u128) -> String {
        format!(
            "the next block's base fee {} is above round.max_fee_per_gas {}; the vote waits for fees to fall",
            Wei(alloy::primitives::U256::from(base_fee)),
            Wei(alloy::primitives::U256::from(ceiling))
        )
    }
}

/// The estimate `(max_fee, tip)` held under the ceilings, given the next
/// block's base fee. Pure, so every case is tested without a chain.
pub fn within_ceiling(
    estimate_max_fee: u128,
    estimate_tip: u128,
    next_base_fee: u128,
    max_fee_ceiling: u128,
    tip_ceiling: u128,
) -> Pricing {
    if next_base_fee > max_fee_ceiling {
        return Pricing::AboveCeiling {
            base_fee: next_base_fee,
            ceiling: max_fee_ceiling,
        };
    }
    let max_fee = estimate_max_fee.min(max_fee_ceiling).max(next_base_fee);
    let tip = estimate_tip.min(tip_ceiling).min(max_fee);
    Pricing::Priced(Fees {
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: tip,
    })
}

/// A fee bump of `percent`, held under the ceilings; `None` when the ceiling
/// leaves no room for a replacement nodes accept (+10 % on both fees).
pub fn bumped(
    previous: Fees,
    percent: u32,
    max_fee_ceiling: u128,
    tip_ceiling: u128,
) -> Option<Fees> {
    let up = |fee: u128| fee + fee * u128::from(percent) / 100 + 1;
    let max_fee = up(previous.max_fee_per_gas).min(max_fee_ceiling);
    let tip = up(previous.max_priority_fee_per_gas)
        .min(tip_ceiling)
        .min(max_fee);
    let enough = |new: u128, old: u128| new > old + old / 10;
    (enough(max_fee, previous.max_fee_per_gas) && enough(tip, previous.max_priority_fee_per_gas))
        .then_some(Fees {
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
        })
}

/// One `eth_feeHistory` call: the next block's base fee and recent tips.
pub async fn price(v: &Voting) -> Result<Pricing, String> {
    let history = v
        .provider
        .get_fee_history(
            EIP1559_FEE_ESTIMATION_PAST_BLOCKS,
            BlockNumberOrTag::Latest,
            &[EIP1559_FEE_ESTIMATION_REWARD_PERCENTILE],
        )
        .await
        .map_err(|e| {
            format!(
                "cannot estimate fees: {}",
                crate::telemetry::redact::redact_text(&e.to_string(), &[])
            )
        })?;
    let next_base = history
        .next_block_base_fee()
        .or_else(|| history.latest_block_base_fee())
        .unwrap_or_default();
    let estimate = eip1559_default_estimator(next_base, &history.reward.unwrap_or_default());
    Ok(within_ceiling(
        estimate.max_fee_per_gas,
        estimate.max_priority_fee_per_gas,
        next_base,
        v.round.max_fee_per_gas.as_u128(),
        v.round.max_priority_fee_per_gas.as_u128(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GWEI: u128 = 1_000_000_000;

    #[test]
    fn an_estimate_under_the_ceiling_is_kept() {
        assert_eq!(
            within_ceiling(30 * GWEI, 2 * GWEI, 14 * GWEI, 200 * GWEI, 5 * GWEI),
            Pricing::Priced(Fees {
                max_fee_per_gas: 30 * GWEI,
                max_priority_fee_per_gas: 2 * GWEI
            })
        );
    }

    #[test]
    fn an_estimate_over_the_ceiling_is_cut_to_it() {
        assert_eq!(
            within_ceiling(300 * GWEI, 9 * GWEI, 140 * GWEI, 200 * GWEI, 5 * GWEI),
            Pricing::Priced(Fees {
                max_fee_per_gas: 200 * GWEI,
                max_priority_fee_per_gas: 5 * GWEI
            })
        );
    }

    #[test]
    fn a_base_fee_over_the_ceiling_waits() {
        assert_eq!(
            within_ceiling(500 * GWEI, GWEI, 240 * GWEI, 200 * GWEI, 5 * GWEI),
            Pricing::AboveCeiling {
                base_fee: 240 * GWEI,
                ceiling: 200 * GWEI
            }
        );
    }

    #[test]
    fn bumps_stop_at_the_ceiling() {
        let start = Fees {
            max_fee_per_gas: 100 * GWEI,
            max_priority_fee_per_gas: 2 * GWEI,
        };
        let first = bumped(start, 25, 200 * GWEI, 5 * GWEI).expect("room for one bump");
        assert_eq!(first.max_fee_per_gas, 125 * GWEI + 1);
        let mut fees = first;
        let mut bumps = 1;
        while let Some(next) = bumped(fees, 25, 200 * GWEI, 5 * GWEI) {
            assert!(next.max_fee_per_gas <= 200 * GWEI);
            assert!(next.max_priority_fee_per_gas <= 5 * GWEI);
            fees = next;
            bumps += 1;
        }
        assert!(bumps < 5, "bumps are bounded by the ceiling: {bumps}");
    }
}
