//! The `scalars.jsonl` row: `{"step": s, "<name>": value, ...}`, names in sorted order after the
//! step, so that two runs' logs can be compared with `diff`.

use super::jsonl::{Lines, utf8_line};
use crate::error::{Error, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// The key every row holds; a scalar may not take it as its name.
pub(crate) const STEP: &str = "step";

/// Checks the names a caller logs: they become JSON keys and TensorBoard tags.
pub(crate) fn check_names(values: &BTreeMap<String, f64>) -> Result<()> {
    for name in values.keys() {
        if name.is_empty() {
            return Err(Error::field("log.scalars", "a scalar has an empty name"));
        }
        if name == STEP {
            let msg = "a scalar named \"step\" would collide with the row's step key";
            return Err(Error::field("log.scalars", msg));
        }
    }
    Ok(())
}

/// One row as a JSON line. JSON has no NaN or infinity: such values become `null`, so a
/// diverging run still leaves a readable log.
pub(crate) fn encode(step: u64, values: &BTreeMap<String, f64>) -> String {
    let mut line = format!("{{\"{STEP}\":{step}");
    for (name, value) in values {
        line.push(',');
        line.push_str(&Value::String(name.clone()).to_string());
        line.push(':');
        match serde_json::Number::from_f64(*value) {
            Some(number) => line.push_str(&number.to_string()),
            None => line.push_str("null"),
        }
    }
    line.push('}');
    line
}

/// Reads a `scalars.jsonl` back: one `(step, name -> value)` per row, in file order; `null` reads
/// back as NaN. An unterminated last line that does not parse is a row still being written (or
/// cut by a kill) and is skipped; any other bad line is an error naming `path:line`.
pub fn read_scalars(path: &Path) -> Result<Vec<(u64, BTreeMap<String, f64>)>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let lines = Lines::split(&bytes);
    let mut rows = Vec::with_capacity(lines.complete.len());
    for (number, line) in &lines.complete {
        let text = utf8_line(path, *number, line)?;
        if !text.trim().is_empty() {
            rows.push(decode(text).map_err(|m| Error::at_line(path, *number, m))?);
        }
    }
    let tail = lines
        .tail
        .and_then(|(_, tail)| std::str::from_utf8(tail).ok());
    if let Some(row) = tail.and_then(|t| decode(t).ok()) {
        rows.push(row);
    }
    Ok(rows)
}

/// One row from its JSON text; the error message says what is wrong, the caller says where.
fn decode(text: &str) -> Result<(u64, BTreeMap<String, f64>), String> {
    let object = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => object,
        Ok(other) => return Err(format!("expected a JSON object, found {other}")),
        Err(e) => return Err(format!("not JSON: {e}")),
    };
    let mut step = None;
    let mut values = BTreeMap::new();
    for (key, value) in object {
        if key == STEP {
            let s = value
                .as_u64()
                .ok_or_else(|| format!("\"step\" must be a non-negative integer, found {value}"))?;
            step = Some(s);
            continue;
        }
        let number = match &value {
            Value::Null => f64::NAN,
            Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
            other => return Err(format!("\"{key}\" must be a number or null, found {other}")),
        };
        values.insert(key, number);
    }
    let step = step.ok_or_else(|| "the row has no \"step\"".to_string())?;
    Ok((step, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_puts_step_first_sorts_names_and_writes_non_finite_as_null() {
        let values = BTreeMap::from([
            ("rewards/a \"quoted\"/mean".to_string(), 0.5),
            ("kl".to_string(), f64::NAN),
            ("grad_norm".to_string(), f64::INFINITY),
            ("loss".to_string(), -1e-300),
        ]);
        let line = encode(7, &values);
        assert_eq!(
            line,
            "{\"step\":7,\"grad_norm\":null,\"kl\":null,\"loss\":-1e-300,\
             \"rewards/a \\\"quoted\\\"/mean\":0.5}"
        );
        let (step, back) = decode(&line).unwrap();
        assert_eq!(step, 7);
        assert_eq!(back["loss"], -1e-300);
        assert_eq!(back["rewards/a \"quoted\"/mean"], 0.5);
        assert!(back["kl"].is_nan() && back["grad_norm"].is_nan());
    }

    #[test]
    fn decode_says_what_is_wrong() {
        assert!(decode("[1]").unwrap_err().contains("JSON object"));
        assert!(decode("{\"loss\":1}").unwrap_err().contains("no \"step\""));
        assert!(
            decode("{\"step\":-1}")
                .unwrap_err()
                .contains("non-negative")
        );
        assert!(
            decode("{\"step\":1,\"x\":\"a\"}")
                .unwrap_err()
                .contains("\"x\"")
        );
    }

    #[test]
    fn names_that_cannot_be_keys_are_refused() {
        assert!(check_names(&BTreeMap::from([("step".to_string(), 1.0)])).is_err());
        assert!(check_names(&BTreeMap::from([(String::new(), 1.0)])).is_err());
        assert!(check_names(&BTreeMap::from([("tokens/s".to_string(), 1.0)])).is_ok());
    }
}
