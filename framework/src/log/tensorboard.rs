//! TensorBoard event files, written through tensorboard-rs's record framing and scalar summary.
//!
//! tensorboard-rs's own `SummaryWriter` is not used: it writes on a background thread that
//! panics on any I/O error, its `flush` only signals that thread (so nothing is on disk when it
//! returns), and it names files by the second and pid alone, so two writers opened within one
//! second by one process (a resume in the same process) truncate each other's file.

use crate::error::{Error, Result};
use protobuf::Message;
use std::fs::{File, OpenOptions};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::SystemTime;
use tensorboard_proto::event::Event;
use tensorboard_proto::summary::Summary;
use tensorboard_rs::masked_crc32c::masked_crc32c;
use tensorboard_rs::record_writer::RecordWriter;

/// TensorBoard finds event files by this part of their name.
const MARKER: &str = "tfevents";

/// One event file being written.
pub(crate) struct EventFile {
    path: PathBuf,
    records: RecordWriter<BufWriter<File>>,
    // RecordWriter keeps its writer private; a second handle lets `sync` reach the disk.
    file: File,
}

impl EventFile {
    /// Creates a new event file in `dir` (never reusing a name) and writes the version record
    /// TensorBoard expects first.
    pub(crate) fn create(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let (path, file) = create_unique(dir)?;
        let handle = file.try_clone().map_err(|e| Error::io(&path, e))?;
        let mut this = EventFile {
            path,
            records: RecordWriter::new(BufWriter::new(file)),
            file: handle,
        };
        let mut version = Event::new();
        version.set_wall_time(wall_time());
        version.set_file_version("brain.Event:2".to_string());
        this.write(&version)?;
        this.flush()?;
        Ok(this)
    }

    /// Buffers one scalar summary at `step` (written out by `flush`).
    pub(crate) fn scalar(&mut self, tag: &str, value: f32, step: u64) -> Result<()> {
        let step = i64::try_from(step).map_err(|_| {
            Error::field(
                "log.step",
                format!("{step} is beyond TensorBoard's i64 steps"),
            )
        })?;
        self.summary(tensorboard_rs::summary::scalar(tag, value), step)
    }

    /// Buffers one summary at `step` (written out by `flush`).
    pub(crate) fn summary(&mut self, summary: Summary, step: i64) -> Result<()> {
        let mut event = Event::new();
        event.set_wall_time(wall_time());
        event.set_step(step);
        event.set_summary(summary);
        self.write(&event)
    }

    /// Hands the buffered records to the OS.
    pub(crate) fn flush(&mut self) -> Result<()> {
        self.records.flush().map_err(|e| Error::io(&self.path, e))
    }

    /// Flushes and forces the file to disk.
    pub(crate) fn sync(&mut self) -> Result<()> {
        self.flush()?;
        self.file.sync_data().map_err(|e| Error::io(&self.path, e))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn write(&mut self, event: &Event) -> Result<()> {
        let bytes = event.write_to_bytes().map_err(|e| {
            Error::model(
                self.path.display().to_string(),
                format!("event encoding: {e}"),
            )
        })?;
        self.records
            .write(&bytes)
            .map_err(|e| Error::io(&self.path, e))
    }
}

/// `events.out.tfevents.<secs>.<host>.<pid>.<n>`, TensorFlow's pattern; `n` counts up until the
/// name is free (`create_new` makes a clash a retry rather than a truncation). TensorBoard reads
/// a directory's files in name order, which the zero-padded seconds keep chronological.
fn create_unique(dir: &Path) -> Result<(PathBuf, File)> {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let host = gethostname::gethostname()
        .to_string_lossy()
        .replace('/', "_");
    let pid = std::process::id();
    for n in 0..10_000 {
        let path = dir.join(format!("events.out.{MARKER}.{secs:010}.{host}.{pid}.{n}"));
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io(&path, e)),
        }
    }
    Err(Error::in_file(
        dir,
        "no free event file name after 10000 tries this second",
    ))
}

