//! tracing set-up: journald under systemd (structured fields without the
//! `F_` prefix, so `journalctl NODE=ai-gov-01` works), text or JSON on stderr
//! elsewhere. The level can be changed on reload.

use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, reload};

use crate::config::{LogConfig, LogFormat, LogTarget};

#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    #[error("invalid log filter {filter:?}: {reason}")]
    Filter { filter: String, reason: String },
    #[error("a global tracing subscriber is already installed")]
    AlreadyInstalled,
}

/// Changes the active filter after a configuration reload.
#[derive(Clone)]
pub struct LogHandle {
    filter: reload::Handle<EnvFilter, Registry>,
    env_override: bool,
}

impl LogHandle {
    /// Applies `level` unless `RUST_LOG` was set at start, which wins.
    pub fn set_level(&self, level: &str) -> Result<(), LoggingError> {
        if self.env_override {
            return Ok(());
        }
        let filter = parse_filter(level)?;
        self.filter
            .reload(filter)
            .map_err(|e| LoggingError::Filter {
                filter: level.to_owned(),
                reason: e.to_string(),
            })
    }
}

fn parse_filter(level: &str) -> Result<EnvFilter, LoggingError> {
    EnvFilter::builder()
        .parse(level)
        .map_err(|e| LoggingError::Filter {
            filter: level.to_owned(),
            reason: e.to_string(),
        })
}

/// Where logs actually go after `auto` is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    Journald,
    Stderr(LogFormat),
}

pub fn choose_sink(cfg: &LogConfig, journal_stream_set: bool) -> Sink {
    match cfg.target {
        LogTarget::Journald => Sink::Journald,
        LogTarget::Stderr => Sink::Stderr(cfg.format),
        LogTarget::Auto if journal_stream_set => Sink::Journald,
        LogTarget::Auto => Sink::Stderr(cfg.format),
    }
}

/// An event an operator must act on at once (a key in use elsewhere): it
/// carries `critical = true` and goes to the journal at priority 2 (crit).
fn is_critical(meta: &tracing::Metadata<'_>) -> bool {
    meta.is_event() && meta.fields().field("critical").is_some()
}

/// The journald layer; `critical` maps ERROR to priority 2 instead of 3.
fn journald(critical: bool) -> std::io::Result<tracing_journald::Layer> {
    let error = if critical {
        tracing_journald::Priority::Critical
    } else {
        tracing_journald::Priority::Error
    };
    Ok(tracing_journald::layer()?
        .with_field_prefix(None)
        .with_syslog_identifier("govnode".to_owned())
        // The crate's default puts INFO at notice (5), so
        // `journalctl -p notice` would show every routine line.
        .with_priority_mappings(tracing_journald::PriorityMappings {
            error,
            info: tracing_journald::Priority::Informational,
            debug: tracing_journald::Priority::Debug,
            ..tracing_journald::PriorityMappings::new()
        }))
}

/// Installs the global subscriber. Called once at start-up.
pub fn init(cfg: &LogConfig) -> Result<LogHandle, LoggingError> {
    let rust_log = std::env::var("RUST_LOG").ok().filter(|s| !s.is_empty());
    let filter = parse_filter(rust_log.as_deref().unwrap_or(&cfg.level))?;
    let (filter_layer, handle) = reload::Layer::new(filter);
    let sink = choose_sink(cfg, std::env::var_os("JOURNAL_STREAM").is_some());

    let mut fallback_note = None;
    let output: Box<dyn Layer<_> + Send + Sync> = match sink {
        Sink::Journald => match (journald(false), journald(true)) {
            // The critical layer sees events only: two layers of one type
            // recording the same span would clash over its extensions (a
            // panic). Its events still carry the span's fields, which the
            // routine layer stored.
            (Ok(routine), Ok(critical)) => Box::new(
                routine
                    .with_filter(filter_fn(|m| m.is_span() || !is_critical(m)))
                    .and_then(critical.with_filter(filter_fn(is_critical))),
            ),
            (Err(e), _) | (_, Err(e)) => {
                fallback_note = Some(e.to_string());
                Box::new(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            }
        },
        Sink::Stderr(LogFormat::Json) => Box::new(
            tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_writer(std::io::stderr),
        ),
        Sink::Stderr(LogFormat::Text) => Box::new(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(std::io::stderr),
        ),
    };
    tracing_subscriber::registry()
        .with(filter_layer)
        .with(output)
        .try_init()
        .map_err(|_| LoggingError::AlreadyInstalled)?;
    if let Some(reason) = fallback_note {
        tracing::warn!(%reason, "journald is not reachable; logging to stderr");
    }
    Ok(LogHandle {
        filter: handle,
        env_override: rust_log.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn critical_events_are_told_apart_from_other_errors() {
        use std::sync::{Arc, Mutex};
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let layer = tracing_subscriber::fmt::layer()
            .with_writer(std::io::sink)
            .with_filter(filter_fn(move |m| {
                if m.is_event() {
                    record.lock().unwrap().push((m.line(), is_critical(m)));
                }
                true
            }));
        let subscriber = tracing_subscriber::registry().with(layer);
        let lines = tracing::subscriber::with_default(subscriber, || {
            let critical = line!() + 1;
            tracing::error!(critical = true, "key in use elsewhere");
            let plain = line!() + 1;
            tracing::error!("an ordinary error");
            (critical, plain)
        });
        let seen = seen.lock().unwrap();
        assert!(seen.contains(&(Some(lines.0), true)), "{seen:?}");
        assert!(seen.contains(&(Some(lines.1), false)), "{seen:?}");
        assert!(!seen.contains(&(Some(lines.1), true)), "{seen:?}");
    }

    #[test]
    fn auto_follows_journal_stream() {
        let cfg = LogConfig::default();
        assert_eq!(choose_sink(&cfg, true), Sink::Journald);
        assert_eq!(choose_sink(&cfg, false), Sink::Stderr(LogFormat::Text));
        let forced = LogConfig {
            target: LogTarget::Stderr,
            format: LogFormat::Json,
            ..LogConfig::default()
        };
        assert_eq!(choose_sink(&forced, true), Sink::Stderr(LogFormat::Json));
    }
}
