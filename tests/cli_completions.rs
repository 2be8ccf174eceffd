//! `govnode completions SHELL` and `govnode man` come from the clap
//! definition: the bash script, loaded into a real bash, completes
//! subcommands and their flags; the man page names every subcommand; each
//! command's help offers `--config` only where the command reads it.

use std::process::Command;

const GOVNODE: &str = env!("CARGO_BIN_EXE_govnode");

fn stdout_of(args: &[&str]) -> String {
    let out = Command::new(GOVNODE)
        .args(args)
        .env_remove("GOVNODE_CONFIG")
        .output()
        .expect("run govnode");
    assert!(
        out.status.success(),
        "govnode {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// What bash completes for the words `line` (the last one partial).
fn complete(script: &std::path::Path, line: &[&str]) -> String {
    let words: Vec<String> = line.iter().map(|w| format!("'{w}'")).collect();
    let words = words.join(" ");
    let cword = line.len() - 1;
    let (cur, prev) = (line[cword], line[cword - 1]);
    let program = format!(
        "source {}; COMP_WORDS=({words}); COMP_CWORD={cword}; \
         _govnode govnode '{cur}' '{prev}'; echo \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let out = Command::new("bash")
        .args(["--norc", "-c", &program])
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn bash_completes_subcommands_and_flags() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("govnode.bash");
    std::fs::write(&script, stdout_of(&["completions", "bash"])).expect("write");
    assert_eq!(complete(&script, &["govnode", "pl"]), "plan");
    assert_eq!(
        complete(&script, &["govnode", "round", "--dr"]),
        "--dry-run"
    );
    assert_eq!(
        complete(&script, &["govnode", "ledger", "export", "--format", ""]),
        "jsonl csv"
    );
}

#[test]
fn every_shell_gets_a_script() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = stdout_of(&["completions", shell]);
        assert!(script.contains("check-config"), "{shell}: {script}");
    }
    let out = Command::new(GOVNODE)
        .args(["completions", "tcsh"])
        .output()
        .expect("run govnode");
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

#[test]
fn man_page_names_every_subcommand() {
    let page = stdout_of(&["man"]);
    assert!(page.contains(".TH govnode 1"), "{page}");
    for sub in [
        "run",
        "check\\-config",
        "round",
        "plan",
        "version",
        "completions",
        "man",
        "backup",
        "restore",
        "ledger",
        "devnet",
        "keys",
    ] {
        assert!(
            page.contains(&format!("govnode\\-{sub}")) || page.contains(&format!("\\fB{sub}\\fR")),
            "{sub} is not in the man page:\n{page}"
        );
    }
}

#[test]
fn config_is_offered_only_by_the_commands_that_read_it() {
    let reads = [
        &["run"][..],
        &["check-config"],
        &["round"],
        &["plan"],
        &["backup"],
        &["restore"],
        &["ledger", "init"],
        &["ledger", "export"],
        &["keys", "ack"],
    ];
    let ignores = [
        &["version"][..],
        &["completions"],
        &["man"],
        &["keys", "new"],
        &["keys", "list"],
        &["devnet"],
    ];
    for command in reads {
        let help = stdout_of(&[command, &["--help"]].concat());
        assert!(help.contains("--config"), "{command:?} --help: {help}");
    }
    for command in ignores {
        let help = stdout_of(&[command, &["--help"]].concat());
        assert!(!help.contains("--config"), "{command:?} --help: {help}");
    }
    let out = Command::new(GOVNODE)
        .args(["version", "--config", "/etc/govnode/config.yaml"])
        .output()
        .expect("run govnode version");
    assert_eq!(out.status.code(), Some(2), "version takes no --config");
}
