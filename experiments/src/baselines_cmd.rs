//! `quill eval-baselines`: the model-free baselines on the test split, as a table and as
//! `baselines.json` in the experiment's output directory.

use crate::config::Experiment;
use anyhow::Result;
use quill::data::{Split, UserRecord, load_dataset};
use quill::eval::{OfflineEvaluator, run_baselines};
use quill::io::write_json;
use std::time::Instant;

pub fn eval_baselines(exp: &Experiment) -> Result<()> {
    let cfg = &exp.config;
    let seed = cfg.experiment.seed;
    let data = load_dataset(&cfg.data, seed, &exp.base_dir)?;
    let cleaner = crate::run::cleaner(exp, &data)?;
    let clean = |u: UserRecord| match &cleaner {
        Some((c, _)) => c.clean_user(&u),
        None => u,
    };
    let test: Vec<UserRecord> = data.iter_split(Split::Test).map(clean).collect();
    let train: Vec<UserRecord> = data.iter_split(Split::Train).collect();

    let t = Instant::now();
    let stack = cfg.retrieval.build(&data.corpus, seed)?;
    eprintln!(
        "retrieval: {} over {} articles ({:.1}s)",
        cfg.retrieval.retriever,
        data.corpus.len(),
        t.elapsed().as_secs_f64()
    );
    let eval = OfflineEvaluator {
        corpus: data.corpus.clone(),
        retriever: stack.retriever,
        fusion: cfg.retrieval.fusion.fusion(),
        fresh_from: OfflineEvaluator::window_start(&data.corpus, &test),
    };
    let results = run_baselines(&eval, &test, &train, data.oracle.as_deref(), seed);

    println!(
        "baselines on {} test users ({}; retriever {}, fusion {})",
        test.len(),
        data.name,
        cfg.retrieval.retriever,
        cfg.retrieval.fusion
    );
    println!(
        "{:<20} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "method", "R@5", "R@10", "N@5", "N@10", "MRR"
    );
    for r in &results {
        let m = &r.metrics;
        println!(
            "{:<20} {:>8.4} {:>8.4} {:>8.4} {:>8.4} {:>8.4}",
            r.name, m.recall_5, m.recall_10, m.ndcg_5, m.ndcg_10, m.mrr
        );
    }
    for r in results.iter().filter(|r| r.oracle.is_some()) {
        let o = r.oracle.expect("filtered");
        println!(
            "oracle ({}): true-facet coverage {:.3}, query precision {:.3}",
            r.name, o.coverage, o.precision
        );
    }
    let path = exp.output_dir().join("baselines.json");
    write_json(&path, &results)?;
    eprintln!("wrote {}", path.display());
    Ok(())
}
