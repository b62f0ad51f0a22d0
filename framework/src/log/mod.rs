//! A training run's logs: per-step scalars to TensorBoard and `scalars.jsonl`, and a sampled
//! completions table to `completions.jsonl`.
//!
//! The module is name-agnostic: the trainer chooses the scalar names (TRL's, such as `reward`,
//! `rewards/<name>/mean`, `kl`) and this module only stores them. Every call hands its lines to
//! the OS before returning, so a killed run loses at most the line being written; reopening with
//! the checkpoint's step rewinds all three logs, so a killed-and-resumed run ends with the same
//! logs as one that was never interrupted.
//!
//! ```text
//! <dir>/scalars.jsonl       {"step":1,"kl":0.01,"loss":0.3,"reward":0.5,...}   one line per step
//! <dir>/completions.jsonl   {"step":10,"user_id":"u3","prompt":...}            one line per row
//! <dir>/tensorboard/        events.out.tfevents.*                               `tensorboard --logdir`
//!                           (the scalars, and the run's settings as hparams: `write_hparams`)
//! ```

mod completions;
mod hparams;
mod jsonl;
mod scalars;
mod tensorboard;

pub use completions::{CompletionRow, read_completions};
pub use hparams::{HParam, SESSION_START_INFO_TAG, read_hparams, write_hparams};
pub use scalars::read_scalars;

use crate::error::{Error, Result};
use jsonl::JsonlFile;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tensorboard::EventFile;

/// The scalar log's file name inside a run's log directory.
pub const SCALARS_FILE: &str = "scalars.jsonl";
/// The completions table's file name inside a run's log directory.
pub const COMPLETIONS_FILE: &str = "completions.jsonl";
/// The TensorBoard directory inside a run's log directory.
pub const TENSORBOARD_DIR: &str = "tensorboard";

/// The open logs of one training run.
pub struct RunLog {
    dir: PathBuf,
    scalars: JsonlFile,
    completions: JsonlFile,
    events: EventFile,
}

impl RunLog {
    /// Opens the log directory `dir` (created if missing). `resume_step: Some(s)` continues a run
    /// resumed from a checkpoint at step `s`: entries with a step after `s`, and a line or record
    /// cut off by a kill, are dropped (files are rewritten atomically) and a new event file is
    /// started beside the old ones. `None` starts a fresh run: both JSONL files are emptied and
    /// old event files deleted.
    pub fn open(dir: &Path, resume_step: Option<u64>) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let tb_dir = dir.join(TENSORBOARD_DIR);
        match resume_step {
            Some(step) => tensorboard::rewind(&tb_dir, step)?,
            None => tensorboard::remove_all(&tb_dir)?,
        }
        Ok(RunLog {
            dir: dir.to_path_buf(),
            scalars: JsonlFile::open(&dir.join(SCALARS_FILE), resume_step)?,
            completions: JsonlFile::open(&dir.join(COMPLETIONS_FILE), resume_step)?,
            events: EventFile::create(&tb_dir)?,
        })
    }

    /// Logs one step's scalars (name -> value) to TensorBoard (as f32, TensorBoard's type) and as
    /// one line of `scalars.jsonl` (full f64; non-finite values as `null`). A name may not be
    /// empty or `step`.
    pub fn scalars(&mut self, step: u64, values: &BTreeMap<String, f64>) -> Result<()> {
        scalars::check_names(values)?;
        for (name, value) in values {
            self.events.scalar(name, *value as f32, step)?;
        }
        self.events.flush()?;
        self.scalars.append(&scalars::encode(step, values))
    }

    /// Appends rows to the completions table, each tagged with `step`.
    pub fn completions(&mut self, step: u64, rows: &[CompletionRow]) -> Result<()> {
        // Encode every row first, so that a row that cannot be written leaves none of the step's.
        let lines = rows
            .iter()
            .map(|row| completions::encode(step, row))
            .collect::<Result<Vec<_>>>()?;
        lines
            .iter()
            .try_for_each(|line| self.completions.append(line))
    }

    /// Forces everything written so far to disk. Each call above already survives a killed
    /// process; call this before a checkpoint claims a step, so the logs survive a machine crash.
    pub fn flush(&mut self) -> Result<()> {
        self.events.sync()?;
        self.scalars.sync()?;
        self.completions.sync()
    }

    /// The log directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of `scalars.jsonl`.
    pub fn scalars_path(&self) -> &Path {
        self.scalars.path()
    }

    /// The path of `completions.jsonl`.
    pub fn completions_path(&self) -> &Path {
        self.completions.path()
    }

    /// The event file this run writes to (earlier runs' files may sit beside it after a resume).
    pub fn event_file(&self) -> &Path {
        self.events.path()
    }
}
