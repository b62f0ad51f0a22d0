//! Tests of `prompt`: Quill's own layout.

use super::*;

/// Quill's prompt tokens of a trained tokenizer.
fn q(t: &PolicyTokenizer) -> SpecialIds {
    t.quill_ids().expect("Quill's own tokenizer")
}

fn tokenizer() -> PolicyTokenizer {
    let mut texts = Vec::new();
    for i in 0..30 {
        texts.push(format!("Hawks win the playoff opener {i} in Riverton"));
        texts.push(format!("- riverton hawks\n- maria okafor {i}\n<end>"));
    }
    PolicyTokenizer::train(texts, 400).unwrap()
}

fn signal(ts: i64, kind: SignalKind, text: &str) -> Signal {
    Signal {
        user: "u1".into(),
        timestamp: ts,
        kind,
        text: text.into(),
        url: None,
        domain: None,
        noise: None,
    }
}

fn user(history: Vec<Signal>) -> UserRecord {
    UserRecord {
        id: "u1".into(),
        history,
        future_clicks: vec![],
        candidates: None,
        interests: None,
    }
}

fn builder(budget: usize) -> PromptBuilder {
    PromptBuilder::new(tokenizer(), budget, QueryListFormat::default()).unwrap()
}

#[test]
fn the_layout_is_bos_user_kind_lines_then_queries() {
    let b = builder(512);
    let t = &b.tokenizer;
    let u = user(vec![
        signal(1, SignalKind::Search, "riverton  hawks"),
        signal(2, SignalKind::NewsClick, "Hawks win the\nplayoff opener"),
        signal(3, SignalKind::Browse, "   "),
        signal(4, SignalKind::Browse, "Okafor jersey | Shop"),
        signal(
            5,
            SignalKind::Other("video_watch".into()),
            "Cup final <end>",
        ),
    ]);
    let mut expected = vec![q(t).bos, q(t).user, q(t).search];
    expected.extend(t.encode_plain(" riverton hawks\n"));
    expected.push(q(t).news_click);
    expected.extend(t.encode_plain(" Hawks win the playoff opener\n"));
    expected.push(q(t).browse);
    expected.extend(t.encode_plain(" Okafor jersey | Shop\n"));
    expected.push(q(t).signal);
    expected.extend(t.encode_plain(" video_watch: Cup final <end>\n"));
    expected.push(q(t).queries);
    let ids = b.prompt(&u);
    assert_eq!(ids, expected);
    assert_eq!(
        t.decode(&ids),
        "<bos><user><search> riverton hawks\n<news_click> Hawks win the playoff opener\n\
         <browse> Okafor jersey | Shop\n<signal> video_watch: Cup final <end>\n<queries>"
    );
    // The "<end>" a user typed is text: the only special ids are the structure's.
    let specials: Vec<u32> = ids.iter().copied().filter(|&i| t.is_special(i)).collect();
    let s = q(t);
    assert_eq!(
        specials,
        vec![
            s.bos,
            s.user,
            s.search,
            s.news_click,
            s.browse,
            s.signal,
            s.queries
        ]
    );
}

#[test]
fn a_tight_budget_keeps_the_newest_signals() {
    let b = builder(512);
    let history: Vec<Signal> = (0..6)
        .map(|i| {
            signal(
                i,
                SignalKind::Search,
                &format!("query number {i} about hawks"),
            )
        })
        .collect();
    let lens: Vec<usize> = history
        .iter()
        .map(|s| b.signal_tokens(&q(&b.tokenizer), s).unwrap().len())
        .collect();
    // Room for the two newest signals and one token short of the third.
    let budget = STRUCTURE_TOKENS + lens[5] + lens[4] + lens[3] - 1;
    let tight = PromptBuilder { budget, ..b };
    let p = tight.build(&history);
    assert_eq!((p.signals_kept, p.signals_dropped, p.cut), (2, 4, false));
    assert!(p.ids.len() <= budget);
    let text = tight.tokenizer.decode(&p.ids);
    assert_eq!(
        text,
        "<bos><user><search> query number 4 about hawks\n\
         <search> query number 5 about hawks\n<queries>"
    );
    // One more token of budget and the third newest fits too.
    let roomier = PromptBuilder {
        budget: budget + 1,
        ..tight
    };
    assert_eq!(roomier.build(&history).signals_kept, 3);
}

