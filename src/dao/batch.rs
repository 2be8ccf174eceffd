//! Bulk reads as JSON-RPC batches: many calls in one HTTP request through
//! the pool, which sends, fails over and retries a batch as a whole and
//! charges its rate limit per call inside it. `round.batch_size` bounds a
//! batch; 1 sends every call on its own (for providers that refuse batches).
//!
//! Each call keeps its own answer: a revert or JSON-RPC error of one call is
//! that call's result. A batch that fails as a whole (no endpoint answered)
//! fails every call in it with the same message.

use alloy::providers::{DynProvider, Provider};
use alloy::rpc::client::BatchRequest;
use alloy::rpc::json_rpc::{RpcRecv, RpcSend};
use alloy::transports::{TransportErrorKind, TransportResult};
use futures::{StreamExt, stream};

/// `round.batch_size` when the configuration does not say.
pub const DEFAULT_BATCH_SIZE: usize = 50;

/// Calls `method` once per item of `params`, `size` calls per batch and
/// `concurrency` batches in flight. Results are in input order.
pub async fn call_many<P, R>(
    provider: &DynProvider,
    method: &'static str,
    params: Vec<P>,
    size: usize,
    concurrency: usize,
) -> Vec<TransportResult<R>>
where
    P: RpcSend,
    R: RpcRecv,
{
    let size = size.max(1);
    let mut chunks: Vec<Vec<P>> = Vec::with_capacity(params.len().div_ceil(size));
    let mut items = params.into_iter().peekable();
    while items.peek().is_some() {
        chunks.push(items.by_ref().take(size).collect());
    }
    let answered: Vec<Vec<TransportResult<R>>> = stream::iter(chunks)
        .map(|chunk| one_batch(provider, method, chunk))
        .buffered(concurrency.max(1))
        .collect()
        .await;
    answered.into_iter().flatten().collect()
}

async fn one_batch<P, R>(
    provider: &DynProvider,
    method: &'static str,
    chunk: Vec<P>,
) -> Vec<TransportResult<R>>
where
    P: RpcSend,
    R: RpcRecv,
{
    if chunk.len() == 1 {
        let mut out = Vec::with_capacity(1);
        for p in chunk {
            out.push(provider.client().request(method, p).await);
        }
        return out;
    }
    let mut batch = BatchRequest::new(provider.client());
    let waiters: Vec<_> = chunk
        .iter()
        .map(|p| batch.add_call::<P, R>(method, p))
        .collect();
    if let Err(e) = batch.send().await {
        let message = format!("{method} batch of {}: {e}", chunk.len());
        return chunk
            .iter()
            .map(|_| Err(TransportErrorKind::custom_str(&message)))
            .collect();
    }
    let mut out = Vec::with_capacity(waiters.len());
    for w in waiters {
        out.push(match w {
            Ok(w) => w.await,
            Err(e) => Err(e),
        });
    }
    out
}
