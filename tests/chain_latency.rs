//! A slow primary is left: with 2 s of latency on the priority-0 endpoint and
//! a healthy fallback, reads take about as long as on the fallback alone
//! (measured in the same test, not a fixed time), and
//! `govnode_rpc_failovers_total` counts the calls moved off the primary.

mod support;

use std::time::{Duration, Instant};

use alloy::primitives::Address;
use alloy::providers::Provider;
use support::anvil::Anvil;
use support::fault_proxy::{Fault, FaultProxy};
use support::{endpoint, metric_value, pool, rpc_config};

const DEV_ADDRESS: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const CALLS: usize = 40;

async fn timed_reads(p: &govnode::chain::Pool) -> Duration {
    let provider = p.provider();
    let dev: Address = DEV_ADDRESS.parse().unwrap();
    let started = Instant::now();
    for _ in 0..CALLS {
        provider.get_balance(dev).await.expect("read answered");
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_primary_is_left_for_a_fast_fallback() {
    let node = Anvil::start().await;
    let slow = FaultProxy::start(&node.url()).await;
    let fallback = FaultProxy::start(&node.url()).await;

    // The fallback on its own: what the reads cost without the slow primary.
    let (alone, _r) = pool(
        &rpc_config(vec![endpoint("fallback", 1)]),
        &[fallback.url()],
    );
    alone.probe_all().await;
    let baseline = timed_reads(&alone).await;

    slow.set_fault(Fault::Delay(Duration::from_secs(2)));
    let mut primary = endpoint("primary", 0);
    primary.timeout = Duration::from_secs(5);
    let rpc = rpc_config(vec![primary, endpoint("fallback", 1)]);
    let (both, registry) = pool(&rpc, &[slow.url(), fallback.url()]);
    both.probe_all().await;
    let with_slow_primary = timed_reads(&both).await;
    println!(
        "{CALLS} reads: fallback alone {baseline:?}, slow primary + fallback {with_slow_primary:?}"
    );
    assert!(
        with_slow_primary < baseline * 2 + Duration::from_millis(200),
        "{with_slow_primary:?} against {baseline:?} on the fallback alone"
    );
    let failovers = metric_value(&registry, "govnode_rpc_failovers_total", &[]);
    assert!(
        failovers >= CALLS as f64,
        "each read moved off the slow primary is a failover: {failovers}"
    );
    assert!(
        slow.count_method("eth_getBalance") <= 1,
        "the slow primary got at most the first read: {}",
        slow.count_method("eth_getBalance")
    );
    // The ranking as /health shows it: the fast fallback first, the primary marked slow.
    let snap = both.snapshot();
    let by_name = |name: &str| {
        snap.endpoints
            .iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("endpoint {name}"))
    };
    assert_eq!(by_name("fallback").rank, Some(1), "{snap:?}");
    assert_eq!(by_name("primary").rank, Some(2), "{snap:?}");
    assert!(
        by_name("primary").slow && !by_name("fallback").slow,
        "{snap:?}"
    );
}
