//! Append-only JSON-lines files that survive a killed run and rewind when a run resumes.
//!
//! Every line carries a `"step"`. Each line goes to the file in one `write` call, so a kill can
//! leave at most one unterminated line at the end; readers drop such a tail instead of failing.

use crate::error::{Error, Result};
use serde::Deserialize;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// One JSONL log open for appending.
pub(crate) struct JsonlFile {
    path: PathBuf,
    file: File,
}

impl JsonlFile {
    /// Opens `path` for appending. `resume_step: Some(s)` keeps the complete lines with
    /// `step <= s` (rewriting the file atomically when anything is dropped); `None` starts empty.
    pub(crate) fn open(path: &Path, resume_step: Option<u64>) -> Result<Self> {
        match resume_step {
            Some(step) if path.exists() => rewind(path, step)?,
            _ => crate::io::write_atomic(path, b"")?,
        }
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        Ok(JsonlFile {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Appends one line (`line` holds no newline) and hands it to the OS at once, so that a
    /// killed run loses at most the line being written.
    pub(crate) fn append(&mut self, line: &str) -> Result<()> {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        self.file
            .write_all(&bytes)
            .map_err(|e| Error::io(&self.path, e))
    }

    /// Forces the written lines to disk (they already survive a killed process; this makes them
    /// survive a crash of the machine, which matters when a checkpoint is about to claim them).
    pub(crate) fn sync(&mut self) -> Result<()> {
        self.file.sync_data().map_err(|e| Error::io(&self.path, e))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

/// Keeps the lines of `path` with `step <= step` and drops the rest, including an unterminated
/// last line. The file is rewritten only when something changes.
fn rewind(path: &Path, step: u64) -> Result<()> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let lines = Lines::split(&bytes);
    let mut kept = Vec::with_capacity(bytes.len());
    for (number, line) in &lines.complete {
        let text = utf8_line(path, *number, line)?;
        if text.trim().is_empty() {
            continue;
        }
        if line_step(path, *number, text)? <= step {
            kept.extend_from_slice(line);
            kept.push(b'\n');
        }
    }
    if kept.len() != bytes.len() {
        crate::io::write_atomic(path, &kept)?;
    }
    Ok(())
}

/// The lines of a JSONL file, split on `\n`, numbered from 1.
pub(crate) struct Lines<'a> {
    /// Lines that ended with a newline: written in full.
    pub(crate) complete: Vec<(usize, &'a [u8])>,
    /// Bytes after the last newline: a line a killed writer did not finish (or a file written by
    /// hand without a final newline).
    pub(crate) tail: Option<(usize, &'a [u8])>,
}

impl<'a> Lines<'a> {
    pub(crate) fn split(bytes: &'a [u8]) -> Self {
        let mut complete = Vec::new();
        let mut rest = bytes;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            complete.push((complete.len() + 1, &rest[..end]));
            rest = &rest[end + 1..];
        }
        let tail = (!rest.is_empty()).then_some((complete.len() + 1, rest));
        Lines { complete, tail }
    }
}

/// A complete line as text; bytes are read rather than a string because a cut-off tail may end
/// inside a UTF-8 character, and that must not make the whole file unreadable.
pub(crate) fn utf8_line<'a>(path: &Path, number: usize, line: &'a [u8]) -> Result<&'a str> {
    std::str::from_utf8(line).map_err(|e| Error::at_line(path, number, format!("not UTF-8: {e}")))
}

/// The `"step"` of one line.
fn line_step(path: &Path, number: usize, text: &str) -> Result<u64> {
    #[derive(Deserialize)]
    struct Step {
        step: u64,
    }
    serde_json::from_str::<Step>(text)
        .map(|s| s.step)
        .map_err(|e| {
            let msg = format!("expected a JSON object with a non-negative integer \"step\": {e}");
            Error::at_line(path, number, msg)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("quill-jsonl-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("log.jsonl")
    }

    #[test]
    fn split_separates_the_unterminated_tail() {
        let lines = Lines::split(b"a\n\nb\nc");
        let complete: Vec<_> = lines.complete.iter().map(|(n, l)| (*n, *l)).collect();
        assert_eq!(
            complete,
            vec![(1, &b"a"[..]), (2, &b""[..]), (3, &b"b"[..])]
        );
        assert_eq!(lines.tail, Some((4, &b"c"[..])));
        assert!(Lines::split(b"a\n").tail.is_none());
        assert!(Lines::split(b"").complete.is_empty());
    }

    #[test]
    fn rewind_keeps_earlier_steps_and_drops_a_cut_multibyte_tail() {
        let path = temp("rewind");
        // The tail is cut inside "é" (0xC3 0xA9): it must be dropped, not reported as bad UTF-8.
        let mut bytes = b"{\"step\":1}\n{\"step\":2}\n{\"step\":3}\n{\"step\":4,\"x\":\"".to_vec();
        bytes.push(0xC3);
        std::fs::write(&path, &bytes).unwrap();
        let mut log = JsonlFile::open(&path, Some(2)).unwrap();
        log.append("{\"step\":3,\"new\":true}").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "{\"step\":1}\n{\"step\":2}\n{\"step\":3,\"new\":true}\n"
        );
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn rewind_refuses_a_complete_line_without_a_step() {
        let path = temp("nostep");
        std::fs::write(&path, "{\"step\":1}\n{\"loss\":2}\n").unwrap();
        let err = JsonlFile::open(&path, Some(5)).err().unwrap().to_string();
        assert!(err.contains("log.jsonl:2"), "{err}");
        assert!(err.contains("\"step\""), "{err}");
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_fresh_open_empties_the_file_and_a_resume_without_a_file_starts_one() {
        let path = temp("fresh");
        std::fs::write(&path, "{\"step\":1}\n").unwrap();
        JsonlFile::open(&path, None).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
        std::fs::remove_file(&path).unwrap();
        JsonlFile::open(&path, Some(3)).unwrap();
        assert!(path.exists());
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }
}
