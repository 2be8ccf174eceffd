//! Signing cost per vote for each signer backend: `key`, `keystore` (once
//! unlocked; the unlock itself is printed apart), `pkcs11` on SoftHSM2 and
//! `web3signer` against the stand-in server of the tests (HTTP, and HTTPS
//! with a client certificate) on 127.0.0.1.
//! Each backend signs the same EIP-1559 `vote(id, true)` transaction with
//! consecutive nonces; the figure is the mean and median wall time of one
//! signature. Not a test: it prints (see docs/benchmarks.md).
//!
//! cargo bench --features failpoints --bench signers [-- VOTES]

#[allow(dead_code)]
#[path = "../../tests/support/softhsm.rs"]
mod softhsm;
#[path = "../../tests/support/web3signer_standin.rs"]
mod web3signer_standin;

use std::time::{Duration, Instant};

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use govnode::signer::pkcs11::Pkcs11Signer;
use govnode::signer::web3signer::{Web3Signer, Web3SignerTls};
use govnode::signer::{LocalKeySigner, Signer, keystore};

fn vote(nonce: u64) -> TransactionRequest {
    // AssetDAO's vote(uint256,bool) selector and arguments: the bytes a real vote signs.
    let mut data = alloy::hex::decode("c9d27afe").expect("selector");
    data.extend_from_slice(&B256::with_last_byte(7).0);
    data.extend_from_slice(&B256::with_last_byte(1).0);
    TransactionRequest::default()
        .with_to(Address::repeat_byte(0x5f))
        .with_input(Bytes::from(data))
        .with_nonce(nonce)
        .with_chain_id(31337)
        .with_gas_limit(120_000)
        .with_max_fee_per_gas(2_000_000_000)
        .with_max_priority_fee_per_gas(1_000_000_000)
}

async fn measure(signer: &dyn Signer, votes: u64) -> (Duration, Duration) {
    // One signature first, so lazy set-up is not counted.
    signer.sign_transaction(vote(0)).await.expect("sign");
    let mut each = Vec::with_capacity(votes as usize);
    for nonce in 1..=votes {
        let start = Instant::now();
        signer.sign_transaction(vote(nonce)).await.expect("sign");
        each.push(start.elapsed());
    }
    each.sort();
    let mean = each.iter().sum::<Duration>() / votes as u32;
    (mean, each[each.len() / 2])
}

fn row(backend: &str, (mean, median): (Duration, Duration), note: &str) {
    println!(
        "| {backend} | {:.1} | {:.1} | {note} |",
        mean.as_secs_f64() * 1e6,
        median.as_secs_f64() * 1e6
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let votes: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(500);
    let key = PrivateKeySigner::random();
    println!("signing cost per vote, {votes} votes per backend (µs)\n");
    println!("| backend | mean | median | note |");
    println!("|---|---|---|---|");

    row(
        "key",
        measure(&LocalKeySigner::new("key", key.clone()), votes).await,
        "in memory",
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let path =
        keystore::write(dir.path(), "bench.json", &key, b"bench-password").expect("keystore");
    let start = Instant::now();
    let unlocked = keystore::unlock(&path, b"bench-password").expect("unlock");
    let unlock = start.elapsed();
    row(
        "keystore",
        measure(&LocalKeySigner::new("keystore", unlocked), votes).await,
        &format!(
            "once unlocked; the unlock (scrypt n=8192) took {:.1} ms at start",
            unlock.as_secs_f64() * 1e3
        ),
    );

    let standin = web3signer_standin::StandIn::start(key.clone()).await;
    let timeout = Duration::from_secs(5);
    let remote = Web3Signer::new(
        &standin.url,
        key.address(),
        timeout,
        Web3SignerTls::default(),
    )
    .expect("web3signer client");
    row(
        "web3signer",
        measure(&remote, votes).await,
        "the tests' stand-in over HTTP on 127.0.0.1: one JSON-RPC round trip, the answer checked against the request",
    );
    let (tls_standin, files) =
        web3signer_standin::StandIn::start_tls(key.clone(), dir.path()).await;
    let mut identity = std::fs::read(&files.client_cert).expect("client cert");
    identity.extend(std::fs::read(&files.client_key).expect("client key"));
    let remote_tls = Web3Signer::new(
        &tls_standin.url,
        key.address(),
        timeout,
        Web3SignerTls {
            ca_pem: Some(std::fs::read(&files.ca).expect("ca")),
            identity_pem: Some(identity),
        },
    )
    .expect("web3signer client");
    row(
        "web3signer (HTTPS)",
        measure(&remote_tls, votes).await,
        "the same over HTTPS with a client certificate (connection kept alive)",
    );

    if std::path::Path::new(softhsm::MODULE).exists() {
        let hsm = softhsm::SoftHsm::new();
        hsm.import("bench", key.to_bytes());
        let signer = Pkcs11Signer::open(
            softhsm::MODULE.as_ref(),
            softhsm::TOKEN,
            "bench",
            softhsm::PIN,
        )
        .expect("open token");
        row(
            "pkcs11",
            measure(&signer, votes).await,
            "SoftHSM2 (software token), low-s normalisation and recovery-id search included",
        );
    } else {
        println!(
            "| pkcs11 | — | — | {} missing: apt-get install softhsm2 |",
            softhsm::MODULE
        );
    }
}
