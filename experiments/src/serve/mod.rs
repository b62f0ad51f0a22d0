//! `quill serve`: the policy behind an HTTP JSON API, with concurrent requests batched into
//! one generation pass; and `quill bench serve`, a load generator on loopback.
//!
//! - `engine`: the checkpoint, its experiment (cleaner, prompt, sampling, corpus, retriever)
//!   and one batched answer for many users.
//! - `batcher`: the queue and the task that groups requests into batches.
//! - `api`: routes, body limits and JSON errors.
//! - `request`: the request body, parsed and checked.
//! - `server`: the accept loop (timeouts, connection cap, shutdown).
//! - `drain`: graceful shutdown on SIGTERM / SIGINT.
//! - `client`: a one-connection HTTP/1 client for the load generator and tests.
//! - `bench`: the load generator and its report.

pub mod api;
pub mod batcher;
pub mod bench;
pub mod client;
pub mod drain;
pub mod engine;
pub mod request;
pub mod server;

use anyhow::{Context, Result};
use api::{App, Limits};
use batcher::Batcher;
use engine::Engine;
use quill::data::Dataset;
use server::Server;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

const DEFAULT_MAX_BATCH: usize = 16;
const DEFAULT_MAX_WAIT_MS: u64 = 5;
const DEFAULT_QUEUE: usize = 256;
const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;
const DEFAULT_MAX_SIGNALS: usize = 512;
const DEFAULT_MAX_TEXT_CHARS: usize = 1000;
const DEFAULT_MAX_TOP_K: usize = 50;
const DEFAULT_READ_TIMEOUT_MS: u64 = 10_000;
const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Long enough for a full queue of batches on two cores, short enough for a process
/// manager's stop timeout (systemd's default is 90 s, Kubernetes' 30 s).
const DEFAULT_DRAIN_SECONDS: u64 = 25;

/// What to serve and how: shared by `quill serve` and `quill bench serve`.
#[derive(clap::Args, Debug, Clone)]
pub struct ServerArgs {
    /// The policy checkpoint directory (policy.json, weights.safetensors, tokenizer.json),
    /// e.g. runs/quickstart/grpo/policy; or a pretrained checkpoint (a GGUF file or Hugging
    /// Face directory) served as it is, with --config naming the experiment whose
    /// policy.checkpoint it is.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// The experiment config: data, cleaner, retrieval, format, sampling, prompt budget
    /// (default: the config.toml `quill run` wrote, in the checkpoint's nearest ancestor).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Most requests answered by one generation pass.
    #[arg(long, default_value_t = DEFAULT_MAX_BATCH)]
    pub max_batch: usize,
    /// Longest a request waits for others to share its batch, in milliseconds.
    #[arg(long, default_value_t = DEFAULT_MAX_WAIT_MS)]
    pub max_wait_ms: u64,
    /// Requests that may wait for the model; past this a request gets 503 at once.
    #[arg(long, default_value_t = DEFAULT_QUEUE)]
    pub queue: usize,
    /// Sample with the config's sampling settings (seeded by the request's signals) instead
    /// of greedy decoding.
    #[arg(long)]
    pub sample: bool,
    /// Serve without the saved cleaner (every signal reaches the prompt).
    #[arg(long)]
    pub no_cleaner: bool,
    /// Largest request body in bytes (413 past it).
    #[arg(long, default_value_t = DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Most signals in one request.
    #[arg(long, default_value_t = DEFAULT_MAX_SIGNALS)]
    pub max_signals: usize,
    /// Longest signal text, in characters.
    #[arg(long, default_value_t = DEFAULT_MAX_TEXT_CHARS)]
    pub max_text_chars: usize,
    /// Largest `top_k` (articles per query) a request may ask for.
    #[arg(long, default_value_t = DEFAULT_MAX_TOP_K)]
    pub max_top_k: usize,
    /// A request's headers, and then its body, must each arrive within this many
    /// milliseconds (408 for a slow body; a slow header closes the connection).
    #[arg(long, default_value_t = DEFAULT_READ_TIMEOUT_MS)]
    pub read_timeout_ms: u64,
    /// Most connections open at once; more wait to be accepted.
    #[arg(long, default_value_t = DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// On SIGTERM or SIGINT, how long requests already received may take to be answered
    /// before the process exits (new ones get 503 meanwhile), in seconds.
    #[arg(long, default_value_t = DEFAULT_DRAIN_SECONDS)]
    pub drain_seconds: u64,
}

