//! The HTTP judge against a scripted fake OpenAI-compatible server on loopback.
#![cfg(feature = "http-judge")]

use quill::reward::{HttpJudge, HttpJudgeConfig, InterestItem, Judge, RubricItem};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the fake server answers to one request.
enum Reply {
    /// 200 with this chat content.
    Content(&'static str),
    /// This status and raw body.
    Raw(u16, &'static str),
    /// Waits this long before answering 200 with `[1]`.
    Slow(Duration),
}

struct Fake {
    url: String,
    /// Request bodies, in arrival order.
    bodies: Arc<Mutex<Vec<String>>>,
}

/// Serves `replies` in order, one connection each, and gives up after 5 s (bounded: a client
/// that stops early must not leave the thread waiting forever).
fn serve(replies: Vec<Reply>) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!(
        "http://{}/v1/chat/completions",
        listener.local_addr().unwrap()
    );
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let log = bodies.clone();
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut replies = replies.into_iter();
        let mut next = replies.next();
        while let Some(reply) = next.take() {
            match listener.accept() {
                Ok((stream, _)) => {
                    let _ = answer(stream, &reply, &log);
                    next = replies.next();
                }
                Err(_) if Instant::now() < deadline => {
                    next = Some(reply);
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(_) => return,
            }
        }
    });
    Fake { url, bodies }
}

fn answer(stream: TcpStream, reply: &Reply, log: &Mutex<Vec<String>>) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut length = 0;
    for _ in 0..100 {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
        if line == "\r\n" || line.is_empty() {
            break;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    log.lock()
        .unwrap()
        .push(String::from_utf8_lossy(&body).into_owned());
    let (status, text) = match reply {
        Reply::Content(c) => (200, chat(c)),
        Reply::Raw(s, b) => (*s, b.to_string()),
        Reply::Slow(d) => {
            std::thread::sleep(*d);
            (200, chat("[1]"))
        }
    };
    let mut stream = stream;
    let head = format!(
        "content-type: application/json\r\ncontent-length: {}\r\nconnection: close",
        text.len()
    );
    write!(stream, "HTTP/1.1 {status} X\r\n{head}\r\n\r\n{text}")
}

fn chat(content: &str) -> String {
    let message = json!({ "role": "assistant", "content": content });
    json!({ "id": "x", "choices": [{ "index": 0, "message": message }] }).to_string()
}

fn judge(url: &str, batch_size: u32, timeout_secs: f64) -> HttpJudge {
    let cfg = HttpJudgeConfig {
        endpoint: url.into(),
        model: "judge-model-x".into(),
        api_key_env: String::new(),
        timeout_secs,
        batch_size,
        ..Default::default()
    };
    HttpJudge::new(cfg)
        .unwrap()
        .with_backoff(Duration::from_millis(20))
}

const QUERIES: [&str; 5] = [
    "ITER fusion delay",
    "Bundesliga transfer window",
    "news",
    "Mars sample return",
    "top stories",
];

fn specific() -> Vec<RubricItem<'static>> {
    QUERIES
        .iter()
        .map(|q| RubricItem::Specific { query: q })
        .collect()
}

/// The user message of a recorded request body.
fn user_message(body: &str) -> String {
    let body: Value = serde_json::from_str(body).expect("request body is JSON");
    body["messages"][1]["content"]
        .as_str()
        .expect("user message")
        .to_string()
}

