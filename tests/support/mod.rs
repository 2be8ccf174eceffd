//! Shared helpers for integration tests: a real anvil, a fault-injecting
//! proxy, and reading values out of a Prometheus registry.
#![allow(dead_code)]

pub mod anvil;
pub mod fault_proxy;

/// The sum of the samples of `name` whose labels include `labels`, read
/// from the text exposition format; 0 when there is none. For a histogram,
/// pass `NAME_count`.
pub fn metric_value(registry: &prometheus::Registry, name: &str, labels: &[(&str, &str)]) -> f64 {
    let mut buf = Vec::new();
    prometheus::Encoder::encode(
        &prometheus::TextEncoder::new(),
        &registry.gather(),
        &mut buf,
    )
    .expect("encode metrics");
    let text = String::from_utf8(buf).expect("utf-8 metrics");
    let wanted: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            let series = l.split_whitespace().next().unwrap_or("");
            series == name || series.starts_with(&format!("{name}{{"))
        })
        .filter(|l| wanted.iter().all(|w| l.contains(w.as_str())))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Polls `check` every 50 ms until it returns true or `timeout` passes.
pub async fn wait_until(timeout: std::time::Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    loop {
        if check() {
            return true;
        }
        if start.elapsed() >= timeout {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// An endpoint named `name` with generous limits and a short timeout.
pub fn endpoint(name: &str, priority: u32) -> govnode::config::EndpointConfig {
    govnode::config::EndpointConfig {
        name: name.to_owned(),
        url: None,
        url_file: None,
        url_credential: None,
        ws_url: None,
        ws_url_file: None,
        ws_url_credential: None,
        priority,
        max_rps: 1000,
        burst: 1000,
        timeout: std::time::Duration::from_secs(2),
    }
}

/// RPC settings tuned for tests: quick breakers, probes and retries.
pub fn rpc_config(endpoints: Vec<govnode::config::EndpointConfig>) -> govnode::config::RpcConfig {
    use std::time::Duration;
    govnode::config::RpcConfig {
        endpoints,
        breaker: govnode::config::BreakerConfig {
            failure_threshold: 3,
            error_rate: 0.5,
            window: Duration::from_secs(60),
            min_requests: 20,
            cooldown: Duration::from_millis(500),
            max_cooldown: Duration::from_secs(2),
        },
        retry: govnode::config::RetryConfig {
            max_attempts: 4,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            call_deadline: Duration::from_secs(10),
        },
        probe: govnode::config::ProbeConfig {
            interval: Duration::from_millis(200),
            max_head_lag: 5,
        },
    }
}

/// A pool on chain 31337 over `urls` (in `rpc.endpoints` order), with its own registry.
pub fn pool(
    rpc: &govnode::config::RpcConfig,
    urls: &[String],
) -> (govnode::chain::Pool, prometheus::Registry) {
    let registry = prometheus::Registry::new();
    let secrets: Vec<govnode::config::Secret> =
        urls.iter().map(govnode::config::Secret::new).collect();
    let pool = govnode::chain::Pool::new(anvil::DEFAULT_CHAIN_ID, rpc, &secrets, &registry)
        .expect("pool builds");
    (pool, registry)
}
