//! The cleaning stage: a small classifier that drops malformed or irrelevant behaviour records
//! (markup fragments, error pages, navigational queries, keyboard mashing) before a user's
//! signals become a prompt. The paper uses a lightweight RoBERTa classifier; Quill uses hashed
//! character n-grams and words under a one-hidden-layer MLP, which trains in seconds on a CPU
//! and catches the surface patterns that make a record noise.
//!
//! ```ignore
//! let (cleaner, report) = Cleaner::train(&labelled_signals, &cfg, seed)?;
//! let metrics = cleaner.evaluate(&held_out_signals);
//! let user = cleaner.clean_user(&user);
//! cleaner.save(Path::new("out/cleaner"))?;
//! ```

mod cleaner;
mod config;
mod features;
mod metrics;
mod model;
mod persist;

pub use cleaner::{Cleaner, TrainReport, keep_mask};
pub use config::CleanerConfig;
pub use features::{FEATURE_SCHEME, SparseFeatures, dense_batch, signal_features};
pub use metrics::{NoiseMetrics, noise_metrics};
pub use model::NoiseNet;
pub use persist::{META_FILE, WEIGHTS_FILE};
