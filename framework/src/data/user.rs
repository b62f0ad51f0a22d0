//! A user: their history of signals and the clicks held out for evaluation.

use super::signal::Signal;
use serde::{Deserialize, Serialize};

/// One latent interest of a simulated user. Ground truth: never shown to rewards or the policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interest {
    /// Facet id (a story or topic of the corpus).
    pub facet: String,
    /// Share of the user's attention, the weights of one user sum to 1.
    pub weight: f32,
}

/// Everything Quill knows about one user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRecord {
    pub id: String,
    /// Signals in time order, oldest first.
    pub history: Vec<Signal>,
    /// News ids clicked after the history window: the labels of offline evaluation.
    pub future_clicks: Vec<String>,
    /// Impression candidates (news ids shown to the user, clicked or not), where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidates: Option<Vec<String>>,
    /// The simulator's hidden truth. Only diagnostics read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interests: Option<Vec<Interest>>,
}

impl UserRecord {
    /// True when the history is in non-decreasing time order.
    pub fn is_time_ordered(&self) -> bool {
        self.history
            .windows(2)
            .all(|w| w[0].timestamp <= w[1].timestamp)
    }

    /// Sorts the history by time, keeping the order of equal timestamps.
    pub fn sort_history(&mut self) {
        self.history.sort_by_key(|s| s.timestamp);
    }
}
