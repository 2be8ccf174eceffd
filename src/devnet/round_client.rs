//! `--once`: waits for the daemon's first round through its HTTP API and
//! judges it. Kept apart so it is easy to follow the rounds API as it evolves.
//!
//! Expected shapes (fields not named here are ignored):
//!
//! `GET /api/v1/rounds` — the rounds, as a JSON array or as `{"rounds": [...]}`:
//! ```json
//! [{"id": "r-1" | 1, "state": "running" | "finished" | "failed", ...}]
//! ```
//! `GET /api/v1/rounds/{id}`, once `state` is `finished` or `failed`:
//! ```json
//! {"id": "r-1", "state": "finished",
//!  "outcome": "success" | "partial" | "failed",
//!  "votes": {"decided": 245, "confirmed": 245, "failed": 0, "skipped": 0}}
//! ```
//! The round is a success for the devnet iff `outcome == "success"` and
//! `votes.confirmed == votes.decided`.

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

use super::error::DevnetError;
use crate::config::Secret;

const POLL: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct VoteCounts {
    #[serde(default)]
    pub decided: u64,
    #[serde(default)]
    pub confirmed: u64,
    #[serde(default)]
    pub failed: u64,
    #[serde(default)]
    pub skipped: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RoundReport {
    #[serde(deserialize_with = "id_text")]
    pub id: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub outcome: String,
    #[serde(default)]
    pub votes: VoteCounts,
}

impl RoundReport {
    /// Every vote the strategies decided is on chain.
    pub fn all_landed(&self) -> bool {
        self.outcome == "success" && self.votes.confirmed == self.votes.decided
    }
}

/// Ids may be numbers or strings; the devnet only passes them back.
fn id_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => s,
        other => other.to_string(),
    })
}

pub struct RoundClient {
    http: reqwest::Client,
    base: String,
    token: Option<Secret>,
}

impl RoundClient {
    /// `base` is `http://host:port` of the daemon's API.
    pub fn new(base: String, token: Option<Secret>) -> Result<RoundClient, DevnetError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| DevnetError::Unexpected {
                what: "HTTP client".into(),
                detail: e.to_string(),
            })?;
        Ok(RoundClient { http, base, token })
    }

    /// Polls until a round has finished (or failed) and returns its report.
    pub async fn wait_first_round(&self, timeout: Duration) -> Result<RoundReport, DevnetError> {
        let list_url = format!("{}/api/v1/rounds", self.base);
        let started = Instant::now();
        loop {
            let last = match self.get(&list_url).await {
                Ok(body) => match finished_round(&body) {
                    Some(id) => {
                        let url = format!("{list_url}/{id}");
                        match self.get(&url).await.and_then(|b| report(&b)) {
                            Ok(r) => return Ok(r),
                            Err(e) => format!("GET {url}: {e}"),
                        }
                    }
                    None => "no finished round yet".into(),
                },
                Err(e) => e,
            };
            if started.elapsed() >= timeout {
                return Err(DevnetError::RoundTimeout {
                    waited: timeout,
                    url: list_url,
                    last,
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn get(&self, url: &str) -> Result<Value, String> {
        let mut req = self.http.get(url);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t.expose());
        }
        let resp = req.send().await.map_err(|e| match e.status() {
            Some(s) => format!("HTTP {s}"),
            None if e.is_connect() => "connection refused (daemon not listening yet)".into(),
            None if e.is_timeout() => "timed out".into(),
            None => "request failed".into(),
        })?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|_| format!("HTTP {status}, unreadable body"))?;
        if !status.is_success() {
            return Err(format!("HTTP {status}"));
        }
        serde_json::from_str(&text).map_err(|e| format!("HTTP {status}, not JSON: {e}"))
    }
}

/// The id of the first round in the list whose state is final.
fn finished_round(body: &Value) -> Option<String> {
    let list = match body {
        Value::Array(items) => items,
        Value::Object(o) => o.get("rounds")?.as_array()?,
        _ => return None,
    };
    list.iter()
        .find(|r| {
            matches!(
                r.get("state").and_then(Value::as_str),
                Some("finished" | "failed")
            )
        })
        .and_then(|r| match r.get("id")? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
}

fn report(body: &Value) -> Result<RoundReport, String> {
    RoundReport::deserialize(body).map_err(|e| format!("unexpected round JSON: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_a_finished_round_in_either_shape() {
        let list = json!([{"id": 1, "state": "running"}, {"id": 2, "state": "finished"}]);
        assert_eq!(finished_round(&list).as_deref(), Some("2"));
        let wrapped = json!({"rounds": [{"id": "r-9", "state": "failed"}]});
        assert_eq!(finished_round(&wrapped).as_deref(), Some("r-9"));
        assert_eq!(
            finished_round(&json!([{"id": 1, "state": "running"}])),
            None
        );
        assert_eq!(finished_round(&json!({"error": "not found"})), None);
    }

    #[test]
    fn judges_a_round() {
        let ok = report(&json!({"id": 3, "state": "finished", "outcome": "success",
            "votes": {"decided": 10, "confirmed": 10, "failed": 0, "skipped": 2}}))
        .expect("report");
        assert_eq!(ok.id, "3");
        assert!(ok.all_landed());
        let short = report(&json!({"id": "a", "outcome": "success",
            "votes": {"decided": 10, "confirmed": 9}}))
        .expect("report");
        assert!(!short.all_landed());
        let partial = report(&json!({"id": "a", "outcome": "partial",
            "votes": {"decided": 1, "confirmed": 1}}))
        .expect("report");
        assert!(!partial.all_landed());
    }
}
