//! The composite over the real plugins: per-reward values in order, both aggregations, one
//! query cache for a batch, the ablation dropping a reward, and rewards that read only what the
//! prompt shows.

use quill::reward::testing::{TableEmbedder, TableRetriever, corpus, env, user};
use quill::reward::{Aggregation, CompositeReward, RewardView, resolve_ablation};
use quill::text::query_list::{QueryList, QueryListFormat};
use quill::text::{PolicyTokenizer, PromptBuilder};
use quill_rewards as _;
use std::collections::HashMap;
use std::sync::Arc;

fn composite(spec: &[(&str, f32)], aggregation: Aggregation) -> CompositeReward {
    composite_reading(spec, aggregation, RewardView::History)
}

fn composite_reading(
    spec: &[(&str, f32)],
    aggregation: Aggregation,
    view: RewardView,
) -> CompositeReward {
    let emb = TableEmbedder::new(
        2,
        &[
            ("a0", vec![1.0, 0.0]),
            ("east side", vec![1.0, 0.0]),
            ("north side", vec![0.0, 1.0]),
            ("harbour news", vec![-1.0, 0.0]),
        ],
    );
    let ret = TableRetriever(
        [
            ("east side".to_string(), vec![0]),
            ("north side".to_string(), vec![0]),
        ]
        .into_iter()
        .collect(),
    );
    let env = Arc::new(env(corpus(&["a0"]), emb, ret));
    let spec: Vec<(String, f32)> = spec.iter().map(|(n, w)| (n.to_string(), *w)).collect();
    CompositeReward::build(&spec, &HashMap::new(), aggregation, env, view).unwrap()
}

#[test]
fn per_reward_values_and_both_aggregations() {
    let list = QueryList::parse(
        "- east side\n- north side\n- east side again\n<end>",
        &QueryListFormat::default(),
    );
    let u = user(&[]);
    let spec = [
        ("structural_validity", 2.0),
        ("intra_list_diversity", 1.0),
        ("retrieval_alignment", 1.0),
    ];
    let sum = composite(&spec, Aggregation::Sum);
    assert_eq!(
        sum.names(),
        vec![
            "structural_validity",
            "intra_list_diversity",
            "retrieval_alignment"
        ]
    );
    let scored = sum.score_batch(&[(&u, &list)]).unwrap();
    let s = &scored[0];
    assert_eq!(s.per_reward[0], 1.0);
    // Pairs: east/north 1; "east side again" is unknown to the embedder → distance 0 to both.
    assert!((s.per_reward[1] - 1.0 / 3.0).abs() < 1e-6);
    // east side → a0: cos 1; north side → a0: cos 0; the unknown query retrieves nothing: 0.
    assert!((s.per_reward[2] - 1.0 / 3.0).abs() < 1e-6);
    assert!((s.composite - (2.0 + 1.0 / 3.0 + 1.0 / 3.0)).abs() < 1e-6);
    let norm = composite(&spec, Aggregation::NormalizeThenSum)
        .score_batch(&[(&u, &list)])
        .unwrap();
    assert!((norm[0].composite - (2.0 + 2.0 / 3.0) / 4.0).abs() < 1e-6);
}

#[test]
fn all_five_rewards_stay_in_range_and_ablations_drop_one() {
    let mut spec: Vec<(String, f32)> = quill_rewards::PAPER_REWARDS
        .iter()
        .map(|n| (n.to_string(), 1.0))
        .collect();
    assert_eq!(spec.len(), 5);
    resolve_ablation("no_interest_coverage")
        .unwrap()
        .apply(&mut spec)
        .unwrap();
    assert!(!spec.iter().any(|(n, _)| n == "interest_coverage") && spec.len() == 4);
    let names: Vec<(&str, f32)> = quill_rewards::PAPER_REWARDS
        .iter()
        .map(|n| (*n, 1.0))
        .collect();
    let c = composite(&names, Aggregation::Sum);
    let u = user(&["east side", "north side"]);
    let lists: Vec<QueryList> = ["- east side\n- north side\n<end>", "garbage", "- x\n<end>"]
        .iter()
        .map(|t| QueryList::parse(t, &QueryListFormat::default()))
        .collect();
    let items: Vec<_> = lists.iter().map(|l| (&u, l)).collect();
    for s in c.score_batch(&items).unwrap() {
        assert!(
            s.per_reward.iter().all(|v| (0.0..=1.0).contains(v)),
            "{s:?}"
        );
        assert!((0.0..=5.0).contains(&s.composite));
    }
}

