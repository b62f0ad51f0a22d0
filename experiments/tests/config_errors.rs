//! Experiment files: defaults, and errors that name file, line, column, field and valid values.

use quill_experiments::config::parse;
use quill_experiments::quill_rewards as _;
use std::path::Path;

fn err(src: &str) -> String {
    match parse(src, Path::new("exp.toml")) {
        Ok(_) => panic!("expected an error for:\n{src}"),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn an_empty_file_is_the_default_experiment() {
    let c = parse("", Path::new("exp.toml")).unwrap();
    assert_eq!(c.experiment.seed, 42);
    assert_eq!(c.data.users, 3_000);
    assert!(c.rewards.contains_key("structural_validity"));
}

#[test]
fn the_shipped_configs_are_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let src = std::fs::read_to_string(&path).unwrap();
            parse(&src, &path).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
            checked += 1;
        }
    }
    assert!(
        checked >= 8,
        "only {checked} configs under {}",
        dir.display()
    );
}

#[test]
fn unknown_fields_name_line_column_and_the_valid_fields() {
    let e = err("[data]\nusers = 10\nuserz = 3\n");
    assert!(e.starts_with("exp.toml:3:1: "), "{e}");
    assert!(e.contains("userz") && e.contains("train_fraction"), "{e}");
}

#[test]
fn out_of_range_values_name_line_field_value_and_range() {
    let e = err("[data.world]\nnoise_rate = 0.7\n");
    assert_eq!(
        e,
        "exp.toml:2:14: data.world.noise_rate: value 0.7 is out of range: valid values are 0 ..= 0.45"
    );
}

#[test]
fn bad_enum_values_list_the_choices() {
    let e = err("[data]\nsource = \"csv\"\n");
    assert!(e.starts_with("exp.toml:2:10: data.source: "), "{e}");
    assert!(
        e.contains("world") && e.contains("mind") && e.contains("jsonl"),
        "{e}"
    );
}

#[test]
fn wrong_types_name_the_field() {
    let e = err("[experiment]\nseed = \"forty-two\"\n");
    assert!(e.starts_with("exp.toml:2:8: experiment.seed: "), "{e}");
}

#[test]
fn cross_field_and_plugin_errors() {
    let e = err("[data]\ntrain_fraction = 0.8\nvalid_fraction = 0.3\n");
    assert!(e.starts_with("exp.toml:3:18: data.valid_fraction: "), "{e}");
    let e = err("[rewards.not_a_reward]\nweight = 1\n");
    assert!(
        e.contains("unknown reward \"not_a_reward\"") && e.contains("structural_validity"),
        "{e}"
    );
    let e = err("[rewards.structural_validity]\nweight = -1\n");
    assert!(
        e.starts_with("exp.toml:2:10: rewards.structural_validity.weight"),
        "{e}"
    );
    let e = err("[experiment]\nablation = \"no_everything\"\n");
    assert!(e.contains("no_structural_validity"), "{e}");
    let e = err("[format]\nmin_queries = 9\n");
    assert!(
        e.contains("format.min_queries") && e.contains("exceeds max_queries 8"),
        "{e}"
    );
}

#[test]
fn syntax_errors_give_a_position() {
    let e = err("[data\nusers = 1\n");
    assert!(e.starts_with("exp.toml:1:"), "{e}");
}

#[test]
fn judge_section_defaults_to_rules_and_reports_bad_values() {
    let c = parse("", Path::new("exp.toml")).unwrap();
    assert_eq!(c.judge.kind, "rules");
    let e = err("[judge]\nkind = \"gpt4\"\n");
    assert!(e.starts_with("exp.toml:2:8: judge.kind: "), "{e}");
    assert!(e.contains("rules") && e.contains("http"), "{e}");
    let e = err("[judge.http]\nmodle = \"m\"\n");
    assert!(e.starts_with("exp.toml:2:9: judge.http.modle: "), "{e}");
    assert!(e.contains("modle") && e.contains("model"), "{e}");
    let e = err("[judge.http]\ntimeout_secs = 0\n");
    assert!(
        e.starts_with("exp.toml:2:16: judge.http.timeout_secs: value 0 is out of range"),
        "{e}"
    );
}

