//! Fuzzing of every parser of outside input: experiment TOML, sweep axes, the HTTP request
//! body, and the dataset loaders (HuffPost, AG News, mapped TSV/JSONL, MIND, own-logs JSONL).
//! Inputs are arbitrary bytes and byte-level mutations of valid files (the shipped configs,
//! the loaders' fixtures, a valid request); the property is that every input gives a value
//! or an error, never a panic.
//!
//! cargo-fuzz needs a nightly toolchain, which this project's machines do not have, so the
//! fuzzing is proptest's generation and shrinking, driven for a bounded time: each target
//! runs from a fixed seed for `QUILL_FUZZ_SECONDS` seconds (2 by default; CI gives each 60),
//! so a run explores the same cases in the same order and the time decides how many. A case
//! that fails is printed shrunk; add it to the target's `REGRESSIONS`, which run first, every
//! time.

use proptest::prelude::*;
use proptest::test_runner::{RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use quill::data::CorpusConfig;
use quill::data::loaders::{load_agnews, load_huffpost, load_jsonl_users, load_mapped, load_mind};
use quill_experiments::serve::request::{parse as parse_request, validate as validate_request};
use quill_experiments::{config, sweep};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Runs `test` on cases of `strategy` from a fixed seed until the time budget is spent.
/// `test` says whether the input was accepted; a generator that only ever makes accepted, or
/// only rejected, inputs tests one side of the parser, so both must occur.
fn fuzz<S>(name: &str, strategy: S, test: impl Fn(S::Value) -> Result<bool, TestCaseError>)
where
    S: Strategy,
    S::Value: std::fmt::Debug,
{
    let seconds = std::env::var("QUILL_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(2.0);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let batch = 32;
    let config = ProptestConfig {
        cases: batch,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let accepted = AtomicU64::new(0);
    let counted = |value: S::Value| {
        let ok = test(value)?;
        accepted.fetch_add(u64::from(ok), Ordering::Relaxed);
        Ok(())
    };
    let mut cases = 0u64;
    for round in 0u64.. {
        if round > 0 && Instant::now() >= deadline {
            break;
        }
        // A runner per round (one runs its cases once), seeded by the round number.
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&round.to_le_bytes());
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed);
        let mut runner = TestRunner::new_with_rng(config.clone(), rng);
        match runner.run(&strategy, counted) {
            Ok(()) => cases += u64::from(batch),
            Err(TestError::Fail(why, input)) => {
                panic!("{name}: {why}\nshrunk input (add it to REGRESSIONS): {input:?}")
            }
            Err(e) => panic!("{name}: {e}"),
        }
    }
    let accepted = accepted.into_inner();
    eprintln!("{name}: {cases} cases in {seconds}s ({accepted} accepted), none failed");
    assert!(
        accepted > 0 && accepted < cases,
        "{name}: {accepted} of {cases} accepted"
    );
}

/// A byte-level edit of a valid input.
#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Replace(usize, u8),
    /// Copies a span elsewhere (a duplicated line, a repeated key).
    Duplicate(usize, usize, usize),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    // Bytes that matter to the formats: quotes, separators, brackets, digits, non-ASCII.
    let special = prop::sample::select(b"\"\t\n,:[]{}=.-0123456789 \\'#\xff\xc3\xa9\0".to_vec());
    let bytes = prop::collection::vec(prop_oneof![special, any::<u8>()], 1..6);
    let edit = prop_oneof![
        (any::<usize>(), bytes).prop_map(|(p, b)| Edit::Insert(p, b)),
        (any::<usize>(), 1usize..40).prop_map(|(p, n)| Edit::Delete(p, n)),
        (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Edit::Replace(p, b)),
        (any::<usize>(), 1usize..80, any::<usize>()).prop_map(|(a, n, b)| Edit::Duplicate(a, n, b)),
    ];
    prop::collection::vec(edit, 1..8)
}

