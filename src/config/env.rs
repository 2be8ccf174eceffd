//! `GOVNODE__SECTION__KEY=value` overrides for single values, applied to the
//! parsed YAML before it is deserialized so they are validated like the file.

use serde_norway::{Mapping, Value};

use super::issues::Issues;

pub const PREFIX: &str = "GOVNODE__";

/// One value an environment variable set: problems found later at `path`
/// (or inside it) are the variable's, not the file's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub var: String,
    /// The path as issues print it (`rpc.endpoints[0].url`).
    pub path: String,
}

impl Override {
    /// The issue path naming the variable, with the setting it overrode.
    pub fn label(&self, issue_path: &str) -> Option<String> {
        let inside = issue_path == self.path
            || issue_path
                .strip_prefix(self.path.as_str())
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['));
        inside.then(|| format!("env {} ({issue_path})", self.var))
    }
}

/// Applies every `GOVNODE__…` variable to `doc`. List elements are addressed
/// by index (`GOVNODE__RPC__ENDPOINTS__0__URL_FILE`). Returns what was set.
pub fn apply_overrides<I>(doc: &mut Value, vars: I, issues: &mut Issues) -> Vec<Override>
where
    I: IntoIterator<Item = (String, String)>,
{
    let mut vars: Vec<(String, String)> = vars
        .into_iter()
        .filter(|(k, _)| k.starts_with(PREFIX))
        .collect();
    // Deterministic order, so that the same environment always yields the same config.
    vars.sort();
    let mut applied = Vec::new();
    for (name, raw) in vars {
        let segments: Vec<String> = name[PREFIX.len()..]
            .split("__")
            .map(|s| s.to_ascii_lowercase())
            .collect();
        if segments.iter().any(|s| s.is_empty()) {
            issues.push(format!("env {name}"), "empty path segment");
            continue;
        }
        let value = scalar(&raw);
        match set_path(doc, &segments, value) {
            Err(message) => issues.push(format!("env {name}"), message),
            Ok(()) => applied.push(Override {
                path: issue_path(&segments),
                var: name,
            }),
        }
    }
    applied
}

/// `["rpc", "endpoints", "0", "url"]` → `rpc.endpoints[0].url`.
fn issue_path(segments: &[String]) -> String {
    let mut out = String::new();
    for s in segments {
        if s.parse::<usize>().is_ok() {
            out.push_str(&format!("[{s}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(s);
        }
    }
    out
}

/// Values are read as YAML scalars so that `5001` is a number and `true` a bool.
/// `0x…` stays a string: it is an address or a hash, never meant as a number
/// (YAML would read `0x00…00` as the integer 0).
fn scalar(raw: &str) -> Value {
    if raw.starts_with("0x") || raw.starts_with("0X") {
        return Value::String(raw.to_owned());
    }
    match serde_norway::from_str::<Value>(raw) {
        Ok(v @ (Value::Bool(_) | Value::Number(_) | Value::String(_) | Value::Null)) => v,
        _ => Value::String(raw.to_owned()),
    }
}

fn set_path(node: &mut Value, segments: &[String], value: Value) -> Result<(), String> {
    let Some((head, rest)) = segments.split_first() else {
        *node = value;
        return Ok(());
    };
    if node.is_null() {
        *node = Value::Mapping(Mapping::new());
    }
    match node {
        Value::Mapping(map) => {
            let key = Value::String(head.clone());
            let child = map.entry(key).or_insert(Value::Null);
            set_path(child, rest, value)
        }
        Value::Sequence(seq) => {
            let i: usize = head
                .parse()
                .map_err(|_| format!("{head:?} must be a list index"))?;
            let len = seq.len();
            let child = seq
                .get_mut(i)
                .ok_or_else(|| format!("index {i} is beyond the list's {len} elements"))?;
            set_path(child, rest, value)
        }
        _ => Err(format!("cannot set {head:?} inside a scalar value")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_nested_values_and_types() {
        let mut doc: Value =
            serde_norway::from_str("api: {listen: '127.0.0.1:1'}\nrpc: {endpoints: [{name: a}]}")
                .unwrap();
        let mut issues = Issues::default();
        let applied = apply_overrides(
            &mut doc,
            [
                ("GOVNODE__API__LISTEN".to_string(), "0.0.0.0:9".to_string()),
                (
                    "GOVNODE__RPC__ENDPOINTS__0__PRIORITY".to_string(),
                    "3".to_string(),
                ),
                ("GOVNODE__ROUND__DRY_RUN".to_string(), "true".to_string()),
                ("OTHER".to_string(), "x".to_string()),
            ],
            &mut issues,
        );
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(doc["api"]["listen"], Value::String("0.0.0.0:9".into()));
        assert_eq!(
            doc["rpc"]["endpoints"][0]["priority"],
            Value::Number(3.into())
        );
        assert_eq!(doc["round"]["dry_run"], Value::Bool(true));
        let paths: Vec<&str> = applied.iter().map(|o| o.path.as_str()).collect();
        assert_eq!(
            paths,
            ["api.listen", "round.dry_run", "rpc.endpoints[0].priority"]
        );
        assert_eq!(
            applied[2].label("rpc.endpoints[0].priority").as_deref(),
            Some("env GOVNODE__RPC__ENDPOINTS__0__PRIORITY (rpc.endpoints[0].priority)")
        );
        assert_eq!(applied[0].label("api.listener"), None);
    }

    #[test]
    fn bad_index_is_reported() {
        let mut doc: Value = serde_norway::from_str("rpc: {endpoints: []}").unwrap();
        let mut issues = Issues::default();
        apply_overrides(
            &mut doc,
            [(
                "GOVNODE__RPC__ENDPOINTS__2__URL".to_string(),
                "x".to_string(),
            )],
            &mut issues,
        );
        assert_eq!(issues.len(), 1);
        assert!(
            issues
                .iter()
                .next()
                .unwrap()
                .path
                .contains("GOVNODE__RPC__ENDPOINTS__2__URL")
        );
    }
}
