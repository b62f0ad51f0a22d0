//! The warm start learns: supervised steps on a fixed response take the loss down and make
//! sampled lists (temperature 1) valid, from a random decoder that writes none.

use burn::tensor::Device;
use quill::policy::{Decoder, SamplingConfig, completion_logprobs, find_preset};
use quill::text::query_list::QueryListFormat;
use quill::text::{PolicyTokenizer, PromptBuilder};
use quill::train::{WarmStartConfig, WarmStartData, self_filtered_pairs, validity, warm_start};

fn builder() -> PromptBuilder {
    let mut texts: Vec<String> = (0..200)
        .map(|i| {
            format!(
                "storm warning for the coast {i}, markets rally on earnings {}",
                i * 7
            )
        })
        .collect();
    // Repeated, so BPE merges its words and the response is short in tokens.
    for _ in 0..10 {
        texts.push(
            "- hurricane season forecast\n- bond market rally\n- coastal flood maps\n".into(),
        );
    }
    let tokenizer = PolicyTokenizer::train(&texts, 400).unwrap();
    PromptBuilder::new(tokenizer, 64, QueryListFormat::default()).unwrap()
}

/// 24 prompts that all have the same three-query response.
fn fixed_response_data(builder: &PromptBuilder) -> (WarmStartData, Vec<u32>) {
    let tok = &builder.tokenizer;
    let response = builder.response_of(&[
        "hurricane season forecast".to_string(),
        "bond market rally".to_string(),
        "coastal flood maps".to_string(),
    ]);
    let prompts: Vec<Vec<u32>> = (0..24)
        .map(|i| {
            let ids = tok.quill_ids().expect("Quill's own tokenizer");
            let mut p = vec![ids.bos, ids.user];
            p.extend(tok.encode_plain(&format!(" storm warning {i}\n")));
            p.push(ids.queries);
            p
        })
        .collect();
    let data = WarmStartData {
        lm_stream: prompts.concat(),
        sft: prompts
            .iter()
            .map(|p| (p.clone(), response.clone()))
            .collect(),
        eval_prompts: prompts[..16].to_vec(),
        probe_prompts: Vec::new(),
    };
    (data, response)
}

#[test]
fn supervised_steps_teach_the_format() {
    let builder = builder();
    let tok = &builder.tokenizer;
    let (data, response) = fixed_response_data(&builder);
    let mut cfg = find_preset("nano").unwrap().with_vocab(tok.vocab_size());
    cfg.max_positions = 128;
    let sampler = SamplingConfig::default();
    let untrained = Decoder::new(&cfg, 1, &Device::flex());
    // Room for the whole response: at this tiny vocabulary it is mostly single bytes.
    let max_new = response.len() + 8;
    let before = validity(
        &untrained,
        &builder,
        &data.eval_prompts,
        &sampler,
        max_new,
        3,
    )
    .unwrap();

    let ws = WarmStartConfig {
        lm_steps: 5,
        sft_steps: 150,
        batch_size: 8,
        lm_seq_len: 16,
        ..WarmStartConfig::default()
    };
    let mut losses = Vec::new();
    let decoder = Decoder::new(&cfg, 1, &Device::flex().autodiff());
    let (trained, report) = warm_start(
        decoder,
        &data,
        &ws,
        &builder,
        &sampler,
        40,
        3,
        |stage, _, loss| {
            if stage == "sft" {
                losses.push(loss)
            }
        },
    )
    .unwrap();
    assert_eq!(losses.len(), 150);
    let (first, last) = (losses[0], losses[losses.len() - 1]);
    assert!(last < 0.05 * first, "sft loss {first} -> {last}");
    assert_eq!(
        before.rate, 0.0,
        "a random decoder should not write valid lists"
    );
    assert_eq!(before.lists, 16);
    // Every invalid list is tallied under at least one problem.
    assert!(
        before.problems.values().sum::<usize>() >= 16,
        "{:?}",
        before.problems
    );
    // Greedy decoding writes the learned list; sampling at temperature 1 mostly does too (each
    // token still carries the remaining per-token loss).
    let greedy = SamplingConfig {
        temperature: 0.0,
        ..SamplingConfig::default()
    };
    let greedy_rate =
        validity(&trained, &builder, &data.eval_prompts, &greedy, max_new, 3).unwrap();
    assert_eq!(greedy_rate.rate, 1.0);
    assert!(greedy_rate.problems.is_empty());
    assert!(report.valid_rate >= 0.5, "{report:?}");
    assert_eq!(report.sampled_lists, 16);
    assert_eq!(report.sft_loss.len(), 10);
}

