//! How large the noise is: the report states the seeds and the sampled lists per user its
//! figures rest on, the measured seed-to-seed and draw-to-draw spread of its headline figure,
//! the rule its shapes are judged by, and the spread it cannot measure (between machines).

use super::analysis::{Analysis, label};
use super::page::Block;
use super::paired::Sample;
use super::results::DRAW;
use super::stats::Estimate;
use std::collections::{BTreeMap, BTreeSet};

/// The figure whose spread is stated: the shapes' metric on the final policy's sampled lists.
const METRIC: &str = "recall@10";

/// The noise section: what the figures rest on and how much they move.
pub fn noise_blocks(a: &Analysis) -> Vec<Block> {
    let mut spread = vec![format!("{}; {}.", seeds(a), samples_per_user(a))];
    if let Some(policy) = a.final_policy() {
        let filter = [
            ("policy", policy.as_str()),
            ("decoding", "sampled"),
            ("best_of_n", "1"),
        ];
        let sample = a.sample(&[], &filter, METRIC);
        spread.push(seed_spread(&label(&policy), &sample));
        spread.push(draw_spread(&sample));
    }
    vec![
        Block::Heading("How large the noise is".into()),
        Block::Paragraph(spread.join(" ")),
        Block::Paragraph(
            "Every comparison a shape claims is judged by the 95% interval (Student's t) of a \
             paired difference: paired by seed, or, with a single seed, by sampled draw (draw k \
             of either side decodes with the same sampling seeds), an interval that covers the \
             evaluation's sampling noise but not the seed-to-seed noise of training. A shape \
             holds (\"yes\") only where those intervals exclude zero on the paper's side; \
             \"within noise\" means an interval includes zero, \"one seed: no interval\" that \
             there was nothing to pair. Figures also differ between machines of the same kind: \
             floating-point sums take different SIMD paths on different CPUs, which changes \
             low-order bits and, through them, sampled tokens and whole lists. That spread is \
             not measured here, so a small effect must exceed it too before it counts as \
             reproduced: an effect not well clear of the seed-to-seed spread may not reproduce \
             on another machine even where its interval excludes zero."
                .into(),
        ),
    ]
}

/// `3 seeds (1, 7, 42)`.
fn seeds(a: &Analysis) -> String {
    let r = &a.results;
    let mut seeds: Vec<&str> = r
        .rows
        .iter()
        .filter_map(|row| r.get(row, "seed"))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    seeds.sort_by_key(|s| (s.parse::<u64>().unwrap_or(u64::MAX), s.to_string()));
    format!(
        "{} ({})",
        super::count(seeds.len(), "seed"),
        seeds.join(", ")
    )
}

/// `8 sampled lists per user`, or the values by cell where the sweep varies them. A cell
/// draws as many lists per user as its largest best-of-N (the curve always ends at the
/// draws), or as it has single-draw rows.
fn samples_per_user(a: &Analysis) -> String {
    let mut by_cell: BTreeMap<&str, u64> = BTreeMap::new();
    for (table, column) in [(&a.results, "best_of_n"), (&a.draws, DRAW)] {
        for row in &table.rows {
            let sampled = table.get(row, "decoding") == Some("sampled");
            if let (true, Some(n)) = (sampled, table.num(row, column)) {
                let cell = by_cell
                    .entry(table.get(row, "cell").unwrap_or(""))
                    .or_default();
                *cell = (*cell).max(n as u64);
            }
        }
    }
    let values: BTreeSet<u64> = by_cell.into_values().collect();
    let shown: Vec<String> = values.iter().map(u64::to_string).collect();
    match values.len() {
        0 => "no sampled lists".into(),
        1 => format!(
            "{} per user on the test split",
            super::count(
                values.into_iter().next().unwrap_or(0) as usize,
                "sampled list"
            )
        ),
        _ => format!(
            "{} sampled lists per user on the test split, by cell (the best-of-N curve reads the \
             cells with the most)",
            shown.join(" or ")
        ),
    }
}

/// The standard deviation over seeds of the headline figure.
fn seed_spread(policy: &str, sample: &Sample) -> String {
    let values: Vec<f64> = sample.seeds.values().copied().collect();
    match standard_deviation(&values) {
        Some(sd) => {
            let low = values.iter().copied().fold(f64::INFINITY, f64::min);
            let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            format!(
                "From seed to seed (each retrained from scratch), {policy}'s sampled R@10 at the \
                 settings held above has a standard deviation of {sd:.4} over {} ({low:.4} to \
                 {high:.4}).",
                super::count(values.len(), "seed")
            )
        }
        None => format!(
            "With one seed, the seed-to-seed spread of {policy}'s sampled R@10 is not measured."
        ),
    }
}

/// The standard deviation over single draws (one sampled list per user each) of the headline
/// figure, averaged over seeds.
fn draw_spread(sample: &Sample) -> String {
    let per_seed: Vec<(f64, usize)> = sample
        .draws
        .values()
        .filter_map(|draws| {
            let values: Vec<f64> = draws.values().copied().collect();
            Some((standard_deviation(&values)?, values.len()))
        })
        .collect();
    let Some(sd) = Estimate::of(&per_seed.iter().map(|(sd, _)| *sd).collect::<Vec<_>>()) else {
        return "The table has no single-draw rows, so the draw-to-draw spread is not shown."
            .into();
    };
    let draws = per_seed.iter().map(|(_, n)| *n).max().unwrap_or(1);
    format!(
        "From one sampled draw to another (one list per user each, same policy and seed), it \
         has a standard deviation of {:.4} (mean over {} of {draws} draws each); a sampled row \
         averages its {draws} draws, so its own draw-to-draw noise is about {:.4}.",
        sd.mean,
        super::count(per_seed.len(), "seed"),
        sd.mean / (draws as f64).sqrt()
    )
}

/// The sample standard deviation; `None` under two values.
fn standard_deviation(values: &[f64]) -> Option<f64> {
    let n = values.len();
    if n < 2 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    Some((values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt())
}
