//! `govnode check-config --online` against a real devnet chain: OK with every
//! endpoint's chain id, the DAO's code and kind, each node's balance and
//! voting power; exit 78 naming the problem for a wrong chain id, an address
//! without code and a DAO of another kind. The offline check stays offline.

mod support {
    pub mod devnet;
}

use std::path::Path;
use std::process::Command;

use support::devnet::{GOVNODE, devnet_json, devnet_setup, spawn_anvil};

fn check(config: &Path, envs: &[(&str, &str)]) -> (i32, String) {
    let out = Command::new(GOVNODE)
        .args(["check-config", "--online", "--config"])
        .arg(config)
        .env_remove("GOVNODE_CONFIG")
        .envs(envs.iter().copied())
        .output()
        .expect("run govnode");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn online_check_reads_the_chain() {
    let anvil = spawn_anvil();
    let dir = tempfile::tempdir().expect("tempdir");
    devnet_setup(
        &anvil.endpoint(),
        dir.path(),
        &["--proposals", "3", "--nodes", "2"],
    );
    let info = devnet_json(dir.path());
    let config = dir.path().join("config.yaml");

    let (code, text) = check(&config, &[]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("chain id 31337"), "{text}");
    assert!(text.contains("contract code ("), "{text}");
    assert!(
        text.contains("dao.kind assetdao: answers as assetdao"),
        "{text}"
    );
    for n in info["nodes"].as_array().expect("nodes") {
        let name = n["name"].as_str().unwrap();
        assert!(text.contains(&format!("node {name} (")), "{text}");
        assert!(
            text.lines()
                .any(|l| l.contains(&format!("node {name} ")) && l.contains("voting power ")),
            "{text}"
        );
    }
    assert!(text.contains("online: OK"), "{text}");

    let (code, text) = check(&config, &[("GOVNODE__CHAIN__ID", "1")]);
    assert_eq!(code, 78, "{text}");
    assert!(
        text.contains("the endpoint serves chain id 31337, chain.id is 1"),
        "{text}"
    );

    // (An environment override would read the hex address as a number.)
    let yaml = std::fs::read_to_string(&config).expect("config");
    let doc: serde_norway::Value = serde_norway::from_str(&yaml).expect("config is YAML");
    let dao = doc["dao"]["address"].as_str().expect("dao.address");
    assert!(yaml.contains(dao), "{yaml}");
    let no_code = dir.path().join("no-code.yaml");
    std::fs::write(
        &no_code,
        yaml.replace(dao, "0x00000000000000000000000000000000000000aa"),
    )
    .expect("write");
    let (code, text) = check(&no_code, &[]);
    assert_eq!(code, 78, "{text}");
    assert!(text.contains("no contract code there"), "{text}");

    let (code, text) = check(&config, &[("GOVNODE__DAO__KIND", "governor")]);
    assert_eq!(code, 78, "{text}");
    assert!(text.contains("does not answer as governor"), "{text}");

    // Without --online nothing is asked: the wrong chain id passes offline.
    let out = Command::new(GOVNODE)
        .args(["check-config", "--config"])
        .arg(&config)
        .env_remove("GOVNODE_CONFIG")
        .env("GOVNODE__CHAIN__ID", "1")
        .output()
        .expect("run govnode");
    assert_eq!(out.status.code(), Some(0));
}
