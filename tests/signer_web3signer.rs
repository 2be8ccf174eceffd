//! `kind: web3signer` end to end against a stand-in signer server
//! (tests/support/web3signer_standin.rs; Web3Signer itself does not run
//! here): a real daemon on anvil votes through it; a signer that alters the
//! data, signs with another key, hangs past the timeout or cannot be reached
//! fails that node's votes only, with a reason naming what went wrong, and
//! nothing it returned is sent; once it signs honestly the node votes.

#[allow(dead_code)]
mod support {
    pub mod anvil;
    pub mod daemon;
    pub mod round_env;
    pub mod web3signer_standin;
}

use alloy::primitives::Address;
use support::daemon::check_config;
use support::round_env::RoundEnv;
use support::web3signer_standin::{Mode, StandIn};

fn first_node(env: &RoundEnv) -> String {
    env.node_name(0)
}

fn votes_of(
    counts: &std::collections::HashMap<(alloy::primitives::U256, Address), usize>,
    who: Address,
) -> usize {
    RoundEnv::votes_by(counts, who)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_web3signer_node_votes_and_a_lying_hanging_or_absent_signer_fails_only_that_node() {
    let env = RoundEnv::new(2, 3).await;
    let dir = env.dir.path();
    let name = first_node(&env);
    let key = env.node_key(0);
    let address = key.address();
    let standin = StandIn::start(key.clone()).await;
    standin.set_mode(Mode::AlterData);

    let config = std::fs::read_to_string(env.config()).unwrap();
    let old = format!("  - name: {name}\n    key_file: keys/{name}\n");
    assert!(
        config.contains(&old),
        "devnet config names {name}'s key file"
    );
    let config = config.replace(
        &old,
        &format!(
            "  - name: {name}\n    signer:\n      kind: web3signer\n      url: {}\n      address: \"{address}\"\n      timeout: 1s\n",
            standin.url
        ),
    );
    std::fs::write(env.config(), &config).unwrap();
    let (code, out) = check_config(&env.config(), &[]);
    assert_eq!(code, 0, "{out}");

    // A zero address is refused at start, naming the field.
    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        config.replace(&format!("\"{address}\""), &format!("\"{}\"", Address::ZERO)),
    )
    .unwrap();
    let (code, out) = check_config(&bad, &[]);
    assert_eq!(code, 78, "{out}");
    assert!(out.contains("nodes[0].signer.address"), "{out}");

    let _daemon = env.daemon(&[]);
    let others: Vec<Address> = env
        .node_addresses()
        .into_iter()
        .filter(|a| *a != address)
        .collect();

    let cases = [
        (Mode::AlterData, "differs from the request in: data"),
        (Mode::WrongKey, "not by the configured address"),
        (Mode::Refuse, "signing refused"),
        (Mode::Hang, "did not answer in time"),
    ];
    for (mode, reason) in cases {
        standin.set_mode(mode);
        let (code, out) = env.round();
        let counts = env.vote_casts().await;
        assert_eq!(
            votes_of(&counts, address),
            0,
            "{mode:?}: nothing sent: {counts:?}"
        );
        for other in &others {
            assert!(
                votes_of(&counts, *other) > 0,
                "{mode:?}: {other} votes: {counts:?}"
            );
        }
        assert_eq!(code, 1, "{mode:?}: the round is partial: {out}");
        assert!(
            out.contains(&format!("node {name} proposal")) && out.contains(reason),
            "{mode:?}: the node and reason {reason:?} are named: {out}"
        );
    }

    let port = standin.port();
    let requests = standin.requests();
    assert!(!requests.is_empty());
    assert_eq!(
        requests[0]["from"].as_str().unwrap().to_lowercase(),
        format!("{address:#x}"),
        "the daemon names the address"
    );
    standin.stop();
    let (code, out) = env.round();
    assert_eq!(code, 1, "the round is partial: {out}");
    assert!(out.contains("cannot be reached"), "{out}");
    assert_eq!(votes_of(&env.vote_casts().await, address), 0);

    let _standin = StandIn::restart_on(port, key).await;
    let (code, out) = env.round();
    assert_eq!(code, 0, "round with the signer back: {out}");
    let counts = env.vote_casts().await;
    assert!(
        votes_of(&counts, address) > 0,
        "the node votes again: {counts:?}"
    );
    assert!(
        counts.values().all(|&n| n == 1),
        "each pair counted once: {counts:?}"
    );
}

fn request() -> alloy::rpc::types::TransactionRequest {
    use alloy::network::TransactionBuilder;
    alloy::rpc::types::TransactionRequest::default()
        .with_to(Address::repeat_byte(0x11))
        .with_nonce(0)
        .with_chain_id(31337)
        .with_gas_limit(21_000)
        .with_max_fee_per_gas(2_000_000_000)
        .with_max_priority_fee_per_gas(1_000_000_000)
}

#[tokio::test(flavor = "multi_thread")]
async fn over_https_the_signer_requires_the_client_certificate_and_the_daemon_votes_with_it() {
    use govnode::signer::Signer;
    use govnode::signer::web3signer::{Web3Signer, Web3SignerTls};

    let env = RoundEnv::new(2, 2).await;
    let dir = env.dir.path();
    let name = first_node(&env);
    let key = env.node_key(0);
    let address = key.address();
    let (standin, files) = StandIn::start_tls(key, dir).await;
    let ca = std::fs::read(&files.ca).unwrap();
    let timeout = std::time::Duration::from_secs(3);

    // Without a client certificate the handshake is refused: nothing is signed.
    let anonymous = Web3Signer::new(
        &standin.url,
        address,
        timeout,
        Web3SignerTls {
            ca_pem: Some(ca.clone()),
            identity_pem: None,
        },
    )
    .expect("client");
    let err = anonymous
        .sign_transaction(request())
        .await
        .expect_err("no client certificate")
        .to_string();
    assert!(err.contains("web3signer signer unreachable"), "{err}");
    assert!(standin.requests().is_empty(), "no request got through");

    let client_key_pem = std::fs::read_to_string(&files.client_key).unwrap();
    let mut identity = std::fs::read(&files.client_cert).unwrap();
    identity.extend_from_slice(client_key_pem.as_bytes());
    let authenticated = Web3Signer::new(
        &standin.url,
        address,
        timeout,
        Web3SignerTls {
            ca_pem: Some(ca),
            identity_pem: Some(identity),
        },
    )
    .expect("client");
    authenticated
        .sign_transaction(request())
        .await
        .expect("signed with the client certificate");

    let config = std::fs::read_to_string(env.config()).unwrap();
    let old = format!("  - name: {name}\n    key_file: keys/{name}\n");
    assert!(config.contains(&old));
    let config = config.replace(
        &old,
        &format!(
            "  - name: {name}\n    signer:\n      kind: web3signer\n      url: {}\n      address: \"{address}\"\n      ca_file: {}\n      client_cert_file: {}\n      client_key_file: {}\n",
            standin.url,
            files.ca.display(),
            files.client_cert.display(),
            files.client_key.display()
        ),
    );
    std::fs::write(env.config(), &config).unwrap();
    let daemon = env.daemon(&[]);
    let (code, out) = env.round();
    assert_eq!(code, 0, "round through the HTTPS signer: {out}");
    let counts = env.vote_casts().await;
    assert!(votes_of(&counts, address) > 0, "{counts:?}");
    let key_body: String = client_key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let logs = daemon.output();
    assert!(!logs.contains(&key_body), "client key in the daemon's log");
    assert!(!out.contains(&key_body), "client key in the round's output");
}
