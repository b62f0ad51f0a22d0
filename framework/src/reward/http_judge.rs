//! An LLM judge behind an OpenAI-compatible chat-completions endpoint (feature `http-judge`).
//!
//! Rubric items are sent in chunks of `batch_size`, one chat request per chunk, and the model
//! must answer with a bare JSON array of scores in [0, 1]. Transient failures (connection
//! errors, timeouts, HTTP 429 and 5xx) are retried with exponential backoff; anything that a
//! retry cannot fix (other 4xx, a malformed reply) fails at once. Every failure is a
//! `quill::Error::Model` whose origin is `judge <endpoint>`; no reply can make this panic.

use super::http_judge_config::HttpJudgeConfig;
use super::interests::InterestItem;
use super::judge::{Judge, RubricItem};
use crate::config::Section;
use crate::error::{Error, Result};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::time::Duration;

/// Interests can have long histories; the newest examples and top terms are enough to judge
/// coverage, and capping them keeps a prompt of `batch_size` items a sane size.
const MAX_EXAMPLES: usize = 8;
const MAX_TERMS: usize = 12;
/// How much of a bad reply an error quotes.
const SNIPPET_CHARS: usize = 200;

const SYSTEM_PROMPT: &str = "You grade rubric items for a system that writes news search queries for a user. \
Each numbered item is one of two kinds.\n\
COVERS: you are shown one interest of the user (texts the user read, and its key terms) and a list of search \
queries. Score 1 if at least one query would find news on that interest, 0 if none would; use a value in \
between only for partial coverage.\n\
SPECIFIC: you are shown one search query. Score the fraction of these four criteria it meets (0, 0.25, 0.5, 0.75 \
or 1): (a) it contains a content word; (b) it names an entity or a rare term; (c) it is not only generic words \
such as news, latest, updates, today; (d) it has 2 to 8 words.\n\
Answer with only a JSON array of numbers in [0, 1], one per item, in item order, for example [1, 0, 0.75]. \
No prose, no keys, no explanation.";

/// Why one attempt failed, and whether another attempt could succeed.
enum Failure {
    Retry(String),
    Fatal(String),
}

/// The judge; see the module docs.
pub struct HttpJudge {
    cfg: HttpJudgeConfig,
    agent: ureq::Agent,
    api_key: Option<String>,
    backoff: Duration,
}

impl HttpJudge {
    /// Checks the config, reads the API key from `api_key_env`, and prepares the HTTP client.
    /// Config errors name fields under `judge.http`, where experiment files set them.
    pub fn new(cfg: HttpJudgeConfig) -> Result<Self> {
        Self::at(cfg, "judge.http")
    }

