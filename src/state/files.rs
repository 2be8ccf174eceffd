//! Writing files so that a reader sees either the old file or the complete
//! new one: a private temporary file in the target's directory, fsynced, then
//! renamed over the target, then the directory fsynced.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::error::StateError;

/// A temporary file next to `target`, created empty with mode 0600; removed
/// on drop unless [`TempFile::persist`] moved it into place.
#[derive(Debug)]
pub struct TempFile {
    path: PathBuf,
    target: PathBuf,
    done: bool,
}

impl TempFile {
    pub fn beside(target: &Path, purpose: &str) -> Result<TempFile, StateError> {
        if target.is_dir() {
            return Err(StateError::Io {
                what: "cannot write",
                path: target.to_owned(),
                reason: "it is a directory; name a file".into(),
                kind: std::io::ErrorKind::IsADirectory,
            });
        }
        let dir = parent(target);
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "govnode".to_owned());
        let path = dir.join(format!(".{name}.{purpose}-{}.tmp", std::process::id()));
        // A leftover from a killed run with the same pid is ours to replace.
        let _ = std::fs::remove_file(&path);
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| StateError::io("cannot create a temporary file", &path, e))?;
        Ok(TempFile {
            path,
            target: target.to_owned(),
            done: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// fsyncs the file, renames it over the target and fsyncs the directory.
    pub fn persist(mut self) -> Result<(), StateError> {
        sync_file(&self.path)?;
        std::fs::rename(&self.path, &self.target).map_err(|e| {
            StateError::io("cannot move the new file into place at", &self.target, e)
        })?;
        self.done = true;
        sync_dir(parent(&self.target))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.path);
            // SQLite may have left a rollback journal beside it.
            let _ = std::fs::remove_file(sidecar(&self.path, "-journal"));
        }
    }
}

/// The directory a path lives in (`.` for a bare file name).
pub fn parent(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// `ledger.sqlite` + `-wal` → `ledger.sqlite-wal`.
pub fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// `<path>.<label>-<time>`, with `-2`, `-3`, … if that exists already.
pub fn unused_sidecar(path: &Path, label: &str) -> PathBuf {
    let base = sidecar(path, &format!(".{label}-{}", stamp()));
    let mut candidate = base.clone();
    let mut n = 2;
    while candidate.exists() {
        candidate = sidecar(&base, &format!("-{n}"));
        n += 1;
    }
    candidate
}

pub fn sync_file(path: &Path) -> Result<(), StateError> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| StateError::io("cannot fsync", path, e))
}

pub fn sync_dir(dir: &Path) -> Result<(), StateError> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| StateError::io("cannot fsync the directory", dir, e))
}

/// Whether two paths name the same file (both must exist to be the same).
pub fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

/// Current UTC time in RFC 3339 (for the backup header).
pub fn now_rfc3339() -> String {
    crate::round::now_rfc3339()
}

/// Unix milliseconds, as the ledger stores times.
pub fn now_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)
        .unwrap_or(i64::MAX)
}

/// Unix milliseconds as RFC 3339 UTC with millisecond precision.
pub fn ms_rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}

/// A file-name-safe UTC timestamp: `20250102T030405Z`.
pub fn stamp() -> String {
    let t = time::OffsetDateTime::now_utc();
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_format_as_rfc3339_utc() {
        assert_eq!(ms_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(ms_rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }

    #[test]
    fn stamp_is_compact_utc() {
        let s = stamp();
        assert_eq!(s.len(), 16, "{s}");
        assert!(s.ends_with('Z') && s.as_bytes()[8] == b'T', "{s}");
    }

    #[test]
    fn temp_file_is_private_and_removed_unless_persisted() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.db");
        let tmp = TempFile::beside(&target, "backup").unwrap();
        let mode = std::fs::metadata(tmp.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let kept = tmp.path().to_owned();
        drop(tmp);
        assert!(!kept.exists());
        let tmp = TempFile::beside(&target, "backup").unwrap();
        tmp.persist().unwrap();
        assert!(target.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
