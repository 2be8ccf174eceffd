//! `govnode ledger export`: every vote row of every DAO, with its chain and
//! DAO, as JSON lines or CSV, for audits and spreadsheets. Read through a read-only connection in one read
//! transaction, so it is safe while the daemon runs and shows one consistent
//! moment. The signed transaction bytes are never read, let alone written.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use serde::Serialize;

use super::error::StateError;
use super::files::{TempFile, ms_rfc3339};
use crate::ledger::{self, VoteRow};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// One JSON object per line.
    Jsonl,
    /// RFC 4180 CSV with a header line.
    Csv,
}

/// The exported fields, in output order (the CSV header).
pub const COLUMNS: [&str; 24] = [
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

/// One exported vote. Addresses and hashes are 0x-hex, the proposal id is a
/// decimal string (Governor ids exceed JSON's safe integers), times RFC 3339 UTC.
#[derive(Debug, Serialize)]
struct Record<'a> {
    id: i64,
    chain_id: u64,
    dao: String,
    proposal_id: String,
    node: &'a str,
    voter: String,
    round_id: Option<i64>,
    decision: &'static str,
    reason: &'a str,
    strategy: &'a str,
    rule: Option<&'a str>,
    state: &'static str,
    nonce: Option<u64>,
    tx_hash: Option<String>,
    block_number: Option<u64>,
    gas_used: Option<u64>,
    error: Option<&'a str>,
    created_at: String,
    updated_at: String,
    signed_at: Option<String>,
    sent_at: Option<String>,
    finished_at: Option<String>,
    source: &'static str,
    retries: u32,
}

impl<'a> Record<'a> {
    fn new(chain_id: u64, v: &'a VoteRow) -> Record<'a> {
        Record {
            id: v.id,
            chain_id,
            dao: format!("{:#x}", v.dao),
            proposal_id: v.proposal_id.to_string(),
            node: &v.node,
            voter: format!("{:#x}", v.voter),
            round_id: v.round_id,
            decision: v.decision.as_str(),
            reason: &v.reason,
            strategy: &v.strategy,
            rule: v.rule.as_deref(),
            state: v.state.as_str(),
            nonce: v.nonce,
            tx_hash: v.tx_hash.map(|h| format!("{h:#x}")),
            block_number: v.block_number,
            gas_used: v.gas_used,
            error: v.error.as_deref(),
            created_at: ms_rfc3339(v.created_at),
            updated_at: ms_rfc3339(v.updated_at),
            signed_at: v.signed_at.map(ms_rfc3339),
            sent_at: v.sent_at.map(ms_rfc3339),
            finished_at: v.finished_at.map(ms_rfc3339),
            source: v.source.as_str(),
            retries: v.retries,
        }
    }

    /// The CSV cells in [`COLUMNS`] order; a missing value is an empty cell.
    fn cells(&self) -> Result<Vec<String>, serde_json::Error> {
        let value = serde_json::to_value(self)?;
        Ok(COLUMNS
            .iter()
            .map(|c| match &value[*c] {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect())
    }
}

/// Quotes one CSV cell per RFC 4180: cells holding a comma, a quote, CR or
/// LF are enclosed in quotes with inner quotes doubled; others stay as they are.
pub fn csv_field(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", cell.replace('"', "\"\"")).into()
    } else {
        cell.into()
    }
}

fn csv_line(out: &mut impl Write, cells: impl IntoIterator<Item = String>) -> io::Result<()> {
    let line: Vec<String> = cells
        .into_iter()
        .map(|c| csv_field(&c).into_owned())
        .collect();
    write!(out, "{}\r\n", line.join(","))
}

/// Writes every vote of the ledger at `ledger` to `to` (atomically replaced)
/// or to stdout; returns how many rows were written.
pub fn export(ledger: &Path, format: ExportFormat, to: Option<&Path>) -> Result<u64, StateError> {
    if !ledger.exists() {
        return Err(StateError::NoLedger {
            path: ledger.to_owned(),
        });
    }
    let mut conn = ledger::open_read_only(ledger)?;
    ledger::inspect(&conn, ledger)?;
    export_from(&mut conn, format, to)
}

/// Writes every vote of the ledger open on `conn` (one read transaction).
pub(super) fn export_from(
    conn: &mut rusqlite::Connection,
    format: ExportFormat,
    to: Option<&Path>,
) -> Result<u64, StateError> {
    match to {
        Some(path) => {
            let tmp = TempFile::beside(path, "export")?;
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(tmp.path())
                .map_err(|e| StateError::io("cannot write", tmp.path(), e))?;
            let mut out = BufWriter::new(file);
            let n = write_rows(conn, format, &mut out, path)?;
            out.flush()
                .map_err(|e| StateError::io("cannot write", path, e))?;
            drop(out);
            tmp.persist()?;
            Ok(n)
        }
        None => {
            let stdout = io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            let path = Path::new("standard output");
            match write_rows(conn, format, &mut out, path).and_then(|n| {
                out.flush()
                    .map(|()| n)
                    .map_err(|e| StateError::io("cannot write", path, e))
            }) {
                // A reader that stops early (`| head`) is not a failure.
                Err(StateError::Io {
                    kind: io::ErrorKind::BrokenPipe,
                    ..
                }) => Ok(0),
                other => other,
            }
        }
    }
}

fn write_rows(
    conn: &mut rusqlite::Connection,
    format: ExportFormat,
    out: &mut impl Write,
    path: &Path,
) -> Result<u64, StateError> {
    let io_err = |e: io::Error| StateError::io("cannot write", path, e);
    if format == ExportFormat::Csv {
        csv_line(out, COLUMNS.iter().map(|c| (*c).to_owned())).map_err(io_err)?;
    }
    let mut n = 0u64;
    ledger::each_vote(conn, |chain_id, row| -> Result<(), StateError> {
        let record = Record::new(chain_id, &row);
        match format {
            ExportFormat::Jsonl => {
                serde_json::to_writer(&mut *out, &record)
                    .map_err(|e| io_err(io::Error::other(e)))?;
                out.write_all(b"\n").map_err(io_err)?;
            }
            ExportFormat::Csv => {
                let cells = record.cells().map_err(|e| io_err(io::Error::other(e)))?;
                csv_line(out, cells).map_err(io_err)?;
            }
        }
        n += 1;
        Ok(())
    })?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_only_what_needs_it() {
        assert_eq!(csv_field("plain text"), "plain text");
        assert_eq!(csv_field(""), "");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"no\""), "\"say \"\"no\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field("cr\r"), "\"cr\r\"");
    }

    /// Every column is a field of the record and every field is a column.
    #[test]
    fn columns_match_the_record() {
        let row = VoteRow {
            id: 1,
            dao: Default::default(),
            proposal_id: Default::default(),
            voter: Default::default(),
            node: "n".into(),
            round_id: None,
            decision: crate::strategy::VoteChoice::For,
            reason: "r".into(),
            strategy: "s".into(),
            rule: None,
            state: crate::ledger::VoteState::Intent,
            nonce: None,
            tx_hash: None,
            raw_tx: None,
            block_number: None,
            gas_used: None,
            error: None,
            created_at: 0,
            updated_at: 0,
            signed_at: None,
            sent_at: None,
            finished_at: None,
            source: crate::ledger::VoteSource::Ledger,
            retries: 0,
        };
        let value = serde_json::to_value(Record::new(1, &row)).unwrap();
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut columns = COLUMNS.to_vec();
        columns.sort_unstable();
        assert_eq!(keys, columns);
    }
}
