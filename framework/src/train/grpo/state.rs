//! What a GRPO run needs to continue exactly after a kill: the policy's weights with their
//! parameter ids, the AdamW moments, the step and the data cursor. Each checkpoint is one
//! directory written atomically (`io::save_dir_atomic`); the last `keep` are kept.
//!
//! Weights go to a burnpack file rather than safetensors because burnpack keeps each
//! parameter's id, and Burn's optimiser state is keyed by those ids: loaded from safetensors,
//! the weights would get fresh ids and the AdamW moments would silently not apply. Sampling
//! seeds and the learning rate are pure functions of the step, so they need no state.

use super::PolicyEval;
use crate::bounded_read::{JSON_BYTES, read_bounded};
use crate::error::{Error, Result};
use crate::io::{save_dir_atomic, write_synced};
use crate::policy::{Decoder, DecoderConfig, LoraSpec, first_non_finite};
use burn::optim::ModuleOptimizer;
use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::Device;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Written last into each checkpoint: its presence marks a complete one.
pub const TRAINER_FILE: &str = "trainer.json";
const MODEL_FILE: &str = "model.bpk";
const OPTIMIZER_FILE: &str = "optimizer.bpk";
const PREFIX: &str = "step-";

/// The trainer's own state at the end of a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    /// Steps completed.
    pub step: u32,
    pub cursor: CursorState,
    /// Hash of the experiment config that started the run: a resume under another config
    /// would not reproduce anything.
    pub config_hash: String,
    pub decoder: DecoderConfig,
    /// The adapters the policy trains through, if any (their weights are in the model file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lora: Option<LoraSpec>,
    /// The held-out evaluations up to this step, so that a resumed run reports them all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evals: Vec<(u32, PolicyEval)>,
}

/// Where the user cursor stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CursorState {
    pub epoch: u64,
    pub position: usize,
}

/// Training users in epochs: each epoch is a fresh shuffle derived from (seed, epoch), so the
/// cursor's whole state is two numbers.
pub struct UserCursor {
    n: usize,
    seed: u64,
    state: CursorState,
    order: Vec<usize>,
}

impl UserCursor {
    pub fn new(n: usize, seed: u64, state: CursorState) -> Self {
        let order = Self::order_of(n, seed, state.epoch);
        UserCursor {
            n,
            seed,
            state,
            order,
        }
    }

    fn order_of(n: usize, seed: u64, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..n).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6c72_9f00_0000_0000 ^ epoch);
        order.shuffle(&mut rng);
        order
    }

    /// The next `k` users (indices); every user comes once per epoch.
    pub fn next(&mut self, k: usize) -> Vec<usize> {
        let mut out = Vec::with_capacity(k);
        while out.len() < k && self.n > 0 {
            if self.state.position == self.n {
                self.state.epoch += 1;
                self.state.position = 0;
                self.order = Self::order_of(self.n, self.seed, self.state.epoch);
            }
            out.push(self.order[self.state.position]);
            self.state.position += 1;
        }
        out
    }

    pub fn state(&self) -> CursorState {
        self.state
    }
}

/// Saves a checkpoint under `root/step-NNNNNNNN` and deletes all but the newest `keep`.
pub fn save_training_checkpoint(
    root: &Path,
    state: &TrainerState,
    decoder: &Decoder,
    optim: &ModuleOptimizer,
    keep: usize,
) -> Result<PathBuf> {
    let dir = root.join(format!("{PREFIX}{:08}", state.step));
    // Fail closed: a diverged step saved would become "the last good checkpoint" to resume.
    if let Some(module) = first_non_finite(decoder) {
        let msg = format!(
            "refusing to save step {}: the weights of {module} hold NaN or infinite values \
             (training diverged; a lower learning rate usually helps)",
            state.step
        );
        return Err(Error::in_file(&dir, msg));
    }
    save_dir_atomic(&dir, TRAINER_FILE, "a GRPO checkpoint", |staging| {
        let mut store = BurnpackStore::from_bytes(None);
        decoder
            .save_into(&mut store)
            .map_err(|e| Error::model(MODEL_FILE, format!("serialising weights: {e}")))?;
        let bytes = store
            .get_bytes()
            .map_err(|e| Error::model(MODEL_FILE, format!("serialising weights: {e}")))?;
        write_synced(&staging.join(MODEL_FILE), &bytes)?;
        let bytes = optim
            .into_bytes()
            .map_err(|e| Error::model(OPTIMIZER_FILE, format!("serialising AdamW: {e}")))?;
        write_synced(&staging.join(OPTIMIZER_FILE), &bytes)?;
        let json = serde_json::to_vec_pretty(state)
            .map_err(|e| Error::model(TRAINER_FILE, e.to_string()))?;
        write_synced(&staging.join(TRAINER_FILE), &json)
    })?;
    let mut all = checkpoints(root)?;
    while all.len() > keep.max(1) {
        let (_, old) = all.remove(0);
        std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
    }
    Ok(dir)
}

