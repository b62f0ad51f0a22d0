//! `quill serve` on loopback: a tiny policy trained by `quill run` for a few steps is served on
//! 127.0.0.1:0 and sent valid and invalid requests. Answers are checked against the cleaner
//! and the policy run directly, errors for their status and the field they name, and
//! concurrent (batched) answers against sequential ones; and the `quill serve` process drains
//! on SIGTERM.

use quill::data::{Dataset, Split, UserRecord};
use quill::policy::{Generation, SamplingConfig, TOKENIZER_FILE, generate, load_checkpoint};
use quill::text::{PolicyTokenizer, PromptBuilder};
use quill_experiments::serve::client::{Client, Reply};
use quill_experiments::serve::{ServerArgs, engine, server::Server, start};
use quill_experiments::{config, pipeline};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

const ROUTE: &str = "/v1/interests";

/// A policy checkpoint of a tiny run (pico preset, a few warm-start steps, no GRPO), built
/// once for every test of this file; its run directory holds the config.toml and cleaner.
fn checkpoint() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("quill-serve-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let body = format!(
            "[experiment]\nname = \"s\"\nseed = 5\noutput_dir = {out:?}\n\
             [data]\nusers = 300\n[data.corpus]\narticles = 1500\n\
             [cleaner]\nepochs = 2\ntrain_users = 200\n\
             [policy]\npreset = \"pico\"\nprompt_budget = 64\n\
             [warm_start]\nlm_steps = 20\nsft_steps = 300\nbatch_size = 8\neval_users = 2\n\
             [sampling]\nmax_new_tokens = 24\n\
             [grpo]\nenabled = false\n[evaluation]\nsamples_per_user = 1\n",
            out = dir.join("out")
        );
        let file = dir.join("exp.toml");
        std::fs::write(&file, body).unwrap();
        pipeline::run(&config::load(&file).unwrap(), Default::default()).unwrap();
        dir.join("out/s/policy")
    })
}

fn rt() -> tokio::runtime::Runtime {
    quill_experiments::serve::runtime().unwrap()
}

