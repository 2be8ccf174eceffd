//! The PKCS#11 signer against a real SoftHSM2 token: signatures come back
//! low-s and recover to the key's address; a node whose key lives in the
//! token votes a full round that anvil counts once per pair; a missing token
//! or key label exits 78 at start, naming the field and never the PIN.
//! One test in this file: SoftHSM's configuration is process-wide.

#[allow(dead_code)]
mod support {
    pub mod anvil;
    pub mod daemon;
    pub mod round_env;
    pub mod softhsm;
}

use alloy::eips::eip2718::Decodable2718;
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, U256};
use alloy::rpc::types::TransactionRequest;
use govnode::signer::Signer;
use govnode::signer::pkcs11::Pkcs11Signer;
use support::daemon::check_config;
use support::round_env::RoundEnv;
use support::softhsm::{MODULE, PIN, SoftHsm, TOKEN};

const LABEL: &str = "node-1-key";

fn request(nonce: u64) -> TransactionRequest {
    TransactionRequest::default()
        .with_to(Address::repeat_byte(0x11))
        .with_value(U256::from(nonce))
        .with_nonce(nonce)
        .with_chain_id(31337)
        .with_gas_limit(21_000)
        .with_max_fee_per_gas(2_000_000_000)
        .with_max_priority_fee_per_gas(1_000_000_000)
}

#[tokio::test(flavor = "multi_thread")]
async fn hsm_key_signs_low_s_votes_that_anvil_counts_once() {
    let env = RoundEnv::new(4, 2).await;
    let dir = env.dir.path();
    let name = env.node_name(0);
    let key: B256 = env.node_key(0).to_bytes();
    let hsm = SoftHsm::new();
    hsm.import(LABEL, key);
    let expected = env.node_addresses()[0];

    // In-process: the address comes from the token's public key, and every
    // signature is low-s and recovers to it.
    let signer = Pkcs11Signer::open(MODULE.as_ref(), TOKEN, LABEL, PIN).expect("open token");
    assert_eq!(signer.address(), expected);
    let half_n = U256::from_str_radix(
        "7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0",
        16,
    )
    .unwrap();
    for nonce in 0..16 {
        let signed = signer.sign_transaction(request(nonce)).await.expect("sign");
        let tx =
            alloy::consensus::TxEnvelope::decode_2718(&mut signed.raw.as_ref()).expect("decodes");
        let sig = tx.signature();
        assert!(sig.s() <= half_n, "high s at nonce {nonce}");
        let prehash = tx.as_eip1559().expect("an EIP-1559 vote").signature_hash();
        assert_eq!(
            sig.recover_address_from_prehash(&prehash)
                .expect("recovers"),
            expected
        );
        assert_eq!(*tx.tx_hash(), signed.hash);
    }
    drop(signer);

    let pin_file = dir.join("hsm-pin");
    std::fs::write(&pin_file, PIN).unwrap();
    let old = format!("  - name: {name}\n    key_file: keys/{name}\n");
    let config = std::fs::read_to_string(env.config()).unwrap();
    assert!(config.contains(&old));
    let with_hsm = |token: &str, label: &str| {
        config.replace(
            &old,
            &format!(
                "  - name: {name}\n    signer:\n      kind: pkcs11\n      module: {MODULE}\n      token_label: {token}\n      key_label: {label}\n      pin_file: {}\n",
                pin_file.display()
            ),
        )
    };
    let conf = hsm.conf.to_str().unwrap().to_owned();
    let hsm_env = [("SOFTHSM2_CONF", conf.as_str())];

    for (token, label, at) in [
        ("no-such-token", LABEL, "nodes[0].signer.token_label"),
        (TOKEN, "no-such-key", "nodes[0].signer.key_label"),
    ] {
        let bad = dir.join("bad.yaml");
        std::fs::write(&bad, with_hsm(token, label)).unwrap();
        let (code, out) = check_config(&bad, &hsm_env);
        assert_eq!(code, 78, "{out}");
        assert!(out.contains(at), "{at}: {out}");
        assert!(!out.contains(PIN), "{out}");
    }

    std::fs::write(env.config(), with_hsm(TOKEN, LABEL)).unwrap();
    let daemon = env.daemon(&hsm_env);
    let (code, out) = env.round();
    assert_eq!(code, 0, "round with an HSM key: {out}");
    let counts = env.vote_casts().await;
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
    for node in env.node_addresses() {
        assert!(counts.keys().any(|(_, v)| *v == node), "{node}: {counts:?}");
    }
    assert!(!daemon.output().contains(PIN));
}
