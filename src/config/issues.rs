//! Collects every configuration problem with its path in the file, so that an
//! operator fixes all of them in one edit instead of one per restart.

use std::fmt;

/// One problem found in the configuration, located by its path in the YAML
/// document (`rpc.endpoints[1].url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// An ordered list of [`ConfigIssue`]s.
#[derive(Debug, Default, Clone)]
pub struct Issues {
    list: Vec<ConfigIssue>,
}

impl Issues {
    pub fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.list.push(ConfigIssue {
            path: path.into(),
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &ConfigIssue> {
        self.list.iter()
    }

    /// Rewrites issue paths (e.g. to name the environment variable that set
    /// a value); `f` returns the new path or `None` to keep it.
    pub fn relabel(&mut self, f: impl Fn(&str) -> Option<String>) {
        for issue in &mut self.list {
            if let Some(path) = f(&issue.path) {
                issue.path = path;
            }
        }
    }

    pub fn into_vec(self) -> Vec<ConfigIssue> {
        self.list
    }
}

/// Joins a parent path and a key the way the issues print them.
pub fn field(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// Joins a parent path and a list index.
pub fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

/// Implemented by every configuration section: appends what is wrong with it.
pub trait Validate {
    fn validate(&self, path: &str, issues: &mut Issues);
}
