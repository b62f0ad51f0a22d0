//! Simulator throughput: users generated per second (procedural corpus, default world).
//! Run with `cargo bench -p quill --bench simulator`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use quill::data::{DataConfig, UserSource, world::World};
use std::hint::black_box;
use std::path::Path;

fn simulator(c: &mut Criterion) {
    let cfg = DataConfig {
        users: 1_000_000,
        ..DataConfig::default()
    };
    let world = World::build(&cfg, 42, Path::new(".")).expect("default world builds");
    let mut group = c.benchmark_group("simulator");
    const USERS: usize = 1_000;
    group.throughput(Throughput::Elements(USERS as u64));
    group.bench_function("generate_1000_users", |b| {
        let mut start = 0;
        b.iter(|| {
            for i in start..start + USERS {
                black_box(world.user(i));
            }
            start += USERS;
        })
    });
    group.finish();

    // Building the world (procedural corpus of 12k articles, facets, split) happens once per run.
    let mut group = c.benchmark_group("world");
    group.sample_size(10);
    group.bench_function("build_12k_articles", |b| {
        b.iter(|| {
            black_box(
                World::build(&cfg, 42, Path::new("."))
                    .expect("builds")
                    .facets
                    .facets
                    .len(),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, simulator);
criterion_main!(benches);
