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

/// Which line openings mark a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemMarkers {
    /// Only "- ": the one format Quill's own policies are trained to write.
    Dash,
    /// What an instruct model writes when asked for "- " lines: "- ", "* ", "• ", and
    /// numbered items "1. " / "1) " (one to three digits). Everything else is as strict.
    Instruct,
}

impl ItemMarkers {
    /// The query text of a trimmed line that opens with a marker, and the marker's length in
    /// bytes; `None` for any other line.
    pub fn item(self, line: &str) -> Option<(usize, &str)> {
        for bullet in ["- ", "* ", "\u{2022} "] {
            if let Some(q) = line.strip_prefix(bullet)
                && (bullet == "- " || self == ItemMarkers::Instruct)
            {
                return Some((bullet.len(), q));
            }
        }
        if self == ItemMarkers::Dash {
            return None;
        }
        let digits = line.bytes().take_while(u8::is_ascii_digit).count();
        let rest = &line[digits..];
        let q = rest
            .strip_prefix(". ")
            .or_else(|| rest.strip_prefix(") "))?;
        (1..=3).contains(&digits).then_some((digits + 2, q))
    }
}

impl QueryList {
    /// Parses model output. Never panics, whatever the input.
    pub fn parse(text: &str, format: &QueryListFormat) -> QueryList {
        scan(text, format, ItemMarkers::Dash).0
    }

