//! Each node's voting power and gas balance at the round's head, read every
//! round (votes or not): the gauges behind the balance alerts, and the
//! zero-power check that keeps a node from burning its one vote.

use alloy::eips::BlockId;
use alloy::primitives::{Address, U256};

use super::context::Voting;
use crate::dao::Head;

/// Each voter's voting power at the head; `None` where it could not be read
/// (the vote is then sent: the chain is the judge, and a read error is no reason to skip).
pub async fn voting_powers(v: &Voting, head: &Head) -> Vec<Option<U256>> {
    let accounts: Vec<Address> = v.voters.iter().map(|n| n.address).collect();
    let (powers, balances) = tokio::join!(
        v.dao.voting_powers(&accounts, head),
        crate::dao::eth_balances(
            &v.provider,
            &v.multicall,
            &accounts,
            BlockId::latest(),
            v.round.batch_size,
            v.round.concurrency,
        )
    );
    let mut out = Vec::with_capacity(v.voters.len());
    for ((voter, power), balance) in v.voters.iter().zip(powers).zip(balances) {
        let node = voter.name.as_str();
        let power = match power {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!(NODE = %node, error = %e, "cannot read voting power");
                None
            }
        };
        if let Some(p) = power {
            v.metrics
                .wallet_voting_power
                .with_label_values(&[node])
                .set(whole_tokens(p));
            v.metrics
                .no_voting_power
                .with_label_values(&[node])
                .set(i64::from(p.is_zero()));
        }
        if let Ok(balance) = balance {
            v.metrics
                .wallet_wei
                .with_label_values(&[node])
                .set(base_units(balance));
        }
        out.push(power);
    }
    out
}

/// `amount` in its own unit (wei stays wei) as a float, for a gauge.
fn base_units(amount: U256) -> f64 {
    as_gauge(amount, 0)
}

/// 18-decimal amount as a float, for gauges only.
pub fn whole_tokens(amount: U256) -> f64 {
    as_gauge(amount, 18)
}

/// Exact up to 2^53, then rounded, which a gauge can afford.
fn as_gauge(amount: U256, decimals: u8) -> f64 {
    alloy::primitives::utils::format_units(amount, decimals)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_balance_gauge_reads_in_wei() {
        let one_and_a_half_eth = U256::from(1_500_000_000_000_000_000u128);
        assert_eq!(base_units(one_and_a_half_eth), 1.5e18);
        assert_eq!(whole_tokens(one_and_a_half_eth), 1.5);
    }
}
