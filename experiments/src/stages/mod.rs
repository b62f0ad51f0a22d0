//! The stages of `quill run`, in the order [`crate::pipeline::run`] calls them. Each stage
//! reads only what it may (see docs/architecture.md, "What each stage may read"):
//!
//! 1. [`clean`]: the noise cleaner, trained on the train split's labelled records;
//! 2. [`warm_start`]: the tokenizer and the policy's warm start (language modelling on
//!    pre-split articles, then supervised bootstrap lists);
//! 3. [`grpo`]: GRPO / Dr.GRPO on the composite reward;
//! 4. [`distill`]: the student's warm start and its distillation from the GRPO policy;
//! 5. [`evaluate`]: the validation and test splits, scored against held-out future clicks.
//!
//! [`key`] declares what each stage's saved result depends on; [`held_out`] and [`finished`]
//! are what the stages share: the cleaned users of a split with their held-out scoring, and
//! reusing or saving a finished training run. A stage imports only stages above it in this
//! list.

pub mod clean;
pub mod distill;
pub mod evaluate;
pub mod finished;
pub mod grpo;
pub mod held_out;
pub mod key;
pub mod warm_start;
