//! The `[policy]` and `[warm_start]` sections.

use crate::config::Check;

crate::config_section! {
    /// The `[policy]` section of an experiment: which preset, its tokenizer and its prompt
    /// (the decoder's own shape is `policy::DecoderConfig`).
    pub struct PolicySection {
        /// From-scratch preset (`quill presets` lists them). Not set together with
        /// `checkpoint`.
        pub preset: String = "nano".into(), Check::NonEmpty;
        /// A pretrained instruct checkpoint as the policy instead of a preset: a GGUF file
        /// (`*.gguf`, e.g. SmolLM2-135M-Instruct from scripts/fetch_smollm2.sh) or a Hugging
        /// Face Qwen2/Llama directory (config.json, safetensors weights, tokenizer.json,
        /// tokenizer_config.json); relative paths resolve against the experiment file's
        /// directory. Its tokenizer, special tokens and chat template are used, and evaluated
        /// as it is it gives the `prompt_only` rows. Unset: the policy is `preset`.
        pub checkpoint: Option<std::path::PathBuf> = None, Check::Any;
        /// The system instruction of a checkpoint's chat prompt; `{min_queries}` and
        /// `{max_queries}` are replaced by the `[format]` bounds. Unset: Quill's own
        /// (`quill::text::DEFAULT_INSTRUCTION`, which `quill validate` prints for a checkpoint
        /// policy). Preset policies have no instruction.
        pub instruction: Option<String> = None, Check::Any;
        /// BPE vocabulary to train (0 = the preset's); a small corpus may yield fewer tokens.
        /// A checkpoint brings its own (leave 0).
        pub vocab_size: u32 = 0, Check::Any;
        /// Most prompt tokens; the oldest signals are dropped first. A checkpoint's chat
        /// template and instruction count too (about 100 tokens for the default instruction).
        pub prompt_budget: u32 = 128, Check::Range { min: 8.0, max: 100000.0 };
        /// LoRA adapters for fine-tuning a checkpoint policy (`[policy.lora]`).
        pub lora: LoraSection = LoraSection::default(), Check::Any;
    }
}

crate::config_section! {
    /// `[policy.lora]`: LoRA adapters beside a checkpoint policy's frozen linear layers, trained
    /// by the warm start and GRPO alike in place of the weights themselves. Each stage saves
    /// its policy with the adapters merged, and the adapters alone, in PEFT's files, under its
    /// directory's `adapter/`.
    pub struct LoraSection {
        /// Adapter rank; 0: no adapters (every weight trains, or the last
        /// `grpo.trainable_blocks`).
        pub rank: u32 = 0, Check::Range { min: 0.0, max: 4096.0 };
        /// The update is scaled by alpha / rank (PEFT's `lora_alpha`).
        pub alpha: f64 = 16.0, Check::Range { min: 1e-6, max: 1e6 };
        /// Dropout on the adapters' input. Only 0 (PEFT's default) is built: the forward pass
        /// has no per-step random stream to draw masks from deterministically.
        pub dropout: f64 = 0.0, Check::Range { min: 0.0, max: 0.0 };
        /// The projections adapted in each chosen block.
        pub targets: Vec<crate::policy::Projection> = crate::policy::Projection::ALL.to_vec(), Check::Any;
        /// The blocks adapted, by index from 0; empty: all.
        pub blocks: Vec<u32> = Vec::new(), Check::Any;
    }
}

impl LoraSection {
    /// The adapters this section asks for, or `None` at rank 0.
    pub fn spec(&self) -> Option<crate::policy::LoraSpec> {
        (self.rank > 0).then(|| crate::policy::LoraSpec {
            rank: self.rank as usize,
            alpha: self.alpha,
            targets: self.targets.clone(),
            blocks: self.blocks.iter().map(|&b| b as usize).collect(),
        })
    }
}

crate::config_enum! {
    /// Which signals a user's bootstrap list (the fine-tuning target) is built from.
    pub enum BootstrapFrom {
        /// The signals the prompt shows (the newest that fit `prompt_budget`): every word of a
        /// target can be copied from its prompt.
        Prompt = "prompt",
        /// The whole cleaned history, including signals the budget drops from the prompt: the
        /// policy is taught to name what it cannot see, and learns to invent names.
        History = "history",
    }
}

