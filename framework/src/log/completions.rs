//! The completions table: a sample of what the policy wrote and how it was scored, one JSON line
//! per row, `{"step": s, "user_id": ..., ...}`, so a reader can see *why* a reward moved.

use super::jsonl::{Lines, utf8_line};
use crate::error::{Error, Result};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// One sampled completion with its scores.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct CompletionRow {
    pub user_id: String,
    /// The user's rendered prompt (the signals the policy saw).
    pub prompt: String,
    /// The policy's raw text.
    pub completion: String,
    /// The queries parsed from `completion` (empty when it did not parse).
    pub queries: Vec<String>,
    /// Whether `completion` parsed as a query list.
    pub valid: bool,
    /// Each reward plugin's value, by plugin name. JSON has no NaN: a non-finite value is written
    /// as `null` and reads back as NaN.
    #[serde(deserialize_with = "nan_for_null_map")]
    pub rewards: BTreeMap<String, f64>,
    #[serde(deserialize_with = "nan_for_null")]
    pub composite: f64,
    #[serde(deserialize_with = "nan_for_null")]
    pub advantage: f64,
}

/// A row as written: the step, then the row's fields.
#[derive(Serialize)]
struct Written<'a> {
    step: u64,
    #[serde(flatten)]
    row: &'a CompletionRow,
}

#[derive(Deserialize)]
struct Read {
    step: u64,
    #[serde(flatten)]
    row: CompletionRow,
}

/// One row as a JSON line.
pub(crate) fn encode(step: u64, row: &CompletionRow) -> Result<String> {
    serde_json::to_string(&Written { step, row })
        .map_err(|e| Error::field("log.completions", format!("row not serialisable: {e}")))
}

/// Reads a `completions.jsonl` back as `(step, row)` in file order. As with `read_scalars`, an
/// unterminated last line that does not parse is skipped; any other bad line names `path:line`.
pub fn read_completions(path: &Path) -> Result<Vec<(u64, CompletionRow)>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let lines = Lines::split(&bytes);
    let mut rows = Vec::with_capacity(lines.complete.len());
    for (number, line) in &lines.complete {
        let text = utf8_line(path, *number, line)?;
        if text.trim().is_empty() {
            continue;
        }
        let read: Read = serde_json::from_str(text)
            .map_err(|e| Error::at_line(path, *number, format!("not a completion row: {e}")))?;
        rows.push((read.step, read.row));
    }
    if let Some((_, tail)) = lines.tail {
        let parsed = std::str::from_utf8(tail)
            .ok()
            .map(serde_json::from_str::<Read>);
        if let Some(Ok(read)) = parsed {
            rows.push((read.step, read.row));
        }
    }
    Ok(rows)
}

fn nan_for_null<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

fn nan_for_null_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, f64>, D::Error> {
    let map = BTreeMap::<String, Option<f64>>::deserialize(d)?;
    Ok(map
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or(f64::NAN)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_scores_survive_a_round_trip_as_nan() {
        let row = CompletionRow {
            user_id: "u1".into(),
            prompt: "p".into(),
            completion: "c".into(),
            queries: vec![],
            valid: false,
            rewards: BTreeMap::from([("structure".to_string(), f64::NAN)]),
            composite: f64::INFINITY,
            advantage: 0.25,
        };
        let line = encode(3, &row).unwrap();
        assert!(line.starts_with("{\"step\":3,\"user_id\":\"u1\""), "{line}");
        assert!(line.contains("\"composite\":null"), "{line}");
        let read: Read = serde_json::from_str(&line).unwrap();
        assert_eq!(read.step, 3);
        assert!(read.row.rewards["structure"].is_nan() && read.row.composite.is_nan());
        assert_eq!(read.row.advantage, 0.25);
    }
}