pub(crate) fn wall_time() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The event files in `dir` (none when `dir` does not exist), in name order.
pub(crate) fn event_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let is_events = entry.file_name().to_string_lossy().contains(MARKER);
        // Temporaries of an atomic rewrite start with '.'; TensorBoard would read them as runs.
        if is_events && !entry.file_name().to_string_lossy().starts_with('.') {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// Makes the event files in `dir` agree with a run resumed at `step`: events after `step` are
/// dropped (a file is rewritten atomically when it changes), as is a record cut off by a kill.
/// TensorBoard would otherwise show the abandoned steps beside the resumed ones.
pub(crate) fn rewind(dir: &Path, step: u64) -> Result<()> {
    for path in event_files(dir)? {
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let records = read_records(&path, &bytes)?;
        let mut kept = Vec::with_capacity(bytes.len());
        for record in &records {
            let event = Event::parse_from_bytes(record.data).map_err(|e| {
                Error::in_file(&path, format!("record at byte {}: {e}", record.offset))
            })?;
            if u64::try_from(event.get_step()).is_ok_and(|s| s <= step) {
                kept.extend_from_slice(record.framed);
            }
        }
        if kept.len() != bytes.len() {
            crate::io::write_atomic(&path, &kept)?;
        }
    }
    Ok(())
}

/// Deletes the event files in `dir`, so that a fresh run does not show beside an old one.
pub(crate) fn remove_all(dir: &Path) -> Result<()> {
    for path in event_files(dir)? {
        std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
    }
    Ok(())
}

/// One TFRecord: `u64 length, u32 masked crc of length, data, u32 masked crc of data`, all
/// little-endian.
pub(crate) struct Record<'a> {
    pub(crate) offset: usize,
    pub(crate) data: &'a [u8],
    /// The record with its framing, to copy it unchanged.
    pub(crate) framed: &'a [u8],
}

/// The complete records of an event file. A last record shorter than its framing says is a
/// write cut off by a kill and is left out; a checksum mismatch is corruption and an error.
pub(crate) fn read_records<'a>(path: &Path, bytes: &'a [u8]) -> Result<Vec<Record<'a>>> {
    let mut records = Vec::new();
    let mut offset = 0;
    while bytes.len() - offset >= 12 {
        let header = &bytes[offset..offset + 8];
        let header_crc = u32::from_le_bytes(bytes[offset + 8..offset + 12].try_into().unwrap());
        if masked_crc32c(header) != header_crc {
            let msg = format!("record at byte {offset}: length checksum mismatch");
            return Err(Error::in_file(path, msg));
        }
        let len = u64::from_le_bytes(header.try_into().unwrap());
        let start = offset + 12;
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| start.checked_add(len)?.checked_add(4))
            .filter(|&end| end <= bytes.len());
        let Some(end) = end else { break };
        let data = &bytes[start..end - 4];
        let data_crc = u32::from_le_bytes(bytes[end - 4..end].try_into().unwrap());
        if masked_crc32c(data) != data_crc {
            let msg = format!("record at byte {offset}: data checksum mismatch");
            return Err(Error::in_file(path, msg));
        }
        records.push(Record {
            offset,
            data,
            framed: &bytes[offset..end],
        });
        offset = end;
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("quill-tb-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn steps(path: &Path) -> Vec<i64> {
        let bytes = std::fs::read(path).unwrap();
        read_records(path, &bytes)
            .unwrap()
            .iter()
            .map(|r| Event::parse_from_bytes(r.data).unwrap().get_step())
            .collect()
    }

    #[test]
    fn two_files_opened_at_once_get_distinct_names() {
        let dir = temp("names");
        let a = EventFile::create(&dir).unwrap();
        let b = EventFile::create(&dir).unwrap();
        assert_ne!(a.path(), b.path());
        assert_eq!(event_files(&dir).unwrap().len(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rewind_drops_later_steps_and_a_cut_record() {
        let dir = temp("rewind");
        let mut file = EventFile::create(&dir).unwrap();
        for step in 1..=4 {
            file.scalar("loss", step as f32, step).unwrap();
        }
        file.flush().unwrap();
        let path = file.path().to_path_buf();
        drop(file);
        // A kill in the middle of a record leaves its first bytes only: here, the framing and
        // three bytes of a copy of the last record.
        let mut bytes = std::fs::read(&path).unwrap();
        let cut = read_records(&path, &bytes).unwrap().last().unwrap().framed[..15].to_vec();
        bytes.extend_from_slice(&cut);
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(steps(&path), vec![0, 1, 2, 3, 4]);
        rewind(&dir, 2).unwrap();
        assert_eq!(steps(&path), vec![0, 1, 2]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_corrupt_record_is_an_error_naming_the_file_and_offset() {
        let dir = temp("corrupt");
        let mut file = EventFile::create(&dir).unwrap();
        file.scalar("loss", 1.0, 1).unwrap();
        file.flush().unwrap();
        let path = file.path().to_path_buf();
        drop(file);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 6;
        bytes[last] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let err = read_records(&path, &bytes).err().unwrap().to_string();
        assert!(
            err.contains(MARKER) && err.contains("data checksum"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
