//! docs/openapi.yaml describes exactly the routes the server answers: every
//! (path, method) of the routing table is an operation and every operation
//! is a route. `HEAD` and `OPTIONS` are implicit (the spec's description
//! says so): `HEAD` wherever `GET` is, `OPTIONS` everywhere. Every operation
//! documents its answers (a success, 429 with `Retry-After`), the
//! token-guarded ones declare the bearer scheme with their 401/403, and every
//! `$ref` resolves.

use std::collections::BTreeSet;

use hyper::Method;
use serde_json::Value;

const OPERATION_KEYS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn spec() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.yaml");
    let text = std::fs::read_to_string(path).expect("docs/openapi.yaml");
    serde_norway::from_str(&text).expect("docs/openapi.yaml is YAML")
}

/// Follows a local `$ref` (`#/components/...`) once, if `v` is one.
fn deref<'a>(root: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => root
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("unresolved $ref {r}")),
        None => v,
    }
}

fn operations(root: &Value) -> Vec<(String, String, &Value)> {
    let paths = root["paths"].as_object().expect("paths is a map");
    let mut ops = Vec::new();
    for (path, item) in paths {
        let item = item.as_object().expect("a path item is a map");
        for (key, op) in item {
            if OPERATION_KEYS.contains(&key.as_str()) {
                ops.push((path.clone(), key.to_uppercase(), op));
            }
        }
    }
    ops
}

#[test]
fn spec_and_routing_table_list_the_same_operations() {
    let root = spec();
    let mut from_routes = BTreeSet::new();
    for route in govnode::api::ROUTES {
        if route.methods.contains(&Method::HEAD) {
            assert!(
                route.methods.contains(&Method::GET),
                "{}: HEAD without GET cannot be implicit in the spec",
                route.path
            );
        }
        for m in route.methods.iter().filter(|m| **m != Method::HEAD) {
            from_routes.insert((route.path.to_owned(), m.as_str().to_owned()));
        }
    }
    let from_spec: BTreeSet<(String, String)> = operations(&root)
        .into_iter()
        .map(|(p, m, _)| (p, m))
        .collect();
    for (path, method) in &from_spec {
        assert!(
            method != "HEAD" && method != "OPTIONS",
            "{method} {path}: HEAD and OPTIONS are implicit, not operations"
        );
    }
    let undocumented: Vec<_> = from_routes.difference(&from_spec).collect();
    let unserved: Vec<_> = from_spec.difference(&from_routes).collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "routes missing from docs/openapi.yaml: {undocumented:?}\n\
         operations the server does not answer: {unserved:?}"
    );
    let description = root["info"]["description"].as_str().unwrap_or_default();
    assert!(
        description.contains("`HEAD` is answered wherever `GET` is"),
        "the spec must state the implicit HEAD rule"
    );
}

/// The paths DLoop's node served, where compat mode answers in its shapes.
const DLOOP_PATHS: &[&str] = &[
    "/",
    "/health",
    "/nodes",
    "/active-proposals",
    "/trigger-voting",
    "/emergency-voting",
];

/// The error envelope, alone or offered beside DLoop's failure shapes.
fn error_schema(schema: &Value, dloop_path: bool) -> bool {
    let is = |v: &Value, name: &str| {
        v.get("$ref").and_then(Value::as_str) == Some(&format!("#/components/schemas/{name}"))
    };
    let dloop = |v: &Value| dloop_path && (is(v, "DloopFailure") || is(v, "DloopHealth"));
    if is(schema, "Error") || dloop(schema) {
        return true;
    }
    schema
        .get("anyOf")
        .and_then(Value::as_array)
        .is_some_and(|alts| alts.iter().all(|a| is(a, "Error") || dloop(a)))
}

#[test]
fn every_operation_documents_its_answers() {
    let root = spec();
    let mut problems = Vec::new();
    for (path, method, op) in operations(&root) {
        let Some(responses) = op.get("responses").and_then(Value::as_object) else {
            problems.push(format!("{method} {path}: no responses"));
            continue;
        };
        if !responses.keys().any(|code| code.starts_with('2')) {
            problems.push(format!("{method} {path}: no 2xx response"));
        }
        match responses.get("429").map(|r| deref(&root, r)) {
            Some(r) if deref(&root, &r["headers"]["Retry-After"]).is_object() => {}
            _ => problems.push(format!("{method} {path}: no 429 with Retry-After")),
        }
        for (code, r) in responses {
            let r = deref(&root, r);
            if r.get("description").and_then(Value::as_str).is_none() {
                problems.push(format!("{method} {path} {code}: no description"));
            }
            // 4xx/5xx carry the error envelope, except /health/ready's 503
            // and the DLoop shapes that compat mode answers on DLoop's paths.
            let envelope = code.starts_with('4') || code.starts_with('5');
            if envelope && path != "/health/ready" {
                let schema = &r["content"]["application/json"]["schema"];
                if !error_schema(schema, DLOOP_PATHS.contains(&path.as_str())) {
                    problems.push(format!("{method} {path} {code}: not the error envelope"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn token_guarded_operations_declare_bearer_auth() {
    let root = spec();
    let scheme = &root["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    assert!(
        root.get("security").is_none(),
        "no global security: most endpoints are open"
    );
    for route in govnode::api::ROUTES {
        for m in route.methods.iter().filter(|m| **m != Method::HEAD) {
            let op = &root["paths"][route.path][m.as_str().to_lowercase()];
            let declared = op["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|req| req.get("bearerAuth").is_some()));
            let guarded = route.auth.contains(m);
            assert_eq!(
                declared, guarded,
                "{m} {}: bearer security declared {declared}, needed {guarded}",
                route.path
            );
            if guarded {
                for code in ["401", "403"] {
                    assert!(
                        op["responses"].get(code).is_some(),
                        "{m} {}: no {code}",
                        route.path
                    );
                }
            }
        }
    }
}

#[test]
fn every_reference_resolves() {
    fn walk(root: &Value, v: &Value, unresolved: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref")
                    && (!r.starts_with("#/") || root.pointer(&r[1..]).is_none())
                {
                    unresolved.push(r.clone());
                }
                map.values().for_each(|x| walk(root, x, unresolved));
            }
            Value::Array(items) => items.iter().for_each(|x| walk(root, x, unresolved)),
            _ => {}
        }
    }
    let root = spec();
    let mut unresolved = Vec::new();
    walk(&root, &root, &mut unresolved);
    assert!(unresolved.is_empty(), "unresolved $refs: {unresolved:?}");
    assert!(
        root["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.")),
        "an OpenAPI 3 document"
    );
}
