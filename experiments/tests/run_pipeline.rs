//! `quill run` on real configs, end to end: the simulator with a trained cleaner, then MIND
//! (no noise labels) with that saved cleaner loaded.

use quill_experiments::{config, pipeline};
use std::path::{Path, PathBuf};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("quill-run-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_config(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("exp.toml");
    std::fs::write(&path, body).unwrap();
    path
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn world_run_trains_a_cleaner_then_mind_reuses_it() {
    let dir = temp_dir("pipeline");
    let world_cfg = format!(
        "[experiment]\nname = \"w\"\nseed = 3\noutput_dir = {out:?}\n\
         [data]\nusers = 400\n[data.corpus]\narticles = 2000\n\
         [cleaner]\nepochs = 2\ntrain_users = 300\n\
         [warm_start]\nlm_steps = 3\nsft_steps = 3\nbatch_size = 4\neval_users = 4\n\
         [sampling]\nmax_new_tokens = 24\n\
         [grpo]\nsteps = 2\nprompts_per_step = 2\ngroup_size = 2\neval_every = 1\neval_users = 3\n",
        out = dir.join("out")
    );
    let exp = config::load(&write_config(&dir, &world_cfg)).unwrap();
    pipeline::run(&exp, Default::default()).unwrap();
    let out = dir.join("out/w");
    let metrics = read_json(&out.join("metrics.json"));
    assert_eq!(metrics["users"], 400);
    // The code behind the figures; this temporary directory is no git repository.
    let provenance = &metrics["provenance"];
    assert_eq!(provenance["quill_version"], env!("CARGO_PKG_VERSION"));
    assert!(provenance.get("git_commit").is_some() && provenance.get("git_dirty").is_some());
    let f1 = metrics["cleaner"]["test"]["f1"].as_f64().unwrap();
    assert!(f1 > 0.8, "cleaner F1 {f1}");
    let stats = read_json(&out.join("stats.json"));
    let raw = stats["raw"]["noise_rate"].as_f64().unwrap();
    let cleaned = stats["cleaned"]["noise_rate"].as_f64().unwrap();
    assert!(
        cleaned < raw / 2.0,
        "cleaning left noise {cleaned} of {raw}"
    );
    assert!(out.join("config.toml").exists() && out.join("cleaner").is_dir());

    let warm = &metrics["warm_start"];
    assert_eq!(warm["sampled_lists"], 4);
    assert_eq!(warm["sft_loss"].as_array().unwrap().len(), 3);
    assert!(
        out.join("policy/policy.json").is_file() && out.join("policy/tokenizer.json").is_file()
    );

    // The test table has both policies both ways, and the two references; the bootstrap
    // lists are built inside the format, so every one is structurally valid.
    let test = metrics["test"].as_object().unwrap();
    for row in [
        "warm_start/greedy",
        "warm_start/sampled",
        "grpo/greedy",
        "grpo/sampled",
        "history_as_queries",
        "bootstrap_lists",
    ] {
        assert!(test.contains_key(row), "no {row} in {:?}", test.keys());
    }
    // Greedy rows score one list per user, sampled rows `samples_per_user` (default 4).
    let users = test["users"].as_u64().unwrap();
    assert!(users > 0);
    assert_eq!(test["warm_start/greedy"]["rewards"]["lists"], users);
    assert_eq!(test["grpo/sampled"]["rewards"]["lists"], 4 * users);
    let targets = &test["bootstrap_lists"]["rewards"]["per_reward"];
    assert_eq!(targets["structural_validity"], 1.0, "{targets}");
    // Best-of-N over the 4 draws: N = 1, 2, 4, one list per user each. The picks are nested
    // (N draws include the first N/2), so their mean composite cannot fall as N grows, and the
    // best of all 4 draws scores at least their mean.
    for policy in ["warm_start", "grpo"] {
        let curve = test["best_of_n"][policy].as_array().unwrap();
        let ns: Vec<u64> = curve.iter().map(|p| p["n"].as_u64().unwrap()).collect();
        assert_eq!(ns, vec![1, 2, 4], "{policy}");
        let composite = |p: &serde_json::Value| p["eval"]["rewards"]["composite"].as_f64().unwrap();
        for pair in curve.windows(2) {
            assert!(
                composite(&pair[1]) >= composite(&pair[0]) - 1e-9,
                "{policy}: {pair:?}"
            );
        }
        for p in curve {
            assert_eq!(p["eval"]["rewards"]["lists"], users);
        }
        let mean = test[&format!("{policy}/sampled")]["rewards"]["composite"]
            .as_f64()
            .unwrap();
        assert!(composite(&curve[2]) >= mean - 1e-9, "{policy}");
    }
    // The validation split is evaluated alike, and each of the 4 draws is kept on its own.
    let valid = metrics["valid"].as_object().unwrap();
    assert!(test.keys().eq(valid.keys()), "{:?}", valid.keys());
    assert_eq!(test["draws"]["grpo"].as_array().unwrap().len(), 4);

    // GRPO's TensorBoard directory holds the run's settings as hparams beside its scalars.
    let tb: Vec<PathBuf> = std::fs::read_dir(out.join("grpo/tensorboard"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let hparams: Vec<_> = tb
        .iter()
        .filter_map(|p| quill::log::read_hparams(p).ok())
        .collect();
    assert_eq!((tb.len(), hparams.len()), (2, 1), "{tb:?}");
    use quill::log::HParam;
    assert_eq!(hparams[0]["grpo.steps"], HParam::Number(2.0));
    assert_eq!(hparams[0]["experiment.name"], HParam::Text("w".into()));
    let version = HParam::Text(env!("CARGO_PKG_VERSION").into());
    assert_eq!(hparams[0]["quill.version"], version);

    // A rerun of the same config reuses the finished warm start.
    let saved = std::fs::read(out.join("policy/weights.safetensors")).unwrap();
    pipeline::run(&exp, Default::default()).unwrap();
    assert_eq!(
        std::fs::read(out.join("policy/weights.safetensors")).unwrap(),
        saved
    );

    // `quill sample` loads the checkpoint for a user of the dataset.
    let data = quill::data::load_dataset(&exp.config.data, 3, &exp.base_dir).unwrap();
    let user = data.iter().next().unwrap();
    quill_experiments::sample_cmd::sample(&exp, &user.id, None, 2).unwrap();
    let err = quill_experiments::sample_cmd::sample(&exp, "nobody", None, 1).unwrap_err();
    assert!(format!("{err:#}").contains("no user \"nobody\""), "{err:#}");

    // The same seed and config give the same metrics, the warm start's included.
    std::fs::rename(&out, dir.join("first")).unwrap();
    pipeline::run(&exp, Default::default()).unwrap();
    let again = read_json(&out.join("metrics.json"));
    assert_eq!(again["cleaner"]["test"], metrics["cleaner"]["test"]);
    assert_eq!(again["warm_start"]["sft_loss"], warm["sft_loss"]);
    assert_eq!(again["warm_start"]["valid_rate"], warm["valid_rate"]);

    // MIND has no noise labels: the saved cleaner is loaded instead of trained.
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../framework/tests/fixtures/mind");
    let mind_cfg = format!(
        "[experiment]\nname = \"m\"\noutput_dir = {out:?}\n\
         [data]\nsource = \"mind\"\nusers = 0\n[data.mind]\nnews = {news:?}\nbehaviors = {beh:?}\n\
         [cleaner]\nload = {load:?}\n[warm_start]\nenabled = false\n[grpo]\nenabled = false\n",
        out = dir.join("out"),
        news = fixtures.join("news.tsv"),
        beh = fixtures.join("behaviors.tsv"),
        load = dir.join("first/cleaner"),
    );
    let exp = config::load(&write_config(&dir, &mind_cfg)).unwrap();
    pipeline::run(&exp, Default::default()).unwrap();
    let metrics = read_json(&dir.join("out/m/metrics.json"));
    assert_eq!(metrics["users"], 4);
    assert!(metrics["cleaner"]["training"]["loaded_from"].is_string());

    // Without a saved cleaner, an unlabelled dataset cannot train one: a clear error.
    let no_labels = mind_cfg.replace(
        &format!("load = {:?}", dir.join("first/cleaner")),
        "enabled = true",
    );
    let exp = config::load(&write_config(&dir, &no_labels)).unwrap();
    let err = format!("{:#}", pipeline::run(&exp, Default::default()).unwrap_err());
    assert!(
        err.contains("no noise labels") && err.contains("cleaner.load"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
