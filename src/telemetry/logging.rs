//! tracing set-up: journald under systemd (structured fields without the
//! `F_` prefix, so `journalctl NODE=ai-gov-01` works), text or JSON on stderr
//! elsewhere. The level can be changed on reload.

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

/// Installs the global subscriber. Called once at start-up.
pub fn init(cfg: &LogConfig) -> Result<LogHandle, LoggingError> {
    let rust_log = std::env::var("RUST_LOG").ok().filter(|s| !s.is_empty());
    let filter = parse_filter(rust_log.as_deref().unwrap_or(&cfg.level))?;
    let (filter_layer, handle) = reload::Layer::new(filter);
    let sink = choose_sink(cfg, std::env::var_os("JOURNAL_STREAM").is_some());

    let mut fallback_note = None;
    let output: Box<dyn Layer<_> + Send + Sync> = match sink {
        Sink::Journald => match tracing_journald::layer() {
            Ok(layer) => Box::new(
                layer
                    .with_field_prefix(None)
                    .with_syslog_identifier("govnode".to_owned())
                    // The crate's default puts INFO at notice (5), so
                    // `journalctl -p notice` would show every routine line.
                    .with_priority_mappings(tracing_journald::PriorityMappings {
                        info: tracing_journald::Priority::Informational,
                        debug: tracing_journald::Priority::Debug,
                        ..tracing_journald::PriorityMappings::new()
                    }),
            ),
            Err(e) => {
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
