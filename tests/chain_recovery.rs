//! Recovery after every endpoint failed at once: while all breakers are open
//! a call waits (within its deadline) instead of failing at once, and the
//! moment the providers answer again a probe closes their breakers — long
//! before the cool-down, which grew during the outage, would have ended.

mod support;

use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use govnode::chain::EndpointState;
use support::anvil::Anvil;
use support::fault_proxy::{Fault, FaultProxy};
use support::{endpoint, pool, rpc_config, wait_until};
use tokio_util::sync::CancellationToken;

/// anvil's first default account (a public test value).
const DEV_ADDRESS: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const DEV_BALANCE_WEI: u128 = 10_000 * 10u128.pow(18);
const PROBE_INTERVAL: Duration = Duration::from_millis(500);
/// Far longer than the test: only a probe can close the breakers in time.
const COOLDOWN: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_endpoints_down_then_back_the_next_call_succeeds_within_a_probe_interval() {
    let node = Anvil::start().await;
    let a = FaultProxy::start(&node.url()).await;
    let b = FaultProxy::start(&node.url()).await;
    let mut rpc = rpc_config(vec![endpoint("a", 0), endpoint("b", 1)]);
    rpc.breaker.cooldown = COOLDOWN;
    rpc.breaker.max_cooldown = COOLDOWN * 4;
    rpc.probe.interval = PROBE_INTERVAL;
    rpc.retry.call_deadline = Duration::from_secs(15);
    let (pool, _registry) = pool(&rpc, &[a.url(), b.url()]);
    pool.probe_all().await;
    let stop = CancellationToken::new();
    pool.spawn_probers(stop.clone());
    let provider = pool.provider();
    let dev: Address = DEV_ADDRESS.parse().unwrap();

    // The outage: both answer 500 until both breakers are open.
    a.set_fault(Fault::Http500);
    b.set_fault(Fault::Http500);
    let both_open = wait_until(Duration::from_secs(10), || {
        let snap = pool.snapshot();
        snap.endpoints
            .iter()
            .all(|e| e.state == EndpointState::Open)
    });
    // Calls during the outage drive the breakers open as well.
    let _ = provider.get_block_number().await;
    assert!(both_open.await, "both breakers open: {:?}", pool.snapshot());

    // A call made while every breaker is open waits for the providers...
    let started = Instant::now();
    let call = tokio::spawn({
        let provider = provider.clone();
        async move {
            let r = provider.get_balance(dev).await;
            (r, Instant::now())
        }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        !call.is_finished(),
        "the call must wait while every breaker is open, not fail at once"
    );
    // ...which come back.
    let back = Instant::now();
    a.set_fault(Fault::PassThrough);
    b.set_fault(Fault::PassThrough);
    let (result, answered) = call.await.unwrap();
    let balance = result.unwrap_or_else(|e| panic!("call after the outage failed: {e}"));
    assert_eq!(balance, U256::from(DEV_BALANCE_WEI));
    let after_return = answered.duration_since(back);
    println!(
        "answered {:?} after the providers returned (call waited {:?}; probe interval {:?}, cool-down {:?})",
        after_return,
        answered.duration_since(started),
        PROBE_INTERVAL,
        COOLDOWN
    );
    // One probe interval plus the call's own round trip (a loaded CI box
    // gets a generous second for that); the cool-down would be 60 s.
    assert!(
        after_return < PROBE_INTERVAL + Duration::from_secs(1),
        "answered {after_return:?} after the return"
    );
    let snap = pool.snapshot();
    assert!(
        snap.endpoints
            .iter()
            .any(|e| e.state == EndpointState::Closed),
        "a probe closed a breaker: {snap:?}"
    );
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_while_all_breakers_are_open_gives_up_at_its_deadline() {
    let node = Anvil::start().await;
    let a = FaultProxy::start(&node.url()).await;
    let mut rpc = rpc_config(vec![endpoint("a", 0)]);
    rpc.breaker.cooldown = COOLDOWN;
    rpc.breaker.max_cooldown = COOLDOWN;
    rpc.probe.interval = PROBE_INTERVAL;
    rpc.retry.call_deadline = Duration::from_secs(2);
    let (pool, _registry) = pool(&rpc, &[a.url()]);
    pool.probe_all().await;
    let stop = CancellationToken::new();
    pool.spawn_probers(stop.clone());
    a.set_fault(Fault::Http500);
    let provider = pool.provider();
    let started = Instant::now();
    let first = provider.get_block_number().await;
    assert!(first.is_err());
    assert_eq!(pool.snapshot().endpoints[0].state, EndpointState::Open);
    let waited = provider.get_block_number().await;
    let err = waited.expect_err("still down").to_string();
    // Bounded: the call deadline, not the 60 s cool-down.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(
        err.contains("no healthy") || err.contains("deadline"),
        "{err}"
    );
    stop.cancel();
}