#[test]
fn shown_is_the_span_the_prompt_renders_blank_signals_included() {
    let b = builder(512);
    let mut history: Vec<Signal> = (0..6)
        .map(|i| signal(i, SignalKind::Search, &format!("hawks {i}")))
        .collect();
    history[4].text = "   ".into();
    let lens: Vec<usize> = [3, 5]
        .iter()
        .map(|&i| {
            b.signal_tokens(&q(&b.tokenizer), &history[i])
                .unwrap()
                .len()
        })
        .collect();
    // Room for signals 5 and 3 (4 is blank): the span starts at 3.
    let tight = PromptBuilder {
        budget: STRUCTURE_TOKENS + lens[0] + lens[1],
        ..b
    };
    assert_eq!(tight.build(&history).signals_kept, 2);
    assert_eq!(tight.shown(&history), &history[3..]);
    let roomy = PromptBuilder {
        budget: 512,
        ..tight
    };
    assert_eq!(roomy.shown(&history), &history[..]);
    assert!(roomy.shown(&[]).is_empty());
}

#[test]
fn a_newest_signal_over_the_budget_is_cut_not_dropped() {
    let b = builder(MIN_PROMPT_BUDGET + 2);
    let t = b.tokenizer.clone();
    let long = "xylophone quokka zeppelin marmalade ".repeat(5);
    let p = b.build(&[
        signal(1, SignalKind::Search, "hawks"),
        signal(2, SignalKind::NewsClick, &long),
    ]);
    assert!(p.cut && p.signals_kept == 1 && p.signals_dropped == 1);
    assert_eq!(p.ids.len(), b.budget);
    assert_eq!(&p.ids[..3], &[q(&t).bos, q(&t).user, q(&t).news_click]);
    assert_eq!(
        &p.ids[p.ids.len() - 2..],
        &[t.encode_plain("\n")[0], q(&t).queries]
    );
    assert!(t.decode(&p.ids).starts_with("<bos><user><news_click> xyl"));
}

#[test]
fn an_empty_history_is_just_the_structure_and_tiny_budgets_are_refused() {
    let b = builder(64);
    let t = &b.tokenizer;
    assert_eq!(
        b.prompt(&user(vec![])),
        vec![q(t).bos, q(t).user, q(t).queries]
    );
    let err = PromptBuilder::new(t.clone(), 5, QueryListFormat::default()).unwrap_err();
    assert!(err.to_string().contains("policy.prompt_budget"), "{err}");
}

#[test]
fn a_response_round_trips_through_the_shared_parser() {
    let b = builder(64);
    let queries: Vec<String> = ["riverton hawks playoff", "maria okafor", "zürich café 東京"]
        .map(String::from)
        .into();
    let list = QueryList::parse(&QueryList::render(&queries), &b.format);
    assert!(list.is_valid());
    let ids = b.response(&list);
    assert_eq!(ids.last(), Some(&b.tokenizer.end_id()));
    assert_eq!(
        ids.iter().filter(|&&i| b.tokenizer.is_special(i)).count(),
        1,
        "only the terminator is special"
    );
    assert_eq!(b.parse_response(&ids), list);
    // Padding after the end is ignored; a missing end is reported, not hidden.
    let mut padded = ids.clone();
    padded.extend([b.tokenizer.pad_id(); 3]);
    assert_eq!(b.parse_response(&padded), list);
    let cut = b.parse_response(&ids[..ids.len() - 1]);
    assert!(!cut.is_valid() && cut.queries == queries);
}

#[test]
fn response_faults_name_the_tokens_that_wrote_each_fault() {
    let b = builder(64);
    let text_of = |ids: &[u32], at: &[usize]| -> Vec<String> {
        at.iter().map(|&i| b.tokenizer.decode(&[ids[i]])).collect()
    };
    // The repeat's first token and the line break closing it; padding is skipped over.
    let s = |s: &str| s.to_string();
    let mut ids = b.response_of(&[s("riverton hawks"), s("maria okafor"), s("riverton hawks")]);
    ids.insert(0, b.tokenizer.pad_id());
    let faults = b.response_faults(&ids);
    assert_eq!(faults.len(), 2, "{faults:?}");
    let texts = text_of(&ids, &faults);
    assert!(texts[0].trim_start().starts_with('r'), "{texts:?}");
    assert!(texts[1].starts_with('\n'), "{texts:?}");
    assert!(
        faults[0] > ids.len() / 2,
        "the second copy, not the first: {faults:?}"
    );
    // A valid list has none; a special token at a line start is itself the fault.
    assert!(
        b.response_faults(&b.response_of(&[s("abc"), s("abd"), s("abe")]))
            .is_empty()
    );
    let mut ids = b
        .tokenizer
        .encode_plain("- riverton hawks\n- maria okafor\n- abc\n");
    let signal_at = ids.len();
    ids.extend([q(&b.tokenizer).signal, b.tokenizer.end_id()]);
    assert_eq!(b.response_faults(&ids), vec![signal_at]);
    // A character split across tokens (byte-level BPE on an unseen script) still maps
    // to the token that starts the repeat.
    let ids = b.response_of(&[s("東京 café"), s("maria okafor"), s("東京 café")]);
    let faults = b.response_faults(&ids);
    assert_eq!(faults.len(), 2, "{faults:?}");
    let before = b.tokenizer.decode(&ids[..faults[0]]);
    assert!(before.ends_with("okafor\n- "), "{before:?}");
}