async fn serve(args: ServerArgs) -> (Server, Dataset) {
    start(&args, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap()
}

/// A user's raw signals as a request body.
fn request(user: &UserRecord, top_k: usize) -> Value {
    let signals: Vec<Value> = user
        .history
        .iter()
        .map(|s| json!({ "kind": s.kind, "text": s.text, "timestamp": s.timestamp, "url": s.url, "domain": s.domain }))
        .collect();
    json!({ "user_id": user.id, "signals": signals, "top_k": top_k })
}

fn test_users(data: &Dataset, n: usize) -> Vec<UserRecord> {
    data.iter_split(Split::Test)
        .filter(|u| u.history.len() >= 3)
        .take(n)
        .collect()
}

async fn post(client: &mut Client, body: &Value) -> Reply {
    client
        .post_json(ROUTE, serde_json::to_vec(body).unwrap())
        .await
        .unwrap()
}

/// The greedy list the policy writes for a user, computed without the server.
fn direct_queries(dir: &Path, user: &UserRecord) -> (Vec<String>, Vec<quill::data::Signal>) {
    let exp = engine::experiment(dir, None).unwrap();
    let cfg = &exp.config;
    let cleaner = quill_experiments::stages::clean::saved_cleaner(&exp)
        .unwrap()
        .expect("the run saved a cleaner");
    let cleaned = cleaner.clean_user(user);
    let (decoder, _) =
        load_checkpoint(dir, &quill::device::device(cfg.experiment.device).unwrap()).unwrap();
    let tokenizer = PolicyTokenizer::load(&dir.join(TOKENIZER_FILE)).unwrap();
    let builder = PromptBuilder::new(
        tokenizer,
        cfg.policy.prompt_budget as usize,
        cfg.format.clone(),
    )
    .unwrap();
    let greedy = SamplingConfig {
        temperature: 0.0,
        ..cfg.sampling.clone()
    };
    let end = [builder.tokenizer.end_id()];
    let how = Generation {
        sampler: &greedy,
        max_new_tokens: cfg.sampling.max_new_tokens as usize,
        stop_tokens: &end,
        pad_id: builder.tokenizer.pad_id(),
    };
    let out = generate(&decoder, &[builder.prompt(&cleaned)], &[0], &how).unwrap();
    let list = builder.parse_response(&out[0].tokens);
    (list.queries, cleaned.history)
}

fn assert_error(reply: &Reply, status: u16, field: Option<&str>, valid: Option<&str>) {
    let body = reply.json();
    assert_eq!(reply.status, status, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    assert_eq!(body["field"].as_str(), field, "{body}");
    if let Some(valid) = valid {
        let got = body["valid"].as_str().unwrap_or("");
        assert!(got.contains(valid), "{body}");
    }
}

#[test]
fn answers_come_from_the_cleaner_and_the_policy_and_bad_requests_get_4xx() {
    let dir = checkpoint();
    rt().block_on(async {
        let (server, data) = serve(ServerArgs::new(dir)).await;
        let mut client = Client::connect(server.addr).await.unwrap();

        let health = client.get("/healthz").await.unwrap();
        let h = health.json();
        assert_eq!(health.status, 200, "{h}");
        assert_eq!(h["status"], "ok");
        assert_eq!(h["model"]["preset"], "pico");
        assert!(h["model"]["parameters"].as_u64().unwrap() > 0, "{h}");
        assert_eq!(h["cleaner"]["enabled"], true, "{h}");
        assert_eq!(h["decoding"]["mode"], "greedy");
        // File names only: no absolute path of the host.
        for key in ["checkpoint", "config"] {
            let shown = h[key].as_str().unwrap_or("");
            assert!(!shown.is_empty() && !shown.contains('/'), "{key}: {h}");
        }

        // A real test user, noise and all: the server's cleaned signals are the saved
        // cleaner's, its queries the policy's greedy list, and each query's articles are
        // corpus articles, at most top_k of them.
        let users = test_users(&data, 3);
        let user = &users[0];
        let reply = post(&mut client, &request(user, 2)).await;
        let a = reply.json();
        assert_eq!(reply.status, 200, "{a}");
        let (queries, cleaned) = direct_queries(dir, user);
        assert_eq!(a["queries"], json!(queries));
        let texts: Vec<&str> = cleaned.iter().map(|s| s.text.as_str()).collect();
        let got: Vec<&str> = a["cleaned_signals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["text"].as_str().unwrap())
            .collect();
        assert_eq!(got, texts);
        assert!(a["valid"].is_boolean());
        let results = a["results"].as_array().unwrap();
        assert_eq!(results.len(), queries.len());
        for (r, q) in results.iter().zip(&queries) {
            assert_eq!(r["query"], json!(q));
            let articles = r["articles"].as_array().unwrap();
            assert!(articles.len() <= 2, "{r}");
            for art in articles {
                let item = data.corpus.get(art["id"].as_str().unwrap()).unwrap();
                assert_eq!(art["title"], json!(item.title));
                assert!(art["score"].is_number());
            }
        }

        // Signals out of time order come back oldest first; top_k defaults to 5.
        let minimal = json!({ "signals": [
            { "kind": "news_click", "text": "Hawks win the playoff opener", "timestamp": 20 },
            { "kind": "search", "text": "riverton hawks", "timestamp": 10 },
        ]});
        let reply = post(&mut client, &minimal).await;
        let a = reply.json();
        assert_eq!(reply.status, 200, "{a}");
        let stamps: Vec<i64> = a["cleaned_signals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["timestamp"].as_i64().unwrap())
            .collect();
        assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "{a}");
        for r in a["results"].as_array().unwrap() {
            assert!(r["articles"].as_array().unwrap().len() <= 5);
        }

        let signal = json!({ "kind": "search", "text": "riverton hawks", "timestamp": 1 });
        let malformed = client.post_json(ROUTE, "{\"signals\": [").await.unwrap();
        assert_error(&malformed, 400, None, None);
        let wrong_kind =
            json!({ "signals": [signal, { "kind": "News Click", "text": "x", "timestamp": 2 }] });
        assert_error(
            &post(&mut client, &wrong_kind).await,
            422,
            Some("signals[1].kind"),
            Some("news_click"),
        );
        let missing = json!({ "signals": [{ "kind": "search", "text": "x" }] });
        assert_error(
            &post(&mut client, &missing).await,
            422,
            Some("signals[0].timestamp"),
            Some("Unix time"),
        );
        let no_signals = json!({ "user_id": "u" });
        assert_error(
            &post(&mut client, &no_signals).await,
            422,
            Some("signals"),
            None,
        );
        let too_many = json!({ "signals": vec![signal.clone(); 513] });
        assert_error(
            &post(&mut client, &too_many).await,
            422,
            Some("signals"),
            Some("512"),
        );
        let top_k = json!({ "signals": [signal], "top_k": 51 });
        assert_error(
            &post(&mut client, &top_k).await,
            422,
            Some("top_k"),
            Some("1 to 50"),
        );
        let long_text =
            json!({ "signals": [{ "kind": "search", "text": "a".repeat(1001), "timestamp": 1 }] });
        assert_error(
            &post(&mut client, &long_text).await,
            422,
            Some("signals[0].text"),
            Some("1000"),
        );
        let unknown = json!({ "signals": [signal], "colour": "red" });
        assert_error(
            &post(&mut client, &unknown).await,
            422,
            Some("colour"),
            Some("top_k"),
        );
        // Valid JSON, but over 64 KiB.
        let texts: Vec<Value> = (0..100)
            .map(|i| json!({ "kind": "search", "text": "b".repeat(900), "timestamp": i }))
            .collect();
        let oversized = post(&mut client, &json!({ "signals": texts })).await;
        assert_error(&oversized, 413, Some("body"), Some("65536"));
        let form = client
            .send(hyper::Method::POST, ROUTE, Some("text/plain"), "{}".into())
            .await
            .unwrap();
        assert_error(&form, 415, Some("content-type"), Some("application/json"));
        // A media type that only starts like JSON's is not JSON; parameters are allowed.
        let jsonx = client
            .send(
                hyper::Method::POST,
                ROUTE,
                Some("application/jsonx"),
                "{}".into(),
            )
            .await
            .unwrap();
        assert_error(&jsonx, 415, Some("content-type"), Some("application/json"));
        let charset = client
            .send(
                hyper::Method::POST,
                ROUTE,
                Some("Application/JSON; charset=utf-8"),
                "{}".into(),
            )
            .await
            .unwrap();
        assert_ne!(charset.status, 415, "{}", charset.json());
        assert_error(
            &client.get(ROUTE).await.unwrap(),
            405,
            Some("method"),
            Some("POST"),
        );
        assert_error(&client.get("/v2/nothing").await.unwrap(), 404, None, None);

        // Still serving after all of that.
        assert_eq!(post(&mut client, &minimal).await.status, 200);
        server.shutdown().await;
    });
}

#[test]
fn concurrent_requests_are_batched_and_answered_as_sequential_ones() {
    let dir = checkpoint();
    rt().block_on(async {
        let mut args = ServerArgs::new(dir);
        args.max_batch = 8;
        // Long enough that requests sent together share a batch; a full batch does not wait.
        args.max_wait_ms = 300;
        let (server, data) = serve(args).await;
        let bodies: Vec<Value> = test_users(&data, 12)
            .iter()
            .map(|u| request(u, 3))
            .collect();
        let mut client = Client::connect(server.addr).await.unwrap();
        let mut sequential = Vec::new();
        for body in &bodies {
            let reply = post(&mut client, body).await;
            assert_eq!(reply.status, 200);
            sequential.push(reply.json());
        }
        let distinct: std::collections::HashSet<String> = sequential
            .iter()
            .map(|a| a["queries"].to_string())
            .collect();
        // Users must get different lists, or equal answers would prove nothing about batching.
        assert!(
            distinct.len() > 1,
            "every user got the same list: {distinct:?}"
        );
        let before = server.app.batcher.stats();
        let tasks: Vec<_> = bodies
            .iter()
            .cloned()
            .map(|body| {
                let addr = server.addr;
                tokio::spawn(async move {
                    let mut client = Client::connect(addr).await.unwrap();
                    post(&mut client, &body).await
                })
            })
            .collect();
        for (task, want) in tasks.into_iter().zip(&sequential) {
            let reply = task.await.unwrap();
            assert_eq!(reply.status, 200);
            assert_eq!(&reply.json(), want, "a batched answer differs");
        }
        let after = server.app.batcher.stats();
        assert_eq!(after.requests - before.requests, bodies.len() as u64);
        assert!(
            after.batches - before.batches < bodies.len() as u64,
            "{} concurrent requests ran in {} batches",
            bodies.len(),
            after.batches - before.batches
        );
        server.shutdown().await;
    });
}

#[test]
fn slow_clients_are_cut_off_and_a_busy_server_answers_503() {
    let dir = checkpoint();
    rt().block_on(async {
        let mut args = ServerArgs::new(dir);
        args.read_timeout_ms = 300;
        args.max_batch = 1;
        args.max_wait_ms = 0;
        args.queue = 1;
        let (server, data) = serve(args).await;
        let addr = server.addr;
        // Headers and a tenth of the body promised, then silence.
        let slow = tokio::task::spawn_blocking(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            write!(
                s,
                "POST {ROUTE} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
                 content-length: 100\r\n\r\n{{\"signals\""
            )
            .unwrap();
            let mut reply = String::new();
            let _ = s.read_to_string(&mut reply);
            reply
        });
        let reply = slow.await.unwrap();
        assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
        assert!(reply.contains("\"field\":\"body\""), "{reply}");
        // Headers that never end: the server closes the connection without an answer.
        let trickle = tokio::task::spawn_blocking(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            write!(s, "POST {ROUTE} HTTP/1.1\r\nhost: x\r\n").unwrap();
            let mut reply = Vec::new();
            s.read_to_end(&mut reply).map(|_| reply)
        });
        let closed = trickle
            .await
            .unwrap()
            .expect("closed by the server, not timed out");
        assert!(closed.is_empty(), "{}", String::from_utf8_lossy(&closed));

        // A queue of one: requests that find it full are refused at once with 503 and a
        // Retry-After, not held; every request is answered one way or the other.
        let body = request(&test_users(&data, 1)[0], 1);
        let tasks: Vec<_> = (0..24)
            .map(|_| {
                let body = body.clone();
                tokio::spawn(async move {
                    let mut client = Client::connect(addr).await.unwrap();
                    post(&mut client, &body).await
                })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            let reply = t.await.unwrap();
            match reply.status {
                200 => ok += 1,
                503 => assert!(reply.json()["error"].as_str().unwrap().contains("busy")),
                other => panic!("status {other}: {}", reply.json()),
            }
        }
        assert!(ok >= 1);
        eprintln!("queue of one: {ok} of 24 concurrent requests answered, the rest refused");
        server.shutdown().await;
    });
}

#[test]
fn a_checkpoint_without_a_config_is_a_clear_error() {
    let dir = checkpoint();
    let lone = std::env::temp_dir().join(format!("quill-serve-lone-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&lone);
    std::fs::create_dir_all(&lone).unwrap();
    for f in ["policy.json", "weights.safetensors", "tokenizer.json"] {
        std::fs::copy(dir.join(f), lone.join(f)).unwrap();
    }
    let err = engine::Engine::load(&ServerArgs::new(&lone)).err().unwrap();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("no config.toml") && msg.contains("--config"),
        "{msg}"
    );
    // With --config it loads (the run's own config.toml, given explicitly).
    let mut args = ServerArgs::new(&lone);
    args.config = Some(dir.parent().unwrap().join("config.toml"));
    let (engine, _) = engine::Engine::load(&args).unwrap();
    assert_eq!(engine.info["cleaner"]["enabled"], true, "{}", engine.info);

    let err = engine::Engine::load(&ServerArgs::new(lone.join("nothing")))
        .err()
        .unwrap();
    assert!(format!("{err:#}").contains("policy.json"), "{err:#}");
}

/// `quill serve` as a process, its stderr lines arriving on a channel.
struct ServeProcess {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    addr: SocketAddr,
}

impl ServeProcess {
    fn start(checkpoint: &Path) -> ServeProcess {
        use std::io::BufRead;
        // A free port: bound, read and released (another process could take it meanwhile;
        // on a test machine's loopback that does not happen).
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_quill"))
            .args(["serve", "--addr", &addr.to_string(), "--checkpoint"])
            .arg(checkpoint)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (send, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let _ = send.send(line);
            }
        });
        let mut process = ServeProcess { child, lines, addr };
        process.wait_for_line("serving ");
        process
    }

    /// The first stderr line containing `text` (panics after 120 s, with what was printed).
    fn wait_for_line(&mut self, text: &str) -> String {
        let mut seen = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(text) => return line,
                Ok(line) => seen.push(line),
                Err(_) => break,
            }
        }
        let _ = self.child.kill();
        panic!("no line with {text:?}; stderr:\n{}", seen.join("\n"));
    }

    fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

/// Sends a request's headers and the first `sent` bytes of its body; returns the stream and
/// the rest of the body.
fn partial_request(addr: SocketAddr, body: &[u8], sent: usize) -> (TcpStream, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "POST {ROUTE} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(&body[..sent]).unwrap();
    (s, body[sent..].to_vec())
}

#[test]
fn sigterm_drains_requests_in_flight_refuses_new_ones_and_exits_0() {
    let dir = checkpoint();
    let exp = engine::experiment(dir, None).unwrap();
    let data =
        quill::data::load_dataset(&exp.config.data, exp.config.experiment.seed, &exp.base_dir)
            .unwrap();
    let body = serde_json::to_vec(&request(&test_users(&data, 1)[0], 2)).unwrap();
    let mut server = ServeProcess::start(dir);
    // A request admitted (headers read) but not finished (half its body) when SIGTERM comes.
    let addr = server.addr;
    let (mut in_flight, rest) = partial_request(addr, &body, body.len() / 2);
    let health = || {
        rt().block_on(async {
            let mut client = Client::connect(addr).await.unwrap();
            client.get("/healthz").await.unwrap()
        })
    };
    while health().json()["batching"]["in_flight"] != 1 {
        std::thread::sleep(Duration::from_millis(20));
    }
    server.signal("TERM");
    let line = server.wait_for_line("serve: SIGTERM: draining");
    assert!(line.contains("draining 1 requests in flight"), "{line}");
    // Meanwhile a new request is refused with 503, and /healthz says the server is draining.
    let refused = rt().block_on(async {
        let mut client = Client::connect(addr).await.unwrap();
        client.post_json(ROUTE, body.clone()).await.unwrap()
    });
    let health = health();
    assert_eq!(refused.status, 503, "{}", refused.json());
    assert!(
        refused.json()["error"]
            .as_str()
            .unwrap()
            .contains("shutting down")
    );
    assert_eq!(health.status, 503, "{}", health.json());
    assert_eq!(health.json()["status"], "draining");
    // The admitted request completes and is answered in full.
    in_flight.write_all(&rest).unwrap();
    let mut reply = String::new();
    in_flight.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    let line = server.wait_for_line("serve: drained:");
    assert!(
        line.contains("1 requests in flight answered, 0 unfinished") && line.contains("refused"),
        "{line}"
    );
    let status = server.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{status}");
}