#[cfg(not(feature = "http-judge"))]
#[test]
fn the_http_judge_without_the_feature_is_a_clear_error() {
    let e = err("[experiment]\nseed = 1\n\n[judge]\nkind = \"http\"\n");
    assert!(e.starts_with("exp.toml:5:8: judge.kind: "), "{e}");
    assert!(e.contains("--features http-judge"), "{e}");
}

#[cfg(feature = "http-judge")]
#[test]
fn the_http_judge_with_the_feature_is_valid() {
    let c = parse(
        "[judge]\nkind = \"http\"\n[judge.http]\nmodel = \"m\"\n",
        Path::new("exp.toml"),
    )
    .unwrap();
    assert_eq!(c.judge.settings["http"]["model"].as_str(), Some("m"));
}

#[test]
fn explain_documents_the_judge_section() {
    let text = quill_experiments::explain::explain();
    assert!(text.contains("[judge]"), "{text}");
    assert!(
        text.contains("judge.kind = \"rules\"  (valid: one of http, rules)"),
        "{text}"
    );
    assert!(text.contains("judge.http.batch_size = 16"), "{text}");
}

#[test]
fn grpo_algorithm_switch_resolves_and_overrides_stay_parts() {
    use quill::train::grpo::{AdvantageKind as A, LossAggregation as L};
    let variant = |src: &str| parse(src, Path::new("exp.toml")).unwrap().grpo.variant();
    let pair = |src: &str| {
        let v = variant(src);
        (v.advantage, v.loss_aggregation)
    };
    assert_eq!(pair(""), (A::DrGrpo, L::ConstantLength));
    assert_eq!(
        pair("[grpo]\nalgorithm = \"grpo\"\n"),
        (A::Grpo, L::SeqMeanTokenMean)
    );
    // The pre-switch spelling still means what it did: GRPO's advantage, Dr.GRPO's loss.
    assert_eq!(
        pair("[grpo]\nadvantage = \"grpo\"\n"),
        (A::Grpo, L::ConstantLength)
    );
    assert_eq!(
        pair("[grpo]\nalgorithm = \"grpo\"\nloss_aggregation = \"token_mean\"\n"),
        (A::Grpo, L::TokenMean)
    );
    let e = err("[grpo]\nalgorithm = \"ppo\"\n");
    assert!(e.starts_with("exp.toml:2:13: grpo.algorithm: "), "{e}");
    assert!(e.contains("dr_grpo") && e.contains("grpo"), "{e}");
    // The shipped configs that name the algorithm train Dr.GRPO, as they did.
    for name in ["quickstart", "paper", "paper-gpu", "distill"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../configs/{name}.toml"));
        let src = std::fs::read_to_string(&path).unwrap();
        let c = parse(&src, &path).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        let v = c.grpo.variant();
        assert_eq!(
            (v.advantage, v.loss_aggregation),
            (A::DrGrpo, L::ConstantLength)
        );
    }
    let text = quill_experiments::explain::explain();
    assert!(
        text.contains("grpo.algorithm = \"dr_grpo\"  (valid: one of dr_grpo, grpo)"),
        "{text}"
    );
}

#[test]
fn training_on_truncated_or_greedy_samples_is_refused_naming_the_field() {
    let e = err("[sampling]\ntop_k = 40\n");
    assert!(e.starts_with("exp.toml:2:9: sampling.top_k: 40 "), "{e}");
    assert!(e.contains("GRPO") && e.contains("is 0"), "{e}");
    let e = err("[sampling]\ntop_p = 0.9\n");
    assert!(e.starts_with("exp.toml:2:9: sampling.top_p: 0.9 "), "{e}");
    assert!(e.contains("is 1"), "{e}");
    let e = err("[sampling]\ntemperature = 0.0\n");
    assert!(
        e.starts_with("exp.toml:2:15: sampling.temperature: 0 is greedy"),
        "{e}"
    );
    // The `none` student is trained with GRPO even when the teacher is not.
    let e = err(
        "[grpo]\nenabled = false\n[distill]\nenabled = true\nmethod = \"none\"\n\
         [sampling]\ntop_p = 0.5\n",
    );
    assert!(
        e.contains("sampling.top_p: 0.5") && e.contains("GRPO"),
        "{e}"
    );
    // Nothing trains on-policy: truncated or greedy sampling is fine (evaluation, serving).
    for sampling in ["top_k = 40", "top_p = 0.9", "temperature = 0.0"] {
        let src = format!("[grpo]\nenabled = false\n[sampling]\n{sampling}\n");
        parse(&src, Path::new("exp.toml")).unwrap_or_else(|e| panic!("{sampling}: {e:#}"));
    }
    // Temperatures other than 1 train on logits / temperature.
    parse("[sampling]\ntemperature = 0.7\n", Path::new("exp.toml")).unwrap();
}

