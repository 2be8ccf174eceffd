//! docs/configuration.md documents every option. The list of options is read
//! from the schema itself (serde's "expected one of" for an unknown key), so a
//! new field without documentation fails here.

use govnode::config::*;
use govnode::strategy::{RuleConfig, RuleMatch, RuleOutcome, RulesStrategyConfig};
use serde::de::DeserializeOwned;

fn fields<T: DeserializeOwned>() -> Vec<String> {
    let err = match serde_norway::from_str::<T>("__probe__: 1") {
        Ok(_) => panic!("probe key accepted: is deny_unknown_fields missing?"),
        Err(e) => e.to_string(),
    };
    let list = err
        .split_once("expected one of ")
        .or_else(|| err.split_once("expected "))
        .map(|(_, rest)| rest)
        .unwrap_or_else(|| panic!("unexpected serde message: {err}"));
    list.replace(" or ", ",")
        .split(',')
        .map(|s| s.trim().trim_matches('`').to_owned())
        .filter(|s| !s.is_empty() && !s.contains(' '))
        .collect()
}

#[test]
fn every_option_is_documented() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/configuration.md"
    ))
    .expect("docs/configuration.md");
    let sections: Vec<(&str, Vec<String>)> = vec![
        ("chain", fields::<ChainConfig>()),
        ("rpc", fields::<RpcConfig>()),
        ("rpc.endpoints[]", fields::<EndpointConfig>()),
        ("rpc.breaker", fields::<BreakerConfig>()),
        ("rpc.retry", fields::<RetryConfig>()),
        ("rpc.probe", fields::<ProbeConfig>()),
        ("dao", fields::<DaoConfig>()),
        ("chains[]", fields::<ChainEntry>()),
        ("daos[]", fields::<DaoEntry>()),
        ("daos[].voters[]", fields::<VoterEntry>()),
        ("nodes[]", fields::<NodeConfig>()),
        ("strategies.<name>", fields::<RulesStrategyConfig>()),
        ("strategies.<name>.rules[]", fields::<RuleConfig>()),
        ("strategies.<name>.rules[].match", fields::<RuleMatch>()),
        ("strategies.<name>.default", fields::<RuleOutcome>()),
        ("api", fields::<ApiConfig>()),
        ("api.rate_limit", fields::<RateLimitConfig>()),
        ("control", fields::<ControlConfig>()),
        ("ledger", fields::<LedgerConfig>()),
        ("round", fields::<RoundConfig>()),
        ("log", fields::<LogConfig>()),
        ("shutdown", fields::<ShutdownConfig>()),
        ("watchdog", fields::<WatchdogConfig>()),
        ("webhooks[]", fields::<WebhookConfig>()),
        ("ha", fields::<HaConfig>()),
    ];
    let top = fields::<Config>();
    let mut missing = Vec::new();
    for section in &top {
        if !doc.contains(&format!("### `{section}`")) {
            missing.push(format!("section {section}"));
        }
    }
    let mut count = 0;
    for (prefix, keys) in &sections {
        assert!(!keys.is_empty(), "no fields found for {prefix}");
        for key in keys {
            count += 1;
            let path = format!("`{prefix}.{key}`");
            let nested = format!("`{prefix}.{key}.");
            if !doc.contains(&path) && !doc.contains(&nested) {
                missing.push(path);
            }
        }
    }
    assert!(count > 60, "the probe found too few options ({count})");
    assert!(
        missing.is_empty(),
        "undocumented in docs/configuration.md: {missing:?}"
    );
}