crate::config_section! {
    /// The `[warm_start]` section: language modelling on corpus and signal text, then supervised
    /// fine-tuning on bootstrap query lists (the stand-in for an instruct model).
    pub struct WarmStartConfig {
        /// Run the warm start (off: RL would start from random weights).
        pub enabled: bool = true, Check::Any;
        /// Language-modelling steps on corpus and signal text.
        pub lm_steps: u32 = 150, Check::Range { min: 0.0, max: 1e7 };
        /// What the bootstrap lists (the supervised targets) are built from.
        pub bootstrap_from: BootstrapFrom = BootstrapFrom::Prompt, Check::Any;
        /// Supervised steps on (prompt, bootstrap list) pairs of training users. Copying names
        /// from the prompt is learned late: on the validation split a nano policy fine-tuned
        /// for 500 steps still invents names (docs/results.md, "Settings chosen on the
        /// validation split").
        pub sft_steps: u32 = 1500, Check::Range { min: 0.0, max: 1e7 };
        /// Sequences per step (both stages).
        pub batch_size: u32 = 16, Check::Range { min: 1.0, max: 4096.0 };
        /// Tokens per language-modelling window.
        pub lm_seq_len: u32 = 128, Check::Range { min: 2.0, max: 8192.0 };
        /// Peak AdamW learning rate (linear warm-up, then cosine-annealed, within each stage).
        pub learning_rate: f64 = 3e-3, Check::Range { min: 1e-7, max: 1.0 };
        /// Steps of linear learning-rate warm-up at the start of each stage.
        pub warmup_steps: u32 = 0, Check::Range { min: 0.0, max: 1e7 };
        /// AdamW weight decay.
        pub weight_decay: f64 = 0.01, Check::Range { min: 0.0, max: 1.0 };
        /// Validation users whose sampled lists (temperature 1) measure structural validity.
        pub eval_users: u32 = 200, Check::Range { min: 0.0, max: 1e6 };
        /// Training users held out of fine-tuning whose sampled lists (temperature 1) pick the
        /// kept weights; 0 keeps the last step's.
        pub probe_users: u32 = 0, Check::Range { min: 0.0, max: 1e6 };
        /// Fine-tuning steps between validity probes (the last step is always probed).
        pub probe_every: u32 = 50, Check::Range { min: 1.0, max: 1e7 };
        /// No probe before this fine-tuning step: early weights are still learning the format.
        pub probe_from: u32 = 0, Check::Range { min: 0.0, max: 1e7 };
        /// Steps of self-filtered fine-tuning after the supervised stage: on the policy's own
        /// sampled lists for training prompts that parse valid (0 = no such stage).
        pub self_filter_steps: u32 = 0, Check::Range { min: 0.0, max: 1e7 };
        /// Lists sampled per training prompt for self-filtered fine-tuning.
        pub self_filter_samples: u32 = 2, Check::Range { min: 1.0, max: 1024.0 };
        /// Peak learning rate of self-filtered fine-tuning (same warm-up and cosine shape).
        pub self_filter_learning_rate: f64 = 3e-4, Check::Range { min: 1e-7, max: 1.0 };
        /// Steps of unlikelihood fine-tuning after the supervised stage: imitation of the
        /// bootstrap lists goes on, and the tokens that broke the format in lists the policy
        /// samples at each step are pushed down (0 = no such stage: a stage beyond the paper's,
        /// off by default; the quickstart's 600 keeps more sampled lists valid on the
        /// validation split, docs/results.md).
        pub unlikelihood_steps: u32 = 0, Check::Range { min: 0.0, max: 1e7 };
        /// Lists the policy samples per unlikelihood step (temperature as in `[sampling]`).
        pub unlikelihood_samples: u32 = 32, Check::Range { min: 1.0, max: 4096.0 };
        /// Weight of the unlikelihood loss beside the imitation loss.
        pub unlikelihood_weight: f64 = 1.0, Check::Range { min: 0.0, max: 1000.0 };
        /// Weight, in unlikelihood fine-tuning, of the loss that raises the total probability
        /// of the tokens the format allows at each line start and after each line's "-" of the
        /// imitated lists (0 = imitation of the targets' own tokens only).
        pub unlikelihood_format_weight: f64 = 0.0, Check::Range { min: 0.0, max: 1000.0 };
        /// Weight, in unlikelihood fine-tuning, of the loss that pushes down, at each query
        /// line's opening in the imitated lists, the tokens that opened the list's earlier
        /// lines (the start of a repeat; 0 = none).
        pub unlikelihood_repeat_weight: f64 = 0.0, Check::Range { min: 0.0, max: 1000.0 };
        /// Peak learning rate of unlikelihood fine-tuning (same warm-up and cosine shape).
        pub unlikelihood_learning_rate: f64 = 3e-4, Check::Range { min: 1e-7, max: 1.0 };
    }
}
