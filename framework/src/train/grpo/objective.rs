//! The clipped policy-gradient objective of GRPO (Shao et al. 2024, DeepSeekMath, eq. 3), with
//! DAPO's decoupled clip range (Yu et al. 2025), the optional k3 KL penalty to a frozen
//! reference (Schulman 2020, "Approximating KL Divergence") and the three ways of averaging
//! per-token losses that the papers disagree on (see [`LossAggregation`]). The formulas and the
//! logged statistics follow TRL's `GRPOTrainer`, so runs can be compared with its metrics.

use super::config::{GrpoConfig, LossAggregation};
use crate::error::{Error, Result};
use burn::tensor::{Bool, Device, Tensor, TensorData};

const ORIGIN: &str = "grpo objective";

/// The knobs of [`policy_loss`], in the objective's own units (f32, token counts).
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectiveConfig {
    /// The ratio is clipped below at `1 - epsilon_low`.
    pub epsilon_low: f32,
    /// The ratio is clipped above at `1 + epsilon_high` (DAPO's "clip-higher" raises it alone).
    pub epsilon_high: f32,
    /// Weight of the k3 KL penalty; only used when a reference log-prob is passed.
    pub beta: f32,
    pub aggregation: LossAggregation,
    /// The constant normaliser of [`LossAggregation::ConstantLength`]: the longest completion
    /// the sampler may produce (`max_new_tokens`), not the longest one in this batch, so the
    /// weight of a token does not depend on what else was sampled (Liu et al. 2025).
    pub max_len: usize,
}

impl ObjectiveConfig {
    /// The objective of a `[grpo]` section (its resolved aggregation), completions <= `max_len`.
    pub fn from_grpo(cfg: &GrpoConfig, max_len: usize) -> Self {
        ObjectiveConfig {
            epsilon_low: cfg.epsilon_low as f32,
            epsilon_high: cfg.epsilon_high as f32,
            beta: cfg.beta as f32,
            aggregation: cfg.variant().loss_aggregation,
            max_len,
        }
    }
}

/// The loss to back-propagate and the statistics TRL logs beside it.
#[derive(Debug, Clone)]
pub struct LossParts {
    /// Scalar (shape `[1]`), differentiable with respect to `logp` only.
    pub loss: Tensor<1>,
    /// TRL's `clip_ratio/region_mean`: share of real tokens whose clipped term won the min,
    /// i.e. `low_clip_ratio + high_clip_ratio`.
    pub clip_ratio: f32,
    /// `clip_ratio/low_mean`: ratio < 1 - epsilon_low and advantage < 0.
    pub low_clip_ratio: f32,
    /// `clip_ratio/high_mean`: ratio > 1 + epsilon_high and advantage > 0.
    pub high_clip_ratio: f32,
    /// Mean k3 KL to the reference over real tokens; 0 when no reference was passed.
    pub kl: f32,
    /// Real (unmasked) tokens in the batch (in these rows, for [`shard_policy_loss`]).
    pub tokens: usize,
}

/// The GRPO loss of a batch of `B` completions padded to `T` tokens.
///
/// - `logp` `[B, T]`: the current policy's log-probabilities of the sampled tokens; the only
///   input gradients flow into.
/// - `old_logp` `[B, T]`: the same from the policy that sampled the batch; detached here, so it
///   may come from an inference device or from the same graph as `logp`.
/// - `ref_logp` `[B, T]`: the frozen reference's; detached here too; `None` means no KL term.
/// - `advantages`: one per row (see `advantage::group_advantages`), broadcast over its tokens.
/// - `mask` `[B, T]`: 1 for a real completion token, 0 for padding; nothing else is accepted.
///
/// Per token, with `ratio = exp(logp - old_logp)` and advantage `A`:
/// `-min(ratio * A, clamp(ratio, 1 - eps_low, 1 + eps_high) * A) + beta * k3`, then masked and
/// averaged as `cfg.aggregation` says: `ConstantLength` divides the masked sum by
/// `B * max_len`, `TokenMean` by the number of real tokens, `SeqMeanTokenMean` takes each row's
/// token mean (an all-padding row counts as 0) and averages the rows.
///
/// Errors (never panics) on mismatched shapes, an advantage count other than `B`, a non-finite
/// advantage, a mask value other than 0 or 1, negative or non-finite epsilons or beta, an empty
/// batch, or `max_len == 0` under `ConstantLength`.
pub fn policy_loss(
    logp: Tensor<2>,
    old_logp: Tensor<2>,
    ref_logp: Option<Tensor<2>>,
    advantages: &[f32],
    mask: Tensor<2>,
    cfg: &ObjectiveConfig,
) -> Result<LossParts> {
    let [b, t] = logp.dims();
    if advantages.len() != b {
        let msg = format!("{} advantages for {b} completions", advantages.len());
        return Err(Error::model(ORIGIN, msg));
    }
    let per_token: Vec<f32> = advantages
        .iter()
        .flat_map(|&a| std::iter::repeat_n(a, t))
        .collect();
    token_policy_loss(logp, old_logp, ref_logp, &per_token, mask, cfg)
}

