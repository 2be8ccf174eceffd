//! Web3 Secret Storage (v3) keystores, as geth, `cast wallet` and
//! `govnode keys` write them: unlocking one (scrypt or pbkdf2), writing one
//! with mode 0600, and reading the address a keystore declares without
//! unlocking it. The password is taken as bytes and never kept.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use alloy::primitives::Address;
use alloy::signers::k256::elliptic_curve::rand_core::OsRng;
use alloy::signers::local::{LocalSignerError, PrivateKeySigner};

#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    #[error("keystore {path}: wrong password (the keystore's MAC does not match)")]
    WrongPassword { path: PathBuf },
    #[error("keystore {path}: cannot read: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("keystore {path}: not a Web3 Secret Storage v3 keystore: {reason}")]
    Malformed { path: PathBuf, reason: String },
    #[error("keystore {path}: cannot write: {reason}")]
    Write { path: PathBuf, reason: String },
    #[error("keystore {path} already exists; choose another name or remove it first")]
    Exists { path: PathBuf },
}

/// Decrypts the keystore at `path`.
pub fn unlock(path: &Path, password: &[u8]) -> Result<PrivateKeySigner, KeystoreError> {
    let text = std::fs::read_to_string(path).map_err(|e| KeystoreError::Unreadable {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    serde_json::from_str::<serde_json::Value>(&text).map_err(|e| KeystoreError::Malformed {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    PrivateKeySigner::decrypt_keystore(path, password).map_err(|e| match e {
        LocalSignerError::EthKeystoreError(k) if k.to_string().contains("Mac") => {
            KeystoreError::WrongPassword {
                path: path.to_owned(),
            }
        }
        other => KeystoreError::Malformed {
            path: path.to_owned(),
            reason: other.to_string(),
        },
    })
}

/// Writes `key` encrypted with `password` (scrypt) to `dir/name`, mode 0600.
/// The file appears complete or not at all: it is written in a private
/// directory next to its final place and renamed.
pub fn write(
    dir: &Path,
    name: &str,
    key: &PrivateKeySigner,
    password: &[u8],
) -> Result<PathBuf, KeystoreError> {
    let target = dir.join(name);
    let write_err = |path: &Path, e: &dyn std::fmt::Display| KeystoreError::Write {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return Err(KeystoreError::Write {
            path: target,
            reason: "the name must be a plain file name".into(),
        });
    }
    if target.exists() {
        return Err(KeystoreError::Exists { path: target });
    }
    std::fs::create_dir_all(dir).map_err(|e| write_err(dir, &e))?;
    let staging = Staging::create(dir).map_err(|e| write_err(dir, &e))?;
    PrivateKeySigner::encrypt_keystore(
        &staging.0,
        &mut OsRng,
        key.to_bytes(),
        password,
        Some(name),
    )
    .map_err(|e| write_err(&target, &e))?;
    let staged = staging.0.join(name);
    declare_address(&staged, key.address()).map_err(|e| write_err(&staged, &e))?;
    std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| write_err(&staged, &e))?;
    if target.exists() {
        return Err(KeystoreError::Exists { path: target });
    }
    std::fs::rename(&staged, &target).map_err(|e| write_err(&target, &e))?;
    Ok(target)
}

/// Adds the `address` field geth writes, so that `govnode keys list` can
/// show it without a password.
fn declare_address(path: &Path, address: Address) -> std::io::Result<()> {
    let text = std::fs::read_to_string(path)?;
    let mut json: serde_json::Value = serde_json::from_str(&text)?;
    if let Some(obj) = json.as_object_mut() {
        obj.insert(
            "address".into(),
            serde_json::Value::String(alloy::hex::encode(address.as_slice())),
        );
    }
    std::fs::write(path, serde_json::to_vec(&json)?)
}

/// A directory only the owner can enter, removed with whatever is left in it.
struct Staging(PathBuf);

impl Staging {
    fn create(dir: &Path) -> std::io::Result<Staging> {
        use std::os::unix::fs::DirBuilderExt;
        let path = dir.join(format!(".govnode-keystore-{:016x}", rand::random::<u64>()));
        std::fs::DirBuilder::new().mode(0o700).create(&path)?;
        Ok(Staging(path))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The address a keystore declares (its `address` field), without unlocking it.
pub fn declared_address(path: &Path) -> Result<Option<Address>, KeystoreError> {
    let text = std::fs::read_to_string(path).map_err(|e| KeystoreError::Unreadable {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| KeystoreError::Malformed {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    if json.get("crypto").or_else(|| json.get("Crypto")).is_none() {
        return Err(KeystoreError::Malformed {
            path: path.to_owned(),
            reason: "no crypto section".into(),
        });
    }
    Ok(json
        .get("address")
        .and_then(|a| a.as_str())
        .and_then(|a| format!("0x{}", a.trim_start_matches("0x")).parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_keystore_is_private_and_unlocks_with_its_password_only() {
        let dir = tempfile::tempdir().unwrap();
        let key = PrivateKeySigner::random();
        let path = write(dir.path(), "n1.json", &key, b"correct horse").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            unlock(&path, b"correct horse").unwrap().address(),
            key.address()
        );
        let err = unlock(&path, b"wrong").unwrap_err();
        assert!(matches!(err, KeystoreError::WrongPassword { .. }), "{err}");
        assert!(!err.to_string().contains("wrong\""));
        assert_eq!(declared_address(&path).unwrap(), Some(key.address()));
        assert!(matches!(
            write(dir.path(), "n1.json", &key, b"x"),
            Err(KeystoreError::Exists { .. })
        ));
    }
}
