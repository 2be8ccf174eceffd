//! Reads the configuration: file → YAML tree → environment overrides →
//! per-section deserialization → validation → path and secret resolution.
//! Every problem found on the way is collected, so one run lists them all.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_norway::Value;

use super::env::{Override, apply_overrides};
use super::issues::{ConfigIssue, Issues, Validate, field, index};
use super::schema::Config;
use super::secret::{Secret, SecretSource, pick_source};
use super::validate::rpc_url_problem;

pub const DEFAULT_CONFIG_PATH: &str = "/etc/govnode/config.yaml";
const DEFAULT_STATE_DIR: &str = "/var/lib/govnode";
const DEFAULT_RUNTIME_DIR: &str = "/run/govnode";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("config file {path} has {} problem(s)", issues.len())]
    Invalid {
        path: PathBuf,
        issues: Vec<ConfigIssue>,
    },
}

impl ConfigError {
    /// Every line an operator needs, ready to print.
    pub fn report(&self) -> String {
        match self {
            ConfigError::Read { .. } => self.to_string(),
            ConfigError::Invalid { path, issues } => {
                let mut out = format!("{}:\n", self);
                for i in issues {
                    // A value from the environment is not the file's fault.
                    if i.path.starts_with("env ") {
                        out.push_str(&format!("  {i}\n"));
                    } else {
                        out.push_str(&format!("  {}: {}\n", path.display(), i));
                    }
                }
                out.trim_end().to_owned()
            }
        }
    }
}

/// What the process environment contributes to a configuration.
#[derive(Debug, Clone, Default)]
pub struct LoadEnv {
    /// All variables; only `GOVNODE__…` ones are used as overrides.
    pub vars: Vec<(String, String)>,
    pub credentials_dir: Option<PathBuf>,
    pub state_dir: Option<PathBuf>,
    pub runtime_dir: Option<PathBuf>,
}

impl LoadEnv {
    pub fn from_process() -> Self {
        // systemd passes colon-separated lists when several directories are configured.
        let first_dir = |name: &str| {
            std::env::var_os(name).and_then(|v| {
                v.to_str()
                    .and_then(|s| s.split(':').next())
                    .filter(|s| !s.is_empty())
                    .map(PathBuf::from)
            })
        };
        LoadEnv {
            vars: std::env::vars().collect(),
            credentials_dir: first_dir("CREDENTIALS_DIRECTORY"),
            state_dir: first_dir("STATE_DIRECTORY"),
            runtime_dir: first_dir("RUNTIME_DIRECTORY"),
        }
    }
}

/// A node's signer, ready (keys read, keystores unlocked).
#[derive(Debug, Clone)]
pub struct NodeKey {
    pub name: String,
    pub signer: std::sync::Arc<dyn crate::signer::Signer>,
}

/// A fully loaded configuration: the file's settings plus every secret it names.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config: Config,
    pub source: PathBuf,
    /// The SQLite file; with `ledger.kind: postgres` only the place of the
    /// state directory's lock.
    pub ledger_path: PathBuf,
    /// Set with `ledger.kind: postgres`.
    pub ledger_postgres: Option<crate::ledger::pg::PgTarget>,
    pub control_socket: PathBuf,
    /// In `config.nodes` order.
    pub node_keys: Vec<NodeKey>,
    /// In `config.rpc.endpoints` order.
    pub rpc_urls: Vec<Secret>,
    /// Per endpoint, in the same order: its WebSocket URL, if it has one.
    pub rpc_ws_urls: Vec<Option<Secret>>,
    /// Every chain's URLs, in `config.chains` order.
    pub chain_secrets: Vec<super::ChainSecrets>,
    pub api_token: Option<Secret>,
    /// In `config.webhooks` order.
    pub webhook_urls: Vec<Secret>,
}

impl Settings {
    /// The ledger `ledger.kind` names.
    pub fn ledger_location(&self) -> crate::ledger::LedgerLocation {
        super::ledger::location(&self.ledger_path, self.ledger_postgres.as_ref())
    }
}

const SECTIONS: [&str; 16] = [
    "chain",
    "rpc",
    "dao",
    "chains",
    "daos",
    "nodes",
    "strategies",
    "api",
    "control",
    "ledger",
    "round",
    "log",
    "shutdown",
    "watchdog",
    "webhooks",
    "ha",
];
const REQUIRED: [&str; 3] = ["chain", "rpc", "dao"];
const REQUIRED_MANY: [&str; 2] = ["chains", "daos"];