/// The figures of the report: tokenizer training time at vocabulary 2048 on the quickstart
/// data (3,000 users, 12k-article procedural corpus, seed 42, the trained cleaner), and the
/// tokens of a prompt (untruncated) and of a bootstrap response. Sanity asserts only.
#[test]
#[ignore = "a measurement on the quickstart data: run with --ignored --nocapture"]
fn quickstart_prompt_and_response_lengths() {
    use crate::clean::{Cleaner, CleanerConfig};
    use crate::data::{CorpusConfig, DataConfig, Split, load_dataset};
    use crate::text::bootstrap::Bootstrap;
    use crate::text::term_stats::TermStats;
    use crate::text::tokenizer::training_texts;

    let cfg = DataConfig {
        users: 3_000,
        corpus: CorpusConfig {
            articles: 12_000,
            ..CorpusConfig::default()
        },
        ..DataConfig::default()
    };
    let data = load_dataset(&cfg, 42, std::path::Path::new(".")).unwrap();
    let cleaner_cfg = CleanerConfig::default();
    let records: Vec<Signal> = data
        .iter_split(Split::Train)
        .take(cleaner_cfg.train_users as usize)
        .flat_map(|u| u.history)
        .collect();
    let (cleaner, _) = Cleaner::train(&records, &cleaner_cfg, 42).unwrap();
    let raw: Vec<UserRecord> = data.iter_split(Split::Train).collect();
    let train = cleaner.clean_users(&raw);
    let format = QueryListFormat::default();
    let stats = TermStats::build(&data.corpus);
    let boot = Bootstrap::new(&stats, format.clone()).unwrap();
    let lists: Vec<_> = train.iter().map(|u| boot.for_user(u)).collect();
    let queries: Vec<Vec<String>> = lists.iter().map(|l| l.queries.clone()).collect();

    let mean = |v: &[usize]| v.iter().sum::<usize>() as f64 / v.len() as f64;
    println!(
        "train users {}, queries per list mean {:.2}, lists with generic fill {}",
        train.len(),
        queries.iter().map(Vec::len).sum::<usize>() as f64 / queries.len() as f64,
        lists.iter().filter(|l| l.generic > 0).count(),
    );
    for vocab in [512, 2048, 8192] {
        let start = std::time::Instant::now();
        let texts = training_texts(&data.corpus, &train, &queries);
        let tokenizer = PolicyTokenizer::train(texts, vocab).unwrap();
        let train_secs = start.elapsed().as_secs_f64();
        assert!(tokenizer.vocab_size() <= vocab);
        let json = tokenizer.to_json().unwrap();
        let b = PromptBuilder::new(tokenizer, usize::MAX, format.clone()).unwrap();
        let mut prompt_lens: Vec<usize> = train.iter().map(|u| b.prompt(u).len()).collect();
        prompt_lens.sort_unstable();
        let response_lens: Vec<usize> = queries.iter().map(|q| b.response_of(q).len()).collect();
        for q in &queries {
            assert!(b.parse_response(&b.response_of(q)).is_valid(), "{q:?}");
        }
        let at = |p: f64| prompt_lens[((prompt_lens.len() - 1) as f64 * p) as usize];
        println!(
            "vocab {vocab} (got {}) trained in {train_secs:.2} s; prompt tokens mean {:.1} \
             (p50 {}, p95 {}, max {}); response tokens mean {:.1}; JSON xxh3 {:016x}",
            b.tokenizer.vocab_size(),
            mean(&prompt_lens),
            at(0.5),
            at(0.95),
            prompt_lens.last().unwrap(),
            mean(&response_lens),
            xxhash_rust::xxh3::xxh3_64(json.as_bytes()),
        );
    }
    for (u, q) in train.iter().zip(&queries).take(4) {
        println!("{}: {:?}", u.id, q);
    }
}
