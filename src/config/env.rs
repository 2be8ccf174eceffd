//! `GOVNODE__SECTION__KEY=value` overrides for single values, applied to the
//! parsed YAML before it is deserialized so they are validated like the file.

use serde_norway::{Mapping, Value};

use super::issues::Issues;

pub const PREFIX: &str = "GOVNODE__";

/// Applies every `GOVNODE__…` variable to `doc`. List elements are addressed
/// by index (`GOVNODE__RPC__ENDPOINTS__0__URL_FILE`).
pub fn apply_overrides<I>(doc: &mut Value, vars: I, issues: &mut Issues)
where
    I: IntoIterator<Item = (String, String)>,
{
    let mut vars: Vec<(String, String)> = vars
        .into_iter()
        .filter(|(k, _)| k.starts_with(PREFIX))
        .collect();
    // Deterministic order, so that the same environment always yields the same config.
    vars.sort();
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
        if let Err(message) = set_path(doc, &segments, value) {
            issues.push(format!("env {name}"), message);
        }
    }
}

/// Values are read as YAML scalars so that `5001` is a number and `true` a bool.
fn scalar(raw: &str) -> Value {
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
        apply_overrides(
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