    /// [`QueryList::parse`] with the line openings `markers` accepts.
    pub fn parse_with(text: &str, format: &QueryListFormat, markers: ItemMarkers) -> QueryList {
        scan(text, format, markers).0
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

/// Byte ranges of `text` whose writing broke the format: for each problem that one choice of
/// the writer caused, where that choice is. Unlikelihood fine-tuning (`train::unlikelihood`)
/// pushes down the tokens that wrote them.
///
/// - a bad line: its first character that leaves the "- " prefix ("-ce": the "c");
/// - a duplicate: the first character of the repeated query and the line break that closes
///   it (the two decisions that made it a repeat; the characters between merely spell it);
/// - a query too long: its first character past the bound; too short: its line break;
/// - a terminator inside a query line (`- summit latest<end>`): the terminator;
/// - too many queries: the "-" that opened the first one past the bound;
/// - too few: the terminator, written too early.
///
/// An unterminated list or text after the terminator has no single culprit and gives none.
pub fn format_faults(
    text: &str,
    format: &QueryListFormat,
    markers: ItemMarkers,
) -> Vec<std::ops::Range<usize>> {
    scan(text, format, markers).1
}

/// The one walk over the lines behind [`QueryList::parse`] and [`format_faults`].
fn scan(
    text: &str,
    format: &QueryListFormat,
    markers: ItemMarkers,
) -> (QueryList, Vec<std::ops::Range<usize>>) {
    let mut queries = Vec::new();
    let mut problems = Vec::new();
    let mut faults = Vec::new();
    // Per query: the byte where its text starts, the byte where its line ends, where its
    // line starts (its "-").
    let mut spans: Vec<(usize, usize, usize)> = Vec::new();
    let mut terminator_at = None;
    let mut offset = 0;
    for (i, raw) in text.split_inclusive('\n').enumerate() {
        let at = offset;
        offset += raw.len();
        let body = raw.strip_suffix('\n').unwrap_or(raw);
        let body = body.strip_suffix('\r').unwrap_or(body);
        let line = body.trim();
        let start = at + (body.len() - body.trim_start().len());
        let end = at + body.trim_end().len();
        if terminator_at.is_some() {
            if !line.is_empty() {
                problems.push(FormatProblem::TrailingText);
                break;
            }
            continue;
        }
        if line == TERMINATOR {
            terminator_at = Some(start);
        } else if let Some((marker, q)) = markers.item(line) {
            if let Some(at) = q.find(TERMINATOR) {
                // "- summit latest<end>": the terminator belongs on a line of its own.
                let off = start + marker + at;
                faults.push(off..off + 1);
            }
            let lead = q.len() - q.trim_start().len();
            queries.push(q.trim().to_string());
            spans.push((start + marker + lead, end, start));
        } else if !line.is_empty() {
            problems.push(FormatProblem::BadLine(i + 1));
            let off = start + usize::from(line.starts_with('-'));
            faults.push(off..off + 1);
        }
    }
    if terminator_at.is_none() {
        problems.push(FormatProblem::Unterminated);
    }
    if queries.len() < format.min_queries as usize {
        problems.push(FormatProblem::TooFewQueries(queries.len()));
        if let Some(t) = terminator_at {
            faults.push(t..t + 1);
        }
    }
    if queries.len() > format.max_queries as usize {
        problems.push(FormatProblem::TooManyQueries(queries.len()));
        let dash = spans[format.max_queries as usize].2;
        faults.push(dash..dash + 1);
    }
    let mut seen: Vec<String> = Vec::new();
    for (i, q) in queries.iter().enumerate() {
        let (from, line_end, _) = spans[i];
        let chars = q.chars().count();
        if chars < format.min_query_chars as usize || chars > format.max_query_chars as usize {
            problems.push(FormatProblem::BadLength(i));
            faults.push(if chars < format.min_query_chars as usize {
                line_end..line_end + 1
            } else {
                let past = q.char_indices().nth(format.max_query_chars as usize);
                let off = from + past.map_or(0, |(b, _)| b);
                off..off + 1
            });
        }
        let key = q.to_lowercase();
        if seen.contains(&key) {
            problems.push(FormatProblem::Duplicate(i));
            faults.push(from..from + 1);
            faults.push(line_end..line_end + 1);
        }
        seen.push(key);
    }
    (QueryList { queries, problems }, faults)
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
    fn instruct_markers_accept_bullets_and_numbers_and_nothing_else() {
        let text = "1. hawks playoff\n2) maria okafor\n* quantum collider\n\u{2022} zurich cafe\n- tokyo rail\n<end>";
        let lenient = QueryList::parse_with(text, &fmt(), ItemMarkers::Instruct);
        assert!(lenient.is_valid(), "{:?}", lenient.problems);
        assert_eq!(
            lenient.queries,
            [
                "hawks playoff",
                "maria okafor",
                "quantum collider",
                "zurich cafe",
                "tokyo rail"
            ]
        );
        // Quill's own format reads only the dash line; the others are bad lines.
        let strict = QueryList::parse(text, &fmt());
        assert_eq!(strict.queries, ["tokyo rail"]);
        assert!(strict.problems.contains(&FormatProblem::BadLine(1)));
        // Not markers: four digits, a number without its dot, prose, a dash without a space.
        for line in [
            "1234. too many digits",
            "12 no dot",
            "Here are queries:",
            "-x",
        ] {
            let text = format!("- aaa\n- bbb\n- ccc\n{line}\n<end>");
            let p = QueryList::parse_with(&text, &fmt(), ItemMarkers::Instruct);
            assert_eq!(p.problems, vec![FormatProblem::BadLine(4)], "{line:?}");
        }
        // A fault inside a numbered query points past its marker.
        let faults = format_faults("10. a\n<end>", &fmt(), ItemMarkers::Instruct);
        assert!(faults.iter().any(|r| r.start == 5), "{faults:?}");
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

    /// The text a fault range points at.
    fn at(text: &str, faults: &[std::ops::Range<usize>]) -> Vec<String> {
        faults.iter().map(|r| text[r.clone()].to_string()).collect()
    }

    #[test]
    fn faults_point_at_the_choice_that_broke_the_format() {
        // A bad line points past its "-"; a duplicate at its first letter and its line break.
        let text = "-ce\n- brightwater\n- baggage\n-  brightwater \n<end>";
        let faults = format_faults(text, &fmt(), ItemMarkers::Dash);
        assert_eq!(faults, vec![1..2, 31..32, 42..43]);
        assert_eq!(at(text, &faults), vec!["c", "b", " "]);
        // A line that does not start with "-" at all is blamed from its first character.
        let text = "- abc\n- abd\n<signal><end>";
        assert_eq!(
            at(text, &format_faults(text, &fmt(), ItemMarkers::Dash)),
            vec!["<"]
        );
        // Too few: the early terminator; too many: the dash that opened query 9.
        let text = "- abc\n- abd\n<end>";
        assert_eq!(format_faults(text, &fmt(), ItemMarkers::Dash), vec![12..13]);
        let many = (0..10)
            .map(|i| format!("- query {i}\n"))
            .collect::<String>()
            + "<end>";
        assert_eq!(
            format_faults(&many, &fmt(), ItemMarkers::Dash),
            vec![80..81]
        );
        assert_eq!(&many[80..82], "- ");
        // Too short: the line break after it; too long: the first character past the bound.
        let long = "x".repeat(80) + "yz";
        let text = format!("- ab\n- {long}\n- abc\n<end>");
        let faults = format_faults(&text, &fmt(), ItemMarkers::Dash);
        assert_eq!(at(&text, &faults), vec!["\n", "y"]);
        // Valid, unterminated and trailing-text lists give no fault.
        assert!(format_faults("- abc\n- abd\n- abe\n<end>", &fmt(), ItemMarkers::Dash).is_empty());
        assert!(format_faults("- abc\n- abd\n- abe", &fmt(), ItemMarkers::Dash).is_empty());
        assert!(
            format_faults(
                "- abc\n- abd\n- abe\n<end>\nmore",
                &fmt(),
                ItemMarkers::Dash
            )
            .is_empty()
        );
        // A terminator written at the end of a query line instead of on its own.
        let text = "- abc\n- abd\n- abe<end>";
        assert_eq!(format_faults(text, &fmt(), ItemMarkers::Dash), vec![17..18]);
        assert_eq!(&text[17..22], "<end>");
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap deterministic fuzz: every prefix of a messy string, including multi-byte chars.
        let messy = "- ü\u{fffd}\r\n<end>\n\n- \0- <end>- é\t\n\u{202e}";
        for end in messy.char_indices().map(|(i, _)| i) {
            let _ = QueryList::parse(&messy[..end], &fmt());
            for r in format_faults(&messy[..end], &fmt(), ItemMarkers::Dash) {
                assert!(r.start <= end && messy.is_char_boundary(r.start), "{r:?}");
            }
        }
    }
}
