//! The data model (signals, news, users), dataset sources and the user simulator.

mod config;
mod load;
pub mod loaders;
mod news;
mod signal;
mod source;
mod split;
mod stats;
mod user;
pub mod world;

pub use config::{CorpusConfig, CorpusSource, DataConfig, DataSource, JsonlConfig, MindConfig};
pub use load::load_dataset;
pub use news::{Corpus, NewsItem};
pub use signal::{Signal, SignalKind};
pub use source::{Dataset, InMemoryUsers, UserSource};
pub use split::{Split, SplitFractions};
pub use stats::{DataStats, Distribution, StatsBuilder};
pub use user::{Interest, UserRecord};
