//! The aws-kms signer against LocalStack's KMS (real AWS does not run here):
//! a node whose key lives in KMS votes a full round that anvil counts once
//! per pair, beside a node with a plain key; a configured address the KMS key
//! does not derive fails only that node's votes, with the reason, and sends
//! nothing; a KMS that stopped answering fails that node and the others
//! vote; the secret access key never reaches the output.

#[allow(dead_code)]
mod support {
    pub mod anvil;
    pub mod daemon;
    pub mod localstack;
    pub mod round_env;
}

use alloy::primitives::Address;
use support::daemon::check_config;
use support::localstack::LocalStack;
use support::round_env::RoundEnv;

const SECRET: &str = "kms-secret-access-key-not-logged";

#[tokio::test(flavor = "multi_thread")]
async fn kms_key_votes_once_per_pair_and_a_wrong_address_sends_nothing() {
    let kms = LocalStack::start().await;
    let env = RoundEnv::new(4, 2).await;
    let dir = env.dir.path();
    let name = env.node_name(0);
    let key_id = kms.import_key(&env.node_key(0).to_bytes().to_string());
    let addresses = env.node_addresses();
    let kms_node = addresses[0];
    std::fs::write(dir.join("aws-secret"), SECRET).expect("secret file");

    let plain = std::fs::read_to_string(env.config()).expect("config");
    let old = format!("  - name: {name}\n    key_file: keys/{name}\n");
    assert!(plain.contains(&old), "{plain}");
    let with_kms = |key_id: &str, address: Address, endpoint: &str| {
        plain.replace(
            &old,
            &format!(
                "  - name: {name}\n    signer:\n      kind: aws-kms\n      key_id: {key_id}\n      \
                 address: \"{address}\"\n      region: us-east-1\n      endpoint_url: {endpoint}\n      \
                 access_key_id: test\n      secret_access_key_file: aws-secret\n      timeout: 3s\n"
            ),
        )
    };

    // A half-configured credential pair is refused at its path.
    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        with_kms(&key_id, kms_node, &kms.endpoint())
            .replace("      secret_access_key_file: aws-secret\n", ""),
    )
    .expect("write");
    let (code, out) = check_config(&bad, &[]);
    assert_eq!(code, 78, "{out}");
    assert!(out.contains("nodes[0].signer.access_key_id"), "{out}");

    // A KMS key of another address (node 1's key) configured for node 0:
    // node 0 sends nothing and says why; node 1 votes with its plain key.
    let other_key_id = kms.import_key(&env.node_key(1).to_bytes().to_string());
    std::fs::write(
        env.config(),
        with_kms(&other_key_id, kms_node, &kms.endpoint()),
    )
    .expect("write");
    let (code, out) = check_config(&env.config(), &[]);
    assert_eq!(code, 0, "{out}");
    let daemon = env.daemon(&[]);
    let (_, out) = env.round();
    assert!(
        out.contains("signs for") && out.contains(&format!("{}", addresses[1])),
        "the round says which address the key signs for: {out}"
    );
    let counts = env.vote_casts().await;
    assert!(
        !counts.keys().any(|(_, v)| *v == kms_node),
        "nothing sent for the mismatched node: {counts:?}"
    );
    assert!(
        counts.keys().any(|(_, v)| *v == addresses[1]),
        "the other node voted: {counts:?}"
    );
    drop(daemon);

    // KMS unreachable: the node's votes fail with the reason, the node
    // sends nothing, and it votes once KMS answers again (below).
    let port = support::anvil::free_port();
    std::fs::write(
        env.config(),
        with_kms(&key_id, kms_node, &format!("http://127.0.0.1:{port}")),
    )
    .expect("write");
    let daemon = env.daemon(&[]);
    let (_, out) = env.round();
    assert!(out.contains("aws-kms signer unreachable"), "{out}");
    let counts = env.vote_casts().await;
    assert!(
        !counts.keys().any(|(_, v)| *v == kms_node),
        "nothing sent while KMS is down: {counts:?}"
    );
    assert!(!daemon.output().contains(SECRET));
    drop(daemon);

    // The right address: every pair of the KMS node once.
    std::fs::write(env.config(), with_kms(&key_id, kms_node, &kms.endpoint())).expect("write");
    let daemon = env.daemon(&[]);
    let (code, out) = env.round();
    assert_eq!(code, 0, "round with a KMS key: {out}");
    let counts = env.vote_casts().await;
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
    assert!(
        counts.keys().any(|(_, v)| *v == kms_node),
        "the KMS node voted: {counts:?}"
    );
    let output = daemon.output();
    assert!(!output.contains(SECRET), "the secret key is in the output");
    assert!(!out.contains(SECRET));
}
