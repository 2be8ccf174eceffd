//! docs/api.md documents every route the server has: each (method, path) of
//! the routing table appears in its endpoint table, and each path has its
//! own section (or is listed as an alias), so the document cannot fall
//! behind the code.

use hyper::Method;

#[test]
fn every_route_and_method_is_documented() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/api.md");
    let doc = std::fs::read_to_string(path).expect("docs/api.md");
    let mut missing = Vec::new();
    for spec in govnode::api::ROUTES {
        for m in spec.methods.iter().filter(|m| **m != Method::HEAD) {
            let row = format!("| `{m}` | `{}` |", spec.path);
            if !doc.contains(&row) {
                missing.push(row);
            }
        }
        let auth = if spec.auth.is_empty() {
            "—"
        } else {
            "bearer"
        };
        for m in spec.auth {
            let row = format!("| `{m}` | `{}` | {auth} |", spec.path);
            if !doc.contains(&row) {
                missing.push(format!("{row} (auth)"));
            }
        }
        let own_section = spec
            .methods
            .iter()
            .any(|m| doc.contains(&format!("### `{m} {}`", spec.path)));
        let alias = doc.contains(&format!("`{}` | — | alias of", spec.path))
            || doc.contains(&format!("`{}` | bearer | alias of", spec.path));
        if !own_section && !alias {
            missing.push(format!("a section for {}", spec.path));
        }
    }
    assert!(
        missing.is_empty(),
        "docs/api.md lacks:\n{}",
        missing.join("\n")
    );
}
