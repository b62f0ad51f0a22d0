//! Dataset statistics: what `quill data stats` prints and `quill run` writes to `stats.json`.

use super::{Split, SplitFractions, UserRecord};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// Summary of a distribution of counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Distribution {
    pub mean: f64,
    pub min: usize,
    pub p10: usize,
    pub p50: usize,
    pub p90: usize,
    pub max: usize,
}

impl Distribution {
    /// From unsorted values (nearest-rank percentiles).
    pub fn of(mut values: Vec<usize>) -> Self {
        if values.is_empty() {
            return Self::default();
        }
        values.sort_unstable();
        let pct =
            |p: f64| values[((p * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1];
        Distribution {
            mean: values.iter().sum::<usize>() as f64 / values.len() as f64,
            min: values[0],
            p10: pct(0.1),
            p50: pct(0.5),
            p90: pct(0.9),
            max: values[values.len() - 1],
        }
    }
}

/// Statistics of a set of users.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DataStats {
    pub users: usize,
    pub users_per_split: BTreeMap<String, usize>,
    pub signals: usize,
    pub signals_per_kind: BTreeMap<String, usize>,
    /// Share of labelled signals that are noise (`None` when no signal has a label).
    pub noise_rate: Option<f64>,
    pub labelled_signals: usize,
    /// Share of users with 1-3 history events.
    pub cold_user_share: f64,
    pub history_length: Distribution,
    pub future_clicks: Distribution,
    pub users_without_future_clicks: usize,
}

/// Accumulates statistics one user at a time, so a stream of any size fits in memory.
#[derive(Default)]
pub struct StatsBuilder {
    stats: DataStats,
    noise: usize,
    cold: usize,
    history: Vec<usize>,
    future: Vec<usize>,
}

impl StatsBuilder {
    pub fn add(&mut self, user: &UserRecord, splits: &SplitFractions) {
        let s = &mut self.stats;
        s.users += 1;
        *s.users_per_split
            .entry(splits.split_of(&user.id).as_str().to_string())
            .or_default() += 1;
        s.signals += user.history.len();
        for sig in &user.history {
            *s.signals_per_kind
                .entry(sig.kind.as_str().to_string())
                .or_default() += 1;
            if let Some(noise) = sig.noise {
                s.labelled_signals += 1;
                self.noise += noise as usize;
            }
        }
        if (1..=3).contains(&user.history.len()) {
            self.cold += 1;
        }
        if user.future_clicks.is_empty() {
            s.users_without_future_clicks += 1;
        }
        self.history.push(user.history.len());
        self.future.push(user.future_clicks.len());
    }

    pub fn finish(mut self) -> DataStats {
        let s = &mut self.stats;
        for split in Split::ALL {
            s.users_per_split
                .entry(split.as_str().to_string())
                .or_default();
        }
        s.noise_rate =
            (s.labelled_signals > 0).then(|| self.noise as f64 / s.labelled_signals as f64);
        s.cold_user_share = if s.users == 0 {
            0.0
        } else {
            self.cold as f64 / s.users as f64
        };
        s.history_length = Distribution::of(self.history);
        s.future_clicks = Distribution::of(self.future);
        self.stats
    }
}

impl DataStats {
    /// Statistics of a collection of users.
    pub fn of<'a>(
        users: impl IntoIterator<Item = &'a UserRecord>,
        splits: &SplitFractions,
    ) -> Self {
        let mut b = StatsBuilder::default();
        for u in users {
            b.add(u, splits);
        }
        b.finish()
    }
}

impl fmt::Display for DataStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let split = |name: &str| self.users_per_split.get(name).copied().unwrap_or(0);
        writeln!(
            f,
            "users            {} (train {}, valid {}, test {})",
            self.users,
            split("train"),
            split("valid"),
            split("test")
        )?;
        writeln!(f, "signals          {}", self.signals)?;
        for (kind, n) in &self.signals_per_kind {
            writeln!(
                f,
                "  {kind:<14} {n:>9} ({:.1}%)",
                100.0 * *n as f64 / self.signals.max(1) as f64
            )?;
        }
        match self.noise_rate {
            Some(r) => writeln!(
                f,
                "noise rate       {:.2}% of {} labelled signals",
                100.0 * r,
                self.labelled_signals
            )?,
            None => writeln!(f, "noise rate       unknown (no labels)")?,
        }
        writeln!(
            f,
            "cold users       {:.1}% (1-3 events)",
            100.0 * self.cold_user_share
        )?;
        let d = &self.history_length;
        writeln!(
            f,
            "history length   mean {:.1}  min {}  p10 {}  p50 {}  p90 {}  max {}",
            d.mean, d.min, d.p10, d.p50, d.p90, d.max
        )?;
        let d = &self.future_clicks;
        writeln!(
            f,
            "future clicks    mean {:.2}  min {}  p10 {}  p50 {}  p90 {}  max {}",
            d.mean, d.min, d.p10, d.p50, d.p90, d.max
        )?;
        write!(
            f,
            "users without future clicks: {}",
            self.users_without_future_clicks
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let d = Distribution::of((1..=10).collect());
        assert_eq!((d.min, d.p10, d.p50, d.p90, d.max), (1, 1, 5, 9, 10));
        assert_eq!(d.mean, 5.5);
        assert_eq!(Distribution::of(vec![]), Distribution::default());
    }
}
