//! One behaviour record of a user, from any domain.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What kind of behaviour a signal records. Datasets may declare kinds beyond the three the
/// paper uses; they travel as `Other(name)` and render with their own name in prompts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SignalKind {
    /// A web search query the user typed.
    Search,
    /// A click on a news article (text is the headline).
    NewsClick,
    /// A page visited on another site (text is the page title).
    Browse,
    /// A kind declared by a dataset, e.g. `video_watch`.
    Other(String),
}

/// The longest signal kind name: kinds label prompt lines, so a long one is a mistake (or an
/// attack on the prompt budget), never a kind.
pub const MAX_KIND_CHARS: usize = 32;

impl SignalKind {
    /// The name used in files, configs and prompts.
    pub fn as_str(&self) -> &str {
        match self {
            SignalKind::Search => "search",
            SignalKind::NewsClick => "news_click",
            SignalKind::Browse => "browse",
            SignalKind::Other(name) => name,
        }
    }

    /// Parses a kind name. The three built-in names map to their variants; any other non-empty
    /// name of lowercase letters, digits and `_` is a dataset-declared kind.
    pub fn parse(name: &str) -> Result<Self, String> {
        let chars = name.chars().count();
        if chars > MAX_KIND_CHARS {
            let start: String = name.chars().take(16).collect();
            return Err(format!(
                "invalid signal kind {start:?}... of {chars} characters: a kind has at most \
                 {MAX_KIND_CHARS}"
            ));
        }
        match name {
            "search" => Ok(SignalKind::Search),
            "news_click" => Ok(SignalKind::NewsClick),
            "browse" => Ok(SignalKind::Browse),
            other
                if !other.is_empty()
                    && other
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') =>
            {
                Ok(SignalKind::Other(other.to_string()))
            }
            other => Err(format!(
                "invalid signal kind {other:?}: expected search, news_click, browse, or a \
                 dataset-declared name of lowercase letters, digits and '_'"
            )),
        }
    }
}

impl fmt::Display for SignalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for SignalKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SignalKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        SignalKind::parse(&name).map_err(serde::de::Error::custom)
    }
}

/// One behaviour record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    /// The user who produced it.
    pub user: String,
    /// Unix time in seconds.
    pub timestamp: i64,
    pub kind: SignalKind,
    /// The query, headline or page title.
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Ground-truth noise label where the source knows it (the simulator always does): `true`
    /// for malformed or irrelevant records the cleaner should drop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_round_trip() {
        for name in ["search", "news_click", "browse", "video_watch"] {
            assert_eq!(SignalKind::parse(name).unwrap().as_str(), name);
        }
        assert_eq!(SignalKind::parse("browse").unwrap(), SignalKind::Browse);
    }

    #[test]
    fn bad_kind_names_are_rejected_with_the_valid_choices() {
        for bad in ["", "News Click", "click!"] {
            let err = SignalKind::parse(bad).unwrap_err();
            assert!(err.contains("news_click"), "{err}");
        }
        let longest = "k".repeat(MAX_KIND_CHARS);
        assert!(SignalKind::parse(&longest).is_ok());
        let err = SignalKind::parse(&"k".repeat(5_000)).unwrap_err();
        assert!(
            err.contains("5000 characters") && err.contains("at most 32"),
            "{err}"
        );
        assert!(
            err.len() < 200,
            "the whole name echoed: {} bytes",
            err.len()
        );
    }

    #[test]
    fn signal_json_round_trip() {
        let s = Signal {
            user: "u1".into(),
            timestamp: 1_600_000_000,
            kind: SignalKind::Other("video_watch".into()),
            text: "Cup final highlights".into(),
            url: None,
            domain: Some("video.example".into()),
            noise: Some(false),
        };
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains("\"kind\":\"video_watch\""));
        assert_eq!(serde_json::from_str::<Signal>(&json).unwrap(), s);
    }
}
