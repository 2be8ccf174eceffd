//! Semantic checks that serde cannot express. Each section appends its own
//! problems so that `check-config` lists all of them at once.

use std::collections::BTreeSet;

use super::issues::{Issues, Validate, field, index};
use super::schema::*;
use super::secret::pick_source;

use crate::strategy::BUILTIN as BUILTIN_STRATEGIES;

impl Validate for Config {
    fn validate(&self, _path: &str, issues: &mut Issues) {
        if self.single_form {
            self.chain.validate("chain", issues);
            self.rpc.validate("rpc", issues);
            self.dao.validate("dao", issues);
        } else {
            super::daos::validate_many(self, issues);
        }
        validate_nodes(&self.nodes, self, issues);
        for (name, strategy) in &self.strategies {
            let path = field("strategies", name);
            if BUILTIN_STRATEGIES.contains(&name.as_str()) {
                issues.push(path.clone(), "name is taken by a built-in strategy");
            }
            if !is_label(name) {
                issues.push(path.clone(), LABEL_RULE);
            }
            strategy.validate(&path, issues);
        }
        self.api.validate("api", issues);
        self.round.validate("round", issues);
        self.log.validate("log", issues);
        if self.shutdown.drain_timeout.is_zero() {
            issues.push("shutdown.drain_timeout", "must be greater than 0");
        }
        if self.watchdog.heartbeat_timeout.is_zero() {
            issues.push("watchdog.heartbeat_timeout", "must be greater than 0");
        }
        super::webhooks::validate_webhooks(&self.webhooks, issues);
        super::ledger::validate_ledger(&self.ledger, issues);
        super::ha::validate_ha(&self.ha, &self.ledger, &self.nodes, issues);
    }
}

pub(super) const LABEL_RULE: &str = "must be 1-64 characters of a-z, A-Z, 0-9, '-', '_' or '.'";

/// Names end up in metric labels, journald fields and credential names.
pub fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl Validate for ChainConfig {
    fn validate(&self, path: &str, issues: &mut Issues) {
        if self.id == 0 {
            issues.push(field(path, "id"), "must be a positive chain id");
        }
    }
}

impl Validate for RpcConfig {
    fn validate(&self, path: &str, issues: &mut Issues) {
        let list = field(path, "endpoints");
        if self.endpoints.is_empty() {
            issues.push(list.clone(), "at least one endpoint is required");
        }
        let mut seen = BTreeSet::new();
        for (i, ep) in self.endpoints.iter().enumerate() {
            let p = index(&list, i);
            if !seen.insert(ep.name.as_str()) {
                issues.push(
                    field(&p, "name"),
                    format!("duplicate endpoint name {:?}", ep.name),
                );
            }
            ep.validate(&p, issues);
        }
        let b = &self.breaker;
        let bp = field(path, "breaker");
        if b.failure_threshold == 0 {
            issues.push(field(&bp, "failure_threshold"), "must be at least 1");
        }
        if !(b.error_rate > 0.0 && b.error_rate <= 1.0) {
            issues.push(field(&bp, "error_rate"), "must be in (0, 1]");
        }
        if b.cooldown.is_zero() || b.max_cooldown < b.cooldown {
            issues.push(
                field(&bp, "max_cooldown"),
                "cooldown must be > 0 and max_cooldown >= cooldown",
            );
        }
        if b.window.is_zero() {
            issues.push(field(&bp, "window"), "must be greater than 0");
        }
        let r = &self.retry;
        let rp = field(path, "retry");
        if r.max_attempts == 0 {
            issues.push(field(&rp, "max_attempts"), "must be at least 1");
        }
        if r.max_delay < r.base_delay {
            issues.push(field(&rp, "max_delay"), "must be >= base_delay");
        }
        if r.call_deadline.is_zero() {
            issues.push(field(&rp, "call_deadline"), "must be greater than 0");
        }
        if self.probe.interval.is_zero() {
            issues.push(field(path, "probe.interval"), "must be greater than 0");
        }
    }
}

