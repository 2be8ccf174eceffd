//! The `webhooks:` section: notification targets. A target's URL carries the
//! receiver's token, so it is only ever read from a file or a systemd
//! credential and never appears in a message.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use super::issues::{Issues, Validate, field, index};
use super::load::read_url;
use super::secret::{Secret, pick_source};
use super::validate::{LABEL_RULE, is_label};
use crate::webhook::EventKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookKind {
    Slack,
    Discord,
    Telegram,
    Generic,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Label in logs and metrics instead of the URL.
    pub name: String,
    pub kind: WebhookKind,
    #[serde(default)]
    pub url_file: Option<PathBuf>,
    #[serde(default)]
    pub url_credential: Option<String>,
    /// Absent: every event.
    #[serde(default)]
    pub events: Option<Vec<EventKind>>,
    /// Telegram only: the chat `sendMessage` posts into.
    #[serde(default, deserialize_with = "chat_id")]
    pub chat_id: Option<String>,
    /// One HTTP attempt; a receiver slower than this is retried.
    #[serde(default = "defaults::timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Attempts per notification, the first included.
    #[serde(default = "defaults::max_attempts")]
    pub max_attempts: u32,
    /// Notifications kept while the receiver is slow; the oldest go first.
    #[serde(default = "defaults::queue_size")]
    pub queue_size: usize,
    /// Requests per minute at most (chat services throttle harder).
    #[serde(default = "defaults::per_minute")]
    pub per_minute: u32,
}

/// Telegram chat ids are numbers (`-1001234`) or `@channel` names; YAML
/// reads the first kind as an integer.
fn chat_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(i64),
        Text(String),
    }
    Ok(Option::<Raw>::deserialize(d)?.map(|raw| match raw {
        Raw::Number(n) => n.to_string(),
        Raw::Text(s) => s,
    }))
}

mod defaults {
    use std::time::Duration;

    pub fn timeout() -> Duration {
        Duration::from_secs(10)
    }
    pub fn max_attempts() -> u32 {
        5
    }
    pub fn queue_size() -> usize {
        100
    }
    pub fn per_minute() -> u32 {
        20
    }
}

pub fn validate_webhooks(targets: &[WebhookConfig], issues: &mut Issues) {
    let mut seen = BTreeSet::new();
    for (i, t) in targets.iter().enumerate() {
        let p = index("webhooks", i);
        if !seen.insert(t.name.as_str()) {
            issues.push(
                field(&p, "name"),
                format!("duplicate webhook name {:?}", t.name),
            );
        }
        t.validate(&p, issues);
    }
}

impl Validate for WebhookConfig {
    fn validate(&self, path: &str, issues: &mut Issues) {
        if !is_label(&self.name) {
            issues.push(field(path, "name"), LABEL_RULE);
        }
        pick_source(
            path,
            "url",
            self.url_file.as_ref(),
            self.url_credential.as_ref(),
            true,
            issues,
        );
        match (self.kind, &self.chat_id) {
            (WebhookKind::Telegram, None) => issues.push(
                field(path, "chat_id"),
                "required with kind: telegram (the chat id, e.g. -1001234567890, or @channelname)",
            ),
            (WebhookKind::Telegram, Some(id)) if id.trim().is_empty() => {
                issues.push(field(path, "chat_id"), "must not be empty")
            }
            (WebhookKind::Telegram, Some(_)) | (_, None) => {}
            (_, Some(_)) => issues.push(field(path, "chat_id"), "only used with kind: telegram"),
        }
        if self.events.as_ref().is_some_and(|e| e.is_empty()) {
            issues.push(
                field(path, "events"),
                "an empty list would send nothing: leave events out to send every event, or remove the target",
            );
        }
        if self.timeout.is_zero() {
            issues.push(field(path, "timeout"), "must be greater than 0");
        }
        if self.max_attempts == 0 {
            issues.push(field(path, "max_attempts"), "must be at least 1");
        }
        if self.queue_size == 0 {
            issues.push(field(path, "queue_size"), "must be at least 1");
        }
        if self.per_minute == 0 {
            issues.push(field(path, "per_minute"), "must be at least 1");
        }
    }
}

pub const INLINE_URL_ADVICE: &str = "inline webhook URLs are not accepted (the URL holds the receiver's token): write it to a file readable only by govnode and set url_file: PATH, or deliver it with systemd LoadCredential=NAME:PATH and set url_credential: NAME";

/// Reads each target's URL, in `targets` order. A problem is reported at
/// the field that named the source, never with the URL itself.
pub fn read_urls(
    targets: &[WebhookConfig],
    abs: &dyn Fn(&PathBuf) -> PathBuf,
    creds: Option<&Path>,
    issues: &mut Issues,
) -> Vec<Secret> {
    targets
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            let file = t.url_file.as_ref().map(abs);
            read_url(
                &index("webhooks", i),
                file.as_ref(),
                t.url_credential.as_ref(),
                creds,
                issues,
            )
        })
        .collect()
}
