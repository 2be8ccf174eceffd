//! Records the commit govnode is built from as `GOVNODE_COMMIT` for
//! `govnode version`: the `GOVNODE_COMMIT` environment variable when set
//! (a Nix build has no `.git`; the package passes the flake's revision),
//! else `git rev-parse HEAD` when git and a checkout are there, else
//! `unknown`.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn main() {
    println!("cargo:rerun-if-env-changed=GOVNODE_COMMIT");
    let commit = std::env::var("GOVNODE_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .map(|c| c.trim().to_owned())
        .or_else(|| {
            // Rebuilt when HEAD moves: HEAD itself, and the branch it points to.
            for path in [
                Some("HEAD".to_owned()),
                git(&["symbolic-ref", "-q", "HEAD"]),
            ]
            .into_iter()
            .flatten()
            {
                if let Some(p) = git(&["rev-parse", "--git-path", &path]) {
                    println!("cargo:rerun-if-changed={p}");
                }
            }
            if let Some(p) = git(&["rev-parse", "--git-path", "packed-refs"]) {
                println!("cargo:rerun-if-changed={p}");
            }
            git(&["rev-parse", "HEAD"])
        })
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=GOVNODE_COMMIT={commit}");
}
