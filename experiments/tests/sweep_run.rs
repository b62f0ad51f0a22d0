//! `quill run` on a sweep, end to end with a tiny config: cells run (in this process and as
//! worker processes), share their warm start and GRPO stages, are skipped once finished, split
//! into shards, and land in results.csv and the report.

use quill_experiments::config;
use quill_experiments::sweep::expand;
use quill_experiments::sweep::plan::{CellPlan, StepState, plan, recorded_seconds};
use quill_experiments::sweep::runner::{Shard, SweepOptions, run_sweep};
use std::path::{Path, PathBuf};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("quill-sweep-run-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A tiny experiment with two sweeps: seeds 3 and 4, and seed 3 evaluated with 2 lists per
/// user instead of 4 (the same training as seed 3's cell).
fn write_sweep(dir: &Path) -> PathBuf {
    let body = format!(
        "[experiment]\nname = \"sw\"\nseed = 3\noutput_dir = {out:?}\n\
         [data]\nusers = 300\n[data.corpus]\narticles = 1500\n\
         [cleaner]\nepochs = 1\ntrain_users = 200\n\
         [warm_start]\nlm_steps = 2\nsft_steps = 2\nbatch_size = 4\neval_users = 2\n\
         [sampling]\nmax_new_tokens = 16\n\
         [grpo]\nsteps = 1\nprompts_per_step = 2\ngroup_size = 2\neval_every = 1\neval_users = 2\n\
         [sweep.seeds]\naxes.experiment.seed = [3, 4]\n\
         [sweep.draws]\naxes.experiment.seed = [3]\naxes.evaluation.samples_per_user = [2]\n",
        out = dir.join("out")
    );
    let path = dir.join("sweep.toml");
    std::fs::write(&path, body).unwrap();
    path
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn modified(path: &Path) -> std::time::SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

#[test]
fn a_sweep_runs_its_cells_once_shares_stages_and_reports() {
    let dir = temp_dir("full");
    let exp = config::load(&write_sweep(&dir)).unwrap();
    // Before anything runs, the plan says which cell trains each shared stage.
    let cells = expand(&exp).unwrap();
    let plans = plan(&exp, &cells).unwrap();
    let trains = |p: &CellPlan| p.stages.iter().all(|s| s.state == StepState::Trains);
    let training: Vec<&String> = plans.iter().filter(|p| trains(p)).map(|p| &p.id).collect();
    assert_eq!(training.len(), 2, "{plans:?}");
    // The 2-draw cell takes both stages from seed 3's cell, which trains them.
    let draws = plans.iter().find(|p| !trains(p)).unwrap();
    let StepState::SharedWith(from) = &draws.stages[0].state else {
        panic!("{plans:?}")
    };
    assert!(
        training.contains(&from) && from.contains("seed-3"),
        "{plans:?}"
    );
    assert_eq!(draws.stages[1].state, draws.stages[0].state);
    let report = dir.join("report");
    let opts = SweepOptions {
        jobs: 2,
        report_dir: Some(report.clone()),
        exe: Some(PathBuf::from(env!("CARGO_BIN_EXE_quill"))),
        ..SweepOptions::default()
    };
    run_sweep(&exp, &opts).unwrap();
    let out = dir.join("out/sw");
    let cells = names_in(&out.join("cells"));
    assert_eq!(cells.len(), 3, "{cells:?}");
    // Two seeds: two warm starts and two GRPO runs; the 2-draw cell reused seed 3's.
    let stages = names_in(&out.join("stages"));
    let warm = stages
        .iter()
        .filter(|s| s.starts_with("warm_start-"))
        .count();
    let grpo = stages.iter().filter(|s| s.starts_with("grpo-")).count();
    let cleaners = stages.iter().filter(|s| s.starts_with("cleaner-")).count();
    assert_eq!((warm, grpo, cleaners), (2, 2, 2), "{stages:?}");
    let mut reused = 0;
    for cell in &cells {
        let log = std::fs::read_to_string(out.join("cells").join(cell).join("log.txt")).unwrap();
        assert!(log.contains("wrote"), "{cell}: {log}");
        reused += log.contains("cleaner: reusing") as usize;
    }
    // The 2-draw cell runs after seed 3's warm-start cell, so it finds seed 3's cleaner.
    assert_eq!(reused, 1);

    // results.csv: per cell, warm start and GRPO, greedy and sampled, best-of-N 2 (and 4
    // where 4 lists were drawn), and the two references.
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    for column in [
        "seed",
        "samples_per_user",
        "policy",
        "best_of_n",
        "ablation",
        "params",
        "recall@5",
        "recall@10",
        "ndcg@5",
        "ndcg@10",
        "mrr",
        "reward",
        "reward/interest_coverage",
        "users_per_s",
    ] {
        assert!(header.contains(&column), "no {column} in {header:?}");
    }
    // 3 cells x 4 policy rows, N = 2 and 4 for both policies of the two 4-draw cells, N = 2
    // for both of the 2-draw cell, 2 references per cell, and a row per single draw of both
    // policies; for the validation and the test split each.
    let draws = 2 * (4 + 4 + 2);
    let per_split = 3 * 4 + 2 * 4 + 2 + 3 * 2 + draws;
    assert_eq!(csv.lines().count() - 1, 2 * per_split, "{csv}");
    assert!(report.join("index.html").exists() && report.join("README.md").exists());

    // Afterwards every cell is finished, and the plan's estimate has timings to go on.
    let plans = plan(&exp, &expand(&exp).unwrap()).unwrap();
    assert!(plans.iter().all(|p| p.finished), "{plans:?}");
    let seconds = recorded_seconds(&out);
    let kinds: Vec<&str> = seconds.keys().copied().collect();
    assert_eq!(kinds, ["evaluation", "grpo", "warm_start"]);

    // Finished cells are not run again.
    let metrics = out.join("cells").join(&cells[0]).join("metrics.json");
    let before = modified(&metrics);
    run_sweep(
        &exp,
        &SweepOptions {
            report_dir: Some(report),
            ..SweepOptions::default()
        },
    )
    .unwrap();
    assert_eq!(modified(&metrics), before);
}

#[test]
fn shards_run_disjoint_cells_and_the_report_merges_them() {
    let dir = temp_dir("shards");
    let exp = config::load(&write_sweep(&dir)).unwrap();
    let report = dir.join("report");
    let shard = |index| SweepOptions {
        shard: Some(Shard { index, count: 2 }),
        report_dir: Some(report.clone()),
        ..SweepOptions::default()
    };
    run_sweep(&exp, &shard(2)).unwrap();
    let cells = dir.join("out/sw/cells");
    assert_eq!(names_in(&cells).len(), 1);
    run_sweep(&exp, &shard(1)).unwrap();
    assert_eq!(names_in(&cells).len(), 3);
    let csv = std::fs::read_to_string(report.join("results.csv")).unwrap();
    let merged: std::collections::BTreeSet<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(
        merged.len(),
        3,
        "three cells in the merged table: {merged:?}"
    );
}
