//! The RPC pool under alloy against real anvil nodes and real faults: calls
//! survive a killed primary and every fault mode by failing over, breakers
//! open and close again, error answers are not retried, batches fail over
//! whole, and `max_rps` holds.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use alloy::primitives::{Address, U64, U256};
use alloy::providers::Provider;
use alloy::transports::RpcError;
use govnode::chain::EndpointState;
use support::anvil::Anvil;
use support::fault_proxy::{Fault, FaultProxy};
use support::{endpoint, metric_value, pool, rpc_config, wait_until};
use tokio_util::sync::CancellationToken;

/// anvil's first default account (a public test value).
const DEV_ADDRESS: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const DEV_BALANCE_WEI: u128 = 10_000 * 10u128.pow(18);

fn dev_address() -> Address {
    DEV_ADDRESS.parse().unwrap()
}

fn requests(registry: &prometheus::Registry, labels: &[(&str, &str)]) -> f64 {
    metric_value(registry, "govnode_rpc_requests_total", labels)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primary_killed_mid_burst_fails_over_and_its_breaker_opens_then_closes() {
    let mut primary = Anvil::start().await;
    let secondary = Anvil::start().await;
    let rpc = rpc_config(vec![endpoint("primary", 0), endpoint("secondary", 1)]);
    let (pool, registry) = pool(&rpc, &[primary.url(), secondary.url()]);
    let stop = CancellationToken::new();
    pool.spawn_probers(stop.clone());
    let provider = pool.provider();

    const TASKS: usize = 16;
    const CALLS_PER_TASK: usize = 25;
    const KILL_AFTER: usize = 100;
    let done = Arc::new(AtomicUsize::new(0));
    let (kill_tx, kill_rx) = tokio::sync::oneshot::channel::<()>();
    let kill_tx = Arc::new(std::sync::Mutex::new(Some(kill_tx)));
    // Calls already in flight race with the kill; calls not yet started wait
    // for it, so the rest of the burst surely meets a dead primary.
    let (killed_tx, killed_rx) = tokio::sync::watch::channel(false);
    let mut burst = tokio::task::JoinSet::new();
    for _ in 0..TASKS {
        let (provider, done, kill_tx) = (provider.clone(), done.clone(), kill_tx.clone());
        let mut killed = killed_rx.clone();
        burst.spawn(async move {
            let mut results = Vec::new();
            for _ in 0..CALLS_PER_TASK {
                if done.load(Ordering::SeqCst) >= KILL_AFTER {
                    let _ = killed.wait_for(|k| *k).await;
                }
                results.push(provider.get_balance(dev_address()).await);
                if done.fetch_add(1, Ordering::SeqCst) + 1 == KILL_AFTER
                    && let Some(tx) = kill_tx.lock().unwrap().take()
                {
                    let _ = tx.send(());
                }
            }
            results
        });
    }
    kill_rx.await.unwrap();
    primary.kill();
    let killed_at = done.load(Ordering::SeqCst);
    killed_tx.send(true).unwrap();
    let mut failures = Vec::new();
    let mut answered = 0;
    while let Some(results) = burst.join_next().await {
        for r in results.unwrap() {
            match r {
                Ok(balance) => {
                    assert_eq!(balance, U256::from(DEV_BALANCE_WEI));
                    answered += 1;
                }
                Err(e) => failures.push(e.to_string()),
            }
        }
    }
    assert!(failures.is_empty(), "calls failed: {failures:#?}");
    assert_eq!(answered, TASKS * CALLS_PER_TASK);
    assert!(
        killed_at < TASKS * CALLS_PER_TASK,
        "the kill must land inside the burst"
    );

    // The primary served the start of the burst, the secondary the rest.
    let on = |ep: &str| {
        requests(
            &registry,
            &[
                ("endpoint", ep),
                ("method", "eth_getBalance"),
                ("outcome", "ok"),
            ],
        )
    };
    assert!(on("primary") >= 1.0, "primary answered nothing");
    assert!(on("secondary") >= 1.0, "secondary answered nothing");
    assert!(metric_value(&registry, "govnode_rpc_failovers_total", &[]) >= 1.0);
    eprintln!(
        "killed after {killed_at} calls; answers: primary {}, secondary {}; failovers {}",
        on("primary"),
        on("secondary"),
        metric_value(&registry, "govnode_rpc_failovers_total", &[])
    );

    let snap = pool.snapshot();
    let p = snap.endpoint("primary").unwrap();
    assert_ne!(p.state, EndpointState::Closed, "{p:?}");
    assert!(p.breaker_opens >= 1, "{p:?}");
    assert!(!p.healthy);
    assert!(snap.endpoint("secondary").unwrap().healthy);

    // Back on the same port: a probe after the cool-down closes the breaker.
    primary.restart().await;
    let closed = wait_until(Duration::from_secs(15), || {
        let s = pool.snapshot();
        let p = s.endpoint("primary").unwrap();
        p.state == EndpointState::Closed && p.healthy
    })
    .await;
    assert!(closed, "primary did not recover: {:?}", pool.snapshot());
    assert_eq!(
        metric_value(
            &registry,
            "govnode_rpc_endpoint_state",
            &[("endpoint", "primary"), ("state", "closed")]
        ),
        1.0
    );
    let before = on("primary");
    for _ in 0..5 {
        provider.get_balance(dev_address()).await.unwrap();
    }
    assert_eq!(
        on("primary"),
        before + 5.0,
        "calls went back to the primary"
    );
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_mode_fails_over_and_is_counted() {
    let node = Anvil::start().await;
    let cases = [
        (Fault::Http429, "rate_limited"),
        (Fault::RpcRateLimit, "rate_limited"),
        (Fault::Http500, "http_5xx"),
        (Fault::Malformed, "malformed"),
        (Fault::Drop, "transport"),
        (Fault::Delay(Duration::from_secs(3)), "timeout"),
    ];
    for (fault, outcome) in cases {
        let proxy = FaultProxy::start(&node.url()).await;
        let mut flaky = endpoint("flaky", 0);
        flaky.timeout = Duration::from_millis(500);
        let rpc = rpc_config(vec![flaky, endpoint("steady", 1)]);
        let (pool, registry) = pool(&rpc, &[proxy.url(), node.url()]);
        pool.probe_all().await;
        proxy.set_fault(fault.clone());

        let balance = pool.provider().get_balance(dev_address()).await;
        let name = fault.name();
        assert_eq!(
            balance.unwrap_or_else(|e| panic!("{name}: {e}")),
            U256::from(DEV_BALANCE_WEI)
        );
        assert_eq!(proxy.count_method("eth_getBalance"), 1, "{name}");
        let counted = |ep: &str, outcome: &str| {
            requests(
                &registry,
                &[
                    ("endpoint", ep),
                    ("method", "eth_getBalance"),
                    ("outcome", outcome),
                ],
            )
        };
        // A slow answer is hedged: the steady endpoint answers first and the
        // flaky attempt is cancelled before it can time out.
        let hedged = matches!(fault, Fault::Delay(_));
        let expected = if hedged { 0.0 } else { 1.0 };
        assert_eq!(counted("flaky", outcome), expected, "{name}");
        assert_eq!(counted("steady", "ok"), 1.0, "{name}");
        assert_eq!(
            metric_value(&registry, "govnode_rpc_failovers_total", &[]),
            1.0,
            "{name}"
        );
        let flaky = pool.snapshot().endpoint("flaky").unwrap().clone();
        let expected = if hedged { None } else { Some(outcome) };
        assert_eq!(flaky.last_error, expected, "{name}");
    }
}

#[tokio::test]
async fn json_rpc_error_answers_are_returned_once_and_not_retried() {
    let node = Anvil::start().await;
    let proxy = FaultProxy::start(&node.url()).await;
    let rpc = rpc_config(vec![endpoint("only", 0)]);
    let (pool, registry) = pool(&rpc, &[proxy.url()]);
    pool.probe_all().await;
    let client = pool.client();

    let bad: Result<U256, _> = client
        .request("eth_getBalance", ("0xnot-an-address", "latest"))
        .await;
    assert!(matches!(bad, Err(RpcError::ErrorResp(_))), "{bad:?}");
    let garbage = pool
        .provider()
        .send_raw_transaction(&[0x02, 0x01, 0x02])
        .await;
    assert!(
        matches!(garbage, Err(RpcError::ErrorResp(_))),
        "{:?}",
        garbage.map(|p| *p.tx_hash())
    );

    assert_eq!(proxy.count_method("eth_getBalance"), 1);
    assert_eq!(proxy.count_method("eth_sendRawTransaction"), 1);
    assert_eq!(
        requests(&registry, &[("endpoint", "only"), ("outcome", "rpc_error")]),
        2.0
    );
    let only = pool.snapshot().endpoint("only").unwrap().clone();
    assert_eq!(only.state, EndpointState::Closed);
    assert_eq!(only.failed, 0, "answers are not endpoint failures");
}

#[tokio::test]
async fn a_call_that_must_not_run_twice_is_not_repeated_after_an_ambiguous_failure() {
    let node = Anvil::start().await;
    let proxy = FaultProxy::start(&node.url()).await;
    let rpc = rpc_config(vec![endpoint("lossy", 0), endpoint("steady", 1)]);
    let (pool, registry) = pool(&rpc, &[proxy.url(), node.url()]);
    pool.probe_all().await;
    let client = pool.client();
    let mines_on = |ep: &str| requests(&registry, &[("endpoint", ep), ("method", "evm_mine")]);

    // The node mined, the answer was lost: mining again elsewhere would mine twice.
    proxy.queue_faults([Fault::LoseAnswer]);
    let lost: Result<serde_json::Value, _> = client.request("evm_mine", ()).await;
    let err = lost.unwrap_err();
    let pool_err = govnode::chain::PoolError::from_transport(&err);
    assert!(
        matches!(
            pool_err,
            Some(govnode::chain::PoolError::MaybeExecuted { .. })
        ),
        "{err}"
    );
    assert_eq!(
        node.rpc("eth_blockNumber", serde_json::json!([])).await,
        "0x1"
    );
    assert_eq!(mines_on("steady"), 0.0);

    // A refusal proves nothing ran: that still fails over.
    proxy.queue_faults([Fault::Http429]);
    let _: serde_json::Value = client.request("evm_mine", ()).await.unwrap();
    assert_eq!(
        node.rpc("eth_blockNumber", serde_json::json!([])).await,
        "0x2"
    );
    assert_eq!(mines_on("steady"), 1.0);
}

#[tokio::test]
async fn a_batch_goes_to_one_endpoint_and_fails_over_whole() {
    let node = Anvil::start().await;
    let proxy = FaultProxy::start(&node.url()).await;
    let rpc = rpc_config(vec![endpoint("flaky", 0), endpoint("steady", 1)]);
    let (pool, registry) = pool(&rpc, &[proxy.url(), node.url()]);
    pool.probe_all().await;
    proxy.reset_counts();
    proxy.set_fault(Fault::Http500);

    let client = pool.client();
    let mut batch = client.new_batch();
    let chain_id = batch.add_call::<_, U64>("eth_chainId", &()).unwrap();
    let block = batch.add_call::<_, U64>("eth_blockNumber", &()).unwrap();
    let balance = batch
        .add_call::<_, U256>("eth_getBalance", &(dev_address(), "latest"))
        .unwrap();
    batch.send().await.unwrap();
    assert_eq!(chain_id.await.unwrap(), U64::from(31337));
    assert_eq!(block.await.unwrap(), U64::ZERO);
    assert_eq!(balance.await.unwrap(), U256::from(DEV_BALANCE_WEI));

    let seen = proxy.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].batch);
    assert_eq!(seen[0].methods.len(), 3);
    let batch_on = |ep: &str, outcome: &str| {
        requests(
            &registry,
            &[("endpoint", ep), ("method", "batch"), ("outcome", outcome)],
        )
    };
    assert_eq!(batch_on("flaky", "http_5xx"), 1.0);
    assert_eq!(batch_on("steady", "ok"), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_rps_holds_over_a_measured_window() {
    const RPS: u32 = 5;
    const BURST: u32 = 2;
    let node = Anvil::start().await;
    let proxy = FaultProxy::start(&node.url()).await;
    let mut limited = endpoint("limited", 0);
    limited.max_rps = RPS;
    limited.burst = BURST;
    let mut rpc = rpc_config(vec![limited]);
    rpc.retry.call_deadline = Duration::from_secs(30);
    rpc.probe.interval = Duration::from_secs(1);
    let (pool, _registry) = pool(&rpc, &[proxy.url()]);
    let stop = CancellationToken::new();
    pool.spawn_probers(stop.clone());

    let provider = pool.provider();
    let calls = (0..20).map(|_| {
        let p = provider.clone();
        async move { p.get_block_number().await }
    });
    for r in futures::future::join_all(calls).await {
        r.unwrap();
    }
    stop.cancel();

    // Probes share the limiter, so the proxy counts everything the pool sent.
    let seen = proxy.seen();
    assert!(seen.len() >= 20, "{} requests", seen.len());
    let peak = proxy.max_in_window(Duration::from_secs(1));
    assert!(
        peak <= (RPS + BURST) as usize,
        "{peak} requests within one second; limit {RPS}/s + burst {BURST}"
    );
    let span = seen.last().unwrap().at.duration_since(seen[0].at);
    eprintln!(
        "{} requests in {span:?}, at most {peak} within one second",
        seen.len()
    );
    let allowed = f64::from(BURST) + f64::from(RPS) * span.as_secs_f64() + 1.0;
    assert!(
        seen.len() as f64 <= allowed,
        "{} requests in {span:?}; at most {allowed:.1} allowed",
        seen.len()
    );
}
