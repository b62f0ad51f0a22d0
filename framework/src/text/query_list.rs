//! The query-list format the policy writes, and its parser — shared by the structural-validity
//! reward and evaluation. Invalid output is a value (a list of problems), never an error.
//!
//! The format, one query per line, each line starting with "- ", closed by the terminator:
//!
//! ```text
//! - riverton hawks playoff
//! - maria okafor transfer
//! <end>
//! ```

use crate::config::Check;

/// The terminator line that closes a list.
pub const TERMINATOR: &str = "<end>";

crate::config_section! {
    /// The `[format]` section: what a structurally valid query list is.
    pub struct QueryListFormat {
        /// Fewest queries in a valid list.
        pub min_queries: u32 = 3, Check::Range { min: 1.0, max: 100.0 };
        /// Most queries in a valid list.
        pub max_queries: u32 = 8, Check::Range { min: 1.0, max: 100.0 };
        /// Shortest query, in characters.
        pub min_query_chars: u32 = 3, Check::Range { min: 1.0, max: 1000.0 };
        /// Longest query, in characters.
        pub max_query_chars: u32 = 80, Check::Range { min: 1.0, max: 1000.0 };
    }
}

/// One way a list breaks the format.
#[derive(Debug, Clone, PartialEq)]
pub enum FormatProblem {
    /// No terminator line: generation was cut off or rambled.
    Unterminated,
    /// A non-empty line before the terminator that does not start with "- " (1-based line).
    BadLine(usize),
    /// Text after the terminator.
    TrailingText,
    TooFewQueries(usize),
    TooManyQueries(usize),
    /// A query outside the length bounds (index into `queries`).
    BadLength(usize),
    /// The same query (case-insensitive) twice (index of the second).
    Duplicate(usize),
}

impl FormatProblem {
    /// The kind of problem without its position, for tallies.
    pub fn kind(&self) -> &'static str {
        match self {
            FormatProblem::Unterminated => "Unterminated",
            FormatProblem::BadLine(_) => "BadLine",
            FormatProblem::TrailingText => "TrailingText",
            FormatProblem::TooFewQueries(_) => "TooFewQueries",
            FormatProblem::TooManyQueries(_) => "TooManyQueries",
            FormatProblem::BadLength(_) => "BadLength",
            FormatProblem::Duplicate(_) => "Duplicate",
        }
    }
}

/// A parsed list: the queries that could be read, and what was wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryList {
    pub queries: Vec<String>,
    pub problems: Vec<FormatProblem>,
}

impl QueryList {
    /// Parses model output. Never panics, whatever the input.
    pub fn parse(text: &str, format: &QueryListFormat) -> QueryList {
        let mut queries = Vec::new();
        let mut problems = Vec::new();
        let mut terminated = false;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if terminated {
                if !line.is_empty() {
                    problems.push(FormatProblem::TrailingText);
                    break;
                }
                continue;
            }
            if line == TERMINATOR {
                terminated = true;
            } else if let Some(q) = line.strip_prefix("- ") {
                queries.push(q.trim().to_string());
            } else if !line.is_empty() {
                problems.push(FormatProblem::BadLine(i + 1));
            }
        }
        if !terminated {
            problems.push(FormatProblem::Unterminated);
        }
        if queries.len() < format.min_queries as usize {
            problems.push(FormatProblem::TooFewQueries(queries.len()));
        }
        if queries.len() > format.max_queries as usize {
            problems.push(FormatProblem::TooManyQueries(queries.len()));
        }
        let mut seen: Vec<String> = Vec::new();
        for (i, q) in queries.iter().enumerate() {
            let chars = q.chars().count();
            if chars < format.min_query_chars as usize || chars > format.max_query_chars as usize {
                problems.push(FormatProblem::BadLength(i));
            }
            let key = q.to_lowercase();
            if seen.contains(&key) {
                problems.push(FormatProblem::Duplicate(i));
            }
            seen.push(key);
        }
        QueryList { queries, problems }
    }

    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }

    /// Renders queries in the format (what supervised targets look like).
    pub fn render(queries: &[String]) -> String {
        let mut out = String::new();
        for q in queries {
            out.push_str("- ");
            out.push_str(q);
            out.push('\n');
        }
        out.push_str(TERMINATOR);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt() -> QueryListFormat {
        QueryListFormat::default()
    }

    #[test]
    fn a_rendered_list_parses_back_valid() {
        let qs: Vec<String> = ["riverton hawks playoff", "maria okafor", "quantum collider"]
            .map(String::from)
            .into();
        let parsed = QueryList::parse(&QueryList::render(&qs), &fmt());
        assert_eq!(parsed.queries, qs);
        assert!(parsed.is_valid(), "{:?}", parsed.problems);
    }

    #[test]
    fn each_problem_is_reported() {
        let p = QueryList::parse("- abc\n- abc\nhello\n", &fmt());
        assert_eq!(
            p.problems,
            vec![
                FormatProblem::BadLine(3),
                FormatProblem::Unterminated,
                FormatProblem::TooFewQueries(2),
                FormatProblem::Duplicate(1)
            ]
        );
        let p = QueryList::parse("- ab\n- abcd\n- x y z\n<end>\nmore", &fmt());
        assert_eq!(
            p.problems,
            vec![FormatProblem::TrailingText, FormatProblem::BadLength(0)]
        );
        let many = (0..9).map(|i| format!("- query {i}\n")).collect::<String>() + "<end>";
        assert_eq!(
            QueryList::parse(&many, &fmt()).problems,
            vec![FormatProblem::TooManyQueries(9)]
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap deterministic fuzz: every prefix of a messy string, including multi-byte chars.
        let messy = "- ü\u{fffd}\r\n<end>\n\n- \0- <end>- é\t\n\u{202e}";
        for end in messy.char_indices().map(|(i, _)| i) {
            let _ = QueryList::parse(&messy[..end], &fmt());
        }
    }
}
