//! Paired differences over replications and their Student t intervals.

/// The paired comparison of one metric over R replications.
#[derive(Debug, Clone, PartialEq)]
pub struct Paired {
    /// `None` when a replication has no value.
    pub baseline_mean: Option<f64>,
    pub variant_mean: Option<f64>,
    /// The mean paired difference `variant_r - baseline_r`; `None` when a pair is incomplete.
    pub diff: Option<f64>,
    /// The standard deviation of the paired differences (needs two replications).
    pub sd_diff: Option<f64>,
    /// The 95 % Student t interval of the mean difference (needs two replications).
    pub ci95: Option<(f64, f64)>,
    /// Pairs used.
    pub n: usize,
}

impl Paired {
    /// Whether the interval excludes 0; `None` without an interval.
    pub fn significant(&self) -> Option<bool> {
        self.ci95.map(|(low, high)| low > 0.0 || high < 0.0)
    }

    /// `diff / baseline_mean`; `None` when the baseline mean is 0.
    pub fn rel_diff(&self) -> Option<f64> {
        match (self.diff, self.baseline_mean) {
            (Some(d), Some(b)) if b != 0.0 => Some(d / b),
            _ => None,
        }
    }
}

pub(super) fn mean_all(values: &[Option<f64>]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let all: Option<Vec<f64>> = values.iter().copied().collect();
    all.map(|v| v.iter().sum::<f64>() / v.len() as f64)
}

/// Compares a metric's replications, pairing `baseline[r]` with `variant[r]`. A metric
/// with an empty value in any replication has no mean in that arm and no difference:
/// dropping replications would break the pairing and bias the mean.
pub fn paired(baseline: &[Option<f64>], variant: &[Option<f64>]) -> Paired {
    let baseline_mean = mean_all(baseline);
    let variant_mean = mean_all(variant);
    let diffs: Option<Vec<f64>> = (baseline.len() == variant.len() && !baseline.is_empty())
        .then(|| {
            baseline
                .iter()
                .zip(variant)
                .map(|(b, v)| Some((*v)? - (*b)?))
                .collect()
        })
        .flatten();
    let n = diffs.as_ref().map_or(0, Vec::len);
    let diff = diffs.as_ref().map(|d| d.iter().sum::<f64>() / n as f64);
    let sd_diff = match (&diffs, diff) {
        (Some(d), Some(mean)) if n >= 2 => {
            Some((d.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64).sqrt())
        }
        _ => None,
    };
    let ci95 = match (diff, sd_diff) {
        (Some(mean), Some(sd)) => {
            let half = t975((n - 1) as u64) * sd / (n as f64).sqrt();
            Some((mean - half, mean + half))
        }
        _ => None,
    };
    Paired {
        baseline_mean,
        variant_mean,
        diff,
        sd_diff,
        ci95,
        n,
    }
}

/// The 0.975 quantile of Student's t distribution with `df` degrees of freedom (the
/// multiplier of a two-sided 95 % interval), to about 1e-12.
///
/// For integer `df`, `P(|T| <= t)` has a closed form as a finite sum in
/// `θ = atan(t / sqrt(df))` (Abramowitz and Stegun 26.7.3 and 26.7.4); it increases with
/// θ, so bisection on θ finds the quantile. Above 10 000 degrees of freedom the
/// Cornish-Fisher expansion around the normal quantile (A&S 26.7.5) is exact to far more
/// digits than we print.
pub fn t975(df: u64) -> f64 {
    assert!(df > 0, "Student t needs at least one degree of freedom");
    if df > 10_000 {
        t975_expansion(df)
    } else {
        t975_exact(df)
    }
}

/// Bisection on θ of the closed form; about 60 steps of `df / 2` terms each.
pub(super) fn t975_exact(df: u64) -> f64 {
    let (mut lo, mut hi) = (0.0f64, std::f64::consts::FRAC_PI_2);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if central_probability(mid, df) < 0.95 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (df as f64).sqrt() * (0.5 * (lo + hi)).tan()
}

/// Cornish-Fisher: the normal quantile plus terms in 1/df up to the fourth power.
pub(super) fn t975_expansion(df: u64) -> f64 {
    let z: f64 = 1.959_963_984_540_054;
    let nu = df as f64;
    let (z3, z5, z7, z9) = (z.powi(3), z.powi(5), z.powi(7), z.powi(9));
    let g1 = (z3 + z) / 4.0;
    let g2 = (5.0 * z5 + 16.0 * z3 + 3.0 * z) / 96.0;
    let g3 = (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / 384.0;
    let g4 = (79.0 * z9 + 776.0 * z7 + 1482.0 * z5 - 1920.0 * z3 - 945.0 * z) / 92_160.0;
    z + g1 / nu + g2 / nu.powi(2) + g3 / nu.powi(3) + g4 / nu.powi(4)
}

/// `P(|T| <= sqrt(df) tan θ)` for Student's t with `df` degrees of freedom.
pub(super) fn central_probability(theta: f64, df: u64) -> f64 {
    let (s, c) = theta.sin_cos();
    let c2 = c * c;
    let (mut term, mut sum) = (1.0, 1.0);
    if df % 2 == 1 {
        // 2/π [θ + sin θ cos θ (1 + 2/3 cos²θ + 2·4/(3·5) cos⁴θ + ... )], ν−1 over 2 terms.
        if df == 1 {
            return theta / std::f64::consts::FRAC_PI_2;
        }
        for k in 1..(df - 1) / 2 {
            term *= c2 * (2 * k) as f64 / (2 * k + 1) as f64;
            sum += term;
        }
        (theta + s * c * sum) / std::f64::consts::FRAC_PI_2
    } else {
        // sin θ (1 + 1/2 cos²θ + 1·3/(2·4) cos⁴θ + ... ), ν over 2 terms.
        for k in 1..df / 2 {
            term *= c2 * (2 * k - 1) as f64 / (2 * k) as f64;
            sum += term;
        }
        s * sum
    }
}
