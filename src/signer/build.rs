//! Builds a node's signer from its settings at start and on reload. Every
//! problem (unreadable file, wrong password) becomes a configuration issue at
//! the field that names it, so `check-config` and start-up report it and exit 78.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use alloy::signers::local::PrivateKeySigner;

use super::aws_kms::{AwsKmsSettings, AwsKmsSigner, AwsStaticCredentials};
use super::config::{SignerConfig, effective};
use super::pkcs11::{Pkcs11Error, Pkcs11Signer};
use super::web3signer::{Web3Signer, Web3SignerSetupError, Web3SignerTls};
use super::{LocalKeySigner, Signer, keystore};
use crate::config::{Issues, NodeConfig, SecretSource, field, pick_source};

/// The node's signer, or `None` with the reason in `issues`. `path` is the
/// node's place in the file (`nodes[i]`); `abs` resolves relative paths
/// against the configuration file's directory.
pub fn node_signer(
    node: &NodeConfig,
    path: &str,
    abs: &dyn Fn(&PathBuf) -> PathBuf,
    credentials_dir: Option<&Path>,
    issues: &mut Issues,
) -> Option<Arc<dyn Signer>> {
    let config = effective(node)?;
    // The legacy fields sit on the node itself; `signer:` one level down.
    let at = if node.signer.is_some() {
        field(path, "signer")
    } else {
        path.to_owned()
    };
    match &config {
        SignerConfig::Key(k) => {
            let (src, secret, field_at) = read(
                &at,
                "key",
                k.key_file.as_ref().map(abs),
                k.key_credential.as_ref(),
                credentials_dir,
                issues,
            )?;
            match parse_key(secret.expose()) {
                Ok(key) => Some(Arc::new(LocalKeySigner::new("key", key))),
                Err(()) => {
                    issues.push(
                        field_at,
                        format!("{src} does not hold a 32-byte hex private key"),
                    );
                    None
                }
            }
        }
        SignerConfig::Keystore(k) => {
            let (_, password, _) = read(
                &at,
                "password",
                k.password_file.as_ref().map(abs),
                k.password_credential.as_ref(),
                credentials_dir,
                issues,
            )?;
            match keystore::unlock(&abs(&k.path), password.expose().as_bytes()) {
                Ok(key) => Some(Arc::new(LocalKeySigner::new("keystore", key))),
                Err(e) => {
                    issues.push(field(&at, "path"), e.to_string());
                    None
                }
            }
        }
        SignerConfig::Pkcs11(k) => {
            let (_, pin, _) = read(
                &at,
                "pin",
                k.pin_file.as_ref().map(abs),
                k.pin_credential.as_ref(),
                credentials_dir,
                issues,
            )?;
            match Pkcs11Signer::open(&abs(&k.module), &k.token_label, &k.key_label, pin.expose()) {
                Ok(signer) => Some(Arc::new(signer)),
                Err(e) => {
                    let at_field = match e {
                        Pkcs11Error::Module { .. } => "module",
                        Pkcs11Error::NoToken { .. } | Pkcs11Error::Login { .. } => "token_label",
                        Pkcs11Error::NoKey { .. } | Pkcs11Error::Key { .. } => "key_label",
                    };
                    issues.push(field(&at, at_field), e.to_string());
                    None
                }
            }
        }
        SignerConfig::Web3signer(w) => {
            let mut tls = Web3SignerTls::default();
            if let Some(ca) = &w.ca_file {
                tls.ca_pem = Some(read_file(&at, "ca_file", &abs(ca), issues)?);
            }
            if let Some(cert) = &w.client_cert_file {
                let mut pem = read_file(&at, "client_cert_file", &abs(cert), issues)?;
                let (_, key, _) = read(
                    &at,
                    "client_key",
                    w.client_key_file.as_ref().map(abs),
                    w.client_key_credential.as_ref(),
                    credentials_dir,
                    issues,
                )?;
                pem.push(b'\n');
                pem.extend_from_slice(key.expose().as_bytes());
                tls.identity_pem = Some(pem);
            }
            match Web3Signer::new(&w.url, w.address, w.timeout, tls) {
                Ok(signer) => Some(Arc::new(signer)),
                Err(e) => {
                    let at_field = match e {
                        Web3SignerSetupError::Ca { .. } => "ca_file",
                        Web3SignerSetupError::Identity { .. } => "client_cert_file",
                        Web3SignerSetupError::Url { .. } | Web3SignerSetupError::Client { .. } => {
                            "url"
                        }
                    };
                    issues.push(field(&at, at_field), e.to_string());
                    None
                }
            }
        }
        SignerConfig::AwsKms(k) => {
            let credentials = match &k.access_key_id {
                Some(id) => {
                    let (_, secret, _) = read(
                        &at,
                        "secret_access_key",
                        k.secret_access_key_file.as_ref().map(abs),
                        k.secret_access_key_credential.as_ref(),
                        credentials_dir,
                        issues,
                    )?;
                    Some(AwsStaticCredentials {
                        access_key_id: id.clone(),
                        secret_access_key: secret,
                    })
                }
                None => None,
            };
            Some(Arc::new(AwsKmsSigner::new(AwsKmsSettings {
                key_id: k.key_id.clone(),
                address: k.address,
                region: k.region.clone(),
                endpoint_url: k.endpoint_url.clone(),
                credentials,
                timeout: k.timeout,
            })))
        }
    }
}

/// A non-secret file (a certificate) named at `parent.name`.
fn read_file(parent: &str, name: &str, path: &Path, issues: &mut Issues) -> Option<Vec<u8>> {
    match std::fs::read(path) {
        Ok(bytes) => Some(bytes),
        Err(e) => {
            issues.push(
                field(parent, name),
                format!("cannot read {}: {e}", path.display()),
            );
            None
        }
    }
}

/// Reads the secret a `<stem>_file` / `<stem>_credential` pair names; a
/// failure becomes an issue at the field that named it.
fn read(
    parent: &str,
    stem: &str,
    file: Option<PathBuf>,
    credential: Option<&String>,
    credentials_dir: Option<&Path>,
    issues: &mut Issues,
) -> Option<(SecretSource, crate::config::Secret, String)> {
    // Which of the two is set was checked by validation; nothing to add here.
    let src = pick_source(
        parent,
        stem,
        file.as_ref(),
        credential,
        false,
        &mut Issues::default(),
    )?;
    let key = match src {
        SecretSource::File(_) => format!("{stem}_file"),
        SecretSource::Credential(_) => format!("{stem}_credential"),
    };
    let at = field(parent, &key);
    match src.read(credentials_dir) {
        Ok(secret) => Some((src, secret, at)),
        Err(e) => {
            issues.push(at, e.to_string());
            None
        }
    }
}

pub(super) fn parse_key(raw: &str) -> Result<PrivateKeySigner, ()> {
    let hex = raw.strip_prefix("0x").unwrap_or(raw);
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(());
    }
    hex.parse::<PrivateKeySigner>().map_err(|_| ())
}
