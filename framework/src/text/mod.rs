//! Text utilities shared by loaders, the simulator, the cleaner and (later) rewards.

pub mod query_list;
pub mod term_stats;
pub mod terms;
