//! The body of `POST /v1/interests`: its shape (mirroring `quill::data::Signal`), parsing with
//! the path of a bad field (`signals[3].kind`), and the checks against the server's limits.

use super::api::{ApiError, Limits};
use super::engine::Input;
use axum::http::StatusCode;
use quill::data::{Signal, SignalKind};
use serde::Deserialize;

/// Articles per query when a request does not say.
pub const DEFAULT_TOP_K: usize = 5;
const MAX_ID_CHARS: usize = 128;
const MAX_URL_CHARS: usize = 2048;

/// The request body of `POST /v1/interests`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterestsRequest {
    #[serde(default)]
    pub user_id: Option<String>,
    pub signals: Vec<SignalIn>,
    #[serde(default)]
    pub top_k: Option<usize>,
}

/// One signal as a client sends it: `quill::data::Signal` without the user (the request's)
/// and the noise label (what the cleaner decides).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalIn {
    /// Read as text and checked here, so the error can name the signal and list the kinds.
    pub kind: String,
    pub text: String,
    /// Unix time in seconds.
    pub timestamp: i64,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub domain: Option<String>,
}

/// Parses the JSON body; 400 for malformed JSON, 422 for JSON of the wrong shape, naming the
/// field (`signals[2].timestamp`).
pub fn parse(bytes: &[u8]) -> Result<InterestsRequest, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed: Result<InterestsRequest, _> = serde_path_to_error::deserialize(&mut de);
    let request = parsed.map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("the body is not valid JSON: {message}"),
            );
        }
        let at = |name: &str| match path.as_str() {
            "." | "" => name.to_string(),
            p => format!("{p}.{name}"),
        };
        // serde reports a missing key at its parent (an unknown key at itself): name the key.
        let field = key_in(&message, "missing field `")
            .map(|k| at(&k))
            .unwrap_or(path.clone());
        let valid = if message.starts_with("unknown field") {
            "request keys user_id, signals, top_k; signal keys kind, text, timestamp, url, domain"
        } else if field.ends_with(".timestamp") {
            "an integer: Unix time in seconds"
        } else if field == "top_k" {
            "a positive integer"
        } else if field.starts_with("signals[") && field.contains("].") || field == "user_id" {
            "a string"
        } else if field.starts_with("signals") {
            "an array of {\"kind\", \"text\", \"timestamp\"} objects (\"url\", \"domain\" optional)"
        } else {
            "{\"user_id\": optional string, \"signals\": [{\"kind\", \"text\", \"timestamp\"}], \
             \"top_k\": optional integer}"
        };
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            error: message,
            field: Some(field),
            valid: Some(valid.to_string()),
        }
    })?;
    de.end().map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    Ok(request)
}

fn key_in(message: &str, prefix: &str) -> Option<String> {
    let rest = message.strip_prefix(prefix)?;
    Some(rest[..rest.find('`')?].to_string())
}

