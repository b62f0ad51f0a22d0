//! GRPO through `quill run` on a small real config: a run killed after a checkpoint and resumed
//! with `--resume` ends with the same weights, logs and metrics as an uninterrupted run; the
//! logs hold TRL's scalars; a resume under another config is refused. The run uses GDPO
//! advantages with per-query credit and trains only the last decoder block, whose freezing must
//! survive the resume.

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};
use quill::log::read_scalars;
use quill::policy::load_checkpoint;
use quill_experiments::pipeline::RunOptions;
use quill_experiments::{config, pipeline};
use std::path::{Path, PathBuf};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("quill-grpo-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn config_text(out: &Path, name: &str) -> String {
    format!(
        "[experiment]\nname = {name:?}\nseed = 5\noutput_dir = {out:?}\n\
         [data]\nusers = 300\n[data.corpus]\narticles = 1500\n\
         [cleaner]\nepochs = 1\ntrain_users = 200\n\
         [warm_start]\nlm_steps = 4\nsft_steps = 6\nbatch_size = 4\neval_users = 4\n\
         [sampling]\nmax_new_tokens = 20\n\
         [grpo]\nsteps = 4\nprompts_per_step = 2\ngroup_size = 3\nnum_iterations = 2\n\
         beta = 0.05\nsave_every = 1\nkeep_checkpoints = 2\neval_every = 2\neval_users = 4\n\
         log_completions_every = 2\nlog_completions = 2\nzero_spread_tolerance = -1.0\n\
         advantage = \"gdpo\"\ntrainable_blocks = 1\nquery_credit = 0.5\n"
    )
}

fn load(dir: &Path, name: &str) -> config::Experiment {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, config_text(&dir.join("out"), name)).unwrap();
    config::load(&path).unwrap()
}

/// Every weight of the final GRPO policy, in module order. (The files' bytes are not compared:
/// safetensors' header order is not fixed.)
struct Collect(Vec<f32>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0
            .extend(param.val().into_data().try_to_vec::<f32>().unwrap());
    }
}

fn weights(root: &Path) -> Vec<f32> {
    let (decoder, _) = load_checkpoint(&root.join("grpo/policy"), &Device::flex()).unwrap();
    values(&decoder)
}

