//! `quill export`: a policy as a Hugging Face checkpoint directory that `transformers` loads
//! (`AutoModelForCausalLM` and `AutoTokenizer`): a policy `quill run` saved, or a pretrained
//! checkpoint (a GGUF file comes out in Hugging Face's layout).
//!
//! The tokenizer goes with it. A policy tuned from a checkpoint keeps that checkpoint's chat
//! template and end-of-turn token, so `apply_chat_template` with Quill's instruction (`quill
//! validate` prints it) reproduces its prompts. A preset's tokenizer has Quill's own prompt
//! tokens and no chat template: its prompts are Quill's layout (docs/models.md).

use crate::config::Experiment;
use anyhow::{Context, Result};
use quill::policy::hf_export::{TokenizerFiles, save_hf_checkpoint};
use quill::policy::{POLICY_FILE, TOKENIZER_FILE, load_checkpoint, load_pretrained};
use quill::text::PolicyTokenizer;
use serde_json::{Value, json};
use std::path::Path;

/// Exports the policy at `checkpoint` into `out`; `config` is the experiment that trained it
/// (default: the `config.toml` of its run directory).
pub fn export(checkpoint: &Path, config: Option<&Path>, out: &Path) -> Result<()> {
    let device = quill::device::device(quill::device::DeviceKind::Cpu)?;
    let (decoder, shape, tokenizer_json, tokenizer_config) =
        if checkpoint.join(POLICY_FILE).is_file() {
            let exp = crate::serve::engine::experiment(checkpoint, config)?;
            let (decoder, shape) = load_checkpoint(checkpoint, &device).with_context(|| {
                format!("loading the policy checkpoint {}", checkpoint.display())
            })?;
            let json_path = checkpoint.join(TOKENIZER_FILE);
            let json = std::fs::read_to_string(&json_path)
                .with_context(|| format!("reading {}", json_path.display()))?;
            (decoder, shape, json, tokenizer_config(&exp, checkpoint)?)
        } else {
            let model = load_pretrained(checkpoint, &device)?;
            let text = model.text;
            let tokenizer_config = chat_tokenizer_config(&text.tokenizer, &text.chat_template);
            (
                model.decoder,
                model.config,
                text.tokenizer_json,
                tokenizer_config,
            )
        };
    let files = TokenizerFiles {
        tokenizer_json: &tokenizer_json,
        tokenizer_config,
    };
    save_hf_checkpoint(out, &decoder, &shape, Some(files))?;
    println!("exported {} to {}", checkpoint.display(), out.display());
    Ok(())
}

/// `tokenizer_config.json` of a saved policy: its checkpoint's chat template and special
/// tokens, or Quill's special tokens for a preset.
fn tokenizer_config(exp: &Experiment, checkpoint: &Path) -> Result<Value> {
    if let Some(path) = crate::scoring::checkpoint_path(exp) {
        let text = quill::policy::load_pretrained_text(&path)
            .with_context(|| format!("policy.checkpoint: {}", path.display()))?;
        return Ok(chat_tokenizer_config(&text.tokenizer, &text.chat_template));
    }
    let tokenizer = PolicyTokenizer::load(&checkpoint.join(TOKENIZER_FILE))?;
    let token = |id: u32| tokenizer.decode(&[id]);
    let bos = tokenizer.quill_ids().map(|ids| token(ids.bos));
    Ok(json!({
        "bos_token": bos,
        "eos_token": token(tokenizer.end_id()),
        "pad_token": token(tokenizer.pad_id()),
    }))
}

fn chat_tokenizer_config(tokenizer: &PolicyTokenizer, chat_template: &str) -> Value {
    let token = |id: u32| tokenizer.decode(&[id]);
    json!({
        "eos_token": token(tokenizer.end_id()),
        "pad_token": token(tokenizer.pad_id()),
        "chat_template": chat_template,
    })
}
