//! Finding where in a TOML file a dotted field path is, so errors can name line and column.

use std::ops::Range;
use toml::de::{DeTable, DeValue};

/// 1-based line and column of a byte offset.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

/// Byte offset of the value (or the table header) at a dotted path like `data.world.noise_rate`.
pub fn span_of(src: &str, dotted: &str) -> Option<usize> {
    let root = DeTable::parse(src).ok()?;
    let mut table = root.get_ref();
    let parts: Vec<&str> = dotted.split('.').collect();
    let mut last: Option<Range<usize>> = None;
    for (i, part) in parts.iter().enumerate() {
        let part = part.split('[').next().unwrap_or(part);
        let (key, value) = table.iter().find(|(k, _)| k.get_ref().as_ref() == part)?;
        last = Some(if i + 1 == parts.len() {
            value.span()
        } else {
            key.span()
        });
        match value.get_ref() {
            DeValue::Table(t) => table = t,
            _ => break,
        }
    }
    last.map(|r| r.start)
}

/// The dotted path of the innermost key whose key or value contains `offset`. Searches the
/// whole tree: the span of a table opened by a `[header]` does not cover its keys.
pub fn path_at(src: &str, offset: usize) -> Option<String> {
    let root = DeTable::parse(src).ok()?;
    let mut path = Vec::new();
    find(root.get_ref(), offset, &mut path).then(|| path.join("."))
}

fn find(table: &DeTable<'_>, offset: usize, path: &mut Vec<String>) -> bool {
    let inside = |r: Range<usize>| r.start <= offset && offset < r.end.max(r.start + 1);
    for (k, v) in table.iter() {
        path.push(k.get_ref().to_string());
        let hit = match v.get_ref() {
            DeValue::Table(t) => find(t, offset, path) || inside(k.span()),
            _ => inside(k.span()) || inside(v.span()),
        };
        if hit {
            return true;
        }
        path.pop();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "[experiment]\nname = \"x\"\n\n[data.world]\nnoise_rate = 1.5\n";

    #[test]
    fn line_and_column_are_one_based() {
        assert_eq!(line_col(SRC, 0), (1, 1));
        let at = SRC.find("1.5").unwrap();
        assert_eq!(line_col(SRC, at), (5, 14));
    }

    #[test]
    fn dotted_paths_find_their_value() {
        let at = span_of(SRC, "data.world.noise_rate").unwrap();
        assert_eq!(&SRC[at..at + 3], "1.5");
        assert!(span_of(SRC, "data.world.missing").is_none());
        assert_eq!(path_at(SRC, at).as_deref(), Some("data.world.noise_rate"));
    }
}
