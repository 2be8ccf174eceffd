//! One endpoint's wire: an HTTP POST with its own client and timeouts, and
//! the reading of the reply into a JSON-RPC answer or a classified failure.
//! alloy's own HTTP transport is not used underneath because it has no
//! timeout and its errors and debug spans carry the full URL.

use std::collections::HashSet;
use std::time::Duration;

use alloy::rpc::json_rpc::{Id, RequestPacket, ResponsePacket};
use bytes::Bytes;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};

use super::classify::{FailureClass, is_rate_limit};
use super::error::{BuildError, EndpointFailure};
use crate::config::Secret;
use crate::telemetry::redact::{looks_like_key, redact_text, redact_url};

/// Longest slice of a reply body quoted in an error.
const BODY_EXCERPT: usize = 200;
/// A connection that is not up after this is not coming (a killed node refuses at once).
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) struct Wire {
    client: reqwest::Client,
    url: reqwest::Url,
    redacted: String,
    /// Substrings of the URL that must never be shown (the URL, its key parts).
    secrets: Vec<String>,
}

impl Wire {
    pub fn new(endpoint: &str, url: &Secret, timeout: Duration) -> Result<Self, BuildError> {
        let parsed = reqwest::Url::parse(url.expose()).map_err(|e| BuildError::InvalidUrl {
            endpoint: endpoint.to_owned(),
            reason: e.to_string(),
        })?;
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(MAX_CONNECT_TIMEOUT));
        if parsed.scheme() == "http" {
            // Plain HTTP never verifies a certificate: do not require the
            // system's CA store (minimal hosts and containers have none).
            builder = builder.tls_certs_only(std::iter::empty());
        }
        let client = builder.build().map_err(|e| BuildError::Client {
            endpoint: endpoint.to_owned(),
            reason: redact_text(&error_chain(&e.without_url()), &[url.expose()]).into_owned(),
        })?;
        Ok(Wire {
            client,
            redacted: redact_url(url.expose()),
            secrets: secret_fragments(&parsed, url.expose()),
            url: parsed,
        })
    }

    pub fn redacted_url(&self) -> &str {
        &self.redacted
    }

    pub fn redact(&self, text: &str) -> String {
        let secrets: Vec<&str> = self.secrets.iter().map(String::as_str).collect();
        redact_text(text, &secrets).into_owned()
    }

    /// Sends one JSON-RPC body and reads the whole reply within `timeout`.
    pub async fn post(
        &self,
        body: Bytes,
        headers: HeaderMap,
        timeout: Duration,
    ) -> Result<(u16, Bytes), EndpointFailure> {
        let request = self
            .client
            .post(self.url.clone())
            .headers(headers)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body);
        let exchange = async {
            let response = request.send().await?;
            let status = response.status().as_u16();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, body))
        };
        match tokio::time::timeout(timeout, exchange).await {
            Err(_) => Err(EndpointFailure::new(
                FailureClass::Timeout,
                format!("no reply within {}", humantime::format_duration(timeout)),
            )),
            Ok(Err(e)) => Err(self.classify_reqwest(e)),
            Ok(Ok(reply)) => Ok(reply),
        }
    }

    fn classify_reqwest(&self, e: reqwest::Error) -> EndpointFailure {
        let class = if e.is_timeout() {
            FailureClass::Timeout
        } else if e.is_connect() {
            FailureClass::Connect
        } else {
            FailureClass::Transport
        };
        EndpointFailure::new(class, self.redact(&error_chain(&e.without_url())))
    }

    /// A quoted, redacted start of a reply body.
    pub fn excerpt(&self, body: &[u8]) -> String {
        let text = String::from_utf8_lossy(body);
        let cut: String = text.chars().take(BODY_EXCERPT).collect();
        let more = if text.chars().count() > BODY_EXCERPT {
            "…"
        } else {
            ""
        };
        format!("{:?}{more}", self.redact(&cut))
    }
}

/// The ids a reply must answer.
pub(crate) enum Expect {
    Single(Id),
    Batch(HashSet<Id>),
}