/// [`policy_loss`] with an advantage per token: `advantages` is row-major `[B, T]` (see
/// `query_credit`), an error at any other length.
pub fn token_policy_loss(
    logp: Tensor<2>,
    old_logp: Tensor<2>,
    ref_logp: Option<Tensor<2>>,
    advantages: &[f32],
    mask: Tensor<2>,
    cfg: &ObjectiveConfig,
) -> Result<LossParts> {
    loss_of(logp, old_logp, ref_logp, advantages, mask, cfg, None)
}

/// The whole-batch quantities that normalise the loss of a shard of the batch's rows (see
/// [`shard_policy_loss`]), counted on the host before the shards run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchTotals {
    /// Completions in the whole batch (`B` of `ConstantLength` and `SeqMeanTokenMean`).
    pub rows: usize,
    /// Real (unmasked) tokens in the whole batch (`TokenMean`'s divisor, the statistics').
    pub tokens: usize,
}

/// [`token_policy_loss`] of some rows of a larger batch, normalised by the whole batch's
/// `totals` instead of these rows' own counts: `ConstantLength` divides by
/// `totals.rows * max_len`, `TokenMean` by `totals.tokens`, `SeqMeanTokenMean` sums the rows'
/// token means and divides by `totals.rows`; the clip shares and the KL are sums over these
/// rows' tokens divided by `totals.tokens`. The shards' losses and statistics then add up to
/// the whole batch's (up to float rounding), and so do their gradients. `tokens` is still
/// these rows' count. An error when `totals` counts fewer rows or tokens than these rows hold.
pub fn shard_policy_loss(
    logp: Tensor<2>,
    old_logp: Tensor<2>,
    ref_logp: Option<Tensor<2>>,
    advantages: &[f32],
    mask: Tensor<2>,
    cfg: &ObjectiveConfig,
    totals: BatchTotals,
) -> Result<LossParts> {
    loss_of(
        logp,
        old_logp,
        ref_logp,
        advantages,
        mask,
        cfg,
        Some(totals),
    )
}

