//! The `[judge]` section: which `Judge` answers the rubric items of the rubric-as-reward plugins.
//!
//! The HTTP judge's settings are declared here rather than beside the judge, so that every build
//! parses, documents (`quill validate --explain`) and checks the same experiment files; only
//! *building* an HTTP judge needs the cargo feature `http-judge`. A file that selects it in a
//! build without the feature fails validation with an error on `judge.kind`, before any work.

use super::judge::{Judge, RuleJudge};
use crate::config::Check;
use crate::error::{Error, Result};
use crate::text::term_stats::TermStats;
use std::sync::Arc;

crate::config_enum! {
    /// Which judge answers the rubric items.
    pub enum JudgeKind {
        /// The deterministic built-in rule judge (no server, no network).
        Rules = "rules",
        /// An LLM behind an OpenAI-compatible chat-completions endpoint (`[judge.http]`); needs
        /// a build with `--features http-judge`.
        Http = "http",
    }
}

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

crate::config_section! {
    /// The `[judge]` section: the judge of the interest-coverage and query-specificity rubrics.
    pub struct JudgeConfig {
        /// Which judge: `rules` (built in, deterministic) or `http` (an LLM server).
        pub kind: JudgeKind = JudgeKind::Rules, Check::Any;
        /// Settings of the `http` judge; ignored by `rules`.
        pub http: HttpJudgeConfig = HttpJudgeConfig::default(), Check::Any;
    }
}

/// The section's name in experiment files; errors name fields under it.
const SECTION: &str = "judge";

impl JudgeConfig {
    /// Whether this build can construct the selected judge. Experiment validation calls this so
    /// a missing feature is reported at `quill validate` time, at the line of `kind`.
    pub fn check_available(&self) -> Result<()> {
        match self.kind {
            JudgeKind::Http if !cfg!(feature = "http-judge") => Err(Self::http_unavailable()),
            _ => Ok(()),
        }
    }

    fn http_unavailable() -> Error {
        Error::field(
            format!("{SECTION}.kind"),
            "judge \"http\" is not in this build: rebuild with `--features http-judge` \
             (e.g. `cargo run --features http-judge -- ...`), or set kind = \"rules\"",
        )
    }

    /// Builds the selected judge. `stats` serves the rule judge (IDF, entity words).
    pub fn build(&self, stats: Arc<TermStats>) -> Result<Arc<dyn Judge>> {
        match self.kind {
            JudgeKind::Rules => Ok(Arc::new(RuleJudge::new(stats))),
            #[cfg(feature = "http-judge")]
            JudgeKind::Http => Ok(Arc::new(super::http_judge::HttpJudge::at(
                self.http.clone(),
                &format!("{SECTION}.http"),
            )?)),
            #[cfg(not(feature = "http-judge"))]
            JudgeKind::Http => Err(Self::http_unavailable()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Section;

    #[test]
    fn defaults_to_the_rule_judge_and_parses_http_settings() {
        let cfg: JudgeConfig = toml::from_str("").unwrap();
        assert_eq!(cfg.kind, JudgeKind::Rules);
        let cfg: JudgeConfig =
            toml::from_str("kind = \"http\"\n[http]\nmodel = \"m\"\nbatch_size = 4\n").unwrap();
        assert_eq!(cfg.kind, JudgeKind::Http);
        assert_eq!((cfg.http.model.as_str(), cfg.http.batch_size), ("m", 4));
        assert_eq!(cfg.http.retries, 2, "unset fields keep their defaults");
    }

    #[test]
    fn unknown_kinds_list_the_valid_ones_and_ranges_name_the_field() {
        let err = toml::from_str::<JudgeConfig>("kind = \"gpt\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("gpt") && err.contains("rules") && err.contains("http"),
            "{err}"
        );
        let cfg: JudgeConfig = toml::from_str("[http]\nbatch_size = 0\n").unwrap();
        let err = cfg.validate("judge").unwrap_err().to_string();
        assert!(err.starts_with("judge.http.batch_size: value 0"), "{err}");
    }

    #[test]
    fn rules_build_without_any_feature() {
        let corpus = crate::reward::testing::corpus(&["a title"]);
        let judge = JudgeConfig::default()
            .build(Arc::new(TermStats::build(&corpus)))
            .unwrap();
        assert_eq!(judge.name(), "rules");
    }

    #[cfg(not(feature = "http-judge"))]
    #[test]
    fn http_without_the_feature_names_the_field_and_the_feature() {
        let cfg = JudgeConfig {
            kind: JudgeKind::Http,
            ..Default::default()
        };
        let err = cfg.check_available().unwrap_err().to_string();
        assert!(err.starts_with("judge.kind: "), "{err}");
        assert!(err.contains("--features http-judge"), "{err}");
        let corpus = crate::reward::testing::corpus(&["a title"]);
        let err = cfg
            .build(Arc::new(TermStats::build(&corpus)))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("--features http-judge"), "{err}");
    }

    #[cfg(feature = "http-judge")]
    #[test]
    fn http_with_the_feature_builds_the_http_judge() {
        let cfg = JudgeConfig {
            kind: JudgeKind::Http,
            ..Default::default()
        };
        assert!(cfg.check_available().is_ok());
        let corpus = crate::reward::testing::corpus(&["a title"]);
        let judge = cfg.build(Arc::new(TermStats::build(&corpus))).unwrap();
        assert_eq!(judge.name(), "http");
        // Building checks the endpoint, and names it as it is written in experiment files.
        let bad = JudgeConfig {
            kind: JudgeKind::Http,
            http: HttpJudgeConfig {
                endpoint: "ftp://x/y".into(),
                ..Default::default()
            },
        };
        let err = bad
            .build(Arc::new(TermStats::build(&corpus)))
            .err()
            .unwrap()
            .to_string();
        assert!(err.starts_with("judge.http.endpoint"), "{err}");
    }
}
