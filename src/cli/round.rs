//! `govnode round`: asks the daemon for a round (joining a running one),
//! shows its progress while it runs and prints its report. Exit 0 only if
//! every decided vote landed, or when the daemon is a standby (another
//! daemon leads and votes); `--dry-run` plans and simulates instead.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::progress::{PlainLines, line};
use crate::api::control::{ControlError, request_round};
use crate::exit;
use crate::round::Progress;

/// How often the terminal line is redrawn while no event arrives.
const TICK: Duration = Duration::from_millis(200);

pub fn run(
    config: &Path,
    socket: Option<PathBuf>,
    json: bool,
    dry_run: bool,
    daos: &[String],
) -> i32 {
    if dry_run {
        let dao = match daos {
            [] => None,
            [one] => Some(one.as_str()),
            _ => {
                eprintln!("govnode round --dry-run: name at most one --dao");
                return exit::USAGE;
            }
        };
        return super::plan::run(config, socket, json, true, dao);
    }
    let (socket, runtime) = match super::client("round", config, socket) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let tty = std::io::stderr().is_terminal();
    let started = Instant::now();
    let latest: Arc<Mutex<Option<Progress>>> = Arc::new(Mutex::new(None));
    let draw = |p: &Progress| {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[K{}", line(p, started.elapsed()));
        let _ = err.flush();
    };
    let mut plain = PlainLines::default();
    let result = runtime.block_on(async {
        let request = request_round(&socket, daos, |p| {
            if tty {
                draw(p);
                *latest.lock().unwrap_or_else(|e| e.into_inner()) = Some(p.clone());
            } else if let Some(text) = plain.next(p, started.elapsed()) {
                eprintln!("{text}");
            }
        });
        tokio::pin!(request);
        let mut tick = tokio::time::interval(TICK);
        loop {
            tokio::select! {
                r = &mut request => break r,
                _ = tick.tick(), if tty => {
                    if let Some(p) = latest.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                        draw(p);
                    }
                }
            }
        }
    });
    if tty {
        eprint!("\r\x1b[K");
    }
    match result {
        Ok(answers) => {
            if json {
                // One DAO: its report, as before; several: a list of them.
                let value = match answers.as_slice() {
                    [one] if one.dao.is_none() => serde_json::to_value(&one.report),
                    _ => serde_json::to_value(
                        answers
                            .iter()
                            .map(|a| serde_json::json!({ "dao": a.dao, "joined": a.joined, "report": a.report }))
                            .collect::<Vec<_>>(),
                    ),
                };
                println!(
                    "{}",
                    serde_json::to_string_pretty(&value.unwrap_or_default()).unwrap_or_default()
                );
            }
            for a in &answers {
                if json {
                    break;
                }
                let prefix = a
                    .dao
                    .as_ref()
                    .map(|d| format!("DAO {d}: "))
                    .unwrap_or_default();
                if a.joined {
                    println!("{prefix}joined the round that was already running");
                }
                println!("{prefix}{}", a.report.summary());
                for left in &a.report.left {
                    println!(
                        "  not done: node {} proposal {}: {}",
                        left.node, left.proposal_id, left.reason
                    );
                }
            }
            if answers.iter().all(|a| a.report.is_success()) {
                exit::OK
            } else {
                exit::FAILURE
            }
        }
        Err(ControlError::Standby { message }) => {
            // The timer runs on every machine of an active/standby
            // deployment: on a standby there is nothing to do.
            println!("{message}; no round here");
            exit::OK
        }
        Err(e) => super::control_failed("round", &e),
    }
}
