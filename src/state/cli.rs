//! The subcommands' front ends: load the configuration, run the tool, print
//! what happened and map the outcome to an exit code (0 ok, 1 failure or
//! refusal, 78 configuration problem).

use std::path::Path;

use super::{
    ExportFormat, StateError, Target, backup, describe_all, export, init, migrate, postgres,
    restore,
};
use crate::config::{self, LoadEnv, Secret};
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
    let run = |t: Target| match &t.postgres {
        Some(pg) => postgres::backup(pg, to),
        None => backup(&t.ledger_path, to),
    };
    let report = match target(config).and_then(run) {
        Ok(r) => r,
        Err(e) => return fail("backup", &e),
    };
    println!(
        "backed up {} to {} ({} votes, {} rounds, schema {}, {}; {} bytes in {} ms)",
        report.ledger,
        report.to.display(),
        report.info.votes,
        report.info.rounds,
        report.info.schema_version,
        describe_all(&report.info.identities),
        report.bytes,
        report.elapsed.as_millis()
    );
    exit::OK
}

/// `govnode restore FILE [--force]`.
pub fn restore_command(config: &Path, file: &Path, force: bool) -> i32 {
    let run = |t: Target| match &t.postgres {
        Some(pg) => postgres::restore(&t, pg, file, force),
        None => restore(&t, file, force),
    };
    let report = match target(config).and_then(run) {
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
        report.ledger,
        report.info.votes,
        report.info.rounds,
        report.info.schema_version,
        describe_all(&report.info.identities),
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
    let run = |t: Target| match &t.postgres {
        Some(pg) => postgres::export(pg, format, to),
        None => export(&t.ledger_path, format, to),
    };
    match target(config).and_then(run) {
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
    let run = |t: Target| t.refuse_postgres_init().and_then(|()| init(&t));
    let report = match target(config).and_then(run) {
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
        describe_all(&report.info.identities),
        report.info.votes
    );
    exit::OK
}

/// Where `ledger migrate` writes: `--url-file`, else a URL on the command
/// line (refused if it holds a password: every user can read a command
/// line), else the configuration's own PostgreSQL ledger.
#[derive(Debug, Default)]
pub struct MigrateDestination<'a> {
    pub url: Option<&'a str>,
    pub url_file: Option<&'a Path>,
}

fn destination(
    config: &Path,
    env: &LoadEnv,
    t: &Target,
    dest: &MigrateDestination<'_>,
) -> Result<crate::ledger::pg::PgTarget, StateError> {
    let unresolved = config::load_unresolved(config, env)?;
    let conninfo = match (dest.url, dest.url_file) {
        (Some(_), Some(_)) => {
            return Err(StateError::Usage(
                "give the PostgreSQL ledger either as URL or as --url-file, not both".into(),
            ));
        }
        (None, Some(file)) => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| StateError::io("cannot read --url-file", file, e))?;
            Secret::new(text.trim())
        }
        (Some(url), None) => {
            let parsed = url.parse::<tokio_postgres::Config>().map_err(|_| {
                StateError::Usage(
                    "the URL is not a PostgreSQL connection string (postgresql://USER@HOST:PORT/DB)"
                        .into(),
                )
            })?;
            if parsed.get_password().is_some() {
                return Err(StateError::Usage(
                    "the URL holds a password, which every user of this machine can read on a command line: write the URL to a file readable only by you and pass --url-file FILE".into(),
                ));
            }
            Secret::new(url)
        }
        (None, None) => match &t.postgres {
            Some(pg) => return Ok(pg.clone()),
            None => {
                return Err(StateError::Usage(
                    "name the PostgreSQL ledger: --url-file FILE (or a URL without a password), or set ledger.kind: postgres with ledger.url_file in the configuration".into(),
                ));
            }
        },
    };
    Ok(config::ledger_target_with(&unresolved, conninfo))
}

/// `govnode ledger migrate --to postgres [URL] [--url-file FILE]`.
pub fn migrate_command(config: &Path, dest: &MigrateDestination<'_>) -> i32 {
    let env = LoadEnv::from_process();
    let run = |t: Target| destination(config, &env, &t, dest).and_then(|pg| migrate(&t, &pg));
    let report = match Target::load(config, &env).and_then(run) {
        Ok(r) => r,
        Err(e) => return fail("ledger migrate", &e),
    };
    println!(
        "moved {} from {} to {} in one transaction (counts checked)",
        postgres::summary(&report.copied),
        report.from.display(),
        report.to,
    );
    println!(
        "the SQLite ledger was backed up first as {} and is now marked as moved: the daemon refuses to vote from it",
        report.backup.display()
    );
    println!(
        "next: set ledger.kind: postgres and ledger.url_file (or ledger.url_credential) in {}, then start the daemon",
        config.display()
    );
    exit::OK
}
