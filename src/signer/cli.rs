//! `govnode keys`: writing keystores (`new`, `import`), listing the
//! addresses in a keystore directory (`list`), and `ack` (see
//! [`crate::cli::ack`]). Passwords and keys come from
//! a file, a systemd credential or the terminal with echo off; they are
//! never printed, logged or taken from the command line.

use std::io::{BufRead, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use alloy::signers::local::PrivateKeySigner;

use super::keystore;
use crate::config::{Secret, SecretSource};
use crate::exit;

/// Where a secret for `govnode keys` comes from.
#[derive(Debug, Clone, clap::Args)]
pub struct PasswordArgs {
    /// File holding the keystore password.
    #[arg(long, value_name = "FILE", conflicts_with = "password_credential")]
    pub password_file: Option<PathBuf>,
    /// systemd credential holding the keystore password.
    #[arg(long, value_name = "NAME")]
    pub password_credential: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Generate a new key and write it as an encrypted keystore (mode 0600).
    New {
        /// Directory the keystore is written to.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// The keystore's file name (e.g. the node's name).
        #[arg(long)]
        name: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Encrypt an existing hex private key into a keystore (mode 0600).
    Import {
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        #[arg(long)]
        name: String,
        /// File holding the hex private key; without it, read from the terminal without echo.
        #[arg(long, value_name = "FILE")]
        key_file: Option<PathBuf>,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Print the address of every keystore in a directory (no password needed).
    List {
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
    /// Accept the transactions NODE's address sent that this daemon did not
    /// sign (after stopping the other user of the key, or after a restore),
    /// so that the running daemon resumes the paused node. Recorded in the
    /// ledger with the time and the transaction count accepted.
    Ack {
        /// Configuration file (for the control socket).
        #[arg(long, env = "GOVNODE_CONFIG", default_value = crate::config::DEFAULT_CONFIG_PATH)]
        config: PathBuf,
        /// Control socket; default: `control.socket` from the configuration.
        #[arg(long)]
        socket: Option<PathBuf>,
        /// The node's name (`nodes[].name`).
        node: String,
    },
}

#[derive(Debug, thiserror::Error)]
enum KeysError {
    #[error("{0}")]
    Secret(#[from] crate::config::SecretError),
    #[error("{0}")]
    Keystore(#[from] keystore::KeystoreError),
    #[error("{what}: no file or credential given and standard input is not a terminal")]
    NoTerminal { what: &'static str },
    #[error("terminal: {0}")]
    Terminal(std::io::Error),
    #[error("the two passwords differ; nothing written")]
    Mismatch,
    #[error("{src} does not hold a 32-byte hex private key")]
    BadKey { src: String },
    #[error("the key read from the terminal is not a 32-byte hex private key")]
    BadTypedKey,
    #[error("cannot list {dir}: {reason}")]
    List { dir: PathBuf, reason: String },
}

pub fn command(cmd: KeysCommand) -> i32 {
    if let KeysCommand::Ack {
        config,
        socket,
        node,
    } = cmd
    {
        return crate::cli::ack::run(&config, socket, &node);
    }
    match run(cmd) {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("govnode keys: {e}");
            match e {
                KeysError::Mismatch | KeysError::NoTerminal { .. } => exit::USAGE,
                _ => exit::FAILURE,
            }
        }
    }
}

fn run(cmd: KeysCommand) -> Result<(), KeysError> {
    match cmd {
        KeysCommand::New {
            dir,
            name,
            password,
        } => {
            let pw = password_for_writing(&password)?;
            let key = PrivateKeySigner::random();
            let path = keystore::write(&dir, &name, &key, pw.expose().as_bytes())?;
            println!("{} {}", key.address(), path.display());
            Ok(())
        }
        KeysCommand::Import {
            dir,
            name,
            key_file,
            password,
        } => {
            let key = match &key_file {
                Some(file) => {
                    let src = SecretSource::File(file.clone());
                    let raw = src.read(None)?;
                    parse_hex_key(raw.expose()).ok_or(KeysError::BadKey {
                        src: src.to_string(),
                    })?
                }
                None => {
                    let raw = prompt_hidden("private key (hex): ", "the private key")?;
                    parse_hex_key(raw.expose()).ok_or(KeysError::BadTypedKey)?
                }
            };
            let pw = password_for_writing(&password)?;
            let path = keystore::write(&dir, &name, &key, pw.expose().as_bytes())?;
            println!("{} {}", key.address(), path.display());
            Ok(())
        }
        KeysCommand::List { dir } => list(&dir),
        // Answered by the daemon, before this function.
        KeysCommand::Ack { .. } => Ok(()),
    }
}

fn list(dir: &Path) -> Result<(), KeysError> {
    let list_err = |e: std::io::Error| KeysError::List {
        dir: dir.to_owned(),
        reason: e.to_string(),
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(list_err)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with('.'))
        })
        .collect();
    paths.sort();
    for path in paths {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let name = name.unwrap_or_default();
        // Files that are not keystores are skipped, said on stderr.
        match keystore::declared_address(&path) {
            Ok(Some(address)) => println!("{address} {name}"),
            Ok(None) => println!("(address not declared) {name}"),
            Err(e) => eprintln!("skipped: {e}"),
        }
    }
    Ok(())
}

fn parse_hex_key(raw: &str) -> Option<PrivateKeySigner> {
    super::build::parse_key(raw).ok()
}

/// The password from a file or credential, or typed twice on the terminal.
fn password_for_writing(args: &PasswordArgs) -> Result<Secret, KeysError> {
    if let Some(file) = &args.password_file {
        return Ok(SecretSource::File(file.clone()).read(None)?);
    }
    if let Some(name) = &args.password_credential {
        let dir = std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from);
        return Ok(SecretSource::Credential(name.clone()).read(dir.as_deref())?);
    }
    let first = prompt_hidden("keystore password: ", "the keystore password")?;
    let second = prompt_hidden("again: ", "the keystore password")?;
    if first != second {
        return Err(KeysError::Mismatch);
    }
    Ok(first)
}

/// Reads one line from the terminal with echo off; echo is restored even
/// when reading fails.
fn prompt_hidden(prompt: &str, what: &'static str) -> Result<Secret, KeysError> {
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|_| KeysError::NoTerminal { what })?;
    let fd = tty.as_raw_fd();
    // SAFETY: termios is plain data; tcgetattr fills it for a valid fd.
    let mut saved: libc::termios = unsafe { std::mem::zeroed() };
    if unsafe { libc::tcgetattr(fd, &mut saved) } != 0 {
        return Err(KeysError::NoTerminal { what });
    }
    let mut quiet = saved;
    quiet.c_lflag &= !libc::ECHO;
    quiet.c_lflag |= libc::ECHONL;
    // SAFETY: fd is open for the lifetime of `tty`; `quiet` is a valid termios.
    if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) } != 0 {
        return Err(KeysError::Terminal(std::io::Error::last_os_error()));
    }
    let mut line = String::new();
    let read = (|| {
        let mut out = &tty;
        out.write_all(prompt.as_bytes())?;
        out.flush()?;
        std::io::BufReader::new(&tty).read_line(&mut line)
    })();
    // SAFETY: as above; restores what tcgetattr returned.
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &saved) };
    read.map_err(KeysError::Terminal)?;
    let value = line.trim_end_matches(['\n', '\r']);
    if value.is_empty() {
        return Err(KeysError::NoTerminal { what });
    }
    Ok(Secret::new(value))
}
