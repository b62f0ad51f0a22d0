//! Reading whole files within a size limit. Every file Quill reads whole (experiment TOML,
//! JSON metadata, tokenizers) has one (data files are read a line at a time, each line
//! bounded: `data::loaders`), so a wrong path (a device such as
//! `/dev/zero`, a file of the wrong kind) is an error naming it instead of a process that
//! grows until the machine runs out of memory. `std::io::Read::take` does the bounding; this
//! module only names the limits and words the error.

use crate::error::{Error, Result};
use std::io::Read;
use std::path::Path;

/// An experiment file: the largest shipped config is a few KiB.
pub const CONFIG_BYTES: u64 = 4 << 20;
/// JSON metadata and tokenizers (Qwen2.5's `tokenizer.json` is 7 MiB).
pub const JSON_BYTES: u64 = 256 << 20;

/// The bytes of `path`, or an error naming it when it holds more than `limit` bytes; `what`
/// says what the file is in that error ("an experiment file").
pub fn read_bounded(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > limit {
        let msg = format!(
            "holds more than {} bytes: {what} is at most that large (is this the right path?)",
            limit
        );
        return Err(Error::in_file(path, msg));
    }
    Ok(bytes)
}

/// [`read_bounded`] as UTF-8 text; invalid UTF-8 is an error naming the file and line.
pub fn read_text_bounded(path: &Path, limit: u64, what: &str) -> Result<String> {
    let bytes = read_bounded(path, limit, what)?;
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..valid]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        Error::at_line(
            path,
            line,
            "the line is not valid UTF-8; save the file as UTF-8",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_file_stops_at_the_limit_with_an_error_naming_it() {
        // `/dev/zero` never ends: without the bound this test would exhaust memory.
        let err = read_bounded(Path::new("/dev/zero"), 1 << 20, "an experiment file")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("/dev/zero: holds more than 1048576 bytes: an experiment file"),
            "{err}"
        );
        let dir = std::env::temp_dir().join(format!("quill-bounded-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.txt");
        std::fs::write(&path, "ab\ncd").unwrap();
        assert_eq!(read_text_bounded(&path, 5, "x").unwrap(), "ab\ncd");
        assert!(read_bounded(&path, 4, "x").is_err());
        std::fs::write(&path, b"ok\n\xff").unwrap();
        let err = read_text_bounded(&path, 100, "x").unwrap_err().to_string();
        assert!(err.contains("f.txt:2") && err.contains("UTF-8"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
