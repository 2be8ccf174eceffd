//! The HTTP listener: accepts connections, applies the cross-cutting rules
//! (rate limit, body size, CORS, 404/405) and dispatches to the handlers.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::ratelimit::{ClientLimits, retry_after_secs};
use super::response::{self, Body};
use super::router::{self, Route};
use super::state::ApiState;
use super::v1::{index, nodes, proposals, rounds, status, trigger};
use super::{auth, cors, dloop, handlers, status_page};
use crate::service::Daemon;

/// Connections served at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 256;
/// Slow clients must send their headers within this time.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Server {
    listener: TcpListener,
    state: Arc<ApiState>,
    limits: Arc<ClientLimits>,
}

impl Server {
    pub async fn bind(daemon: Daemon) -> std::io::Result<Self> {
        let settings = daemon.settings();
        let listener = TcpListener::bind(settings.config.api.listen).await?;
        let limits = Arc::new(ClientLimits::new(&settings.config.api.rate_limit));
        Ok(Server {
            listener,
            state: Arc::new(ApiState::new(daemon)),
            limits,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `cancel`, then lets open requests finish.
    pub async fn serve(self, cancel: CancellationToken) {
        let graceful = GracefulShutdown::new();
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let mut sweep = tokio::time::interval(Duration::from_secs(60));
        if let Ok(addr) = self.listener.local_addr() {
            tracing::info!(%addr, "HTTP API listening");
        }
        loop {
            let permit = tokio::select! {
                _ = cancel.cancelled() => break,
                _ = sweep.tick() => { self.limits.sweep(); continue; }
                p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            };
            let (stream, peer) = tokio::select! {
                _ = cancel.cancelled() => break,
                accepted = self.listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let state = self.state.clone();
            let limits = self.limits.clone();
            let svc = service_fn(move |req| {
                let state = state.clone();
                let limits = limits.clone();
                async move { Ok::<_, Infallible>(handle(&state, &limits, peer, req).await) }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), svc);
            let conn = graceful.watch(conn);
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                drop(permit);
            });
        }
        drop(self.listener);
        graceful.shutdown().await;
    }
}

async fn handle(
    state: &ApiState,
    limits: &ClientLimits,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Response<Body> {
    let settings = state.daemon.settings();
    let api = &settings.config.api;
    let origin = cors::allowed_origin(req.headers(), &api.allowed_origins).cloned();
    let asked = req.uri().path().to_owned();
    let (state, path) = match router::dao_scoped(&asked) {
        Some((name, path)) => match state.daos.iter().find(|(n, _)| n == name) {
            Some((_, dao)) => (&**dao, path),
            // The only DAO answers under its own name too.
            None if state.daos.is_empty() && name == state.daemon.dao_name() => (state, path),
            None => {
                let mut resp = response::error(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    &format!(
                        "no DAO {name:?} (DAOs: {})",
                        state.daemon.dao_names().join(", ")
                    ),
                );
                if let Some(origin) = &origin {
                    cors::decorate(resp.headers_mut(), origin);
                }
                return resp;
            }
        },
        None => (state, asked.clone()),
    };
    let scoped = path != asked;
    let mut resp = dispatch(state, limits, peer, req, &path, scoped, origin.as_ref()).await;
    if let Some(origin) = &origin
        && !resp
            .headers()
            .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
    {
        cors::decorate(resp.headers_mut(), origin);
    }
    resp
}

/// `path`: the route asked for (a DAO's `/api/v1/daos/{name}/…` as its
/// `/api/v1/…`, then `scoped`).
async fn dispatch(
    state: &ApiState,
    limits: &ClientLimits,
    peer: SocketAddr,
    req: Request<Incoming>,
    path: &str,
    scoped: bool,
    origin: Option<&HeaderValue>,
) -> Response<Body> {
    let daemon: &Daemon = &state.daemon;
    let settings = daemon.settings();
    let api = &settings.config.api;
    if let Err(wait) = limits.check(&api.rate_limit, peer.ip()) {
        let secs = retry_after_secs(wait);
        let mut r = response::error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            &format!("too many requests from this client; retry after {secs} s"),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return r;
    }
    if content_length(&req).is_some_and(|n| n > api.max_body_bytes as u64) {
        return response::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            &format!("request bodies are limited to {} bytes", api.max_body_bytes),
        );
    }
    let Some(route) = router::resolve(path) else {
        return response::error(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no such endpoint: {}", req.uri().path()),
        );
    };
    // A DAO's route without its DAO is ambiguous once there are several.
    if !scoped && !state.daos.is_empty() && router::is_per_dao(route) {
        return response::error(
            StatusCode::NOT_FOUND,
            "dao_required",
            &format!(
                "this daemon votes in several DAOs ({}): ask {}{{name}}{}",
                state.daemon.dao_names().join(", "),
                router::DAO_PREFIX,
                path.trim_start_matches("/api/v1"),
            ),
        );
    }
    if req.method() == Method::OPTIONS {
        return preflight(route, req.headers(), origin);
    }
    if !router::methods(route).contains(req.method()) {
        let mut r = response::error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            &format!("{} does not accept {}", req.uri().path(), req.method()),
        );
        if let Ok(v) = HeaderValue::from_str(&router::allow_header(route)) {
            r.headers_mut().insert(header::ALLOW, v);
        }
        return r;
    }
    // No route reads a body; a chunked body over the limit is cut off by
    // hyper when the connection is dropped.
    let (parts, _body) = req.into_parts();
    if router::needs_auth(route, &parts.method)
        && !dloop::token_waived(api, route)
        && let Err(denied) = auth::check(&parts.headers, settings.api_token.as_ref())
    {
        return auth::response(denied);
    }
    let head = parts.method == Method::HEAD;
    let query = parts.uri.query();
    let dloop_answer = if api.dloop_compat {
        compat(state, route).await
    } else {
        None
    };
    let mut resp = match dloop_answer {
        Some(r) => r,
        None => native(state, route, &parts.method, query).await,
    };
    if head {
        *resp.body_mut() = Body::default();
    }
    resp
}

/// The DLoop shape of the paths DLoop served; `None` for the others.
async fn compat(state: &ApiState, route: Route) -> Option<Response<Body>> {
    Some(match route {
        Route::Index => dloop::status(state).await,
        Route::Health => dloop::health(&state.daemon),
        Route::DloopNodes => dloop::nodes(state).await,
        Route::ActiveProposals => dloop::active_proposals(state).await,
        Route::TriggerVoting => dloop::trigger(state, false).await,
        Route::EmergencyVoting => dloop::trigger(state, true).await,
        _ => return None,
    })
}

async fn native(
    state: &ApiState,
    route: Route,
    method: &Method,
    query: Option<&str>,
) -> Response<Body> {
    let daemon: &Daemon = &state.daemon;
    match route {
        Route::Index => index::get(),
        Route::Live => handlers::live(),
        Route::Ready => handlers::ready(daemon),
        Route::Health => handlers::health(daemon),
        Route::Metrics => handlers::metrics(daemon),
        Route::StatusPage => status_page::get(state).await,
        Route::Status => status::get(state).await,
        Route::Nodes | Route::DloopNodes => nodes::get(state).await,
        Route::Proposals | Route::ActiveProposals => proposals::get(state).await,
        Route::Rounds if *method == Method::POST => trigger::post(state, query).await,
        Route::Rounds => rounds::list(state, query).await,
        Route::Round(id) => rounds::one(state, id).await,
        Route::Daos => super::v1::daos::get(state),
        Route::TriggerVoting | Route::EmergencyVoting => trigger::post(state, query).await,
    }
}

fn content_length(req: &Request<Incoming>) -> Option<u64> {
    req.headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

fn preflight(
    route: Route,
    headers: &header::HeaderMap,
    origin: Option<&HeaderValue>,
) -> Response<Body> {
    let allow = router::allow_header(route);
    match (headers.get(header::ORIGIN), origin) {
        // A plain OPTIONS, not a browser preflight.
        (None, _) => {
            let mut r = response::empty(StatusCode::NO_CONTENT);
            if let Ok(v) = HeaderValue::from_str(&allow) {
                r.headers_mut().insert(header::ALLOW, v);
            }
            r
        }
        (Some(_), Some(origin)) => {
            let mut r = response::empty(StatusCode::NO_CONTENT);
            cors::decorate_preflight(r.headers_mut(), origin, &allow);
            r
        }
        (Some(_), None) => response::error(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            "this origin is not in api.allowed_origins",
        ),
    }
}
