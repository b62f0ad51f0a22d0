//! Text utilities shared by loaders, the simulator, the cleaner and (later) rewards.

pub mod bootstrap;
pub mod format_points;
pub mod prompt;
pub mod query_list;
pub mod term_stats;
pub mod terms;
pub mod tokenizer;

pub use bootstrap::{Bootstrap, BootstrapList};
pub use prompt::PromptBuilder;
pub use tokenizer::PolicyTokenizer;