/// [`token_policy_loss`] normalised by `totals`, or by the batch's own counts when `None`.
fn loss_of(
    logp: Tensor<2>,
    old_logp: Tensor<2>,
    ref_logp: Option<Tensor<2>>,
    advantages: &[f32],
    mask: Tensor<2>,
    cfg: &ObjectiveConfig,
    totals: Option<BatchTotals>,
) -> Result<LossParts> {
    let [b, t] = logp.dims();
    check_inputs(&logp, &old_logp, ref_logp.as_ref(), advantages, &mask, cfg)?;
    let device = logp.device();
    let mask_host = read(&mask, "mask")?;
    if let Some((i, m)) = mask_host
        .iter()
        .enumerate()
        .find(|(_, m)| **m != 0.0 && **m != 1.0)
    {
        let msg = format!("mask[{}][{}] is {m}; it must be 0 or 1", i / t, i % t);
        return Err(Error::model(ORIGIN, msg));
    }
    // Rebuilt on `logp`'s device, so a mask made on the inference device mixes safely with an
    // autodiff `logp`.
    let mask_bt = host_tensor(mask_host.clone(), [b, t], &device);
    let pad_bt = Tensor::<2, Bool>::from_data(
        TensorData::new(mask_host.iter().map(|&m| m == 0.0).collect(), [b, t]),
        &device,
    );
    let adv_bt = host_tensor(advantages.to_vec(), [b, t], &device);

    // Log-ratios at padding are forced to 0 before `exp`: padded log-probs may be -inf or
    // garbage, and `NaN * 0` from the mask would still poison the sum. The fill also gives
    // padding an exactly-zero gradient.
    let log_ratio = (logp.clone() - old_logp.detach()).mask_fill(pad_bt.clone(), 0.0);
    let ratio = log_ratio.exp();
    let unclipped = ratio.clone() * adv_bt.clone();
    let clipped = ratio
        .clone()
        .clamp(1.0 - cfg.epsilon_low, 1.0 + cfg.epsilon_high)
        * adv_bt;
    // The pessimistic bound of PPO: the min takes the clipped term only when the ratio has
    // already moved past the trust region in the advantage's direction, and `clamp` then has
    // zero gradient, so such tokens stop pushing. On a tie `min_pair` keeps `unclipped`.
    let mut per_token = -unclipped.min_pair(clipped);

    let tokens = mask_host.iter().filter(|&&m| m == 1.0).count();
    let whole = totals.unwrap_or(BatchTotals { rows: b, tokens });
    if whole.rows < b || whole.tokens < tokens {
        let msg = format!(
            "the batch totals ({whole:?}) count fewer than these {b} rows and {tokens} tokens"
        );
        return Err(Error::model(ORIGIN, msg));
    }
    let mut kl = 0.0;
    if let Some(ref_logp) = ref_logp {
        let k3 = k3_of_log_ratio((ref_logp.detach() - logp).mask_fill(pad_bt, 0.0));
        kl = masked_mean(&read(&k3, "k3 KL")?, &mask_host, whole.tokens);
        if cfg.beta != 0.0 {
            per_token = per_token + k3.mul_scalar(cfg.beta);
        }
    }

    let masked = per_token * mask_bt;
    let loss = match cfg.aggregation {
        LossAggregation::ConstantLength => {
            masked.sum().div_scalar((whole.rows * cfg.max_len) as f32)
        }
        LossAggregation::TokenMean => masked.sum().div_scalar(whole.tokens.max(1) as f32),
        LossAggregation::SeqMeanTokenMean => {
            let inv_count: Vec<f32> = mask_host
                .chunks(t)
                .map(|row| 1.0 / row.iter().sum::<f32>().max(1.0))
                .collect();
            let inv_count_b1 = host_tensor(inv_count, [b, 1], &device);
            (masked.sum_dim(1) * inv_count_b1)
                .sum()
                .div_scalar(whole.rows as f32)
        }
    };

    // TRL's definitions: a token counts as clipped only when the clipped branch is the one the
    // min takes, which needs the advantage's sign as well as the ratio's side.
    let ratio_host = read(&ratio, "ratio")?;
    let (mut low, mut high) = (0usize, 0usize);
    for ((&r, &a), &m) in ratio_host.iter().zip(advantages).zip(&mask_host) {
        if m == 1.0 {
            low += usize::from(r < 1.0 - cfg.epsilon_low && a < 0.0);
            high += usize::from(r > 1.0 + cfg.epsilon_high && a > 0.0);
        }
    }
    let share = |n: usize| n as f32 / whole.tokens.max(1) as f32;
    Ok(LossParts {
        loss,
        clip_ratio: share(low + high),
        low_clip_ratio: share(low),
        high_clip_ratio: share(high),
        kl,
        tokens,
    })
}

/// Schulman's k3 estimator of KL(policy ‖ reference) per token:
/// `exp(ref - logp) - (ref - logp) - 1`. Unbiased for the sampled tokens, and unlike
/// `logp - ref` it is never negative (`e^x >= 1 + x`), so the penalty has low variance
/// (Schulman 2020; DeepSeekMath eq. 4). `ref_logp` is detached: the reference is frozen.
pub fn k3_kl(logp: Tensor<2>, ref_logp: Tensor<2>) -> Tensor<2> {
    k3_of_log_ratio(ref_logp.detach() - logp)
}

