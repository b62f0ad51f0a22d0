//! The users of a split, cleaned, and how lists are scored against their held-out clicks:
//! what the training stages' held-out checks and the final evaluation share.

use crate::config::Experiment;
use crate::scoring::Scoring;
use quill::clean::Cleaner;
use quill::data::{Dataset, Split, UserRecord};
use quill::eval::OfflineEvaluator;
use quill::text::PromptBuilder;
use quill::train::grpo::{Decoding, PolicyEvaluator};

/// Cleaned users of a split (at most `limit`).
pub fn cleaned(
    data: &Dataset,
    cleaner: Option<&Cleaner>,
    split: Split,
    limit: usize,
) -> Vec<UserRecord> {
    data.iter_split(split)
        .take(limit)
        .map(|u| match cleaner {
            Some(c) => c.clean_user(&u),
            None => u,
        })
        .collect()
}

/// The cleaned validation users of the held-out checks during training (`grpo.eval_users` of
/// them) and the retrieval evaluation over their clicks.
pub fn valid_split(
    exp: &Experiment,
    data: &Dataset,
    cleaner: Option<&Cleaner>,
    scoring: &Scoring,
) -> (Vec<UserRecord>, OfflineEvaluator) {
    let cfg = &exp.config;
    let valid = cleaned(data, cleaner, Split::Valid, cfg.grpo.eval_users as usize);
    (valid, offline_evaluator(exp, data, scoring))
}

/// What a training stage reads of the data: every cleaned training user, and the validation
/// users and retrieval of its held-out check.
pub struct TrainingUsers {
    pub train: Vec<UserRecord>,
    pub valid: Vec<UserRecord>,
    pub offline: OfflineEvaluator,
}

impl TrainingUsers {
    pub fn of(
        exp: &Experiment,
        data: &Dataset,
        cleaner: Option<&Cleaner>,
        scoring: &Scoring,
    ) -> TrainingUsers {
        let (valid, offline) = valid_split(exp, data, cleaner, scoring);
        TrainingUsers {
            train: cleaned(data, cleaner, Split::Train, usize::MAX),
            valid,
            offline,
        }
    }

    /// The held-out check over the validation users, with `builder`'s prompts: greedy, as it
    /// is usually run (TRL, the paper).
    pub fn evaluator<'a>(
        &'a self,
        exp: &Experiment,
        builder: &'a PromptBuilder,
        scoring: &'a Scoring,
    ) -> PolicyEvaluator<'a> {
        let cfg = &exp.config;
        PolicyEvaluator {
            decoding: Decoding::Greedy,
            builder,
            composite: &scoring.composite,
            offline: &self.offline,
            // A few hundred users at most (`grpo.eval_users`), copied once per stage.
            users: self.valid.clone(),
            max_new_tokens: cfg.sampling.max_new_tokens as usize,
            batch: cfg.evaluation.batch_size as usize,
        }
    }
}

/// Retrieval with the experiment's retriever and fusion over the whole corpus, scored against
/// held-out clicks on articles published from the dataset's split date.
pub fn offline_evaluator(exp: &Experiment, data: &Dataset, scoring: &Scoring) -> OfflineEvaluator {
    OfflineEvaluator {
        corpus: data.corpus.clone(),
        retriever: scoring.stack.retriever.clone(),
        fusion: exp.config.retrieval.fusion.fusion(),
        fresh_from: data.split_date(),
    }
}
