//! `govnode restore` refuses what would hurt and says why: while the daemon
//! runs (seen through its control socket, and separately through SQLite's
//! lock on the open ledger), a file that is not a govnode ledger, a backup of
//! another chain or DAO (unless `--force`), a schema newer than this build
//! (even with `--force`), a broken configuration (exit 78). A refused restore
//! leaves the ledger untouched; an accepted one keeps the old ledger beside it.

#[allow(dead_code)]
mod support {
    pub mod anvil;
    pub mod daemon;
    pub mod round_env;
}

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use support::daemon::govnode;
use support::round_env::RoundEnv;

fn votes(path: &Path) -> Vec<(i64, String, String)> {
    let conn =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open ledger");
    let mut stmt = conn
        .prepare("SELECT id, voter, state FROM votes ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn pre_restore_copies(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("ledger.sqlite.pre-restore-")
                && !name.ends_with("-wal")
                && !name.ends_with("-shm")
        })
        .collect();
    found.sort();
    found
}

/// A copy of the devnet's configuration with one text replaced.
fn config_variant(env: &RoundEnv, name: &str, from: &str, to: &str) -> PathBuf {
    let text = std::fs::read_to_string(env.config()).unwrap();
    assert!(text.contains(from), "config holds {from:?}");
    let path = env.dir.path().join(name);
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    path
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_refuses_what_would_hurt_and_keeps_the_old_ledger() {
    let env = RoundEnv::new(4, 2).await;
    let mut daemon = env.daemon(&[]);
    // A backup from before the first round: the live ledger will differ.
    let work = tempfile::tempdir().unwrap();
    let backup = work.path().join("ledger.backup");
    let (code, out) = govnode(&["backup", "--to", s(&backup)], &env.config());
    assert_eq!(code, 0, "{out}");
    let backed_up = votes(&backup);
    assert!(backed_up.is_empty());

    // While the daemon runs: both signs are named.
    let (code, out) = govnode(&["restore", s(&backup)], &env.config());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("daemon is running"), "{out}");
    assert!(out.contains("control socket"), "{out}");
    let pid = daemon.child.id();
    assert!(
        out.contains(&format!("process {pid} has the ledger")),
        "the lock check names the daemon: {out}"
    );
    // A configuration whose socket is elsewhere: the ledger lock alone refuses.
    let elsewhere = config_variant(
        &env,
        "elsewhere.yaml",
        "socket: control.sock",
        "socket: nobody-listens.sock",
    );
    let (code, out) = govnode(&["restore", s(&backup), "--force"], &elsewhere);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("process {pid} has the ledger")) && !out.contains("control socket"),
        "{out}"
    );

    let (code, out) = env.round();
    assert_eq!(code, 0, "{out}");
    let cast = env.vote_casts().await;
    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_exit(Duration::from_secs(30)).success());
    let ledger = env.ledger();
    let live = votes(&ledger);
    assert!(!live.is_empty());
    let untouched = |why: &str| {
        assert_eq!(votes(&ledger), live, "{why}: the ledger is untouched");
        assert!(
            pre_restore_copies(env.dir.path()).is_empty(),
            "{why}: nothing moved"
        );
    };

    // Not a ledger: text, and a SQLite database of some other program.
    let text = work.path().join("notes.txt");
    std::fs::write(&text, "not a database\n").unwrap();
    let (code, out) = govnode(&["restore", s(&text)], &env.config());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not a SQLite database"), "{out}");
    untouched("text file");
    let other = work.path().join("other.sqlite");
    Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES ('hi');")
        .unwrap();
    let (code, out) = govnode(&["restore", s(&other), "--force"], &env.config());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not a govnode ledger"), "{out}");
    untouched("foreign database");
    let (code, out) = govnode(&["restore", s(&work.path().join("missing"))], &env.config());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no such file"), "{out}");

    // A schema from a newer govnode: refused even with --force.
    let newer = work.path().join("newer.backup");
    std::fs::copy(&backup, &newer).unwrap();
    Connection::open(&newer)
        .unwrap()
        .execute_batch("PRAGMA user_version = 99")
        .unwrap();
    let (code, out) = govnode(&["restore", s(&newer), "--force"], &env.config());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("schema version 99") && out.contains("--force does not override"),
        "{out}"
    );
    untouched("newer schema");

    // A configuration for another chain, then for another DAO: refused
    // without --force, naming both sides.
    let other_chain = config_variant(&env, "other-chain.yaml", "id: 31337", "id: 11155111");
    let (code, out) = govnode(&["restore", s(&backup)], &other_chain);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("chain 31337") && out.contains("chain 11155111") && out.contains("--force"),
        "{out}"
    );
    untouched("other chain");
    let dao = format!("{:#x}", env.dao());
    let text = std::fs::read_to_string(env.config()).unwrap();
    let spelled = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("address: "))
        .expect("dao.address line")
        .to_owned();
    let other_dao = config_variant(
        &env,
        "other-dao.yaml",
        &spelled,
        "\"0x000000000000000000000000000000000000dEaD\"",
    );
    let (code, out) = govnode(&["restore", s(&backup)], &other_dao);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&dao) && out.contains("0x000000000000000000000000000000000000dead"),
        "{out}"
    );
    untouched("other DAO");

    // A broken configuration is a configuration problem: 78.
    let broken = config_variant(&env, "broken.yaml", "id: 31337", "id: 0");
    let (code, out) = govnode(&["restore", s(&backup)], &broken);
    assert_eq!(code, 78, "{out}");
    assert!(out.contains("chain.id"), "{out}");
    untouched("broken config");

    // --force restores onto the other-chain configuration (same ledger path)
    // and warns that the daemon will refuse the result until they agree.
    let (code, out) = govnode(&["restore", s(&backup), "--force"], &other_chain);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("warning: --force"), "{out}");
    assert_eq!(votes(&ledger), backed_up, "the backup's rows are in place");
    let kept = pre_restore_copies(env.dir.path());
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(votes(&kept[0]), live, "the old ledger is kept whole");
    assert!(
        out.contains(s(&kept[0])),
        "the report names the copy: {out}"
    );

    // A plain restore with the right configuration; a second copy is kept.
    // As root (as CI runs), the ledger first goes to another owner, as if the
    // daemon ran as its own user: the restored file must follow it.
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid(2) has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        std::os::unix::fs::chown(&ledger, Some(4242), Some(4243)).unwrap();
    }
    let (code, out) = govnode(&["restore", s(&backup)], &env.config());
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("warning"), "{out}");
    assert_eq!(pre_restore_copies(env.dir.path()).len(), 2);
    assert_eq!(votes(&ledger), backed_up);
    if root {
        let meta = std::fs::metadata(&ledger).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (4242, 4243), "owner kept");
        std::os::unix::fs::chown(&ledger, Some(0), Some(0)).unwrap();
    }

    // The daemon starts on the restored (empty) ledger; the chain shows every
    // vote already cast, so none is cast again. The restored ledger does not
    // know the node's transactions: the node is paused until acknowledged.
    let daemon = env.daemon(&[]);
    let (code, out) = env.round();
    assert_eq!(code, 0, "{out}");
    assert_eq!(env.vote_casts().await, cast, "no vote cast twice");
    let ready = reqwest::get(daemon.url("/health/ready"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        ready.contains(&format!("node {} paused", env.node_name(0))),
        "{ready}"
    );
    let (code, out) = support::daemon::ack_key(&env.config(), &env.node_name(0));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("resumes"), "{out}");
}

/// The state tools read only the configuration's own text: with the node
/// key files gone (where `check-config` fails), backup and export still work.
#[tokio::test(flavor = "multi_thread")]
async fn backup_and_export_need_no_secrets() {
    let env = RoundEnv::new(2, 1).await;
    let daemon = env.daemon(&[]);
    let (code, out) = env.round();
    assert_eq!(code, 0, "{out}");
    drop(daemon);
    std::fs::remove_dir_all(env.dir.path().join("keys")).unwrap();
    let (code, _) = support::daemon::check_config(&env.config(), &[]);
    assert_eq!(code, 78, "the keys are really gone");
    let to = env.dir.path().join("b.db");
    let (code, out) = govnode(&["backup", "--to", s(&to)], &env.config());
    assert_eq!(code, 0, "{out}");
    let (code, out) = govnode(&["ledger", "export", "--format", "jsonl"], &env.config());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("\"state\":\"confirmed\""), "{out}");
}