pub fn load(path: &Path, env: &LoadEnv) -> Result<Settings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    let invalid = |issues: Issues| ConfigError::Invalid {
        path: path.to_owned(),
        issues: issues.into_vec(),
    };
    let mut issues = Issues::default();
    let (config, overrides) = parse_with(&text, env, &mut issues);
    let Some(config) = config else {
        return Err(invalid(name_overrides(issues, &overrides)));
    };
    config.validate("", &mut issues);
    check_env_log_filter(env, &mut issues);
    let base = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let settings = resolve(config, path, &base, env, &mut issues);
    super::paths::check(
        &settings.config,
        &settings.ledger_path,
        &settings.control_socket,
        &mut issues,
    );
    super::paths::check_distinct_keys(&settings.config, &settings.node_keys, &mut issues);
    let issues = name_overrides(issues, &overrides);
    if issues.is_empty() {
        Ok(settings)
    } else {
        Err(invalid(issues))
    }
}

/// Issues at a path an environment variable set are labelled with it.
fn name_overrides(mut issues: Issues, overrides: &[Override]) -> Issues {
    issues.relabel(|path| overrides.iter().find_map(|o| o.label(path)));
    issues
}

/// `RUST_LOG` wins over `log.level` at start, so it is checked like the file.
fn check_env_log_filter(env: &LoadEnv, issues: &mut Issues) {
    let Some((_, filter)) = env
        .vars
        .iter()
        .find(|(k, v)| k == "RUST_LOG" && !v.is_empty())
    else {
        return;
    };
    if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(filter) {
        issues.push(
            "env RUST_LOG",
            format!("invalid log filter {filter:?}: {e}"),
        );
    }
}

/// Parses and deserializes; returns `None` when a structural problem prevents
/// building a [`Config`] (the problems are in `issues`).
pub fn parse(text: &str, env: &LoadEnv, issues: &mut Issues) -> Option<Config> {
    let mut own = Issues::default();
    let (config, overrides) = parse_with(text, env, &mut own);
    for i in name_overrides(own, &overrides).into_vec() {
        issues.push(i.path, i.message);
    }
    config
}

fn parse_with(text: &str, env: &LoadEnv, issues: &mut Issues) -> (Option<Config>, Vec<Override>) {
    if text.trim().is_empty() {
        issues.push(
            "",
            "the file is empty; see examples/config.yaml for a complete configuration",
        );
        return (None, Vec::new());
    }
    let mut doc: Value = match serde_norway::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            let at = e
                .location()
                .map(|l| format!("line {} column {}", l.line(), l.column()))
                .unwrap_or_default();
            issues.push(at, format!("YAML syntax error: {e}"));
            return (None, Vec::new());
        }
    };
    if !doc.is_mapping() {
        issues.push(
            "",
            "the top level must be a mapping of sections (chain, rpc, dao, …)",
        );
        return (None, Vec::new());
    }
    let overrides = apply_overrides(&mut doc, env.vars.iter().cloned(), issues);
    reject_inline_secrets(&mut doc, issues);

    let before = issues.len();
    if let Value::Mapping(map) = &doc {
        for (key, value) in map {
            let Some(name) = key.as_str() else {
                issues.push("", format!("section names must be strings, found {key:?}"));
                continue;
            };
            if !SECTIONS.contains(&name) {
                issues.push(
                    name,
                    format!("unknown section (known: {})", SECTIONS.join(", ")),
                );
                continue;
            }
            check_section(name, value, issues);
        }
        let many = REQUIRED_MANY.iter().any(|k| map.contains_key(*k));
        if many {
            for name in REQUIRED {
                if map.contains_key(name) {
                    issues.push(name, super::daos::MIXED_FORMS);
                }
            }
        }
        for name in if many {
            &REQUIRED_MANY[..]
        } else {
            &REQUIRED[..]
        } {
            if !map.contains_key(*name) {
                issues.push(*name, "missing required section");
            }
        }
    }
    if issues.len() > before {
        return (None, overrides);
    }
    match deserialize_at::<Config>("", doc) {
        Ok(mut c) => {
            super::daos::normalize(&mut c);
            (Some(c), overrides)
        }
        Err(issue) => {
            issues.push(issue.path, issue.message);
            (None, overrides)
        }
    }
}

