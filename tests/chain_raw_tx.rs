//! `eth_sendRawTransaction` through the pool against real anvil nodes: the
//! same signed bytes re-sent after a lost answer, or after they were mined,
//! count as sent (with the hash of those bytes); a different transaction
//! that lost the nonce race is refused unchanged.

mod support;

use std::time::Duration;

use alloy::eips::eip2718::Encodable2718;
use alloy::network::{Ethereum, EthereumWallet, NetworkTransactionBuilder, TransactionBuilder};
use alloy::primitives::{Address, U256, keccak256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::transports::RpcError;
use support::anvil::{Anvil, AnvilOptions};
use support::fault_proxy::{Fault, FaultProxy};
use support::{endpoint, metric_value, pool, rpc_config};

/// anvil's first default account and its key (public test values).
const DEV_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const DEV_ADDRESS: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

fn requests(registry: &prometheus::Registry, labels: &[(&str, &str)]) -> f64 {
    metric_value(registry, "govnode_rpc_requests_total", labels)
}

async fn signed_transfer(nonce: u64, value: u64) -> Vec<u8> {
    let signer: PrivateKeySigner = DEV_KEY.parse().unwrap();
    let wallet = EthereumWallet::from(signer.clone());
    let tx = TransactionRequest::default()
        .with_from(signer.address())
        .with_to(Address::with_last_byte(0x42))
        .with_value(U256::from(value))
        .with_nonce(nonce)
        .with_chain_id(31337)
        .with_gas_limit(21_000)
        .with_max_fee_per_gas(20_000_000_000)
        .with_max_priority_fee_per_gas(1_000_000_000);
    <TransactionRequest as NetworkTransactionBuilder<Ethereum>>::build(tx, &wallet)
        .await
        .unwrap()
        .encoded_2718()
}

fn raw_tx_requests(registry: &prometheus::Registry, ep: &str, method: &str, outcome: &str) -> f64 {
    requests(
        registry,
        &[("endpoint", ep), ("method", method), ("outcome", outcome)],
    )
}

/// The first endpoint takes the transaction but its answer is lost; the pool
/// re-sends the same bytes to the second one, which answers "already known":
/// that means sent.
#[tokio::test]
async fn a_raw_transaction_resent_after_a_lost_answer_counts_as_sent() {
    let node = Anvil::start_with(AnvilOptions {
        no_mining: true,
        ..AnvilOptions::default()
    })
    .await;
    let proxy = FaultProxy::start(&node.url()).await;
    let rpc = rpc_config(vec![endpoint("lossy", 0), endpoint("steady", 1)]);
    let (pool, registry) = pool(&rpc, &[proxy.url(), node.url()]);
    pool.probe_all().await;
    proxy.queue_faults([Fault::LoseAnswer]);

    let raw = signed_transfer(0, 1).await;
    let pending = pool.provider().send_raw_transaction(&raw).await.unwrap();
    assert_eq!(*pending.tx_hash(), keccak256(&raw));
    assert_eq!(proxy.count_method("eth_sendRawTransaction"), 1);
    let send = "eth_sendRawTransaction";
    assert_eq!(raw_tx_requests(&registry, "lossy", send, "transport"), 1.0);
    assert_eq!(raw_tx_requests(&registry, "steady", send, "rpc_error"), 1.0);
    // "already known" is about these very bytes: no look-up needed.
    assert_eq!(
        requests(&registry, &[("method", "eth_getTransactionByHash")]),
        0.0
    );

    node.rpc("evm_mine", serde_json::json!([])).await;
    let receipt = pool
        .provider()
        .get_transaction_receipt(keccak256(&raw))
        .await
        .unwrap()
        .expect("mined");
    assert!(receipt.status());
    let nonce = node
        .rpc(
            "eth_getTransactionCount",
            serde_json::json!([DEV_ADDRESS, "latest"]),
        )
        .await;
    assert_eq!(nonce, "0x1", "exactly one transaction was mined");
}

/// Re-sending bytes that are mined already (a restart re-sends what the
/// ledger holds) gives "nonce too low"; the pool finds our hash on the node
/// and answers "sent". A *different* transaction with that nonce is refused
/// unchanged.
#[tokio::test]
async fn nonce_too_low_counts_as_sent_only_for_our_own_mined_hash() {
    let node = Anvil::start().await;
    let rpc = rpc_config(vec![endpoint("only", 0)]);
    let (pool, registry) = pool(&rpc, &[node.url()]);
    let raw = signed_transfer(0, 1).await;
    let hash = node
        .rpc(
            "eth_sendRawTransaction",
            serde_json::json!([alloy::primitives::hex::encode_prefixed(&raw)]),
        )
        .await;
    assert_eq!(hash, keccak256(&raw).to_string());
    // anvil may answer before its automine block is in: wait for the receipt.
    let start = std::time::Instant::now();
    while node
        .rpc("eth_getTransactionReceipt", serde_json::json!([hash]))
        .await
        .is_null()
    {
        assert!(start.elapsed() < Duration::from_secs(10), "not mined");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let again = pool.provider().send_raw_transaction(&raw).await.unwrap();
    assert_eq!(*again.tx_hash(), keccak256(&raw));
    let lookup = "eth_getTransactionByHash";
    assert_eq!(raw_tx_requests(&registry, "only", lookup, "ok"), 1.0);

    let other = signed_transfer(0, 2).await;
    let refused = pool.provider().send_raw_transaction(&other).await;
    match refused {
        Err(RpcError::ErrorResp(e)) => {
            assert!(e.message.to_lowercase().contains("nonce"), "{e}")
        }
        other => panic!(
            "expected the node's refusal, got {:?}",
            other.map(|p| *p.tx_hash())
        ),
    }
    assert_eq!(raw_tx_requests(&registry, "only", lookup, "ok"), 2.0);
}

/// A sent transaction reaches every healthy endpoint, not only the one that
/// answered: a provider that drops it does not decide whether it is mined.
#[tokio::test]
async fn a_sent_transaction_is_copied_to_every_healthy_endpoint() {
    let node = Anvil::start_with(AnvilOptions {
        no_mining: true,
        ..AnvilOptions::default()
    })
    .await;
    let first = FaultProxy::start(&node.url()).await;
    let second = FaultProxy::start(&node.url()).await;
    let rpc = rpc_config(vec![endpoint("first", 0), endpoint("second", 1)]);
    let (pool, registry) = pool(&rpc, &[first.url(), second.url()]);
    pool.probe_all().await;

    let raw = signed_transfer(0, 1).await;
    let pending = pool.provider().send_raw_transaction(&raw).await.unwrap();
    assert_eq!(*pending.tx_hash(), keccak256(&raw));
    let copied = support::wait_until(Duration::from_secs(5), || {
        second.count_method("eth_sendRawTransaction") == 1
    })
    .await;
    assert!(copied, "the second endpoint got the copy");
    assert_eq!(first.count_method("eth_sendRawTransaction"), 1);
    // The copy meets the same node: "already known", an error answer, not a failure.
    let send = "eth_sendRawTransaction";
    assert!(
        support::wait_until(Duration::from_secs(5), || raw_tx_requests(
            &registry,
            "second",
            send,
            "rpc_error"
        ) == 1.0)
        .await
    );
    assert_eq!(
        pool.snapshot().endpoint("second").unwrap().failed,
        0,
        "a copy's refusal does not count against the endpoint"
    );
}

/// A send is hedged like a read: the primary answers only after 2 s, so the
/// fallback gets the same bytes once the primary has not answered within its
/// usual latency. Every transfer is answered before the primary's delay
/// could have passed, each is mined once, the moves count as failovers, and
/// the primary's cancelled requests teach the ranking that it is slow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_on_a_slow_primary_is_hedged_to_the_fallback() {
    const SENDS: u64 = 5;
    let node = Anvil::start().await;
    let slow = FaultProxy::start(&node.url()).await;
    let fallback = FaultProxy::start(&node.url()).await;
    let mut primary = endpoint("primary", 0);
    primary.timeout = Duration::from_secs(5);
    let rpc = rpc_config(vec![primary, endpoint("fallback", 1)]);
    let (pool, registry) = pool(&rpc, &[slow.url(), fallback.url()]);
    // Both fast while probed: the primary's median says it is fast.
    pool.probe_all().await;
    slow.set_fault(Fault::Delay(Duration::from_secs(2)));

    let provider = pool.provider();
    for nonce in 0..SENDS {
        let raw = signed_transfer(nonce, 1).await;
        let started = std::time::Instant::now();
        let pending = provider.send_raw_transaction(&raw).await.unwrap();
        let took = started.elapsed();
        assert_eq!(*pending.tx_hash(), keccak256(&raw));
        assert!(
            took < Duration::from_secs(2),
            "send {nonce} waited for the slow primary: {took:?}"
        );
    }
    assert!(
        fallback.count_method("eth_sendRawTransaction") >= SENDS as usize,
        "the fallback got every send: {}",
        fallback.count_method("eth_sendRawTransaction")
    );
    let dev: Address = DEV_ADDRESS.parse().unwrap();
    let direct = alloy::providers::ProviderBuilder::new().connect_http(node.url().parse().unwrap());
    assert_eq!(
        direct.get_transaction_count(dev).await.unwrap(),
        SENDS,
        "each transfer mined once"
    );
    let failovers = metric_value(&registry, "govnode_rpc_failovers_total", &[]);
    assert!(
        failovers >= 1.0,
        "a hedge that wins is a failover: {failovers}"
    );
    let snap = pool.snapshot();
    assert!(
        snap.endpoint("primary").unwrap().slow,
        "the cancelled requests mark the primary slow: {snap:?}"
    );
}