impl ServerArgs {
    /// The defaults of the command line, for a checkpoint.
    pub fn new(checkpoint: impl Into<PathBuf>) -> ServerArgs {
        ServerArgs {
            checkpoint: checkpoint.into(),
            config: None,
            max_batch: DEFAULT_MAX_BATCH,
            max_wait_ms: DEFAULT_MAX_WAIT_MS,
            queue: DEFAULT_QUEUE,
            sample: false,
            no_cleaner: false,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_signals: DEFAULT_MAX_SIGNALS,
            max_text_chars: DEFAULT_MAX_TEXT_CHARS,
            max_top_k: DEFAULT_MAX_TOP_K,
            read_timeout_ms: DEFAULT_READ_TIMEOUT_MS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            drain_seconds: DEFAULT_DRAIN_SECONDS,
        }
    }

    fn limits(&self) -> Limits {
        Limits {
            max_body_bytes: self.max_body_bytes,
            max_signals: self.max_signals.max(1),
            max_text_chars: self.max_text_chars,
            max_top_k: self.max_top_k.max(1),
            read_timeout: Duration::from_millis(self.read_timeout_ms),
        }
    }
}

/// `quill serve`.
#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Address to listen on. The API has no authentication: keep it on loopback unless a
    /// proxy in front of it has.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
}

/// Loads the engine (on a blocking thread: it trains the word vectors and builds the index)
/// and starts serving on `addr` on the current runtime; returns the server and the dataset.
pub async fn start(args: &ServerArgs, addr: SocketAddr) -> Result<(Server, Dataset)> {
    let load_args = args.clone();
    let (engine, data) = tokio::task::spawn_blocking(move || Engine::load(&load_args))
        .await
        .context("loading the model")??;
    let engine = Arc::new(engine);
    let batcher = Batcher::spawn(
        engine.clone(),
        args.max_batch,
        Duration::from_millis(args.max_wait_ms),
        args.queue,
    );
    let app = Arc::new(App {
        batcher,
        limits: args.limits(),
        info: engine.info.clone(),
        drain: Default::default(),
    });
    let header_timeout = Duration::from_millis(args.read_timeout_ms);
    let server = Server::start(addr, app, header_timeout, args.max_connections).await?;
    Ok((server, data))
}

/// The runtime of `quill serve` and `quill bench serve`.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")
}

/// `quill serve`: serves until the process is stopped.
pub fn serve(args: ServeArgs) -> Result<()> {
    runtime()?.block_on(async {
        let (mut server, _data) = start(&args.server, args.addr).await?;
        // Listening before saying "serving": a signal from then on drains.
        let shutdown = shutdown_signal()?;
        if !args.addr.ip().is_loopback() {
            eprintln!(
                "warning: listening on {}, reachable from other machines; the API has no \
                 authentication",
                args.addr.ip()
            );
        }
        let info = &server.app.info;
        eprintln!(
            "serving {} (preset {}, {} parameters, {} decoding, cleaner {}) on http://{}\n  \
             POST /v1/interests   GET /healthz",
            args.server.checkpoint.display(),
            info["model"]["preset"].as_str().unwrap_or("?"),
            info["model"]["parameters"],
            info["decoding"]["mode"].as_str().unwrap_or("?"),
            if info["cleaner"]["enabled"] == true {
                "on"
            } else {
                "off"
            },
            server.addr
        );
        let signal = tokio::select! {
            () = server.wait_for_accept_loop() => return Ok(()),
            signal = shutdown => signal,
        };
        let budget = Duration::from_secs(args.server.drain_seconds);
        eprintln!(
            "serve: {signal}: draining {} requests in flight (at most {}s); new requests get \
             503",
            server.app.drain.in_flight(),
            budget.as_secs()
        );
        let report = server.drain(budget).await;
        eprintln!("serve: drained: {report}; exiting");
        Ok(())
    })
}

/// Listens for SIGTERM and SIGINT at once; the future gives the first to arrive, by name.
fn shutdown_signal() -> Result<impl std::future::Future<Output = &'static str>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    })
}