#[test]
fn a_reward_table_changes_its_reward_and_keeps_the_others() {
    let weights = |src: &str| -> Vec<(String, f32)> {
        let c = parse(src, Path::new("exp.toml")).unwrap();
        quill_experiments::config::reward_spec(&c).unwrap()
    };
    let paper: Vec<(String, f32)> = quill_experiments::config::PAPER_REWARDS
        .iter()
        .map(|n| (n.to_string(), 1.0))
        .collect();
    let sorted = |mut v: Vec<(String, f32)>| {
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    assert_eq!(weights(""), sorted(paper.clone()));
    let one = weights("[rewards.retrieval_alignment]\nweight = 2\n");
    let expected = paper
        .iter()
        .map(|(n, w)| (n.clone(), if n == "retrieval_alignment" { 2.0 } else { *w }))
        .collect();
    assert_eq!(one, sorted(expected));
    // weight 0: still scored and reported, not trained on.
    let off = weights("[rewards.intra_list_diversity]\nweight = 0\n");
    assert_eq!(off.len(), 5);
    assert!(off.contains(&("intra_list_diversity".to_string(), 0.0)));
    let explained = quill_experiments::explain::explain();
    assert!(
        explained.contains("rewards = { retrieval_alignment = { weight = 1.0 }, interest_coverage"),
        "{explained}"
    );
}

#[test]
fn a_sweep_axis_on_one_reward_weight_keeps_the_other_rewards() {
    let dir = std::env::temp_dir().join(format!("quill-reward-axis-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("exp.toml");
    std::fs::write(
        &path,
        "[sweep.w]\naxes.rewards.retrieval_alignment.weight = [2.0, 3.0]\n",
    )
    .unwrap();
    let exp = quill_experiments::config::load(&path).unwrap();
    let cells = quill_experiments::sweep::expand(&exp).unwrap();
    assert_eq!(cells.len(), 2);
    for (cell, weight) in cells.iter().zip([2.0, 3.0]) {
        let spec = quill_experiments::config::reward_spec(&cell.config).unwrap();
        assert_eq!(spec.len(), 5, "{spec:?}");
        assert!(spec.contains(&("retrieval_alignment".to_string(), weight)));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unknown_distillation_method_lists_the_registered_ones() {
    let e = err("[distill]\nmethod = \"dagger\"\n");
    assert!(e.starts_with("exp.toml:2:"), "{e}");
    assert!(
        e.contains("distill.method")
            && e.contains("registered methods are none, on_policy, supervised"),
        "{e}"
    );
}

#[test]
fn missing_inputs_are_listed_with_their_fields_before_anything_runs() {
    let dir = std::env::temp_dir().join(format!("quill-inputs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("exp.toml");
    let check = |body: &str| {
        std::fs::write(&path, body).unwrap();
        let exp = quill_experiments::config::load(&path).unwrap();
        quill_experiments::config::check_inputs(&exp).map_err(|e| format!("{e:#}"))
    };
    check("").unwrap();
    let e =
        check("[data]\nsource = \"mind\"\n[data.mind]\nnews = \"n.tsv\"\nbehaviors = \"b.tsv\"\n")
            .unwrap_err();
    for part in [
        "cannot run as it stands",
        "data.mind.news: ",
        "n.tsv is not a file",
        "data.mind.behaviors: ",
    ] {
        assert!(e.contains(part), "{part}: {e}");
    }
    std::fs::write(dir.join("n.tsv"), "").unwrap();
    let e =
        check("[data]\nsource = \"mind\"\n[data.mind]\nnews = \"n.tsv\"\nbehaviors = \"b.tsv\"\n")
            .unwrap_err();
    assert!(
        !e.contains("data.mind.news") && e.contains("data.mind.behaviors"),
        "{e}"
    );
    let e = check("[cleaner]\nload = \"nowhere\"\n").unwrap_err();
    assert!(
        e.contains("cleaner.load: ") && e.contains("not a directory"),
        "{e}"
    );
    if !cfg!(feature = "cuda") {
        let e = check("[experiment]\ndevice = \"cuda\"\n").unwrap_err();
        assert!(
            e.contains("experiment.device") && e.contains("--features cuda"),
            "{e}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn trl_names_point_to_quill_fields_and_overrides_are_recorded() {
    let e = err("[grpo]\nnum_generations = 8\n");
    assert!(
        e.contains("unknown field `num_generations`")
            && e.contains("TRL's num_generations is Quill's grpo.group_size"),
        "{e}"
    );
    let dir = std::env::temp_dir().join(format!("quill-overrides-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("exp.toml");
    std::fs::write(&path, "[grpo]\nsteps = 5\n").unwrap();
    let overrides = quill_experiments::config::Overrides {
        set: vec![
            "grpo.learning_rate=1e-4".into(),
            "rewards.retrieval_alignment.weight=2".into(),
        ],
        name: Some("lr".into()),
    };
    let exp = quill_experiments::config::load_with(&path, &overrides).unwrap();
    assert_eq!(exp.config.grpo.learning_rate, 1e-4);
    assert_eq!(exp.config.grpo.steps, 5);
    assert_eq!(exp.config.experiment.name, "lr");
    // The reward override merges like a file's table: the other four stay.
    assert_eq!(
        quill_experiments::config::reward_spec(&exp.config)
            .unwrap()
            .len(),
        5
    );
    let bad = quill_experiments::config::Overrides {
        set: vec!["grpo.lerning_rate=1".into()],
        name: None,
    };
    let e = format!(
        "{:#}",
        quill_experiments::config::load_with(&path, &bad)
            .err()
            .unwrap()
    );
    assert!(
        e.contains("(with --set grpo.lerning_rate=1)") && e.contains("lerning_rate"),
        "{e}"
    );
    // A sweep's cells carry the overrides (its worker processes get them as arguments).
    std::fs::write(&path, "[sweep.s]\naxes.experiment.seed = [1, 2]\n").unwrap();
    let seven = quill_experiments::config::Overrides {
        set: vec!["grpo.steps=7".into()],
        name: None,
    };
    let exp = quill_experiments::config::load_with(&path, &seven).unwrap();
    let cells = quill_experiments::sweep::expand(&exp).unwrap();
    assert_eq!(cells.len(), 2);
    assert!(cells.iter().all(|c| c.config.grpo.steps == 7));
    assert_eq!(seven.args(), ["--set", "grpo.steps=7"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_experiment_name_is_a_plain_name() {
    for bad in ["../../tmp/elsewhere", "a/b", "..", "a\\b"] {
        let e = err(&format!("[experiment]\nname = {bad:?}\n"));
        assert!(
            e.contains("experiment.name") && e.contains("not a plain name"),
            "{bad}: {e}"
        );
    }
    parse(
        "[experiment]\nname = \"lr-1e-4_seed.7\"\n",
        Path::new("exp.toml"),
    )
    .unwrap();
}

#[test]
fn validate_calls_nothing_valid_before_every_sweep_cell_reads() {
    let dir = std::env::temp_dir().join(format!("quill-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sweep.toml");
    let src = "[experiment]\nname = \"s\"\n\n[sweep.x]\naxes.policy.presett = [\"nano\"]\n";
    std::fs::write(&path, src).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_quill"))
        .arg("validate")
        .arg(&path)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(!out.status.success() && stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("sweep.toml:5:") && stderr.contains("presett"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    // An endless file is refused at the experiment-file limit, not read until memory runs out.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_quill"))
        .args(["validate", "/dev/zero"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("/dev/zero: holds more than 4194304 bytes"),
        "{stderr}"
    );
}

#[cfg(unix)]
#[test]
fn printing_to_a_closed_pipe_ends_quietly_without_a_panic() {
    use std::os::unix::process::ExitStatusExt;
    // A pipe whose reading end is already closed: the first write fails.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_quill"))
        .args(["validate", "--explain"])
        .stdout(writer)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "{:?}", out.status);
}
