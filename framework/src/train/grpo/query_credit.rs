//! Per-query credit: each query of a list gets, on top of the list's advantage, how much more
//! than the list's other queries it adds to the composite reward.
//!
//! A list's reward is shared by all of its tokens, so a list that covers the user's interests
//! with two queries and pads itself with three invented ones credits the inventions as much as
//! the two that earned the coverage. Here query `j` of a list `L` contributes
//! `c_j = R(L) - R(L without j)` (leave-one-out, scored by the same composite reward), and its
//! tokens get `A + weight * (c_j - mean_k c_k)`: centred within the list, so the list's total
//! credit stays its advantage `A`, and a list-wide effect (dropping any query of a
//! three-query list breaks the minimum count) cancels. Tokens outside query lines (`<end>`, a
//! malformed line) keep `A`. This is credit assignment by a heuristic, not an unbiased policy
//! gradient; the weight (`[grpo] query_credit`, 0 = off) says how far to trust it.
//!
//! Leave-one-out lists are rendered anew from the parsed queries, and so is the full list they
//! are compared with: a malformed line outside the queries then weighs on neither side.

use crate::data::UserRecord;
use crate::error::{Error, Result};
use crate::reward::CompositeReward;
use crate::text::PolicyTokenizer;
use crate::text::query_list::{ItemMarkers, QueryList, QueryListFormat, TERMINATOR};

/// For each line of a completion's text, the index of the query the parser reads from it
/// (`None` for the terminator, blank or malformed lines and anything after the terminator):
/// the rules of `QueryList::parse_with` and `markers`, line for line. (A chat layout's end of
/// turn decodes on the last query's line and so shares its credit.)
pub fn line_queries(text: &str, markers: ItemMarkers) -> Vec<Option<usize>> {
    let mut out = Vec::new();
    let (mut next, mut terminated) = (0, false);
    for line in text.lines() {
        let line = line.trim();
        if !terminated && line == TERMINATOR {
            terminated = true;
        }
        if !terminated && markers.item(line).is_some() {
            out.push(Some(next));
            next += 1;
        } else {
            out.push(None);
        }
    }
    out
}

/// For each token of `ids`, the query (see [`line_queries`]) of the line its text starts on:
/// the number of newlines decoded before it. Decoding prefixes, not single tokens, keeps
/// multi-byte characters split across tokens intact.
pub fn token_queries(
    tokenizer: &PolicyTokenizer,
    ids: &[u32],
    markers: ItemMarkers,
) -> Vec<Option<usize>> {
    let lines = line_queries(&tokenizer.decode(ids), markers);
    (0..ids.len())
        .map(|k| {
            let line = tokenizer.decode(&ids[..k]).matches('\n').count();
            lines.get(line).copied().flatten()
        })
        .collect()
}

/// Centred leave-one-out contributions `c_j - mean_k c_k` of every query of every list, scored
/// in one batch; a list of fewer than two queries gets zeros (nothing to compare).
pub fn leave_one_out(
    composite: &CompositeReward,
    users: &[&UserRecord],
    lists: &[&QueryList],
    format: &QueryListFormat,
) -> Result<Vec<Vec<f32>>> {
    if users.len() != lists.len() {
        let msg = format!("{} users for {} lists", users.len(), lists.len());
        return Err(Error::model("query credit", msg));
    }
    // Each list, then each of its leave-one-out variants, flattened into one batch.
    let parse = |queries: &[String]| QueryList::parse(&QueryList::render(queries), format);
    let mut variants: Vec<(usize, QueryList)> = Vec::new();
    for (i, list) in lists.iter().enumerate() {
        if list.queries.len() < 2 {
            continue;
        }
        variants.push((i, parse(&list.queries)));
        for j in 0..list.queries.len() {
            let mut fewer = list.queries.clone();
            fewer.remove(j);
            variants.push((i, parse(&fewer)));
        }
    }
    let items: Vec<(&UserRecord, &QueryList)> =
        variants.iter().map(|(i, l)| (users[*i], l)).collect();
    let scores = composite.score_batch(&items)?;
    let mut out: Vec<Vec<f32>> = lists.iter().map(|l| vec![0.0; l.queries.len()]).collect();
    let mut at = 0;
    for (i, list) in lists.iter().enumerate() {
        let k = list.queries.len();
        if k < 2 {
            continue;
        }
        let full = scores[at].composite;
        let c: Vec<f32> = (0..k)
            .map(|j| full - scores[at + 1 + j].composite)
            .collect();
        let mean = c.iter().sum::<f32>() / k as f32;
        out[i] = c.iter().map(|v| v - mean).collect();
        at += k + 1;
    }
    Ok(out)
}

