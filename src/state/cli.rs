//! The subcommands' front ends: load the configuration, run the tool, print
//! what happened and map the outcome to an exit code (0 ok, 1 failure or
//! refusal, 78 configuration problem).

use std::path::Path;

use super::{ExportFormat, StateError, Target, backup, describe, export, init, restore};
use crate::config::LoadEnv;
use crate::exit;

fn target(config: &Path) -> Result<Target, StateError> {
    Target::load(config, &LoadEnv::from_process())
}

fn fail(command: &str, e: &StateError) -> i32 {
    eprintln!("govnode {command}: {e}");
    e.exit_code()
}

/// `govnode backup --to FILE`.
pub fn backup_command(config: &Path, to: &Path) -> i32 {
    let report = match target(config).and_then(|t| backup(&t.ledger_path, to)) {
        Ok(r) => r,
        Err(e) => return fail("backup", &e),
    };
    println!(
        "backed up {} to {} ({} votes, {} rounds, schema {}, {}; {} bytes in {} ms)",
        report.ledger.display(),
        report.to.display(),
        report.info.votes,
        report.info.rounds,
        report.info.schema_version,
        describe(report.info.identity),
        report.bytes,
        report.elapsed.as_millis()
    );
    exit::OK
}

/// `govnode restore FILE [--force]`.
pub fn restore_command(config: &Path, file: &Path, force: bool) -> i32 {
    let report = match target(config).and_then(|t| restore(&t, file, force)) {
        Ok(r) => r,
        Err(e) => return fail("restore", &e),
    };
    let taken = report
        .header
        .as_ref()
        .map(|h| {
            format!(
                "; backup taken {} by govnode {}",
                h.get("created_at").map_or("?", String::as_str),
                h.get("govnode_version").map_or("?", String::as_str)
            )
        })
        .unwrap_or_default();
    println!(
        "restored {} as {} ({} votes, {} rounds, schema {}, {}{taken})",
        report.from.display(),
        report.ledger.display(),
        report.info.votes,
        report.info.rounds,
        report.info.schema_version,
        describe(report.info.identity),
    );
    match &report.previous {
        Some(p) => println!("the previous ledger is kept as {}", p.display()),
        None => println!("there was no previous ledger"),
    }
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    println!(
        "on start the daemon checks every unfinished vote against the chain before sending anything"
    );
    exit::OK
}

/// `govnode ledger export --format jsonl|csv [--to FILE]`.
pub fn export_command(config: &Path, format: ExportFormat, to: Option<&Path>) -> i32 {
    match target(config).and_then(|t| export(&t.ledger_path, format, to)) {
        Ok(n) => {
            if let Some(path) = to {
                eprintln!("exported {n} votes to {}", path.display());
            }
            exit::OK
        }
        Err(e) => fail("ledger export", &e),
    }
}

/// `govnode ledger init`.
pub fn init_command(config: &Path) -> i32 {
    let report = match target(config).and_then(|t| init(&t)) {
        Ok(r) => r,
        Err(e) => return fail("ledger init", &e),
    };
    let what = match (report.existed, report.replaced_empty) {
        (true, _) => "is already a govnode ledger; checked, nothing changed",
        (false, true) => "was an empty file; replaced by a fresh ledger",
        (false, false) => "created",
    };
    println!(
        "{} {what} (schema {}, {}, {} votes)",
        report.ledger.display(),
        report.info.schema_version,
        describe(report.info.identity),
        report.info.votes
    );
    exit::OK
}
