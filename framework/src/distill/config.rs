//! The `[distill]` section: which student, which method, and the optimiser and bookkeeping of
//! the distillation run. The registered methods are the paper's distillation table (arXiv
//! 2602.15005): on-policy distillation and its two baselines.

use crate::config::Check;

crate::config_enum! {
    /// How on-policy distillation estimates the reverse KL at each position of a sampled list.
    pub enum KlEstimator {
        /// Sum over the whole vocabulary, `Σ_v p_s(v) (log p_s(v) − log p_t(v))`, differentiated
        /// exactly: no sampling noise in the per-position term, at the cost of the teacher's
        /// full logits per position (batch × length × vocab floats). The better choice when the
        /// vocabulary is small, as for Quill's from-scratch presets (384–8192 tokens).
        Exact = "exact",
        /// The single-sample estimate on the sampled token, `log p_s(x) − log p_t(x)`, used as
        /// a per-token advantage in a policy-gradient step (the Thinking Machines recipe). Needs
        /// only the teacher's log-probability of each sampled token, so it scales to 150k-token
        /// vocabularies (Qwen2.5) and to teachers behind an API; its gradient is unbiased but
        /// noisier.
        Sampled = "sampled",
    }
}

crate::config_section! {
    /// The `[distill]` section: a small student learns from the GRPO-trained policy (the
    /// teacher), or, for the `none` baseline, from the rewards alone.
    pub struct DistillConfig {
        /// Run the distillation stage after GRPO (needs `grpo.enabled` for a teacher).
        pub enabled: bool = false, Check::Any;
        /// A registered method (`crate::distill`, one file each): `on_policy` (the paper's
        /// method), or its baselines `supervised` and `none` (GRPO on the student alone).
        pub method: String = "on_policy".into(), Check::NonEmpty;
        /// The reverse-KL estimator of `on_policy`.
        pub estimator: KlEstimator = KlEstimator::Exact, Check::Any;
        /// The student's preset (`quill presets`). It uses the teacher's tokenizer, so its
        /// vocabulary is the teacher's, not the preset's. It is warm-started like the teacher
        /// (`[warm_start]`) before distillation.
        pub student_preset: String = "pico".into(), Check::NonEmpty;
        /// With a pretrained checkpoint teacher (`policy.checkpoint`): the student is the
        /// checkpoint with this many of its blocks, spread evenly from the first to the last
        /// and initialised from its weights (`quill::policy::evenly_spaced_blocks`); all its
        /// weights train. 0 = `student_preset`, from scratch on the checkpoint's tokenizer.
        /// Must be 0 for a preset teacher.
        pub student_blocks: u32 = 0, Check::Range { min: 0.0, max: 1024.0 };
        /// The student's warm-start learning rate; 0 = `warm_start.learning_rate`.
        pub student_warm_start_lr: f64 = 0.0, Check::Range { min: 0.0, max: 1.0 };
        /// The student's supervised fine-tuning steps on bootstrap lists; 0 =
        /// `warm_start.sft_steps`. Fewer steps give a student that knows the list format but
        /// has not yet learned to copy names, closer to the paper's instruct student, which had
        /// never seen the task.
        pub student_sft_steps: u32 = 0, Check::Range { min: 0.0, max: 1e7 };
        /// Updates (each on freshly sampled lists).
        pub steps: u32 = 60, Check::Range { min: 0.0, max: 1e7 };
        /// Training users per step.
        pub prompts_per_step: u32 = 16, Check::Range { min: 1.0, max: 65536.0 };
        /// Lists sampled per user and step (by the student for `on_policy`, by the teacher for
        /// `supervised`).
        pub samples_per_prompt: u32 = 4, Check::Range { min: 1.0, max: 1024.0 };
        /// Peak AdamW learning rate, after linear warm-up, then cosine decay to zero.
        pub learning_rate: f64 = 1e-3, Check::Range { min: 1e-8, max: 1.0 };
        /// Linear warm-up steps.
        pub warmup_steps: u32 = 5, Check::Range { min: 0.0, max: 1e7 };
        /// AdamW weight decay.
        pub weight_decay: f64 = 0.0, Check::Range { min: 0.0, max: 1.0 };
        /// Gradients are rescaled to at most this global L2 norm (0 = no clipping).
        pub max_grad_norm: f64 = 1.0, Check::Range { min: 0.0, max: 1e6 };
        /// Update only the student's last this many blocks; 0 = every parameter learns.
        pub trainable_blocks: u32 = 0, Check::Range { min: 0.0, max: 1024.0 };
        /// Checkpoint every this many steps (and at the end); 0 = only at the end.
        pub save_every: u32 = 20, Check::Range { min: 0.0, max: 1e7 };
        /// Checkpoints kept (the oldest are deleted).
        pub keep_checkpoints: u32 = 2, Check::Range { min: 1.0, max: 1000.0 };
        /// Held-out evaluation of the student every this many steps (and at the start and end);
        /// 0 = never during training. Uses `grpo.eval_users` validation users, greedy.
        pub eval_every: u32 = 20, Check::Range { min: 0.0, max: 1e7 };
        /// Write sample completions every this many steps; 0 = never.
        pub log_completions_every: u32 = 10, Check::Range { min: 0.0, max: 1e7 };
        /// Completions written each time.
        pub log_completions: u32 = 4, Check::Range { min: 1.0, max: 4096.0 };
    }
}
