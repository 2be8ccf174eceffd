//! A small HTTP proxy on 127.0.0.1 in front of a JSON-RPC node, whose
//! behaviour is switched at runtime: pass through, delay, rate-limit (HTTP 429
//! or JSON-RPC -32005), HTTP 500, malformed JSON, a dropped connection, a
//! lost answer, or another chain's id. It records every request it receives
//! (time and JSON-RPC methods) so tests can count calls and check rates.
//!
//! Any path is accepted and ignored, so a URL like
//! `http://127.0.0.1:PORT/key/SECRET` works like a provider URL with a key.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// What the proxy does with a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Forward to the upstream node and return its answer.
    PassThrough,
    /// Wait, then forward.
    Delay(Duration),
    /// HTTP 429 Too Many Requests.
    Http429,
    /// HTTP 200 with JSON-RPC error -32005 ("limit exceeded") for each request.
    RpcRateLimit,
    /// HTTP 500 with a plain-text body.
    Http500,
    /// HTTP 200 with a truncated JSON body.
    Malformed,
    /// Close the connection without answering.
    Drop,
    /// Forward to the upstream, then close the connection: the node did the
    /// work but the answer is lost.
    LoseAnswer,
    /// Forward, but answer `eth_chainId` with this chain id.
    WrongChain(u64),
}

impl Fault {
    pub fn name(&self) -> &'static str {
        match self {
            Fault::PassThrough => "pass_through",
            Fault::Delay(_) => "delay",
            Fault::Http429 => "http_429",
            Fault::RpcRateLimit => "rpc_-32005",
            Fault::Http500 => "http_500",
            Fault::Malformed => "malformed",
            Fault::Drop => "drop",
            Fault::LoseAnswer => "lose_answer",
            Fault::WrongChain(_) => "wrong_chain",
        }
    }
}

/// One request as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Instant,
    /// One method for a single request, several for a batch.
    pub methods: Vec<String>,
    pub batch: bool,
}

struct State {
    upstream: Mutex<String>,
    standing: Mutex<Fault>,
    /// One-shot faults, used (in order) before the standing one.
    queued: Mutex<VecDeque<Fault>>,
    seen: Mutex<Vec<Seen>>,
    /// (method, n, seen so far): every n-th single request of the method
    /// answers HTTP 500, whatever the standing fault.
    method_fault: Mutex<Option<(String, usize, usize)>>,
    /// Methods this endpoint does not have: single requests of them are
    /// answered JSON-RPC -32601 "Method not found", as geth answers.
    missing: Mutex<Vec<String>>,
    client: reqwest::Client,
}

pub struct FaultProxy {
    port: u16,
    state: Arc<State>,
    server: tokio::task::JoinHandle<()>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl FaultProxy {
    /// Starts a pass-through proxy in front of `upstream` (an http URL).
    pub async fn start(upstream: &str) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let state = Arc::new(State {
            upstream: Mutex::new(upstream.to_owned()),
            standing: Mutex::new(Fault::PassThrough),
            queued: Mutex::new(VecDeque::new()),
            seen: Mutex::new(Vec::new()),
            method_fault: Mutex::new(None),
            missing: Mutex::new(Vec::new()),
            client: reqwest::Client::new(),
        });
        let shared = state.clone();
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = shared.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| handle(state.clone(), req));
                    // Errors here are the faults themselves (dropped connections).
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        FaultProxy {
            port,
            state,
            server,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The behaviour for every request from now on.
    pub fn set_fault(&self, fault: Fault) {
        *lock(&self.state.standing) = fault;
    }

    /// Faults for the next requests, one each, before the standing behaviour.
    pub fn queue_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        lock(&self.state.queued).extend(faults);
    }

    /// Every `n`-th request of `method` (the first included) fails with
    /// HTTP 500 before reaching the node; other requests are unaffected.
    pub fn fail_every(&self, method: &str, n: usize) {
        *lock(&self.state.method_fault) = Some((method.to_owned(), n.max(1), 0));
    }

    /// Makes the proxy an endpoint without these methods (see `State::missing`).
    pub fn without_methods(&self, methods: &[&str]) {
        *lock(&self.state.missing) = methods.iter().map(|m| (*m).to_owned()).collect();
    }

    pub fn set_upstream(&self, upstream: &str) {
        *lock(&self.state.upstream) = upstream.to_owned();
    }

