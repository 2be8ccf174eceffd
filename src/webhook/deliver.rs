//! Posting one rendered event to one target, with retries.
//!
//! Network errors, 5xx and 429 are retried with exponential backoff and full
//! jitter (a 429's `Retry-After` wins when it is longer); other answers are
//! final. Errors never carry the URL: it holds the receiver's token.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;
use serde_json::Value;

use crate::chain::Backoff;
use crate::config::Secret;

/// How a delivery ended; the label of `govnode_webhook_deliveries_total`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered {
        attempts: u32,
    },
    /// The receiver refused the request (a 4xx other than 429).
    Rejected {
        status: u16,
    },
    /// Every attempt failed with a retryable cause.
    GaveUp {
        attempts: u32,
        last: String,
    },
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Delivered { .. } => "delivered",
            Outcome::Rejected { .. } => "rejected",
            Outcome::GaveUp { .. } => "gave_up",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub timeout: Duration,
    pub max_attempts: u32,
    pub backoff: Backoff,
    /// A `Retry-After` longer than this is cut to it, so one receiver cannot
    /// park its queue for hours.
    pub max_retry_after: Duration,
}

enum Attempt {
    Done(Outcome),
    Retry {
        cause: String,
        after: Option<Duration>,
    },
}

pub async fn deliver(
    client: &reqwest::Client,
    url: &Secret,
    body: &Value,
    policy: &Policy,
) -> Outcome {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (cause, after) = match post_once(client, url, body, policy.timeout, attempt).await {
            Attempt::Done(outcome) => return outcome,
            Attempt::Retry { cause, after } => (cause, after),
        };
        if attempt >= policy.max_attempts {
            return Outcome::GaveUp {
                attempts: attempt,
                last: cause,
            };
        }
        let jittered = policy.backoff.delay(attempt, &mut rand::rng());
        let wait = after.map_or(jittered, |a| a.min(policy.max_retry_after).max(jittered));
        tokio::time::sleep(wait).await;
    }
}

async fn post_once(
    client: &reqwest::Client,
    url: &Secret,
    body: &Value,
    timeout: Duration,
    attempt: u32,
) -> Attempt {
    let sent = client
        .post(url.expose())
        .timeout(timeout)
        .json(body)
        .send()
        .await;
    let response = match sent {
        Ok(r) => r,
        Err(e) => {
            return Attempt::Retry {
                cause: e.without_url().to_string(),
                after: None,
            };
        }
    };
    let status = response.status();
    if status.is_success() {
        return Attempt::Done(Outcome::Delivered { attempts: attempt });
    }
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        return Attempt::Retry {
            cause: format!("HTTP {}", status.as_u16()),
            after: retry_after(response.headers()),
        };
    }
    Attempt::Done(Outcome::Rejected {
        status: status.as_u16(),
    })
}

/// Only the delta-seconds form; chat services do not send HTTP dates.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let raw = headers.get(RETRY_AFTER)?.to_str().ok()?;
    raw.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    #[test]
    fn retry_after_reads_seconds_only() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), None);
    }
}