/// Complete checkpoints under `root`, oldest first, with their step.
fn checkpoints(root: &Path) -> Result<Vec<(u32, PathBuf)>> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| Error::io(root, e))?.path();
        let step = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix(PREFIX))
            .and_then(|n| n.parse::<u32>().ok());
        if let Some(step) = step
            && path.join(TRAINER_FILE).is_file()
        {
            out.push((step, path));
        }
    }
    out.sort();
    Ok(out)
}

/// The newest complete checkpoint under `root` and its state, if any.
pub fn latest_checkpoint(root: &Path) -> Result<Option<(PathBuf, TrainerState)>> {
    let Some((_, dir)) = checkpoints(root)?.pop() else {
        return Ok(None);
    };
    let path = dir.join(TRAINER_FILE);
    let text = read_bounded(&path, JSON_BYTES, "a trainer state")?;
    let state: TrainerState = serde_json::from_slice(&text)
        .map_err(|e| Error::in_file(&path, format!("not a GRPO trainer state: {e}")))?;
    Ok(Some((dir, state)))
}

/// Loads a checkpoint's weights (with their parameter ids) onto `device`, and its AdamW state
/// into `optim`.
pub fn load_training_checkpoint(
    dir: &Path,
    state: &TrainerState,
    optim: ModuleOptimizer,
    device: &Device,
) -> Result<(Decoder, ModuleOptimizer)> {
    state
        .decoder
        .validate(&dir.join(TRAINER_FILE).display().to_string())?;
    let model_path = dir.join(MODEL_FILE);
    let mut decoder = Decoder::zeroed(&state.decoder, device);
    if let Some(spec) = &state.lora {
        decoder = decoder.with_lora(spec, &state.decoder, 0)?;
    }
    let mut store = BurnpackStore::from_file(&model_path);
    let result = decoder
        .load_from(&mut store)
        .map_err(|e| Error::in_file(&model_path, format!("loading weights: {e}")))?;
    if !result.errors.is_empty() || !result.missing.is_empty() {
        let msg = format!(
            "does not match the trainer state's decoder: missing {:?}, errors {:?}",
            result.missing, result.errors
        );
        return Err(Error::in_file(&model_path, msg));
    }
    if let Some(module) = first_non_finite(&decoder) {
        let msg = format!("the weights of {module} hold NaN or infinite values");
        return Err(Error::in_file(&model_path, msg));
    }
    let optim_path = dir.join(OPTIMIZER_FILE);
    let optim = optim
        .load(&optim_path)
        .map_err(|e| Error::in_file(&optim_path, format!("loading AdamW state: {e}")))?;
    Ok((decoder, optim))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_visits_every_user_once_per_epoch_and_restarts_from_its_state() {
        let mut c = UserCursor::new(
            5,
            9,
            CursorState {
                epoch: 0,
                position: 0,
            },
        );
        let first: Vec<usize> = c.next(5);
        let mut sorted = first.clone();
        sorted.sort();
        assert_eq!(sorted, vec![0, 1, 2, 3, 4]);
        let a = c.next(3);
        let saved = c.state();
        assert_eq!(
            saved,
            CursorState {
                epoch: 1,
                position: 3
            }
        );
        let rest = c.next(4);
        let mut again = UserCursor::new(5, 9, saved);
        assert_eq!(
            again.next(4),
            rest,
            "a cursor rebuilt from its state continues identically"
        );
        assert_ne!(
            first,
            [a.clone(), rest[..2].to_vec()].concat(),
            "epochs reshuffle"
        );
    }
}

#[cfg(test)]
mod resume_tests {
    use super::*;
    use crate::policy::{AttentionMask, find_preset};
    use burn::optim::{AdamWConfig, GradientsParams};
    use burn::tensor::{Int, Tensor, TensorData};

    fn step(decoder: Decoder, optim: &mut ModuleOptimizer, device: &Device) -> Decoder {
        let tokens =
            Tensor::<2, Int>::from_data(TensorData::new(vec![1i64, 2, 3, 4], [1, 4]), device);
        let mask = AttentionMask::causal(1, 4, device);
        let loss = decoder.forward(tokens, &mask, None).powi_scalar(2).mean();
        let grads = GradientsParams::from_grads(loss.backward(), &decoder);
        optim.step(1e-2, decoder, grads)
    }

