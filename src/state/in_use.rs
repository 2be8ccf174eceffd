//! Is the ledger in use? A restore must never swap the file under a running
//! daemon: the daemon keeps its connection open and would go on writing into
//! the old, unlinked file.
//!
//! Two independent signs, either one refuses:
//! - the control socket answers a connection (the daemon is up, whether or not
//!   it has opened the ledger yet);
//! - some process holds SQLite's "dead man switch" lock on the ledger's `-shm`
//!   file. Every connection to a WAL database holds a shared POSIX lock on byte
//!   128 of that file for as long as it is open (SQLite's own way of telling
//!   whether it is the first connection), so this also catches a daemon whose
//!   socket lives elsewhere and an operator's open `sqlite3` shell. `F_GETLK`
//!   only asks; it takes no lock, and it names the process.

use std::os::unix::net::UnixStream;
use std::path::Path;

use super::files::sidecar;

/// Byte offset of the dead-man-switch lock in a `-shm` file (SQLite's
/// `UNIX_SHM_DMS`: 120 + 8 lock slots).
const SHM_DMS_BYTE: libc::off_t = 128;

/// Why the ledger is considered in use, for the refusal message; `None` if it
/// is free.
pub fn evidence(ledger: &Path, control_socket: &Path) -> Option<String> {
    let mut found = Vec::new();
    if UnixStream::connect(control_socket).is_ok() {
        found.push(format!(
            "its control socket {} accepts connections",
            control_socket.display()
        ));
    }
    if let Some(pid) = shm_holder(ledger) {
        found.push(format!(
            "process {pid} has the ledger {} open (SQLite lock on {})",
            ledger.display(),
            sidecar(ledger, "-shm").display()
        ));
    }
    (!found.is_empty()).then(|| found.join("; "))
}

/// The pid of a process holding the ledger open, if any.
fn shm_holder(ledger: &Path) -> Option<libc::pid_t> {
    use std::os::fd::AsRawFd;
    let shm = std::fs::OpenOptions::new()
        .read(true)
        .open(sidecar(ledger, "-shm"))
        .ok()?;
    // SAFETY: a zeroed flock is a valid value; every field we rely on is set below.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = libc::F_WRLCK as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock.l_start = SHM_DMS_BYTE;
    lock.l_len = 1;
    // SAFETY: F_GETLK on an fd we own, with a valid flock out-parameter.
    let rc = unsafe { libc::fcntl(shm.as_raw_fd(), libc::F_GETLK, &mut lock) };
    (rc == 0 && lock.l_type != libc::F_UNLCK as libc::c_short).then_some(lock.l_pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lock held by another process is seen; with that process gone, the
    /// ledger is free. (POSIX locks of our own process are invisible to
    /// F_GETLK, so the holder must be a child.)
    #[test]
    fn sees_another_process_holding_the_ledger() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = dir.path().join("ledger.sqlite");
        let socket = dir.path().join("control.sock");
        assert_eq!(evidence(&ledger, &socket), None);

        let shm = sidecar(&ledger, "-shm");
        std::fs::write(&shm, [0u8; 256]).unwrap();
        let path = std::ffi::CString::new(shm.as_os_str().as_encoded_bytes()).unwrap();
        let mut fds = [0; 2];
        // SAFETY: plain pipe(2) into a two-element array.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let [read_fd, write_fd] = fds;
        // SAFETY: after fork the child calls only async-signal-safe functions
        // (open, fcntl, write, pause, _exit) and touches no allocator.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            unsafe {
                let fd = libc::open(path.as_ptr(), libc::O_RDWR);
                let mut lock: libc::flock = std::mem::zeroed();
                lock.l_type = libc::F_RDLCK as libc::c_short;
                lock.l_whence = libc::SEEK_SET as libc::c_short;
                lock.l_start = SHM_DMS_BYTE;
                lock.l_len = 1;
                let ok = fd >= 0 && libc::fcntl(fd, libc::F_SETLK, &lock) == 0;
                libc::write(write_fd, [u8::from(ok)].as_ptr().cast(), 1);
                loop {
                    libc::pause();
                }
            }
        }
        let mut buf = [0u8; 1];
        // SAFETY: reading one byte from our pipe into a one-byte buffer.
        let n = unsafe { libc::read(read_fd, buf.as_mut_ptr().cast(), 1) };
        let seen = evidence(&ledger, &socket);
        // SAFETY: ending and reaping the child forked above.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
            libc::close(read_fd);
            libc::close(write_fd);
        }
        assert_eq!((n, buf[0]), (1, 1), "the child took its lock");
        let seen = seen.expect("the child's lock is seen");
        assert!(seen.contains(&format!("process {pid} ")), "{seen}");
        assert_eq!(evidence(&ledger, &socket), None);

        let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let seen = evidence(&ledger, &socket).expect("a listening socket is seen");
        assert!(seen.contains("control socket"), "{seen}");
        drop(listener);
        // A stale socket file left by a killed daemon refuses connections.
        assert_eq!(evidence(&ledger, &socket), None);
    }
}
