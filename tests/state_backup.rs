//! `govnode backup` while a real round runs on a real devnet: every backup is
//! a consistent ledger (integrity, vote states that agree with their
//! transactions, meta and header present); a backup taken mid-round restores
//! to exactly its rows; and the round after the restore casts no vote twice,
//! because the daemon checks the chain rather than trusting the older ledger.

#[allow(dead_code)]
mod support {
    pub mod anvil;
    pub mod daemon;
    pub mod round_env;
}

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};
use support::daemon::binary;
use support::round_env::RoundEnv;

/// Runs the real binary: (exit code, stdout, stderr).
fn govnode(args: &[&str], config: &Path) -> (i32, String, String) {
    let out = Command::new(binary())
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .expect("run govnode");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn open(path: &Path) -> Connection {
    Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open read-only")
}

/// Every column of every vote row (raw bytes as hex), in id order.
fn vote_rows(conn: &Connection) -> Vec<Vec<String>> {
    let mut stmt = conn
        .prepare(
            "SELECT id, dao, proposal_id, voter, node, round_id, decision, reason, strategy,
                    rule, state, nonce, tx_hash, hex(raw_tx), block_number, gas_used, error,
                    created_at, updated_at, signed_at, sent_at, finished_at
             FROM votes ORDER BY id",
        )
        .expect("select votes");
    stmt.query_map([], |r| {
        (0..22)
            .map(|i| {
                r.get::<_, rusqlite::types::Value>(i)
                    .map(|v| format!("{v:?}"))
            })
            .collect::<Result<Vec<_>, _>>()
    })
    .expect("rows")
    .collect::<Result<_, _>>()
    .expect("rows")
}

fn scalar(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).expect(sql)
}

/// What one backup shows of the round.
#[derive(Debug)]
struct Snapshot {
    path: PathBuf,
    votes: i64,
    pending: i64,
    /// Rows in intent/signed/sent, or a round without `finished_at`.
    mid_round: bool,
}