impl Validate for EndpointConfig {
    fn validate(&self, path: &str, issues: &mut Issues) {
        if !is_label(&self.name) {
            issues.push(field(path, "name"), LABEL_RULE);
        }
        UrlSources {
            stem: "url",
            inline: self.url.as_ref(),
            has_file: self.url_file.is_some(),
            credential: self.url_credential.as_ref(),
            required: true,
            problem: rpc_url_problem,
        }
        .validate(path, issues);
        UrlSources {
            stem: "ws_url",
            inline: self.ws_url.as_ref(),
            has_file: self.ws_url_file.is_some(),
            credential: self.ws_url_credential.as_ref(),
            required: false,
            problem: ws_url_problem,
        }
        .validate(path, issues);
        if self.max_rps == 0 {
            issues.push(field(path, "max_rps"), "must be at least 1");
        }
        if self.burst == 0 {
            issues.push(field(path, "burst"), "must be at least 1");
        }
        if self.timeout.is_zero() {
            issues.push(field(path, "timeout"), "must be greater than 0");
        }
    }
}

/// One URL's three sources, `<stem>` (inline), `<stem>_file` and
/// `<stem>_credential`: at most one (exactly one when `required`), an inline
/// one valid by `problem` and without credentials, a credential name valid.
/// The RPC URL and the WebSocket URL of an endpoint follow the same rules.
struct UrlSources<'a> {
    stem: &'a str,
    inline: Option<&'a String>,
    has_file: bool,
    credential: Option<&'a String>,
    required: bool,
    problem: fn(&str) -> Option<String>,
}

impl Validate for UrlSources<'_> {
    fn validate(&self, path: &str, issues: &mut Issues) {
        let UrlSources {
            stem,
            inline,
            has_file,
            credential,
            required,
            problem,
        } = *self;
        let sources = [inline.is_some(), has_file, credential.is_some()]
            .iter()
            .filter(|s| **s)
            .count();
        match sources {
            0 if required => issues.push(
                path.to_owned(),
                format!("missing {stem}, {stem}_file or {stem}_credential"),
            ),
            0 | 1 => {}
            _ => issues.push(
                path.to_owned(),
                format!("set only one of {stem}, {stem}_file and {stem}_credential"),
            ),
        }
        if let Some(url) = inline {
            if let Some(p) = problem(url) {
                issues.push(field(path, stem), p);
            } else if url_has_credentials(url) {
                let advice = format!(
                    "put it in a file and use {stem}_file, or {stem}_credential with systemd LoadCredential"
                );
                issues.push(
                    field(path, stem),
                    format!("this URL carries credentials; secrets are never inline: {advice}"),
                );
            }
        }
        if credential.is_some() {
            pick_source(path, stem, None, credential, false, issues);
        }
    }
}

/// Why `raw` is not a WebSocket URL a subscription can use.
pub fn ws_url_problem(raw: &str) -> Option<String> {
    match url::Url::parse(raw) {
        Err(e) => Some(format!("not a valid URL ({e})")),
        Ok(u) if !matches!(u.scheme(), "ws" | "wss") => {
            Some(format!("scheme must be ws or wss, not {:?}", u.scheme()))
        }
        Ok(u) if u.host_str().is_none() => Some("URL has no host".into()),
        Ok(_) => None,
    }
}

/// What is wrong with an RPC URL, if anything. Also applied to URLs read from
/// files, where the message must not repeat the URL.
pub fn rpc_url_problem(raw: &str) -> Option<String> {
    match url::Url::parse(raw) {
        Err(e) => Some(format!("not a valid URL ({e})")),
        Ok(u) if !matches!(u.scheme(), "http" | "https") => Some(format!(
            "scheme must be http or https, not {:?}",
            u.scheme()
        )),
        Ok(u) if u.host_str().is_none() => Some("URL has no host".into()),
        Ok(_) => None,
    }
}

/// Providers put API keys in the user-info, the query or a long path segment.
pub fn url_has_credentials(raw: &str) -> bool {
    let Ok(u) = url::Url::parse(raw) else {
        return false;
    };
    !u.username().is_empty()
        || u.password().is_some()
        || u.query().is_some()
        || u.path_segments()
            .into_iter()
            .flatten()
            .any(crate::telemetry::redact::looks_like_key)
}