    /// Every request seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        lock(&self.state.seen).clone()
    }

    /// Number of HTTP requests seen.
    pub fn count(&self) -> usize {
        lock(&self.state.seen).len()
    }

    /// Number of JSON-RPC calls of `method` (batch items counted one by one).
    pub fn count_method(&self, method: &str) -> usize {
        lock(&self.state.seen)
            .iter()
            .flat_map(|s| &s.methods)
            .filter(|m| *m == method)
            .count()
    }

    /// JSON-RPC calls per method.
    pub fn methods(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for m in lock(&self.state.seen).iter().flat_map(|s| &s.methods) {
            *out.entry(m.clone()).or_insert(0) += 1;
        }
        out
    }

    /// The most requests seen within any time span of length `window`
    /// (measured on the proxy's own arrival timestamps).
    pub fn max_in_window(&self, window: Duration) -> usize {
        let times: Vec<Instant> = lock(&self.state.seen).iter().map(|s| s.at).collect();
        let mut best = 0;
        let mut start = 0;
        for end in 0..times.len() {
            while times[end].duration_since(times[start]) >= window {
                start += 1;
            }
            best = best.max(end - start + 1);
        }
        best
    }

    pub fn reset_counts(&self) {
        lock(&self.state.seen).clear();
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

type Reply = Result<Response<Full<Bytes>>, std::io::Error>;

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Reply {
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return Err(std::io::Error::other(e)),
    };
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (methods, ids, batch) = describe(&parsed);
    lock(&state.seen).push(Seen {
        at: Instant::now(),
        methods: methods.clone(),
        batch,
    });
    if !batch
        && let Some(m) = methods.first()
        && lock(&state.missing).contains(m)
    {
        let id = ids.first().cloned().unwrap_or(Value::Null);
        let answer =
            json!({"jsonrpc":"2.0","id":id,"error":{"code":-32601,"message":"Method not found"}});
        return Ok(json_reply(StatusCode::OK, answer.to_string()));
    }
    let method_hit = match &mut *lock(&state.method_fault) {
        Some((method, n, count)) if !batch && methods.first() == Some(method) => {
            *count += 1;
            (*count - 1) % *n == 0
        }
        _ => false,
    };
    let fault = if method_hit {
        Fault::Http500
    } else {
        lock(&state.queued)
            .pop_front()
            .unwrap_or_else(|| lock(&state.standing).clone())
    };
    match fault {
        Fault::PassThrough => forward(&state, body).await,
        Fault::Delay(d) => {
            tokio::time::sleep(d).await;
            forward(&state, body).await
        }
        Fault::Http429 => Ok(reply(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests")),
        Fault::Http500 => Ok(reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal server error",
        )),
        Fault::RpcRateLimit => {
            let errors: Vec<Value> = ids
                .iter()
                .map(|id| json!({"jsonrpc":"2.0","id":id,"error":{"code":-32005,"message":"limit exceeded"}}))
                .collect();
            let out = if batch {
                Value::Array(errors)
            } else {
                errors.into_iter().next().unwrap_or(Value::Null)
            };
            Ok(json_reply(StatusCode::OK, out.to_string()))
        }
        Fault::Malformed => Ok(json_reply(
            StatusCode::OK,
            r#"{"jsonrpc":"2.0","id":1,"resu"#.to_owned(),
        )),
        Fault::Drop => Err(std::io::Error::other("fault: connection dropped")),
        Fault::LoseAnswer => {
            let _ = forward(&state, body).await;
            Err(std::io::Error::other("fault: answer lost"))
        }
        Fault::WrongChain(chain_id) => {
            let answer = forward(&state, body).await?;
            Ok(rewrite_chain_id(answer, &methods, &ids, chain_id).await)
        }
    }
}

/// Methods and ids of a single request or a batch.
fn describe(v: &Value) -> (Vec<String>, Vec<Value>, bool) {
    let items: Vec<&Value> = match v {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let methods = items
        .iter()
        .map(|i| {
            i.get("method")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_owned()
        })
        .collect();
    let ids = items
        .iter()
        .map(|i| i.get("id").cloned().unwrap_or(Value::Null))
        .collect();
    (methods, ids, v.is_array())
}

async fn forward(state: &State, body: Bytes) -> Reply {
    let upstream = lock(&state.upstream).clone();
    let sent = state
        .client
        .post(upstream)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await;
    let resp = match sent {
        Ok(r) => r,
        Err(_) => return Ok(reply(StatusCode::BAD_GATEWAY, "upstream unreachable")),
    };
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    match resp.bytes().await {
        Ok(b) => Ok(Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Full::new(b))
            .unwrap_or_else(|_| reply(StatusCode::BAD_GATEWAY, "bad upstream reply"))),
        Err(_) => Ok(reply(StatusCode::BAD_GATEWAY, "upstream reply cut")),
    }
}

async fn rewrite_chain_id(
    answer: Response<Full<Bytes>>,
    methods: &[String],
    ids: &[Value],
    chain_id: u64,
) -> Response<Full<Bytes>> {
    let chain_ids: Vec<&Value> = methods
        .iter()
        .zip(ids)
        .filter(|(m, _)| *m == "eth_chainId")
        .map(|(_, id)| id)
        .collect();
    if chain_ids.is_empty() {
        return answer;
    }
    let status = answer.status();
    let bytes = match answer.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(never) => match never {},
    };
    let mut v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let fix = |item: &mut Value| {
        if item.get("id").is_some_and(|id| chain_ids.contains(&id)) {
            item["result"] = json!(format!("{chain_id:#x}"));
        }
    };
    match &mut v {
        Value::Array(items) => items.iter_mut().for_each(fix),
        single => fix(single),
    }
    let mut out = json_reply(status, v.to_string());
    *out.status_mut() = status;
    out
}

fn reply(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *r.status_mut() = status;
    r
}

fn json_reply(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}
