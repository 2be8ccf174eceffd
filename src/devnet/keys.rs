//! The devnet's keys: the deployer is the well-known test account 0 of anvil
//! and hardhat; node keys are derived from a fixed public seed, so the same
//! `--nodes M` gives the same addresses on every machine (the NixOS VM test
//! relies on that). All of them are public knowledge: never fund them on a
//! real network.

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use alloy::primitives::{B256, b256, keccak256};
use alloy::signers::local::PrivateKeySigner;

use super::error::DevnetError;

/// Account 0 of the "test test … junk" mnemonic that anvil and hardhat fund.
const DEPLOYER_KEY: B256 =
    b256!("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
const NODE_SEED: &[u8] = b"govnode devnet node key";

pub fn deployer() -> Result<PrivateKeySigner, DevnetError> {
    PrivateKeySigner::from_bytes(&DEPLOYER_KEY).map_err(|e| DevnetError::Unexpected {
        what: "the well-known deployer key".into(),
        detail: e.to_string(),
    })
}

/// `ai-gov-01`, `ai-gov-02`, … for 1-based `index`.
pub fn node_name(index: usize) -> String {
    format!("ai-gov-{index:02}")
}

/// The key of node `index` (1-based): keccak256(seed ‖ index), rehashed in the
/// astronomically unlikely case the hash is not a valid secp256k1 scalar.
pub fn node_signer(index: usize) -> PrivateKeySigner {
    let mut material = NODE_SEED.to_vec();
    material.extend_from_slice(&(index as u64).to_be_bytes());
    let mut candidate = keccak256(&material);
    loop {
        if let Ok(signer) = PrivateKeySigner::from_bytes(&candidate) {
            return signer;
        }
        candidate = keccak256(candidate);
    }
}

/// `0x`-prefixed hex of the signer's key, as `key_file` expects.
pub fn key_hex(signer: &PrivateKeySigner) -> String {
    format!("0x{}", alloy::hex::encode(signer.to_bytes()))
}

/// A fresh random API token (hex of 32 bytes).
pub fn api_token() -> String {
    alloy::hex::encode(rand::random::<[u8; 32]>())
}

/// Creates `dir` with mode 0700 (or tightens an existing one).
pub fn private_dir(dir: &Path) -> Result<(), DevnetError> {
    use std::os::unix::fs::PermissionsExt;
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| DevnetError::io("create", dir, e))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| DevnetError::io("set permissions on", dir, e))
}

/// Writes a secret to a new file readable only by its owner. An existing file
/// is replaced, never rewritten in place with looser permissions.
pub fn write_secret(path: &Path, value: &str) -> Result<(), DevnetError> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(DevnetError::io("replace", path, e)),
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| DevnetError::io("create", path, e))?;
    file.write_all(value.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .map_err(|e| DevnetError::io("write", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployer_is_anvil_account_zero() {
        assert_eq!(
            deployer().expect("key").address().to_string(),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
        );
    }

    #[test]
    fn node_keys_are_stable_and_distinct() {
        let a: Vec<_> = (1..=5).map(|i| node_signer(i).address()).collect();
        let b: Vec<_> = (1..=5).map(|i| node_signer(i).address()).collect();
        assert_eq!(a, b);
        let unique: std::collections::BTreeSet<_> = a.iter().collect();
        assert_eq!(unique.len(), 5);
        assert!(!a.contains(&deployer().expect("key").address()));
        assert_eq!(node_name(1), "ai-gov-01");
        assert_eq!(node_name(12), "ai-gov-12");
    }

    #[test]
    fn secret_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k");
        std::fs::write(&path, "old").expect("write");
        write_secret(&path, &key_hex(&node_signer(1))).expect("write secret");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let text = std::fs::read_to_string(&path).expect("read");
        let parsed: PrivateKeySigner = text.trim().trim_start_matches("0x").parse().expect("key");
        assert_eq!(parsed.address(), node_signer(1).address());
    }
}
