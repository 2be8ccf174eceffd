//! Which paths exist and which methods each accepts. One table, so that 404,
//! 405 (with `Allow`), the preflight answer and the `GET /` index can never
//! disagree with what the handlers serve.

use hyper::Method;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Index,
    Live,
    Ready,
    Health,
    Metrics,
    StatusPage,
    Status,
    Nodes,
    Proposals,
    Rounds,
    /// `/api/v1/daos`: every DAO the daemon votes in.
    Daos,
    /// `/api/v1/rounds/{id}`; `None` when the segment is not a round id
    /// (answered 404 like an unknown id).
    Round(Option<i64>),
    /// `/nodes`: [`Route::Nodes`] in govnode's shape, DLoop's in compat mode.
    DloopNodes,
    /// `/active-proposals`: [`Route::Proposals`], or DLoop's shape.
    ActiveProposals,
    /// `POST /trigger-voting`, the DLoop alias of `POST /api/v1/rounds`.
    TriggerVoting,
    /// `POST /emergency-voting`: the same round trigger under DLoop's other name.
    EmergencyVoting,
}

/// One row of the routing table.
pub struct RouteSpec {
    /// The path as documented; `{id}` marks the one parameterised route.
    pub path: &'static str,
    pub route: Route,
    /// `HEAD` is answered wherever `GET` is.
    pub methods: &'static [Method],
    /// Methods that need `Authorization: Bearer <api token>`.
    pub auth: &'static [Method],
    pub summary: &'static str,
}

const READ: &[Method] = &[Method::GET, Method::HEAD];

pub const TABLE: &[RouteSpec] = &[
    RouteSpec {
        path: "/",
        route: Route::Index,
        methods: READ,
        auth: &[],
        summary: "this index",
    },
    RouteSpec {
        path: "/health",
        route: Route::Health,
        methods: READ,
        auth: &[],
        summary: "overall health with each component's report",
    },
    RouteSpec {
        path: "/health/live",
        route: Route::Live,
        methods: READ,
        auth: &[],
        summary: "liveness: 200 while the process answers",
    },
    RouteSpec {
        path: "/health/ready",
        route: Route::Ready,
        methods: READ,
        auth: &[],
        summary: "readiness: 200 when a verified RPC endpoint is usable, else 503",
    },
    RouteSpec {
        path: "/metrics",
        route: Route::Metrics,
        methods: READ,
        auth: &[],
        summary: "Prometheus metrics",
    },
    RouteSpec {
        path: "/status",
        route: Route::StatusPage,
        methods: READ,
        auth: &[],
        summary: "HTML status page",
    },
    RouteSpec {
        path: "/api/v1/status",
        route: Route::Status,
        methods: READ,
        auth: &[],
        summary: "daemon, chain, DAO, health and round summary",
    },
    RouteSpec {
        path: "/api/v1/nodes",
        route: Route::Nodes,
        methods: READ,
        auth: &[],
        summary: "voter nodes with balances, voting power and votes",
    },
    RouteSpec {
        path: "/api/v1/proposals",
        route: Route::Proposals,
        methods: READ,
        auth: &[],
        summary: "open proposals with each node's decision and vote",
    },
    RouteSpec {
        path: "/api/v1/rounds",
        route: Route::Rounds,
        methods: &[Method::GET, Method::HEAD, Method::POST],
        auth: &[Method::POST],
        summary: "GET: voting rounds, newest first; POST: start (or join) a round",
    },
    RouteSpec {
        path: "/api/v1/rounds/{id}",
        route: Route::Round(None),
        methods: READ,
        auth: &[],
        summary: "one round with its votes",
    },
    RouteSpec {
        path: "/api/v1/daos",
        route: Route::Daos,
        methods: READ,
        auth: &[],
        summary: "every DAO this daemon votes in, with its chain and voters",
    },
    RouteSpec {
        path: "/api/v1/daos/{name}/status",
        route: Route::Status,
        methods: READ,
        auth: &[],
        summary: "/api/v1/status of one DAO",
    },
    RouteSpec {
        path: "/api/v1/daos/{name}/nodes",
        route: Route::Nodes,
        methods: READ,
        auth: &[],
        summary: "/api/v1/nodes of one DAO",
    },
    RouteSpec {
        path: "/api/v1/daos/{name}/proposals",
        route: Route::Proposals,
        methods: READ,
        auth: &[],
        summary: "/api/v1/proposals of one DAO",
    },
    RouteSpec {
        path: "/api/v1/daos/{name}/rounds",
        route: Route::Rounds,
        methods: &[Method::GET, Method::HEAD, Method::POST],
        auth: &[Method::POST],
        summary: "/api/v1/rounds of one DAO",
    },
    RouteSpec {
        path: "/api/v1/daos/{name}/rounds/{id}",
        route: Route::Round(None),
        methods: READ,
        auth: &[],
        summary: "/api/v1/rounds/{id} of one DAO",
    },
    RouteSpec {
        path: "/nodes",
        route: Route::DloopNodes,
        methods: READ,
        auth: &[],
        summary: "alias of /api/v1/nodes (DLoop's shape with api.dloop_compat)",
    },
    RouteSpec {
        path: "/active-proposals",
        route: Route::ActiveProposals,
        methods: READ,
        auth: &[],
        summary: "alias of /api/v1/proposals (DLoop's shape with api.dloop_compat)",
    },
    RouteSpec {
        path: "/trigger-voting",
        route: Route::TriggerVoting,
        methods: &[Method::POST],
        auth: &[Method::POST],
        summary: "alias of POST /api/v1/rounds (with api.dloop_compat: waits, DLoop's shape)",
    },
    RouteSpec {
        path: "/emergency-voting",
        route: Route::EmergencyVoting,
        methods: &[Method::POST],
        auth: &[Method::POST],
        summary: "alias of POST /trigger-voting",
    },
];

