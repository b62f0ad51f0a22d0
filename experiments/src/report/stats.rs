//! Means with 95% confidence intervals over seeds (Student's t).

/// A mean over runs and the half-width of its 95% interval (0 for a single run).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub mean: f64,
    pub half_width: f64,
    pub n: usize,
}

impl Estimate {
    /// The mean of `values` and the half-width t(0.975, n−1) · s / √n of its 95% interval.
    pub fn of(values: &[f64]) -> Option<Estimate> {
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let half_width = if n < 2 {
            0.0
        } else {
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            t_975(n - 1) * (var / n as f64).sqrt()
        };
        Some(Estimate {
            mean,
            half_width,
            n,
        })
    }

    pub fn low(&self) -> f64 {
        self.mean - self.half_width
    }

    pub fn high(&self) -> f64 {
        self.mean + self.half_width
    }

    /// `0.1234 ± 0.0056` (or the mean alone for one run).
    pub fn show(&self, digits: usize) -> String {
        if self.n < 2 {
            format!("{:.*}", digits, self.mean)
        } else {
            format!("{:.*} ± {:.*}", digits, self.mean, digits, self.half_width)
        }
    }
}

/// The 97.5% quantile of Student's t with `df` degrees of freedom. Written out rather than
/// taken from a statistics crate: the report needs this one quantile, and these are the
/// standard table values (df 1–30); beyond 30, the first two terms of the Cornish–Fisher
/// expansion around the normal quantile are within 1e-4 of the exact value.
fn t_975(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::INFINITY,
        1..=30 => TABLE[df - 1],
        _ => {
            let (z, d) = (1.959_964_f64, df as f64);
            z + (z.powi(3) + z) / (4.0 * d)
                + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * d * d)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_seeds_use_t_with_two_degrees_of_freedom() {
        // mean 2, sample sd 1, n 3: half-width 4.303 / sqrt(3) = 2.4843
        let e = Estimate::of(&[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(e.mean, 2.0);
        assert!((e.half_width - 2.484_3).abs() < 1e-4, "{}", e.half_width);
        assert_eq!(e.show(2), "2.00 ± 2.48");
    }

    #[test]
    fn one_run_has_no_interval_and_none_has_no_estimate() {
        let e = Estimate::of(&[0.25]).unwrap();
        assert_eq!(
            (e.mean, e.half_width, e.show(3)),
            (0.25, 0.0, "0.250".into())
        );
        assert!(Estimate::of(&[]).is_none());
    }

    #[test]
    fn t_quantiles_join_the_normal_limit() {
        assert_eq!(t_975(2), 4.303);
        // Exact values from R's qt(0.975, df).
        assert!((t_975(31) - 2.039_513).abs() < 1e-4, "{}", t_975(31));
        assert!((t_975(120) - 1.979_930).abs() < 1e-4, "{}", t_975(120));
    }
}