fn check_section(name: &str, value: &Value, issues: &mut Issues) {
    use super::schema::*;
    let v = value.clone();
    let result = match name {
        "chain" => deserialize_at::<ChainConfig>(name, v).map(drop),
        "rpc" => deserialize_at::<RpcConfig>(name, v).map(drop),
        "dao" => deserialize_at::<DaoConfig>(name, v).map(drop),
        "chains" => check_list::<ChainEntry>(name, v, issues),
        "daos" => check_list::<DaoEntry>(name, v, issues),
        "nodes" => check_list::<NodeConfig>(name, v, issues),
        "strategies" => deserialize_at::<
            std::collections::BTreeMap<String, crate::strategy::RulesStrategyConfig>,
        >(name, v)
        .map(drop),
        "api" => deserialize_at::<ApiConfig>(name, v).map(drop),
        "control" => deserialize_at::<ControlConfig>(name, v).map(drop),
        "ledger" => deserialize_at::<LedgerConfig>(name, v).map(drop),
        "round" => deserialize_at::<RoundConfig>(name, v).map(drop),
        "log" => deserialize_at::<LogConfig>(name, v).map(drop),
        "shutdown" => deserialize_at::<ShutdownConfig>(name, v).map(drop),
        "watchdog" => deserialize_at::<WatchdogConfig>(name, v).map(drop),
        "webhooks" => check_list::<super::webhooks::WebhookConfig>(name, v, issues),
        _ => Ok(()),
    };
    if let Err(issue) = result {
        issues.push(issue.path, issue.message);
    }
}

/// Lists are checked element by element so that two bad nodes give two issues.
fn check_list<T: DeserializeOwned>(
    name: &str,
    v: Value,
    issues: &mut Issues,
) -> Result<(), ConfigIssue> {
    match v {
        Value::Sequence(items) => {
            for (i, item) in items.into_iter().enumerate() {
                if let Err(issue) = deserialize_at::<T>(&index(name, i), item) {
                    issues.push(issue.path, issue.message);
                }
            }
            Ok(())
        }
        other => deserialize_at::<Vec<T>>(name, other).map(drop),
    }
}

fn deserialize_at<T: DeserializeOwned>(prefix: &str, v: Value) -> Result<T, ConfigIssue> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let inner = e.path().to_string();
        let path = match (prefix.is_empty(), inner.as_str()) {
            (_, ".") => prefix.to_owned(),
            (true, _) => inner,
            (false, p) if p.starts_with('[') => format!("{prefix}{p}"),
            (false, p) => format!("{prefix}.{p}"),
        };
        ConfigIssue {
            path,
            message: e.into_inner().to_string(),
        }
    })
}

const KEY_ADVICE: &str = "inline private keys are not accepted: write the hex key to a file readable only by govnode and set key_file: PATH, or deliver it with systemd LoadCredential=NAME:PATH and set key_credential: NAME";

/// Gives a precise, actionable message for the secrets operators most often
/// paste inline, instead of serde's generic "unknown field".
fn reject_inline_secrets(doc: &mut Value, issues: &mut Issues) {
    if let Some(Value::Sequence(nodes)) = doc.get_mut("nodes") {
        for (i, node) in nodes.iter_mut().enumerate() {
            if let Value::Mapping(m) = node {
                for key in ["key", "private_key", "privateKey"] {
                    if m.remove(key).is_some() {
                        issues.push(field(&index("nodes", i), key), KEY_ADVICE);
                    }
                }
            }
        }
    }
    if let Some(Value::Sequence(targets)) = doc.get_mut("webhooks") {
        for (i, target) in targets.iter_mut().enumerate() {
            if let Value::Mapping(m) = target
                && m.remove("url").is_some()
            {
                issues.push(
                    field(&index("webhooks", i), "url"),
                    super::webhooks::INLINE_URL_ADVICE,
                );
            }
        }
    }
    if let Some(Value::Mapping(ledger)) = doc.get_mut("ledger")
        && ledger.remove("url").is_some()
    {
        issues.push("ledger.url", super::ledger::INLINE_URL_ADVICE);
    }
    if let Some(Value::Mapping(api)) = doc.get_mut("api") {
        for key in ["token", "api_token"] {
            if api.remove(key).is_some() {
                issues.push(
                    field("api", key),
                    "inline API tokens are not accepted: use token_file: PATH or token_credential: NAME",
                );
            }
        }
    }
}

