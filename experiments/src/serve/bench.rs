//! `quill bench serve`: starts the server in this process on an ephemeral loopback port and,
//! for each concurrency level, has that many virtual users (one keep-alive connection each)
//! send test-split users' raw signals back to back, until `--requests` are answered or
//! `--seconds` have passed. Reports users/s and latency percentiles per level.

use super::ServerArgs;
use super::client::Client;
use anyhow::{Context, Result, bail};
use quill::data::{Dataset, Split, UserRecord};
use serde::Serialize;
use serde_json::json;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// `quill bench serve`.
#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Concurrency levels (virtual users sending at once), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
    pub concurrency: Vec<usize>,
    /// Most requests per level.
    #[arg(long, default_value_t = 200)]
    pub requests: usize,
    /// Most seconds per level (requests in flight then still finish).
    #[arg(long, default_value_t = 30.0)]
    pub seconds: f64,
    /// Distinct test-split users to replay (cycled).
    #[arg(long, default_value_t = 256)]
    pub users: usize,
    /// Also write the results as JSON here.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// One concurrency level's results.
#[derive(Debug, Clone, Serialize)]
pub struct Level {
    pub concurrency: usize,
    /// Requests answered 200.
    pub ok: usize,
    /// Requests answered otherwise, or that failed.
    pub errors: usize,
    pub seconds: f64,
    /// Answered users per second of wall time.
    pub users_per_s: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// Mean requests per generation pass (the batcher's count over this level).
    pub mean_batch: f64,
}

/// Runs the benchmark and prints the table; writes JSON to `--out`.
pub fn bench_serve(args: BenchArgs) -> Result<Vec<Level>> {
    if args.concurrency.is_empty() || args.concurrency.contains(&0) {
        bail!(
            "--concurrency {:?}: give positive levels, e.g. 1,4,16",
            args.concurrency
        );
    }
    let per_level = Duration::try_from_secs_f64(args.seconds).unwrap_or_default();
    if args.requests == 0 || per_level.is_zero() {
        bail!(
            "--requests {} --seconds {}: both must be positive and finite (they bound each level)",
            args.requests,
            args.seconds
        );
    }
    let levels = super::runtime()?.block_on(run(&args))?;
    print_table(&levels);
    if let Some(out) = &args.out {
        let report = json!({
            "checkpoint": args.server.checkpoint,
            "max_batch": args.server.max_batch,
            "max_wait_ms": args.server.max_wait_ms,
            "decoding": if args.server.sample { "sampled" } else { "greedy" },
            "requests_per_level": args.requests,
            "seconds_per_level": args.seconds,
            "cpu_threads": quill::device::cpu_threads(),
            "build": if cfg!(debug_assertions) { "debug" } else { "release" },
            "levels": levels,
        });
        quill::io::write_json(out, &report)?;
        eprintln!("wrote {}", out.display());
    }
    Ok(levels)
}

async fn run(args: &BenchArgs) -> Result<Vec<Level>> {
    let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let (server, data) = super::start(&args.server, loopback).await?;
    let bodies = Arc::new(request_bodies(&data, args)?);
    eprintln!(
        "bench: {} test users replayed against http://{}",
        bodies.len(),
        server.addr
    );
    // One request first, so that no level pays for first-touch costs.
    let mut warm = Client::connect(server.addr).await?;
    let reply = warm.post_json("/v1/interests", bodies[0].clone()).await?;
    if reply.status != 200 {
        bail!(
            "the warm-up request got {}: {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
    }
    let mut levels = Vec::new();
    for &concurrency in &args.concurrency {
        let before = server.app.batcher.stats();
        let level = load(server.addr, bodies.clone(), concurrency, args).await?;
        let after = server.app.batcher.stats();
        let batches = (after.batches - before.batches).max(1) as f64;
        let mean_batch = (after.requests - before.requests) as f64 / batches;
        levels.push(Level {
            mean_batch,
            ..level
        });
    }
    server.shutdown().await;
    Ok(levels)
}

/// Test-split users' raw histories (the server cleans them) as request bodies, each cut to
/// the newest signals and texts the server accepts.
fn request_bodies(data: &Dataset, args: &BenchArgs) -> Result<Vec<bytes::Bytes>> {
    let users: Vec<UserRecord> = data
        .iter_split(Split::Test)
        .filter(|u| !u.history.is_empty())
        .take(args.users.max(1))
        .collect();
    if users.is_empty() {
        bail!(
            "{} has no test-split user with signals to replay",
            data.name
        );
    }
    users
        .iter()
        .map(|u| {
            let keep = u.history.len().min(args.server.max_signals.max(1));
            let signals: Vec<_> = u.history[u.history.len() - keep..]
                .iter()
                .map(|s| {
                    let text: String = s.text.chars().take(args.server.max_text_chars).collect();
                    json!({ "kind": s.kind, "text": text, "timestamp": s.timestamp,
                            "url": s.url, "domain": s.domain })
                })
                .collect();
            let body = json!({ "user_id": u.id, "signals": signals });
            Ok(serde_json::to_vec(&body)?.into())
        })
        .collect()
}

/// One level: `concurrency` connections share a request counter and a deadline.
async fn load(
    addr: SocketAddr,
    bodies: Arc<Vec<bytes::Bytes>>,
    concurrency: usize,
    args: &BenchArgs,
) -> Result<Level> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    // Checked finite and positive in `bench_serve`.
    let deadline = started + Duration::from_secs_f64(args.seconds);
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (next, bodies) = (next.clone(), bodies.clone());
        let requests = args.requests;
        workers.push(tokio::spawn(async move {
            let mut client = Client::connect(addr).await?;
            let (mut latencies, mut errors) = (Vec::new(), 0usize);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests || Instant::now() >= deadline {
                    break;
                }
                let body = bodies[i % bodies.len()].clone();
                let t = Instant::now();
                match client.post_json("/v1/interests", body).await {
                    Ok(r) if r.status == 200 => latencies.push(t.elapsed().as_secs_f64()),
                    _ => errors += 1,
                }
            }
            anyhow::Ok((latencies, errors))
        }));
    }
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for w in workers {
        let (l, e) = w.await.context("a load worker stopped")??;
        latencies.extend(l);
        errors += e;
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let ms = |q: f64| percentile(&latencies, q) * 1e3;
    Ok(Level {
        concurrency,
        ok: latencies.len(),
        errors,
        seconds,
        users_per_s: latencies.len() as f64 / seconds.max(1e-9),
        p50_ms: ms(0.50),
        p95_ms: ms(0.95),
        p99_ms: ms(0.99),
        mean_batch: 0.0,
    })
}

/// The nearest-rank percentile of sorted values (NaN when there are none).
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn print_table(levels: &[Level]) {
    println!(
        "{:>11} {:>6} {:>6} {:>8} {:>9} {:>9} {:>9} {:>9} {:>10}",
        "concurrency",
        "ok",
        "errors",
        "seconds",
        "users/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "mean batch"
    );
    for l in levels {
        println!(
            "{:>11} {:>6} {:>6} {:>8.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>10.1}",
            l.concurrency,
            l.ok,
            l.errors,
            l.seconds,
            l.users_per_s,
            l.p50_ms,
            l.p95_ms,
            l.p99_ms,
            l.mean_batch
        );
    }
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), 50.0);
        assert_eq!(percentile(&v, 0.95), 95.0);
        assert_eq!(percentile(&v, 0.99), 99.0);
        assert_eq!(percentile(&[7.0], 0.99), 7.0);
        assert!(percentile(&[], 0.5).is_nan());
    }
}
