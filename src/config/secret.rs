//! Secrets are never inline in the configuration: a field names a file, or a
//! systemd credential resolved under `$CREDENTIALS_DIRECTORY`. This module
//! resolves those references and keeps the values out of `Debug` output.

use std::fmt;
use std::path::{Path, PathBuf};

use super::issues::{Issues, field};

/// Where a secret is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// A file path, already resolved against the configuration file's directory.
    File(PathBuf),
    /// A systemd credential name (`LoadCredential=NAME:...`).
    Credential(String),
}

impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::File(p) => write!(f, "file {}", p.display()),
            SecretSource::Credential(n) => write!(f, "credential {n}"),
        }
    }
}

/// A secret value. Its `Debug` and `Display` never show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself; call sites are the only places a secret is exposed.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{source_desc}: cannot read: {reason}")]
    Unreadable { source_desc: String, reason: String },
    #[error("{source_desc}: is empty")]
    Empty { source_desc: String },
    #[error(
        "credential {name}: $CREDENTIALS_DIRECTORY is not set (run under systemd with LoadCredential={name}:PATH, or set it to a directory holding the file {name})"
    )]
    NoCredentialsDirectory { name: String },
}

impl SecretSource {
    /// Reads the secret, trimming surrounding whitespace (files usually end in a newline).
    pub fn read(&self, credentials_dir: Option<&Path>) -> Result<Secret, SecretError> {
        let path = match self {
            SecretSource::File(p) => p.clone(),
            SecretSource::Credential(name) => match credentials_dir {
                Some(dir) => dir.join(name),
                None => return Err(SecretError::NoCredentialsDirectory { name: name.clone() }),
            },
        };
        let raw = std::fs::read_to_string(&path).map_err(|e| SecretError::Unreadable {
            source_desc: self.to_string(),
            reason: e.to_string(),
        })?;
        let value = raw.trim();
        if value.is_empty() {
            return Err(SecretError::Empty {
                source_desc: self.to_string(),
            });
        }
        Ok(Secret::new(value))
    }
}

/// Checks that exactly one of `<stem>_file` / `<stem>_credential` is set (or
/// none when `required` is false) and returns the source.
pub fn pick_source(
    parent: &str,
    stem: &str,
    file: Option<&PathBuf>,
    credential: Option<&String>,
    required: bool,
    issues: &mut Issues,
) -> Option<SecretSource> {
    match (file, credential) {
        (Some(_), Some(_)) => {
            issues.push(
                field(parent, &format!("{stem}_file")),
                format!("set either {stem}_file or {stem}_credential, not both"),
            );
            None
        }
        (Some(f), None) => Some(SecretSource::File(f.clone())),
        (None, Some(c)) => {
            if !is_valid_credential_name(c) {
                issues.push(
                    field(parent, &format!("{stem}_credential")),
                    "credential names may contain only letters, digits, '-', '_', '.' and '@'",
                );
                None
            } else {
                Some(SecretSource::Credential(c.clone()))
            }
        }
        (None, None) => {
            if required {
                issues.push(
                    parent.to_owned(),
                    format!("missing {stem}_file or {stem}_credential"),
                );
            }
            None
        }
    }
}

fn is_valid_credential_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!format!("{s}").contains("hunter2"));
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn credential_without_directory_says_how_to_fix() {
        let err = SecretSource::Credential("api-token".into())
            .read(None)
            .unwrap_err();
        assert!(err.to_string().contains("LoadCredential=api-token"));
    }

    #[test]
    fn reads_and_trims_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tok");
        std::fs::write(&p, "abc\n").unwrap();
        let s = SecretSource::File(p).read(None).unwrap();
        assert_eq!(s.expose(), "abc");
    }

    #[test]
    fn both_sources_is_an_issue() {
        let mut issues = Issues::default();
        let f = PathBuf::from("/x");
        let c = "y".to_string();
        assert!(pick_source("api", "token", Some(&f), Some(&c), false, &mut issues).is_none());
        assert_eq!(issues.len(), 1);
    }
}