/// The control socket named by the file at `path`, without reading any
/// secret: `govnode round` runs without access to the daemon's credentials.
pub fn control_socket_path(path: &Path, env: &LoadEnv) -> Result<PathBuf, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    let mut issues = Issues::default();
    let config = parse(&text, env, &mut issues).ok_or_else(|| ConfigError::Invalid {
        path: path.to_owned(),
        issues: issues.into_vec(),
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    Ok(socket_or_default(&config, base, env))
}

/// A configuration read and validated without reading any secret, with its
/// paths resolved: for the state tools (`govnode backup`, `restore`, `ledger
/// export`), which never need the node keys or RPC URLs.
#[derive(Debug, Clone)]
pub struct Unresolved {
    pub config: Config,
    pub source: PathBuf,
    pub ledger_path: PathBuf,
    pub control_socket: PathBuf,
}

/// Like [`load`] without the secrets: the file's own problems are reported,
/// a missing or unreadable key file is not.
pub fn load_unresolved(path: &Path, env: &LoadEnv) -> Result<Unresolved, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    let invalid = |issues: Issues| ConfigError::Invalid {
        path: path.to_owned(),
        issues: issues.into_vec(),
    };
    let mut issues = Issues::default();
    let (config, overrides) = parse_with(&text, env, &mut issues);
    let Some(config) = config else {
        return Err(invalid(name_overrides(issues, &overrides)));
    };
    config.validate("", &mut issues);
    let issues = name_overrides(issues, &overrides);
    if !issues.is_empty() {
        return Err(invalid(issues));
    }
    let base = path.parent().unwrap_or(Path::new("."));
    Ok(Unresolved {
        ledger_path: ledger_or_default(&config, base, env),
        control_socket: socket_or_default(&config, base, env),
        source: path.to_owned(),
        config,
    })
}

fn ledger_or_default(config: &Config, base: &Path, env: &LoadEnv) -> PathBuf {
    match &config.ledger.path {
        Some(p) if p.is_absolute() => p.clone(),
        Some(p) => base.join(p),
        None => env
            .state_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR))
            .join("ledger.sqlite"),
    }
}

fn socket_or_default(config: &Config, base: &Path, env: &LoadEnv) -> PathBuf {
    match &config.control.socket {
        Some(p) if p.is_absolute() => p.clone(),
        Some(p) => base.join(p),
        None => env
            .runtime_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_RUNTIME_DIR))
            .join("control.sock"),
    }
}

fn resolve(
    config: Config,
    path: &Path,
    base: &Path,
    env: &LoadEnv,
    issues: &mut Issues,
) -> Settings {
    let abs = |p: &PathBuf| {
        if p.is_absolute() {
            p.clone()
        } else {
            base.join(p)
        }
    };
    let creds = env.credentials_dir.as_deref();

    let mut node_keys = Vec::new();
    for (i, node) in config.nodes.iter().enumerate() {
        let p = index("nodes", i);
        if let Some(signer) = crate::signer::node_signer(node, &p, &abs, creds, issues) {
            node_keys.push(NodeKey {
                name: node.name.clone(),
                signer,
            });
        }
    }

    let chain_secrets: Vec<super::ChainSecrets> = config
        .chains
        .iter()
        .enumerate()
        .map(|(c, chain)| {
            let at = if config.single_form {
                "rpc.endpoints".to_owned()
            } else {
                format!("chains[{c}].rpc.endpoints")
            };
            let mut rpc_urls = Vec::new();
            for (i, ep) in chain.rpc.endpoints.iter().enumerate() {
                let p = index(&at, i);
                if let Some(url) = &ep.url {
                    rpc_urls.push(Secret::new(url.clone()));
                    continue;
                }
                let file = ep.url_file.as_ref().map(abs);
                if let Some(url) =
                    read_url(&p, file.as_ref(), ep.url_credential.as_ref(), creds, issues)
                {
                    rpc_urls.push(url);
                }
            }
            let rpc_ws_urls = chain
                .rpc
                .endpoints
                .iter()
                .enumerate()
                .map(|(i, ep)| read_ws_url(&index(&at, i), ep, &abs, creds, issues))
                .collect();
            super::ChainSecrets {
                rpc_urls,
                rpc_ws_urls,
            }
        })
        .collect();
    // The daemon-wide settings carry the first DAO's chain, as its view does.
    let first_chain = config
        .daos
        .first()
        .and_then(|d| config.chains.iter().position(|c| c.name == d.chain))
        .and_then(|i| chain_secrets.get(i))
        .cloned()
        .unwrap_or_default();
    let (rpc_urls, rpc_ws_urls) = (first_chain.rpc_urls, first_chain.rpc_ws_urls);
    let webhook_urls = super::webhooks::read_urls(&config.webhooks, &abs, creds, issues);

    let token_file = config.api.token_file.as_ref().map(abs);
    let api_token = read_secret(
        "api",
        "token",
        token_file.as_ref(),
        config.api.token_credential.as_ref(),
        creds,
        issues,
    )
    .map(|(_, secret, _)| secret);

    let ledger_path = ledger_or_default(&config, base, env);
    let ledger_postgres = super::ledger::read_target(&config.ledger, &abs, creds, issues);
    let control_socket = socket_or_default(&config, base, env);

    Settings {
        config,
        source: path.to_owned(),
        ledger_path,
        ledger_postgres,
        control_socket,
        node_keys,
        rpc_urls,
        rpc_ws_urls,
        chain_secrets,
        api_token,
        webhook_urls,
    }
}

