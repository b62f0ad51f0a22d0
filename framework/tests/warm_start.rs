//! The warm start learns: supervised steps on a fixed response take the loss down and make
//! sampled lists (temperature 1) valid, from a random decoder that writes none.

use burn::tensor::Device;
use quill::policy::{Decoder, SamplingConfig, find_preset};
use quill::text::query_list::QueryListFormat;
use quill::text::{PolicyTokenizer, PromptBuilder};
use quill::train::{WarmStartConfig, WarmStartData, validity, warm_start};

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

#[test]
fn supervised_steps_teach_the_format() {
    let builder = builder();
    let tok = &builder.tokenizer;
    let response = builder.response_of(&[
        "hurricane season forecast".to_string(),
        "bond market rally".to_string(),
        "coastal flood maps".to_string(),
    ]);
    let prompts: Vec<Vec<u32>> = (0..24)
        .map(|i| {
            let mut p = vec![tok.bos_id(), tok.user_id()];
            p.extend(tok.encode_plain(&format!(" storm warning {i}\n")));
            p.push(tok.queries_id());
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
