//! Which of a user's signals the rewards read.
//!
//! A reward must pay only for what the policy could have written from its prompt: the prompt
//! keeps the newest cleaned signals that fit `policy.prompt_budget`, so an interest seen only
//! in the signals the budget drops cannot be named except by guessing. Scoring coverage (or
//! gating specificity and diversity) against the whole history would pay for such guesses
//! and add noise to every advantage. The whole history stays available as an explicit,
//! documented opt-in for studying that effect.

use crate::data::Signal;
use crate::text::PromptBuilder;

crate::config_enum! {
    /// Which cleaned signals of a user the rewards read.
    pub enum RewardSignals {
        /// The signals the policy's prompt shows (the newest that fit `policy.prompt_budget`):
        /// a list earns reward only for what its policy could see.
        Prompt = "prompt",
        /// The whole cleaned history, signals the prompt budget drops included: rewards then
        /// pay for naming interests the policy cannot see. An opt-in for studying that effect.
        History = "history",
    }
}

/// The signals rewards read, resolved for one policy's prompt.
#[derive(Debug, Clone)]
pub enum RewardView {
    /// What this builder's prompt renders ([`PromptBuilder::shown`]).
    Prompt(PromptBuilder),
    /// Every cleaned signal.
    History,
}

impl RewardView {
    /// The part of `history` (time order, oldest first) that rewards may read.
    pub fn signals<'h>(&self, history: &'h [Signal]) -> &'h [Signal] {
        match self {
            RewardView::Prompt(builder) => builder.shown(history),
            RewardView::History => history,
        }
    }

    /// The `[composite] signals` value this view implements.
    pub fn kind(&self) -> RewardSignals {
        match self {
            RewardView::Prompt(_) => RewardSignals::Prompt,
            RewardView::History => RewardSignals::History,
        }
    }
}