#[test]
fn impossible_settings_are_field_errors() {
    let builder = builder();
    let cfg = find_preset("nano")
        .unwrap()
        .with_vocab(builder.tokenizer.vocab_size());
    let data = WarmStartData {
        lm_stream: vec![1, 2, 3],
        sft: Vec::new(),
        eval_prompts: Vec::new(),
        probe_prompts: Vec::new(),
    };
    let ws = WarmStartConfig {
        lm_steps: 1,
        sft_steps: 0,
        lm_seq_len: 16,
        ..WarmStartConfig::default()
    };
    let decoder = Decoder::new(&cfg, 1, &Device::flex().autodiff());
    let sampler = SamplingConfig::default();
    let err = warm_start(decoder, &data, &ws, &builder, &sampler, 8, 0, |_, _, _| ()).unwrap_err();
    assert!(err.to_string().contains("warm_start.lm_seq_len"), "{err}");
    let ws = WarmStartConfig {
        lm_steps: 0,
        sft_steps: 1,
        ..WarmStartConfig::default()
    };
    let decoder = Decoder::new(&cfg, 1, &Device::flex().autodiff());
    let err = warm_start(decoder, &data, &ws, &builder, &sampler, 8, 0, |_, _, _| ()).unwrap_err();
    assert!(err.to_string().contains("warm_start.sft_steps"), "{err}");
}

#[test]
fn self_filtered_fine_tuning_learns_from_valid_samples_only() {
    let builder = builder();
    let (data, response) = fixed_response_data(&builder);
    let mut cfg = find_preset("nano")
        .unwrap()
        .with_vocab(builder.tokenizer.vocab_size());
    cfg.max_positions = 128;
    let sampler = SamplingConfig::default();
    let max_new = response.len() + 8;
    // Half-trained: some sampled lists are valid, some are not.
    let ws = WarmStartConfig {
        lm_steps: 0,
        sft_steps: 90,
        batch_size: 8,
        self_filter_steps: 20,
        self_filter_samples: 2,
        ..WarmStartConfig::default()
    };
    let half = WarmStartConfig {
        self_filter_steps: 0,
        ..ws.clone()
    };
    let fresh = || Decoder::new(&cfg, 1, &Device::flex().autodiff());
    let no_step = |_: &str, _: u32, _: f32| ();
    let (trained, _) = warm_start(
        fresh(),
        &data,
        &half,
        &builder,
        &sampler,
        max_new,
        3,
        no_step,
    )
    .unwrap();
    let prompts: Vec<Vec<u32>> = data.sft.iter().map(|(p, _)| p.clone()).collect();
    let kept = self_filtered_pairs(&trained, &builder, &prompts, 2, &sampler, max_new, 9).unwrap();
    assert_eq!(kept.sampled, 48, "2 lists for each of 24 prompts");
    for (prompt, completion) in &kept.pairs {
        assert!(prompts.contains(prompt));
        assert!(builder.parse_response(completion).is_valid());
    }
    // The same draws, tallied by the validity check: exactly its valid lists were kept.
    let twice: Vec<Vec<u32>> = [prompts.clone(), prompts].concat();
    let check = validity(&trained, &builder, &twice, &sampler, max_new, 9).unwrap();
    assert_eq!(kept.pairs.len(), (check.rate * 48.0).round() as usize);
    assert!(
        !kept.pairs.is_empty() && kept.pairs.len() < 48,
        "want a mix of valid and invalid lists, kept {}",
        kept.pairs.len()
    );

    // The stage in the warm start: it samples, keeps, then takes its own steps.
    let mut filter_steps = 0;
    let (_, report) = warm_start(
        fresh(),
        &data,
        &ws,
        &builder,
        &sampler,
        max_new,
        3,
        |stage, _, _| filter_steps += usize::from(stage == "self_filter"),
    )
    .unwrap();
    assert_eq!(filter_steps, 20);
    assert_eq!(report.self_filter_sampled, 48);
    assert!(report.self_filter_kept > 0 && report.self_filter_kept <= 48);
    assert_eq!(report.self_filter_loss.len(), 10);
    assert!(report.self_filter_loss.iter().all(|(_, l)| l.is_finite()));

    // Nothing valid to learn from (an untrained decoder) is an error naming the field.
    let untrained = WarmStartConfig { sft_steps: 0, ..ws };
    let err = warm_start(
        fresh(),
        &data,
        &untrained,
        &builder,
        &sampler,
        max_new,
        3,
        no_step,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("warm_start.self_filter_steps") && err.contains("none of the 48"),
        "{err}"
    );
}

