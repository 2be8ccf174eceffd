//! The pool's probes against real anvil nodes: a wrong-chain endpoint is
//! quarantined and never used (also before the first probe), a lagging one
//! is a last resort, and the `rpc` health component says which endpoint is
//! unhealthy and why — without showing a URL credential.

mod support;

use std::time::Duration;

use alloy::providers::Provider;
use govnode::chain::{EndpointState, PoolError};
use govnode::service::Status;
use support::anvil::{Anvil, free_port};
use support::fault_proxy::{Fault, FaultProxy};
use support::{endpoint, metric_value, pool, rpc_config, wait_until};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_chain_endpoint_is_quarantined_never_used_and_released_when_right() {
    let good = Anvil::start().await;
    let other = Anvil::start().await;
    let liar = FaultProxy::start(&other.url()).await;
    liar.set_fault(Fault::WrongChain(1));
    // The liar is preferred by priority: only the chain check keeps calls away.
    let rpc = rpc_config(vec![endpoint("liar", 0), endpoint("good", 1)]);
    let (pool, registry) = pool(&rpc, &[liar.url(), good.url()]);
    let provider = pool.provider();

    // Before any probe ran, the first use checks the chain id inline.
    assert_eq!(provider.get_block_number().await.unwrap(), 0);
    assert_eq!(
        liar.methods().keys().collect::<Vec<_>>(),
        vec!["eth_chainId"]
    );

    let stop = CancellationToken::new();
    pool.spawn_probers(stop.clone());
    for _ in 0..20 {
        provider.get_block_number().await.unwrap();
    }
    // Let a few probe rounds pass too: they ask the liar for its chain id only.
    let probed = wait_until(Duration::from_secs(10), || {
        liar.count_method("eth_chainId") >= 4
    })
    .await;
    assert!(probed);
    assert_eq!(
        liar.methods().keys().collect::<Vec<_>>(),
        vec!["eth_chainId"],
        "a quarantined endpoint gets probes only"
    );

    let snap = pool.snapshot();
    let l = snap.endpoint("liar").unwrap();
    assert_eq!(l.state, EndpointState::Quarantined);
    assert_eq!(l.reported_chain_id, Some(1));
    assert!(!l.healthy);
    assert_eq!(l.last_error, Some("wrong_chain"));
    assert_eq!(
        metric_value(
            &registry,
            "govnode_rpc_endpoint_state",
            &[("endpoint", "liar"), ("state", "quarantined")]
        ),
        1.0
    );

    let report = pool.health_component().report();
    assert_eq!(report.status, Status::Degraded);
    assert!(report.ready, "one healthy endpoint is enough to be ready");
    assert!(
        report
            .reasons
            .iter()
            .any(|r| r.contains("liar") && r.contains("quarantined") && r.contains("chain id 1")),
        "{:?}",
        report.reasons
    );
    let detail = &report.detail["endpoints"];
    assert_eq!(detail[0]["name"], "liar");
    assert_eq!(detail[0]["state"], "quarantined");
    assert_eq!(detail[1]["state"], "closed");

    // The provider fixes its chain: the next probe lifts the quarantine and
    // the preferred endpoint takes calls again.
    liar.set_fault(Fault::PassThrough);
    let released = wait_until(Duration::from_secs(10), || {
        pool.snapshot().endpoint("liar").unwrap().healthy
    })
    .await;
    assert!(released, "{:?}", pool.snapshot());
    provider.get_block_number().await.unwrap();
    assert!(liar.count_method("eth_blockNumber") >= 1);
    assert_eq!(pool.health_component().report().status, Status::Up);
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_endpoint_is_unhealthy_and_only_a_last_resort() {
    let behind = Anvil::start().await;
    let ahead = Anvil::start().await;
    ahead.mine(10).await;
    let rpc = rpc_config(vec![endpoint("behind", 0), endpoint("ahead", 1)]);
    let (pool, registry) = pool(&rpc, &[behind.url(), ahead.url()]);
    pool.probe_all().await;

    let snap = pool.snapshot();
    let b = snap.endpoint("behind").unwrap();
    assert_eq!((b.head_block, b.lag, b.healthy), (Some(0), Some(10), false));
    assert_eq!(snap.best_head, Some(10));
    assert_eq!(
        metric_value(
            &registry,
            "govnode_rpc_head_block",
            &[("endpoint", "ahead")]
        ),
        10.0
    );
    let report = pool.health_component().report();
    assert!(
        report
            .reasons
            .iter()
            .any(|r| r.contains("behind") && r.contains("10 block(s) behind")),
        "{:?}",
        report.reasons
    );

    let provider = pool.provider();
    for _ in 0..5 {
        assert_eq!(provider.get_block_number().await.unwrap(), 10);
    }
    let calls = |ep: &str| {
        metric_value(
            &registry,
            "govnode_rpc_requests_total",
            &[
                ("endpoint", ep),
                ("method", "eth_blockNumber"),
                ("outcome", "ok"),
            ],
        )
    };
    // One probe each; the five calls all went to the endpoint that is ahead.
    assert_eq!(calls("behind"), 1.0);
    assert_eq!(calls("ahead"), 6.0);
}

#[tokio::test]
async fn with_no_healthy_endpoint_the_pool_is_not_ready_and_says_why_without_secrets() {
    const KEY: &str = "0123456789abcdef0123";
    let url = format!("http://127.0.0.1:{}/key/{KEY}", free_port());
    let rpc = rpc_config(vec![endpoint("gone", 0)]);
    let (pool, _registry) = pool(&rpc, &[url]);

    let report = pool.health_component().report();
    assert!(!report.ready);
    assert!(
        report
            .reasons
            .iter()
            .any(|r| r.contains("first probe pending")),
        "{:?}",
        report.reasons
    );

    pool.probe_all().await;
    let err = pool.provider().get_block_number().await.unwrap_err();
    let pool_err = PoolError::from_transport(&err).expect("a pool error");
    let text = pool_err.to_string();
    assert!(text.contains("gone"), "{text}");
    assert!(text.contains("connect"), "{text}");
    assert!(!text.contains(KEY), "{text}");

    let report = pool.health_component().report();
    assert_eq!(report.status, Status::Down);
    assert!(!report.ready);
    assert!(
        report.reasons[0].contains("no healthy RPC endpoint"),
        "{:?}",
        report.reasons
    );
    let body = serde_json::to_string(&report).unwrap();
    assert!(body.contains("/key/***"), "{body}");
    assert!(!body.contains(KEY), "{body}");
}