impl Validate for DaoConfig {
    fn validate(&self, path: &str, issues: &mut Issues) {
        if let Some(problem) = contract_address_problem(&self.address) {
            issues.push(field(path, "address"), problem);
        }
        if self.kind == DaoKind::Assetdao && self.start_block.is_some() {
            issues.push(
                field(path, "start_block"),
                "only used with kind: governor (AssetDAO ids are read with getProposalCount)",
            );
        }
    }
}

/// What is wrong with a contract address, if anything: not 20 hex bytes, the
/// zero address, or mixed case that fails its EIP-55 checksum (a typo in a
/// checksummed address). All-lower or all-upper case carries no checksum.
pub fn contract_address_problem(raw: &str) -> Option<String> {
    let Ok(address) = raw.parse::<alloy::primitives::Address>() else {
        return Some("must be a 0x-prefixed 20-byte hex address".into());
    };
    if address.is_zero() {
        return Some("is the zero address, which holds no contract".into());
    }
    let hex = raw.strip_prefix("0x").unwrap_or(raw);
    let mixed =
        hex.chars().any(|c| c.is_ascii_lowercase()) && hex.chars().any(|c| c.is_ascii_uppercase());
    let checksummed = address.to_checksum(None);
    if mixed && checksummed[2..] != *hex {
        return Some(format!(
            "fails its EIP-55 checksum (a mistyped character?); the checksummed form of these bytes is {checksummed}"
        ));
    }
    None
}

fn validate_nodes(nodes: &[NodeConfig], config: &Config, issues: &mut Issues) {
    let mut seen = BTreeSet::new();
    for (i, node) in nodes.iter().enumerate() {
        let p = index("nodes", i);
        if !is_label(&node.name) {
            issues.push(field(&p, "name"), LABEL_RULE);
        }
        if !seen.insert(node.name.as_str()) {
            issues.push(
                field(&p, "name"),
                format!("duplicate node name {:?}", node.name),
            );
        }
        crate::signer::validate_node(node, &p, issues);
        if !BUILTIN_STRATEGIES.contains(&node.strategy.as_str())
            && !config.strategies.contains_key(&node.strategy)
        {
            issues.push(
                field(&p, "strategy"),
                format!(
                    "unknown strategy {:?}: use conservative, aggressive or a name defined under strategies",
                    node.strategy
                ),
            );
        }
    }
}

impl Validate for crate::strategy::RulesStrategyConfig {
    /// The strategy compiler's own checks, so that a file accepted here
    /// always builds at start-up.
    fn validate(&self, path: &str, issues: &mut Issues) {
        for problem in crate::strategy::check_rules(self) {
            issues.push(field(path, &problem.path), problem.message);
        }
    }
}

impl Validate for ApiConfig {
    fn validate(&self, path: &str, issues: &mut Issues) {
        pick_source(
            path,
            "token",
            self.token_file.as_ref(),
            self.token_credential.as_ref(),
            false,
            issues,
        );
        for (i, origin) in self.allowed_origins.iter().enumerate() {
            if let Some(problem) = origin_problem(origin) {
                issues.push(index(&field(path, "allowed_origins"), i), problem);
            }
        }
        if self.rate_limit.per_second == 0 {
            issues.push(field(path, "rate_limit.per_second"), "must be at least 1");
        }
        if self.rate_limit.burst == 0 {
            issues.push(field(path, "rate_limit.burst"), "must be at least 1");
        }
        if self.max_body_bytes == 0 {
            issues.push(field(path, "max_body_bytes"), "must be at least 1");
        }
        if self.dloop_compat_open_on_loopback {
            let open = field(path, "dloop_compat_open_on_loopback");
            if !self.dloop_compat {
                issues.push(
                    open,
                    "has no effect without api.dloop_compat: true; remove it or enable compat mode",
                );
            } else if !self.listen.ip().is_loopback() {
                issues.push(
                    open,
                    format!(
                        "refused: api.listen is {}, not a loopback address, so anyone who can \
                         reach it could start rounds; keep the bearer token or listen on 127.0.0.1",
                        self.listen
                    ),
                );
            }
        }
    }
}

