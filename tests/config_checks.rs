//! `check-config` refuses what `run` would refuse or act on wrongly, and
//! `run` refuses it the same way (exit 78, the place named): two nodes with
//! one key, DAO addresses with a broken EIP-55 checksum or zero, a ledger path
//! that is a directory or an empty file, a control socket in a missing
//! directory, a bad `RUST_LOG`; environment overrides are named as
//! `env GOVNODE__…`. A second daemon on a locked state directory exits 73.

mod support {
    pub mod daemon;
}

use std::process::Command;
use std::time::Duration;

use support::daemon::{Daemon, Workdir, base_config, binary, check_config, free_port};

const EX_CONFIG: i32 = 78;
const EX_LOCKED: i32 = 73;
/// anvil's second development key (public knowledge).
const OTHER_KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9c86dae88c7a8412f4603b6b78690d";
const DAO: &str = "0x5FbDB2315678afecb367f032d93F642f64180aa3";

fn run_exit(path: &std::path::Path, envs: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = Command::new(binary());
    cmd.args(["run", "--config"])
        .arg(path)
        .env_remove("NOTIFY_SOCKET")
        .env_remove("RUST_LOG");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run govnode");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Both `check-config` and `run` refuse with 78 and every needle.
fn refused(work: &Workdir, yaml: &str, envs: &[(&str, &str)], expected: &[&str]) -> String {
    let path = work.write("config.yaml", yaml);
    let (code, out) = check_config(&path, envs);
    assert_eq!(code, EX_CONFIG, "check-config exit code; output: {out}");
    for needle in expected {
        assert!(out.contains(needle), "expected {needle:?} in: {out}");
    }
    let (code, run_out) = run_exit(&path, envs);
    assert_eq!(code, EX_CONFIG, "run exit code; output: {run_out}");
    for needle in expected {
        assert!(
            run_out.contains(needle),
            "run: expected {needle:?} in: {run_out}"
        );
    }
    out
}

fn config(extra: &str) -> String {
    base_config(free_port(), "http://127.0.0.1:9", extra)
}

#[test]
fn two_nodes_with_one_key_are_refused() {
    let work = Workdir::new();
    work.write(
        "same.key",
        &std::fs::read_to_string(work.path().join("node.key")).unwrap(),
    );
    work.write("other.key", OTHER_KEY);
    let two = |second_key: &str| {
        config("").replace(
            "nodes:\n  - name: ai-gov-01\n    key_file: node.key\n    strategy: conservative\n",
            &format!(
                "nodes:\n  - name: ai-gov-01\n    key_file: node.key\n  - name: ai-gov-02\n    key_file: {second_key}\n"
            ),
        )
    };
    let out = refused(
        &work,
        &two("same.key"),
        &[],
        &[
            "nodes[1]: holds the same key (address 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266) as node \"ai-gov-01\"",
        ],
    );
    assert!(
        !out.contains("ac0974bec39a17e36ba4a6b4d238ff94"),
        "no key in: {out}"
    );
    // Two distinct keys pass.
    let path = work.write("config.yaml", &two("other.key"));
    let (code, out) = check_config(&path, &[]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn dao_address_checksum_and_zero_are_refused() {
    let work = Workdir::new();
    // One letter's case changed: the same bytes, a broken checksum.
    let typo = "0x5FbDB2315678afecb367f032d93F642f64180aA3";
    refused(
        &work,
        &config("").replace(DAO, typo),
        &[],
        &["dao.address: fails its EIP-55 checksum", DAO],
    );
    refused(
        &work,
        &config("").replace(DAO, "0x0000000000000000000000000000000000000000"),
        &[],
        &["dao.address: is the zero address"],
    );
    // Lower case carries no checksum and is accepted.
    let path = work.write("config.yaml", &config("").replace(DAO, &DAO.to_lowercase()));
    let (code, out) = check_config(&path, &[]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn ledger_path_that_is_a_directory_is_refused() {
    let work = Workdir::new();
    std::fs::create_dir(work.path().join("ledger.sqlite")).unwrap();
    refused(
        &work,
        &config(""),
        &[],
        &["ledger.path:", "ledger.sqlite is a directory"],
    );
}

#[test]
fn empty_ledger_is_refused_until_ledger_init_makes_one() {
    let work = Workdir::new();
    let ledger = work.write("ledger.sqlite", "");
    refused(
        &work,
        &config(""),
        &[],
        &["ledger.path:", "is empty (0 bytes)", "govnode ledger init"],
    );
    assert_eq!(
        std::fs::metadata(&ledger).unwrap().len(),
        0,
        "run left it alone"
    );

    let path = work.path().join("config.yaml");
    let init = |path: &std::path::Path| {
        let out = Command::new(binary())
            .args(["ledger", "init", "--config"])
            .arg(path)
            .output()
            .expect("ledger init");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (code, out) = init(&path);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("was an empty file; replaced by a fresh ledger"),
        "{out}"
    );
    assert!(std::fs::metadata(&ledger).unwrap().len() > 0);
    let (code, out) = check_config(&path, &[]);
    assert_eq!(code, 0, "{out}");
    // A second init only checks.
    let (code, out) = init(&path);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("already a govnode ledger"), "{out}");
}

#[test]
fn control_socket_in_a_missing_directory_is_refused_and_not_created() {
    let work = Workdir::new();
    let yaml = config("").replace("socket: control.sock", "socket: nowhere/control.sock");
    refused(
        &work,
        &yaml,
        &[],
        &["control.socket:", "nowhere does not exist"],
    );
    assert!(
        !work.path().join("nowhere").exists(),
        "run must not create it"
    );
}

#[test]
fn bad_rust_log_is_refused_naming_the_variable_and_directive() {
    let work = Workdir::new();
    refused(
        &work,
        &config(""),
        &[("RUST_LOG", "info,govnode=loud")],
        &["env RUST_LOG: invalid log filter \"info,govnode=loud\""],
    );
}

#[test]
fn bad_environment_override_is_blamed_on_the_variable() {
    let work = Workdir::new();
    let out = refused(
        &work,
        &config(""),
        &[("GOVNODE__CHAIN__ID", "abc")],
        &["env GOVNODE__CHAIN__ID (chain.id):", "invalid type"],
    );
    let file = work.path().join("config.yaml");
    assert!(
        !out.contains(&format!("{}: chain.id", file.display())),
        "the file is not to blame: {out}"
    );
    // Problems found after deserialization are the variable's too.
    refused(
        &work,
        &config(""),
        &[(
            "GOVNODE__DAO__ADDRESS",
            "0x0000000000000000000000000000000000000000",
        )],
        &["env GOVNODE__DAO__ADDRESS (dao.address): is the zero address"],
    );
}

#[test]
fn second_daemon_on_a_locked_state_directory_exits_73() {
    let work = Workdir::new();
    let api = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
    let first_yaml = base_config(
        api.port(),
        "http://127.0.0.1:9",
        "api:\n  listen: 127.0.0.1:API_PORT\n",
    )
    .replace("API_PORT", &api.port().to_string());
    let first = work.write("first.yaml", &first_yaml);
    let mut daemon = Daemon::spawn(&first, api, &[]);
    daemon.wait_live(Duration::from_secs(20));

    // Its own socket and API port, the same ledger.
    let second_port = free_port();
    let second_yaml = base_config(
        second_port,
        "http://127.0.0.1:9",
        &format!("api:\n  listen: 127.0.0.1:{second_port}\n"),
    )
    .replace("socket: control.sock", "socket: second.sock");
    let second = work.write("second.yaml", &second_yaml);
    let mut other = Daemon::spawn(
        &second,
        std::net::SocketAddr::from(([127, 0, 0, 1], second_port)),
        &[],
    );
    let code = other.wait_exit(Duration::from_secs(20)).code();
    let out = other.output();
    assert_eq!(code, Some(EX_LOCKED), "{out}");
    assert!(out.contains("is in use by another govnode"), "{out}");
    assert!(out.contains(&format!("pid {}", daemon.child.id())), "{out}");
    assert!(!work.path().join("second.sock").exists(), "{out}");
}
