//! The state tools on a real PostgreSQL (tests/support/postgres.rs) after a
//! real round on anvil: `ledger migrate --to postgres` moves a SQLite
//! ledger's votes (backup first, every row and id kept, the SQLite ledger
//! then refused by the daemon); `ledger export`, `backup` and `restore` work
//! on the PostgreSQL ledger, with backups in the same format as SQLite's; and
//! the refusals (a non-empty database, a password on the command line, a
//! running daemon, a database that does not exist) say what is wrong without
//! the password.

#[allow(dead_code)]
mod support {
    pub mod anvil;
    pub mod daemon;
    pub mod postgres;
    pub mod round_env;
}

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use support::daemon::{Daemon, govnode_with_env};
use support::postgres::{PASSWORD, Postgres};
use support::round_env::RoundEnv;

const NODES: u32 = 2;
const PROPOSALS: u32 = 3;
const PAIRS: usize = (NODES * PROPOSALS) as usize;

/// `govnode ARGS --config CONFIG` with the test's state directory (where a
/// PostgreSQL ledger's tools keep their files): (exit code, stdout + stderr).
fn govnode(args: &[&str], config: &Path) -> (i32, String) {
    let state = config.parent().expect("config directory");
    govnode_with_env(
        args,
        config,
        &[("STATE_DIRECTORY", state.to_str().expect("UTF-8"))],
    )
}

/// `ledger migrate --to postgres --url-file FILE`.
fn migrate_args(url_file: &str) -> [&str; 6] {
    [
        "ledger",
        "migrate",
        "--to",
        "postgres",
        "--url-file",
        url_file,
    ]
}

/// With a PostgreSQL ledger the daemon's lock stays in the state directory.
fn daemon_envs(env: &RoundEnv) -> Vec<(String, String)> {
    let mut envs = env.vote_on_everything(NODES);
    envs.push((
        "STATE_DIRECTORY".into(),
        env.dir.path().to_str().expect("UTF-8 path").to_owned(),
    ));
    envs
}

fn stop(mut d: Daemon) -> String {
    d.signal(libc::SIGTERM);
    let status = d.wait_exit(Duration::from_secs(30));
    let out = d.output();
    assert!(status.success(), "{status:?}: {out}");
    out
}

fn assert_no_password(what: &str, text: &str) {
    assert!(!text.contains(PASSWORD), "the password in {what}: {text}");
}

