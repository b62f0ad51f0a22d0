//! The `[grpo]` section: the RL stage's sampling budget, algorithm (advantage and loss
//! aggregation), optimiser and bookkeeping. Each variant names the paper it comes from; how the
//! algorithm and its overrides resolve is in `algorithm`.

use crate::config::Check;

crate::config_enum! {
    /// How a group's rewards become advantages.
    pub enum AdvantageKind {
        /// Dr.GRPO (Liu et al. 2025, "Understanding R1-Zero-Like Training"), the paper's choice:
        /// reward minus the group mean, no division by the group's standard deviation (which
        /// up-weights near-unanimous groups and biases towards easy prompts).
        DrGrpo = "dr_grpo",
        /// GRPO (Shao et al. 2024, DeepSeekMath): (reward - group mean) / (group std + 1e-4),
        /// with the unbiased (n - 1) standard deviation as TRL computes it.
        Grpo = "grpo",
        /// GDPO (Liu et al. 2026, "Group reward-Decoupled Normalization Policy Optimization",
        /// arXiv 2601.05242): each reward is GRPO-normalised within its group on its own, the
        /// weighted sum is then divided by its standard deviation over the batch. Summing first
        /// lets the rewards with the widest spread (a binary format check) drown the rest.
        Gdpo = "gdpo",
    }
}

crate::config_enum! {
    /// How per-token losses are averaged into the batch loss.
    pub enum LossAggregation {
        /// Dr.GRPO: sum over every token of the batch / (sequences × max_new_tokens), a constant
        /// normaliser, so long and short completions are not weighted differently per token.
        ConstantLength = "constant_length",
        /// DAPO (Yu et al. 2025): sum over every token / number of real tokens in the batch.
        TokenMean = "token_mean",
        /// Original GRPO: mean over sequences of each sequence's token mean (a length bias:
        /// tokens of short completions weigh more).
        SeqMeanTokenMean = "seq_mean_token_mean",
    }
}

crate::config_enum! {
    /// A policy-gradient algorithm as its paper defines it: an advantage and a loss
    /// aggregation together.
    pub enum GrpoAlgorithm {
        /// Dr.GRPO (Liu et al. 2025, "Understanding R1-Zero-Like Training"), the paper's:
        /// advantage `dr_grpo` (no division by the group's std) and loss aggregation
        /// `constant_length` (no division by each completion's length).
        DrGrpo = "dr_grpo",
        /// GRPO (Shao et al. 2024, DeepSeekMath, eq. 3): advantage `grpo` (divided by the
        /// group's std) and loss aggregation `seq_mean_token_mean` (each completion's token
        /// mean, then the mean over completions).
        Grpo = "grpo",
    }
}

