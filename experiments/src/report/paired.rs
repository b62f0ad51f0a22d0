//! Paired differences with 95% intervals: what every comparison the report claims is judged by.
//!
//! Two sides of a comparison (GRPO and its warm start, an ablation and the full run, two
//! presets) are paired by seed: the cells of one seed share their data order and their warm
//! start, so the difference of a seed's two values leaves out what the seeds add to both. With
//! a single seed, they are paired by sampled draw instead: draw k of either side decodes with
//! the same sampling seeds, and each draw is one list per user. That interval covers the
//! evaluation's sampling noise only, not the seed-to-seed noise of training, and says so.

use super::results::Results;
use super::stats::Estimate;
use std::collections::BTreeMap;

/// One side of a comparison: a metric per seed (a seed's copies averaged) and, per seed, per
/// sampled draw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    pub seeds: BTreeMap<String, f64>,
    /// Seed → draw → value.
    pub draws: BTreeMap<String, BTreeMap<String, f64>>,
}

impl Sample {
    /// `metric` of `rows` (summary rows of `summary`) by seed, and of `draw_rows` (single draws
    /// of `draws`) by seed and draw.
    pub fn of(
        summary: &Results,
        rows: &[&Vec<String>],
        draws: &Results,
        draw_rows: &[&Vec<String>],
        metric: &str,
    ) -> Sample {
        let mut seeds: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for row in rows {
            if let Some(v) = summary.num(row, metric) {
                let seed = summary.get(row, "seed").unwrap_or("");
                seeds.entry(seed.to_string()).or_default().push(v);
            }
        }
        let mut per_draw: BTreeMap<String, BTreeMap<String, Vec<f64>>> = BTreeMap::new();
        for row in draw_rows {
            if let (Some(v), Some(draw)) = (draws.num(row, metric), draws.get(row, "draw")) {
                let seed = draws.get(row, "seed").unwrap_or("");
                let of_seed = per_draw.entry(seed.to_string()).or_default();
                of_seed.entry(draw.to_string()).or_default().push(v);
            }
        }
        Sample {
            seeds: seeds.into_iter().map(|(k, vs)| (k, mean(&vs))).collect(),
            draws: per_draw
                .into_iter()
                .map(|(seed, d)| (seed, d.into_iter().map(|(k, vs)| (k, mean(&vs))).collect()))
                .collect(),
        }
    }

    /// Mean and 95% interval over seeds.
    pub fn estimate(&self) -> Option<Estimate> {
        Estimate::of(&self.seeds.values().copied().collect::<Vec<_>>())
    }

    /// `f(self, other)` seed by seed and draw by draw, where both have the seed (and draw).
    pub fn combine(&self, other: &Sample, f: impl Fn(f64, f64) -> f64) -> Sample {
        Sample {
            seeds: pairs(&self.seeds, &other.seeds, &f),
            draws: self
                .draws
                .iter()
                .filter_map(|(seed, mine)| {
                    let theirs = other.draws.get(seed)?;
                    Some((seed.clone(), pairs(mine, theirs, &f)))
                })
                .collect(),
        }
    }
}

/// What a paired interval is taken over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pairing {
    /// The seeds both sides have: the whole pipeline's noise, training included.
    Seeds,
    /// The sampled draws of the one seed both sides have: the evaluation's sampling noise only.
    Draws,
    /// One seed and nothing to pair within it: no interval.
    Nothing,
}

/// Where a difference's 95% interval lies against a threshold (0 for a difference, 1 for a
/// ratio).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Above,
    Below,
    /// The interval includes the threshold: within noise.
    Straddles,
    NoInterval,
}

/// `f(a, b)` over the pairs of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    pub estimate: Estimate,
    pub pairing: Pairing,
    /// `f(a, b)` of each pair.
    pub values: Vec<f64>,
}

impl Difference {
    /// `f(a, b)` paired by seed where the two have two seeds or more in common; with one seed
    /// in common, paired by that seed's draws where both have two or more; else that seed's
    /// single value, with no interval. `None` when they have no seed in common.
    pub fn between(a: &Sample, b: &Sample, f: impl Fn(f64, f64) -> f64) -> Option<Difference> {
        let by_seed = pairs(&a.seeds, &b.seeds, &f);
        if by_seed.len() >= 2 {
            return Difference::over(&by_seed, Pairing::Seeds);
        }
        let seed = by_seed.keys().next()?;
        if let (Some(mine), Some(theirs)) = (a.draws.get(seed), b.draws.get(seed)) {
            let by_draw = pairs(mine, theirs, &f);
            if by_draw.len() >= 2 {
                return Difference::over(&by_draw, Pairing::Draws);
            }
        }
        Difference::over(&by_seed, Pairing::Nothing)
    }

    fn over(values: &BTreeMap<String, f64>, pairing: Pairing) -> Option<Self> {
        let values: Vec<f64> = values.values().copied().collect();
        Some(Difference {
            estimate: Estimate::of(&values)?,
            pairing,
            values,
        })
    }

    /// The pairs whose difference `keep` accepts.
    pub fn count(&self, keep: impl Fn(f64) -> bool) -> usize {
        self.values.iter().filter(|v| keep(**v)).count()
    }

