//! The operator commands that talk to a running daemon over its control
//! socket: `govnode round` (with its progress line), `govnode plan` and
//! `govnode keys ack`.

pub mod ack;
pub mod online;
pub mod plan;
pub mod progress;
pub mod round;

use std::path::{Path, PathBuf};

use crate::config::{self, LoadEnv};
use crate::exit;

/// `--socket`, else `control.socket` of the configuration; `Err` is the exit code.
pub fn control_socket(config: &Path, socket: Option<PathBuf>) -> Result<PathBuf, i32> {
    match socket {
        Some(s) => Ok(s),
        None => config::control_socket_path(config, &LoadEnv::from_process()).map_err(|e| {
            eprintln!("{}", e.report());
            exit::CONFIG
        }),
    }
}

/// The control socket and a runtime for one request of `govnode COMMAND`;
/// `Err` is the exit code.
pub fn client(
    command: &str,
    config: &Path,
    socket: Option<PathBuf>,
) -> Result<(PathBuf, tokio::runtime::Runtime), i32> {
    Ok((control_socket(config, socket)?, runtime(command)?))
}

/// A runtime for one client request; `Err` is the exit code.
pub fn runtime(command: &str) -> Result<tokio::runtime::Runtime, i32> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("govnode {command}: cannot start the async runtime: {e}");
            exit::SOFTWARE
        })
}

/// Prints a failed control request and gives its exit code: 69 when the
/// daemon is not reachable, else 1.
pub fn control_failed(command: &str, e: &crate::api::control::ControlError) -> i32 {
    eprintln!("govnode {command}: {e}");
    match e {
        crate::api::control::ControlError::Unreachable { .. } => exit::UNAVAILABLE,
        _ => exit::FAILURE,
    }
}