/// Reads the URL a `url_file` / `url_credential` pair names and checks it
/// is an http(s) URL. The URL itself is a secret: a message names the
/// source only.
pub(super) fn read_url(
    parent: &str,
    file: Option<&PathBuf>,
    credential: Option<&String>,
    creds: Option<&Path>,
    issues: &mut Issues,
) -> Option<Secret> {
    let (src, secret, at) = read_secret(parent, "url", file, credential, creds, issues)?;
    match rpc_url_problem(secret.expose()) {
        Some(_) => {
            issues.push(at, format!("{src} does not hold a valid http(s) URL"));
            None
        }
        None => Some(secret),
    }
}

/// An endpoint's WebSocket URL, inline or from its `ws_url_file` /
/// `ws_url_credential`; `None` when it has none (or it could not be read,
/// which is an issue).
fn read_ws_url(
    parent: &str,
    ep: &super::schema::EndpointConfig,
    abs: &dyn Fn(&PathBuf) -> PathBuf,
    creds: Option<&Path>,
    issues: &mut Issues,
) -> Option<Secret> {
    if let Some(url) = &ep.ws_url {
        return Some(Secret::new(url.clone()));
    }
    let file = ep.ws_url_file.as_ref().map(abs);
    let (src, secret, at) = read_secret(
        parent,
        "ws_url",
        file.as_ref(),
        ep.ws_url_credential.as_ref(),
        creds,
        issues,
    )?;
    match super::validate::ws_url_problem(secret.expose()) {
        Some(_) => {
            issues.push(at, format!("{src} does not hold a valid ws(s) URL"));
            None
        }
        None => Some(secret),
    }
}

/// Reads the secret a `<stem>_file` / `<stem>_credential` pair names, if one
/// is set; a read failure becomes an issue at the field that named it.
/// Whether one must be set is checked by validation, not here.
pub(super) fn read_secret(
    parent: &str,
    stem: &str,
    file: Option<&PathBuf>,
    credential: Option<&String>,
    creds: Option<&Path>,
    issues: &mut Issues,
) -> Option<(SecretSource, Secret, String)> {
    let src = pick_source(
        parent,
        stem,
        file,
        credential,
        false,
        &mut Issues::default(),
    )?;
    let at = field(parent, source_key(stem, &src));
    match src.read(creds) {
        Ok(secret) => Some((src, secret, at)),
        Err(e) => {
            issues.push(at, e.to_string());
            None
        }
    }
}

fn source_key(stem: &str, src: &SecretSource) -> &'static str {
    match (stem, src) {
        ("key", SecretSource::File(_)) => "key_file",
        ("key", SecretSource::Credential(_)) => "key_credential",
        ("url", SecretSource::File(_)) => "url_file",
        ("url", SecretSource::Credential(_)) => "url_credential",
        ("ws_url", SecretSource::File(_)) => "ws_url_file",
        ("ws_url", SecretSource::Credential(_)) => "ws_url_credential",
        (_, SecretSource::File(_)) => "token_file",
        (_, SecretSource::Credential(_)) => "token_credential",
    }
}
