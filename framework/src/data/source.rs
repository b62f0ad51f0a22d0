//! Where users come from: a stream of users by index over a shared corpus.

use super::news::Corpus;
use super::split::{Split, SplitFractions};
use super::user::UserRecord;
use chrono::NaiveDate;
use std::sync::Arc;

/// A source of users, readable by index so that the simulator can generate user `i` on demand
/// (1M simulated users never sit in memory at once) and loaders can serve rows they parsed.
pub trait UserSource: Send + Sync {
    fn num_users(&self) -> usize;
    /// User `index` in `0..num_users()`. Deterministic: the same index gives the same user.
    fn user(&self, index: usize) -> UserRecord;
}

/// Users already in memory (loaders of real logs).
pub struct InMemoryUsers(pub Vec<UserRecord>);

impl UserSource for InMemoryUsers {
    fn num_users(&self) -> usize {
        self.0.len()
    }
    fn user(&self, index: usize) -> UserRecord {
        self.0[index].clone()
    }
}

/// A loaded dataset: a corpus, its users and how they split.
pub struct Dataset {
    /// A short description of where the data came from, for logs and reports.
    pub name: String,
    /// Every article, with the dataset's split date (see [`Dataset::split_date`]).
    pub corpus: Arc<Corpus>,
    pub users: Arc<dyn UserSource>,
    pub splits: SplitFractions,
    /// Whether signals carry ground-truth noise labels (the cleaner can train on them).
    pub has_noise_labels: bool,
    /// The simulator's article → facet truth, for oracle diagnostics (`None` for real logs).
    pub oracle: Option<Arc<crate::eval::Oracle>>,
}

impl Dataset {
    /// The date that separates history from held-out clicks, fixed by the data (the
    /// simulator's split date, or the loader's declared `split_date`) and never by the labels:
    /// the evaluation window opens on it, and training reads only articles published before
    /// it. `None` when a log declares none: every article is then a candidate and readable.
    pub fn split_date(&self) -> Option<NaiveDate> {
        self.corpus.split_date()
    }

    /// All users, in index order.
    pub fn iter(&self) -> impl Iterator<Item = UserRecord> + '_ {
        (0..self.users.num_users()).map(|i| self.users.user(i))
    }

    /// The users of one split, in index order.
    pub fn iter_split(&self, split: Split) -> impl Iterator<Item = UserRecord> + '_ {
        self.iter()
            .filter(move |u| self.splits.split_of(&u.id) == split)
    }
}
