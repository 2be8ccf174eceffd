//! The state-directory lock: one daemon per ledger. A second daemon started
//! on the same state (a stray `govnode run`, two units with one directory)
//! exits with [`crate::exit::LOCKED`] before it touches the chain or the
//! ledger; systemd's `RestartPreventExitStatus=` lists the code, so the unit
//! is not restarted in a loop against a lock it can never take.
//!
//! The lock is `flock(2)` on `govnode.lock` next to the ledger: the kernel
//! drops it when the process ends, however it ends, so a crash never leaves
//! a stale lock. The holder writes its pid into the file for the message.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

pub const LOCK_FILE: &str = "govnode.lock";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "the state directory {dir} is in use by another govnode{holder} (lock {path}); stop it first, or give this one its own ledger.path"
    )]
    Held {
        dir: PathBuf,
        path: PathBuf,
        holder: String,
    },
    #[error("cannot take the state lock {path}: {reason}")]
    Io { path: PathBuf, reason: String },
}

/// Held for the daemon's lifetime; dropping it releases the lock.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
}

impl StateLock {
    /// Takes the lock of the directory `ledger` lives in (creating it, as
    /// the ledger would be).
    pub fn acquire(ledger: &Path) -> Result<StateLock, LockError> {
        let dir = ledger
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let path = dir.join(LOCK_FILE);
        let io = |e: std::io::Error| LockError::Io {
            path: path.clone(),
            reason: e.to_string(),
        };
        std::fs::create_dir_all(&dir).map_err(io)?;
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        // SAFETY: flock on a file descriptor we own; no memory is passed.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                let holder = match pid.trim() {
                    "" => String::new(),
                    p => format!(" (pid {p})"),
                };
                return Err(LockError::Held { dir, path, holder });
            }
            return Err(io(err));
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        write!(file, "{}", std::process::id()).map_err(io)?;
        Ok(StateLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = dir.path().join("state").join("ledger.sqlite");
        let first = StateLock::acquire(&ledger).unwrap();
        // flock locks belong to the open file description: a second open
        // in the same process conflicts, as a second process would.
        match StateLock::acquire(&ledger) {
            Err(LockError::Held { holder, .. }) => {
                assert_eq!(holder, format!(" (pid {})", std::process::id()))
            }
            other => panic!("expected Held, got {other:?}"),
        }
        drop(first);
        StateLock::acquire(&ledger).unwrap();
    }
}
