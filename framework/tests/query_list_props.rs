//! Property tests of the query-list parser shared by the structural reward and evaluation:
//! it never panics on any input, and every list rendered from valid queries parses back valid.

use proptest::prelude::*;
use quill::text::query_list::{QueryList, QueryListFormat};

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parse_never_panics_and_reports_problems_consistently(text in any::<String>()) {
        let parsed = QueryList::parse(&text, &QueryListFormat::default());
        prop_assert_eq!(parsed.is_valid(), parsed.problems.is_empty());
    }

    #[test]
    fn line_soup_never_panics(lines in prop::collection::vec("(- )?[a-z <>/éü\\-]{0,12}|<end>", 0..14)) {
        let _ = QueryList::parse(&lines.join("\n"), &QueryListFormat::default());
    }

    #[test]
    fn rendered_distinct_queries_round_trip(raw in prop::collection::btree_set("[a-z]{3,10}( [a-z]{3,10}){0,3}", 3..=8)) {
        let queries: Vec<String> = raw.into_iter().collect();
        let parsed = QueryList::parse(&QueryList::render(&queries), &QueryListFormat::default());
        prop_assert!(parsed.is_valid(), "{:?}", parsed.problems);
        prop_assert_eq!(parsed.queries, queries);
    }
}
