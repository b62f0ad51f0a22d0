//! The `[cleaner]` section of an experiment: the noise classifier that filters raw signals.

use crate::config::Check;
use crate::device::DeviceKind;
use std::path::PathBuf;

crate::config_section! {
    /// The `[cleaner]` section: a small hashed-feature classifier (the paper's lightweight RoBERTa
    /// filter, scaled down) that drops malformed or irrelevant behaviour records.
    pub struct CleanerConfig {
        /// Run the cleaning stage at all. Off = every signal reaches the prompt (an ablation).
        pub enabled: bool = true, Check::Any;
        /// Drop a signal when its predicted probability of being noise exceeds this.
        pub threshold: f64 = 0.5, Check::Range { min: 0.0, max: 1.0 };
        /// Hashed feature buckets (input width). More buckets = fewer collisions, more weights.
        pub buckets: u32 = 4096, Check::Range { min: 64.0, max: 1_048_576.0 };
        /// Width of the hidden layer.
        pub hidden: u32 = 64, Check::Range { min: 1.0, max: 65_536.0 };
        /// Passes over the training records.
        pub epochs: u32 = 4, Check::Range { min: 1.0, max: 1000.0 };
        /// Records per optimiser step.
        pub batch_size: u32 = 256, Check::Range { min: 1.0, max: 1_000_000.0 };
        /// AdamW learning rate.
        pub learning_rate: f64 = 3e-3, Check::Range { min: 1e-7, max: 1.0 };
        /// Users of the train split whose labelled records train the cleaner.
        pub train_users: u64 = 1500, Check::Range { min: 1.0, max: 100_000_000.0 };
        /// A saved cleaner directory to load instead of training (empty = train a new one).
        pub load: PathBuf = PathBuf::new(), Check::Any;
        /// Where the classifier runs.
        pub device: DeviceKind = DeviceKind::Cpu, Check::Any;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Section;

    #[test]
    fn defaults_validate_and_bad_values_name_the_field() {
        let mut cfg = CleanerConfig::default();
        assert!(cfg.validate("cleaner").is_ok());
        cfg.buckets = 8;
        let err = cfg.validate("cleaner").unwrap_err().to_string();
        assert!(err.starts_with("cleaner.buckets: value 8"), "{err}");
    }

    #[test]
    fn toml_fills_defaults() {
        let cfg: CleanerConfig = toml::from_str("threshold = 0.7\ndevice = \"cpu\"\n").unwrap();
        assert_eq!(cfg.threshold, 0.7);
        assert_eq!(cfg.buckets, 4096);
        assert_eq!(cfg.device, DeviceKind::Cpu);
    }
}
