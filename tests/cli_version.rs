//! `govnode version` names the commit it was built from: the build's
//! `GOVNODE_COMMIT`, else the checkout's HEAD, else `unknown`.

use std::process::Command;

#[test]
fn version_names_the_commit() {
    let out = Command::new(env!("CARGO_BIN_EXE_govnode"))
        .arg("version")
        .output()
        .expect("run govnode");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let commit = env!("GOVNODE_COMMIT");
    assert_eq!(
        text,
        format!("govnode {} (commit {commit})\n", env!("CARGO_PKG_VERSION"))
    );
    assert!(!commit.is_empty());
    // Built from a git checkout without an override: HEAD as git sees it.
    let head = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output();
    if let Ok(head) = head
        && head.status.success()
        && std::env::var_os("GOVNODE_COMMIT").is_none()
    {
        assert_eq!(commit, String::from_utf8_lossy(&head.stdout).trim());
    }
}