crate::config_section! {
    /// The `[grpo]` section: GRPO / Dr.GRPO on the composite reward, from the warm-started policy.
    pub struct GrpoConfig {
        /// Run the RL stage (needs the warm start).
        pub enabled: bool = true, Check::Any;
        /// Policy updates (each on one freshly sampled batch, reused `num_iterations` times).
        pub steps: u32 = 60, Check::Range { min: 0.0, max: 1e7 };
        /// Training users sampled per step.
        pub prompts_per_step: u32 = 16, Check::Range { min: 1.0, max: 65536.0 };
        /// Lists sampled per user (G); advantages compare lists of the same user.
        pub group_size: u32 = 8, Check::Range { min: 2.0, max: 1024.0 };
        /// The algorithm, advantage and loss aggregation together, as its paper defines it:
        /// `dr_grpo` (the paper's) = advantage `dr_grpo` + loss_aggregation `constant_length`;
        /// `grpo` = advantage `grpo` + loss_aggregation `seq_mean_token_mean`. The two fields
        /// below each replace one part when set and leave the other to the algorithm.
        pub algorithm: GrpoAlgorithm = GrpoAlgorithm::DrGrpo, Check::Any;
        /// Override of the algorithm's advantage only; unset = the algorithm's. The loss
        /// aggregation stays the algorithm's: `advantage = "grpo"` under the default algorithm
        /// is GRPO's advantage with Dr.GRPO's `constant_length` loss, not GRPO (that is
        /// `algorithm = "grpo"`). `gdpo` is reachable only here.
        pub advantage: Option<AdvantageKind> = None, Check::Any;
        /// Override of the algorithm's loss aggregation only; unset = the algorithm's
        /// (`token_mean`, DAPO's, is reachable only here).
        pub loss_aggregation: Option<LossAggregation> = None, Check::Any;
        /// PPO clip below: the ratio is clipped at 1 - epsilon_low.
        pub epsilon_low: f64 = 0.2, Check::Range { min: 0.0, max: 1.0 };
        /// PPO clip above: the ratio is clipped at 1 + epsilon_high (DAPO raises it to 0.28).
        pub epsilon_high: f64 = 0.2, Check::Range { min: 0.0, max: 10.0 };
        /// Updates per sampled batch (μ); above 1 the clipped ratio matters.
        pub num_iterations: u32 = 1, Check::Range { min: 1.0, max: 64.0 };
        /// Weight of the KL penalty to the frozen warm-start policy (k3 estimator); 0 = no
        /// reference model is kept.
        pub beta: f64 = 0.0, Check::Range { min: 0.0, max: 100.0 };
        /// Update only the last this many decoder blocks; the embeddings, earlier blocks, final
        /// norm and output head keep their warm-start weights. 0 = every parameter learns: the
        /// usual form, kept as the default; the quickstart's 1 keeps more sampled lists valid
        /// on the validation split (docs/results.md, "Settings chosen on the validation split").
        pub trainable_blocks: u32 = 0, Check::Range { min: 0.0, max: 1024.0 };
        /// Weight of per-query credit: each query's tokens also get its leave-one-out
        /// contribution to the composite, centred within its list (see `query_credit`); 0 = the
        /// list's advantage on every token.
        pub query_credit: f64 = 0.0, Check::Range { min: 0.0, max: 100.0 };
        /// Peak AdamW learning rate, after linear warm-up, then cosine decay to zero.
        pub learning_rate: f64 = 5e-4, Check::Range { min: 1e-8, max: 1.0 };
        /// Linear warm-up steps.
        pub warmup_steps: u32 = 5, Check::Range { min: 0.0, max: 1e7 };
        /// AdamW weight decay.
        pub weight_decay: f64 = 0.0, Check::Range { min: 0.0, max: 1.0 };
        /// Gradients are rescaled to at most this global L2 norm (0 = no clipping).
        pub max_grad_norm: f64 = 1.0, Check::Range { min: 0.0, max: 1e6 };
        /// Drop groups whose rewards' standard deviation is at most this (they carry no
        /// signal under either advantage); negative = keep every group.
        pub zero_spread_tolerance: f64 = 1e-6, Check::Range { min: -1.0, max: 1.0 };
        /// Checkpoint every this many steps (and at the end); 0 = only at the end.
        pub save_every: u32 = 20, Check::Range { min: 0.0, max: 1e7 };
        /// Checkpoints kept (the oldest are deleted).
        pub keep_checkpoints: u32 = 2, Check::Range { min: 1.0, max: 1000.0 };
        /// Held-out evaluation every this many steps (and at the start and end); 0 = never
        /// during training.
        pub eval_every: u32 = 20, Check::Range { min: 0.0, max: 1e7 };
        /// Validation users in each held-out evaluation (greedy decoding).
        pub eval_users: u32 = 100, Check::Range { min: 1.0, max: 1e6 };
        /// Write sample completions every this many steps; 0 = never.
        pub log_completions_every: u32 = 10, Check::Range { min: 0.0, max: 1e7 };
        /// Completions written each time.
        pub log_completions: u32 = 4, Check::Range { min: 1.0, max: 4096.0 };
    }
}
