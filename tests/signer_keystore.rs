//! Encrypted keystores end to end: keystores written by `govnode keys import`,
//! by foundry's `cast wallet import` (scrypt) and as pbkdf2 sign real votes
//! that a real anvil counts once per pair; a wrong password exits 78 at start
//! without showing it; `govnode keys new` / `list` write mode 0600 and show
//! addresses only.

#[allow(dead_code)]
mod support {
    pub mod anvil;
    pub mod daemon;
    pub mod keystore_v3;
    pub mod round_env;
}

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output};

use alloy::primitives::B256;
use support::daemon::{binary, check_config};
use support::round_env::RoundEnv;

const PASSWORD: &str = "pw-c0rrect-h0rse-n0t-logged";

fn govnode(args: &[&str]) -> Output {
    let mut cmd = Command::new(binary());
    cmd.args(args);
    // No controlling terminal: a missing password must not wait for one.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    cmd.output().expect("run govnode")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn cast() -> String {
    std::env::var("GOVNODE_CAST").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tools/node_modules/@foundry-rs/cast-linux-amd64/bin/cast"
        )
        .to_owned()
    })
}

fn node_names(env: &RoundEnv) -> Vec<String> {
    env.devnet["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["name"].as_str().expect("name").to_owned())
        .collect()
}

fn hex_key(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join("keys").join(name))
        .expect("devnet key")
        .trim()
        .to_owned()
}

/// Points node `name` at a keystore instead of its devnet key file.
fn use_keystore(config: &str, name: &str, keystore: &Path, password_file: &Path) -> String {
    let old = format!("  - name: {name}\n    key_file: keys/{name}\n");
    assert!(
        config.contains(&old),
        "devnet config names {name}'s key file"
    );
    config.replace(
        &old,
        &format!(
            "  - name: {name}\n    signer:\n      kind: keystore\n      path: {}\n      password_file: {}\n",
            keystore.display(),
            password_file.display()
        ),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn keystores_from_three_writers_vote_once_per_pair_and_a_wrong_password_exits_78() {
    let env = RoundEnv::new(4, 3).await;
    let dir = env.dir.path();
    let names = node_names(&env);
    let stores = dir.join("keystores");
    std::fs::create_dir_all(&stores).unwrap();
    let password_file = dir.join("keystore-password");
    std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();

    // Node 1: `govnode keys import`, key and password from files.
    let out = govnode(&[
        "keys",
        "import",
        "--dir",
        stores.to_str().unwrap(),
        "--name",
        &names[0],
        "--key-file",
        dir.join("keys").join(&names[0]).to_str().unwrap(),
        "--password-file",
        password_file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "keys import: {}", text(&out));
    assert!(!text(&out).contains(PASSWORD));
    assert!(!text(&out).contains(hex_key(dir, &names[0]).trim_start_matches("0x")));
    let first = stores.join(&names[0]);
    assert_eq!(
        std::fs::metadata(&first).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // Node 2: foundry's `cast wallet import` (scrypt), offline.
    let out = Command::new(cast())
        .args(["wallet", "import", &names[1], "--private-key"])
        .arg(hex_key(dir, &names[1]))
        .arg("--keystore-dir")
        .arg(&stores)
        .args(["--unsafe-password", PASSWORD])
        .output()
        .expect("run cast");
    assert!(out.status.success(), "cast wallet import: {}", text(&out));

    // Node 3: a pbkdf2 keystore.
    let third = stores.join(format!("{}.pbkdf2.json", names[2]));
    let key: B256 = hex_key(dir, &names[2]).parse().expect("hex key");
    support::keystore_v3::write_pbkdf2(&third, key, PASSWORD, 4096);

    let mut config = std::fs::read_to_string(env.config()).unwrap();
    config = use_keystore(&config, &names[0], &first, &password_file);
    config = use_keystore(&config, &names[1], &stores.join(&names[1]), &password_file);
    config = use_keystore(&config, &names[2], &third, &password_file);
    assert!(
        !config.contains("key_file: keys/"),
        "every node uses a keystore"
    );

    // A wrong password: exit 78, the field named, the password not shown.
    let wrong_password = dir.join("wrong-password");
    std::fs::write(&wrong_password, "not-the-password-4711").unwrap();
    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        config.replacen(
            password_file.to_str().unwrap(),
            wrong_password.to_str().unwrap(),
            1,
        ),
    )
    .unwrap();
    let (code, out) = check_config(&bad, &[]);
    assert_eq!(code, 78, "{out}");
    assert!(out.contains("nodes[0].signer.path"), "{out}");
    assert!(out.contains("wrong password"), "{out}");
    assert!(!out.contains("not-the-password-4711"), "{out}");

    std::fs::write(env.config(), &config).unwrap();
    let (code, out) = check_config(&env.config(), &[]);
    assert_eq!(code, 0, "{out}");

    let daemon = env.daemon(&[]);
    let (code, out) = env.round();
    assert_eq!(code, 0, "round with keystores: {out}");
    let counts = env.vote_casts().await;
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
    for node in env.node_addresses() {
        assert!(
            counts.keys().any(|(_, v)| *v == node),
            "{node} voted through its keystore: {counts:?}"
        );
    }
    assert_eq!(
        env.confirmed_decisions().len(),
        counts.len(),
        "the ledger confirms what the chain counts"
    );
    let logs = daemon.output();
    assert!(!logs.contains(PASSWORD), "password in the daemon's log");
}

fn keys_new(dir: &Path, name: &str, password_file: Option<&Path>) -> Output {
    let mut args = vec![
        "keys",
        "new",
        "--dir",
        dir.to_str().unwrap(),
        "--name",
        name,
    ];
    if let Some(p) = password_file {
        args.extend(["--password-file", p.to_str().unwrap()]);
    }
    govnode(&args)
}

#[test]
fn keys_new_writes_a_private_keystore_and_list_shows_its_address_only() {
    let dir = tempfile::tempdir().unwrap();
    let stores = dir.path().join("ks");
    let password_file = dir.path().join("pw");
    std::fs::write(&password_file, PASSWORD).unwrap();
    let out = keys_new(&stores, "n1", Some(&password_file));
    assert!(out.status.success(), "{}", text(&out));
    let printed = String::from_utf8_lossy(&out.stdout);
    let address = printed
        .split_whitespace()
        .next()
        .expect("address")
        .to_owned();
    assert!(
        address.starts_with("0x") && address.len() == 42,
        "{printed}"
    );
    assert!(!text(&out).contains(PASSWORD));
    let path = stores.join("n1");
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // The same name again is refused, the keystore untouched.
    let before = std::fs::read(&path).unwrap();
    let again = keys_new(&stores, "n1", Some(&password_file));
    assert!(!again.status.success());
    assert!(text(&again).contains("already exists"), "{}", text(&again));
    assert_eq!(std::fs::read(&path).unwrap(), before);

    let list = govnode(&["keys", "list", "--dir", stores.to_str().unwrap()]);
    assert!(list.status.success(), "{}", text(&list));
    let listed = String::from_utf8_lossy(&list.stdout).to_lowercase();
    assert_eq!(listed.trim(), format!("{} n1", address.to_lowercase()));

    // No password source and no terminal: a usage error, nothing written.
    let none = keys_new(&stores, "n2", None);
    assert_eq!(none.status.code(), Some(2), "{}", text(&none));
    assert!(text(&none).contains("not a terminal"), "{}", text(&none));
    assert!(!stores.join("n2").exists());
}
