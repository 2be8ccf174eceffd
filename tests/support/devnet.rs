//! Helpers for the `govnode devnet` tests: a fresh anvil per test, the real
//! binary run against it, and typed reads of what it deployed.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use alloy::node_bindings::{Anvil, AnvilInstance};
use alloy::primitives::Address;
use alloy::providers::{DynProvider, Provider, ProviderBuilder};

pub const GOVNODE: &str = env!("CARGO_BIN_EXE_govnode");

/// The pinned anvil: `$GOVNODE_ANVIL`, else the one scripts/setup-tools.sh installs.
pub fn anvil_path() -> PathBuf {
    if let Some(p) = std::env::var_os("GOVNODE_ANVIL").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
    assert!(
        p.exists(),
        "anvil is missing at {}: run scripts/setup-tools.sh first",
        p.display()
    );
    p
}

/// A fresh anvil on 127.0.0.1 and a free port; killed when dropped.
pub fn spawn_anvil() -> AnvilInstance {
    Anvil::at(anvil_path())
        .host("127.0.0.1")
        .chain_id(31337)
        .try_spawn()
        .unwrap_or_else(|e| panic!("cannot start anvil: {e}"))
}

pub fn provider(anvil: &AnvilInstance) -> DynProvider {
    ProviderBuilder::new()
        .connect_http(anvil.endpoint_url())
        .erased()
}

/// `govnode devnet --rpc-url URL --dir DIR --setup-only` plus `extra`.
pub fn devnet_setup(url: &str, dir: &Path, extra: &[&str]) -> Output {
    let out = Command::new(GOVNODE)
        .args(["devnet", "--setup-only", "--rpc-url", url, "--dir"])
        .arg(dir)
        .args(extra)
        .env_remove("GOVNODE_CONFIG")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {GOVNODE}: {e}"));
    assert!(
        out.status.success(),
        "govnode devnet failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn devnet_json(dir: &Path) -> serde_json::Value {
    let path = dir.join("devnet.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

pub fn address(v: &serde_json::Value) -> Address {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an address: {v}"))
}

pub fn ids(v: &serde_json::Value) -> Vec<u64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|x| x.as_u64().unwrap_or_else(|| panic!("not an id: {x}")))
        .collect()
}

pub async fn latest_timestamp(p: &DynProvider) -> u64 {
    p.get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .expect("latest block")
        .expect("a latest block exists")
        .header
        .timestamp
}
