//! Bulk `eth_call`s through Multicall3's `aggregate3` at its canonical
//! address: many contract reads in one JSON-RPC call, all at the same block,
//! so a provider that bills per call charges one. Every inner call allows
//! failure, so one revert is that call's result (its revert data, decoded as
//! an `eth_call` revert would be) and never fails the others.
//!
//! Whether the chain has Multicall3 is asked once (`eth_getCode`); a chain
//! without it, and any aggregate that fails as a whole (a provider's gas cap
//! on `eth_call`, a node that cannot run it), falls back to plain `eth_call`s
//! in JSON-RPC batches, so the answer is the same either way.

use std::sync::Arc;

use alloy::eips::BlockId;
use alloy::primitives::{Address, Bytes, U256, address};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::json_rpc::ErrorPayload;
use alloy::rpc::types::TransactionRequest;
use alloy::sol;
use alloy::sol_types::SolCall;
use alloy::transports::{TransportError, TransportResult};
use tokio::sync::OnceCell;

use super::batch::call_many;

/// Where Multicall3 lives on every public chain that has it.
pub const MULTICALL3: Address = address!("cA11bde05977b3631167028862bE2a173976CA11");

/// Inner calls per `aggregate3`: well under the usual 50M gas cap of
/// `eth_call` for reads like `getProposal` (tens of thousands of gas each).
const CALLS_PER_AGGREGATE: usize = 100;

sol! {
    interface IMulticall3 {
        struct Call3 {
            address target;
            bool allowFailure;
            bytes callData;
        }
        struct Result {
            bool success;
            bytes returnData;
        }
        function aggregate3(Call3[] calldata calls) external payable returns (Result[] memory returnData);
        function getEthBalance(address addr) external view returns (uint256 balance);
    }
}

/// Whether the chain has Multicall3, found out once and shared by clones
/// (the DAO adapter, the token resolver and the round's context hold one). A
/// failed lookup is not remembered: the next read asks again.
#[derive(Debug, Clone, Default)]
pub struct MulticallProbe(Arc<OnceCell<bool>>);

impl MulticallProbe {
    pub async fn available(&self, provider: &DynProvider) -> bool {
        if let Some(known) = self.0.get() {
            return *known;
        }
        match provider.get_code_at(MULTICALL3).await {
            Ok(code) => {
                let has = !code.is_empty();
                if !has {
                    tracing::info!(
                        address = %MULTICALL3,
                        "no Multicall3 on this chain; bulk reads go as JSON-RPC batches"
                    );
                }
                *self.0.get_or_init(|| async { has }).await
            }
            Err(e) => {
                tracing::debug!(error = %e, "cannot tell whether the chain has Multicall3");
                false
            }
        }
    }
}

/// `eth_call` of each `(contract, calldata)` at `at`; results in input order.
pub async fn eth_calls(
    provider: &DynProvider,
    probe: &MulticallProbe,
    calls: Vec<(Address, Bytes)>,
    at: BlockId,
    size: usize,
    concurrency: usize,
) -> Vec<TransportResult<Bytes>> {
    if calls.len() < 2 || !probe.available(provider).await {
        return plain_calls(provider, calls, at, size, concurrency).await;
    }
    let chunks: Vec<Vec<(Address, Bytes)>> = calls
        .chunks(CALLS_PER_AGGREGATE)
        .map(<[_]>::to_vec)
        .collect();
    let aggregates: Vec<(Address, Bytes)> = chunks
        .iter()
        .map(|chunk| {
            let call = IMulticall3::aggregate3Call {
                calls: chunk
                    .iter()
                    .map(|(target, data)| IMulticall3::Call3 {
                        target: *target,
                        allowFailure: true,
                        callData: data.clone(),
                    })
                    .collect(),
            };
            (MULTICALL3, Bytes::from(call.abi_encode()))
        })
        .collect();
    let answers = plain_calls(provider, aggregates, at, size, concurrency).await;
    let mut out = Vec::with_capacity(calls.len());
    for (chunk, answer) in chunks.into_iter().zip(answers) {
        let results = answer
            .ok()
            .and_then(|raw| IMulticall3::aggregate3Call::abi_decode_returns(&raw).ok())
            .filter(|r| r.len() == chunk.len());
        match results {
            Some(results) => out.extend(results.into_iter().map(|r| {
                if r.success {
                    Ok(r.returnData)
                } else {
                    Err(reverted(&r.returnData))
                }
            })),
            None => {
                tracing::debug!(
                    calls = chunk.len(),
                    "a Multicall3 aggregate failed as a whole; asking its calls one by one"
                );
                out.extend(plain_calls(provider, chunk, at, size, concurrency).await);
            }
        }
    }
    out
}

/// Each account's ether balance at `at`: `getEthBalance` through Multicall3
/// when the chain has it, else `eth_getBalance` in JSON-RPC batches.
pub async fn eth_balances(
    provider: &DynProvider,
    probe: &MulticallProbe,
    accounts: &[Address],
    at: BlockId,
    size: usize,
    concurrency: usize,
) -> Vec<TransportResult<U256>> {
    if accounts.len() >= 2 && probe.available(provider).await {
        let calls = accounts
            .iter()
            .map(|a| {
                let data = IMulticall3::getEthBalanceCall { addr: *a }.abi_encode();
                (MULTICALL3, Bytes::from(data))
            })
            .collect();
        return eth_calls(provider, probe, calls, at, size, concurrency)
            .await
            .into_iter()
            .map(|r| {
                r.and_then(|raw| {
                    IMulticall3::getEthBalanceCall::abi_decode_returns(&raw).map_err(|e| {
                        alloy::transports::TransportErrorKind::custom_str(&format!(
                            "getEthBalance: {e}"
                        ))
                    })
                })
            })
            .collect();
    }
    let params = accounts.iter().map(|a| (*a, at)).collect();
    call_many(provider, "eth_getBalance", params, size, concurrency).await
}

async fn plain_calls(
    provider: &DynProvider,
    calls: Vec<(Address, Bytes)>,
    at: BlockId,
    size: usize,
    concurrency: usize,
) -> Vec<TransportResult<Bytes>> {
    let params: Vec<(TransactionRequest, BlockId)> = calls
        .into_iter()
        .map(|(to, data)| (TransactionRequest::default().to(to).input(data.into()), at))
        .collect();
    call_many(provider, "eth_call", params, size, concurrency).await
}

/// An inner call's failure in the shape of an `eth_call` revert (code 3,
/// the revert data as `data`), so callers decode it the same way.
fn reverted(data: &Bytes) -> TransportError {
    let hex = serde_json::Value::String(data.to_string());
    TransportError::ErrorResp(ErrorPayload {
        code: 3,
        message: "execution reverted".into(),
        data: serde_json::value::to_raw_value(&hex).ok(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inner_reverts_read_as_eth_call_reverts() {
        let data = Bytes::from(vec![0x08, 0xc3, 0x79, 0xa0]);
        let err = reverted(&data);
        assert_eq!(super::super::revert_data(&err), Some(data));
    }
}