fn values<M: Module>(module: &M) -> Vec<f32> {
    let mut all = Collect(Vec::new());
    module.visit(&mut all);
    all.0
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_killed_and_resumed_run_matches_an_uninterrupted_one() {
    let dir = temp_dir("resume");
    // Both experiments have the same name, so the same config hash, in separate output dirs.
    let whole = load(&dir, "g");
    pipeline::run(&whole, RunOptions::default()).unwrap();
    let whole_out = dir.join("out/g");
    let whole_metrics = read_json(&whole_out.join("metrics.json"));
    std::fs::rename(&whole_out, dir.join("whole")).unwrap();

    let killed = load(&dir, "g");
    let stop = RunOptions {
        resume: false,
        stop_after: Some(2),
    };
    pipeline::run(&killed, stop).unwrap();
    let out = dir.join("out/g");
    let partial = read_json(&out.join("metrics.json"));
    assert_eq!(partial["grpo"]["stopped_at"], 2);
    assert!(
        !out.join("grpo/policy").exists(),
        "no final policy after a kill"
    );
    assert!(
        out.join("grpo/checkpoints/step-00000002/trainer.json")
            .is_file()
    );

    let resume = RunOptions {
        resume: true,
        stop_after: None,
    };
    pipeline::run(&killed, resume).unwrap();
    let resumed = read_json(&out.join("metrics.json"));
    assert_eq!(resumed["grpo"]["resumed_from"], 2);
    assert_eq!(resumed["grpo"]["steps"], 4);
    // The report records what `advantage = "gdpo"` resolved to under the default algorithm.
    let settings = serde_json::json!({
        "algorithm": "dr_grpo", "advantage": "gdpo", "loss_aggregation": "constant_length",
    });
    assert_eq!(resumed["grpo"]["settings"], settings);
    assert_eq!(
        resumed["test"], whole_metrics["test"],
        "test-split metrics differ"
    );
    assert_eq!(
        resumed["grpo"]["last_step"]["reward"],
        whole_metrics["grpo"]["last_step"]["reward"]
    );
    // Every held-out evaluation (steps 0, 2 and 4), those before the resume point included.
    assert_eq!(
        resumed["grpo"]["valid_evals"], whole_metrics["grpo"]["valid_evals"],
        "held-out evaluations differ"
    );
    assert_eq!(resumed["grpo"]["valid_evals"].as_array().unwrap().len(), 3);
    assert!(
        weights(&out) == weights(&dir.join("whole")),
        "final weights differ"
    );
    // Only the last block learned, before and after the resume.
    let device = Device::flex();
    let (warm, _) = load_checkpoint(&out.join("policy"), &device).unwrap();
    let (tuned, _) = load_checkpoint(&out.join("grpo/policy"), &device).unwrap();
    let last = warm.blocks.len() - 1;
    assert!(
        values(&warm.embed_tokens) == values(&tuned.embed_tokens),
        "embeddings learned"
    );
    assert!(
        values(&warm.blocks[0]) == values(&tuned.blocks[0]),
        "first block learned"
    );
    assert!(
        values(&warm.norm) == values(&tuned.norm),
        "final norm learned"
    );
    assert!(
        values(&warm.blocks[last]) != values(&tuned.blocks[last]),
        "last block frozen"
    );

    // The logs of the resumed run are those of the uninterrupted one, step for step (times aside).
    let timeless = |root: &Path| {
        read_scalars(&root.join("grpo/scalars.jsonl"))
            .unwrap()
            .into_iter()
            .map(|(step, mut values)| {
                values.retain(|k, _| {
                    !k.starts_with("time/") && k != "step_time" && k != "tokens_per_second"
                });
                (step, values)
            })
            .collect::<Vec<_>>()
    };
    let logged = timeless(&out);
    assert_eq!(logged, timeless(&dir.join("whole")));
    let step_rows: Vec<_> = logged
        .iter()
        .filter(|(_, v)| v.contains_key("reward"))
        .collect();
    assert_eq!(step_rows.len(), 4);
    for name in [
        "reward",
        "reward_std",
        "rewards/structural_validity/mean",
        "rewards/retrieval_alignment/std",
        "frac_reward_zero_std",
        "kl",
        "clip_ratio",
        "entropy",
        "reward/logp_cov",
        "rewards/intra_list_diversity/logp_cov",
        "completions/mean_length",
        "completions/clipped_ratio",
        "loss",
        "lr",
        "grad_norm",
    ] {
        assert!(step_rows[0].1.contains_key(name), "{name} not logged");
    }
    assert!(
        step_rows
            .iter()
            .all(|(_, v)| v["kl"] >= 0.0 && v["lr"] > 0.0)
    );
    // Held-out evaluation at the start, every 2 steps and at the end.
    let evals: Vec<u64> = logged
        .iter()
        .filter(|(_, v)| v.contains_key("eval/recall@10"))
        .map(|(s, _)| *s)
        .collect();
    assert_eq!(evals, vec![0, 2, 4]);
    // Only the newest two checkpoints are kept.
    let kept: Vec<String> = std::fs::read_dir(out.join("grpo/checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(kept.len(), 2, "{kept:?}");
    let completions = std::fs::read_to_string(out.join("grpo/completions.jsonl")).unwrap();
    assert_eq!(completions.lines().count(), 4, "2 rows at steps 2 and 4");

    // A resume under a changed config is refused, naming the flag.
    let changed = dir.join("changed.toml");
    let text = config_text(&dir.join("out"), "g").replace("beta = 0.05", "beta = 0.1");
    std::fs::write(&changed, text).unwrap();
    let exp = config::load(&changed).unwrap();
    pipeline::run(&exp, stop).unwrap();
    let err = format!("{:#}", pipeline::run(&load(&dir, "g"), resume).unwrap_err());
    assert!(
        err.contains("--resume") && err.contains("another config"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
