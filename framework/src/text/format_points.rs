//! The format's decision points in a response: positions where the query-list format
//! ([`crate::text::query_list`]) allows only one class of tokens, whichever query is written.
//!
//! - At a line start (the response's start, or after a line break) the line must open with
//!   "-", or the list must end: tokens whose text starts with "-", and the terminator.
//! - Right after a line's opening "-" comes the space of "- ": tokens whose text starts with
//!   a space.
//!
//! A small policy at temperature 1 leaks probability to the other tokens there ("-mere"
//! instead of "- mere"): the imitation loss raises only the one token of each target, while
//! the format cares about the whole class. Unlikelihood fine-tuning (`train::unlikelihood`)
//! raises the class's total probability at these points.

use crate::text::PolicyTokenizer;

/// Which class of tokens the format allows at a point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatPoint {
    /// A line start: a "-" or the terminator.
    LineStart,
    /// After a line's opening "-": a space.
    AfterDash,
}

/// The allowed tokens of each [`FormatPoint`] for one tokenizer, and the decoding of every
/// token, to find the points of a response.
pub struct FormatClasses {
    pieces: Vec<String>,
    end: u32,
    /// `allowed[point][id]`: whether token `id` keeps the format at `point`.
    line_start: Vec<bool>,
    after_dash: Vec<bool>,
}

impl FormatClasses {
    pub fn new(tokenizer: &PolicyTokenizer) -> Self {
        let end = tokenizer.end_id();
        let pieces: Vec<String> = (0..tokenizer.vocab_size() as u32)
            .map(|id| tokenizer.decode(&[id]))
            .collect();
        let line_start = pieces
            .iter()
            .enumerate()
            .map(|(id, p)| id as u32 == end || p.starts_with('-'))
            .collect();
        let after_dash = pieces.iter().map(|p| p.starts_with(' ')).collect();
        FormatClasses {
            pieces,
            end,
            line_start,
            after_dash,
        }
    }

    /// The tokens allowed at `point`, one flag per vocabulary id.
    pub fn allowed(&self, point: FormatPoint) -> &[bool] {
        match point {
            FormatPoint::LineStart => &self.line_start,
            FormatPoint::AfterDash => &self.after_dash,
        }
    }

    /// The decision points of `response` (generated ids, from the first after the prompt):
    /// `(j, point)` where token `j` is written at `point`. Stops at the terminator.
    pub fn points(&self, response: &[u32]) -> Vec<(usize, FormatPoint)> {
        let mut out = Vec::new();
        // The text of the current line so far; the response starts at a line start.
        let mut line = String::new();
        for (j, &id) in response.iter().enumerate() {
            if line.is_empty() {
                out.push((j, FormatPoint::LineStart));
            } else if line == "-" {
                out.push((j, FormatPoint::AfterDash));
            }
            let Some(piece) = self.pieces.get(id as usize) else {
                break;
            };
            if id == self.end {
                break;
            }
            match piece.rfind('\n') {
                Some(at) => line = piece[at + 1..].to_string(),
                None => line.push_str(piece),
            }
        }
        out
    }

    /// Where each query line of `response` opens: the position of the token that writes the
    /// line's first character after its "- " (the word a query starts with). Stops at the
    /// terminator. A repeated query opens with the token an earlier line opened with, so
    /// unlikelihood fine-tuning pushes those tokens down at the later openings of a target
    /// (`train::unlikelihood`).
    pub fn openings(&self, response: &[u32]) -> Vec<usize> {
        let mut out = Vec::new();
        let mut line = String::new();
        // Whether the current line already holds a query's first character.
        let mut opened = false;
        for (j, &id) in response.iter().enumerate() {
            let Some(piece) = self.pieces.get(id as usize) else {
                break;
            };
            if id == self.end {
                break;
            }
            match piece.rfind('\n') {
                Some(at) => {
                    line = piece[at + 1..].to_string();
                    opened = false;
                }
                None => line.push_str(piece),
            }
            if !opened && line.starts_with("- ") && !line[2..].trim().is_empty() {
                out.push(j);
                opened = true;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::query_list::QueryList;

    fn tokenizer() -> PolicyTokenizer {
        let texts = (0..30).map(|i| format!("- riverton hawks {i}\n- maria okafor\nthe mere-cat"));
        PolicyTokenizer::train(texts.collect::<Vec<String>>(), 300).unwrap()
    }

    #[test]
    fn points_sit_at_line_starts_and_after_each_dash() {
        let tok = tokenizer();
        let classes = FormatClasses::new(&tok);
        let mut ids = tok.encode_plain("- riverton hawks\n- maria okafor\n");
        ids.push(tok.end_id());
        let points = classes.points(&ids);
        // Two lines: each opens with a line start then the dash's space; the terminator's
        // line start is the last point.
        let kinds: Vec<FormatPoint> = points.iter().map(|p| p.1).collect();
        use FormatPoint::*;
        assert_eq!(
            kinds,
            vec![LineStart, AfterDash, LineStart, AfterDash, LineStart]
        );
        assert_eq!(points[0].0, 0);
        assert_eq!(points.last().unwrap().0, ids.len() - 1);
        // Each point's own target token is allowed there.
        for &(j, point) in &points {
            assert!(classes.allowed(point)[ids[j] as usize], "{j} {point:?}");
        }
    }

    #[test]
    fn openings_are_the_tokens_that_start_each_query() {
        let tok = tokenizer();
        let classes = FormatClasses::new(&tok);
        let text = "- riverton hawks\n- maria okafor\n-  riverton\n";
        let mut ids = tok.encode_plain(text);
        ids.push(tok.end_id());
        let openings = classes.openings(&ids);
        assert_eq!(openings.len(), 3, "{openings:?}");
        // Each opening token's text carries the first letter of its query.
        let first: Vec<char> = openings
            .iter()
            .map(|&j| tok.decode(&[ids[j]]).trim().chars().next().unwrap())
            .collect();
        assert_eq!(first, vec!['r', 'm', 'r']);
        // Nothing after the terminator, and a bare "-" line opens nothing.
        let mut ids = tok.encode_plain("- maria\n-\n");
        ids.push(tok.end_id());
        ids.extend(tok.encode_plain("- riverton\n"));
        assert_eq!(classes.openings(&ids).len(), 1);
    }

    #[test]
    fn the_classes_are_what_keeps_a_line_valid() {
        let tok = tokenizer();
        let classes = FormatClasses::new(&tok);
        let end = tok.end_id() as usize;
        assert!(classes.allowed(FormatPoint::LineStart)[end]);
        assert!(!classes.allowed(FormatPoint::AfterDash)[end]);
        // Every token allowed after a dash keeps "- x" a query line, and every other
        // printable one breaks it (the "-mere" of a small policy).
        let format = Default::default();
        for (id, &ok) in classes.allowed(FormatPoint::AfterDash).iter().enumerate() {
            let text = tok.decode(&[id as u32]);
            if text.trim().is_empty() || tok.is_special(id as u32) {
                continue;
            }
            let list = format!("-{text}abc\n- def\n- ghi\n<end>");
            assert_eq!(QueryList::parse(&list, &format).is_valid(), ok, "{text:?}");
        }
    }
}
