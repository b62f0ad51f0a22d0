//! Offline evaluation: ranking metrics against held-out future clicks, fusion of per-query
//! rankings, MIND-style impression metrics, and model-free baselines.

mod baselines;
mod fusion;
mod impressions;
mod metrics;
mod offline;

pub use baselines::{BaselineResult, HISTORY_QUERIES, history_queries, run_baselines};
pub use fusion::{Fusion, fuse};
pub use impressions::{ImpressionMetrics, impression_metrics};
pub use metrics::{MetricMeans, RankingMetrics, ranking_metrics};
pub use offline::{OfflineEvaluator, PER_QUERY_DEPTH};
