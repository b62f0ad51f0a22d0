//! The run log end to end: TensorBoard event files decoded independently of the writer
//! (TFRecord framing parsed here, `Event` protobufs decoded with tensorboard-proto), JSONL read
//! back, and a killed-and-resumed run compared with an uninterrupted one.

use protobuf::Message;
use quill::log::{CompletionRow, RunLog, read_completions, read_scalars};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tensorboard_proto::event::Event;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("quill-run-log-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Events of one file by TFRecord framing: u64 length, u32 masked crc, data, u32 masked crc.
/// The checksums are checked with an independent CRC-32C (Castagnoli, reflected 0x82F63B78).
fn read_events(path: &Path) -> Vec<Event> {
    let bytes = std::fs::read(path).unwrap();
    let mut events = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let len_bytes = &bytes[at..at + 8];
        let len = u64::from_le_bytes(len_bytes.try_into().unwrap()) as usize;
        assert_eq!(
            u32_at(&bytes, at + 8),
            masked_crc(len_bytes),
            "length crc at {at}"
        );
        let data = &bytes[at + 12..at + 12 + len];
        assert_eq!(
            u32_at(&bytes, at + 12 + len),
            masked_crc(data),
            "data crc at {at}"
        );
        events.push(Event::parse_from_bytes(data).unwrap());
        at += 12 + len + 4;
    }
    events
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

fn masked_crc(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    let crc = !crc;
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// (tag, step, value) of every scalar in the run's event files, in file then record order.
fn tensorboard_scalars(dir: &Path) -> Vec<(String, i64, f32)> {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("tensorboard"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut scalars = Vec::new();
    for file in files {
        let events = read_events(&file);
        assert_eq!(
            events[0].get_file_version(),
            "brain.Event:2",
            "{}",
            file.display()
        );
        for event in &events[1..] {
            for value in event.get_summary().get_value() {
                assert!(value.has_simple_value());
                let row = (
                    value.get_tag().to_string(),
                    event.get_step(),
                    value.get_simple_value(),
                );
                scalars.push(row);
            }
        }
    }
    scalars
}

fn step_values(step: u64) -> BTreeMap<String, f64> {
    let s = step as f64;
    BTreeMap::from([
        ("reward".to_string(), 0.1 * s),
        ("rewards/structure/mean".to_string(), 1.0 / 3.0 + s),
        ("rewards/structure/std".to_string(), 1e-7 * s),
        ("frac_reward_zero_std".to_string(), 0.25),
        ("kl".to_string(), -0.0),
        ("tokens/s".to_string(), 12345.678 * s),
        ("lr".to_string(), 3e-6),
    ])
}

fn row(user: &str, advantage: f64) -> CompletionRow {
    CompletionRow {
        user_id: user.to_string(),
        prompt: "search: \"rust\"\nclick: café ☕".to_string(),
        completion: "1. rust news\n2. café openings".to_string(),
        queries: vec!["rust news".to_string(), "café openings".to_string()],
        valid: true,
        rewards: BTreeMap::from([
            ("structure".to_string(), 1.0),
            ("coverage".to_string(), 0.4),
        ]),
        composite: 0.7,
        advantage,
    }
}

/// Steps `steps` of a run: scalars every step, two completion rows every second step.
fn log_steps(log: &mut RunLog, steps: std::ops::RangeInclusive<u64>) {
    for step in steps {
        log.scalars(step, &step_values(step)).unwrap();
        if step % 2 == 0 {
            let rows = [row("u1", step as f64), row("u2", -(step as f64))];
            log.completions(step, &rows).unwrap();
        }
    }
}

#[test]
fn scalars_reach_tensorboard_and_jsonl_exactly() {
    let dir = temp_dir("scalars");
    let mut log = RunLog::open(&dir, None).unwrap();
    log_steps(&mut log, 1..=3);
    // Read while the log is still open: every call must already have reached the file.
    let mut expected = Vec::new();
    for step in 1..=3 {
        for (name, value) in step_values(step) {
            expected.push((name, step as i64, value as f32));
        }
    }
    let found = tensorboard_scalars(&dir);
    assert_eq!(found.len(), expected.len());
    for (got, want) in found.iter().zip(&expected) {
        assert_eq!((&got.0, got.1), (&want.0, want.1));
        assert_eq!(
            got.2.to_bits(),
            want.2.to_bits(),
            "{} at step {}",
            got.0,
            got.1
        );
    }
    let rows = read_scalars(log.scalars_path()).unwrap();
    let want: Vec<_> = (1..=3).map(|s| (s, step_values(s))).collect();
    assert_eq!(rows, want);
    let first = std::fs::read_to_string(log.scalars_path()).unwrap();
    let first = first.lines().next().unwrap().to_string();
    assert!(
        first.starts_with("{\"step\":1,\"frac_reward_zero_std\":0.25,\"kl\":-0.0,"),
        "{first}"
    );
    drop(log);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_killed_and_resumed_run_has_the_logs_of_an_uninterrupted_one() {
    let straight = temp_dir("straight");
    let mut log = RunLog::open(&straight, None).unwrap();
    log_steps(&mut log, 1..=6);
    log.flush().unwrap();
    drop(log);

    let resumed = temp_dir("resumed");
    let mut log = RunLog::open(&resumed, None).unwrap();
    log_steps(&mut log, 1..=5);
    drop(log);
    // The run was killed while writing step 6 and its last checkpoint is at step 3.
    let scalars = resumed.join("scalars.jsonl");
    let mut text = std::fs::read_to_string(&scalars).unwrap();
    text.push_str("{\"step\":6,\"rew");
    std::fs::write(&scalars, text).unwrap();
    let mut log = RunLog::open(&resumed, Some(3)).unwrap();
    assert_eq!(read_scalars(&scalars).unwrap().len(), 3);
    let kept: Vec<_> = read_completions(log.completions_path()).unwrap();
    assert_eq!(kept.iter().map(|(s, _)| *s).collect::<Vec<_>>(), vec![2, 2]);
    log_steps(&mut log, 4..=6);
    drop(log);

    for file in ["scalars.jsonl", "completions.jsonl"] {
        let a = std::fs::read_to_string(straight.join(file)).unwrap();
        let b = std::fs::read_to_string(resumed.join(file)).unwrap();
        assert_eq!(a, b, "{file}");
    }
    assert_eq!(
        tensorboard_scalars(&straight),
        tensorboard_scalars(&resumed)
    );
    std::fs::remove_dir_all(&straight).unwrap();
    std::fs::remove_dir_all(&resumed).unwrap();
}

#[test]
fn a_fresh_run_replaces_an_old_one() {
    let dir = temp_dir("fresh");
    let mut log = RunLog::open(&dir, None).unwrap();
    log_steps(&mut log, 1..=4);
    drop(log);
    let mut log = RunLog::open(&dir, None).unwrap();
    log_steps(&mut log, 1..=1);
    assert_eq!(read_scalars(log.scalars_path()).unwrap().len(), 1);
    assert!(read_completions(log.completions_path()).unwrap().is_empty());
    assert_eq!(
        std::fs::read_dir(dir.join("tensorboard")).unwrap().count(),
        1
    );
    assert_eq!(tensorboard_scalars(&dir).len(), step_values(1).len());
    drop(log);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn completion_rows_round_trip_one_line_each() {
    let dir = temp_dir("completions");
    let mut log = RunLog::open(&dir, None).unwrap();
    let rows = vec![row("u1", 0.5), row("u\"2", -1.25)];
    log.completions(10, &rows).unwrap();
    log.completions(20, &rows[..1]).unwrap();
    let text = std::fs::read_to_string(log.completions_path()).unwrap();
    assert_eq!(
        text.lines().count(),
        3,
        "newlines inside a prompt must stay escaped"
    );
    let back = read_completions(log.completions_path()).unwrap();
    let want = vec![
        (10, rows[0].clone()),
        (10, rows[1].clone()),
        (20, rows[0].clone()),
    ];
    assert_eq!(back, want);
    drop(log);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_truncated_last_line_is_tolerated_and_a_bad_line_is_named() {
    let dir = temp_dir("bad-lines");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("scalars.jsonl");
    std::fs::write(&path, "{\"step\":1,\"loss\":0.5}\n{\"step\":2,\"lo").unwrap();
    let rows = read_scalars(&path).unwrap();
    assert_eq!(rows, vec![(1, BTreeMap::from([("loss".to_string(), 0.5)]))]);

    std::fs::write(
        &path,
        "{\"step\":1,\"loss\":0.5}\n{\"step\":2,\"loss\":\"high\"}\n",
    )
    .unwrap();
    let err = read_scalars(&path).unwrap_err().to_string();
    assert!(err.contains("scalars.jsonl:2"), "{err}");
    assert!(err.contains("\"loss\" must be a number"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_scalar_named_step_is_refused_before_anything_is_written() {
    let dir = temp_dir("step-name");
    let mut log = RunLog::open(&dir, None).unwrap();
    let values = BTreeMap::from([("loss".to_string(), 1.0), ("step".to_string(), 2.0)]);
    let err = log.scalars(1, &values).unwrap_err().to_string();
    assert!(err.contains("\"step\""), "{err}");
    assert!(read_scalars(log.scalars_path()).unwrap().is_empty());
    assert!(tensorboard_scalars(&dir).is_empty());
    drop(log);
    std::fs::remove_dir_all(&dir).unwrap();
}