    /// As [`HttpJudge::new`], with config errors naming fields under `prefix`.
    pub fn at(cfg: HttpJudgeConfig, prefix: &str) -> Result<Self> {
        cfg.validate(prefix)?;
        let endpoint_field = crate::config::join_path(prefix, "endpoint");
        let uri: ureq::http::Uri = cfg.endpoint.parse().map_err(|e| {
            Error::field(
                &endpoint_field,
                format!("{:?} is not a URL: {e}", cfg.endpoint),
            )
        })?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(Error::field(
                &endpoint_field,
                format!("{:?} is not an http(s) URL", cfg.endpoint),
            ));
        }
        // A judge on this machine never goes through a proxy, even if HTTP_PROXY is set for the
        // outside world; remote endpoints keep ureq's default (proxy from the environment).
        let loopback = matches!(
            uri.host(),
            Some("localhost" | "127.0.0.1" | "[::1]" | "::1")
        );
        let mut builder = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs_f64(cfg.timeout_secs)))
            .http_status_as_error(false); // statuses are classified below, with the body quoted
        if loopback {
            builder = builder.proxy(None);
        }
        let api_key = match cfg.api_key_env.as_str() {
            "" => None,
            var => std::env::var(var).ok().filter(|k| !k.trim().is_empty()),
        };
        Ok(HttpJudge {
            agent: builder.build().into(),
            api_key,
            backoff: Duration::from_millis(100),
            cfg,
        })
    }

    /// Sets the first retry delay (default 100 ms; it doubles on each further retry).
    pub fn with_backoff(mut self, base: Duration) -> Self {
        self.backoff = base;
        self
    }

    fn fail(&self, message: impl Into<String>) -> Error {
        Error::model(format!("judge {}", self.cfg.endpoint), message)
    }

    /// The chat request for one chunk, as JSON text.
    fn request_body(&self, items: &[RubricItem<'_>]) -> String {
        let mut user = String::new();
        for (i, item) in items.iter().enumerate() {
            let _ = match item {
                RubricItem::Covers {
                    interest, queries, ..
                } => write_covers(&mut user, i + 1, interest, queries),
                RubricItem::Specific { query } => {
                    writeln!(user, "{}. SPECIFIC\n   query: {query}", i + 1)
                }
            };
        }
        let n = items.len();
        let _ = write!(
            user,
            "\nAnswer with a JSON array of exactly {n} numbers in [0, 1], item 1 first."
        );
        let body = json!({
            "model": self.cfg.model,
            "temperature": self.cfg.temperature,
            "messages": [
                { "role": "system", "content": SYSTEM_PROMPT },
                { "role": "user", "content": user },
            ],
        });
        body.to_string()
    }

    /// One POST; returns the reply body of a 2xx answer.
    fn post(&self, body: &str) -> std::result::Result<String, Failure> {
        let mut request = self
            .agent
            .post(&self.cfg.endpoint)
            .header("content-type", "application/json");
        if let Some(key) = &self.api_key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        let transport = |e: ureq::Error| match e {
            ureq::Error::Timeout(_) => {
                Failure::Retry(format!("timeout after {} s", self.cfg.timeout_secs))
            }
            ureq::Error::Io(e) => Failure::Retry(format!("connection failed: {e}")),
            e @ (ureq::Error::ConnectionFailed
            | ureq::Error::HostNotFound
            | ureq::Error::Protocol(_)) => Failure::Retry(format!("connection failed: {e}")),
            e => Failure::Fatal(format!("request failed: {e}")),
        };
        let mut response = request.send(body).map_err(transport)?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().map_err(transport)?;
        match status {
            200..=299 => Ok(text),
            429 | 500..=599 => Err(Failure::Retry(format!("HTTP {status}: {}", snippet(&text)))),
            _ => Err(Failure::Fatal(format!("HTTP {status}: {}", snippet(&text)))),
        }
    }

    /// Sends one chunk with retries; `first` is the 1-based number of its first item overall.
    fn judge_chunk(&self, items: &[RubricItem<'_>], first: usize) -> Result<Vec<f32>> {
        let body = self.request_body(items);
        let mut attempt = 0u32;
        let reply = loop {
            match self.post(&body) {
                Ok(reply) => break reply,
                Err(Failure::Retry(_)) if attempt < self.cfg.retries => {
                    std::thread::sleep(self.backoff.saturating_mul(1 << attempt.min(16)));
                    attempt += 1;
                }
                Err(Failure::Retry(msg)) if attempt > 0 => {
                    return Err(self.fail(format!("{msg} (after {} attempts)", attempt + 1)));
                }
                Err(Failure::Retry(msg) | Failure::Fatal(msg)) => return Err(self.fail(msg)),
            }
        };
        parse_scores(&reply, items.len(), first).map_err(|msg| self.fail(msg))
    }
}

fn write_covers(
    out: &mut String,
    n: usize,
    interest: &InterestItem,
    queries: &[String],
) -> std::fmt::Result {
    writeln!(out, "{n}. COVERS\n   interest, texts the user read:")?;
    let skip = interest.examples.len().saturating_sub(MAX_EXAMPLES);
    for example in &interest.examples[skip..] {
        writeln!(out, "   - {example}")?;
    }
    let terms: Vec<&str> = interest
        .terms
        .iter()
        .take(MAX_TERMS)
        .map(String::as_str)
        .collect();
    writeln!(out, "   interest terms: {}\n   queries:", terms.join(", "))?;
    for query in queries {
        writeln!(out, "   - {query}")?;
    }
    Ok(())
}

/// The first characters of a reply, on one line, for error messages.
fn snippet(text: &str) -> String {
    let one_line: String = text
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match one_line.char_indices().nth(SNIPPET_CHARS) {
        Some((cut, _)) => format!("{:?}…", &one_line[..cut]),
        None => format!("{one_line:?}"),
    }
}

/// Scores from a chat-completions reply body: `choices[0].message.content` must be a JSON array
/// of `n` numbers in [0, 1], possibly in whitespace or a ``` / ```json fence, and nothing else.
fn parse_scores(reply: &str, n: usize, first: usize) -> std::result::Result<Vec<f32>, String> {
    let value: Value = serde_json::from_str(reply)
        .map_err(|e| format!("reply is not JSON ({e}): {}", snippet(reply)))?;
    let content = value
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            format!(
                "reply has no choices[0].message.content string: {}",
                snippet(reply)
            )
        })?;
    let mut text = content.trim();
    if let Some(rest) = text.strip_prefix("```") {
        let rest = rest.strip_prefix("json").unwrap_or(rest);
        text = rest.strip_suffix("```").unwrap_or(rest).trim();
    }
    let bad = |why: String| {
        format!(
            "content is not a JSON array of {n} numbers ({why}): {}",
            snippet(content)
        )
    };
    let array: Vec<Value> = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    if array.len() != n {
        return Err(format!(
            "content is not a JSON array of {n} numbers (got {}): {}",
            array.len(),
            snippet(content)
        ));
    }
    array
        .iter()
        .enumerate()
        .map(|(i, v)| match v.as_f64() {
            Some(x) if (0.0..=1.0).contains(&x) => Ok(x as f32),
            Some(x) => Err(format!("value {x} out of [0,1] at item {}", first + i)),
            None => Err(bad(format!("item {} is {v}", first + i))),
        })
        .collect()
}

