//! A JSON-RPC `eth_subscribe` client over one WebSocket. It is govnode's own
//! rather than a library's reconnecting one on purpose: the follower must see
//! every drop, because the blocks mined while it was away are read again.
//! Calls never go here; they stay on the endpoint's HTTP pool.

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use crate::config::Secret;
use crate::telemetry::redact::{redact_text, redact_url};

/// Why a subscription ended or could not start. Texts are redacted.
#[derive(Debug, thiserror::Error)]
pub enum WsError {
    #[error("cannot connect to {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("{url} refused eth_subscribe({kind}): {reason}")]
    Refused {
        url: String,
        kind: String,
        reason: String,
    },
    #[error("{url} closed the connection")]
    Closed { url: String },
    #[error("{url}: {reason}")]
    Broken { url: String, reason: String },
}

/// One open WebSocket with the subscriptions made on it.
pub struct Connection {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    url: String,
    secret: Secret,
    next_id: u64,
    /// How long a ping or a subscribe answer may take.
    timeout: Duration,
    ping_sent: Option<tokio::time::Instant>,
}

/// A notification: which subscription (as [`Connection::subscribe`]
/// returned it) and its `result`.
#[derive(Debug)]
pub struct Notification {
    pub subscription: String,
    pub result: Value,
}

impl Connection {
    /// Connects within `timeout`. `wss://` is verified against the
    /// system's CA store.
    pub async fn open(url: &Secret, timeout: Duration) -> Result<Connection, WsError> {
        let shown = redact_url(url.expose());
        let fail = |reason: String| WsError::Connect {
            url: shown.clone(),
            reason: redact_text(&reason, &[url.expose()]).into_owned(),
        };
        let connector = if url.expose().starts_with("wss:") {
            Connector::Rustls(tls_config().map_err(fail)?)
        } else {
            Connector::Plain
        };
        let connect = tokio_tungstenite::connect_async_tls_with_config(
            url.expose(),
            None,
            true,
            Some(connector),
        );
        let (stream, _) = tokio::time::timeout(timeout, connect)
            .await
            .map_err(|_| {
                fail(format!(
                    "no answer within {}",
                    humantime::format_duration(timeout)
                ))
            })?
            .map_err(|e| fail(e.to_string()))?;
        Ok(Connection {
            stream,
            url: shown.clone(),
            secret: url.clone(),
            next_id: 1,
            timeout,
            ping_sent: None,
        })
    }

    /// `eth_subscribe` with `params` (`["newHeads"]`, `["logs", filter]`);
    /// returns the subscription id. Notifications that arrive before the
    /// answer are dropped: the caller reads the chain again after
    /// subscribing, which covers them.
    pub async fn subscribe(&mut self, params: Value) -> Result<String, WsError> {
        let id = self.next_id;
        self.next_id += 1;
        let kind = params
            .get(0)
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned();
        let request =
            json!({"jsonrpc": "2.0", "id": id, "method": "eth_subscribe", "params": params});
        self.send(Message::Text(request.to_string().into())).await?;
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let message = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .map_err(|_| self.broken("no answer to eth_subscribe"))?;
            let Some(value) = self.json(message)? else {
                continue;
            };
            if value.get("id").and_then(Value::as_u64) != Some(id) {
                continue;
            }
            if let Some(sub) = value.get("result").and_then(Value::as_str) {
                return Ok(sub.to_owned());
            }
            let reason = value
                .get("error")
                .map(Value::to_string)
                .unwrap_or_else(|| "no result".to_owned());
            return Err(WsError::Refused {
                url: self.url.clone(),
                kind,
                reason: self.redact(&reason),
            });
        }
    }

    /// The next notification. Pings the server every `keepalive` of silence
    /// and gives up when a ping is not answered within the timeout: a
    /// half-open connection would otherwise look like a quiet chain.
    pub async fn next(&mut self, keepalive: Duration) -> Result<Notification, WsError> {
        loop {
            let wait = match self.ping_sent {
                Some(at) => at + self.timeout,
                None => tokio::time::Instant::now() + keepalive,
            };
            let message = match tokio::time::timeout_at(wait, self.stream.next()).await {
                Ok(m) => m,
                Err(_) if self.ping_sent.is_some() => {
                    return Err(self.broken("the server stopped answering pings"));
                }
                Err(_) => {
                    self.ping_sent = Some(tokio::time::Instant::now());
                    self.send(Message::Ping(Vec::new().into())).await?;
                    continue;
                }
            };
            let Some(value) = self.json(message)? else {
                continue;
            };
            if value.get("method").and_then(Value::as_str) != Some("eth_subscription") {
                continue;
            }
            let params = value.get("params");
            let subscription = params
                .and_then(|p| p.get("subscription"))
                .and_then(Value::as_str);
            let result = params.and_then(|p| p.get("result"));
            if let (Some(subscription), Some(result)) = (subscription, result) {
                return Ok(Notification {
                    subscription: subscription.to_owned(),
                    result: result.clone(),
                });
            }
        }
    }

    /// Any frame counts as a sign of life; only text frames carry JSON.
    fn json(
        &mut self,
        message: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    ) -> Result<Option<Value>, WsError> {
        self.ping_sent = None;
        match message {
            None | Some(Ok(Message::Close(_))) => Err(WsError::Closed {
                url: self.url.clone(),
            }),
            Some(Err(e)) => Err(self.broken(&e.to_string())),
            Some(Ok(Message::Text(text))) => match serde_json::from_str(text.as_str()) {
                Ok(v) => Ok(Some(v)),
                Err(e) => Err(self.broken(&format!("not JSON-RPC: {e}"))),
            },
            Some(Ok(_)) => Ok(None),
        }
    }

    async fn send(&mut self, message: Message) -> Result<(), WsError> {
        match tokio::time::timeout(self.timeout, self.stream.send(message)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.broken(&e.to_string())),
            Err(_) => Err(self.broken("cannot send: the connection is stalled")),
        }
    }

    fn broken(&self, reason: &str) -> WsError {
        WsError::Broken {
            url: self.url.clone(),
            reason: self.redact(reason),
        }
    }

    fn redact(&self, text: &str) -> String {
        redact_text(text, &[self.secret.expose()]).into_owned()
    }
}

fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err("no CA certificates found in the system's store".to_owned());
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