    /// One step, a checkpoint, then a second step from memory and from the checkpoint: the
    /// same weights after both.
    fn resumes_exactly(lora: Option<LoraSpec>) {
        let device = Device::flex().autodiff();
        let cfg = find_preset("nano").unwrap().with_vocab(32);
        let name = format!("quill-state-{}-{}", lora.is_some(), std::process::id());
        let root = std::env::temp_dir().join(name);
        let _ = std::fs::remove_dir_all(&root);
        let new_optim = || -> ModuleOptimizer { AdamWConfig::new().init() };
        let mut optim = new_optim();
        let mut decoder = Decoder::new(&cfg, 1, &device);
        if let Some(spec) = &lora {
            decoder = decoder.with_lora(spec, &cfg, 3).unwrap();
        }
        decoder = step(decoder, &mut optim, &device);
        let state = TrainerState {
            step: 1,
            cursor: CursorState {
                epoch: 0,
                position: 0,
            },
            config_hash: "h".into(),
            decoder: cfg.clone(),
            lora,
            evals: Vec::new(),
        };
        let dir = save_training_checkpoint(&root, &state, &decoder, &optim, 2).unwrap();
        let whole = step(decoder, &mut optim, &device);
        let (loaded, state_back) = latest_checkpoint(&root).unwrap().unwrap();
        assert_eq!(
            (loaded.clone(), state_back.clone()),
            (dir.clone(), state.clone())
        );
        let (decoder, mut optim) =
            load_training_checkpoint(&dir, &state_back, new_optim(), &device).unwrap();
        assert_eq!(decoder.has_adapters(), state.lora.is_some());
        let resumed = step(decoder.freeze_base(), &mut optim, &device);
        let flat = |d: &Decoder| {
            let d = d.merged();
            let values = |t: Tensor<2>| t.into_data().try_to_vec::<f32>().unwrap();
            let mut out = values(d.embed_tokens.weight.val());
            out.extend(values(d.blocks[0].attention.q_proj.weight.val()));
            out
        };
        let before = flat(&Decoder::new(&cfg, 1, &device));
        assert_ne!(flat(&whole), before, "the steps changed the policy");
        assert_eq!(flat(&whole), flat(&resumed));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn diverged_weights_are_neither_saved_nor_resumed() {
        let device = Device::flex().autodiff();
        let cfg = find_preset("nano").unwrap().with_vocab(32);
        let root = std::env::temp_dir().join(format!("quill-state-nan-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let optim: ModuleOptimizer = AdamWConfig::new().init();
        let good = Decoder::new(&cfg, 1, &device);
        let mut bad = good.clone();
        let q = &mut bad.blocks[0].attention.q_proj;
        let inf = q.weight.val().mul_scalar(f32::INFINITY).detach();
        q.weight = burn::module::Param::from_tensor(inf);
        let state = TrainerState {
            step: 3,
            cursor: CursorState {
                epoch: 0,
                position: 0,
            },
            config_hash: "h".into(),
            decoder: cfg.clone(),
            lora: None,
            evals: Vec::new(),
        };
        let err = save_training_checkpoint(&root, &state, &bad, &optim, 2)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("step 3") && err.contains("blocks.0.attention.q_proj.weight"),
            "{err}"
        );
        assert!(latest_checkpoint(&root).unwrap().is_none(), "nothing saved");
        // Weights written by something else are refused on resume.
        let dir = save_training_checkpoint(&root, &state, &good, &optim, 2).unwrap();
        let mut store = BurnpackStore::from_bytes(None);
        bad.save_into(&mut store).unwrap();
        let bytes = store.get_bytes().unwrap();
        std::fs::write(dir.join(MODEL_FILE), &*bytes).unwrap();
        let err = load_training_checkpoint(&dir, &state, AdamWConfig::new().init(), &device)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("q_proj") && err.contains(MODEL_FILE), "{err}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn saved_evaluations_read_back_exactly() {
        use crate::eval::{MetricMeans, RewardMeans};
        // A mean whose shortest decimal form serde_json's default parser reads one ulp off;
        // it was seen in a resumed run's metrics (scripts/kill_points.sh).
        let awkward = 0.11458333674818277;
        let eval = PolicyEval {
            rewards: RewardMeans {
                composite: awkward,
                per_reward: [("query_specificity".to_string(), awkward)].into(),
                lists: 24,
                truncated: 0,
            },
            ranking: MetricMeans {
                mrr: 1.0 / 3.0,
                ..MetricMeans::default()
            },
            valid_rate: 0.1 + 0.2,
        };
        let state = TrainerState {
            step: 2,
            cursor: CursorState {
                epoch: 0,
                position: 8,
            },
            config_hash: "h".into(),
            decoder: find_preset("pico").unwrap().config,
            lora: None,
            evals: vec![(0, eval)],
        };
        let text = serde_json::to_vec(&state).unwrap();
        let back: TrainerState = serde_json::from_slice(&text).unwrap();
        assert_eq!(back, state);
    }

    #[test]
    fn weights_and_adamw_state_resume_exactly() {
        resumes_exactly(None);
    }

    #[test]
    fn adapters_and_their_adamw_state_resume_exactly() {
        let spec = LoraSpec {
            rank: 2,
            alpha: 4.0,
            targets: vec![crate::policy::Projection::Q],
            blocks: vec![0],
        };
        resumes_exactly(Some(spec));
    }
}
