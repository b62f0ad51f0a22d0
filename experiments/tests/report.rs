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
            .contains("paired difference +0.0060 ± 0.0025 over 3 seeds"),
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
fn with_a_prompt_only_row_shape_1_starts_there_and_states_grpos_own_gain() {
    // The fixture with a prompt-only policy of R@10 0.01 beside every warm-start row.
    let mut table = fixture();
    let column = |name: &str| table.header.iter().position(|h| h == name).unwrap();
    let (policy, recall) = (column("policy"), column("recall@10"));
    let prompt_only: Vec<Vec<String>> = table
        .rows
        .iter()
        .filter(|r| r[policy] == "warm_start")
        .map(|r| {
            let mut r = r.clone();
            r[policy] = "prompt_only".into();
            r[recall] = "0.010000".into();
            r
        })
        .collect();
    table.rows.extend(prompt_only);
    let analysis = quill_experiments::report::analysis::Analysis::new(&table);
    let shape = &quill_experiments::report::shapes::judge(&analysis)[0];
    assert_eq!(shape.verdict.word(), "yes");
    let (start, own) = shape
        .evidence
        .split_once("; against its own starting point: ")
        .unwrap();
    assert!(
        start.starts_with("sampled R@10 0.0100 ± 0.0000 (prompt only) -> "),
        "{start}"
    );
    assert!(
        own.starts_with("sampled R@10 ") && own.contains("(warm start) -> "),
        "{own}"
    );
    // GRPO's own gain is the fixture's: seed k lifted by 0.005 + 0.001 k.
    assert!(
        own.contains("paired difference +0.0060 ± 0.0025 over 3 seeds"),
        "{own}"
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

// --- Distillation ------------------------------------------------------------------------

/// Three seeds (42, 1, 7) × three method cells, as `collect` writes them: each cell repeats
/// the seed's teacher (GRPO, nano) and student warm start (pico). Sampled R@10 by seed:
/// teacher 0.10, 0.12, 0.14; on-policy 0.09, 0.12, 0.126; supervised 0.08, 0.10, 0.112;
/// none 0.06, 0.07, 0.084; student warm start 0.05, 0.06, 0.07. The other metrics are R@10
/// shifted (R@5 −0.04, N@5 −0.03, N@10 −0.02, MRR +0.05). users/s: students 80, 88, 96; the
/// teacher 20, 22, 24 in the on-policy cells and one more or less in the others (each cell
/// times it anew). Greedy and best-of-2 rows sit 0.01 and 0.02 above, to be left out.
fn distill_fixture() -> Results {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/distill_results.csv");
    Results::read(&path).unwrap()
}

/// `table` with two values of the `method` column exchanged.
fn swap_methods(table: &Results, a: &str, b: &str) -> Results {
    let i = table.header.iter().position(|h| h == "method").unwrap();
    let mut out = table.clone();
    for row in &mut out.rows {
        row[i] = match row[i].as_str() {
            x if x == a => b.to_string(),
            x if x == b => a.to_string(),
            x => x.to_string(),
        };
    }
    out
}

fn distill_metrics() -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/distill/metrics.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_distillation_cell_gives_each_policy_its_own_model_and_every_row_the_method() {
    use quill_experiments::report::results::collect;
    let m = distill_metrics();
    let table = collect(&[(PathBuf::from("cells/method-on_policy_seed-42"), m.clone())]);
    let col = |name: &str| table.header.iter().position(|h| h == name).unwrap();
    // The method is an axis: before the row keys, as a swept field is.
    assert!(col("method") < col("policy"), "{:?}", table.header);
    let find = |policy: &str, decoding: &str| {
        table
            .rows
            .iter()
            .find(|r| r[col("policy")] == policy && r[col("decoding")] == decoding)
            .unwrap_or_else(|| panic!("{policy}/{decoding}"))
    };
    for (policy, decoding, preset, params) in [
        ("grpo", "sampled", "nano", "131392"),
        ("warm_start", "greedy", "nano", "131392"),
        ("student", "sampled", "pico", "41120"),
        ("student_warm_start", "greedy", "pico", "41120"),
        // Model-free: no entry under `policies`, so the warm start's, as before.
        ("history_as_queries", "none", "nano", "131392"),
    ] {
        let row = find(policy, decoding);
        assert_eq!(
            (row[col("preset")].as_str(), row[col("params")].as_str()),
            (preset, params),
            "{policy}"
        );
    }
    assert!(table.rows.iter().all(|r| r[col("method")] == "on_policy"));
    assert_eq!(find("student", "sampled")[col("users_per_s")], "81.000");
    assert_eq!(find("grpo", "sampled")[col("users_per_s")], "20.500");
    // Best-of-N rows of the student too.
    assert!(
        table
            .rows
            .iter()
            .any(|r| r[col("policy")] == "student" && r[col("best_of_n")] == "4")
    );

    // Without `policies` and `distill` (an ordinary cell): every policy is the warm start's
    // model and there is no method column.
    let mut plain = m;
    let obj = plain.as_object_mut().unwrap();
    obj.remove("policies");
    obj.remove("distill");
    obj["cell"]["axes"]
        .as_object_mut()
        .unwrap()
        .remove("distill.method");
    let table = collect(&[(PathBuf::from("cells/x"), plain)]);
    assert!(!table.header.iter().any(|h| h == "method"));
    let preset = table.header.iter().position(|h| h == "preset").unwrap();
    assert!(table.rows.iter().all(|r| r[preset] == "nano"));
}

#[test]
fn the_distillation_table_takes_each_seed_once_and_shares_pair_by_seed() {
    use quill_experiments::report::distill::{Distillation, Role, SPEED};
    let table = distill_fixture();
    let analysis = quill_experiments::report::analysis::Analysis::new(&table);
    // The other views hold the method at the paper's, so they see one cell per seed.
    assert_eq!(analysis.reference["method"], "on_policy");
    let d = Distillation::of(&analysis).unwrap();
    let roles: Vec<Role> = d.rows.iter().map(|r| r.role).collect();
    assert_eq!(roles, Role::ALL);
    let show = |role: Role, column: &str| d.row(role).unwrap().estimate(column).unwrap().show(4);
    // Teacher: three seeds, not nine copies; mean 0.12, sd 0.02, 4.303 · 0.02 / √3 = 0.0497.
    let teacher = d.row(Role::Teacher).unwrap();
    assert_eq!(teacher.seeds.len(), 3);
    assert_eq!(show(Role::Teacher, "recall@10"), "0.1200 ± 0.0497");
    assert_eq!(show(Role::Teacher, "recall@5"), "0.0800 ± 0.0497");
    assert_eq!(show(Role::Teacher, "mrr"), "0.1700 ± 0.0497");
    // Its users/s: each seed's three timings averaged (20, 22, 24), then over seeds.
    assert_eq!(teacher.estimate(SPEED).unwrap().show(1), "22.0 ± 5.0");
    assert_eq!(
        (teacher.preset.as_str(), teacher.params),
        ("nano", Some(131392.0))
    );
    // Students: (0.09 + 0.12 + 0.126) / 3 = 0.112, and so on.
    assert_eq!(show(Role::OnPolicy, "recall@10"), "0.1120 ± 0.0479");
    assert_eq!(show(Role::OnPolicy, "ndcg@10"), "0.0920 ± 0.0479");
    assert_eq!(show(Role::Supervised, "recall@10"), "0.0973 ± 0.0402");
    // (Its half-width, 0.029950, sits on a rounding edge: compared as a number.)
    let none = d
        .row(Role::NoDistillation)
        .unwrap()
        .estimate("recall@10")
        .unwrap();
    assert!((none.mean - 0.071_333).abs() < 1e-6 && (none.half_width - 0.029_950).abs() < 1e-5);
    assert_eq!(show(Role::StudentWarmStart, "recall@10"), "0.0600 ± 0.0248");
    let student = d.row(Role::OnPolicy).unwrap();
    assert_eq!(
        (student.preset.as_str(), student.params),
        ("pico", Some(41120.0))
    );
    // Shares of the teacher's R@10 by seed: on-policy 0.9, 1.0, 0.9; supervised 0.8, 0.833,
    // 0.8; none 0.6, 0.583, 0.6; the warm start 0.5 throughout.
    let share = |role: Role| d.share_of_teacher(role).unwrap();
    let on = share(Role::OnPolicy);
    assert!((on.mean - 0.933_333).abs() < 1e-6 && (on.half_width - 0.143_433).abs() < 1e-5);
    assert!((share(Role::Supervised).mean - 0.811_111).abs() < 1e-6);
    assert!((share(Role::NoDistillation).mean - 0.594_444).abs() < 1e-6);
    assert!((share(Role::StudentWarmStart).mean - 0.5).abs() < 1e-9);
    assert_eq!(share(Role::Teacher).mean, 1.0);
}

#[test]
fn the_distillation_shapes_are_judged_by_seed() {
    use quill_experiments::report::{analysis::Analysis, shapes::judge};
    let table = distill_fixture();
    let shapes = judge(&Analysis::new(&table));
    let (order, speed) = (&shapes[4], &shapes[5]);
    // The fixture's ordering holds (seed 1's on-policy student ties its teacher: ≥ allows it).
    assert_eq!(order.verdict.word(), "yes", "{}", order.evidence);
    for needle in [
        "teacher (GRPO) 0.1200 ± 0.0497",
        "teacher - on-policy +0.0080 ± 0.0179 over 3 seeds (>= on 3 of 3)",
        "on-policy - supervised +0.0147 ± 0.0125 over 3 seeds (> on 3 of 3)",
        "supervised - none +0.0260 ± 0.0131 over 3 seeds (> on 3 of 3)",
    ] {
        assert!(
            order.evidence.contains(needle),
            "{needle}: {}",
            order.evidence
        );
    }
    // Students 80, 88, 96 users/s against 20, 22, 24: 4x on every seed.
    assert_eq!(speed.verdict.word(), "yes", "{}", speed.evidence);
    assert!(
        speed
            .evidence
            .contains("4.00x ± 0.00 over 3 seeds, faster on 3"),
        "{}",
        speed.evidence
    );
    assert!(
        speed.evidence.contains("teacher (nano, 131k) 22.0 ± 5.0"),
        "{}",
        speed.evidence
    );

    // On-policy and supervised exchanged: on-policy no longer beats the supervised student.
    let swapped = swap_methods(&table, "on_policy", "supervised");
    let shapes = judge(&Analysis::new(&swapped));
    assert_eq!(shapes[4].verdict.word(), "no", "{}", shapes[4].evidence);
    assert!(
        shapes[4]
            .evidence
            .contains("on-policy - supervised -0.0147"),
        "{}",
        shapes[4].evidence
    );
    // Supervised and none exchanged: on-policy still the best student, the rest out of order.
    let swapped = swap_methods(&table, "supervised", "none");
    let shapes = judge(&Analysis::new(&swapped));
    assert_eq!(shapes[4].verdict.word(), "partly", "{}", shapes[4].evidence);

    // A student only 1.5 times faster than its teacher is faster, not many times faster.
    let mut slow = table.clone();
    let col = |n: &str| slow.header.iter().position(|h| h == n).unwrap();
    let (policy, speed_col) = (col("policy"), col("users_per_s"));
    for row in &mut slow.rows {
        if row[policy] == "student" && !row[speed_col].is_empty() {
            let v: f64 = row[speed_col].parse().unwrap();
            row[speed_col] = format!("{}", v * 1.5 / 4.0);
        }
    }
    let shapes = judge(&Analysis::new(&slow));
    assert_eq!(shapes[5].verdict.word(), "partly", "{}", shapes[5].evidence);
    assert!(
        shapes[5].evidence.contains("1.50x"),
        "{}",
        shapes[5].evidence
    );

    // Without distillation cells, exactly as before.
    let shapes = judge(&Analysis::new(&fixture()));
    for s in &shapes[4..] {
        assert_eq!(s.evidence, "distillation is not in this experiment");
    }
}

#[test]
fn the_distillation_table_and_its_chart_render() {
    let out = out_dir("distill");
    render("distill", &distill_fixture(), &[], &out).unwrap();
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    let md = std::fs::read_to_string(out.join("README.md")).unwrap();
    let body = html.trim_start_matches("<!DOCTYPE html>\n");
    roxmltree::Document::parse(body).expect("index.html is well-formed");
    let svg = std::fs::read_to_string(out.join("distill_quality_speed.svg")).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("the chart is well-formed SVG");
    // One labelled point per row: the five labels are in the legend.
    let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
    for label in [
        "teacher (GRPO)",
        "on-policy distillation",
        "supervised distillation",
        "no distillation (student with GRPO)",
        "student before distillation (warm start)",
    ] {
        assert!(texts.iter().any(|t| t.contains(label)), "{label}");
    }
    let png = std::fs::read(out.join("distill_quality_speed.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    assert!(attributes(&html, "src").contains(&"distill_quality_speed.svg"));
    assert!(md.contains("](distill_quality_speed.png)"));
    // The table's rows, in both renderings.
    for needle in [
        "| teacher (GRPO) | 0.0800 ± 0.0497 | 0.1200 ± 0.0497 | 0.0900 ± 0.0497 | 0.1000 ± 0.0497 | 0.1700 ± 0.0497 | 3 | 131k (nano) | 22.0 ± 5.0 | 100.0% ± 0.0% |",
        "| on-policy distillation | 0.0720 ± 0.0479 | 0.1120 ± 0.0479 | 0.0820 ± 0.0479 | 0.0920 ± 0.0479 | 0.1620 ± 0.0479 | 3 | 41k (pico) | 88.0 ± 19.9 | 93.3% ± 14.3% |",
        "| student before distillation (warm start) |",
    ] {
        assert!(md.contains(needle), "{needle}\n{md}");
    }
    assert!(html.contains("<td>on-policy distillation</td>"));
}

#[test]
fn a_report_of_distillation_cells_renders_from_their_metrics() {
    // Three method cells of one seed from the metrics.json fixture: the table counts the
    // teacher they share once.
    let dir = out_dir("distill-cells");
    for method in ["on_policy", "supervised", "none"] {
        let mut m = distill_metrics();
        m["distill"]["method"] = method.into();
        m["cell"]["axes"]["distill.method"] = method.into();
        let cell = dir.join("cells").join(format!("method-{method}_seed-42"));
        std::fs::create_dir_all(&cell).unwrap();
        std::fs::write(cell.join("metrics.json"), m.to_string()).unwrap();
    }
    // By default the report goes inside the run directory: no tracked file changes.
    let out = quill_experiments::report::write_report(&dir, None).unwrap();
    assert_eq!(out, dir.join("report"));
    assert_eq!(
        quill_experiments::report::published_report_dir(&dir),
        Path::new("reports").join(dir.file_name().unwrap())
    );
    let table = Results::read(&dir.join("results.csv")).unwrap();
    let analysis = quill_experiments::report::analysis::Analysis::new(&table);
    let d = quill_experiments::report::distill::Distillation::of(&analysis).unwrap();
    assert_eq!(d.rows.len(), 5);
    assert!(d.rows.iter().all(|r| r.seeds.len() == 1));
    let md = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(
        md.contains("| teacher (GRPO) | 0.0600 | 0.1000 | 0.0700 | 0.0800 | 0.1500 | 1 | 131k (nano) | 20.5 | 100.0% |"),
        "{md}"
    );
}