fn error_of(judge: &HttpJudge, items: &[RubricItem<'_>]) -> String {
    judge.judge(items).unwrap_err().to_string()
}

#[test]
fn good_reply_is_parsed_in_order_and_request_carries_everything() {
    let fake = serve(vec![Reply::Content("```json\n[1, 0.25, 0, 0.75]\n```")]);
    let interest = InterestItem {
        terms: vec!["fusion".into(), "tokamak".into()],
        examples: vec!["ITER tokamak assembly slips again".into()],
        centroid: vec![0.0; 4],
        weight: 1.0,
    };
    let queries: Vec<String> = vec!["ITER schedule".into(), "tokamak news".into()];
    let mut items = vec![RubricItem::Covers {
        interest: &interest,
        queries: &queries,
        query_vectors: &[],
    }];
    items.extend(specific().into_iter().take(3));
    let scores = judge(&fake.url, 16, 5.0).judge(&items).unwrap();
    assert_eq!(scores, vec![1.0, 0.25, 0.0, 0.75]);
    let bodies = fake.bodies.lock().unwrap();
    assert_eq!(bodies.len(), 1);
    let body: Value = serde_json::from_str(&bodies[0]).expect("request body is JSON");
    assert_eq!(body["model"], "judge-model-x");
    let user = user_message(&bodies[0]);
    for needle in [
        "ITER tokamak assembly slips again",
        "fusion, tokamak",
        "ITER schedule",
        "tokamak news",
    ] {
        assert!(user.contains(needle), "{needle} missing from {user}");
    }
    for q in &QUERIES[..3] {
        assert!(user.contains(q), "{q} missing from {user}");
    }
}

#[test]
fn items_are_batched() {
    let fake = serve(vec![
        Reply::Content("[1, 0]"),
        Reply::Content("[0.5, 0.5]"),
        Reply::Content("[0]"),
    ]);
    let scores = judge(&fake.url, 2, 5.0).judge(&specific()).unwrap();
    assert_eq!(scores, vec![1.0, 0.0, 0.5, 0.5, 0.0]);
    let bodies = fake.bodies.lock().unwrap();
    assert_eq!(bodies.len(), 3);
    // Chunks of 2, 2 and 1 items, in order, each item in exactly one request.
    let users: Vec<String> = bodies.iter().map(|b| user_message(b)).collect();
    for (q, query) in QUERIES.iter().enumerate() {
        let holders: Vec<usize> = (0..3)
            .filter(|&b| users[b].contains(&format!("query: {query}\n")))
            .collect();
        assert_eq!(holders, vec![q / 2], "{query}");
    }
}

#[test]
fn malformed_json_fails_at_once() {
    let fake = serve(vec![
        Reply::Raw(200, "<html>oops</html>"),
        Reply::Content("[1]"),
    ]);
    let err = error_of(&judge(&fake.url, 16, 5.0), &specific()[..1]);
    assert!(
        err.contains("reply is not JSON") && err.contains("<html>oops"),
        "{err}"
    );
    assert!(err.starts_with(&format!("judge {}", fake.url)), "{err}");
    assert_eq!(
        fake.bodies.lock().unwrap().len(),
        1,
        "no retry on a malformed reply"
    );
}

#[test]
fn wrong_count_names_expected_and_got() {
    let fake = serve(vec![Reply::Content("[1, 0]")]);
    let err = error_of(&judge(&fake.url, 16, 5.0), &specific()[..3]);
    assert!(
        err.contains("not a JSON array of 3 numbers (got 2)"),
        "{err}"
    );
}

#[test]
fn out_of_range_value_is_an_error() {
    let fake = serve(vec![Reply::Content("[0, 0, 1.7]")]);
    let err = error_of(&judge(&fake.url, 16, 5.0), &specific()[..3]);
    assert!(err.contains("value 1.7 out of [0,1] at item 3"), "{err}");
}

#[test]
fn server_error_is_retried() {
    let fake = serve(vec![Reply::Raw(500, "overloaded"), Reply::Content("[0.5]")]);
    assert_eq!(
        judge(&fake.url, 16, 5.0).judge(&specific()[..1]).unwrap(),
        vec![0.5]
    );
    assert_eq!(fake.bodies.lock().unwrap().len(), 2);
}

#[test]
fn client_error_is_not_retried_and_quotes_the_body() {
    let fake = serve(vec![
        Reply::Raw(400, "{\"error\": \"unknown model\"}"),
        Reply::Content("[1]"),
    ]);
    let err = error_of(&judge(&fake.url, 16, 5.0), &specific()[..1]);
    assert!(
        err.contains("HTTP 400") && err.contains("unknown model"),
        "{err}"
    );
    assert_eq!(fake.bodies.lock().unwrap().len(), 1);
}

#[test]
fn slow_server_times_out() {
    let slow = || Reply::Slow(Duration::from_millis(1500));
    let fake = serve(vec![slow(), slow(), slow()]);
    let start = Instant::now();
    let err = error_of(&judge(&fake.url, 16, 0.3), &specific()[..1]);
    assert!(
        err.contains("timeout after 0.3 s") && err.contains("after 3 attempts"),
        "{err}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn connection_refused_names_the_endpoint() {
    // Bind then drop: the port is free and nothing listens on it.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/v1/chat/completions");
    let err = error_of(&judge(&url, 16, 1.0), &specific()[..1]);
    assert!(
        err.starts_with(&format!("judge {url}: connection failed")),
        "{err}"
    );
}
