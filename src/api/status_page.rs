//! `GET /status`: one self-contained HTML page for operators (with several
//! DAOs, one part per DAO under its name) — health, the
//! DAO's paused state, the running round, nodes, the open proposals with each
//! node's decision and reason, each node's vote history, recent rounds and
//! RPC endpoints with their breaker states. Inline CSS only, no script, no external asset; the CSP header
//! forbids anything else. It refreshes itself every 30 s.

use std::fmt::Write as _;

use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::Value;

use super::html::{Cell, Tone, escape, facts, section, short_amount, short_time};
use super::response::{self, Body};
use super::state::ApiState;
use super::v1::rounds::{ledger_error, round_value, running_round, settle};
use super::v1::{nodes, redacted, status};
use crate::chain::EndpointState;
use crate::service::Status;

pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'";
const RECENT_ROUNDS: u32 = 10;

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:0;padding:1.5rem 2rem;\
color:#1d2430;background:#f6f7f9}h1{font-size:1.4rem;margin:0 0 .6rem}h2{font-size:1.05rem;\
margin:1.6rem 0 .5rem}h3{font-size:.95rem;margin:1rem 0 .4rem}table{border-collapse:collapse;width:100%;background:#fff;\
box-shadow:0 1px 2px #0001}th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid \
#e3e6ea;vertical-align:top}th{background:#eef0f3;font-weight:600;white-space:nowrap}\
code{font:12px/1.3 ui-monospace,monospace}.badge{display:inline-block;padding:0 .45rem;\
border-radius:.6rem;font-size:12px;font-weight:600}.good{background:#d8f3dc;color:#1b5e20}\
.warn{background:#fff3cd;color:#7a5b00}.bad{background:#fbd5d5;color:#8a1c1c}\
.plain{background:#e3e6ea;color:#333}.muted{color:#6b7280}.facts{display:flex;flex-wrap:wrap;\
gap:.4rem 1.6rem;margin:0}.facts dt{font-size:12px;color:#6b7280}.facts dd{margin:0}\
footer{margin-top:2rem;font-size:12px;color:#6b7280}td:first-child{white-space:nowrap}.err{color:#8a1c1c;font-size:12px}";

pub async fn get(state: &ApiState) -> Response<Body> {
    let daemon = &state.daemon;
    let health = status::health(daemon);
    let components = daemon.health().snapshot();
    // One part per DAO; with several, each under its name.
    let many = !state.daos.is_empty();
    let worlds: Vec<&ApiState> = if many {
        state.daos.iter().map(|(_, s)| &**s).collect()
    } else {
        vec![state]
    };
    let mut parts = Vec::with_capacity(worlds.len());
    for world in worlds {
        match dao_part(world, many).await {
            Ok(p) => parts.push((world.daemon.dao_name().to_owned(), p)),
            Err(r) => return r,
        }
    }

    let mut page = String::with_capacity(16 * 1024);
    let _ = write!(
        page,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta http-equiv=\"refresh\" content=\"30\"><title>govnode status</title>\
         <style>{STYLE}</style></head><body><h1>govnode status</h1>"
    );
    let mut top = vec![
        ("health", status_badge(health.status)),
        ("ready", yes_no(health.ready)),
        ("role", role_cell(&daemon.ha().view())),
        ("version", Cell::text(env!("CARGO_PKG_VERSION"))),
        (
            "uptime",
            Cell::text(
                humantime::format_duration(std::time::Duration::from_secs(
                    daemon.uptime().as_secs(),
                ))
                .to_string(),
            ),
        ),
    ];
    if many {
        facts(&mut page, &top);
        for (name, part) in parts {
            let _ = write!(page, "<h2 id=\"dao-{0}\">DAO {0}</h2>", escape(&name));
            facts(&mut page, &part.facts);
            page.push_str(&part.html);
        }
    } else if let Some((_, part)) = parts.pop() {
        top.extend(part.facts);
        facts(&mut page, &top);
        page.push_str(&part.html);
    }

    let component_rows: Vec<Vec<Cell>> = components
        .iter()
        .map(|(name, c)| {
            vec![
                Cell::text(name),
                status_badge(c.status),
                yes_no(c.ready),
                Cell::text(redacted(daemon, &c.reasons.join("; ")).into_owned()),
            ]
        })
        .collect();
    section(
        &mut page,
        "Health",
        &["component", "status", "ready", "reasons"],
        &component_rows,
        "No components registered.",
    );

    if many {
        let _ = write!(
            page,
            "<footer>Generated {}. JSON: <a href=\"/api/v1/daos\">/api/v1/daos</a>, each \
             DAO's under /api/v1/daos/NAME/.</footer></body></html>",
            escape(&crate::round::now_rfc3339())
        );
    } else {
        let _ = write!(
            page,
            "<footer>Generated {}. JSON: <a href=\"/api/v1/status\">/api/v1/status</a>, \
             <a href=\"/api/v1/nodes\">nodes</a>, <a href=\"/api/v1/proposals\">proposals</a>, \
             <a href=\"/api/v1/rounds\">rounds</a>.</footer></body></html>",
            escape(&crate::round::now_rfc3339())
        );
    }

    let mut r = response::text(StatusCode::OK, page, "text/html; charset=utf-8");
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

/// One DAO's part of the page: its facts and its sections.
struct DaoPart {
    facts: Vec<(&'static str, Cell)>,
    html: String,
}

/// `named`: with several DAOs each section title carries the DAO's name.
async fn dao_part(state: &ApiState, named: bool) -> Result<DaoPart, Response<Body>> {
    let daemon = &state.daemon;
    let titled = |title: &str| {
        if named {
            format!("{}: {title}", daemon.dao_name())
        } else {
            title.to_owned()
        }
    };
    let settings = daemon.settings();
    let voting = daemon.voting();
    let mut rows = match voting.ledger.rounds(RECENT_ROUNDS, None).await {
        Ok(v) => v,
        Err(e) => return Err(ledger_error(daemon, &e)),
    };
    // After the rows: see `settle`.
    let running = match running_round(daemon).await {
        Ok(r) => r,
        Err(e) => return Err(ledger_error(daemon, &e)),
    };
    if let Err(e) = settle(daemon, &mut rows, running.as_ref()).await {
        return Err(ledger_error(daemon, &e));
    }
    let nodes = match nodes::collect(state).await {
        Ok(n) => n,
        Err(e) => return Err(ledger_error(daemon, &e)),
    };
    let voting_sections = match super::status_votes::render(
        state,
        nodes.voting_token.as_ref().and_then(|t| t.decimals),
    )
    .await
    {
        Ok(v) => v,
        Err(e) => return Err(ledger_error(daemon, &e)),
    };
    let pool = daemon.chain().snapshot();
    let mut page = String::new();
    let chain_name = settings
        .config
        .chain
        .name
        .clone()
        .map(|n| format!("{n} ({})", settings.config.chain.id))
        .unwrap_or_else(|| settings.config.chain.id.to_string());
    let dao_facts = vec![
        ("chain", Cell::text(chain_name)),
        ("head block", Cell::opt(pool.best_head)),
        (
            "DAO",
            Cell::Code(format!(
                "{} {}",
                match settings.config.dao.kind {
                    crate::config::DaoKind::Assetdao => "assetdao",
                    crate::config::DaoKind::Governor => "governor",
                },
                super::v1::checksum(voting.dao.address())
            )),
        ),
        (
            "DAO paused",
            match voting_sections.paused {
                Some(true) => Cell::Badge("paused".into(), Tone::Bad),
                Some(false) => Cell::Badge("no".into(), Tone::Good),
                None => Cell::text("unknown (chain unreadable)"),
            },
        ),
        (
            "mode",
            if voting.round.dry_run {
                Cell::Badge("dry run".into(), Tone::Warn)
            } else {
                Cell::text("voting")
            },
        ),
    ];

    let progress = match &running {
        Some(r) => Some(r.progress.clone()),
        None => daemon.rounds().progress(),
    };
    let current: Vec<Vec<Cell>> = progress
        .map(|p| {
            vec![
                Cell::opt(running.as_ref().map(|r| r.id)),
                Cell::text(p.phase),
                Cell::text(format!("{} / {}", p.done, p.total)),
                Cell::text(format!(
                    "{} s",
                    daemon
                        .rounds()
                        .running_for()
                        .map(|d| d.as_secs())
                        .unwrap_or_default()
                )),
            ]
        })
        .into_iter()
        .collect();
    section(
        &mut page,
        &titled("Current round"),
        &["round", "phase", "progress", "running for"],
        &current,
        "No round is running.",
    );

    let node_rows: Vec<Vec<Cell>> = nodes
        .nodes
        .iter()
        .map(|n| {
            let last = n.last_vote.as_ref().map(|v| {
                format!(
                    "proposal {}: {} ({}{})",
                    v.proposal_id,
                    v.decision,
                    v.state,
                    v.finished_at
                        .as_deref()
                        .map(|t| format!(", {}", short_time(t)))
                        .unwrap_or_default()
                )
            });
            vec![
                Cell::text(&n.name),
                Cell::Code(n.address.clone()),
                Cell::text(&n.strategy),
                Cell::opt(
                    n.eth_balance
                        .as_ref()
                        .and_then(|a| a.formatted.as_deref())
                        .map(|f| short_amount(f, 4)),
                ),
                Cell::opt(
                    n.voting_power
                        .as_ref()
                        .map(|a| a.formatted.clone().unwrap_or_else(|| a.raw.clone())),
                ),
                Cell::text(format!("{} / {}", n.votes.confirmed, n.votes.total)),
                Cell::text(n.votes.pending.to_string()),
                Cell::opt(last),
                match &n.error {
                    Some(e) => Cell::Problem(e.clone()),
                    None => Cell::text(""),
                },
            ]
        })
        .collect();
    let token = nodes
        .voting_token
        .as_ref()
        .and_then(|t| t.symbol.clone())
        .unwrap_or_else(|| "voting power".into());
    section(
        &mut page,
        &titled("Nodes"),
        &[
            "node",
            "address",
            "strategy",
            "ETH",
            &token,
            "confirmed / votes",
            "pending",
            "last vote",
            "problem",
        ],
        &node_rows,
        "No nodes are configured.",
    );
    page.push_str(voting_sections.html());

    let round_rows: Vec<Vec<Cell>> = rows
        .iter()
        .map(|r| round_row(&round_value(daemon, r, running.as_ref())))
        .collect();
    section(
        &mut page,
        &titled("Recent rounds"),
        &[
            "round",
            "trigger",
            "started",
            "duration",
            "state",
            "open",
            "decided",
            "confirmed",
            "failed",
            "skipped",
            "already voted",
            "note",
        ],
        &round_rows,
        "No round has run yet.",
    );

    let endpoint_rows: Vec<Vec<Cell>> = pool
        .endpoints
        .iter()
        .map(|e| {
            vec![
                Cell::text(&e.name),
                Cell::Code(e.url.clone()),
                Cell::text(e.priority.to_string()),
                breaker_badge(e.state),
                yes_no(e.healthy),
                Cell::opt(e.head_block),
                Cell::opt(e.lag),
                Cell::opt(e.p50_latency_ms.map(|ms| format!("{ms:.0} ms"))),
                Cell::opt(e.error_ratio.map(|r| format!("{:.0} %", r * 100.0))),
                Cell::opt(
                    e.last_error_detail
                        .as_deref()
                        .or(e.last_error)
                        .map(|d| redacted(daemon, d).into_owned()),
                ),
            ]
        })
        .collect();
    section(
        &mut page,
        &titled("RPC endpoints"),
        &[
            "endpoint",
            "URL",
            "priority",
            "breaker",
            "healthy",
            "head",
            "lag",
            "p50",
            "errors",
            "last error",
        ],
        &endpoint_rows,
        "No endpoints are configured.",
    );

    Ok(DaoPart {
        facts: dao_facts,
        html: page,
    })
}

fn round_row(v: &Value) -> Vec<Cell> {
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let n = |k: &str| {
        v.get("votes")
            .and_then(|x| x.get(k))
            .and_then(Value::as_u64)
    };
    let state = s("state").unwrap_or_default();
    let outcome = s("outcome");
    let (label, tone) = match (state.as_str(), outcome.as_deref()) {
        ("running", _) => ("running".to_owned(), Tone::Plain),
        (_, Some("success")) => ("success".to_owned(), Tone::Good),
        (_, Some("partial")) => ("partial".to_owned(), Tone::Warn),
        (_, Some(o)) => (o.to_owned(), Tone::Bad),
        (st, None) => (st.to_owned(), Tone::Bad),
    };
    let note = s("error").or_else(|| {
        let left = v.get("left").and_then(Value::as_array).map(Vec::len)?;
        (left > 0).then(|| format!("{left} vote(s) left over"))
    });
    vec![
        Cell::opt(v.get("id").and_then(Value::as_i64)),
        Cell::opt(s("trigger")),
        Cell::opt(s("started_at").map(|t| short_time(&t))),
        Cell::opt(
            v.get("duration_ms")
                .and_then(Value::as_u64)
                .map(|ms| format!("{:.1} s", ms as f64 / 1000.0)),
        ),
        Cell::Badge(label, tone),
        Cell::opt(v.get("proposals_open").and_then(Value::as_u64)),
        Cell::opt(n("decided")),
        Cell::opt(n("confirmed")),
        Cell::opt(n("failed")),
        Cell::opt(n("skipped")),
        Cell::opt(n("already_voted")),
        Cell::opt(note),
    ]
}

fn role_cell(view: &crate::ha::HaView) -> Cell {
    use crate::ha::Role;
    if view.groups.len() > 1 {
        let tone = match view.role {
            Role::Leader => Tone::Good,
            _ => Tone::Warn,
        };
        return Cell::Badge(crate::ha::status_text(view), tone);
    }
    match view.role {
        Role::Single => Cell::text("single"),
        Role::Leader => Cell::Badge(
            format!(
                "leader (id {}, lease token {})",
                view.id.as_deref().unwrap_or("?"),
                view.lease_token.unwrap_or_default()
            ),
            Tone::Good,
        ),
        Role::Standby => Cell::Badge(
            format!(
                "standby (id {}, leader {})",
                view.id.as_deref().unwrap_or("?"),
                view.leader.as_deref().unwrap_or("unknown")
            ),
            Tone::Warn,
        ),
    }
}

fn status_badge(s: Status) -> Cell {
    match s {
        Status::Up => Cell::Badge("up".into(), Tone::Good),
        Status::Degraded => Cell::Badge("degraded".into(), Tone::Warn),
        Status::Down => Cell::Badge("down".into(), Tone::Bad),
    }
}

fn breaker_badge(s: EndpointState) -> Cell {
    let tone = match s {
        EndpointState::Closed => Tone::Good,
        EndpointState::HalfOpen => Tone::Warn,
        EndpointState::Open | EndpointState::Quarantined => Tone::Bad,
    };
    Cell::Badge(s.as_str().into(), tone)
}

fn yes_no(b: bool) -> Cell {
    if b {
        Cell::Badge("yes".into(), Tone::Good)
    } else {
        Cell::Badge("no".into(), Tone::Bad)
    }
}
