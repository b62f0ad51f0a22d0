//! `quill data stats` and `quill data sample`.

use crate::config::Experiment;
use anyhow::{Result, bail};
use quill::data::{DataStats, Split, load_dataset};

pub fn stats(exp: &Experiment, as_json: bool) -> Result<()> {
    let data = load_dataset(&exp.config.data, exp.config.experiment.seed, &exp.base_dir)?;
    let stats: DataStats = crate::stages::clean::stats(&data, None);
    if as_json {
        println!("{}", serde_json::to_string_pretty(&stats)?);
    } else {
        println!(
            "dataset          {}\ncorpus           {} articles",
            data.name,
            data.corpus.len()
        );
        println!("{stats}");
    }
    Ok(())
}

pub fn sample(exp: &Experiment, n: usize, split: Option<&str>) -> Result<()> {
    let data = load_dataset(&exp.config.data, exp.config.experiment.seed, &exp.base_dir)?;
    let split = match split {
        None => None,
        Some(name) => match Split::ALL.into_iter().find(|s| s.as_str() == name) {
            Some(s) => Some(s),
            None => bail!("--split {name:?} is not a split: valid values are train, valid, test"),
        },
    };
    let users = data
        .iter()
        .filter(|u| split.is_none_or(|s| data.splits.split_of(&u.id) == s))
        .take(n);
    for u in users {
        println!("{}", serde_json::to_string(&u)?);
    }
    Ok(())
}
