//! The shipped paper experiments cover what issue 6 asks of them: best-of-N up to 32, at least
//! four presets spanning 10x in parameters, `full` and every `no_<reward>` ablation, and three
//! seeds at every point. Checked on the expanded cells, so a typo in an axis shows here.

use quill::policy::find_preset;
use quill_experiments::config::load;
use quill_experiments::sweep::{Cell, expand};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn cells(name: &str) -> Vec<Cell> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../configs/{name}.toml"));
    let exp = load(&path).unwrap_or_else(|e| panic!("{name}: {e:#}"));
    expand(&exp).unwrap_or_else(|e| panic!("{name}: {e:#}"))
}

/// Seeds of the cells of one sweep, grouped by `key`.
fn seeds_by(
    cells: &[Cell],
    sweep: &str,
    key: impl Fn(&Cell) -> String,
) -> BTreeMap<String, BTreeSet<u64>> {
    let mut groups: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    for cell in cells.iter().filter(|c| c.sweeps.iter().any(|s| s == sweep)) {
        groups
            .entry(key(cell))
            .or_default()
            .insert(cell.config.experiment.seed);
    }
    groups
}

fn check_paper_file(name: &str) {
    let cells = cells(name);
    let presets = seeds_by(&cells, "space", |c| c.config.policy.preset.clone());
    assert!(presets.len() >= 4, "{name}: {presets:?}");
    let params: Vec<usize> = presets
        .keys()
        .map(|p| find_preset(p).unwrap().config.param_count())
        .collect();
    let (min, max) = (params.iter().min().unwrap(), params.iter().max().unwrap());
    assert!(*max >= 10 * *min, "{name}: parameters {params:?}");

    let ablations = seeds_by(&cells, "ablation", |c| c.config.experiment.ablation.clone());
    let mut expected: BTreeSet<String> = quill_experiments::quill_rewards::PAPER_REWARDS
        .iter()
        .map(|r| format!("no_{r}"))
        .collect();
    expected.insert("full".into());
    assert_eq!(
        ablations.keys().cloned().collect::<BTreeSet<_>>(),
        expected,
        "{name}"
    );

    let most_draws = cells
        .iter()
        .map(|c| c.config.evaluation.samples_per_user)
        .max()
        .unwrap();
    assert!(
        most_draws >= 32,
        "{name}: best-of-N reaches only {most_draws}"
    );
    let curve = seeds_by(
        &cells,
        if name == "paper" { "time" } else { "space" },
        |c| c.config.evaluation.samples_per_user.to_string(),
    );
    for groups in [&presets, &ablations, &curve] {
        for (point, seeds) in groups.iter() {
            assert!(seeds.len() >= 3, "{name}: {point} has seeds {seeds:?}");
        }
    }
}

#[test]
fn the_cpu_paper_sweep_has_every_experiment_with_three_seeds() {
    check_paper_file("paper");
    // 4 presets x 3 seeds, 6 ablations x 3 seeds, 3 time cells; the nano space cells are
    // the full ablation cells.
    assert_eq!(cells("paper").len(), 12 + 18 + 3 - 3);
}

#[test]
fn the_gpu_paper_sweep_has_every_experiment_with_three_seeds() {
    check_paper_file("paper-gpu");
}
