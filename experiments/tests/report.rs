//! The report renders from a results table alone: every image it references exists, the HTML
//! parses as well-formed XML, and the paper's shapes are judged from the table's numbers.

use quill_experiments::report::{render, results::Results};
use std::path::{Path, PathBuf};

fn fixture() -> Results {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/results.csv");
    Results::read(&path).unwrap()
}

fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("quill-report-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The values of `attr="..."` in `text`.
fn attributes<'a>(text: &'a str, attr: &str) -> Vec<&'a str> {
    let key = format!("{attr}=\"");
    text.match_indices(&key)
        .filter_map(|(i, _)| text[i + key.len()..].split('"').next())
        .collect()
}

#[test]
fn a_report_renders_from_a_results_table_with_every_image_in_place() {
    let out = out_dir("fixture");
    render("fixture", &fixture(), &[], &out).unwrap();
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    let md = std::fs::read_to_string(out.join("README.md")).unwrap();

    // Well formed: the page parses as XML (void elements are written self-closed).
    let body = html.trim_start_matches("<!DOCTYPE html>\n");
    let doc = roxmltree::Document::parse(body).expect("index.html is well-formed");
    assert_eq!(doc.root_element().tag_name().name(), "html");
    let images = attributes(&html, "src");
    // Best-of-N (2), space scaling (2), ablation (2); no training logs without run dirs.
    assert_eq!(images.len(), 6, "{images:?}");
    for image in &images {
        assert!(image.ends_with(".svg"), "{image}");
        let svg = std::fs::read_to_string(out.join(image)).unwrap();
        roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{image}: {e}"));
        let png = out.join(image.replace(".svg", ".png"));
        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(&bytes[1..4], b"PNG", "{}", png.display());
        assert!(
            md.contains(&format!("]({})", image.replace(".svg", ".png"))),
            "{image}"
        );
    }
    assert!(out.join("results.csv").exists());
    // Markdown and HTML carry the same tables.
    for needle in [
        "Offline retrieval (test split)",
        "Reward ablation",
        "no_interest_coverage",
    ] {
        assert!(html.contains(needle) && md.contains(needle), "{needle}");
    }
}

#[test]
fn the_paper_shapes_are_judged_from_the_numbers() {
    let table = fixture();
    let analysis = quill_experiments::report::analysis::Analysis::new(&table);
    assert_eq!(analysis.reference["ablation"], "full");
    assert_eq!(analysis.reference["preset"], "nano");
    let shapes = quill_experiments::report::shapes::judge(&analysis);
    let words: Vec<&str> = shapes.iter().map(|s| s.verdict.word()).collect();
    // 1: GRPO above the warm start on all three seeds. 2: removing coverage hurts most, but
    // removing specificity helps. 3: gains 0.02 then 0.01. 4: micro above nano. 5-6: no
    // distillation in the table.
    assert_eq!(
        words,
        [
            "yes",
            "partly",
            "yes",
            "yes",
            "not measured",
            "not measured"
        ]
    );
    // Shape 1's paired difference: GRPO lifts seed k by 0.005 + 0.001 k, mean 0.006.
    assert!(
        shapes[0]
            .evidence
            .contains("paired difference 0.0060 ± 0.0025"),
        "{}",
        shapes[0].evidence
    );
    assert!(
        shapes[1].evidence.contains("no_interest_coverage +0.0300"),
        "{}",
        shapes[1].evidence
    );
}

#[test]
fn a_table_without_its_key_columns_is_an_error_naming_the_column() {
    let dir = out_dir("bad");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("results.csv");
    std::fs::write(&path, "policy,decoding,seed\nwarm_start,sampled,1\n").unwrap();
    let e = Results::read(&path).unwrap_err().to_string();
    assert!(e.contains("results.csv") && e.contains("best_of_n"), "{e}");
}

