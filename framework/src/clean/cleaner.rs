//! `Cleaner`: trains the noise classifier, scores signals, and filters users' histories.

use super::config::CleanerConfig;
use super::features::{SparseFeatures, dense_batch, signal_features};
use super::metrics::{NoiseMetrics, noise_metrics};
use super::model::{NoiseNet, fit};
use crate::config::Section;
use crate::data::{Signal, UserRecord};
use crate::error::{Error, Result};
use burn::module::Module;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// The dotted config path errors name; experiments declare the section as `[cleaner]`.
pub(super) const SECTION: &str = "cleaner";

/// A trained noise classifier on its inference device.
#[derive(Debug)]
pub struct Cleaner {
    /// Without autodiff: scoring never needs gradients.
    pub(super) net: NoiseNet,
    pub(super) config: CleanerConfig,
    pub(super) device: Device,
}

/// What training did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    /// Mean cross-entropy of each epoch (over its records, in nats).
    pub epoch_losses: Vec<f32>,
    /// Distinct training records.
    pub records: u64,
    /// Of them, labelled noise.
    pub noise_records: u64,
    /// Records passed through the model, over all epochs.
    pub records_seen: u64,
    /// Wall-clock seconds, featurisation included.
    pub seconds: f64,
}

impl Cleaner {
    /// Trains a cleaner on labelled signals. Every record needs `noise: Some(_)` and both
    /// classes must appear; the same records, config and seed give the same cleaner on CPU.
    pub fn train(
        records: &[Signal],
        cfg: &CleanerConfig,
        seed: u64,
    ) -> Result<(Cleaner, TrainReport)> {
        cfg.validate(SECTION)?;
        let labels = labels_of(records)?;
        let noise_records = labels.iter().filter(|&&n| n).count();
        if noise_records == 0 || noise_records == labels.len() {
            return Err(Error::field(
                SECTION,
                format!(
                    "training records need both classes: got {noise_records} noise and {} clean \
                     records; a classifier cannot learn a boundary from one class",
                    labels.len() - noise_records
                ),
            ));
        }
        let start = Instant::now();
        let features: Vec<SparseFeatures> = records
            .iter()
            .map(|s| signal_features(s, cfg.buckets))
            .collect();
        let train_device = crate::device::training_device(cfg.device)?;
        let net = NoiseNet::new(
            cfg.buckets as usize,
            cfg.hidden as usize,
            seed,
            &train_device,
        );
        let records_seen = records.len() as u64 * u64::from(cfg.epochs);
        let bar = crate::progress::bar(records_seen, "cleaner");
        let (net, epoch_losses) = fit(net, &features, &labels, cfg, seed, &train_device, |n| {
            bar.inc(n as u64)
        })?;
        bar.finish_and_clear();
        let cleaner = Cleaner {
            net: net.valid(),
            config: cfg.clone(),
            device: crate::device::device(cfg.device)?,
        };
        let report = TrainReport {
            epoch_losses,
            records: records.len() as u64,
            noise_records: noise_records as u64,
            records_seen,
            seconds: start.elapsed().as_secs_f64(),
        };
        Ok((cleaner, report))
    }

    /// The config it was trained with (after `load`, the saved one).
    pub fn config(&self) -> &CleanerConfig {
        &self.config
    }

    /// Signals with P(noise) above this are dropped.
    pub fn threshold(&self) -> f64 {
        self.config.threshold
    }

    /// Changes the drop threshold without retraining (e.g. to trade recall for precision).
    pub fn set_threshold(&mut self, threshold: f64) -> Result<()> {
        if !(0.0..=1.0).contains(&threshold) {
            return Err(Error::field(
                format!("{SECTION}.threshold"),
                format!("value {threshold} is out of range: valid values are 0 ..= 1"),
            ));
        }
        self.config.threshold = threshold;
        Ok(())
    }

    /// P(noise) of each signal, in order, scored in batches of `batch_size`.
    pub fn noise_probabilities(&self, signals: &[Signal]) -> Vec<f32> {
        self.score(signals.iter())
    }

