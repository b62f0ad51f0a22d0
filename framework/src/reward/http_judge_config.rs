//! The `http` judge's registration and its `[judge.http]` settings: an LLM behind an
//! OpenAI-compatible chat-completions endpoint. The settings are declared in every build, so
//! every build parses, documents and checks the same files; only *building* the judge needs
//! the cargo feature `http-judge` (the client is `http_judge.rs`).

use super::judge::Judge;
use super::judge_config::{JudgePlugin, judge_settings};
use crate::config::{Check, Section};
use crate::error::Result;
use crate::text::term_stats::TermStats;
use std::sync::Arc;

crate::config_section! {
    /// An LLM judge reached over HTTP (OpenAI-compatible chat completions).
    pub struct HttpJudgeConfig {
        /// Full URL of the chat-completions endpoint.
        pub endpoint: String = "http://127.0.0.1:8000/v1/chat/completions".into(), Check::NonEmpty;
        /// Model name sent in each request.
        pub model: String = "gpt-4o-mini".into(), Check::NonEmpty;
        /// Name of the environment variable holding the API key, read when the judge is built;
        /// unset or empty sends no Authorization header (local servers need none).
        pub api_key_env: String = "OPENAI_API_KEY".into(), Check::Any;
        /// Seconds one request may take, from connecting to the last byte of the reply.
        pub timeout_secs: f64 = 30.0, Check::Range { min: 0.1, max: 600.0 };
        /// Retries of a request after a connection error, timeout, HTTP 429 or 5xx.
        pub retries: u32 = 2, Check::Range { min: 0.0, max: 10.0 };
        /// Rubric items per request.
        pub batch_size: u32 = 16, Check::Range { min: 1.0, max: 1024.0 };
        /// Sampling temperature (0 = as deterministic as the server allows).
        pub temperature: f64 = 0.0, Check::Range { min: 0.0, max: 2.0 };
    }
}

/// Builds the judge; its settings were checked by validation, and are checked again here so a
/// config built in code gets the same errors.
fn build(table: &toml::Table, _: Arc<TermStats>) -> Result<Arc<dyn Judge>> {
    let settings: HttpJudgeConfig = judge_settings(table, "judge.http")?;
    #[cfg(feature = "http-judge")]
    return Ok(Arc::new(super::http_judge::HttpJudge::at(
        settings,
        "judge.http",
    )?));
    #[cfg(not(feature = "http-judge"))]
    {
        let _ = settings;
        Err(crate::error::Error::field(
            "judge.kind",
            "judge \"http\" is not in this build: rebuild with `--features http-judge`",
        ))
    }
}

inventory::submit! {
    JudgePlugin {
        name: "http",
        description: "An LLM behind an OpenAI-compatible chat-completions endpoint (`[judge.http]`; needs a build with `--features http-judge`).",
        missing_feature: if cfg!(feature = "http-judge") { None } else { Some("http-judge") },
        fields: HttpJudgeConfig::fields,
        check: |table, path| judge_settings::<HttpJudgeConfig>(table, path).map(|_| ()),
        build,
    }
}
