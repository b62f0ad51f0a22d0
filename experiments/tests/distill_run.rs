//! `quill run` with `[distill]` on a small config, end to end: the student is warm-started with
//! the teacher's tokenizer, each method trains it through the shared loop and logs what it
//! should, the teacher's stages are reused when only `[distill]` changes, and a killed
//! distillation resumes to the same result as an uninterrupted one.

use quill_experiments::pipeline::RunOptions;
use quill_experiments::{config, pipeline};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("quill-distill-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A few steps of everything; `distill` is the body of the `[distill]` section.
fn config_text(out: &Path, name: &str, distill: &str) -> String {
    format!(
        "[experiment]\nname = {name:?}\nseed = 5\noutput_dir = {out:?}\n\
         [data]\nusers = 300\n[data.corpus]\narticles = 1500\n\
         [cleaner]\nepochs = 1\ntrain_users = 200\n\
         [warm_start]\nlm_steps = 3\nsft_steps = 4\nbatch_size = 4\neval_users = 4\n\
         [sampling]\nmax_new_tokens = 20\n\
         [grpo]\nsteps = 2\nprompts_per_step = 2\ngroup_size = 2\neval_every = 1\neval_users = 3\n\
         [evaluation]\nsamples_per_user = 2\n\
         [distill]\nenabled = true\nsteps = 3\nprompts_per_step = 2\nsamples_per_prompt = 2\n\
         eval_every = 2\nsave_every = 1\n{distill}\n"
    )
}

fn run_config(dir: &Path, text: &str, opts: RunOptions) -> Value {
    let path = dir.join("exp.toml");
    std::fs::write(&path, text).unwrap();
    let exp = config::load(&path).unwrap();
    pipeline::run(&exp, opts).unwrap();
    read_json(&exp.output_dir().join("metrics.json"))
}

/// The scalar rows of a JSONL log that hold `key`, as (step, value).
fn scalar(path: &Path, key: &str) -> Vec<(u64, f64)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter_map(|v| Some((v["step"].as_u64()?, v[key].as_f64()?)))
        .collect()
}