fn origin_problem(origin: &str) -> Option<String> {
    if origin == "*" {
        return Some("wildcard origins are not allowed; list each origin".into());
    }
    match url::Url::parse(origin) {
        Err(e) => Some(format!("not a valid origin ({e})")),
        Ok(u) if !matches!(u.scheme(), "http" | "https") => {
            Some("origin scheme must be http or https".into())
        }
        Ok(u) if u.path() != "/" || u.query().is_some() || origin.ends_with('/') => {
            Some("an origin is scheme://host[:port] with no path".into())
        }
        Ok(_) => None,
    }
}

impl Validate for RoundConfig {
    fn validate(&self, path: &str, issues: &mut Issues) {
        if self.deadline.is_zero() {
            issues.push(field(path, "deadline"), "must be greater than 0");
        }
        if self.concurrency == 0 {
            issues.push(field(path, "concurrency"), "must be at least 1");
        }
        if self.max_in_flight_per_wallet == 0 {
            issues.push(
                field(path, "max_in_flight_per_wallet"),
                "must be at least 1 (a wallet with no vote in flight never sends)",
            );
        }
        if !(1..=1000).contains(&self.batch_size) {
            issues.push(
                field(path, "batch_size"),
                "must be 1-1000 (1 sends every call on its own)",
            );
        }
        if self.receipt_poll.is_zero() {
            issues.push(field(path, "receipt_poll"), "must be greater than 0");
        }
        if self.new_proposal_poll.is_zero() {
            issues.push(field(path, "new_proposal_poll"), "must be greater than 0");
        }
        if self.bump_after_blocks == 0 {
            issues.push(field(path, "bump_after_blocks"), "must be at least 1");
        }
        if !(13..=500).contains(&self.fee_bump_percent) {
            issues.push(
                field(path, "fee_bump_percent"),
                "must be 13-500: nodes reject replacements under +10 %, some at exactly +10 %",
            );
        }
        if self.max_fee_per_gas.0.is_zero() {
            issues.push(
                field(path, "max_fee_per_gas"),
                "must be greater than 0 (no vote could be priced)",
            );
        }
        if self.max_priority_fee_per_gas > self.max_fee_per_gas {
            issues.push(
                field(path, "max_priority_fee_per_gas"),
                format!(
                    "{} is above round.max_fee_per_gas ({}); the tip is part of the fee",
                    self.max_priority_fee_per_gas, self.max_fee_per_gas
                ),
            );
        }
        if self.daily_spend_limit.0.is_zero() {
            issues.push(
                field(path, "daily_spend_limit"),
                "must be greater than 0 (no vote could be sent)",
            );
        }
    }
}

impl Validate for LogConfig {
    fn validate(&self, path: &str, issues: &mut Issues) {
        if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(&self.level) {
            issues.push(field(path, "level"), format!("invalid filter: {e}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_checks() {
        assert!(rpc_url_problem("http://127.0.0.1:8545").is_none());
        assert!(rpc_url_problem("ftp://x").unwrap().contains("scheme"));
        assert!(rpc_url_problem("nonsense").is_some());
        assert!(url_has_credentials("https://u:p@rpc.example"));
        assert!(url_has_credentials("https://rpc.example/?apikey=1"));
        assert!(url_has_credentials(
            "https://eth.example/v3/0123456789abcdef0123456789abcdef"
        ));
        assert!(!url_has_credentials("http://127.0.0.1:8545"));
    }

    #[test]
    fn contract_addresses() {
        let good = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
        assert_eq!(contract_address_problem(good), None);
        assert_eq!(contract_address_problem(&good.to_lowercase()), None);
        assert!(
            contract_address_problem("0x5FbDB2315678afecb367f032d93F642f64180aA3")
                .unwrap()
                .contains("EIP-55")
        );
        assert!(
            contract_address_problem("0x0000000000000000000000000000000000000000")
                .unwrap()
                .contains("zero")
        );
        assert!(contract_address_problem("0x12").is_some());
    }

    #[test]
    fn origins() {
        assert!(origin_problem("http://localhost:3000").is_none());
        assert!(origin_problem("*").is_some());
        assert!(origin_problem("http://x/path").is_some());
    }
}