/// `ledger export --format jsonl` to stdout, one parsed row per line.
fn export(env: &RoundEnv) -> Vec<serde_json::Value> {
    let (code, out) = govnode(&["ledger", "export", "--format", "jsonl"], &env.config());
    assert_eq!(code, 0, "{out}");
    assert_no_password("the export", &out);
    out.lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn votes_in_file(path: &Path) -> (i64, String) {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open");
    let votes = conn
        .query_row("SELECT count(*) FROM votes", [], |r| r.get(0))
        .expect("votes");
    let source = conn
        .query_row(
            "SELECT value FROM backup_meta WHERE key = 'source_path'",
            [],
            |r| r.get(0),
        )
        .expect("backup header");
    (votes, source)
}

/// Every open (proposal, node) pair has exactly one `VoteCast` on chain.
async fn assert_each_pair_voted_once(env: &RoundEnv, proposals: usize) {
    let casts = env.vote_casts().await;
    assert_eq!(casts.len(), proposals * NODES as usize, "{casts:?}");
    assert!(casts.values().all(|n| *n == 1), "{casts:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sqlite_ledger_moves_to_postgres_and_backup_export_restore_work_there() {
    let pg = Postgres::start();
    let conninfo = pg.database("govnode_tools");
    let env = RoundEnv::new(PROPOSALS, NODES).await;
    let envs = daemon_envs(&env);

    // A real round on the SQLite ledger.
    let d = env.daemon_with(&envs);
    let (code, report) = env.round_json();
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["votes"]["confirmed"], PAIRS as u64, "{report:#}");
    stop(d);
    let on_sqlite = export(&env);
    assert_eq!(on_sqlite.len(), PAIRS);

    // Migrate: refused while the daemon runs, then done with a backup first.
    let url_file = env.write_ledger_url(&conninfo);
    let url_arg = url_file.to_str().expect("UTF-8");
    let d = env.daemon_with(&envs);
    let migrate = migrate_args(url_arg);
    let (code, out) = govnode(&migrate, &env.config());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("the daemon is running"), "{out}");
    stop(d);
    let (code, out) = govnode(&migrate, &env.config());
    assert_eq!(code, 0, "{out}");
    assert_no_password("migrate's output", &out);
    assert!(out.contains(&format!("votes {PAIRS}")), "{out}");
    let kept = std::fs::read_dir(env.dir.path())
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.to_string_lossy().contains("ledger.sqlite.pre-migrate-"))
        .unwrap_or_else(|| panic!("no pre-migrate backup: {out}"));
    assert_eq!(votes_in_file(&kept).0, PAIRS as i64);

    // The moved SQLite ledger is refused, by a second migrate and by the daemon.
    let (code, out) = govnode(&migrate, &env.config());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("was moved to the PostgreSQL ledger"), "{out}");
    let mut refused = Daemon::spawn(
        &env.config(),
        env.api(),
        &[
            ("GOVNODE__ROUND__ON_START", "false"),
            ("GOVNODE__LOG__TARGET", "stderr"),
        ],
    );
    let status = refused.wait_exit(Duration::from_secs(30));
    let out = refused.output();
    assert_eq!(status.code(), Some(78), "{out}");
    assert!(out.contains("ledger.kind: postgres"), "{out}");

    // On PostgreSQL: the same rows, ids and all.
    env.use_postgres_ledger("");
    let on_pg = export(&env);
    assert_eq!(on_pg, on_sqlite, "the export after the move differs");

    // A backup of the PostgreSQL ledger is a SQLite ledger file with a header.
    let backup = env.dir.path().join("pg-backup.sqlite");
    let (code, out) = govnode(
        &["backup", "--to", backup.to_str().expect("UTF-8")],
        &env.config(),
    );
    assert_eq!(code, 0, "{out}");
    assert_no_password("backup's output", &out);
    let (votes, source) = votes_in_file(&backup);
    assert_eq!(votes, PAIRS as i64);
    assert!(
        source.starts_with("postgresql://govnode@127.0.0.1:"),
        "{source}"
    );
    assert_no_password("the backup header", &source);

    // The daemon goes on on PostgreSQL: a new proposal is voted, with ids
    // after the moved ones.
    let d = env.daemon_with(&envs);
    env.create_proposal("after the move").await;
    let (code, report) = env.round_json();
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["votes"]["confirmed"], NODES as u64, "{report:#}");
    assert_each_pair_voted_once(&env, PROPOSALS as usize + 1).await;
    let max_moved = on_pg.iter().filter_map(|r| r["id"].as_i64()).max();
    let after = export(&env);
    assert_eq!(after.len(), PAIRS + NODES as usize);
    assert!(
        after.iter().filter_map(|r| r["id"].as_i64()).max() > max_moved,
        "new ids continue after the moved ones"
    );

    // Restore: refused while the daemon is connected, then the backup's rows
    // replace the ledger's, whose own are kept in a pre-restore backup.
    let file = backup.to_str().expect("UTF-8");
    let (code, out) = govnode(&["restore", file], &env.config());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("other govnode connection"), "{out}");
    assert_no_password("restore's refusal", &out);
    stop(d);
    let (code, out) = govnode(&["restore", file], &env.config());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("the previous ledger is kept as"), "{out}");
    assert_eq!(export(&env), on_pg, "the restored rows are the backup's");
    let previous = out
        .lines()
        .find_map(|l| l.strip_prefix("the previous ledger is kept as "))
        .expect("previous ledger");
    assert_eq!(
        votes_in_file(Path::new(previous.trim())).0,
        (PAIRS + NODES as usize) as i64
    );

    // The round after the restore finds the newer votes on chain and casts
    // none of them again.
    let d = env.daemon_with(&envs);
    let (code, report) = env.round_json();
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["votes"]["confirmed"], 0, "{report:#}");
    assert_each_pair_voted_once(&env, PROPOSALS as usize + 1).await;
    assert_no_password("the daemon's output", &stop(d));
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_and_the_daemon_refuse_what_cannot_work() {
    let pg = Postgres::start();
    let conninfo = pg.database("govnode_full");
    let env = RoundEnv::new(1, 1).await;
    let mut envs = env.vote_on_everything(1);
    envs.push((
        "STATE_DIRECTORY".into(),
        env.dir.path().to_str().expect("UTF-8 path").to_owned(),
    ));
    let d = env.daemon_with(&envs);
    let (code, report) = env.round_json();
    assert_eq!(code, 0, "{report:#}");
    stop(d);

    // A password on the command line is refused without being echoed (78).
    let with_password = format!("postgresql://govnode:{PASSWORD}@127.0.0.1:{}/x", pg.port);
    let (code, out) = govnode(
        &["ledger", "migrate", "--to", "postgres", &with_password],
        &env.config(),
    );
    assert_eq!(code, 78, "{out}");
    assert!(out.contains("--url-file"), "{out}");
    assert_no_password("the refusal", &out);

    // A database with rows is never merged into.
    let url_file = env.write_ledger_url(&conninfo);
    let url_arg = url_file.to_str().expect("UTF-8");
    let migrate = migrate_args(url_arg);
    assert_eq!(govnode(&migrate, &env.config()).0, 0);
    let other = RoundEnv::new(1, 1).await;
    let mut other_envs = other.vote_on_everything(1);
    other_envs.push((
        "STATE_DIRECTORY".into(),
        other.dir.path().to_str().expect("UTF-8 path").to_owned(),
    ));
    let d = other.daemon_with(&other_envs);
    assert_eq!(other.round_json().0, 0);
    stop(d);
    let other_url = other.write_ledger_url(&conninfo);
    let (code, out) = govnode(
        &[
            "ledger",
            "migrate",
            "--to",
            "postgres",
            "--url-file",
            other_url.to_str().expect("UTF-8"),
        ],
        &other.config(),
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("already holds rows (ledger_daos 1, rounds 1, votes 1"),
        "{out}"
    );
    assert!(other.ledger().exists());
    let (code, out) = govnode(&["ledger", "export", "--format", "jsonl"], &other.config());
    assert_eq!(code, 0, "the refused ledger is still usable: {out}");

    // A database that does not exist is a configuration problem (78), not
    // an outage to restart into.
    env.use_postgres_ledger("");
    std::fs::write(
        &url_file,
        format!(
            "postgresql://govnode:{PASSWORD}@127.0.0.1:{}/no_such_db\n",
            pg.port
        ),
    )
    .expect("write ledger-url");
    let mut d = Daemon::spawn(
        &env.config(),
        env.api(),
        &[
            ("GOVNODE__ROUND__ON_START", "false"),
            ("GOVNODE__LOG__TARGET", "stderr"),
            ("STATE_DIRECTORY", env.dir.path().to_str().expect("UTF-8")),
        ],
    );
    let status = d.wait_exit(Duration::from_secs(30));
    let out = d.output();
    assert_eq!(status.code(), Some(78), "{out}");
    assert!(out.contains("refuses govnode"), "{out}");
    assert!(out.contains("/no_such_db"), "{out}");
    assert_no_password("the daemon's refusal", &out);
}
