//! One error type for everything that reads input: files, rows, configs, model files.
//!
//! Every variant says *where* (file and line, or a config field) and *what* was wrong, so that a
//! user can fix the input without reading Quill's source.

use std::path::{Path, PathBuf};

/// The library's error. Bad input is always one of these, never a panic.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value in an input file or config is invalid. `origin` is `file:line`, `file`, or a
    /// dotted config field; `message` names the bad value and what is valid.
    #[error("{origin}: {message}")]
    Input { origin: String, message: String },
    /// The operating system refused a read or write. The OS error is part of the message and
    /// not a `source`: a chain printed with `{:#}` would otherwise say it twice.
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A model file could not be saved or loaded, or a model operation failed.
    #[error("{origin}: {message}")]
    Model { origin: String, message: String },
}

/// Shorthand used across the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Bad row or value at `path:line` (lines count from 1).
    pub fn at_line(path: &Path, line: usize, message: impl Into<String>) -> Self {
        Error::Input {
            origin: format!("{}:{line}", path.display()),
            message: message.into(),
        }
    }
    /// Bad content of a whole file (a missing column header, an empty corpus, ...).
    pub fn in_file(path: &Path, message: impl Into<String>) -> Self {
        Error::Input {
            origin: path.display().to_string(),
            message: message.into(),
        }
    }
    /// Bad value of a config field, named by its dotted path (`data.users`).
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Input {
            origin: field.into(),
            message: message.into(),
        }
    }
    /// An I/O failure on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            error: source,
        }
    }
    /// A model file or tensor operation failed.
    pub fn model(origin: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Model {
            origin: origin.into(),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_os_error_is_said_once() {
        let os = std::io::Error::from(std::io::ErrorKind::NotFound);
        let e = Error::io(Path::new("/no/corpus.tsv"), os);
        let shown = e.to_string();
        assert!(shown.starts_with("/no/corpus.tsv: "), "{shown}");
        assert_eq!(shown.matches("not found").count(), 1, "{shown}");
        // Nothing in the chain repeats it (`{:#}` prints every source).
        assert!(std::error::Error::source(&e).is_none());
    }
}
