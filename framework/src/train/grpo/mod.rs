//! GRPO / Dr.GRPO on the composite reward: the `[grpo]` section (`config`), what each algorithm
//! is made of (`algorithm`), advantages and zero-spread filtering (`advantage`), the clipped
//! objective with its KL penalty (`objective`), per-query credit (`query_credit`), the
//! learning-rate schedule and gradient clipping (`optim`), sampling and scoring groups
//! (`rollout`), which rewards raise or lower the policy's entropy (`likelihood_cov`),
//! checkpoints for exact resume (`state`), held-out evaluation (`evaluate`), the update's
//! sharded forward and backward pass (`update`) and the loop itself (`trainer`).

mod advantage;
mod algorithm;
mod config;
mod evaluate;
mod likelihood_cov;
mod objective;
mod optim;
mod query_credit;
mod rollout;
mod state;
mod trainer;
mod update;

#[cfg(test)]
pub(crate) use crate::train::data_parallel::testing;
pub use advantage::{
    advantages, decoupled_advantages, group_advantages, group_spread, keep_groups,
};
pub use algorithm::GrpoVariant;
pub use config::{AdvantageKind, GrpoAlgorithm, GrpoConfig, LossAggregation};
pub use evaluate::{Decoding, PolicyEval, PolicyEvaluator};
pub use likelihood_cov::{mean_token_logprobs, within_group_covariance};
pub use objective::{
    BatchTotals, LossParts, ObjectiveConfig, k3_kl, policy_loss, shard_policy_loss,
    token_policy_loss,
};
pub use optim::{clip_grad_norm, freeze_all_but_last_blocks, grad_norm, learning_rate};
pub use query_credit::{leave_one_out, line_queries, token_advantages, token_queries};
pub use rollout::{GENERATE_CHUNK, Rollout, RolloutSpec, rollout};
pub use state::{
    CursorState, TRAINER_FILE, TrainerState, UserCursor, latest_checkpoint,
    load_training_checkpoint, save_training_checkpoint,
};
pub use trainer::{GrpoOutcome, GrpoRun, train_grpo};
pub use update::{PolicyBatch, QueryCredit, UpdateStats, policy_grads};