/// Asserts everything a ledger must satisfy and returns what it shows.
fn check_consistent(path: &Path, env: &RoundEnv) -> Snapshot {
    let conn = open(path);
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(integrity, "ok", "{}", path.display());
    let app: i32 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    assert_eq!(app, govnode::ledger::APPLICATION_ID);
    let fk_problems = scalar(&conn, "SELECT count(*) FROM pragma_foreign_key_check");
    assert_eq!(fk_problems, 0, "{}: dangling references", path.display());

    let (chain_id, dao): (i64, String) = conn
        .query_row("SELECT chain_id, dao FROM ledger_daos", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap_or_else(|e| panic!("{}: ledger_daos: {e}", path.display()));
    assert_eq!(chain_id, 31337);
    assert_eq!(dao, format!("{:#x}", env.dao()));
    let header = |k: &str| -> String {
        conn.query_row("SELECT value FROM backup_meta WHERE key = ?1", [k], |r| {
            r.get(0)
        })
        .unwrap_or_else(|e| panic!("{}: backup_meta {k}: {e}", path.display()))
    };
    assert_eq!(header("chain_id"), "31337");
    assert_eq!(header("dao"), format!("{:#x}", env.dao()));
    assert_eq!(
        header("schema_version"),
        govnode::ledger::SCHEMA_VERSION.to_string()
    );
    assert_eq!(header("govnode_version"), env!("CARGO_PKG_VERSION"));
    assert!(header("created_at").contains('T'));
    let votes = scalar(&conn, "SELECT count(*) FROM votes");
    assert_eq!(header("votes"), votes.to_string());

    // Each row's columns agree with its state: a snapshot never shows half a step.
    let bad = scalar(
        &conn,
        "SELECT count(*) FROM votes v WHERE NOT (
            state IN ('intent', 'signed', 'sent', 'confirmed', 'reverted', 'failed',
                      'abandoned', 'confirmed_external')
            AND (state NOT IN ('signed', 'sent', 'confirmed', 'reverted') OR (
                 nonce IS NOT NULL AND tx_hash IS NOT NULL AND signed_at IS NOT NULL
                 AND EXISTS (SELECT 1 FROM vote_attempts a
                             WHERE a.vote_id = v.id AND a.tx_hash = v.tx_hash)))
            AND (state NOT IN ('signed', 'sent') OR raw_tx IS NOT NULL)
            AND (state <> 'sent' OR sent_at IS NOT NULL)
            AND (state NOT IN ('confirmed', 'reverted') OR (
                 block_number IS NOT NULL AND gas_used IS NOT NULL AND finished_at IS NOT NULL))
            AND (round_id IS NULL OR EXISTS (SELECT 1 FROM rounds r WHERE r.id = v.round_id)))",
    );
    assert_eq!(
        bad,
        0,
        "{}: rows inconsistent with their state",
        path.display()
    );
    let pending = scalar(
        &conn,
        "SELECT count(*) FROM votes WHERE state IN ('intent', 'signed', 'sent')",
    );
    let open_rounds = scalar(
        &conn,
        "SELECT count(*) FROM rounds WHERE finished_at IS NULL",
    );
    Snapshot {
        path: path.to_owned(),
        votes,
        pending,
        mid_round: pending > 0 || open_rounds > 0,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn backups_during_a_round_restore_to_a_ledger_the_chain_agrees_with() {
    let env = RoundEnv::new(8, 3).await;
    // One block every 2 s: the round spends seconds waiting for receipts,
    // long enough for several backups to land while it writes.
    env.anvil
        .rpc("evm_setIntervalMining", serde_json::json!([2]))
        .await;
    let mut daemon = env.daemon(&[]);
    let out_dir = tempfile::tempdir().expect("tempdir");

    let mut round = Command::new(binary())
        .args(["round", "--config"])
        .arg(env.config())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start govnode round");
    let mut snapshots = Vec::new();
    let mut timings = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let finished = round.try_wait().expect("try_wait").is_some();
        let to = out_dir
            .path()
            .join(format!("backup-{}.db", snapshots.len()));
        let started = Instant::now();
        let (code, stdout, stderr) =
            govnode(&["backup", "--to", to.to_str().unwrap()], &env.config());
        let wall = started.elapsed();
        assert_eq!(code, 0, "backup while the round runs: {stdout}{stderr}");
        // "... bytes in N ms)": the copy itself, without process start-up.
        let inner = stdout
            .rsplit(" in ")
            .next()
            .and_then(|t| t.split(' ').next())
            .unwrap_or("?")
            .to_owned();
        timings.push(format!("{}/{inner}", wall.as_millis()));
        assert!(stdout.contains("backed up"), "{stdout}");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&to).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "backups are private");
        snapshots.push(check_consistent(&to, &env));
        // The iteration that sees the round finished takes the post-round backup.
        if finished {
            break;
        }
        assert!(Instant::now() < deadline, "the round did not finish");
    }
    let round_out = round.wait_with_output().expect("round output");
    assert!(
        round_out.status.success(),
        "round: {}{}",
        String::from_utf8_lossy(&round_out.stdout),
        String::from_utf8_lossy(&round_out.stderr)
    );
    let mid: Vec<&Snapshot> = snapshots.iter().filter(|s| s.mid_round).collect();
    eprintln!(
        "{} backups, {} mid-round; (votes, pending) seen: {:?}; backup ms (process/copy): {:?}",
        snapshots.len(),
        mid.len(),
        snapshots
            .iter()
            .map(|s| (s.votes, s.pending))
            .collect::<Vec<_>>(),
        timings
    );
    assert!(
        !mid.is_empty(),
        "at least one backup caught the round in progress: {snapshots:?}"
    );
    let last = snapshots.last().expect("a backup");
    assert!(
        !last.mid_round,
        "the backup after the round shows it finished"
    );
    let cast_before = env.vote_casts().await;
    assert!(!cast_before.is_empty());
    assert!(cast_before.values().all(|&n| n == 1), "{cast_before:?}");

    // Restore the last backup that caught the round mid-way: it knows less
    // than the chain (votes without receipts, or not yet recorded at all).
    let chosen = mid.last().expect("a mid-round backup").path.clone();
    let (code, stdout, stderr) = govnode(&["restore", chosen.to_str().unwrap()], &env.config());
    assert_eq!(code, 1, "refused while the daemon runs: {stdout}{stderr}");
    assert!(stderr.contains("daemon is running"), "{stderr}");

    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_exit(Duration::from_secs(30)).success());
    let before = vote_rows(&open(&env.ledger()));
    let (code, stdout, stderr) = govnode(&["restore", chosen.to_str().unwrap()], &env.config());
    assert_eq!(code, 0, "restore: {stdout}{stderr}");
    let restored = open(&env.ledger());
    assert_eq!(
        vote_rows(&restored),
        vote_rows(&open(&chosen)),
        "the ledger holds exactly the backup's vote rows"
    );
    let no_header = scalar(
        &restored,
        "SELECT count(*) FROM sqlite_schema WHERE name = 'backup_meta'",
    );
    assert_eq!(no_header, 0, "the backup header is not part of the ledger");
    drop(restored);
    let kept: Vec<PathBuf> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().contains("ledger.sqlite.pre-restore-"))
        .collect();
    assert_eq!(kept.len(), 1, "the old ledger is kept: {kept:?}");
    assert_eq!(vote_rows(&open(&kept[0])), before, "with all its rows");
    assert!(!env.dir.path().join("ledger.sqlite-wal").exists());

    // The daemon on the restored ledger: reconciliation and the chain's own
    // record decide, so nothing is voted twice and nothing is left pending.
    let _daemon = env.daemon(&[]);
    let (code, out) = env.round();
    assert_eq!(code, 0, "round after the restore: {out}");
    let cast_after = env.vote_casts().await;
    assert!(
        cast_after.values().all(|&n| n == 1),
        "no double vote after the restore: {cast_after:?}"
    );
    assert_eq!(
        cast_after, cast_before,
        "the chain already had every vote; none is added"
    );
    assert_eq!(env.count_in_state("intent"), 0);
    assert_eq!(env.count_in_state("signed"), 0);
    assert_eq!(env.count_in_state("sent"), 0);
}
