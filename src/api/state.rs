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
    /// With several DAOs: each one's own state, for `/api/v1/daos/{name}/…`.
    pub daos: Vec<(String, std::sync::Arc<ApiState>)>,
}

impl ApiState {
    pub fn new(daemon: Daemon) -> Self {
        let daos = if daemon.many_daos() {
            daemon
                .each_dao()
                .into_iter()
                .map(|d| (d.dao_name().to_owned(), std::sync::Arc::new(Self::one(d))))
                .collect()
        } else {
            Vec::new()
        };
        ApiState {
            daos,
            ..Self::one(daemon)
        }
    }

    fn one(daemon: Daemon) -> Self {
        ApiState {
            daemon,
            proposals: TtlCache::new(CHAIN_READ_TTL),
            balances: TtlCache::new(CHAIN_READ_TTL),
            daos: Vec::new(),
        }
    }
}
