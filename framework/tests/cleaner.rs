//! The noise cleaner end to end: training on synthetic and simulated records, held-out F1,
//! determinism, and the save → load round trip with its error cases.

use quill::clean::{Cleaner, CleanerConfig, META_FILE, WEIGHTS_FILE};
use quill::data::world::World;
use quill::data::{DataConfig, Signal, SignalKind, Split, UserSource};
use quill::device::DeviceKind;
use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};

/// Word lists of the synthetic records (not rustfmt-ed, which would put one word a line).
#[rustfmt::skip]
mod vocab {
    pub const SUBJECTS: &[&str] = &["Senate", "Apple", "Local school board", "Scientists", "The Lakers",
        "Central bank", "Wildfire crews", "City council", "NASA", "European leaders", "Toyota",
        "Health officials", "Striking nurses", "Farmers"];
    pub const VERBS: &[&str] = &["approves", "unveils", "warns of", "delays", "celebrates", "investigates",
        "rejects", "announces"];
    pub const OBJECTS: &[&str] = &["new budget plan", "record heat wave", "climate deal", "playoff roster",
        "vaccine rollout", "interest rate hike", "housing reform", "Mars mission", "trade tariffs",
        "flood defences", "minimum wage rise", "stadium deal"];
    pub const TAILS: &[&str] = &["", " after long debate", " amid protests", " in surprise move",
        " for 2025 season", " as prices climb"];
    pub const TOPICS: &[&str] = &["nba playoffs", "mortgage rates", "electric cars", "election polls",
        "hurricane season", "stock market", "vegan recipes", "marathon training", "peace talks",
        "premier league table", "solar panels cost", "flu symptoms"];
    pub const QUALIFIERS: &[&str] = &["", " today", " 2024", " latest news", " explained", " forecast",
        " results", " near me"];
    pub const SITES: &[(&str, &str)] = &[("Wikipedia", "en.wikipedia.org"), ("ESPN", "espn.com"),
        ("BBC News", "bbc.co.uk"), ("The Verge", "theverge.com")];
    pub const NAV_SITES: &[&str] = &["facebook", "gmail", "youtube", "instagram", "netflix", "amazon",
        "outlook", "twitter", "paypal", "bank of america"];
    pub const NAV_ACTIONS: &[&str] = &["login", "sign in", "log in", "", "account", ".com", "app", "home page"];
    pub const TAGS: &[&str] = &["div", "span", "a", "td", "script", "p", "li"];
    pub const CLASSES: &[&str] = &["hdr", "nav-item", "btn btn-primary", "col-md-4", "x1y2", "footer"];
    pub const ERROR_PAGES: &[&str] = &["Page not found", "404 Not Found", "Error 503 Service Unavailable",
        "Access denied", "Sign in to continue", "Your session has expired", "Loading...", "Redirecting...",
        "Cookie settings", "New Tab"];
}
use vocab::*;

fn signal(kind: SignalKind, text: String, domain: Option<&str>, noise: bool) -> Signal {
    Signal {
        user: "synthetic".into(),
        timestamp: 0,
        kind,
        text,
        url: None,
        domain: domain.map(Into::into),
        noise: Some(noise),
    }
}

/// A seeded generator of synthetic records. With `full_vocabulary` off, `pick` never returns
/// every third entry of a list, so records generated with it on contain words, sites and tags
/// a cleaner trained on the reduced lists has never seen.
struct Synth {
    rng: ChaCha8Rng,
    full_vocabulary: bool,
}

impl Synth {
    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        let full = self.full_vocabulary;
        let allowed: Vec<&'a str> = list
            .iter()
            .enumerate()
            .filter(|(i, _)| full || i % 3 != 2)
            .map(|(_, w)| *w)
            .collect();
        allowed.choose(&mut self.rng).copied().unwrap_or_default()
    }
}