/// Row-major `[rows, width]` token advantages: `advantages[r]` everywhere in row `r`, plus
/// `weight * credit[r][q]` on tokens of query `q` (`token_query[r]`, as long as the row's
/// completion; positions past it are padding and keep the row's advantage).
pub fn token_advantages(
    advantages: &[f32],
    credit: &[Vec<f32>],
    token_query: &[Vec<Option<usize>>],
    weight: f32,
    width: usize,
) -> Vec<f32> {
    let mut out = Vec::with_capacity(advantages.len() * width);
    for (r, &a) in advantages.iter().enumerate() {
        out.extend((0..width).map(|k| {
            let query = token_query[r].get(k).copied().flatten();
            let extra = query.and_then(|q| credit[r].get(q)).copied().unwrap_or(0.0);
            a + weight * extra
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_map_to_queries_as_the_parser_reads_them() {
        let text = "- hawks trade\nnot a query\n\n  - zephyr air \n<end>\n- after the end";
        assert_eq!(
            line_queries(text, ItemMarkers::Dash),
            vec![Some(0), None, None, Some(1), None, None]
        );
        // An instruct model's numbered lines are queries where its replies are parsed so.
        let numbered = "1. hawks trade\n- zephyr air\nnot a query";
        assert_eq!(
            line_queries(numbered, ItemMarkers::Instruct),
            vec![Some(0), Some(1), None]
        );
        assert_eq!(
            line_queries(numbered, ItemMarkers::Dash),
            vec![None, Some(0), None]
        );
        let parsed = QueryList::parse(text, &QueryListFormat::default());
        assert_eq!(parsed.queries, vec!["hawks trade", "zephyr air"]);
        assert!(line_queries("", ItemMarkers::Dash).is_empty());
    }

    #[test]
    fn tokens_map_to_the_query_of_their_line() {
        let texts = vec!["- hawks trade\n- zephyr air\n".to_string(); 20];
        let tok = PolicyTokenizer::train(&texts, 300).unwrap();
        let mut ids = tok.encode_plain("- hawks trade\n- zephyr air\n");
        ids.push(tok.end_id());
        let of = token_queries(&tok, &ids, ItemMarkers::Dash);
        assert_eq!(of.len(), ids.len());
        let text_of = |q: Option<usize>| {
            let picked: Vec<u32> = (ids.iter().zip(&of))
                .filter(|(_, o)| **o == q)
                .map(|(id, _)| *id)
                .collect();
            tok.decode(&picked)
        };
        assert!(text_of(Some(0)).contains("hawks trade"), "{of:?}");
        assert!(text_of(Some(1)).contains("zephyr air"), "{of:?}");
        assert!(!text_of(Some(0)).contains("zephyr"), "{of:?}");
        assert_eq!(of.last(), Some(&None), "the terminator is no query");
    }

    #[test]
    fn token_advantages_add_the_weighted_credit_on_query_tokens_only() {
        // Row 0: tokens of query 0, query 1, then a non-query token, padded to width 5.
        let token_query = vec![vec![Some(0), Some(0), Some(1), None], vec![Some(0)]];
        let credit = vec![vec![0.5, -0.5], vec![0.0]];
        let adv = token_advantages(&[1.0, -2.0], &credit, &token_query, 0.5, 5);
        assert_eq!(
            adv,
            vec![1.25, 1.25, 0.75, 1.0, 1.0, -2.0, -2.0, -2.0, -2.0, -2.0]
        );
        // Weight 0 is the list's advantage everywhere.
        let plain = token_advantages(&[1.0, -2.0], &credit, &token_query, 0.0, 2);
        assert_eq!(plain, vec![1.0, 1.0, -2.0, -2.0]);
    }
}