/// k3 from `x = ref - logp`.
fn k3_of_log_ratio(x: Tensor<2>) -> Tensor<2> {
    x.clone().exp() - x - 1.0
}

fn check_inputs(
    logp: &Tensor<2>,
    old_logp: &Tensor<2>,
    ref_logp: Option<&Tensor<2>>,
    advantages: &[f32],
    mask: &Tensor<2>,
    cfg: &ObjectiveConfig,
) -> Result<()> {
    let dims = logp.dims();
    let others = [
        ("old_logp", Some(old_logp)),
        ("ref_logp", ref_logp),
        ("mask", Some(mask)),
    ];
    for (name, tensor) in others {
        if let Some(tensor) = tensor
            && tensor.dims() != dims
        {
            let msg = format!("{name} has shape {:?}, logp has {dims:?}", tensor.dims());
            return Err(Error::model(ORIGIN, msg));
        }
    }
    let [b, t] = dims;
    if b == 0 || t == 0 {
        let msg = format!("the batch is empty (logp has shape {dims:?})");
        return Err(Error::model(ORIGIN, msg));
    }
    if advantages.len() != b * t {
        let msg = format!("{} token advantages for {b} x {t} tokens", advantages.len());
        return Err(Error::model(ORIGIN, msg));
    }
    if let Some((i, a)) = advantages.iter().enumerate().find(|(_, a)| !a.is_finite()) {
        let msg = format!("the advantage of row {} is {a} (token {})", i / t, i % t);
        return Err(Error::model(ORIGIN, msg));
    }
    let knobs = [
        ("grpo.epsilon_low", cfg.epsilon_low),
        ("grpo.epsilon_high", cfg.epsilon_high),
        ("grpo.beta", cfg.beta),
    ];
    for (field, value) in knobs {
        if !(value.is_finite() && value >= 0.0) {
            let msg = format!("{value} is not a finite number >= 0");
            return Err(Error::field(field, msg));
        }
    }
    if cfg.aggregation == LossAggregation::ConstantLength && cfg.max_len == 0 {
        let msg = "constant_length aggregation needs max_len (max_new_tokens) >= 1";
        return Err(Error::field("grpo.loss_aggregation", msg));
    }
    Ok(())
}

