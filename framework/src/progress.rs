//! Progress for long steps, one style everywhere: a bar with rate and ETA on a terminal, and
//! the same text as a plain line every [`PLAIN_LINE_SECONDS`] when stderr is not a terminal
//! (Slurm logs, a sweep cell's `log.txt`), so a long run in a log file still says how far it
//! is. `QUILL_QUIET` hides both.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often a progress line is written when stderr is not a terminal.
pub const PLAIN_LINE_SECONDS: u64 = 30;

/// A bar over `len` items with rate and ETA.
pub fn bar(len: u64, what: &str) -> ProgressBar {
    if std::env::var_os("QUILL_QUIET").is_some() {
        return ProgressBar::hidden();
    }
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        let lines = PlainLines::new(Duration::from_secs(PLAIN_LINE_SECONDS), |line| {
            eprintln!("{line}")
        });
        ProgressDrawTarget::term_like_with_hz(Box::new(lines), 1)
    };
    let pb = ProgressBar::with_draw_target(Some(len), target);
    pb.set_style(
        ProgressStyle::with_template("{msg:>14} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
            .expect("static template is valid")
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

/// A "terminal" for indicatif that writes each drawn state as one plain line, at most once per
/// `every` (the first at once), and ignores cursor movement. indicatif offers no line mode for
/// output that is not a terminal (it hides the bar), hence this small adapter.
struct PlainLines {
    every: Duration,
    write: fn(&str),
    state: Mutex<(String, Option<Instant>)>,
}

impl PlainLines {
    fn new(every: Duration, write: fn(&str)) -> Self {
        PlainLines {
            every,
            write,
            state: Mutex::new((String::new(), None)),
        }
    }
}

impl std::fmt::Debug for PlainLines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PlainLines")
    }
}

impl TermLike for PlainLines {
    fn width(&self) -> u16 {
        120
    }
    fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.write_str(s)
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.0.push_str(s.trim_start_matches('\r'));
        Ok(())
    }
    fn clear_line(&self) -> std::io::Result<()> {
        Ok(())
    }
    fn flush(&self) -> std::io::Result<()> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let line = state.0.trim().to_string();
        state.0.clear();
        let due = state.1.is_none_or(|last| last.elapsed() >= self.every);
        if !line.is_empty() && due {
            (self.write)(&line);
            state.1 = Some(Instant::now());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static WRITTEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

    #[test]
    fn plain_lines_write_the_first_state_then_at_most_one_per_interval() {
        let lines = PlainLines::new(Duration::from_secs(3600), |l| {
            WRITTEN.lock().unwrap().push(l.to_string())
        });
        let pb =
            ProgressBar::with_draw_target(Some(10), ProgressDrawTarget::term_like(Box::new(lines)));
        pb.set_style(ProgressStyle::with_template("{msg} {pos}/{len}").unwrap());
        pb.set_message("warm start");
        for _ in 0..10 {
            pb.inc(1);
        }
        pb.finish_and_clear();
        let written = WRITTEN.lock().unwrap().clone();
        assert_eq!(written.len(), 1, "{written:?}");
        assert!(written[0].starts_with("warm start "), "{written:?}");
        assert!(!written[0].contains('\r') && !written[0].ends_with(' '));
    }

    static EVERY: Mutex<Vec<String>> = Mutex::new(Vec::new());

    #[test]
    fn plain_lines_with_no_interval_write_every_drawn_state() {
        let lines = PlainLines::new(Duration::ZERO, |l| {
            EVERY.lock().unwrap().push(l.to_string())
        });
        let pb =
            ProgressBar::with_draw_target(Some(3), ProgressDrawTarget::term_like(Box::new(lines)));
        pb.set_style(ProgressStyle::with_template("{pos}/{len}").unwrap());
        for _ in 0..3 {
            pb.inc(1);
        }
        let written = EVERY.lock().unwrap().clone();
        assert_eq!(
            written.last().map(String::as_str),
            Some("3/3"),
            "{written:?}"
        );
        assert!(written.contains(&"1/3".to_string()), "{written:?}");
    }
}
