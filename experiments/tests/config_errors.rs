//! Experiment files: defaults, and errors that name file, line, column, field and valid values.

use quill_experiments::config::parse;
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
    for name in ["quickstart", "huffpost", "mind"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../configs/{name}.toml"));
        let src = std::fs::read_to_string(&path).unwrap();
        parse(&src, &path).unwrap_or_else(|e| panic!("{name}: {e:#}"));
    }
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
    assert_eq!(c.judge.kind, quill::reward::JudgeKind::Rules);
    let e = err("[judge]\nkind = \"gpt4\"\n");
    assert!(e.starts_with("exp.toml:2:8: judge.kind: "), "{e}");
    assert!(e.contains("rules") && e.contains("http"), "{e}");
    let e = err("[judge.http]\nmodle = \"m\"\n");
    assert!(e.starts_with("exp.toml:2:1: "), "{e}");
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
    assert_eq!(c.judge.http.model, "m");
}

#[test]
fn explain_documents_the_judge_section() {
    let text = quill_experiments::explain::explain();
    assert!(text.contains("[judge]"), "{text}");
    assert!(
        text.contains("judge.kind = \"rules\"  (valid: one of rules, http)"),
        "{text}"
    );
    assert!(text.contains("judge.http.batch_size = 16"), "{text}");
}
