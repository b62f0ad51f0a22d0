//! Retrieval and reward-scoring throughput on a 10k-article procedural corpus with the
//! built-in embedder: BM25 queries/s, dense top-10 queries/s, texts embedded/s (word vectors,
//! and all-MiniLM-L6-v2 when fetched), composite lists/s (5 queries each, all five rewards). Run with `cargo bench -p quill-rewards --bench scoring`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use quill::data::{DataConfig, UserSource, world::World};
use quill::retrieval::{
    Bm25Index, DenseIndex, Embedder, MiniLm, Retriever, WordVectorConfig, WordVectors,
    embed_articles,
};
use quill::reward::{Aggregation, CompositeReward, RewardEnv, RewardView, RuleJudge};
use quill::text::query_list::{QueryList, QueryListFormat};
use quill::text::term_stats::TermStats;
use quill_rewards as _;
use std::collections::HashMap;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

fn scoring(c: &mut Criterion) {
    let mut cfg = DataConfig {
        users: 10_000,
        ..DataConfig::default()
    };
    cfg.corpus.articles = 10_000;
    let world = World::build(&cfg, 42, Path::new(".")).expect("world builds");
    let corpus = world.corpus.clone();
    let embedder: Arc<dyn Embedder> =
        Arc::new(WordVectors::train(&corpus, &WordVectorConfig::default(), 42).expect("trains"));
    let bm25: Arc<dyn Retriever> = Arc::new(Bm25Index::build(&corpus).expect("indexes"));
    let article_vectors = Arc::new(embed_articles(&corpus, embedder.as_ref()));
    let dense = DenseIndex::from_vectors(embedder.clone(), &article_vectors).expect("indexes");

    // Queries as users would write them: the simulator's searches.
    let users: Vec<_> = (0..400).map(|i| world.user(i)).collect();
    let searches: Vec<String> = users
        .iter()
        .flat_map(|u| {
            u.history
                .iter()
                .filter(|s| s.kind == quill::data::SignalKind::Search)
                .map(|s| s.text.clone())
        })
        .take(1_000)
        .collect();
    let refs: Vec<&str> = searches.iter().map(String::as_str).collect();

    let mut group = c.benchmark_group("retrieval");
    group.sample_size(10);
    group.throughput(Throughput::Elements(refs.len() as u64));
    group.bench_function("bm25_top10", |b| {
        b.iter(|| black_box(bm25.search_batch(&refs, 10)))
    });
    group.bench_function("dense_top10", |b| {
        b.iter(|| black_box(dense.search_batch(&refs, 10)))
    });
    group.bench_function("word_vectors_embed", |b| {
        b.iter(|| black_box(embedder.embed(&refs)))
    });
    // all-MiniLM-L6-v2 only when fetched (scripts/fetch_minilm.sh).
    let minilm_dir = quill::retrieval::minilm_dir(
        Path::new("models/all-MiniLM-L6-v2"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..").as_path(),
    );
    let cpu = quill::device::device(quill::device::DeviceKind::Cpu).expect("cpu");
    match MiniLm::load(&minilm_dir, &cpu) {
        Ok(minilm) => {
            group.bench_function("minilm_embed", |b| {
                b.iter(|| black_box(minilm.embed(&refs)))
            });
        }
        Err(e) => eprintln!("minilm_embed skipped: {e}"),
    }
    group.finish();

    let stats = Arc::new(TermStats::build(&corpus));
    let env = Arc::new(RewardEnv {
        corpus: corpus.clone(),
        embedder: embedder.clone(),
        retriever: bm25.clone(),
        article_vectors,
        stats: stats.clone(),
        judge: Arc::new(RuleJudge::new(stats)),
    });
    let spec: Vec<(String, f32)> = quill_rewards::PAPER_REWARDS
        .iter()
        .map(|n| (n.to_string(), 1.0))
        .collect();
    let composite =
        // The whole history: these users have no policy tokenizer to budget a prompt with.
        CompositeReward::build(&spec, &HashMap::new(), Aggregation::Sum, env, RewardView::History)
            .expect("builds");
    let format = QueryListFormat::default();
    let lists: Vec<QueryList> = searches
        .chunks(5)
        .map(|qs| QueryList::parse(&QueryList::render(qs), &format))
        .collect();
    let items: Vec<_> = lists
        .iter()
        .zip(users.iter().cycle())
        .map(|(l, u)| (u, l))
        .collect();
    let mut group = c.benchmark_group("composite");
    group.sample_size(10);
    group.throughput(Throughput::Elements(items.len() as u64));
    group.bench_function("five_rewards_5_query_lists", |b| {
        b.iter(|| black_box(composite.score_batch(&items).expect("scores")))
    });
    group.finish();
}

criterion_group!(benches, scoring);
criterion_main!(benches);