impl Judge for HttpJudge {
    fn name(&self) -> &'static str {
        "http"
    }
    fn judge(&self, items: &[RubricItem<'_>]) -> Result<Vec<f32>> {
        let mut scores = Vec::with_capacity(items.len());
        for (c, chunk) in items
            .chunks(self.cfg.batch_size.max(1) as usize)
            .enumerate()
        {
            scores.extend(self.judge_chunk(chunk, c * self.cfg.batch_size as usize + 1)?);
        }
        Ok(scores)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(content: &str) -> String {
        json!({ "choices": [{ "message": { "role": "assistant", "content": content } }] })
            .to_string()
    }

    #[test]
    fn parses_plain_and_fenced_arrays_only() {
        assert_eq!(
            parse_scores(&reply(" [1, 0, 0.75]\n"), 3, 1).unwrap(),
            vec![1.0, 0.0, 0.75]
        );
        assert_eq!(
            parse_scores(&reply("```json\n[0.5]\n```"), 1, 1).unwrap(),
            vec![0.5]
        );
        assert_eq!(
            parse_scores(&reply("```\n[0]\n```"), 1, 1).unwrap(),
            vec![0.0]
        );
        let prose = parse_scores(&reply("Scores: [1]"), 1, 1).unwrap_err();
        assert!(
            prose.starts_with("content is not a JSON array of 1 numbers"),
            "{prose}"
        );
        let word = parse_scores(&reply("[1, \"yes\"]"), 2, 5).unwrap_err();
        assert!(word.contains("item 6 is \"yes\""), "{word}");
        assert!(
            parse_scores("<html>", 1, 1)
                .unwrap_err()
                .starts_with("reply is not JSON")
        );
        assert!(
            parse_scores("{\"choices\": []}", 1, 1)
                .unwrap_err()
                .contains("choices[0].message.content")
        );
    }

    #[test]
    fn config_is_validated_and_endpoint_must_be_http() {
        let cfg = HttpJudgeConfig {
            endpoint: "ftp://x/y".into(),
            ..Default::default()
        };
        let err = HttpJudge::new(cfg).err().unwrap().to_string();
        assert!(err.starts_with("judge.http.endpoint"), "{err}");
        let cfg = HttpJudgeConfig {
            timeout_secs: 0.0,
            ..Default::default()
        };
        assert!(
            HttpJudge::new(cfg)
                .err()
                .unwrap()
                .to_string()
                .starts_with("judge.http.timeout_secs")
        );
    }

    #[test]
    fn prompt_lists_every_item_in_order() {
        let judge = HttpJudge::new(HttpJudgeConfig::default()).unwrap();
        let interest = InterestItem {
            terms: vec!["fusion".into(), "reactor".into()],
            examples: vec!["ITER fusion reactor delayed".into()],
            centroid: vec![],
            weight: 1.0,
        };
        let queries = vec!["ITER delay".to_string()];
        let items = [
            RubricItem::Covers {
                interest: &interest,
                queries: &queries,
                query_vectors: &[],
            },
            RubricItem::Specific { query: "news" },
        ];
        let body: Value = serde_json::from_str(&judge.request_body(&items)).unwrap();
        let user = body
            .pointer("/messages/1/content")
            .and_then(Value::as_str)
            .unwrap();
        let (a, b) = (
            user.find("1. COVERS").unwrap(),
            user.find("2. SPECIFIC\n   query: news").unwrap(),
        );
        assert!(
            a < b
                && user.contains("ITER fusion reactor delayed")
                && user.contains("fusion, reactor")
        );
        assert!(user.contains("exactly 2 numbers"));
    }
}