impl Expect {
    pub fn of(req: &RequestPacket) -> Self {
        match req {
            RequestPacket::Single(r) => Expect::Single(r.id().clone()),
            RequestPacket::Batch(rs) => Expect::Batch(rs.iter().map(|r| r.id().clone()).collect()),
        }
    }
}

/// Reads an HTTP reply as a JSON-RPC answer, or says why it is not one.
pub(crate) fn interpret(
    wire: &Wire,
    expect: &Expect,
    status: u16,
    body: &[u8],
) -> Result<ResponsePacket, EndpointFailure> {
    if status == 429 {
        return Err(EndpointFailure::new(
            FailureClass::RateLimited,
            format!("HTTP 429, body {}", wire.excerpt(body)),
        ));
    }
    let parsed = serde_json::from_slice::<ResponsePacket>(body);
    if !(200..300).contains(&status) {
        // Some gateways answer JSON-RPC errors with a 4xx status; those are
        // still answers. A 5xx is the server failing, whatever the body says.
        let answer = parsed
            .ok()
            .filter(|p| (400..500).contains(&status) && p.is_error() && answers(expect, p));
        if let Some(packet) = answer {
            return check_rate_limits(wire, packet);
        }
        let class = if status >= 500 {
            FailureClass::Http5xx
        } else {
            FailureClass::HttpStatus
        };
        return Err(EndpointFailure::new(
            class,
            format!("HTTP {status}, body {}", wire.excerpt(body)),
        ));
    }
    let packet = parsed.map_err(|e| {
        EndpointFailure::new(
            FailureClass::Malformed,
            format!("not a JSON-RPC response ({e}): {}", wire.excerpt(body)),
        )
    })?;
    if !answers(expect, &packet) {
        // A single error object for a whole batch is how providers refuse
        // batches (size limits, rate limits).
        if let ResponsePacket::Single(r) = &packet
            && let Some(err) = r.payload.as_error()
            && is_rate_limit(err)
        {
            return Err(EndpointFailure::new(
                FailureClass::RateLimited,
                format!("JSON-RPC error {}: {}", err.code, wire.redact(&err.message)),
            ));
        }
        return Err(EndpointFailure::new(
            FailureClass::MissingResponse,
            format!(
                "the reply does not answer every request: {}",
                wire.excerpt(body)
            ),
        ));
    }
    check_rate_limits(wire, packet)
}

fn check_rate_limits(
    wire: &Wire,
    packet: ResponsePacket,
) -> Result<ResponsePacket, EndpointFailure> {
    if let Some(err) = packet.iter_errors().find(|e| is_rate_limit(e)) {
        return Err(EndpointFailure::new(
            FailureClass::RateLimited,
            format!("JSON-RPC error {}: {}", err.code, wire.redact(&err.message)),
        ));
    }
    Ok(packet)
}

/// True when the reply has the request's shape and answers every id.
fn answers(expect: &Expect, packet: &ResponsePacket) -> bool {
    match (expect, packet) {
        (Expect::Single(id), ResponsePacket::Single(r)) => &r.id == id,
        (Expect::Batch(ids), ResponsePacket::Batch(rs)) => {
            let got: HashSet<&Id> = rs.iter().map(|r| &r.id).collect();
            ids.iter().all(|id| got.contains(id))
        }
        _ => false,
    }
}

/// An error and its sources on one line: reqwest's top-level message alone
/// ("error sending request") does not say what went wrong.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

