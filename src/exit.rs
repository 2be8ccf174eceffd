//! Process exit codes (sysexits.h where one fits). Documented in
//! docs/operations.md; systemd's `RestartPreventExitStatus=73 78` relies on them.

/// Success.
pub const OK: i32 = 0;
/// A runtime failure (e.g. the listen address is taken, a round failed).
pub const FAILURE: i32 = 1;
/// Command-line usage error (clap).
pub const USAGE: i32 = 2;
/// EX_UNAVAILABLE: the daemon is not reachable (`govnode round`).
pub const UNAVAILABLE: i32 = 69;
/// EX_SOFTWARE: an internal error, including a panic.
pub const SOFTWARE: i32 = 70;
/// EX_CANTCREAT: another govnode holds the state directory's lock;
/// restarting will not help while it runs (`RestartPreventExitStatus=`).
pub const LOCKED: i32 = 73;
/// EX_CONFIG: the configuration is invalid; restarting will not help.
pub const CONFIG: i32 = 78;
