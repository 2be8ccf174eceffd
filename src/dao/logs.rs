//! `eth_getLogs` over a long block range, in pages. Providers cap the range
//! (often 10 000 blocks, some much less) or the result size; a refused page is
//! split in half and retried, down to a single block, before giving up.

use alloy::primitives::Address;
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::{Filter, Log};

use super::error::DaoError;

/// The first page size tried.
pub const PAGE_BLOCKS: u64 = 10_000;

/// All logs matching `filter` (address and topics; its block range is
/// replaced) in `from..=to`, in block order.
pub async fn scan_logs(
    provider: &DynProvider,
    contract: Address,
    filter: Filter,
    from: u64,
    to: u64,
) -> Result<Vec<Log>, DaoError> {
    let mut out = Vec::new();
    let mut page = PAGE_BLOCKS;
    let mut start = from;
    while start <= to {
        let end = start.saturating_add(page - 1).min(to);
        let f = filter.clone().from_block(start).to_block(end);
        match provider.get_logs(&f).await {
            Ok(mut logs) => {
                out.append(&mut logs);
                start = end.saturating_add(1);
                if end == u64::MAX {
                    break;
                }
            }
            Err(e) if page > 1 => {
                tracing::debug!(from = start, to = end, error = %e, "log page refused; halving");
                page /= 2;
            }
            Err(e) => {
                return Err(DaoError::from_transport(
                    contract,
                    format!("eth_getLogs({start}..={end})"),
                    &e,
                ));
            }
        }
    }
    Ok(out)
}
