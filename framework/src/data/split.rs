//! Deterministic train/valid/test split by a hash of the user id.
//!
//! The split depends on the id alone (not on the seed or the order users arrive in), so a user
//! lands in the same split in every experiment, every loader and every shard of a sweep.

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Valid,
    Test,
}

impl Split {
    pub const ALL: [Split; 3] = [Split::Train, Split::Valid, Split::Test];

    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Valid => "valid",
            Split::Test => "test",
        }
    }
}

/// Fractions of users in the train and valid splits; the test split takes the rest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SplitFractions {
    pub train: f64,
    pub valid: f64,
}

impl SplitFractions {
    /// Which split a user id falls in.
    pub fn split_of(&self, user_id: &str) -> Split {
        // 2^53 buckets keep the fractions exact to float precision.
        let u = (xxh3_64(user_id.as_bytes()) >> 11) as f64 / (1u64 << 53) as f64;
        if u < self.train {
            Split::Train
        } else if u < self.train + self.valid {
            Split::Valid
        } else {
            Split::Test
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_a_function_of_the_id_and_matches_the_fractions() {
        let f = SplitFractions {
            train: 0.8,
            valid: 0.1,
        };
        let mut counts = [0usize; 3];
        for i in 0..20_000 {
            let id = format!("u{i}");
            let s = f.split_of(&id);
            assert_eq!(s, f.split_of(&id));
            counts[s as usize] += 1;
        }
        let share = |c: usize| c as f64 / 20_000.0;
        assert!((share(counts[0]) - 0.8).abs() < 0.015, "{counts:?}");
        assert!((share(counts[1]) - 0.1).abs() < 0.01, "{counts:?}");
        assert!((share(counts[2]) - 0.1).abs() < 0.01, "{counts:?}");
    }
}
