//! A sweep's progress as plain lines (they go to a terminal and to logs alike): each cell's
//! end with how many of this run's cells are done and a time estimate for the rest.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Cells ended so far out of `total`, since `started`.
pub struct SweepProgress {
    total: usize,
    started: Instant,
    ended: Mutex<(usize, usize)>,
}

impl SweepProgress {
    pub fn new(total: usize) -> Self {
        SweepProgress {
            total,
            started: Instant::now(),
            ended: Mutex::new((0, 0)),
        }
    }

    /// Records that cell `id` ended (`ok`: it finished) and returns the line that says so.
    pub fn ended(&self, id: &str, ok: bool) -> String {
        let mut ended = self.ended.lock().unwrap_or_else(|e| e.into_inner());
        ended.0 += 1;
        ended.1 += usize::from(!ok);
        let (done, failed) = *ended;
        status_line(id, ok, done, failed, self.total, self.started.elapsed())
    }
}

/// The line for a cell's end. The estimate assumes the remaining cells take as long on
/// average as the ended ones (cells that reuse a shared stage are faster, so it errs long).
fn status_line(
    id: &str,
    ok: bool,
    done: usize,
    failed: usize,
    total: usize,
    elapsed: Duration,
) -> String {
    let left = total.saturating_sub(done);
    let eta = elapsed.as_secs_f64() / done.max(1) as f64 * left as f64;
    format!(
        "== cell {id} {} ({done}/{total} ended{}; {} elapsed{})",
        if ok { "finished" } else { "failed" },
        if failed > 0 {
            format!(", {failed} failed")
        } else {
            String::new()
        },
        minutes(elapsed.as_secs_f64()),
        if left > 0 {
            format!(", about {} left", minutes(eta))
        } else {
            String::new()
        },
    )
}

fn minutes(seconds: f64) -> String {
    if seconds < 90.0 {
        format!("{seconds:.0}s")
    } else {
        format!("{:.0} min", seconds / 60.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_counts_cells_and_extrapolates_the_time_left() {
        let line = status_line("seed-1", true, 1, 0, 3, Duration::from_secs(600));
        assert_eq!(
            line,
            "== cell seed-1 finished (1/3 ended; 10 min elapsed, about 20 min left)"
        );
        let line = status_line("seed-7", false, 3, 1, 3, Duration::from_secs(45));
        assert_eq!(
            line,
            "== cell seed-7 failed (3/3 ended, 1 failed; 45s elapsed)"
        );
    }

    #[test]
    fn progress_counts_every_ended_cell_once() {
        let progress = SweepProgress::new(2);
        assert!(progress.ended("a", false).contains("(1/2 ended, 1 failed;"));
        assert!(progress.ended("b", true).contains("(2/2 ended, 1 failed;"));
    }
}
