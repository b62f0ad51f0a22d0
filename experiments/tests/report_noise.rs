//! The report reads the test split only, keeps both splits in results.csv, judges every shape
//! by paired intervals (by seed, or by sampled draw within a single seed) and states how large
//! its noise is.

use quill_experiments::report::{render, results::Results};
use std::path::{Path, PathBuf};

fn fixture() -> Results {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/results.csv");
    Results::read(&path).unwrap()
}

fn distill_metrics() -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/distill/metrics.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("quill-noise-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// `table` with a column `name` added at the end, `value` in every row.
fn with_column(table: &Results, name: &str, value: &str) -> Results {
    let mut out = table.clone();
    out.header.push(name.to_string());
    for row in &mut out.rows {
        row.push(value.to_string());
    }
    out
}

/// The Markdown table lines of a rendered report, apart from the shapes' table (its verdicts
/// are judged, not read).
fn table_lines(md: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_shapes = false;
    for line in md.lines() {
        if line.starts_with("## ") {
            in_shapes = line.contains("The paper's shapes");
        }
        if line.starts_with('|') && !in_shapes {
            out.push(line.to_string());
        }
    }
    out
}

#[test]
fn results_csv_has_a_split_column_with_the_rows_of_both_splits() {
    use quill_experiments::report::results::collect;
    let mut m = distill_metrics();
    let mut valid = m["test"].clone();
    valid["grpo/sampled"]["ranking"]["recall@10"] = 0.5.into();
    m["valid"] = valid;
    let table = collect(&[(PathBuf::from("cells/x"), m)]);
    let col = |name: &str| {
        table
            .header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no {name} in {:?}", table.header))
    };
    // A row key, not a swept axis: after the axes, before the policy.
    assert!(col("method") < col("split") && col("split") < col("policy"));
    let count = |split: &str| {
        table
            .rows
            .iter()
            .filter(|r| r[col("split")] == split)
            .count()
    };
    assert!(count("test") > 0);
    assert_eq!(count("valid"), count("test"));
    assert_eq!(count("valid") + count("test"), table.rows.len());
    let find = |split: &str, policy: &str| {
        table
            .rows
            .iter()
            .find(|r| {
                r[col("split")] == split
                    && r[col("policy")] == policy
                    && r[col("decoding")] == "sampled"
                    && r[col("best_of_n")] == "1"
            })
            .unwrap_or_else(|| panic!("{split} {policy}"))
    };
    assert_eq!(find("valid", "grpo")[col("recall@10")], "0.500000");
    assert_eq!(find("test", "grpo")[col("recall@10")], "0.100000");
    // Speeds come from the test pass alone.
    assert_eq!(find("test", "grpo")[col("users_per_s")], "20.500");
    assert_eq!(find("valid", "grpo")[col("users_per_s")], "");

    // A metrics.json written before the validation split was evaluated: test rows only.
    let old = collect(&[(PathBuf::from("cells/x"), distill_metrics())]);
    let split = old.header.iter().position(|h| h == "split").unwrap();
    assert!(old.rows.iter().all(|r| r[split] == "test"));
}

#[test]
fn each_sampled_draw_has_a_row_of_its_own() {
    use quill_experiments::report::results::collect;
    let mut m = distill_metrics();
    let eval = |recall: f64| {
        let mut e = m["test"]["grpo/sampled"].clone();
        e["ranking"]["recall@10"] = recall.into();
        e
    };
    let draws = serde_json::json!({ "grpo": [eval(0.11), eval(0.09)] });
    m["test"]["draws"] = draws;
    let table = collect(&[(PathBuf::from("cells/x"), m)]);
    let col = |name: &str| table.header.iter().position(|h| h == name).unwrap();
    let draws: Vec<(&str, &str, &str)> = table
        .rows
        .iter()
        .filter(|r| !r[col("draw")].is_empty())
        .map(|r| {
            assert_eq!(
                (r[col("decoding")].as_str(), r[col("best_of_n")].as_str()),
                ("sampled", "1")
            );
            (
                r[col("policy")].as_str(),
                r[col("draw")].as_str(),
                r[col("recall@10")].as_str(),
            )
        })
        .collect();
    assert_eq!(
        draws,
        [("grpo", "1", "0.110000"), ("grpo", "2", "0.090000")]
    );
}

#[test]
fn the_report_reads_the_test_rows_and_results_csv_keeps_both_splits() {
    // The fixture as the test split, and a validation split whose every figure is higher: the
    // rendered tables must be exactly those of the test rows alone.
    let test = fixture();
    let split = with_column(&test, "split", "test");
    let mut valid = with_column(&test, "split", "valid");
    let recall = valid.header.iter().position(|h| h == "recall@10").unwrap();
    for row in &mut valid.rows {
        let v: f64 = row[recall].parse().unwrap();
        row[recall] = format!("{:.6}", v + 0.3);
    }
    let mut both = split.clone();
    both.rows.extend(valid.rows);

    let alone = out_dir("test-alone");
    render("fixture", &test, &[], &alone).unwrap();
    let out = out_dir("both-splits");
    render("fixture", &both, &[], &out).unwrap();
    let md = |dir: &Path| std::fs::read_to_string(dir.join("README.md")).unwrap();
    assert_eq!(table_lines(&md(&out)), table_lines(&md(&alone)));
    assert!(md(&out).contains("| GRPO (sampled) | 0.0408 ± 0.0045 | 0.0680 ± 0.0075 |"));
    // The shapes too are judged on the test rows.
    let analysis = quill_experiments::report::analysis::Analysis::new(&both);
    let shapes = quill_experiments::report::shapes::judge(&analysis);
    assert!(
        shapes[0].evidence.contains("0.0060 ± 0.0025"),
        "{}",
        shapes[0].evidence
    );
    // results.csv keeps every row of both splits.
    let written = Results::read(&out.join("results.csv")).unwrap();
    assert_eq!(written.rows.len(), 2 * test.rows.len());
}

#[test]
fn a_shape_whose_paired_interval_includes_zero_is_not_a_yes() {
    use quill_experiments::report::{analysis::Analysis, shapes::judge};
    // GRPO above the warm start on every seed, by 0.001, 0.001 and 0.02: the means favour it,
    // but the 95% interval of the paired difference (0.0073 ± 0.0273) includes zero.
    let mut table = fixture();
    let col = |n: &str| table.header.iter().position(|h| h == n).unwrap();
    let (policy, decoding, n, seed, ablation, preset, recall) = (
        col("policy"),
        col("decoding"),
        col("best_of_n"),
        col("seed"),
        col("ablation"),
        col("preset"),
        col("recall@10"),
    );
    for row in &mut table.rows {
        if row[policy] == "grpo"
            && row[decoding] == "sampled"
            && row[n] == "1"
            && row[ablation] == "full"
            && row[preset] == "nano"
        {
            row[recall] = match row[seed].as_str() {
                "42" => "0.061",
                "1" => "0.063",
                _ => "0.084",
            }
            .into();
        }
    }
    let shapes = judge(&Analysis::new(&table));
    assert_eq!(
        shapes[0].verdict.word(),
        "within noise",
        "{}",
        shapes[0].evidence
    );
    assert!(
        shapes[0].evidence.contains("+0.0073 ± 0.0273 over 3 seeds"),
        "{}",
        shapes[0].evidence
    );

    // One seed and nothing to pair within it: no interval, so no "yes" either.
    let mut one = fixture();
    let seed = one.header.iter().position(|h| h == "seed").unwrap();
    one.rows.retain(|r| r[seed] == "42");
    let shapes = judge(&Analysis::new(&one));
    for s in &shapes[..4] {
        assert_ne!(s.verdict.word(), "yes", "{}: {}", s.claim, s.evidence);
    }
    assert_eq!(
        shapes[0].verdict.word(),
        "one seed: no interval",
        "{}",
        shapes[0].evidence
    );

    // One seed with four sampled draws of each policy, paired by draw: GRPO higher by 0.006,
    // 0.006, 0.004, 0.004 (0.0050 ± 0.0018) is shown, but only against sampling noise, so
    // "partly"; by 0.006, -0.004, 0.004, 0.002 it is not shown.
    for (grpo, verdict) in [
        ([0.064, 0.066, 0.065, 0.065], "partly"),
        ([0.064, 0.056, 0.065, 0.063], "within noise"),
    ] {
        let mut drawn = with_column(&one, "draw", "");
        let template = drawn
            .rows
            .iter()
            .find(|r| r[policy] == "grpo" && r[decoding] == "sampled")
            .unwrap()
            .clone();
        let draw = drawn.header.len() - 1;
        let warm = [0.058, 0.060, 0.061, 0.061];
        for (k, (w, g)) in warm.iter().zip(grpo).enumerate() {
            for (name, value) in [("warm_start", w), ("grpo", &g)] {
                let mut row = template.clone();
                row[policy] = name.into();
                row[n] = "1".into();
                row[recall] = value.to_string();
                row[draw] = (k + 1).to_string();
                drawn.rows.push(row);
            }
        }
        let shapes = judge(&Analysis::new(&drawn));
        assert_eq!(shapes[0].verdict.word(), verdict, "{}", shapes[0].evidence);
        assert!(
            shapes[0].evidence.contains("over 4 draws of one seed"),
            "{}",
            shapes[0].evidence
        );
    }
}

#[test]
fn the_report_states_how_large_the_noise_is() {
    let out = out_dir("noise");
    render("fixture", &fixture(), &[], &out).unwrap();
    let md = std::fs::read_to_string(out.join("README.md")).unwrap();
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    // Three seeds, four draws per user (the best-of-N curve reaches N = 4), and GRPO's sampled
    // R@10 at the reference over seeds: 0.065, 0.068, 0.071, a standard deviation of 0.0030.
    for needle in [
        "How large the noise is",
        "3 seeds (1, 7, 42)",
        "4 sampled lists per user",
        "standard deviation of 0.0030 over 3 seeds",
        "machines of the same kind",
    ] {
        assert!(
            md.contains(needle) && html.contains(needle),
            "{needle}\n{md}"
        );
    }
    assert!(md.contains("no single-draw rows"), "{md}");

    // Two single draws of GRPO's sampled lists per seed, 0.001 either side of the row: a
    // standard deviation of 0.0014 from draw to draw.
    let mut drawn = with_column(&fixture(), "draw", "");
    let col = |n: &str| drawn.header.iter().position(|h| h == n).unwrap();
    let (policy, decoding, n, preset, ablation, recall, draw) = (
        col("policy"),
        col("decoding"),
        col("best_of_n"),
        col("preset"),
        col("ablation"),
        col("recall@10"),
        col("draw"),
    );
    let rows: Vec<Vec<String>> = drawn
        .rows
        .iter()
        .filter(|r| {
            (r[policy].as_str(), r[decoding].as_str(), r[n].as_str()) == ("grpo", "sampled", "1")
                && (r[preset].as_str(), r[ablation].as_str()) == ("nano", "full")
        })
        .cloned()
        .collect();
    assert_eq!(rows.len(), 3);
    for row in rows {
        let value: f64 = row[recall].parse().unwrap();
        for (k, shift) in [(1, -0.001), (2, 0.001)] {
            let mut single = row.clone();
            single[recall] = format!("{:.6}", value + shift);
            single[draw] = k.to_string();
            drawn.rows.push(single);
        }
    }
    let out = out_dir("noise-draws");
    render("fixture", &drawn, &[], &out).unwrap();
    let md = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(
        md.contains("standard deviation of 0.0014 (mean over 3 seeds of 2 draws each)"),
        "{md}"
    );
}

#[test]
fn the_committed_reports_tables_re_render_from_their_results_csv() {
    // Tables written before rows had a split (or single draws) read as the test split's: every
    // table but the shapes' (judged anew) comes out as committed.
    for name in ["quickstart", "paper", "distill"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../reports")
            .join(name);
        let table = Results::read(&dir.join("results.csv")).unwrap();
        let out = out_dir(&format!("committed-{name}"));
        render(name, &table, &[], &out).unwrap();
        let committed = std::fs::read_to_string(dir.join("README.md")).unwrap();
        let rendered = std::fs::read_to_string(out.join("README.md")).unwrap();
        assert_eq!(table_lines(&rendered), table_lines(&committed), "{name}");
    }
}
