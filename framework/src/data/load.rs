//! Builds the dataset an experiment's `[data]` section names.

use super::world::World;
use super::{DataConfig, DataSource, Dataset, InMemoryUsers};
use crate::error::Result;
use std::path::Path;
use std::sync::Arc;

/// Loads or builds the dataset of `cfg`; relative paths resolve against `base_dir`.
pub fn load_dataset(cfg: &DataConfig, seed: u64, base_dir: &Path) -> Result<Dataset> {
    cfg.check_consistency()?;
    let resolve = |p: &Path| crate::io::resolve_path(base_dir, p);
    let limit = cfg.users as usize;
    match cfg.source {
        DataSource::World => {
            let world = World::build(cfg, seed, base_dir)?;
            let name = format!(
                "world ({} corpus, {} articles, {} facets)",
                cfg.corpus.source,
                world.corpus.len(),
                world.facets.facets.len()
            );
            let oracle = Some(Arc::new(crate::eval::Oracle::new(
                world.corpus.len(),
                &world.facets,
            )));
            Ok(Dataset {
                name,
                corpus: world.corpus.clone(),
                users: Arc::new(world),
                splits: cfg.splits(),
                has_noise_labels: true,
                oracle,
            })
        }
        DataSource::Mind => {
            let split_date = cfg.mind.split_date()?;
            note_if_undeclared("data.mind.split_date", split_date);
            let (corpus, users) = super::loaders::load_mind_split(
                &resolve(&cfg.mind.news),
                &resolve(&cfg.mind.behaviors),
                limit,
                split_date,
            )?;
            let name = format!("mind ({})", cfg.mind.behaviors.display());
            Ok(Dataset {
                name,
                corpus: Arc::new(corpus),
                users: Arc::new(InMemoryUsers(users)),
                splits: cfg.splits(),
                has_noise_labels: false,
                oracle: None,
            })
        }
        DataSource::Jsonl => {
            let split_date = cfg.jsonl.split_date()?;
            note_if_undeclared("data.jsonl.split_date", split_date);
            let (corpus, users) = super::loaders::load_jsonl_split(
                &resolve(&cfg.jsonl.users),
                &resolve(&cfg.jsonl.news),
                limit,
                split_date,
            )?;
            let labelled = users
                .iter()
                .flat_map(|u| &u.history)
                .any(|s| s.noise.is_some());
            let name = format!("jsonl ({})", cfg.jsonl.users.display());
            Ok(Dataset {
                name,
                corpus: Arc::new(corpus),
                users: Arc::new(InMemoryUsers(users)),
                splits: cfg.splits(),
                has_noise_labels: labelled,
                oracle: None,
            })
        }
    }
}

/// A log without a declared split date still runs, but nothing then separates the articles of
/// its held-out clicks from the rest: say so once, with the field that fixes it.
fn note_if_undeclared(field: &str, split_date: Option<chrono::NaiveDate>) {
    if split_date.is_none() {
        eprintln!(
            "note: {field} is not set: offline evaluation has no freshness window (every \
             article is a candidate), and the tokenizer, term statistics and word vectors read \
             every article, the held-out clicks' included; set it to the first day of the \
             held-out clicks"
        );
    }
}