#[test]
fn unlikelihood_fine_tuning_pushes_the_faulty_tokens_down() {
    let builder = builder();
    let (data, response) = fixed_response_data(&builder);
    let mut cfg = find_preset("nano")
        .unwrap()
        .with_vocab(builder.tokenizer.vocab_size());
    cfg.max_positions = 128;
    let sampler = SamplingConfig::default();
    let max_new = response.len() + 8;
    let pad = builder.tokenizer.pad_id();
    let fresh = || Decoder::new(&cfg, 1, &Device::flex().autodiff());
    let trained = |ws: &WarmStartConfig| {
        let mut stages = Vec::new();
        let (decoder, report) = warm_start(
            fresh(),
            &data,
            ws,
            &builder,
            &sampler,
            max_new,
            3,
            |stage, _, _| stages.push(stage.to_string()),
        )
        .unwrap();
        let steps = stages.iter().filter(|s| *s == "unlikelihood").count();
        (decoder, report, steps)
    };
    // Half-trained, then 40 more steps: imitation alone, or with the unlikelihood penalty.
    let half = WarmStartConfig {
        lm_steps: 0,
        sft_steps: 90,
        batch_size: 8,
        ..WarmStartConfig::default()
    };
    let imitation = WarmStartConfig {
        unlikelihood_steps: 40,
        unlikelihood_samples: 16,
        unlikelihood_weight: 0.0,
        ..half.clone()
    };
    let penalised = WarmStartConfig {
        unlikelihood_weight: 16.0,
        unlikelihood_format_weight: 1.0,
        ..imitation.clone()
    };
    // The faulty lists the half-trained policy writes, and where their faults are.
    let (start, _, _) = trained(&half);
    let prompts: Vec<Vec<u32>> = (0..4)
        .flat_map(|_| data.sft.iter().map(|p| p.0.clone()))
        .collect();
    let check = validity(&start, &builder, &prompts, &sampler, max_new, 11).unwrap();
    assert!(
        check.rate < 0.9,
        "want faulty lists to test on: {}",
        check.rate
    );
    let lists: Vec<Vec<u32>> = check
        .examples
        .iter()
        .map(|text| builder.tokenizer.encode(text))
        .collect();
    let faults: Vec<Vec<usize>> = lists.iter().map(|l| builder.response_faults(l)).collect();
    assert!(faults.iter().any(|f| !f.is_empty()));
    // Mean log-probability of those faulty tokens under a policy.
    let fault_logp = |decoder: &Decoder| {
        let rows: Vec<Vec<u32>> = vec![data.sft[0].0.clone(); lists.len()];
        let (logp, _) = completion_logprobs(decoder, &rows, &lists, pad).unwrap();
        let [_, cols] = logp.dims();
        let logp: Vec<f32> = logp.into_data().try_to_vec().unwrap();
        let picked: Vec<f32> = faults
            .iter()
            .enumerate()
            .flat_map(|(r, f)| f.iter().map(move |&j| (r, j)))
            .map(|(r, j)| logp[r * cols + j])
            .collect();
        picked.iter().sum::<f32>() / picked.len() as f32
    };
    let (plain, plain_report, plain_steps) = trained(&imitation);
    let (pushed, pushed_report, pushed_steps) = trained(&penalised);
    assert_eq!((plain_steps, pushed_steps), (40, 40));
    for report in [&plain_report, &pushed_report] {
        assert_eq!(report.unlikelihood_sampled, 40 * 16);
        assert_eq!(report.unlikelihood_invalid.len(), 10);
        assert!(report.unlikelihood_loss.iter().all(|(_, l)| l.is_finite()));
    }
    assert!(pushed_report.unlikelihood_penalised > 0);
    let (before, after_plain, after_pushed) =
        (fault_logp(&start), fault_logp(&plain), fault_logp(&pushed));
    assert!(
        after_pushed < after_plain - 0.1 && after_pushed < before,
        "mean log p of the faulty tokens: half-trained {before:.3}, after imitation \
         {after_plain:.3}, after unlikelihood {after_pushed:.3}"
    );
}