#[test]
fn the_best_of_n_curve_comes_from_the_cells_with_the_most_draws() {
    // Two cells of one seed: 2 draws per user (R@10 0.1 at N = 2) and 4 draws (0.2 at N = 2,
    // 0.3 at N = 4). The curve must not mix them: N = 2 reads 0.2.
    let header = "experiment,cell,samples_per_user,policy,decoding,best_of_n,seed,ablation,preset,params,recall@10";
    // Cell a comes first and has as many rows, so the other views hold draws at 2.
    let rows = [
        "x,a,2,grpo,greedy,1,1,full,nano,10,0.07",
        "x,a,2,grpo,sampled,1,1,full,nano,10,0.05",
        "x,a,2,grpo,sampled,2,1,full,nano,10,0.1",
        "x,b,4,grpo,sampled,1,1,full,nano,10,0.05",
        "x,b,4,grpo,sampled,2,1,full,nano,10,0.2",
        "x,b,4,grpo,sampled,4,1,full,nano,10,0.3",
    ];
    let dir = out_dir("draws");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("results.csv");
    std::fs::write(&path, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
    let table = Results::read(&path).unwrap();
    let analysis = quill_experiments::report::analysis::Analysis::new(&table);
    assert_eq!(analysis.reference["samples_per_user"], "2");
    let curve = &analysis.time_scaling("recall@10")[0];
    let points: Vec<(f64, f64)> = curve.points.iter().map(|(n, e)| (*n, e.mean)).collect();
    assert_eq!(points, vec![(1.0, 0.05), (2.0, 0.2), (4.0, 0.3)]);
}

#[test]
fn an_axis_zipped_with_the_preset_varies_along_the_space_curve() {
    // learning_rate is zipped with the preset (nano 0.003, mini 0.002) and the ablation is
    // crossed with both: the space curve must keep mini although its learning rate is not the
    // most common one, and must still hold the ablation at full.
    let dir = out_dir("zipped");
    std::fs::create_dir_all(&dir).unwrap();
    let mut csv = String::from(
        "experiment,cell,learning_rate,policy,decoding,best_of_n,seed,ablation,preset,params,recall@10\n",
    );
    for seed in [1, 2, 3] {
        for (preset, lr, params, recall) in
            [("nano", 0.003, 131392, 0.06), ("mini", 0.002, 406176, 0.12)]
        {
            for (ablation, drop) in [("full", 0.0), ("no_interest_coverage", 0.05)] {
                let value = recall - drop + 0.001 * seed as f64;
                csv.push_str(&format!(
                    "zipped,c,{lr},grpo,sampled,1,{seed},{ablation},{preset},{params},{value}\n"
                ));
            }
        }
    }
    for seed in [1, 2, 3] {
        // More nano rows make 0.003 the most common learning rate.
        csv.push_str(&format!(
            "zipped,c,0.003,grpo,sampled,1,{seed},no_query_specificity,nano,131392,0.01\n"
        ));
    }
    let path = dir.join("results.csv");
    std::fs::write(&path, csv).unwrap();
    let table = Results::read(&path).unwrap();
    let analysis = quill_experiments::report::analysis::Analysis::new(&table);
    assert_eq!(analysis.reference["learning_rate"], "0.003");
    let curve = analysis.space_scaling("recall@10");
    assert_eq!(curve.len(), 1);
    let points: Vec<(f64, f64)> = curve[0]
        .points
        .iter()
        .map(|(x, e)| (*x, (e.mean * 1e6).round() / 1e6))
        .collect();
    // Means over seeds 1-3 of the full ablation only: 0.06 + 0.002 and 0.12 + 0.002.
    assert_eq!(points, [(131392.0, 0.062), (406176.0, 0.122)]);
    // The ablation view still holds the learning rate (not a function of the ablation).
    let ablation = analysis.ablation("recall@10");
    let names: Vec<&str> = ablation.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        names,
        ["full", "no_interest_coverage", "no_query_specificity"]
    );
}

#[test]
fn the_committed_paper_results_show_all_three_experiments_with_three_seeds() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports/paper/results.csv");
    let table = Results::read(&path).unwrap();
    let analysis = quill_experiments::report::analysis::Analysis::new(&table);
    let space = analysis.space_scaling("recall@10");
    let time = analysis.time_scaling("recall@10");
    let ablation = analysis.ablation("recall@10");
    for series in space.iter().chain(&time) {
        assert!(
            series.points.iter().all(|(_, e)| e.n == 3),
            "{}",
            series.label
        );
    }
    assert_eq!(space[0].points.len(), 4, "four presets");
    assert_eq!(time[0].points.len(), 6, "N = 1 to 32");
    assert_eq!(ablation.len(), 6);
    assert!(ablation.iter().all(|(_, e)| e.n == 3));
    let out = out_dir("paper");
    render("paper", &table, &[], &out).unwrap();
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert_eq!(attributes(&html, "src").len(), 6);
}