fn apply(valid: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut out = valid.to_vec();
    for edit in edits {
        let at = |p: usize, len: usize| if len == 0 { 0 } else { p % (len + 1) };
        match edit {
            Edit::Insert(p, b) => {
                let i = at(*p, out.len());
                out.splice(i..i, b.iter().copied());
            }
            Edit::Delete(p, n) => {
                let i = at(*p, out.len());
                let end = (i + n).min(out.len());
                out.drain(i..end);
            }
            Edit::Replace(p, b) if !out.is_empty() => {
                let i = p % out.len();
                out[i] = *b;
            }
            Edit::Duplicate(a, n, b) if !out.is_empty() => {
                let i = a % out.len();
                let span: Vec<u8> = out[i..(i + n).min(out.len())].to_vec();
                let j = at(*b, out.len());
                out.splice(j..j, span);
            }
            _ => {}
        }
    }
    out
}

/// Arbitrary bytes, or a valid input edited.
fn inputs(valid: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let edited = (prop::sample::select(valid), edits()).prop_map(|(v, e)| apply(&v, &e));
    prop_oneof![1 => prop::collection::vec(any::<u8>(), 0..400), 4 => edited]
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("quill-fuzz-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn experiment_files_parse_or_fail_cleanly() {
    const REGRESSIONS: &[&str] = &["[policy]\npreset = \"\u{e9}\u{e9}\"\ncheckpoint = \"x\"\n"];
    let mut valid: Vec<Vec<u8>> = std::fs::read_dir(repo().join("configs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    valid.sort();
    let check = |bytes: Vec<u8>| {
        let text = String::from_utf8_lossy(&bytes);
        Ok(config::parse(&text, Path::new("fuzz.toml")).is_ok())
    };
    for case in REGRESSIONS {
        check(case.as_bytes().to_vec()).unwrap();
    }
    fuzz("experiment TOML", inputs(valid), check);
}

#[test]
fn sweeps_expand_or_fail_cleanly() {
    let dir = scratch("sweep");
    let path = dir.join("sweep.toml");
    let axis = prop::sample::select(vec![
        "experiment.seed",
        "policy.preset",
        "grpo.steps",
        "grpo.learning_rate",
        "sampling.temperature",
        "rewards.interest_coverage.weight",
        "policy.lora.rank",
        "no.such.field",
        "policy",
        "experiment.seed.deeper",
    ]);
    let value = prop_oneof![
        any::<i64>().prop_map(|v| v.to_string()),
        (-10.0f64..10.0).prop_map(|v| format!("{v:?}")),
        "[a-z]{0,6}".prop_map(|s| format!("{s:?}")),
        any::<bool>().prop_map(|b| b.to_string()),
        Just("[1, 2]".to_string()),
        Just("{ a = 1 }".to_string()),
    ];
    let any_axis = (axis, prop::collection::vec(value, 0..4));
    // Most axes are well typed, so that whole sweeps expand too, not only their errors.
    let typed_axis = prop_oneof![
        prop::collection::vec((0u64..100).prop_map(|v| v.to_string()), 1..4)
            .prop_map(|v| ("experiment.seed", v)),
        prop::collection::vec((1e-5f64..1e-2).prop_map(|v| format!("{v:?}")), 1..4)
            .prop_map(|v| ("grpo.learning_rate", v)),
        prop::collection::vec(
            prop::sample::select(vec!["\"pico\"", "\"nano\"", "\"tiny\""]),
            1..4
        )
        .prop_map(|v| ("policy.preset", v.into_iter().map(String::from).collect())),
    ];
    let axes = prop::collection::vec(prop_oneof![2 => typed_axis, 1 => any_axis], 1..4);
    let mode = prop::sample::select(vec!["product", "zip"]);
    let body = (axes, mode).prop_map(|(axes, mode)| {
        let mut src = format!(
            "[experiment]\nname = \"f\"\noutput_dir = \"out\"\n[sweep.x]\nmode = \"{mode}\"\n"
        );
        for (path, values) in axes {
            src.push_str(&format!("axes.{path} = [{}]\n", values.join(", ")));
        }
        src
    });
    fuzz("sweep axes", body, |src| {
        std::fs::write(&path, &src).unwrap();
        Ok(config::load(&path).is_ok_and(|exp| sweep::expand(&exp).is_ok()))
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn request_bodies_parse_and_validate_or_fail_cleanly() {
    const REGRESSIONS: &[&[u8]] = &[
        b"{\"signals\": [{\"kind\": \"\xc3\xa9\", \"text\": \"a\", \"timestamp\": 1}]}",
        b"{\"signals\": [], \"top_k\": -1}",
        b"[]",
    ];
    let valid = br#"{"user_id": "u1", "signals": [{"kind": "search", "text": "storm coast", "timestamp": 10}, {"kind": "news_click", "text": "Hawks win", "timestamp": 20, "url": "https://n.example/1", "domain": "n.example"}], "top_k": 3}"#;
    let limits = quill_experiments::serve::api::Limits {
        max_body_bytes: 1 << 16,
        max_signals: 8,
        max_text_chars: 40,
        max_top_k: 10,
        read_timeout: Duration::from_secs(1),
    };
    let check = |bytes: Vec<u8>| {
        let Ok(request) = parse_request(&bytes) else {
            return Ok(false);
        };
        let Ok(input) = validate_request(request, &limits) else {
            return Ok(false);
        };
        let stamps: Vec<i64> = input.signals.iter().map(|s| s.timestamp).collect();
        prop_assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "{stamps:?}");
        prop_assert!(input.signals.len() <= limits.max_signals);
        Ok(true)
    };
    for case in REGRESSIONS {
        check(case.to_vec()).unwrap();
    }
    fuzz("request body", inputs(vec![valid.to_vec()]), check);
}

#[test]
fn dataset_files_load_or_fail_cleanly() {
    let fixtures = repo().join("framework/tests/fixtures");
    let read = |p: &str| std::fs::read(fixtures.join(p)).unwrap();
    let dir = scratch("loaders");
    let mapped = CorpusConfig {
        title_field: "headline".into(),
        abstract_field: "lede".into(),
        category_field: "section".into(),
        id_field: "story_id".into(),
        date_field: "published".into(),
        ..CorpusConfig::default()
    };
    let news_jsonl = read("loaders/news.jsonl");
    let mind_news = read("mind/news.tsv");
    let mind_behaviors = read("mind/behaviors.tsv");
    // Which loader reads the bytes: 0 HuffPost, 1 AG News, 2 mapped TSV, 3 own-logs users
    // (with the valid news file), 4 MIND behaviours (with the valid news.tsv), 5 MIND news.
    let valid = [
        read("loaders/huffpost.jsonl"),
        read("loaders/agnews.csv"),
        read("loaders/mapped.tsv"),
        read("loaders/users.jsonl"),
        mind_behaviors.clone(),
        mind_news.clone(),
    ];
    let cases =
        (0usize..6).prop_flat_map(move |which| (Just(which), inputs(vec![valid[which].clone()])));
    fuzz("dataset files", cases, |(which, bytes)| {
        let file = |name: &str, bytes: &[u8]| {
            let path = dir.join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        };
        let loaded = match which {
            0 => load_huffpost(&file("h.jsonl", &bytes), 100).map(drop),
            1 => load_agnews(&file("a.csv", &bytes), 100).map(drop),
            2 => load_mapped(&file("m.tsv", &bytes), &mapped, 100).map(drop),
            3 => load_jsonl_users(&file("u.jsonl", &bytes), &file("n.jsonl", &news_jsonl), 100)
                .map(drop),
            4 => load_mind(&file("news.tsv", &mind_news), &file("b.tsv", &bytes), 100).map(drop),
            _ => load_mind(
                &file("news.tsv", &bytes),
                &file("b.tsv", &mind_behaviors),
                100,
            )
            .map(drop),
        };
        Ok(loaded.is_ok())
    });
    std::fs::remove_dir_all(&dir).unwrap();
}
