//! Dynamic batching: requests queue on a bounded channel; one task takes the first, waits up to
//! `max_wait` for more (up to `max_batch`), and answers them all with one `Engine::answer` call
//! on a blocking thread, so the model runs one batch at a time and every decoding step is one
//! forward pass for the whole batch. A full queue is refused at once (503), not waited on.

use super::engine::{Answer, Engine, Input};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// A request and where its answer goes (`Err`: why the batch failed).
struct Job {
    input: Input,
    reply: oneshot::Sender<Result<Answer, String>>,
}

/// Why a request was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmitError {
    /// The queue holds `queue` requests already.
    Full,
    /// The batcher has stopped (the server is shutting down).
    Stopped,
}

/// Requests answered and batches run so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub requests: u64,
    pub batches: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    batches: AtomicU64,
}

/// The handlers' side of the batcher.
pub struct Batcher {
    tx: mpsc::Sender<Job>,
    counters: Arc<Counters>,
    pub max_batch: usize,
    pub max_wait: Duration,
    pub queue: usize,
}

impl Batcher {
    /// Starts the batching task on the current tokio runtime. `max_batch` and `queue` are at
    /// least 1.
    pub fn spawn(engine: Arc<Engine>, max_batch: usize, max_wait: Duration, queue: usize) -> Self {
        let (max_batch, queue) = (max_batch.max(1), queue.max(1));
        let (tx, rx) = mpsc::channel(queue);
        let counters = Arc::new(Counters::default());
        tokio::spawn(run(engine, rx, max_batch, max_wait, counters.clone()));
        Batcher {
            tx,
            counters,
            max_batch,
            max_wait,
            queue,
        }
    }

    /// Queues a request; the receiver yields its answer.
    pub fn submit(
        &self,
        input: Input,
    ) -> Result<oneshot::Receiver<Result<Answer, String>>, SubmitError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .try_send(Job { input, reply })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => SubmitError::Full,
                mpsc::error::TrySendError::Closed(_) => SubmitError::Stopped,
            })?;
        Ok(answer)
    }

    pub fn stats(&self) -> Stats {
        Stats {
            requests: self.counters.requests.load(Ordering::Relaxed),
            batches: self.counters.batches.load(Ordering::Relaxed),
        }
    }
}

async fn run(
    engine: Arc<Engine>,
    mut rx: mpsc::Receiver<Job>,
    max_batch: usize,
    max_wait: Duration,
    counters: Arc<Counters>,
) {
    while let Some(first) = rx.recv().await {
        // The wait budget starts with the oldest request: none waits longer than `max_wait`
        // for company. Requests that queued while the last batch ran are taken at once.
        let deadline = Instant::now() + max_wait;
        let mut jobs = vec![first];
        while jobs.len() < max_batch {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(job)) => jobs.push(job),
                Ok(None) | Err(_) => break,
            }
        }
        // A client that hung up does not need its list.
        jobs.retain(|j| !j.reply.is_closed());
        if jobs.is_empty() {
            continue;
        }
        let inputs: Vec<Input> = jobs.iter().map(|j| j.input.clone()).collect();
        let engine = engine.clone();
        // Generation is CPU-bound for a whole batch: off the async workers, so that they keep
        // accepting connections and queueing (or refusing) requests meanwhile.
        let answers = tokio::task::spawn_blocking(move || engine.answer(&inputs)).await;
        let answers = match answers {
            Ok(Ok(answers)) => answers.into_iter().map(Ok).collect(),
            Ok(Err(e)) => vec![Err(format!("generation failed: {e:#}")); jobs.len()],
            Err(e) => vec![Err(format!("generation stopped: {e}")); jobs.len()],
        };
        counters.batches.fetch_add(1, Ordering::Relaxed);
        counters
            .requests
            .fetch_add(jobs.len() as u64, Ordering::Relaxed);
        for (job, answer) in jobs.into_iter().zip(answers) {
            // The client may have gone meanwhile; nothing to do then.
            let _ = job.reply.send(answer);
        }
    }
}