#[test]
fn each_method_trains_the_student_and_only_distillation_reruns_when_it_changes() {
    let dir = temp_dir("methods");
    let out = dir.join("out");
    let on_policy = "method = \"on_policy\"\nestimator = \"exact\"";
    let metrics = run_config(
        &dir,
        &config_text(&out, "d", on_policy),
        RunOptions::default(),
    );
    let run = out.join("d");

    // Four policies in the test table, the student at its own (smaller) size.
    let test = metrics["test"].as_object().unwrap();
    for row in [
        "grpo/sampled",
        "student_warm_start/sampled",
        "student/greedy",
        "student/sampled",
    ] {
        assert!(test.contains_key(row), "no {row} in {:?}", test.keys());
    }
    assert!(test["best_of_n"]["student"].is_array());
    let policies = &metrics["policies"];
    assert_eq!(policies["student"]["preset"], "pico");
    assert_eq!(policies["grpo"]["preset"], "nano");
    let (student, teacher) = (
        policies["student"]["parameters"].as_u64().unwrap(),
        policies["grpo"]["parameters"].as_u64().unwrap(),
    );
    assert!(
        student < teacher / 2,
        "student {student}, teacher {teacher}"
    );
    assert!(metrics["speed"]["student"]["users_per_s"].as_f64().unwrap() > 0.0);
    assert_eq!(metrics["distill"]["method"], "on_policy");
    assert_eq!(metrics["distill"]["steps"], 3);

    // The student reads and writes the teacher's token ids.
    let tokenizer = |d: &str| std::fs::read(run.join(d).join("tokenizer.json")).unwrap();
    assert_eq!(tokenizer("policy"), tokenizer("student/policy"));
    assert_eq!(tokenizer("policy"), tokenizer("distill/policy"));
    // The exact reverse KL is a KL: finite and never negative, one per step.
    let kl = scalar(&run.join("distill/scalars.jsonl"), "teacher_kl");
    assert_eq!(kl.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(kl.iter().all(|(_, v)| v.is_finite() && *v >= 0.0), "{kl:?}");
    let evals = scalar(&run.join("distill/scalars.jsonl"), "eval/recall@10");
    assert_eq!(evals.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [0, 2, 3]);

    // Another method: the teacher (warm start, GRPO) and the student's warm start are reused.
    let stamp = |p: &str| std::fs::metadata(run.join(p)).unwrap().modified().unwrap();
    let before = [
        stamp("grpo/grpo.json"),
        stamp("student/policy/warm_start.json"),
    ];
    let supervised = "method = \"supervised\"";
    let metrics = run_config(
        &dir,
        &config_text(&out, "d", supervised),
        RunOptions::default(),
    );
    assert_eq!(
        before,
        [
            stamp("grpo/grpo.json"),
            stamp("student/policy/warm_start.json")
        ]
    );
    assert_eq!(metrics["distill"]["method"], "supervised");
    let nll = scalar(&run.join("distill/scalars.jsonl"), "loss");
    assert_eq!(nll.len(), 3);
    assert!(nll.iter().all(|(_, v)| *v > 0.0), "cross-entropy {nll:?}");
    let forward = scalar(&run.join("distill/scalars.jsonl"), "teacher_forward_kl");
    assert_eq!(forward.len(), 3);

    // No teacher: GRPO on the student, two steps as `[grpo]` says, with its reward scalars.
    let metrics = run_config(
        &dir,
        &config_text(&out, "d", "method = \"none\""),
        RunOptions::default(),
    );
    assert_eq!(metrics["distill"]["method"], "none");
    assert_eq!(metrics["distill"]["steps"], 2);
    let reward = scalar(&run.join("distill/scalars.jsonl"), "reward");
    assert_eq!(reward.len(), 2);
    assert!(metrics["test"]["student/sampled"].is_object());
}

#[test]
fn a_killed_distillation_resumes_to_the_uninterrupted_result() {
    let dir = temp_dir("resume");
    let out = dir.join("out");
    let sampled = "method = \"on_policy\"\nestimator = \"sampled\"";
    let whole = run_config(
        &dir,
        &config_text(&out, "whole", sampled),
        RunOptions::default(),
    );

    // The teacher first (distillation off), so that the stop below lands in distillation.
    let teacher_only = config_text(&out, "parts", sampled)
        .replace("enabled = true\nsteps = 3", "enabled = false\nsteps = 3");
    run_config(&dir, &teacher_only, RunOptions::default());
    let stop = RunOptions {
        resume: false,
        stop_after: Some(2),
    };
    let stopped = run_config(&dir, &config_text(&out, "parts", sampled), stop);
    assert_eq!(stopped["distill"]["stopped_at"], 2);
    assert!(
        stopped.get("test").is_none(),
        "a stopped run is not evaluated"
    );
    let resume = RunOptions {
        resume: true,
        stop_after: None,
    };
    let resumed = run_config(&dir, &config_text(&out, "parts", sampled), resume);
    assert_eq!(resumed["distill"]["resumed_from"], 2);
    for row in ["student/greedy", "student/sampled"] {
        assert_eq!(resumed["test"][row], whole["test"][row], "{row}");
    }
    let losses = |name: &str| scalar(&out.join(name).join("distill/scalars.jsonl"), "loss");
    assert_eq!(losses("parts"), losses("whole"));
}

#[test]
fn distillation_settings_are_checked_before_anything_runs() {
    let dir = temp_dir("errors");
    let check = |grpo: &str, distill: &str| {
        let text = config_text(&dir, "e", distill).replace("[grpo]\n", &format!("[grpo]\n{grpo}"));
        config::parse(&text, Path::new("e.toml"))
            .unwrap_err()
            .to_string()
    };
    let msg = check("enabled = false\n", "method = \"on_policy\"");
    assert!(
        msg.contains("distill.method") && msg.contains("teacher"),
        "{msg}"
    );
    let msg = check("", "student_preset = \"huge\"");
    assert!(
        msg.contains("distill.student_preset") && msg.contains("huge"),
        "{msg}"
    );
    let msg = check("", "method = \"reverse\"");
    assert!(
        msg.contains("on_policy") && msg.contains("supervised"),
        "{msg}"
    );
    let msg = check("", "learning_rate = 0.0");
    assert!(msg.contains("distill.learning_rate"), "{msg}");
}
