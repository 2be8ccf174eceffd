//! Gas estimates of a wallet's votes in one `eth_simulateV1` call: the votes
//! run in order on the state each earlier one left (with consecutive nonces
//! when the wallet's next nonce is known), as they will be mined, and each
//! reports its gas used or its revert data.
//!
//! A call that fails alone (status 0) keeps the others' results. A failure
//! without revert data (anvil reports out-of-gas, an invalid opcode and an
//! empty `revert()` alike) is estimated again with `eth_estimateGas`, so its
//! reason reads exactly as an estimate's would. When the whole request fails
//! (the endpoint lacks the method, refuses the payload, or no endpoint
//! answers), every vote is estimated per call ([`super::estimate_votes`]);
//! the pool remembers endpoints without the method, so that fallback costs
//! no extra request in later rounds.

use alloy::eips::BlockId;
use alloy::network::TransactionBuilder;
use alloy::primitives::Address;
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::simulate::{SimBlock, SimCallResult, SimulatePayload, SimulatedBlock};

use super::{Dao, DaoError, RevertReason, VoteCall, estimate_votes};

/// Calls per simulated block: well inside a block's gas limit at a vote's
/// gas (about 100,000 each), so the simulation never runs out of block gas.
const CALLS_PER_BLOCK: usize = 100;

/// One vote's estimate: gas, a refusal by the chain, or a failed read.
pub type Estimate = Result<Result<u64, RevertReason>, DaoError>;

/// How the estimates of a wallet were made (for logs and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EstimatedBy {
    Simulation,
    PerCall,
}

/// Estimates `calls` from `from` at `at`, one simulation for all of them,
/// falling back to per-call estimates (see the module's rules). `nonce` is
/// the wallet's next nonce when known.
#[allow(clippy::too_many_arguments)]
pub async fn simulate_votes(
    provider: &DynProvider,
    dao: &dyn Dao,
    calls: &[&VoteCall],
    from: Address,
    nonce: Option<u64>,
    at: BlockId,
    batch_size: usize,
    concurrency: usize,
) -> (Vec<Estimate>, EstimatedBy) {
    let blocks = calls.chunks(CALLS_PER_BLOCK).enumerate().map(|(b, chunk)| {
        SimBlock::default().extend_calls(chunk.iter().enumerate().map(|(i, c)| {
            let request = c.request(from);
            match nonce {
                Some(n) => request.with_nonce(n + (b * CALLS_PER_BLOCK + i) as u64),
                None => request,
            }
        }))
    });
    let payload = SimulatePayload::default().extend_blocks(blocks);
    let simulated: Result<Vec<SimulatedBlock>, _> = provider
        .client()
        .request("eth_simulateV1", (&payload, at))
        .await;
    let results: Option<Vec<SimCallResult>> = match simulated {
        Ok(blocks) => Some(blocks.into_iter().flat_map(|b| b.calls).collect()),
        Err(e) => {
            tracing::debug!(%from, error = %crate::telemetry::redact::redact_text(&e.to_string(), &[]), "eth_simulateV1 not answered; estimating each vote");
            None
        }
    };
    let results = results.filter(|r| {
        let whole = r.len() == calls.len();
        if !whole {
            tracing::warn!(%from, calls = calls.len(), results = r.len(), "eth_simulateV1 answered another number of calls; estimating each vote");
        }
        whole
    });
    let Some(results) = results else {
        let out = estimate_votes(provider, dao, calls, from, at, batch_size, concurrency).await;
        return (out, EstimatedBy::PerCall);
    };
    let read: Vec<Option<Result<u64, RevertReason>>> = results
        .iter()
        .map(|r| read_result(&|d| dao.decode_revert(d), r))
        .collect();
    // Failures without data: asked again one by one, for today's wording.
    let again: Vec<&VoteCall> = calls
        .iter()
        .zip(&read)
        .filter(|(_, r)| r.is_none())
        .map(|(c, _)| *c)
        .collect();
    let mut answers = if again.is_empty() {
        Vec::new()
    } else {
        estimate_votes(provider, dao, &again, from, at, batch_size, concurrency).await
    }
    .into_iter();
    let out = read
        .into_iter()
        .zip(calls)
        .map(|(r, call)| match r {
            Some(r) => Ok(r),
            None => answers.next().unwrap_or_else(|| {
                Err(DaoError::Decode {
                    contract: call.to,
                    call: format!("simulate(vote {} from {from})", call.proposal_id),
                    detail: "no estimate for this vote".into(),
                })
            }),
        })
        .collect();
    (out, EstimatedBy::Simulation)
}

/// A simulated call's gas, or its revert decoded; `None` when it failed
/// without revert data (left to `eth_estimateGas` to word).
fn read_result(
    decode: &dyn Fn(&[u8]) -> RevertReason,
    r: &SimCallResult,
) -> Option<Result<u64, RevertReason>> {
    if r.status {
        // The peak gas where the node reports it (refunds lower `gasUsed`).
        return Some(Ok(r.max_used_gas.unwrap_or(r.gas_used).max(r.gas_used)));
    }
    let data = r
        .error
        .as_ref()
        .and_then(|e| e.data.clone())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| r.return_data.clone());
    if data.is_empty() {
        return None;
    }
    Some(Err(decode(&data)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::Bytes;
    use alloy::rpc::types::simulate::SimulateError;

    fn failed(return_data: &[u8], error_data: Option<&[u8]>) -> SimCallResult {
        SimCallResult {
            return_data: Bytes::copy_from_slice(return_data),
            gas_used: 23_000,
            status: false,
            error: Some(SimulateError {
                code: -32000,
                message: "execution failed".into(),
                data: error_data.map(Bytes::copy_from_slice),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn revert_data_is_read_where_either_node_puts_it() {
        use alloy::sol_types::SolError;
        let paused = super::super::IAssetDAO::ContractPaused {}.abi_encode();
        // anvil: in returnData; geth: in error.data.
        for r in [failed(&paused, None), failed(&[], Some(&paused))] {
            assert_eq!(
                read_result(&RevertReason::decode, &r),
                Some(Err(RevertReason::ContractPaused))
            );
        }
        assert_eq!(read_result(&RevertReason::decode, &failed(&[], None)), None);
        let ok = SimCallResult {
            gas_used: 50_000,
            max_used_gas: Some(60_000),
            status: true,
            ..Default::default()
        };
        assert_eq!(read_result(&RevertReason::decode, &ok), Some(Ok(60_000)));
    }
}