    /// Where the 95% interval lies against `threshold`.
    pub fn side(&self, threshold: f64) -> Side {
        let e = &self.estimate;
        if self.pairing == Pairing::Nothing || e.n < 2 {
            Side::NoInterval
        } else if e.low() > threshold {
            Side::Above
        } else if e.high() < threshold {
            Side::Below
        } else {
            Side::Straddles
        }
    }

    /// `+0.0060 ± 0.0025 over 3 seeds`, `+0.0050 ± 0.0018 over 4 draws of one seed`,
    /// `+0.0050 (one seed: no interval)`.
    pub fn show(&self, digits: usize) -> String {
        let e = &self.estimate;
        let value = format!("{:+.*}", digits, e.mean);
        match self.pairing {
            Pairing::Nothing => format!("{value} (one seed: no interval)"),
            _ => format!("{value} ± {:.*} {}", digits, e.half_width, self.over_what()),
        }
    }

    /// A ratio: `4.00x ± 0.00 over 3 seeds`.
    pub fn show_ratio(&self) -> String {
        let e = &self.estimate;
        match self.pairing {
            Pairing::Nothing => format!("{:.2}x (one seed: no interval)", e.mean),
            _ => format!("{:.2}x ± {:.2} {}", e.mean, e.half_width, self.over_what()),
        }
    }

    /// `over 3 seeds`, `over 4 draws of one seed`.
    fn over_what(&self) -> String {
        match self.pairing {
            Pairing::Seeds => format!("over {}", super::count(self.estimate.n, "seed")),
            Pairing::Draws => format!("over {} of one seed", super::count(self.estimate.n, "draw")),
            Pairing::Nothing => "over one seed".into(),
        }
    }
}

/// `f(mine, theirs)` for each key both have; non-finite results (a ratio to 0) are left out.
fn pairs(
    mine: &BTreeMap<String, f64>,
    theirs: &BTreeMap<String, f64>,
    f: impl Fn(f64, f64) -> f64,
) -> BTreeMap<String, f64> {
    mine.iter()
        .filter_map(|(k, v)| Some((k.clone(), f(*v, *theirs.get(k)?))))
        .filter(|(_, x)| x.is_finite())
        .collect()
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(seeds: &[(&str, f64)], draws: &[(&str, &str, f64)]) -> Sample {
        let mut s = Sample {
            seeds: seeds.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            ..Sample::default()
        };
        for (seed, draw, v) in draws {
            s.draws
                .entry(seed.to_string())
                .or_default()
                .insert(draw.to_string(), *v);
        }
        s
    }

    #[test]
    fn seeds_pair_first_and_an_interval_that_includes_zero_straddles() {
        let a = sample(&[("1", 0.061), ("2", 0.063), ("3", 0.084)], &[]);
        let b = sample(&[("1", 0.060), ("2", 0.062), ("3", 0.064)], &[]);
        let d = Difference::between(&a, &b, |x, y| x - y).unwrap();
        assert_eq!((d.pairing, d.count(|x| x > 0.0)), (Pairing::Seeds, 3));
        // Higher on every seed, but 0.0073 ± 0.0273 includes zero.
        assert_eq!(d.side(0.0), Side::Straddles);
        assert_eq!(d.show(4), "+0.0073 ± 0.0273 over 3 seeds");
    }

    #[test]
    fn one_seed_pairs_by_draw_or_has_no_interval() {
        let draws_a = [("7", "1", 0.064), ("7", "2", 0.066), ("7", "3", 0.065)];
        let draws_b = [("7", "1", 0.058), ("7", "2", 0.060), ("7", "3", 0.061)];
        let a = sample(&[("7", 0.065)], &draws_a);
        let b = sample(&[("7", 0.0597)], &draws_b);
        let d = Difference::between(&a, &b, |x, y| x - y).unwrap();
        assert_eq!((d.pairing, d.estimate.n), (Pairing::Draws, 3));
        assert_eq!(d.side(0.0), Side::Above);
        assert!(
            d.show(4).ends_with("over 3 draws of one seed"),
            "{}",
            d.show(4)
        );
        let bare = |s: &Sample| {
            sample(
                &s.seeds
                    .iter()
                    .map(|(k, v)| (k.as_str(), *v))
                    .collect::<Vec<_>>(),
                &[],
            )
        };
        let d = Difference::between(&bare(&a), &bare(&b), |x, y| x - y).unwrap();
        assert_eq!(
            (d.pairing, d.side(0.0)),
            (Pairing::Nothing, Side::NoInterval)
        );
        assert_eq!(d.show(4), "+0.0053 (one seed: no interval)");
        // No seed in common: nothing to compare.
        assert!(Difference::between(&a, &sample(&[("8", 0.1)], &[]), |x, y| x - y).is_none());
    }

    #[test]
    fn combined_samples_pair_seed_by_seed_and_draw_by_draw() {
        let a = sample(
            &[("1", 3.0), ("2", 5.0)],
            &[("1", "1", 1.0), ("1", "2", 2.0)],
        );
        let b = sample(&[("1", 1.0), ("3", 1.0)], &[("1", "2", 1.5)]);
        let c = a.combine(&b, |x, y| x - y);
        assert_eq!(c, sample(&[("1", 2.0)], &[("1", "2", 0.5)]));
    }
}