    /// P(noise) of borrowed signals, featurised one batch at a time so that scoring many
    /// users neither clones their signals nor holds all their features at once.
    fn score<'a>(&self, signals: impl Iterator<Item = &'a Signal>) -> Vec<f32> {
        let batch = (self.config.batch_size as usize).max(1);
        let mut probs = Vec::new();
        let mut features: Vec<SparseFeatures> = Vec::with_capacity(batch);
        let mut signals = signals.peekable();
        while signals.peek().is_some() {
            features.clear();
            features.extend(
                signals
                    .by_ref()
                    .take(batch)
                    .map(|s| signal_features(s, self.config.buckets)),
            );
            let rows: Vec<&SparseFeatures> = features.iter().collect();
            let x_bf = dense_batch(&rows, self.config.buckets as usize, &self.device);
            // Reading an f32 tensor back as f32 cannot fail whatever the input; a failure here
            // is a bug in Burn or Quill, not bad data.
            probs.extend(
                self.net
                    .noise_probabilities(x_bf)
                    .expect("f32 probabilities read back as f32"),
            );
        }
        probs
    }

    /// The user with noise dropped from the history (see [`keep_mask`] for the rule).
    pub fn clean_user(&self, user: &UserRecord) -> UserRecord {
        let probs = self.noise_probabilities(&user.history);
        filtered(user, &keep_mask(&probs, self.config.threshold))
    }

    /// `clean_user` over many users, scoring all their signals in shared batches.
    pub fn clean_users(&self, users: &[UserRecord]) -> Vec<UserRecord> {
        let probs = self.score(users.iter().flat_map(|u| &u.history));
        let mut offset = 0;
        users
            .iter()
            .map(|user| {
                let end = offset + user.history.len();
                let cleaned =
                    filtered(user, &keep_mask(&probs[offset..end], self.config.threshold));
                offset = end;
                cleaned
            })
            .collect()
    }

    /// Precision, recall and F1 of dropping (P(noise) > threshold) against the labels. Records
    /// without a label are skipped and counted in `unlabelled`.
    pub fn evaluate(&self, records: &[Signal]) -> NoiseMetrics {
        let threshold = self.config.threshold;
        let probs = self.score(records.iter().filter(|s| s.noise.is_some()));
        let labels = records.iter().filter_map(|s| s.noise);
        let mut metrics = noise_metrics(
            probs
                .iter()
                .zip(labels)
                .map(|(&p, noise)| (f64::from(p) > threshold, noise)),
        );
        let labelled = metrics.noise_support + metrics.clean_support;
        metrics.unlabelled = records.len() as u64 - labelled;
        metrics
    }
}

/// Which signals to keep: those with P(noise) ≤ threshold — but never none. If every signal of
/// a non-empty history would go, the one with the lowest P(noise) stays: an empty history gives
/// an empty prompt, from which the policy can only guess generic queries, and the reward and
/// evaluation stages then have nothing user-specific to work with. One doubtful signal is worth
/// more than none.
pub fn keep_mask(probs: &[f32], threshold: f64) -> Vec<bool> {
    // `<=` is false for NaN, so a NaN score counts as noise rather than slipping through.
    let mut keep: Vec<bool> = probs.iter().map(|&p| f64::from(p) <= threshold).collect();
    if !keep.is_empty() && !keep.iter().any(|&k| k) {
        // total_cmp orders NaN after every number, so a real score is preferred.
        if let Some((best, _)) = probs.iter().enumerate().min_by(|a, b| a.1.total_cmp(b.1)) {
            keep[best] = true;
        }
    }
    keep
}

fn filtered(user: &UserRecord, keep: &[bool]) -> UserRecord {
    let history = user
        .history
        .iter()
        .zip(keep)
        .filter(|(_, k)| **k)
        .map(|(s, _)| s.clone())
        .collect();
    UserRecord {
        history,
        ..user.clone()
    }
}

/// The noise label of every record, or an error naming the first unlabelled one.
fn labels_of(records: &[Signal]) -> Result<Vec<bool>> {
    if records.is_empty() {
        return Err(Error::field(
            SECTION,
            "no training records: the cleaner needs labelled signals to learn from",
        ));
    }
    records
        .iter()
        .enumerate()
        .map(|(i, s)| {
            s.noise.ok_or_else(|| {
                Error::field(
                    format!("{SECTION} training record {i}"),
                    format!(
                        "signal {i} (user {:?}, text {:?}) has no noise label; the cleaner trains \
                         only on labelled records",
                        s.user, s.text
                    ),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_mask_keeps_low_scores_and_never_empties_a_history() {
        assert_eq!(keep_mask(&[0.1, 0.9, 0.5], 0.5), vec![true, false, true]);
        assert_eq!(keep_mask(&[0.8, 0.6, 0.9], 0.5), vec![false, true, false]);
        assert_eq!(keep_mask(&[f32::NAN, 0.7], 0.5), vec![false, true]);
        assert!(keep_mask(&[], 0.5).is_empty());
    }

    #[test]
    fn training_rejects_unlabelled_empty_and_one_class_sets() {
        let s = |text: &str, noise: Option<bool>| Signal {
            user: "u7".into(),
            timestamp: 0,
            kind: crate::data::SignalKind::Search,
            text: text.into(),
            url: None,
            domain: None,
            noise,
        };
        let cfg = CleanerConfig::default();
        let err = Cleaner::train(
            &[s("a", Some(true)), s("b", Some(false)), s("mystery", None)],
            &cfg,
            0,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("record 2") && err.contains("mystery"), "{err}");
        let err = Cleaner::train(&[s("a", Some(false)), s("b", Some(false))], &cfg, 0)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("both classes") && err.contains("0 noise and 2 clean"),
            "{err}"
        );
        assert!(
            Cleaner::train(&[], &cfg, 0)
                .unwrap_err()
                .to_string()
                .contains("no training records")
        );
        let bad = CleanerConfig {
            threshold: 1.5,
            ..cfg
        };
        assert!(
            Cleaner::train(&[s("a", Some(true))], &bad, 0)
                .unwrap_err()
                .to_string()
                .starts_with("cleaner.threshold")
        );
    }
}
