//! `quill sample`: a user's prompt, the bootstrap list the warm start imitated for it, and
//! lists sampled from a saved policy.

use crate::config::Experiment;
use crate::stages::warm_start::{bootstrap_target, starting_policy};
use anyhow::{Context, Result, bail};
use quill::policy::{Generation, generate, load_policy};
use quill::text::bootstrap::{Bootstrap, target_format};
use quill::text::term_stats::TermStats;
use std::path::Path;

/// `quill sample`: a user's prompt, its bootstrap target and `n` lists sampled from a
/// checkpoint.
pub fn sample(exp: &Experiment, user_id: &str, checkpoint: Option<&Path>, n: usize) -> Result<()> {
    let cfg = &exp.config;
    let dir = checkpoint.map_or_else(|| starting_policy(exp), Path::to_path_buf);
    let device = quill::device::device(cfg.experiment.device)?;
    let (decoder, _) = load_policy(&dir, &device).with_context(|| {
        format!(
            "loading the policy checkpoint {} (run `quill run` first)",
            dir.display()
        )
    })?;
    let data = quill::data::load_dataset(&cfg.data, cfg.experiment.seed, &exp.base_dir)?;
    let Some(user) = data.iter().find(|u| u.id == user_id) else {
        bail!(
            "no user {user_id:?} in {} (try `quill data sample`)",
            data.name
        );
    };
    // The cleaner `quill run` saved: retraining it here would cost time and overwrite it.
    let user = match crate::stages::clean::saved_cleaner(exp)? {
        Some(c) => c.clean_user(&user),
        None => user,
    };
    let builder = crate::scoring::policy_prompt(exp, &dir)?;
    let prompt = builder.prompt(&user);
    println!(
        "prompt ({} tokens):\n{}\n",
        prompt.len(),
        builder.tokenizer.decode(&prompt)
    );
    // What the warm start imitated for this prompt: a sampled list reads best beside it.
    let stats = TermStats::build(&data.corpus);
    let bootstrap = Bootstrap::new(&stats, target_format(&cfg.format))?;
    let target = bootstrap_target(&bootstrap, &builder, &user, cfg.warm_start.bootstrap_from);
    println!(
        "bootstrap target (the warm start's supervised list):\n{}\n",
        quill::text::query_list::QueryList::render(&target)
    );
    let end = [builder.tokenizer.end_id()];
    let how = Generation {
        sampler: &cfg.sampling,
        max_new_tokens: cfg.sampling.max_new_tokens as usize,
        stop_tokens: &end,
        pad_id: builder.tokenizer.pad_id(),
    };
    let prompts = vec![prompt; n];
    let seeds: Vec<u64> = (0..n as u64)
        .map(|i| cfg.experiment.seed ^ (i << 32))
        .collect();
    for (i, c) in generate(&decoder, &prompts, &seeds, &how)?
        .iter()
        .enumerate()
    {
        let list = builder.parse_response(&c.tokens);
        let verdict = if list.is_valid() {
            "valid".to_string()
        } else {
            format!("invalid: {:?}", list.problems)
        };
        println!(
            "list {} ({verdict}, mean log-prob {:.2}):\n{}\n",
            i + 1,
            c.logprobs.iter().sum::<f32>() / c.logprobs.len().max(1) as f32,
            builder.tokenizer.decode(&c.tokens)
        );
    }
    Ok(())
}
