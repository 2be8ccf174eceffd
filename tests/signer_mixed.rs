//! One real round with five nodes on five signers of four kinds: a key file,
//! a keystore written by `govnode keys import`, a key in a SoftHSM2 token
//! (PKCS#11), the Web3Signer stand-in (tests/support/web3signer_standin.rs;
//! Web3Signer itself does not run here) and a key file again. The chain's
//! `VoteCast` events show exactly one vote per (proposal, node).
//! Without SoftHSM2 installed, the PKCS#11 node keeps its key file and the
//! test says so on its output. One test in this file: SoftHSM's
//! configuration is process-wide.

#[allow(dead_code)]
mod support {
    pub mod anvil;
    pub mod daemon;
    pub mod round_env;
    pub mod softhsm;
    pub mod web3signer_standin;
}

use std::path::Path;

use support::round_env::RoundEnv;
use support::softhsm::{MODULE, PIN, SoftHsm, TOKEN};
use support::web3signer_standin::StandIn;

const PROPOSALS: usize = 3;
const NODES: usize = 5;
const PASSWORD: &str = "mixed-keystore-password";

#[tokio::test(flavor = "multi_thread")]
async fn five_nodes_on_key_keystore_pkcs11_web3signer_and_key_vote_once_per_pair() {
    let env = RoundEnv::new(PROPOSALS as u32, NODES as u32).await;
    let dir = env.dir.path();
    let names: Vec<String> = (0..NODES).map(|i| env.node_name(i)).collect();
    // Every node votes on every proposal, whatever its devnet strategy.
    env.add_everything_strategy();
    let mut config = std::fs::read_to_string(env.config()).unwrap();
    let mut envs: Vec<(String, String)> = (0..NODES)
        .map(|i| {
            (
                format!("GOVNODE__NODES__{i}__STRATEGY"),
                "everything".into(),
            )
        })
        .collect();

    // Node 2: a keystore.
    let stores = dir.join("keystores");
    let password_file = dir.join("keystore-password");
    std::fs::write(&password_file, PASSWORD).unwrap();
    let key_file = dir.join("keys").join(&names[1]);
    let out = std::process::Command::new(support::daemon::binary())
        .args(["keys", "import", "--dir"])
        .arg(&stores)
        .args(["--name", &names[1], "--key-file"])
        .arg(&key_file)
        .arg("--password-file")
        .arg(&password_file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    config = RoundEnv::with_signer(
        &config,
        &names[1],
        &format!(
            "    signer:\n      kind: keystore\n      path: {}\n      password_file: {}\n",
            stores.join(&names[1]).display(),
            password_file.display()
        ),
    );

    // Node 3: a key in a SoftHSM2 token, where SoftHSM2 is installed.
    let _hsm = if Path::new(MODULE).exists() {
        let hsm = SoftHsm::new();
        hsm.import(&names[2], env.node_key(2).to_bytes());
        let pin_file = dir.join("hsm-pin");
        std::fs::write(&pin_file, PIN).unwrap();
        config = RoundEnv::with_signer(
            &config,
            &names[2],
            &format!(
                "    signer:\n      kind: pkcs11\n      module: {MODULE}\n      token_label: {TOKEN}\n      key_label: {}\n      pin_file: {}\n",
                names[2],
                pin_file.display()
            ),
        );
        envs.push((
            "SOFTHSM2_CONF".into(),
            hsm.conf.to_str().unwrap().to_owned(),
        ));
        Some(hsm)
    } else {
        println!(
            "SKIPPED the PKCS#11 signer: {MODULE} is absent (apt-get install softhsm2); {} keeps its key file",
            names[2]
        );
        None
    };

    // Node 4: the Web3Signer stand-in.
    let key = env.node_key(3);
    let standin = StandIn::start(key.clone()).await;
    config = RoundEnv::with_signer(
        &config,
        &names[3],
        &format!(
            "    signer:\n      kind: web3signer\n      url: {}\n      address: \"{}\"\n",
            standin.url,
            key.address()
        ),
    );
    std::fs::write(env.config(), &config).unwrap();
    assert!(
        config.contains(&format!("key_file: keys/{}\n", names[0]))
            && config.contains(&format!("key_file: keys/{}\n", names[4])),
        "nodes 1 and 5 keep their key files: {config}"
    );

    let pairs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let daemon = env.daemon(&pairs);
    let (code, out) = env.round();
    assert_eq!(code, 0, "{out}\n{}", daemon.output());
    let counts = env.vote_casts().await;
    assert_eq!(
        counts.len(),
        PROPOSALS * NODES,
        "every node on every proposal: {counts:?}"
    );
    assert!(
        counts.values().all(|&n| n == 1),
        "once per pair: {counts:?}"
    );
    assert!(
        !standin.requests().is_empty(),
        "node 4 signed through the stand-in"
    );
    let log = daemon.output();
    assert!(!log.contains(PASSWORD) && !log.contains(PIN), "{log}");
}
