//! Health and metrics endpoints.

use hyper::{Response, StatusCode};
use serde::Serialize;

use super::response::{self, Body};
use crate::service::{Daemon, HealthRegistry, Status};

pub fn live() -> Response<Body> {
    response::json(StatusCode::OK, &serde_json::json!({ "status": "alive" }))
}

pub fn ready(daemon: &Daemon) -> Response<Body> {
    let snapshot = daemon.health().snapshot();
    let warnings = HealthRegistry::warnings(&snapshot);
    let (status, mut body) = match HealthRegistry::readiness(&snapshot) {
        Ok(()) => (StatusCode::OK, serde_json::json!({ "status": "ready" })),
        Err(reasons) => (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({ "status": "not_ready", "reasons": reasons }),
        ),
    };
    if !warnings.is_empty() {
        body["warnings"] = serde_json::json!(warnings);
    }
    response::json(status, &body)
}

#[derive(Serialize)]
struct HealthBody {
    status: Status,
    ready: bool,
    version: &'static str,
    uptime_seconds: u64,
    chain_id: u64,
    /// `single`, `leader` or `standby`.
    role: crate::ha::Role,
    /// The role with, under HA, `id`, `leader` and `lease_token`.
    ha: crate::ha::HaView,
    components: std::collections::BTreeMap<String, crate::service::ComponentReport>,
}

/// Always 200 when the process answers: the body carries the verdict, so a
/// degraded daemon still shows its details.
pub fn health(daemon: &Daemon) -> Response<Body> {
    let components = daemon.health().snapshot();
    let body = HealthBody {
        status: HealthRegistry::overall(&components),
        ready: HealthRegistry::readiness(&components).is_ok(),
        version: env!("CARGO_PKG_VERSION"),
        uptime_seconds: daemon.uptime().as_secs(),
        chain_id: daemon.settings().config.chain.id,
        role: daemon.ha().role(),
        ha: daemon.ha().view(),
        components,
    };
    response::json(StatusCode::OK, &body)
}

pub fn metrics(daemon: &Daemon) -> Response<Body> {
    match daemon.metrics().render() {
        Ok(text) => response::text(
            StatusCode::OK,
            text,
            "text/plain; version=0.0.4; charset=utf-8",
        ),
        Err(e) => response::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            &format!("cannot render metrics: {e}"),
        ),
    }
}
