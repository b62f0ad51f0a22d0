//! GRPO / Dr.GRPO on the composite reward.

mod config;

pub use config::{AdvantageKind, GrpoConfig, LossAggregation};
