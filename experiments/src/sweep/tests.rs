use super::runner::Shard;
use super::*;
use crate::config::load;

/// Writes `src` to a fresh experiment file and loads it.
fn experiment(name: &str, src: &str) -> Experiment {
    let dir = std::env::temp_dir().join(format!("quill-sweep-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sweep.toml");
    std::fs::write(&path, src).unwrap();
    load(&path).unwrap()
}

fn expand_err(name: &str, src: &str) -> String {
    let dir = std::env::temp_dir().join(format!("quill-sweep-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sweep.toml");
    std::fs::write(&path, src).unwrap();
    match load(&path).and_then(|exp| expand(&exp)) {
        Ok(cells) => panic!("expected an error, got {} cells", cells.len()),
        Err(e) => format!("{e:#}"),
    }
}

const BASE: &str = "[experiment]\nname = \"s\"\noutput_dir = \"out\"\n";

#[test]
fn product_crosses_axes_in_path_order_and_names_cells_by_their_values() {
    let src = format!(
        "{BASE}[sweep.grid]\naxes.policy.preset = [\"micro\", \"nano\"]\naxes.experiment.seed = [1, 2, 3]\n"
    );
    let exp = experiment("product", &src);
    let cells = expand(&exp).unwrap();
    let got: Vec<(String, u64)> = cells
        .iter()
        .map(|c| (c.config.policy.preset.clone(), c.config.experiment.seed))
        .collect();
    // experiment.seed sorts before policy.preset, so the preset varies fastest.
    let want: Vec<(String, u64)> = [1, 2, 3]
        .iter()
        .flat_map(|s| ["micro", "nano"].map(|p| (p.to_string(), *s)))
        .collect();
    assert_eq!(got, want);
    assert!(
        cells[0].id.starts_with("seed-1_preset-micro_"),
        "{}",
        cells[0].id
    );
    assert_eq!(cells[0].axes["experiment.seed"], Value::Integer(1));
    // Each cell writes under the experiment's cells/ and names itself by its id.
    assert_eq!(
        cells[4].config.experiment.output_dir,
        Path::new("out/s/cells")
    );
    assert_eq!(cells[4].config.experiment.name, cells[4].id);
    let ids: std::collections::BTreeSet<&str> = cells.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids.len(), 6);
}

#[test]
fn zip_pairs_the_ith_values_and_rejects_unequal_lengths() {
    let src = format!(
        "{BASE}[sweep.pairs]\nmode = \"zip\"\naxes.experiment.seed = [1, 2]\naxes.grpo.learning_rate = [1e-4, 2e-4]\n"
    );
    let cells = expand(&experiment("zip", &src)).unwrap();
    let got: Vec<(u64, f64)> = cells
        .iter()
        .map(|c| (c.config.experiment.seed, c.config.grpo.learning_rate))
        .collect();
    assert_eq!(got, vec![(1, 1e-4), (2, 2e-4)]);
    let bad = format!(
        "{BASE}[sweep.pairs]\nmode = \"zip\"\naxes.experiment.seed = [1, 2]\naxes.grpo.learning_rate = [1e-4]\n"
    );
    let e = expand_err("zip-bad", &bad);
    assert!(e.contains("sweep.pairs"), "{e}");
    assert!(e.contains("zipped axes need one length"), "{e}");
    assert!(
        e.contains("experiment.seed has 2 values, grpo.learning_rate has 1"),
        "{e}"
    );
}

#[test]
fn zip_groups_pair_their_axes_inside_a_product() {
    // A learning rate per preset, crossed with two seeds: 2 x 2 cells, never micro at 3e-3.
    let src = format!(
        "{BASE}[sweep.space]\nzip = [[\"policy.preset\", \"warm_start.learning_rate\"]]\n\
         axes.policy.preset = [\"nano\", \"micro\"]\naxes.warm_start.learning_rate = [3e-3, 1e-3]\n\
         axes.experiment.seed = [1, 2]\n"
    );
    let cells = expand(&experiment("zip-group", &src)).unwrap();
    let got: Vec<(u64, String, f64)> = cells
        .iter()
        .map(|c| {
            let cfg = &c.config;
            (
                cfg.experiment.seed,
                cfg.policy.preset.clone(),
                cfg.warm_start.learning_rate,
            )
        })
        .collect();
    let want = vec![
        (1, "nano".to_string(), 3e-3),
        (1, "micro".to_string(), 1e-3),
        (2, "nano".to_string(), 3e-3),
        (2, "micro".to_string(), 1e-3),
    ];
    assert_eq!(got, want);
    let e = expand_err(
        "zip-unknown",
        &format!("{BASE}[sweep.s]\nzip = [[\"policy.preset\"]]\naxes.experiment.seed = [1]\n"),
    );
    assert!(
        e.contains("zip names policy.preset, which is not an axis"),
        "{e}"
    );
}

#[test]
fn sweeps_that_produce_the_same_config_share_one_cell() {
    // `seeds` at the default preset and `space` over two presets meet at (nano, seed 1).
    let src = format!(
        "{BASE}[sweep.seeds]\naxes.experiment.seed = [1, 2]\n\
         [sweep.space]\naxes.policy.preset = [\"nano\", \"micro\"]\naxes.experiment.seed = [1]\n"
    );
    let cells = expand(&experiment("share", &src)).unwrap();
    assert_eq!(
        cells.len(),
        3,
        "{:?}",
        cells.iter().map(|c| &c.id).collect::<Vec<_>>()
    );
    let shared = cells
        .iter()
        .find(|c| c.config.experiment.seed == 1 && c.config.policy.preset == "nano")
        .unwrap();
    assert_eq!(
        shared.sweeps,
        vec!["seeds".to_string(), "space".to_string()]
    );
}

#[test]
fn the_cell_hash_ignores_name_and_place_but_not_content() {
    let exp = experiment(
        "hash",
        &format!("{BASE}[sweep.a]\naxes.experiment.seed = [1, 2]\n"),
    );
    let cells = expand(&exp).unwrap();
    assert_ne!(cells[0].hash, cells[1].hash);
    let mut moved = cells[0].config.clone();
    moved.experiment.name = "elsewhere".into();
    moved.experiment.output_dir = PathBuf::from("/tmp/other");
    assert_eq!(cell_hash(&moved).unwrap(), cells[0].hash);
}

#[test]
fn bad_axes_are_errors_naming_the_sweep_and_the_field() {
    let not_a_list = expand_err(
        "not-list",
        &format!("{BASE}[sweep.x]\naxes.policy.preset = \"nano\"\n"),
    );
    assert!(
        not_a_list.contains("sweep.x.axes.policy.preset: an axis is a list of values"),
        "{not_a_list}"
    );
    let empty = expand_err(
        "empty",
        &format!("{BASE}[sweep.x]\naxes.experiment.seed = []\n"),
    );
    assert!(
        empty.contains("experiment.seed: an axis needs at least one value"),
        "{empty}"
    );
    let unknown = expand_err(
        "unknown",
        &format!("{BASE}[sweep.x]\naxes.policy.presett = [\"nano\"]\n"),
    );
    // The axis's own line (5), not one of the generated cell's.
    assert!(
        unknown.contains("sweep.toml:5:")
            && unknown.contains("sweep.x.axes.policy.presett = \"nano\": unknown field `presett`"),
        "{unknown}"
    );
    let wrong_type = expand_err(
        "wrong-type",
        &format!(
            "{BASE}[sweep.x]
axes.experiment.seed = [1]
axes.grpo.steps = [\"ten\"]
"
        ),
    );
    assert!(
        wrong_type.contains("sweep.toml:6:") && wrong_type.contains("grpo.steps = \"ten\""),
        "{wrong_type}"
    );
    let bad_value = expand_err(
        "bad-value",
        &format!("{BASE}[sweep.x]\naxes.policy.preset = [\"huge\"]\n"),
    );
    assert!(bad_value.contains("huge"), "{bad_value}");
    let no_axes = expand_err("no-axes", &format!("{BASE}[sweep.x]\nmode = \"zip\"\n"));
    assert!(no_axes.contains("sweep.x has no axes"), "{no_axes}");
}

#[test]
fn shards_parse_and_split_cells_into_disjoint_covering_parts() {
    assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
    for bad in ["0/4", "5/4", "a/b", "3", "1/0"] {
        let e = bad.parse::<Shard>().unwrap_err();
        assert!(e.contains("1 <= i <= n"), "{bad}: {e}");
    }
    let shards: Vec<Shard> = (1..=3).map(|i| Shard { index: i, count: 3 }).collect();
    for k in 0..10 {
        assert_eq!(shards.iter().filter(|s| s.owns(k)).count(), 1, "cell {k}");
    }
}

#[test]
fn checkpoints_can_be_swept_and_never_beside_a_preset() {
    let src = format!(
        "{BASE}[policy]\nprompt_budget = 384\n[sweep.models]\n\
         axes.policy.checkpoint = [\"models/a.gguf\", \"models/b\"]\n"
    );
    let cells = expand(&experiment("checkpoints", &src)).unwrap();
    let got: Vec<_> = cells
        .iter()
        .map(|c| c.config.policy.checkpoint.clone())
        .collect();
    assert_eq!(
        got,
        [
            Some(PathBuf::from("models/a.gguf")),
            Some(PathBuf::from("models/b"))
        ]
    );
    assert_ne!(cells[0].id, cells[1].id);
    // A base that sets a preset cannot sweep checkpoints: each cell would set both.
    let src = format!(
        "{BASE}[policy]\npreset = \"nano\"\n[sweep.models]\naxes.policy.checkpoint = [\"a.gguf\"]\n"
    );
    let err = expand_err("checkpoint-and-preset", &src);
    assert!(
        err.contains("policy.preset and policy.checkpoint are both set"),
        "{err}"
    );
}
