//! What every request handler reaches: the daemon and the API's short-lived
//! caches of chain reads.

use std::time::Duration;

use super::cache::TtlCache;
use super::v1::{nodes::ChainReads, proposals::ProposalSnapshot};
use crate::service::Daemon;

/// How long a listing of proposals or a set of balances is served again.
pub const CHAIN_READ_TTL: Duration = Duration::from_secs(5);

pub struct ApiState {
    pub daemon: Daemon,
    pub proposals: TtlCache<ProposalSnapshot>,
    pub balances: TtlCache<ChainReads>,
}

impl ApiState {
    pub fn new(daemon: Daemon) -> Self {
        ApiState {
            daemon,
            proposals: TtlCache::new(CHAIN_READ_TTL),
            balances: TtlCache::new(CHAIN_READ_TTL),
        }
    }
}