fn host_tensor<const D: usize>(values: Vec<f32>, shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

fn read(tensor: &Tensor<2>, what: &str) -> Result<Vec<f32>> {
    tensor
        .try_to_vec_as::<f32>()
        .map_err(|e| Error::model(ORIGIN, format!("reading the {what}: {e:?}")))
}

/// The sum of `values` where `mask` is 1, over `count` (the whole batch's tokens).
fn masked_mean(values: &[f32], mask: &[f32], count: usize) -> f32 {
    let sum = values
        .iter()
        .zip(mask)
        .filter(|(_, m)| **m == 1.0)
        .fold(0.0f64, |s, (v, _)| s + *v as f64);
    (sum / count.max(1) as f64) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu() -> Device {
        Device::flex()
    }

    fn t2(values: &[f32], shape: [usize; 2], device: &Device) -> Tensor<2> {
        host_tensor(values.to_vec(), shape, device)
    }

    fn scalar(x: Tensor<1>) -> f32 {
        x.try_into_scalar::<f32>().unwrap()
    }

    fn vec(x: &Tensor<2>) -> Vec<f32> {
        x.try_to_vec_as::<f32>().unwrap()
    }

    fn close(got: &[f32], want: &[f32], tol: f32) {
        assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= tol, "{got:?} vs {want:?}");
        }
    }

    fn cfg(aggregation: LossAggregation) -> ObjectiveConfig {
        ObjectiveConfig {
            epsilon_low: 0.2,
            epsilon_high: 0.2,
            beta: 0.0,
            aggregation,
            max_len: 4,
        }
    }

    /// B = 2, T = 3, advantages [2, -1]; row 0 has 3 real tokens, row 1 one.
    const MASK: [f32; 6] = [1.0, 1.0, 1.0, 1.0, 0.0, 0.0];

    fn on_policy_loss(aggregation: LossAggregation, mask: &[f32]) -> f32 {
        let d = cpu();
        let logp = t2(&[-1.0, -0.5, -2.0, -0.3, -4.0, -1.0], [2, 3], &d);
        let parts = policy_loss(
            logp.clone(),
            logp,
            None,
            &[2.0, -1.0],
            t2(mask, [2, 3], &d),
            &cfg(aggregation),
        )
        .unwrap();
        assert_eq!(parts.clip_ratio, 0.0);
        assert_eq!(parts.kl, 0.0);
        scalar(parts.loss)
    }

    #[test]
    fn on_policy_loss_is_minus_the_masked_advantage_over_each_normaliser() {
        // Ratio 1 everywhere, so per token -A: row 0 gives -2 × 3, row 1 gives +1; sum -5.
        let loss = on_policy_loss(LossAggregation::ConstantLength, &MASK);
        assert!((loss - -5.0 / (2.0 * 4.0)).abs() < 1e-6, "{loss}");
        let loss = on_policy_loss(LossAggregation::TokenMean, &MASK);
        assert!((loss - -5.0 / 4.0).abs() < 1e-6, "{loss}");
        // Row means -2 and +1: the one-token row weighs as much as the three-token row.
        let loss = on_policy_loss(LossAggregation::SeqMeanTokenMean, &MASK);
        assert!((loss - -0.5).abs() < 1e-6, "{loss}");
        // An all-padding row counts as a zero row mean, not a division by zero.
        let one_row = [1.0, 1.0, 1.0, 0.0, 0.0, 0.0];
        let loss = on_policy_loss(LossAggregation::SeqMeanTokenMean, &one_row);
        assert!((loss - -1.0).abs() < 1e-6, "{loss}");
    }

    #[test]
    fn gradient_raises_positive_and_lowers_negative_advantage_tokens_only_where_real() {
        let d = cpu().autodiff();
        let values = [-1.0, -0.5, -2.0, -0.3, -4.0, -1.0];
        let logp = t2(&values, [2, 3], &d).require_grad();
        let old = t2(&values, [2, 3], &d).require_grad();
        let reference = t2(&values, [2, 3], &d).require_grad();
        let parts = policy_loss(
            logp.clone(),
            old.clone(),
            Some(reference.clone()),
            &[2.0, -1.0],
            t2(&MASK, [2, 3], &d),
            &cfg(LossAggregation::TokenMean),
        )
        .unwrap();
        let grads = parts.loss.backward();
        // d(-ratio A / 4)/d logp = -A / 4 at ratio 1: descent raises logp where A > 0.
        let g = vec(&logp.grad(&grads).unwrap());
        close(&g, &[-0.5, -0.5, -0.5, 0.25, 0.0, 0.0], 1e-6);
        // The sampling and reference policies are constants of the objective.
        let zero = |x: Option<Tensor<2>>| x.is_none_or(|x| vec(&x).iter().all(|&v| v == 0.0));
        assert!(zero(old.grad(&grads)), "old_logp must be detached");
        assert!(zero(reference.grad(&grads)), "ref_logp must be detached");
    }

    #[test]
    fn token_advantages_push_each_token_by_its_own_advantage() {
        let d = cpu().autodiff();
        let values = [-1.0, -0.5, -2.0, -0.3, -4.0, -1.0];
        let logp = t2(&values, [2, 3], &d).require_grad();
        let c = cfg(LossAggregation::TokenMean);
        let mask = || t2(&MASK, [2, 3], &d);
        // Per-row advantages are the per-token form with each row's value repeated.
        let rows = policy_loss(logp.clone(), logp.clone(), None, &[2.0, -1.0], mask(), &c);
        let repeated = [2.0, 2.0, 2.0, -1.0, -1.0, -1.0];
        let tokens = token_policy_loss(logp.clone(), logp.clone(), None, &repeated, mask(), &c);
        let value = |p: Result<LossParts>| p.unwrap().loss.into_scalar::<f32>();
        assert_eq!(value(rows), value(tokens));
        // Row 0's tokens with advantages 2, -1, 0: the gradient is -A / 4 token by token.
        let mixed = [2.0, -1.0, 0.0, -1.0, 5.0, 5.0];
        let parts = token_policy_loss(logp.clone(), logp.clone(), None, &mixed, mask(), &c);
        let g = vec(&logp.grad(&parts.unwrap().loss.backward()).unwrap());
        close(&g, &[-0.5, 0.25, 0.0, 0.25, 0.0, 0.0], 1e-6);
        let msg = token_policy_loss(logp.clone(), logp, None, &[1.0; 4], mask(), &c)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("4 token advantages for 2 x 3"), "{msg}");
    }

    #[test]
    fn clipped_tokens_stop_pushing_and_are_counted_as_trl_counts_them() {
        let d = cpu().autodiff();
        // (ratio, row advantage) per token; row 2's second token is padding with a -inf logp.
        let ratios = [1.5, 1.0, 1.5, 0.5, 0.5, 1.0, 2.0, 2.0];
        let old = [-1.0f32; 8];
        let mut values: Vec<f32> = ratios.iter().map(|r: &f32| -1.0 + r.ln()).collect();
        values[5] = f32::NEG_INFINITY;
        let mask = [1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0];
        let logp = t2(&values, [4, 2], &d).require_grad();
        let parts = policy_loss(
            logp.clone(),
            t2(&old, [4, 2], &cpu()), // from the inference device, as a trainer samples
            None,
            &[1.0, -1.0, 2.0, 0.0],
            t2(&mask, [4, 2], &cpu()),
            &cfg(LossAggregation::TokenMean),
        )
        .unwrap();
        assert_eq!(parts.tokens, 7);
        // High: ratio 1.5 > 1.2 with A > 0. Low: ratio 0.5 < 0.8 with A < 0. Not clipped:
        // ratio 1.5 with A < 0 and 0.5 with A > 0 (the min keeps the unclipped term), A = 0.
        close(&[parts.high_clip_ratio], &[1.0 / 7.0], 1e-6);
        close(&[parts.low_clip_ratio], &[1.0 / 7.0], 1e-6);
        close(&[parts.clip_ratio], &[2.0 / 7.0], 1e-6);
        // Per token -1.2, -1, +1.5, +0.8, -1, 0, 0, 0 over 7 real tokens.
        close(&[scalar(parts.loss.clone())], &[-0.9 / 7.0], 1e-5);
        let grads = parts.loss.backward();
        let g = vec(&logp.grad(&grads).unwrap());
        // d/dlogp of -ratio A / 7 = -ratio A / 7 where unclipped, 0 where clipped or padded.
        let want = [0.0, -1.0, 1.5, 0.0, -1.0, 0.0, 0.0, 0.0].map(|x: f32| x / 7.0);
        close(&g, &want, 1e-6);
    }

    #[test]
    fn dapo_clip_higher_moves_only_the_upper_bound() {
        let d = cpu();
        let logp = t2(&[-1.0 + 1.25f32.ln()], [1, 1], &d);
        let run = |epsilon_high| {
            let c = ObjectiveConfig {
                epsilon_high,
                ..cfg(LossAggregation::TokenMean)
            };
            let old = t2(&[-1.0], [1, 1], &d);
            policy_loss(logp.clone(), old, None, &[1.0], t2(&[1.0], [1, 1], &d), &c).unwrap()
        };
        // Ratio 1.25: clipped at 1.2 under eps_high 0.2, free under DAPO's 0.28.
        let tight = run(0.2);
        assert_eq!(tight.clip_ratio, 1.0);
        close(&[scalar(tight.loss)], &[-1.2], 1e-5);
        let loose = run(0.28);
        assert_eq!(loose.clip_ratio, 0.0);
        close(&[scalar(loose.loss)], &[-1.25], 1e-5);
    }

    #[test]
    fn k3_matches_hand_values_and_is_zero_on_agreement() {
        let d = cpu();
        let logp = t2(&[-1.0, -2.0, -0.7, -3.0], [2, 2], &d);
        let reference = t2(&[-2.0, -1.0, -0.7, -3.0], [2, 2], &d);
        let kl = vec(&k3_kl(logp, reference));
        // e^-1 - (-1) - 1 = 0.367879; e^1 - 1 - 1 = 0.718282; equal log-probs give 0.
        close(&kl, &[0.367_879, 0.718_282, 0.0, 0.0], 1e-6);
    }

    #[test]
    fn beta_adds_beta_times_mean_k3_under_token_mean() {
        let d = cpu().autodiff();
        // Zero advantages isolate the penalty; the padded token's reference disagrees wildly.
        let values = [-1.0, -2.0, -0.5];
        let logp = t2(&values, [1, 3], &d).require_grad();
        let reference = t2(&[-2.0, -1.0, -9.0], [1, 3], &cpu());
        let mask = t2(&[1.0, 1.0, 0.0], [1, 3], &cpu());
        let c = ObjectiveConfig {
            beta: 0.5,
            ..cfg(LossAggregation::TokenMean)
        };
        let run = |c: &ObjectiveConfig, logp: Tensor<2>| {
            let old = t2(&values, [1, 3], &cpu());
            let (r, m) = (reference.clone(), mask.clone());
            policy_loss(logp, old, Some(r), &[0.0], m, c).unwrap()
        };
        let parts = run(&c, logp.clone());
        let mean_k3 = (0.367_879 + 0.718_282) / 2.0;
        close(&[parts.kl], &[mean_k3], 1e-6);
        close(&[scalar(parts.loss.clone())], &[0.5 * mean_k3], 1e-6);
        // d k3 / d logp = 1 - exp(ref - logp): the penalty pulls logp towards the reference.
        let g = vec(&logp.grad(&parts.loss.backward()).unwrap());
        let want = [1.0 - (-1.0f32).exp(), 1.0 - 1.0f32.exp(), 0.0].map(|x| 0.5 * x / 2.0);
        close(&g, &want, 1e-6);
        // beta = 0 keeps the reference for logging only.
        let off = run(&cfg(LossAggregation::TokenMean), t2(&values, [1, 3], &d));
        close(&[off.kl], &[mean_k3], 1e-6);
        assert_eq!(scalar(off.loss), 0.0);
    }

    #[test]
    fn bad_inputs_are_errors_that_say_what_is_wrong() {
        let d = cpu();
        let x = || t2(&[-1.0, -1.0], [1, 2], &d);
        let ones = || t2(&[1.0, 1.0], [1, 2], &d);
        let c = cfg(LossAggregation::ConstantLength);
        let err = |r: Result<LossParts>| r.unwrap_err().to_string();
        let msg = err(policy_loss(x(), x(), None, &[1.0, 2.0], ones(), &c));
        assert!(msg.contains("2 advantages for 1"), "{msg}");
        let wide = t2(&[0.0; 3], [1, 3], &d);
        let msg = err(policy_loss(x(), wide, None, &[1.0], ones(), &c));
        assert!(msg.contains("old_logp has shape [1, 3]"), "{msg}");
        let half = t2(&[1.0, 0.5], [1, 2], &d);
        let msg = err(policy_loss(x(), x(), None, &[1.0], half, &c));
        assert!(msg.contains("mask[0][1] is 0.5"), "{msg}");
        let msg = err(policy_loss(x(), x(), None, &[f32::NAN], ones(), &c));
        assert!(msg.contains("advantage of row 0 is NaN"), "{msg}");
        let no_len = ObjectiveConfig {
            max_len: 0,
            ..c.clone()
        };
        let msg = err(policy_loss(x(), x(), None, &[1.0], ones(), &no_len));
        assert!(msg.contains("max_len"), "{msg}");
        let neg = ObjectiveConfig {
            epsilon_low: -0.1,
            ..c
        };
        let msg = err(policy_loss(x(), x(), None, &[1.0], ones(), &neg));
        assert!(msg.contains("grpo.epsilon_low"), "{msg}");
    }

    #[test]
    fn from_grpo_copies_the_section() {
        let grpo = GrpoConfig::default();
        let c = ObjectiveConfig::from_grpo(&grpo, 48);
        assert_eq!(c.max_len, 48);
        assert_eq!(c.aggregation, grpo.variant().loss_aggregation);
        assert_eq!(c.epsilon_high, grpo.epsilon_high as f32);
    }
}