#[test]
fn leave_one_out_credit_of_each_query_centred_in_its_list() {
    use quill::train::grpo::leave_one_out;
    let format = QueryListFormat::default();
    let parse = |t: &str| QueryList::parse(t, &format);
    let validity = composite(&[("structural_validity", 2.0)], Aggregation::Sum);
    let u = user(&[]);
    let lists = [
        // A duplicate: dropping either copy makes the list valid (+2), dropping another
        // query does not: c = [-2, 0, -2, 0], centred [-1, 1, -1, 1].
        parse("- east side\n- north side\n- east side\n- west end\n<end>"),
        // Three queries, the minimum: dropping any one breaks the count alike, so no query
        // stands out.
        parse("- east side\n- north side\n- west end\n<end>"),
        // One query: nothing to compare it with.
        parse("- east side\n<end>"),
    ];
    let users = [&u, &u, &u];
    let refs: Vec<&QueryList> = lists.iter().collect();
    let credit = leave_one_out(&validity, &users, &refs, &format).unwrap();
    assert_eq!(
        credit,
        vec![vec![-1.0, 1.0, -1.0, 1.0], vec![0.0; 3], vec![0.0]]
    );

    // Alignment: "east side" retrieves a0 along its own direction (cosine 1), "north side"
    // retrieves a0 at cosine 0 and "nowhere" retrieves nothing.
    let alignment = composite(&[("retrieval_alignment", 1.0)], Aggregation::Sum);
    let list = parse("- east side\n- north side\n- nowhere\n<end>");
    let credit = leave_one_out(&alignment, &[&u], &[&list], &format).unwrap();
    // R = 1/3. Without east: (0 + 0) / 2 = 0, c = 1/3. Without north: (1 + 0) / 2, c = -1/6.
    // Without nowhere: the same, c = -1/6. Mean 0: centred c equals c.
    let want = [1.0 / 3.0, -1.0 / 6.0, -1.0 / 6.0];
    for (got, want) in credit[0].iter().zip(want) {
        assert!((got - want).abs() < 1e-6, "{:?}", credit[0]);
    }
    let err = leave_one_out(&validity, &[], &refs, &format).unwrap_err();
    assert!(err.to_string().contains("0 users for 3 lists"), "{err}");
}

#[test]
fn rewards_read_only_the_signals_the_prompt_shows() {
    let texts: Vec<String> = (0..40)
        .flat_map(|i| {
            [
                format!("east side north side harbour news {i}"),
                format!("- east side\n- north side\n- item {i}\n<end>"),
            ]
        })
        .collect();
    let tokenizer = PolicyTokenizer::train(&texts, 300).unwrap();
    let format = QueryListFormat::default();
    // A budget that fits exactly the two newest signals: the oldest is dropped from the prompt.
    let newest = user(&["east side", "north side"]);
    let roomy = PromptBuilder::new(tokenizer.clone(), 4096, format.clone()).unwrap();
    let budget = roomy.build(&newest.history).ids.len();
    let tight = PromptBuilder::new(tokenizer, budget, format.clone()).unwrap();
    // Two users alike in what the prompt shows; one also read about the harbour, long ago. The
    // unknown text embeds to nothing, so it is no interest.
    let plain = user(&["nothing known", "east side", "north side"]);
    let harbour = user(&["harbour news", "east side", "north side"]);
    assert_eq!(
        tight.build(&plain.history).ids,
        tight.build(&harbour.history).ids
    );
    let list = QueryList::parse("- east side\n- north side\n- west end\n<end>", &format);
    let names: Vec<(&str, f32)> = quill_rewards::PAPER_REWARDS
        .iter()
        .map(|n| (*n, 1.0))
        .collect();
    let score = |view: RewardView, u| {
        composite_reading(&names, Aggregation::Sum, view)
            .score_batch(&[(u, &list)])
            .unwrap()
            .remove(0)
    };
    let seen = RewardView::Prompt(tight);
    assert_eq!(score(seen.clone(), &plain), score(seen.clone(), &harbour));
    // Over the whole history, the harbour is an interest the list does not cover: the opt-in
    // pays for naming what the prompt does not show.
    let coverage = names
        .iter()
        .position(|(n, _)| *n == "interest_coverage")
        .unwrap();
    let whole_plain = score(RewardView::History, &plain);
    let whole_harbour = score(RewardView::History, &harbour);
    assert_eq!(whole_plain.per_reward[coverage], 1.0);
    assert!(
        whole_harbour.per_reward[coverage] < 1.0,
        "{whole_harbour:?}"
    );
    assert_eq!(score(seen, &harbour).per_reward[coverage], 1.0);
}
