//! Atomic file output: results and checkpoints are written to a temporary file in the same
//! directory, flushed, then renamed over the target, so a killed run never leaves half a file.

use crate::error::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically, creating parent directories.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    Ok(())
}

/// Writes a directory of files atomically: `write` fills a fresh sibling staging directory,
/// which then replaces `dir` by rename, so a reader never sees half a checkpoint, nor files from
/// two saves side by side. An existing `dir` is replaced only when it holds `marker` (a file
/// every save writes) or is empty; `what` names such a directory in the refusal.
pub fn save_dir_atomic(
    dir: &Path,
    marker: &str,
    what: &str,
    write: impl FnOnce(&Path) -> Result<()>,
) -> Result<()> {
    let name = dir.file_name().ok_or_else(|| {
        Error::in_file(
            dir,
            "cannot save here: the path has no final directory name",
        )
    })?;
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let replaceable = dir.is_dir()
        && (dir.join(marker).is_file()
            || std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none()));
    if dir.exists() && !replaceable {
        let msg = format!("exists and is not {what} (no {marker}); refusing to replace it");
        return Err(Error::in_file(dir, msg));
    }
    std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    let tag = format!("{}-{}", std::process::id(), unique_suffix());
    let staging = parent.join(format!(".{}.tmp-{tag}", name.to_string_lossy()));
    let result = std::fs::create_dir(&staging)
        .map_err(|e| Error::io(&staging, e))
        .and_then(|()| write(&staging))
        .and_then(|()| {
            replace_dir(
                &staging,
                dir,
                &parent.join(format!(".{}.old-{tag}", name.to_string_lossy())),
            )
        });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    result
}

/// Moves `staging` to `dir`, swapping out an existing `dir` through `old` (renames are atomic on
/// one filesystem; the brief window without `dir` is between two renames, never a torn file).
fn replace_dir(staging: &Path, dir: &Path, old: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::rename(dir, old).map_err(|e| Error::io(dir, e))?;
        if let Err(e) = std::fs::rename(staging, dir) {
            let _ = std::fs::rename(old, dir);
            return Err(Error::io(dir, e));
        }
        let _ = std::fs::remove_dir_all(old);
    } else {
        std::fs::rename(staging, dir).map_err(|e| Error::io(dir, e))?;
    }
    Ok(())
}

/// Creates `path` with `bytes` and flushes it to disk (inside a staging directory).
pub fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io(path, e))
}

/// Distinguishes concurrent saves from one process (the pid alone does not).
fn unique_suffix() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Writes a value as pretty JSON, atomically.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::model(path.display().to_string(), e.to_string()))?;
    write_atomic(path, text.as_bytes())
}

/// A path from an experiment file: an absolute one as it is, a relative one against the
/// file's directory (`base_dir`), the rule every configured path follows.
pub fn resolve_path(base_dir: &Path, path: &Path) -> std::path::PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base_dir.join(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_whole_files_and_leave_no_temporaries() {
        let dir = std::env::temp_dir().join(format!("quill-io-{}", std::process::id()));
        let path = dir.join("sub/out.json");
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "second");
        let leftovers = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
        assert_eq!(leftovers, 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
