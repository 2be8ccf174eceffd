//! The `rpc` health component: each endpoint's state for `/health`, how
//! new heads are followed, and not-ready when no endpoint is healthy.

use crate::service::{ComponentReport, HealthComponent, Status};

use super::endpoint::EndpointState;
use super::heads::Heads;
use super::pool::{EndpointSnapshot, Pool};

pub struct RpcHealth {
    pool: Pool,
    /// The daemon's head subscription, shown as `heads` in the detail.
    heads: Option<Heads>,
}

impl RpcHealth {
    pub fn new(pool: Pool) -> Self {
        RpcHealth { pool, heads: None }
    }

    pub fn with_heads(pool: Pool, heads: Heads) -> Self {
        RpcHealth {
            pool,
            heads: Some(heads),
        }
    }
}

impl HealthComponent for RpcHealth {
    fn name(&self) -> &str {
        "rpc"
    }

    fn report(&self) -> ComponentReport {
        let snap = self.pool.snapshot();
        let total = snap.endpoints.len();
        let healthy = snap.healthy_endpoints;
        let mut reasons: Vec<String> = Vec::new();
        if healthy == 0 {
            reasons.push(format!(
                "no healthy RPC endpoint for chain {} ({total} configured)",
                snap.chain_id
            ));
        }
        reasons.extend(
            snap.endpoints
                .iter()
                .filter(|e| !e.healthy)
                .map(|e| format!("endpoint {}: {}", e.name, why_unhealthy(e))),
        );
        let mut detail = serde_json::to_value(&snap).unwrap_or_default();
        if let (Some(heads), Some(map)) = (&self.heads, detail.as_object_mut()) {
            map.insert("heads".to_owned(), heads.source().into());
        }
        ComponentReport {
            status: match healthy {
                0 => Status::Down,
                n if n < total => Status::Degraded,
                _ => Status::Up,
            },
            ready: healthy > 0,
            reasons,
            detail,
        }
    }
}

fn why_unhealthy(e: &EndpointSnapshot) -> String {
    let last = e
        .last_error
        .map(|class| {
            let detail = e.last_error_detail.as_deref().unwrap_or("");
            format!(" (last error {class}: {detail})")
        })
        .unwrap_or_default();
    match e.state {
        EndpointState::Quarantined => format!(
            "quarantined: reports chain id {}",
            e.reported_chain_id
                .map(|id| id.to_string())
                .unwrap_or_else(|| "?".into())
        ),
        EndpointState::Open => format!("breaker open{last}"),
        EndpointState::HalfOpen => {
            format!("breaker half-open, waiting for a successful probe{last}")
        }
        EndpointState::Closed if !e.chain_verified => match e.last_error {
            Some(_) => format!("chain id not verified yet{last}"),
            None => "chain id not verified yet (first probe pending)".to_owned(),
        },
        EndpointState::Closed => format!(
            "{} block(s) behind the best head",
            e.lag.unwrap_or_default()
        ),
    }
}
