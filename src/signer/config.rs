//! `nodes[].signer`: which backend signs for a node, and its static checks.
//! The legacy `nodes[].key_file` / `key_credential` are `kind: key` written
//! one level up; a node sets one form or the other.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::NodeConfig;
use crate::config::{Issues, field, pick_source};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum SignerConfig {
    /// A plain hex private key in a file or systemd credential.
    Key(KeySignerConfig),
    /// A Web3 Secret Storage (v3) keystore and the password that unlocks it.
    Keystore(KeystoreSignerConfig),
    /// A secp256k1 key in an HSM, through a PKCS#11 module.
    Pkcs11(Pkcs11SignerConfig),
    /// A remote Web3Signer, through its `eth_signTransaction` JSON-RPC.
    Web3signer(Web3SignerConfig),
    /// A secp256k1 key in AWS KMS.
    #[serde(rename = "aws-kms")]
    AwsKms(AwsKmsSignerConfig),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeySignerConfig {
    /// File holding the hex private key.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// systemd credential holding the hex private key.
    #[serde(default)]
    pub key_credential: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeystoreSignerConfig {
    /// The keystore JSON file (geth, `cast wallet`, `govnode keys`).
    pub path: PathBuf,
    /// File holding the keystore's password.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// systemd credential holding the keystore's password.
    #[serde(default)]
    pub password_credential: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Pkcs11SignerConfig {
    /// The PKCS#11 module (shared library) of the HSM.
    pub module: PathBuf,
    /// The token's label (`CKA_LABEL` of the token, e.g. `softhsm2-util --label`).
    pub token_label: String,
    /// The label of the key pair on the token.
    pub key_label: String,
    /// File holding the user PIN.
    #[serde(default)]
    pub pin_file: Option<PathBuf>,
    /// systemd credential holding the user PIN.
    #[serde(default)]
    pub pin_credential: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Web3SignerConfig {
    /// The signer's JSON-RPC endpoint (`http://` or `https://`).
    pub url: String,
    /// The address the key signs for; the signer's answer must match it.
    pub address: alloy::primitives::Address,
    /// File holding the PEM CA certificate the signer's certificate chains to.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// File holding the PEM client certificate (chain) for TLS client auth.
    #[serde(default)]
    pub client_cert_file: Option<PathBuf>,
    /// File holding the PEM private key of the client certificate.
    #[serde(default)]
    pub client_key_file: Option<PathBuf>,
    /// systemd credential holding the PEM private key of the client certificate.
    #[serde(default)]
    pub client_key_credential: Option<String>,
    /// How long one signing request may take.
    #[serde(default = "default_signer_timeout", with = "humantime_serde")]
    pub timeout: std::time::Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AwsKmsSignerConfig {
    /// Key id, key ARN, alias name or alias ARN of an `ECC_SECG_P256K1` key.
    pub key_id: String,
    /// The address the key signs for; a key that derives another is refused.
    pub address: alloy::primitives::Address,
    /// AWS region; without it, the SDK's (environment, profile, instance).
    #[serde(default)]
    pub region: Option<String>,
    /// Another KMS endpoint (a VPC endpoint, a local emulator).
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// Static credentials: the access key id (not secret) and the secret
    /// access key from a file or credential. Without them, the SDK's chain.
    #[serde(default)]
    pub access_key_id: Option<String>,
    #[serde(default)]
    pub secret_access_key_file: Option<PathBuf>,
    #[serde(default)]
    pub secret_access_key_credential: Option<String>,
    /// How long one signature (with the first one's key lookup) may take.
    #[serde(default = "default_signer_timeout", with = "humantime_serde")]
    pub timeout: std::time::Duration,
}

fn default_signer_timeout() -> std::time::Duration {
    std::time::Duration::from_secs(5)
}

impl SignerConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            SignerConfig::Key(_) => "key",
            SignerConfig::Keystore(_) => "keystore",
            SignerConfig::Pkcs11(_) => "pkcs11",
            SignerConfig::Web3signer(_) => "web3signer",
            SignerConfig::AwsKms(_) => "aws-kms",
        }
    }
}

/// The node's signer as configured: `signer:`, or the legacy key fields as `kind: key`.
pub fn effective(node: &NodeConfig) -> Option<SignerConfig> {
    match &node.signer {
        Some(s) => Some(s.clone()),
        None if node.key_file.is_some() || node.key_credential.is_some() => {
            Some(SignerConfig::Key(KeySignerConfig {
                key_file: node.key_file.clone(),
                key_credential: node.key_credential.clone(),
            }))
        }
        None => None,
    }
}

/// Static checks of a node's signing settings at `path` (`nodes[i]`).
pub fn validate_node(node: &NodeConfig, path: &str, issues: &mut Issues) {
    let Some(signer) = &node.signer else {
        pick_source(
            path,
            "key",
            node.key_file.as_ref(),
            node.key_credential.as_ref(),
            true,
            issues,
        );
        return;
    };
    if node.key_file.is_some() || node.key_credential.is_some() {
        issues.push(
            field(path, "signer"),
            "set either signer or key_file/key_credential, not both (key_file is signer: {kind: key, key_file: ...})",
        );
    }
    let at = field(path, "signer");
    match signer {
        SignerConfig::Key(k) => {
            pick_source(
                &at,
                "key",
                k.key_file.as_ref(),
                k.key_credential.as_ref(),
                true,
                issues,
            );
        }
        SignerConfig::Keystore(k) => {
            if k.path.as_os_str().is_empty() {
                issues.push(field(&at, "path"), "must name the keystore file");
            }
            pick_source(
                &at,
                "password",
                k.password_file.as_ref(),
                k.password_credential.as_ref(),
                true,
                issues,
            );
        }
        SignerConfig::Pkcs11(k) => {
            for (name, value) in [("token_label", &k.token_label), ("key_label", &k.key_label)] {
                if value.trim().is_empty() {
                    issues.push(field(&at, name), "must not be empty");
                }
            }
            pick_source(
                &at,
                "pin",
                k.pin_file.as_ref(),
                k.pin_credential.as_ref(),
                true,
                issues,
            );
        }
        SignerConfig::Web3signer(w) => validate_web3signer(w, &at, issues),
        SignerConfig::AwsKms(k) => validate_aws_kms(k, &at, issues),
    }
}

/// An `http://` or `https://` URL at `path`.
fn check_http_url(url: &str, path: &str, issues: &mut Issues) {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {}
        Ok(u) => issues.push(path, format!("scheme {} is not http or https", u.scheme())),
        // The parser's reason never quotes the URL, which may carry credentials.
        Err(e) => issues.push(path, format!("not a valid URL: {e}")),
    }
}

fn validate_aws_kms(k: &AwsKmsSignerConfig, at: &str, issues: &mut Issues) {
    if k.key_id.trim().is_empty() {
        issues.push(
            field(at, "key_id"),
            "must name the KMS key (id, ARN or alias)",
        );
    }
    if k.address == alloy::primitives::Address::ZERO {
        issues.push(field(at, "address"), "must be the key's address, not zero");
    }
    if k.region.as_deref().is_some_and(|r| r.trim().is_empty()) {
        issues.push(field(at, "region"), "must not be empty");
    }
    if let Some(url) = &k.endpoint_url {
        check_http_url(url, &field(at, "endpoint_url"), issues);
    }
    if k.timeout.is_zero() {
        issues.push(field(at, "timeout"), "must be more than zero");
    }
    let has_secret = k.secret_access_key_file.is_some() || k.secret_access_key_credential.is_some();
    if k.access_key_id.is_some() != has_secret {
        issues.push(
            field(at, "access_key_id"),
            "access_key_id and secret_access_key_file/secret_access_key_credential go together \
             (or leave all out for the AWS SDK's own credentials)",
        );
    }
    if has_secret {
        pick_source(
            at,
            "secret_access_key",
            k.secret_access_key_file.as_ref(),
            k.secret_access_key_credential.as_ref(),
            true,
            issues,
        );
    }
}

fn validate_web3signer(w: &Web3SignerConfig, at: &str, issues: &mut Issues) {
    check_http_url(&w.url, &field(at, "url"), issues);
    if w.address == alloy::primitives::Address::ZERO {
        issues.push(field(at, "address"), "must be the key's address, not zero");
    }
    if w.timeout.is_zero() {
        issues.push(field(at, "timeout"), "must be more than zero");
    }
    let has_key = w.client_key_file.is_some() || w.client_key_credential.is_some();
    if w.client_cert_file.is_some() != has_key {
        issues.push(
            field(at, "client_cert_file"),
            "client_cert_file and client_key_file/client_key_credential go together",
        );
    }
    if has_key {
        pick_source(
            at,
            "client_key",
            w.client_key_file.as_ref(),
            w.client_key_credential.as_ref(),
            true,
            issues,
        );
    }
}
