//! `govnode ledger export` on a ledger a real round wrote, read while the
//! daemon runs: JSON lines that parse and match the ledger row by row, CSV
//! with a header, one record per vote and a reason holding a comma, quotes
//! and a newline quoted per RFC 4180; never the signed transaction bytes.

#[allow(dead_code)]
mod support {
    pub mod anvil;
    pub mod daemon;
    pub mod round_env;
}

use std::path::Path;
use std::process::Command;

use rusqlite::{Connection, OpenFlags};
use support::daemon::binary;
use support::round_env::RoundEnv;

/// The reason of the `quoted` strategy below, as the ledger stores it.
const AWKWARD_REASON: &str = "approved, \"as agreed\"\nsee the forum";

const COLUMNS: [&str; 24] = [
    "id",
    "chain_id",
    "dao",
    "proposal_id",
    "node",
    "voter",
    "round_id",
    "decision",
    "reason",
    "strategy",
    "rule",
    "state",
    "nonce",
    "tx_hash",
    "block_number",
    "gas_used",
    "error",
    "created_at",
    "updated_at",
    "signed_at",
    "sent_at",
    "finished_at",
    "source",
    "retries",
];

fn export(config: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(binary())
        .args(["ledger", "export"])
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .expect("run govnode ledger export");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The ledger's vote rows as (column → value) maps, with the values the
/// export must show: times in unix ms (compared after converting back).
fn ledger_rows(conn: &Connection) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {} FROM votes ORDER BY id",
            COLUMNS.join(", ")
        ))
        .unwrap();
    stmt.query_map([], |r| {
        let mut m = serde_json::Map::new();
        for (i, c) in COLUMNS.iter().enumerate() {
            let v = match r.get::<_, rusqlite::types::Value>(i)? {
                rusqlite::types::Value::Null => serde_json::Value::Null,
                rusqlite::types::Value::Integer(n) => n.into(),
                rusqlite::types::Value::Text(t) => t.into(),
                other => panic!("unexpected column value {other:?}"),
            };
            m.insert((*c).to_owned(), v);
        }
        Ok(m)
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// RFC 3339 back to unix milliseconds, by SQLite's own date parser.
fn rfc3339_ms(conn: &Connection, text: &str) -> i64 {
    conn.query_row(
        "SELECT CAST(round(unixepoch(?1, 'subsec') * 1000) AS INTEGER)",
        [text],
        |r| r.get(0),
    )
    .unwrap_or_else(|e| panic!("{text:?} is not RFC 3339: {e}"))
}

/// A small RFC 4180 reader, independent of the writer: quoted fields may hold
/// commas, doubled quotes and line breaks; records end with CRLF.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => {
                assert!(field.is_empty(), "a quote inside an unquoted field");
                quoted = true;
            }
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => assert_eq!(chars.next(), Some('\n'), "CR without LF"),
            (false, '\n') => panic!("a bare LF ends a record"),
            (false, c) => field.push(c),
        }
        if !quoted && c == '\r' {
            record.push(std::mem::take(&mut field));
            records.push(std::mem::take(&mut record));
        }
    }
    assert!(!quoted, "unterminated quoted field");
    assert!(
        record.is_empty() && field.is_empty(),
        "last record lacks CRLF"
    );
    records
}