/// Checks the parsed request against the limits; signals come back oldest first (a stable
/// sort by timestamp: the prompt renders the newest last).
pub fn validate(request: InterestsRequest, limits: &Limits) -> Result<Input, ApiError> {
    let user = request.user_id.unwrap_or_else(|| "anonymous".into());
    if user.chars().count() > MAX_ID_CHARS {
        return Err(ApiError::field(
            "user_id",
            format!("user_id has {} characters", user.chars().count()),
            format!("at most {MAX_ID_CHARS} characters"),
        ));
    }
    let top_k = request.top_k.unwrap_or(DEFAULT_TOP_K);
    if top_k == 0 || top_k > limits.max_top_k {
        return Err(ApiError::field(
            "top_k",
            format!("top_k {top_k} is out of range"),
            format!(
                "an integer from 1 to {} (default {DEFAULT_TOP_K})",
                limits.max_top_k
            ),
        ));
    }
    let n = request.signals.len();
    if n == 0 || n > limits.max_signals {
        return Err(ApiError::field(
            "signals",
            format!("{n} signals sent"),
            format!("from 1 to {} signals", limits.max_signals),
        ));
    }
    let mut signals = Vec::with_capacity(n);
    for (i, s) in request.signals.into_iter().enumerate() {
        let kind = SignalKind::parse(&s.kind).map_err(|e| {
            ApiError::field(
                format!("signals[{i}].kind"),
                e,
                "search, news_click, browse, or a dataset-declared name of lowercase letters, \
                 digits and '_'",
            )
        })?;
        let chars = s.text.chars().count();
        if chars > limits.max_text_chars {
            return Err(ApiError::field(
                format!("signals[{i}].text"),
                format!("the text has {chars} characters"),
                format!("at most {} characters", limits.max_text_chars),
            ));
        }
        for (name, value) in [("url", &s.url), ("domain", &s.domain)] {
            if let Some(v) = value.as_ref().filter(|v| v.chars().count() > MAX_URL_CHARS) {
                return Err(ApiError::field(
                    format!("signals[{i}].{name}"),
                    format!("the {name} has {} characters", v.chars().count()),
                    format!("at most {MAX_URL_CHARS} characters"),
                ));
            }
        }
        signals.push(Signal {
            user: user.clone(),
            timestamp: s.timestamp,
            kind,
            text: s.text,
            url: s.url,
            domain: s.domain,
            noise: None,
        });
    }
    signals.sort_by_key(|s| s.timestamp);
    Ok(Input {
        user,
        signals,
        top_k,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limits() -> Limits {
        Limits {
            max_body_bytes: 1000,
            max_signals: 3,
            max_text_chars: 20,
            max_top_k: 10,
            read_timeout: Duration::from_secs(1),
        }
    }

    fn check(body: &str) -> Result<Input, ApiError> {
        validate(parse(body.as_bytes())?, &limits())
    }

    #[test]
    fn a_valid_request_sorts_signals_and_defaults_top_k() {
        let input = check(
            r#"{"signals": [{"kind": "news_click", "text": "b", "timestamp": 20},
                            {"kind": "search", "text": "a", "timestamp": 10}]}"#,
        )
        .unwrap();
        assert_eq!(input.top_k, DEFAULT_TOP_K);
        assert_eq!(input.user, "anonymous");
        let texts: Vec<&str> = input.signals.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(texts, ["a", "b"]);
        assert_eq!(input.signals[1].kind, SignalKind::NewsClick);
    }

    #[test]
    fn errors_name_the_field_and_what_is_valid() {
        let cases = [
            (
                r#"{"signals": [{"kind": "search", "text": "a", "timestamp": 1}, {"kind": "Click!", "text": "b", "timestamp": 2}]}"#,
                422,
                "signals[1].kind",
                "news_click",
            ),
            (
                r#"{"signals": [{"kind": "search", "timestamp": 1}]}"#,
                422,
                "signals[0].text",
                "string",
            ),
            (
                r#"{"signals": [{"kind": "search", "text": "a", "timestamp": "now"}]}"#,
                422,
                "signals[0].timestamp",
                "Unix time",
            ),
            (r#"{"top_k": 3}"#, 422, "signals", "array"),
            (
                r#"{"signals": [], "top_k": 3}"#,
                422,
                "signals",
                "from 1 to 3",
            ),
            (
                r#"{"signals": [{"kind": "search", "text": "a", "timestamp": 1}], "top_k": 11}"#,
                422,
                "top_k",
                "1 to 10",
            ),
            (
                r#"{"signals": [{"kind": "search", "text": "aaaaaaaaaaaaaaaaaaaaa", "timestamp": 1}]}"#,
                422,
                "signals[0].text",
                "at most 20",
            ),
            (
                r#"{"signals": [{"kind": "search", "text": "a", "timestamp": 1, "color": 2}]}"#,
                422,
                "signals[0].color",
                "signal keys",
            ),
        ];
        for (body, status, field, valid) in cases {
            let e = check(body).unwrap_err();
            assert_eq!(e.status.as_u16(), status, "{body}: {e:?}");
            assert_eq!(e.field.as_deref(), Some(field), "{body}: {e:?}");
            assert!(
                e.valid.as_deref().unwrap_or("").contains(valid),
                "{body}: {e:?}"
            );
        }
        let many = format!(
            r#"{{"signals": [{}]}}"#,
            [r#"{"kind": "search", "text": "a", "timestamp": 1}"#; 4].join(",")
        );
        assert_eq!(check(&many).unwrap_err().field.as_deref(), Some("signals"));
    }

    #[test]
    fn malformed_json_is_a_400() {
        for body in ["{", "not json", r#"{"signals": []} trailing"#, ""] {
            let e = check(body).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{body}: {e:?}");
        }
    }
}