/// A record a user meant: a headline, a topical search or a topical page.
fn clean_record(g: &mut Synth) -> Signal {
    match g.rng.random_range(0..3) {
        0 => {
            let text = format!(
                "{} {} {}{}",
                g.pick(SUBJECTS),
                g.pick(VERBS),
                g.pick(OBJECTS),
                g.pick(TAILS)
            );
            signal(SignalKind::NewsClick, text, Some("news.example"), false)
        }
        1 => signal(
            SignalKind::Search,
            format!("{}{}", g.pick(TOPICS), g.pick(QUALIFIERS)),
            None,
            false,
        ),
        _ => {
            let (site, domain) = *SITES.choose(&mut g.rng).unwrap_or(&SITES[0]);
            let text = format!("{} {} - {site}", g.pick(SUBJECTS), g.pick(OBJECTS));
            signal(SignalKind::Browse, text, Some(domain), false)
        }
    }
}

/// A record to drop: navigational query, markup fragment, error page or keyboard mash.
fn noise_record(g: &mut Synth) -> Signal {
    match g.rng.random_range(0..4) {
        0 => {
            let text = format!("{} {}", g.pick(NAV_SITES), g.pick(NAV_ACTIONS))
                .trim()
                .to_string();
            signal(SignalKind::Search, text, None, true)
        }
        1 => {
            let (tag, class) = (g.pick(TAGS), g.pick(CLASSES));
            let text = match g.rng.random_range(0..4) {
                0 => format!("&nbsp;<{tag} class=\"{class}\">"),
                1 => format!("%20%3C{tag}%3E%20"),
                2 => format!("{{{{{}}}}}", class.replace(' ', "_")),
                _ => ["undefined", "null", "[object Object]", "NaN"]
                    .choose(&mut g.rng)
                    .copied()
                    .unwrap_or("null")
                    .to_string(),
            };
            let kind = if g.rng.random_bool(0.5) {
                SignalKind::Search
            } else {
                SignalKind::Browse
            };
            signal(kind, text, None, true)
        }
        2 => {
            let page = g.pick(ERROR_PAGES);
            let text = if g.rng.random_bool(0.5) {
                page.to_string()
            } else {
                format!("{page} | {}", g.pick(NAV_SITES))
            };
            signal(SignalKind::Browse, text, Some("errors.example"), true)
        }
        _ => {
            let mash = |rng: &mut ChaCha8Rng, n: usize| -> String {
                (0..n)
                    .map(|_| char::from(b"asdfghjklqwertyuiopzxcvbnm"[rng.random_range(0..26)]))
                    .collect()
            };
            let first = g.rng.random_range(3..10);
            let text = if g.rng.random_bool(0.5) {
                mash(&mut g.rng, first)
            } else {
                format!("{} {}", mash(&mut g.rng, first), mash(&mut g.rng, 3))
            };
            signal(SignalKind::Search, text, None, true)
        }
    }
}

/// `n` clean and `n` noise records, interleaved; `full_vocabulary: false` leaves out a third
/// of every word list (the training side of the held-out-vocabulary test).
fn synthetic_with(n: usize, seed: u64, full_vocabulary: bool) -> Vec<Signal> {
    let mut g = Synth {
        rng: ChaCha8Rng::seed_from_u64(seed),
        full_vocabulary,
    };
    (0..n)
        .flat_map(|_| [clean_record(&mut g), noise_record(&mut g)])
        .collect()
}

fn synthetic(n: usize, seed: u64) -> Vec<Signal> {
    synthetic_with(n, seed, true)
}

