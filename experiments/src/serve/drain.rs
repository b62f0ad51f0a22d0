//! Graceful shutdown. On SIGTERM or SIGINT `quill serve` drains: requests already received
//! are answered, requests arriving meanwhile get 503 with `Retry-After` (and `/healthz` says
//! "draining", so a load balancer stops routing here), and once nothing is in flight, or the
//! drain budget (`--drain-seconds`) has passed, the process exits 0 having logged what it did.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Requests in flight and whether the server is draining, shared by the handlers.
#[derive(Default)]
pub struct Drain {
    draining: AtomicBool,
    in_flight: AtomicUsize,
    refused: AtomicU64,
}

/// A request being answered; dropping it (answered, failed or abandoned) ends it.
pub struct InFlight<'a>(&'a Drain);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What a drain did, for the log.
#[derive(Debug, Clone, PartialEq)]
pub struct DrainReport {
    /// Requests in flight when the drain began.
    pub in_flight_at_start: usize,
    /// Requests still unanswered when the budget ran out (0 for a complete drain).
    pub unfinished: usize,
    /// Requests refused with 503 during the drain.
    pub refused: u64,
    pub seconds: f64,
}

impl std::fmt::Display for DrainReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} requests in flight answered, {} unfinished at the budget, {} refused with 503 \
             ({:.1}s)",
            self.in_flight_at_start - self.unfinished.min(self.in_flight_at_start),
            self.unfinished,
            self.refused,
            self.seconds
        )
    }
}

impl Drain {
    /// Admits a request, or `None` when draining (the caller answers 503). Counted before the
    /// check, so a drain that has begun waits for every request admitted before it.
    pub fn admit(&self) -> Option<InFlight<'_>> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let guard = InFlight(self);
        if self.draining.load(Ordering::SeqCst) {
            self.refused.fetch_add(1, Ordering::SeqCst);
            return None;
        }
        Some(guard)
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Begins draining and waits until no request is in flight or `budget` has passed.
    pub async fn drain(&self, budget: Duration) -> DrainReport {
        let start = Instant::now();
        self.draining.store(true, Ordering::SeqCst);
        let in_flight_at_start = self.in_flight();
        while self.in_flight() > 0 && start.elapsed() < budget {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        DrainReport {
            in_flight_at_start,
            unfinished: self.in_flight(),
            refused: self.refused.load(Ordering::SeqCst),
            seconds: start.elapsed().as_secs_f64(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn a_drain_waits_for_admitted_requests_and_refuses_new_ones() {
        let drain = Drain::default();
        let first = drain.admit().expect("admitted before the drain");
        let waiting = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            assert!(drain.is_draining());
            assert!(drain.admit().is_none(), "refused during the drain");
            drop(first);
        };
        let (report, ()) = tokio::join!(drain.drain(Duration::from_secs(10)), waiting);
        assert_eq!((report.in_flight_at_start, report.unfinished), (1, 0));
        assert_eq!(report.refused, 1);
        assert!(report.seconds >= 0.04, "{report:?}");
        // A request that never ends is left behind when the budget runs out.
        let drain = Drain::default();
        let _stuck = drain.admit().unwrap();
        let report = drain.drain(Duration::from_millis(30)).await;
        assert_eq!(report.unfinished, 1);
        assert!(report.to_string().contains("1 unfinished"), "{report}");
    }
}
