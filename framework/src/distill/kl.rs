//! The reverse KL(student ‖ teacher) of on-policy distillation, per position of a list the
//! student sampled, in its two estimators (see [`KlEstimator`](super::KlEstimator)):
//!
//! - exact: `Σ_v p_s(v) (log p_s(v) − log p_t(v))` over the vocabulary, differentiated through
//!   the student's logits;
//! - sampled: `k = log p_s(x) − log p_t(x)` on the sampled token `x`, an unbiased estimate of
//!   the same KL (`E_{x∼p_s}[k] = KL`), trained as a per-token policy gradient
//!   `k · ∇ log p_s(x)` with `k` held constant. Its expectation is the exact gradient: the
//!   remaining term of `∇ E[k]`, `E[∇ log p_s(x)]`, is zero.
//!
//! Both are averaged over the real (unmasked) tokens of the batch. The teacher is a constant:
//! its inputs are detached here, so they may come from an inference device. `p_s` and `p_t`
//! are the distributions at `[sampling] temperature` (logits / T, as the student samples), so
//! the caller divides both sides' logits before they reach these functions.

use crate::error::{Error, Result};
use burn::tensor::Tensor;
use burn::tensor::activation::log_softmax;

const ORIGIN: &str = "distillation KL";

/// The exact reverse KL at each position, `[batch, positions]`, from student and teacher logits
/// `[batch, positions, vocab]`: differentiable in the student's logits only.
pub fn exact_reverse_kl(
    student_logits_btv: Tensor<3>,
    teacher_logits_btv: Tensor<3>,
) -> Result<Tensor<2>> {
    let dims = student_logits_btv.dims();
    if teacher_logits_btv.dims() != dims {
        let msg = format!(
            "student logits have shape {dims:?}, the teacher's {:?}: teacher and student must \
             share a vocabulary",
            teacher_logits_btv.dims()
        );
        return Err(Error::model(ORIGIN, msg));
    }
    let [b, t, _] = dims;
    let log_ps = log_softmax(student_logits_btv, 2);
    let device = log_ps.device();
    let teacher = Tensor::<3>::from_data(teacher_logits_btv.detach().into_data(), &device);
    let log_pt = log_softmax(teacher, 2);
    let ps = log_ps.clone().exp();
    Ok((ps * (log_ps - log_pt)).sum_dim(2).reshape([b, t]))
}

/// The sampled estimate `log p_s(x) − log p_t(x)` of each token, `[batch, positions]`, with the
/// student's gradient kept (detach it to log it).
pub fn sampled_reverse_kl(
    student_logp_bt: Tensor<2>,
    teacher_logp_bt: Tensor<2>,
) -> Result<Tensor<2>> {
    let dims = student_logp_bt.dims();
    if teacher_logp_bt.dims() != dims {
        let msg = format!(
            "student log-probs have shape {dims:?}, the teacher's {:?}",
            teacher_logp_bt.dims()
        );
        return Err(Error::model(ORIGIN, msg));
    }
    let device = student_logp_bt.device();
    let teacher = Tensor::<2>::from_data(teacher_logp_bt.detach().into_data(), &device);
    Ok(student_logp_bt - teacher)
}

/// The policy-gradient surrogate of the sampled estimator: per token `k · log p_s(x)` with
/// `k = log p_s(x) − log p_t(x)` held constant, so its gradient is `k · ∇ log p_s(x)`. Its value
/// is not the KL (log that with [`sampled_reverse_kl`]); its gradient's expectation is.
pub fn sampled_kl_surrogate(
    student_logp_bt: Tensor<2>,
    teacher_logp_bt: Tensor<2>,
) -> Result<Tensor<2>> {
    let k = sampled_reverse_kl(student_logp_bt.clone(), teacher_logp_bt)?.detach();
    Ok(k * student_logp_bt)
}

/// The mean of `values_bt` over the tokens where `mask_bt` is 1, a scalar `[1]`. Padding is
/// filled with 0 before the sum, so a non-finite value there cannot leak in.
pub fn masked_token_mean(values_bt: Tensor<2>, mask_bt: Tensor<2>) -> Result<Tensor<1>> {
    let (sum, tokens) = masked_sum_and_count(values_bt, mask_bt)?;
    Ok(sum.div_scalar(tokens.max(1.0)))
}

/// The sum of `values_bt` over the tokens where `mask_bt` is 1, a scalar `[1]`, padding
/// filled with 0 as in [`masked_token_mean`]. A shard of a batch divides it by the whole
/// batch's token count, so the shards' terms add up to the batch's mean.
pub fn masked_token_sum(values_bt: Tensor<2>, mask_bt: Tensor<2>) -> Result<Tensor<1>> {
    Ok(masked_sum_and_count(values_bt, mask_bt)?.0)
}