/// Few records need more, smaller steps than the defaults (sized for ~36k simulated records).
fn small_config() -> CleanerConfig {
    CleanerConfig {
        batch_size: 32,
        epochs: 8,
        ..CleanerConfig::default()
    }
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("quill-cleaner-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn learns_synthetic_noise_and_generalises_to_held_out_records() {
    // The test side draws from full word lists, the training side from two thirds of them:
    // a third of held-out records carry unseen words, sites or tags.
    let train = synthetic_with(200, 1, false);
    let test = synthetic(200, 2);
    let (cleaner, report) = Cleaner::train(&train, &small_config(), 7).unwrap();
    let m = cleaner.evaluate(&test);
    eprintln!("synthetic: {report:?}\n{m:?}");
    assert_eq!(report.records, 400);
    assert_eq!(report.noise_records, 200);
    assert_eq!(report.records_seen, 400 * 8);
    assert!(
        report.epoch_losses.last().unwrap() < &report.epoch_losses[0],
        "{:?}",
        report.epoch_losses
    );
    assert_eq!(
        (m.noise_support, m.clean_support, m.unlabelled),
        (200, 200, 0)
    );
    assert!(m.f1 > 0.9, "held-out F1 {:.3}: {m:?}", m.f1);
}

#[test]
fn same_seed_same_cleaner_and_clean_user_filters() {
    let train = synthetic(60, 3);
    let probe = synthetic(20, 4);
    let (a, _) = Cleaner::train(&train, &small_config(), 11).unwrap();
    let (b, _) = Cleaner::train(&train, &small_config(), 11).unwrap();
    assert_eq!(a.noise_probabilities(&probe), b.noise_probabilities(&probe));

    let user = quill::data::UserRecord {
        id: "u1".into(),
        history: probe.clone(),
        future_clicks: vec![],
        candidates: None,
        interests: None,
    };
    let cleaned = a.clean_user(&user);
    let probs = a.noise_probabilities(&probe);
    let expected: Vec<&Signal> = probe
        .iter()
        .zip(&probs)
        .filter(|(_, p)| f64::from(**p) <= a.threshold())
        .map(|(s, _)| s)
        .collect();
    assert_eq!(cleaned.history.iter().collect::<Vec<_>>(), expected);
    assert_eq!(a.clean_users(std::slice::from_ref(&user)), vec![cleaned]);

    // A user with only noise keeps the least noisy signal instead of an empty history.
    let noisy: Vec<Signal> = probe
        .iter()
        .filter(|s| s.noise == Some(true))
        .cloned()
        .collect();
    let only_noise = quill::data::UserRecord {
        history: noisy,
        ..user
    };
    assert_eq!(a.clean_user(&only_noise).history.len(), 1);

    // Unlabelled records are skipped by evaluation, and counted.
    let mut mixed = probe.clone();
    mixed[0].noise = None;
    let m = a.evaluate(&mixed);
    assert_eq!((m.unlabelled, m.noise_support + m.clean_support), (1, 39));
}

#[test]
fn save_then_load_gives_identical_probabilities() {
    let train = synthetic(60, 5);
    let probe = synthetic(30, 6);
    let (cleaner, _) = Cleaner::train(&train, &small_config(), 3).unwrap();
    let dir = scratch_dir("roundtrip");
    cleaner.save(&dir).unwrap();
    // Saving over an existing cleaner replaces it.
    cleaner.save(&dir).unwrap();
    assert!(dir.join(META_FILE).is_file() && dir.join(WEIGHTS_FILE).is_file());
    let loaded = Cleaner::load(&dir, DeviceKind::Cpu).unwrap();
    assert_eq!(loaded.config(), cleaner.config());
    assert_eq!(
        loaded.noise_probabilities(&probe),
        cleaner.noise_probabilities(&probe)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn load_error(dir: &Path) -> String {
    Cleaner::load(dir, DeviceKind::Cpu).unwrap_err().to_string()
}

#[test]
fn load_errors_name_the_path_file_and_field() {
    let missing = scratch_dir("does-not-exist");
    let err = load_error(&missing);
    assert!(err.contains(&missing.display().to_string()), "{err}");

    let train = synthetic(30, 8);
    let cfg = CleanerConfig {
        buckets: 256,
        hidden: 8,
        ..small_config()
    };
    let (cleaner, _) = Cleaner::train(&train, &cfg, 1).unwrap();
    let dir = scratch_dir("corrupt");
    cleaner.save(&dir).unwrap();
    let meta = dir.join(META_FILE);
    let text = std::fs::read_to_string(&meta).unwrap();

    std::fs::write(&meta, text.replace("\"buckets\": 256", "\"buckets\": 512")).unwrap();
    let err = load_error(&dir);
    assert!(
        err.contains(WEIGHTS_FILE) && err.contains("buckets") && err.contains("512"),
        "{err}"
    );

    std::fs::write(&meta, text.replace("\"hidden\": 8", "\"hidden\": 9")).unwrap();
    let err = load_error(&dir);
    assert!(
        err.contains(WEIGHTS_FILE) && err.contains("`hidden`"),
        "{err}"
    );

    std::fs::write(&meta, "{ not json").unwrap();
    let err = load_error(&dir);
    assert!(err.contains(META_FILE), "{err}");

    // Weights of NaN, the header intact: refused, naming the tensor.
    std::fs::write(&meta, &text).unwrap();
    let weights = std::fs::read(dir.join(WEIGHTS_FILE)).unwrap();
    let header = u64::from_le_bytes(weights[..8].try_into().unwrap()) as usize;
    let mut nan = weights.clone();
    for value in nan[8 + header..].chunks_exact_mut(4) {
        value.copy_from_slice(&f32::NAN.to_le_bytes());
    }
    std::fs::write(dir.join(WEIGHTS_FILE), &nan).unwrap();
    let err = load_error(&dir);
    assert!(
        err.contains(WEIGHTS_FILE) && err.contains("hold NaN") && err.contains("weight"),
        "{err}"
    );

    std::fs::write(dir.join(WEIGHTS_FILE), b"\x10\x00").unwrap();
    let err = load_error(&dir);
    assert!(
        err.contains(WEIGHTS_FILE) && err.contains("safetensors"),
        "{err}"
    );

    // A directory that is not a cleaner is never replaced by a save.
    let other = scratch_dir("not-a-cleaner");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "keep me").unwrap();
    assert!(cleaner.save(&other).is_err());
    assert!(other.join("notes.txt").is_file());
    for d in [&dir, &other] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// Signals of the first `limit` simulated users of a split.
fn world_signals(world: &World, data: &DataConfig, split: Split, limit: usize) -> Vec<Signal> {
    let fractions = data.splits();
    (0..world.num_users())
        .map(|i| world.user(i))
        .filter(|u| fractions.split_of(&u.id) == split)
        .take(limit)
        .flat_map(|u| u.history)
        .collect()
}

#[test]
fn cleans_simulated_users_it_never_saw() {
    let data = DataConfig {
        users: 3_000,
        ..DataConfig::default()
    };
    let world = World::build(&data, 42, Path::new(".")).unwrap();
    let cfg = CleanerConfig::default();
    let train = world_signals(&world, &data, Split::Train, cfg.train_users as usize);
    let test = world_signals(&world, &data, Split::Test, usize::MAX);
    let (cleaner, report) = Cleaner::train(&train, &cfg, 42).unwrap();
    let m = cleaner.evaluate(&test);
    eprintln!(
        "world: {} train / {} test records, {:.1}s, losses {:?}\n{m:?}",
        train.len(),
        test.len(),
        report.seconds,
        report.epoch_losses
    );
    // Off-interest clicks (a real headline clicked by accident, `off_interest_noise_share` of
    // the noise) look exactly like interest clicks, so recall tops out near 1 - 0.15.
    let share = data.world.off_interest_noise_share;
    assert!(
        m.recall > 0.95 * (1.0 - share),
        "recall {:.3}: {m:?}",
        m.recall
    );
    assert!(m.precision > 0.95, "precision {:.3}: {m:?}", m.precision);
    assert!(m.f1 > 0.88, "F1 {:.3}: {m:?}", m.f1);
}