#[tokio::test(flavor = "multi_thread")]
async fn export_matches_the_ledger_in_jsonl_and_csv() {
    let env = RoundEnv::new(8, 3).await;
    // One node gets a strategy whose reason needs CSV quoting.
    let text = std::fs::read_to_string(env.config()).unwrap();
    assert!(text.contains("strategy: aggressive") && !text.contains("\nstrategies:"));
    let text = text.replacen("strategy: aggressive", "strategy: quoted", 1)
        + "\nstrategies:\n  quoted:\n    rules: []\n    default:\n      vote: for\n      reason: \"approved, \\\"as agreed\\\"\\nsee the forum\"\n";
    std::fs::write(env.config(), text).unwrap();
    let _daemon = env.daemon(&[]);
    let (code, out) = env.round();
    assert_eq!(code, 0, "{out}");

    // Read while the daemon runs.
    let conn = Connection::open_with_flags(env.ledger(), OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let rows = ledger_rows(&conn);
    assert!(rows.iter().any(|r| r["reason"] == AWKWARD_REASON));
    let raw: Vec<String> = {
        let mut stmt = conn
            .prepare(
                "SELECT lower(hex(raw_tx)) FROM votes WHERE raw_tx IS NOT NULL
                 UNION SELECT lower(hex(raw_tx)) FROM vote_attempts",
            )
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert!(!raw.is_empty(), "the ledger holds signed bytes to leak");
    let no_raw = |what: &str, out: &str| {
        assert!(!out.contains("raw_tx"), "{what} names raw_tx");
        for r in &raw {
            assert!(
                !out.to_lowercase().contains(r.as_str()),
                "{what} holds signed transaction bytes"
            );
        }
    };

    // JSON lines on stdout.
    let (code, jsonl, stderr) = export(&env.config(), &["--format", "jsonl"]);
    assert_eq!(code, 0, "{stderr}");
    no_raw("jsonl", &jsonl);
    let lines: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert_eq!(lines.len(), rows.len());
    for (line, row) in lines.iter().zip(&rows) {
        let obj = line.as_object().expect("an object per line");
        let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        let mut want = COLUMNS.to_vec();
        keys.sort_unstable();
        want.sort_unstable();
        assert_eq!(keys, want);
        for c in COLUMNS {
            let (got, stored) = (&obj[c], &row[c]);
            if c.ends_with("_at") {
                match (got.as_str(), stored.as_i64()) {
                    (None, None) => {}
                    (Some(t), Some(ms)) => assert_eq!(rfc3339_ms(&conn, t), ms, "{c}: {t}"),
                    _ => panic!("{c}: exported {got}, stored {stored}"),
                }
            } else if c == "proposal_id" {
                assert_eq!(got.as_str(), stored.as_str(), "proposal ids are strings");
            } else {
                assert_eq!(got, stored, "row {} column {c}", row["id"]);
            }
        }
    }

    // CSV to a file.
    let csv_path = env.dir.path().join("votes.csv");
    let (code, _, stderr) = export(
        &env.config(),
        &["--format", "csv", "--to", csv_path.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains(&format!("exported {} votes", rows.len())),
        "{stderr}"
    );
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    no_raw("csv", &csv);
    assert!(
        csv.contains("\"approved, \"\"as agreed\"\"\nsee the forum\""),
        "the awkward reason is quoted with doubled quotes"
    );
    let records = parse_csv(&csv);
    assert_eq!(records[0], COLUMNS, "header");
    assert_eq!(records.len(), rows.len() + 1, "one record per vote");
    for (record, row) in records[1..].iter().zip(&rows) {
        assert_eq!(record.len(), COLUMNS.len());
        let cell = |c: &str| &record[COLUMNS.iter().position(|x| *x == c).unwrap()];
        assert_eq!(cell("reason"), row["reason"].as_str().unwrap());
        assert_eq!(cell("id"), &row["id"].to_string());
        assert_eq!(cell("voter"), row["voter"].as_str().unwrap());
        let tx = row["tx_hash"].as_str().unwrap_or("");
        assert_eq!(cell("tx_hash"), tx);
        let block = row["block_number"]
            .as_i64()
            .map(|b| b.to_string())
            .unwrap_or_default();
        assert_eq!(cell("block_number"), &block);
    }
    let awkward = records[1..]
        .iter()
        .filter(|r| r[COLUMNS.iter().position(|c| *c == "reason").unwrap()] == AWKWARD_REASON)
        .count();
    assert!(awkward > 0, "the awkward reason survives the round trip");
}
