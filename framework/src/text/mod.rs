//! Text utilities shared by loaders, the simulator, the cleaner and (later) rewards.

pub mod bootstrap;
pub mod chat_prompt;
pub mod format_points;
pub mod prompt;
pub mod query_list;
pub mod term_stats;
pub mod terms;
pub mod tokenizer;

pub use bootstrap::{Bootstrap, BootstrapList};
pub use chat_prompt::{ChatLayout, DEFAULT_INSTRUCTION};
pub use prompt::{PromptBuilder, PromptLayout};
pub use tokenizer::PolicyTokenizer;
