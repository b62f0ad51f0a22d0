//! Progress bars for long steps: one style everywhere, hidden when output is not a terminal
//! (indicatif does that itself) or when `QUILL_QUIET` is set.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar over `len` items with rate and ETA.
pub fn bar(len: u64, what: &str) -> ProgressBar {
    if std::env::var_os("QUILL_QUIET").is_some() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{msg:>14} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
            .expect("static template is valid")
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}
