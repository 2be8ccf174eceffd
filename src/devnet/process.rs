//! Child processes the devnet starts (anvil, the daemon) and how they stop.
//!
//! Children run in their own process group, so a Ctrl-C in the terminal
//! reaches only `govnode devnet`, which then stops them in order (daemon
//! first, chain last). They also get SIGTERM from the kernel if the devnet
//! dies without cleaning up (SIGKILL), and SIGKILL when their handle is
//! dropped, so nothing outlives the command by accident.

use std::ffi::OsStr;
use std::process::ExitStatus;
use std::time::Duration;

use tokio::process::{Child, Command};

/// A command prepared for a supervised child.
pub fn supervised(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(program);
    cmd.process_group(0).kill_on_drop(true);
    let parent = std::process::id();
    // SAFETY: the closure runs between fork and exec and calls only
    // async-signal-safe functions (prctl, getppid, _exit); it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl: then no signal comes.
            if libc::getppid() as u32 != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    cmd
}

/// Asks the child to stop with SIGTERM, waits up to `grace`, then kills it.
/// Returns the exit status when the child could be reaped.
pub async fn terminate(child: &mut Child, grace: Duration) -> Option<ExitStatus> {
    if let Ok(Some(status)) = child.try_wait() {
        return Some(status);
    }
    if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
        // SAFETY: kill(2) with a pid we spawned and have not reaped yet (the
        // `Child` still owns it), so the pid cannot have been reused.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
    match tokio::time::timeout(grace, child.wait()).await {
        Ok(Ok(status)) => Some(status),
        Ok(Err(_)) => None,
        Err(_) => {
            let _ = child.kill().await;
            child.try_wait().ok().flatten()
        }
    }
}

/// `exit status: 1` / `signal: 9 (SIGKILL)` as an operator reads it.
pub fn describe(status: &ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        (None, None) => status.to_string(),
    }
}