const ROUND_PREFIX: &str = "/api/v1/rounds/";

/// Where one DAO's routes start: `/api/v1/daos/{name}/…` is that DAO's
/// `/api/v1/…`.
pub const DAO_PREFIX: &str = "/api/v1/daos/";

/// Splits `/api/v1/daos/{name}/rest` into the DAO's name and the path it
/// stands for, `/api/v1/rest`.
pub fn dao_scoped(path: &str) -> Option<(&str, String)> {
    let rest = path.strip_prefix(DAO_PREFIX)?;
    let (name, sub) = rest.split_once('/').unwrap_or((rest, ""));
    Some((name, format!("/api/v1/{sub}")))
}

/// Routes that speak of one DAO: with several DAOs they are asked under
/// [`DAO_PREFIX`].
pub fn is_per_dao(route: Route) -> bool {
    matches!(
        route,
        Route::Status | Route::Nodes | Route::Proposals | Route::Rounds | Route::Round(_)
    )
}

pub fn resolve(path: &str) -> Option<Route> {
    let path = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    if let Some(id) = path.strip_prefix(ROUND_PREFIX) {
        if id.contains('/') {
            return None;
        }
        return Some(Route::Round(id.parse().ok().filter(|n: &i64| *n > 0)));
    }
    TABLE
        .iter()
        .filter(|s| !s.path.contains('{'))
        .find(|s| s.path == path)
        .map(|s| s.route)
}

fn spec(route: Route) -> &'static RouteSpec {
    let same = |s: &&RouteSpec| match (s.route, route) {
        (Route::Round(_), Route::Round(_)) => true,
        (a, b) => a == b,
    };
    // Every `Route` has a row; the index is the fallback only to stay total.
    TABLE.iter().find(same).unwrap_or(&TABLE[0])
}

pub fn methods(route: Route) -> &'static [Method] {
    spec(route).methods
}

pub fn needs_auth(route: Route, method: &Method) -> bool {
    spec(route).auth.contains(method)
}

pub fn allow_header(route: Route) -> String {
    let mut names: Vec<&str> = methods(route).iter().map(Method::as_str).collect();
    names.push("OPTIONS");
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_known_paths_only() {
        assert_eq!(resolve("/health/live"), Some(Route::Live));
        assert_eq!(resolve("/health/"), Some(Route::Health));
        assert_eq!(resolve("/"), Some(Route::Index));
        assert_eq!(resolve("/nope"), None);
        assert_eq!(resolve("/nodes"), Some(Route::DloopNodes));
        assert_eq!(resolve("/api/v1/nodes"), Some(Route::Nodes));
        assert_eq!(resolve("/active-proposals"), Some(Route::ActiveProposals));
        assert_eq!(resolve("/emergency-voting"), Some(Route::EmergencyVoting));
        assert_eq!(allow_header(Route::Metrics), "GET, HEAD, OPTIONS");
        assert_eq!(resolve("/api/v1/daos"), Some(Route::Daos));
    }

    #[test]
    fn dao_paths_stand_for_their_dao_s_routes() {
        let (name, path) = dao_scoped("/api/v1/daos/alpha/rounds/3").unwrap();
        assert_eq!(
            (name, resolve(&path)),
            ("alpha", Some(Route::Round(Some(3))))
        );
        let (_, path) = dao_scoped("/api/v1/daos/alpha/status").unwrap();
        assert_eq!(resolve(&path), Some(Route::Status));
        let (_, path) = dao_scoped("/api/v1/daos/alpha").unwrap();
        assert_eq!(resolve(&path), None);
        assert!(dao_scoped("/api/v1/status").is_none());
    }

    #[test]
    fn round_ids() {
        assert_eq!(resolve("/api/v1/rounds/12"), Some(Route::Round(Some(12))));
        assert_eq!(resolve("/api/v1/rounds/12/"), Some(Route::Round(Some(12))));
        assert_eq!(resolve("/api/v1/rounds/abc"), Some(Route::Round(None)));
        assert_eq!(resolve("/api/v1/rounds/0"), Some(Route::Round(None)));
        assert_eq!(resolve("/api/v1/rounds/1/x"), None);
        assert_eq!(resolve("/api/v1/rounds"), Some(Route::Rounds));
        assert_eq!(allow_header(Route::Round(Some(3))), "GET, HEAD, OPTIONS");
    }

    #[test]
    fn only_state_changes_need_the_token() {
        assert!(needs_auth(Route::Rounds, &Method::POST));
        assert!(!needs_auth(Route::Rounds, &Method::GET));
        assert!(needs_auth(Route::TriggerVoting, &Method::POST));
        assert_eq!(allow_header(Route::TriggerVoting), "POST, OPTIONS");
        assert_eq!(allow_header(Route::Rounds), "GET, HEAD, POST, OPTIONS");
    }
}
