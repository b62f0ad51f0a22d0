//! Offline evaluation: ranking metrics against held-out future clicks, fusion of per-query
//! rankings, best-of-N selection by reward, MIND-style impression metrics, model-free baselines and simulator-only oracle
//! diagnostics.

mod baselines;
mod best_of_n;
mod fusion;
mod impressions;
mod metrics;
mod offline;
mod oracle;

pub use baselines::{
    BaselineResult, HISTORY_QUERIES, ImpressionBaselines, RewardMeans, history_queries,
    impression_baselines, mean_oracle, run_baselines,
};
pub use best_of_n::{best_of_n_sizes, pick_best_of_n};
pub use fusion::{Fusion, fuse};
pub use impressions::{ImpressionMetrics, candidate_scores, impression_metrics};
pub use metrics::{MetricMeans, RankingMetrics, ranking_metrics};
pub use offline::{OfflineEvaluator, PER_QUERY_DEPTH};
pub use oracle::{Oracle, OracleMetrics};
