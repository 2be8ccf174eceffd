//! `govnode devnet` fails with a clear, actionable message — never a panic —
//! when anvil is missing, the requested port is taken, or the chain is not a
//! funded dev chain.

#[path = "support/devnet.rs"]
mod devnet_support;

use std::net::TcpListener;
use std::process::{Command, Output};

use devnet_support::*;

fn failure(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected exit status 1:\n{stderr}"
    );
    assert!(!stderr.contains("panic"), "it panicked:\n{stderr}");
    stderr
}

#[test]
fn missing_anvil_points_to_the_setup_script() {
    // A copy of the binary outside the checkout, run from an empty directory
    // with a PATH without anvil: none of the places it looks at has one.
    let tmp = tempfile::tempdir().expect("tempdir");
    let exe = tmp.path().join("govnode");
    std::fs::copy(GOVNODE, &exe).expect("copy the binary");
    let out = Command::new(&exe)
        .args(["devnet", "--dir", "devnet"])
        .current_dir(tmp.path())
        .env("PATH", "/usr/bin:/bin")
        .env_remove("GOVNODE_ANVIL")
        .output()
        .expect("run");
    let stderr = failure(&out);
    assert!(stderr.contains("anvil not found"), "{stderr}");
    assert!(stderr.contains("scripts/setup-tools.sh"), "{stderr}");

    let out = Command::new(GOVNODE)
        .args(["devnet", "--dir"])
        .arg(tmp.path().join("devnet"))
        .env("GOVNODE_ANVIL", tmp.path().join("no-such-anvil"))
        .output()
        .expect("run");
    let stderr = failure(&out);
    assert!(stderr.contains("GOVNODE_ANVIL"), "{stderr}");
}

#[test]
fn taken_port_is_reported() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let out = Command::new(GOVNODE)
        .args(["devnet", "--port", &port.to_string(), "--dir"])
        .arg(tmp.path())
        .env("GOVNODE_ANVIL", anvil_path())
        .output()
        .expect("run");
    let stderr = failure(&out);
    assert!(
        stderr.contains(&format!("port {port}")) && stderr.contains("taken"),
        "{stderr}"
    );
}

#[test]
fn unreachable_or_unfunded_chain_is_reported() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!(
        "http://127.0.0.1:{}",
        closed.local_addr().expect("addr").port()
    );
    drop(closed);
    let out = Command::new(GOVNODE)
        .args(["devnet", "--setup-only", "--rpc-url", &url, "--dir"])
        .arg(tmp.path())
        .output()
        .expect("run");
    let stderr = failure(&out);
    assert!(
        stderr.contains("read the chain id") && stderr.contains(&url),
        "{stderr}"
    );

    // A chain whose account 0 is not the well-known test account.
    let anvil = alloy::node_bindings::Anvil::at(anvil_path())
        .host("127.0.0.1")
        .mnemonic("abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about")
        .try_spawn()
        .expect("anvil");
    let out = Command::new(GOVNODE)
        .args([
            "devnet",
            "--setup-only",
            "--rpc-url",
            &anvil.endpoint(),
            "--dir",
        ])
        .arg(tmp.path())
        .output()
        .expect("run");
    let stderr = failure(&out);
    assert!(stderr.contains("has no ETH"), "{stderr}");
}