fn secret_fragments(url: &reqwest::Url, raw: &str) -> Vec<String> {
    let mut out = vec![raw.to_owned(), url.as_str().to_owned()];
    if !url.username().is_empty() {
        out.push(url.username().to_owned());
    }
    if let Some(p) = url.password() {
        out.push(p.to_owned());
    }
    if let Some(q) = url.query() {
        out.push(q.to_owned());
        out.extend(url.query_pairs().map(|(_, v)| v.into_owned()));
    }
    if let Some(segments) = url.path_segments() {
        out.extend(segments.filter(|s| looks_like_key(s)).map(str::to_owned));
    }
    // Short fragments would mask ordinary words; redact_text ignores them too.
    out.retain(|s| s.len() >= 4);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdef0123";

    fn wire() -> Wire {
        wire_on(9)
    }

    fn wire_on(port: u16) -> Wire {
        let url = Secret::new(format!("http://127.0.0.1:{port}/key/{KEY}"));
        Wire::new("t", &url, Duration::from_secs(1)).unwrap()
    }

    fn single() -> Expect {
        Expect::Single(Id::Number(1))
    }

    fn class(r: Result<ResponsePacket, EndpointFailure>) -> FailureClass {
        r.unwrap_err().class
    }

    #[test]
    fn answers_pass_and_errors_that_are_answers_pass_too() {
        let w = wire();
        let ok = interpret(
            &w,
            &single(),
            200,
            br#"{"jsonrpc":"2.0","id":1,"result":"0x1"}"#,
        );
        assert!(ok.unwrap().is_success());
        let reverted = interpret(
            &w,
            &single(),
            200,
            br#"{"jsonrpc":"2.0","id":1,"error":{"code":3,"message":"execution reverted"}}"#,
        );
        assert!(reverted.unwrap().is_error());
        let bad_params = interpret(
            &w,
            &single(),
            400,
            br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"invalid params"}}"#,
        );
        assert!(bad_params.unwrap().is_error());
    }

    #[test]
    fn endpoint_failures_are_classified() {
        let w = wire();
        assert_eq!(
            class(interpret(&w, &single(), 429, b"slow down")),
            FailureClass::RateLimited
        );
        let limited =
            br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32005,"message":"limit exceeded"}}"#;
        assert_eq!(
            class(interpret(&w, &single(), 200, limited)),
            FailureClass::RateLimited
        );
        assert_eq!(
            class(interpret(&w, &single(), 502, b"bad gateway")),
            FailureClass::Http5xx
        );
        assert_eq!(
            class(interpret(&w, &single(), 403, b"forbidden")),
            FailureClass::HttpStatus
        );
        assert_eq!(
            class(interpret(&w, &single(), 200, b"{\"jsonrpc\":")),
            FailureClass::Malformed
        );
        let wrong_id = br#"{"jsonrpc":"2.0","id":2,"result":"0x1"}"#;
        assert_eq!(
            class(interpret(&w, &single(), 200, wrong_id)),
            FailureClass::MissingResponse
        );
    }

    #[test]
    fn a_batch_must_be_answered_in_full() {
        let w = wire();
        let ids = Expect::Batch([Id::Number(1), Id::Number(2)].into_iter().collect());
        let full =
            br#"[{"jsonrpc":"2.0","id":2,"result":"0x2"},{"jsonrpc":"2.0","id":1,"result":"0x1"}]"#;
        assert!(interpret(&w, &ids, 200, full).is_ok());
        let partial = br#"[{"jsonrpc":"2.0","id":1,"result":"0x1"}]"#;
        assert_eq!(
            class(interpret(&w, &ids, 200, partial)),
            FailureClass::MissingResponse
        );
        let refused =
            br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"batch too large"}}"#;
        assert_eq!(
            class(interpret(&w, &ids, 200, refused)),
            FailureClass::MissingResponse
        );
        let limited = br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32005,"message":"rate"}}"#;
        assert_eq!(
            class(interpret(&w, &ids, 200, limited)),
            FailureClass::RateLimited
        );
    }

    #[test]
    fn quoted_bodies_and_errors_never_show_the_key() {
        let w = wire();
        let echo = format!("no such key {KEY} for http://127.0.0.1:9/key/{KEY}");
        let f = interpret(&w, &single(), 401, echo.as_bytes()).unwrap_err();
        assert!(!f.detail.contains(KEY), "{}", f.detail);
        assert!(!w.redacted_url().contains(KEY));
    }

    #[tokio::test]
    async fn connection_errors_are_classified_and_redacted() {
        // A port that was just free: the connection is refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let w = wire_on(port);
        let f = w
            .post(
                Bytes::from_static(b"{}"),
                HeaderMap::new(),
                Duration::from_secs(2),
            )
            .await
            .unwrap_err();
        assert_eq!(f.class, FailureClass::Connect, "{f}");
        assert!(!f.detail.contains(KEY), "{}", f.detail);
    }
}