fn masked_sum_and_count(values_bt: Tensor<2>, mask_bt: Tensor<2>) -> Result<(Tensor<1>, f32)> {
    if values_bt.dims() != mask_bt.dims() {
        let msg = format!(
            "values have shape {:?}, the mask {:?}",
            values_bt.dims(),
            mask_bt.dims()
        );
        return Err(Error::model(ORIGIN, msg));
    }
    let device = values_bt.device();
    let mask = Tensor::<2>::from_data(mask_bt.into_data(), &device);
    let tokens: f32 = mask.clone().sum().into_scalar();
    let padding = mask.clone().equal_elem(0.0);
    Ok((values_bt.mask_fill(padding, 0.0).sum(), tokens))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution, Int, TensorData};

    fn logits(values: &[f32], shape: [usize; 3], device: &Device) -> Tensor<3> {
        Tensor::from_data(TensorData::new(values.to_vec(), shape), device)
    }

    fn values<const D: usize>(x: Tensor<D>) -> Vec<f32> {
        x.into_data().try_to_vec::<f32>().unwrap()
    }

    fn close(got: &[f32], want: &[f32], tol: f32) {
        assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= tol, "{got:?} vs {want:?}");
        }
    }

    /// log p of every token of a one-position distribution.
    fn log_probs(logits: &[f32]) -> Vec<f32> {
        let d = Device::flex();
        let x = Tensor::<2>::from_data(TensorData::new(logits.to_vec(), [1, logits.len()]), &d);
        values(log_softmax(x, 1))
    }

    #[test]
    fn exact_kl_matches_hand_computed_distributions() {
        let d = Device::flex();
        // p_s = (1/4, 3/4), p_t = (1/2, 1/2): 1/4 ln(1/2) + 3/4 ln(3/2) = 0.130812.
        let s = logits(&[0.0, 3f32.ln()], [1, 1, 2], &d);
        let t = logits(&[0.0, 0.0], [1, 1, 2], &d);
        close(&values(exact_reverse_kl(s, t).unwrap()), &[0.130_812], 1e-6);
        // Three tokens, two positions. p_s = (1/4, 1/2, 1/4) against p_t = (1/2, 1/4, 1/4):
        // 1/4 ln(1/2) + 1/2 ln 2 + 1/4 ln 1 = 0.173287.
        let s = logits(
            &[0.0, 2f32.ln(), 0.0, 5.0, 5.0 + 2f32.ln(), 5.0],
            [1, 2, 3],
            &d,
        );
        let t = logits(&[2f32.ln(), 0.0, 0.0, 1.0, 1.0, 1.0], [1, 2, 3], &d);
        // Second position: p_s as above against the uniform teacher:
        //   1/4 ln(3/4) + 1/2 ln(3/2) + 1/4 ln(3/4) = 0.058892.
        close(
            &values(exact_reverse_kl(s, t).unwrap()),
            &[0.173_287, 0.058_892],
            1e-6,
        );
    }

    #[test]
    fn exact_kl_and_its_gradient_are_zero_when_the_student_is_the_teacher() {
        let d = Device::flex().autodiff();
        let x = Tensor::<3>::random([2, 3, 11], Distribution::Normal(0.0, 3.0), &d);
        let student = x.clone().require_grad();
        let kl = exact_reverse_kl(student.clone(), x.clone()).unwrap();
        let kl_values = values(kl.clone());
        assert!(kl_values.iter().all(|v| v.abs() < 1e-6), "{kl_values:?}");
        let grads = kl.sum().backward();
        let g = values(student.grad(&grads).unwrap());
        assert!(g.iter().all(|v| v.abs() < 1e-6), "{g:?}");
        // Any other teacher gives a positive KL.
        let other = Tensor::<3>::random([2, 3, 11], Distribution::Normal(0.0, 3.0), &d);
        let kl = values(exact_reverse_kl(x, other).unwrap());
        assert!(kl.iter().all(|&v| v > 0.0), "{kl:?}");
    }

    #[test]
    fn sampled_estimate_averages_to_the_exact_kl_under_the_students_distribution() {
        let student = [0.3, -1.2, 2.0, 0.0];
        let teacher = [1.0, 0.5, -0.5, 0.2];
        let (ls, lt) = (log_probs(&student), log_probs(&teacher));
        let d = Device::flex();
        // Each token as a "sample": k = log p_s(x) − log p_t(x) by hand.
        let s_bt = Tensor::<2>::from_data(TensorData::new(ls.clone(), [1, 4]), &d);
        let t_bt = Tensor::<2>::from_data(TensorData::new(lt.clone(), [1, 4]), &d);
        let k = values(sampled_reverse_kl(s_bt, t_bt).unwrap());
        let want: Vec<f32> = ls.iter().zip(&lt).map(|(s, t)| s - t).collect();
        close(&k, &want, 1e-6);
        let expected: f32 = k.iter().zip(&ls).map(|(k, l)| l.exp() * k).sum();
        let exact = exact_reverse_kl(
            logits(&student, [1, 1, 4], &d),
            logits(&teacher, [1, 1, 4], &d),
        )
        .unwrap();
        close(&[expected], &values(exact), 1e-5);
    }

    #[test]
    fn sampled_surrogate_gradient_is_the_exact_gradient_in_expectation() {
        let d = Device::flex().autodiff();
        let student = [0.3f32, -1.2, 2.0, 0.0, 0.7];
        let teacher = [1.0f32, 0.5, -0.5, 0.2, -2.0];
        let t = logits(&teacher, [1, 1, 5], &d);
        let ps: Vec<f32> = log_probs(&student).iter().map(|l| l.exp()).collect();
        // Σ_x p_s(x) ∇ surrogate(x), every token weighted by its probability: no sampling noise.
        let mut expected = vec![0.0f32; 5];
        for (x, p) in ps.iter().enumerate() {
            let s = logits(&student, [1, 1, 5], &d).require_grad();
            let pick = |l: Tensor<3>| {
                let idx =
                    Tensor::<3, Int>::from_data(TensorData::new(vec![x as i64], [1, 1, 1]), &d);
                log_softmax(l, 2).gather(2, idx).reshape([1, 1])
            };
            let surrogate = sampled_kl_surrogate(pick(s.clone()), pick(t.clone())).unwrap();
            let g = values(s.grad(&surrogate.sum().backward()).unwrap());
            for (e, gi) in expected.iter_mut().zip(g) {
                *e += p * gi;
            }
        }
        let s = logits(&student, [1, 1, 5], &d).require_grad();
        let kl = exact_reverse_kl(s.clone(), t).unwrap();
        let exact = values(s.grad(&kl.sum().backward()).unwrap());
        close(&expected, &exact, 1e-5);
    }

    /// Plain gradient descent on a student's logits at one position, either estimator; returns
    /// the exact KL before and after.
    fn descend(sampled: bool) -> (f32, f32) {
        use rand::{RngExt, SeedableRng};
        let d = Device::flex().autodiff();
        let teacher = logits(&[2.0, 0.0, -1.0, 0.5, -3.0, 1.0], [1, 1, 6], &d);
        let mut student = vec![0.0f32; 6];
        let kl_of = |s: &[f32]| {
            values(exact_reverse_kl(logits(s, [1, 1, 6], &d), teacher.clone()).unwrap())[0]
        };
        let before = kl_of(&student);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for _ in 0..300 {
            let s = logits(&student, [1, 1, 6], &d).require_grad();
            let loss = if sampled {
                // A batch of 16 draws from the student at this position, each its own row.
                let ps: Vec<f32> = log_probs(&student).iter().map(|l| l.exp()).collect();
                let draws: Vec<i64> = (0..16)
                    .map(|_| {
                        let mut u: f32 = rng.random();
                        ps.iter()
                            .position(|&p| {
                                u -= p;
                                u <= 0.0
                            })
                            .unwrap_or(5) as i64
                    })
                    .collect();
                let idx = Tensor::<3, Int>::from_data(TensorData::new(draws, [1, 16, 1]), &d);
                let rows = |l: Tensor<3>| {
                    log_softmax(l.repeat_dim(1, 16), 2)
                        .gather(2, idx.clone())
                        .reshape([1, 16])
                };
                let surrogate =
                    sampled_kl_surrogate(rows(s.clone()), rows(teacher.clone())).unwrap();
                masked_token_mean(surrogate, Tensor::ones([1, 16], &d)).unwrap()
            } else {
                exact_reverse_kl(s.clone(), teacher.clone()).unwrap().sum()
            };
            let g = values(s.grad(&loss.backward()).unwrap());
            for (w, gi) in student.iter_mut().zip(g) {
                *w -= 0.5 * gi;
            }
        }
        (before, kl_of(&student))
    }

    #[test]
    fn descending_either_estimator_moves_the_student_onto_the_teacher() {
        let (before, after) = descend(false);
        assert!(
            before > 0.5 && after < 0.01 * before,
            "exact: {before} -> {after}"
        );
        let (before, after) = descend(true);
        assert!(
            before > 0.5 && after < 0.1 * before,
            "sampled: {before} -> {after}"
        );
    }

    #[test]
    fn masked_mean_skips_padding_even_when_it_is_not_finite() {
        let d = Device::flex();
        let v = Tensor::<2>::from_data(
            TensorData::new(vec![1.0, 2.0, f32::NAN, 4.0, 8.0, f32::INFINITY], [2, 3]),
            &d,
        );
        let m = Tensor::<2>::from_data(
            TensorData::new(vec![1.0, 1.0, 0.0, 1.0, 0.0, 0.0], [2, 3]),
            &d,
        );
        close(
            &values(masked_token_mean(v, m).unwrap()),
            &[7.0 / 3.0],
            1e-6,
        );
        let bad = Tensor::<2>::zeros([1, 3], &d);
        let msg = masked_token_mean(bad, Tensor::zeros([2, 3], &d))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("[1, 3]") && msg.contains("[2, 3]"), "{msg}");
        let s = Tensor::<3>::zeros([1, 2, 4], &d);
        let t = Tensor::<3>::zeros([1, 2, 5], &d);
        let msg = exact_reverse_kl(s, t).unwrap_err().to_string();
        assert!(msg.contains("share a vocabulary"), "{msg}");
    }
}
