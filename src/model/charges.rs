//! Expected value and customs charges of one order, computed from the order-value
//! distribution instead of estimated from draws: with a threshold far in the tail (a
//! lognormal of median 12 USD against Russia's EUR 200 = 216 USD) a few thousand draws see
//! only a handful of dutiable parcels, and such an estimate was tens of percent off.
//!
//! Every charge is linear in two figures of the value X above the threshold t: the
//! probability P(X > t) and the partial expectation E[X 1{X > t}]. Duty on the whole value
//! (`DutyBase::Full`) is duty_rate E[X 1{X > t}]; on the excess it is
//! duty_rate (E[X 1{X > t}] - t P(X > t)); VAT is vat_rate times base plus duty. Each kind
//! of distribution gives both figures in closed form, except the gamma, which needs the
//! regularized incomplete gamma function: no crate in the dependency tree provides it, so
//! it is integrated numerically (`upper_gamma`).

use std::f64::consts::{E, SQRT_2};

use crate::model::dist::{Dist, Sampler};
use crate::model::{Customs, DutyBase};

/// Expected value, duty and VAT in USD of one order whose value follows `value` under `customs`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Expected {
    pub value_usd: f64,
    pub duty_usd: f64,
    pub vat_usd: f64,
}

impl Expected {
    /// Value plus duty plus VAT.
    pub fn total_usd(&self) -> f64 {
        self.value_usd + self.duty_usd + self.vat_usd
    }
}

/// The expected value, duty and VAT of one order, as `Customs::charges_cents` charges a
/// parcel, except that nothing is rounded to whole cents (the per-parcel rounding of the
/// value and of each charge is ignored; it moves each expectation by less than a cent). A
/// value exactly at the threshold pays nothing, as there. Exact up to floating point for
/// every kind but the gamma, whose tail figures come from quadrature with a relative error
/// of about 1e-13 (see `upper_gamma`). Assumes what validation ensures: a non-negative
/// threshold and non-negative values.
pub fn expected(value: &Dist, customs: &Customs) -> Expected {
    let t = customs.de_minimis_usd;
    let tail = tail(value, t);
    let base = match customs.duty_base {
        DutyBase::Full => tail.partial,
        // Never negative in exact arithmetic; the difference can round below 0 far out.
        DutyBase::Excess => (tail.partial - t * tail.prob).max(0.0),
    };
    let duty = customs.duty_rate * base;
    Expected {
        value_usd: value.mean(),
        duty_usd: duty,
        vat_usd: customs.vat_rate * (base + duty),
    }
}

/// P(X > t) and E[X 1{X > t}] of one distribution at one threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Tail {
    prob: f64,
    partial: f64,
}

const NOTHING_ABOVE: Tail = Tail {
    prob: 0.0,
    partial: 0.0,
};

fn tail(value: &Dist, t: f64) -> Tail {
    let scale = value.scale();
    // A zero scale makes every value 0, which no non-negative threshold is below.
    if scale <= 0.0 {
        return NOTHING_ABOVE;
    }
    let raw = raw_tail(value.sampler(), t / scale);
    Tail {
        prob: raw.prob,
        partial: raw.partial * scale,
    }
}

/// `tail` of the unscaled sampler.
fn raw_tail(sampler: &Sampler, t: f64) -> Tail {
    match sampler {
        Sampler::Constant(v) => constant_tail(*v, t),
        Sampler::Uniform { low, high, .. } => {
            if t < *low {
                Tail {
                    prob: 1.0,
                    partial: (low + high) / 2.0,
                }
            } else if t >= *high {
                NOTHING_ABOVE
            } else {
                // Above t the value is uniform on (t, high).
                let prob = (high - t) / (high - low);
                Tail {
                    prob,
                    partial: prob * (t + high) / 2.0,
                }
            }
        }
        Sampler::Exponential { mean, .. } => {
            // Memoryless: above t the value is t plus a fresh exponential.
            let prob = (-t.max(0.0) / mean).exp();
            Tail {
                prob,
                partial: prob * (t.max(0.0) + mean),
            }
        }
        Sampler::LogNormal { mu, sigma } => {
            if *sigma == 0.0 {
                return constant_tail(mu.exp(), t);
            }
            let mean = (mu + sigma * sigma / 2.0).exp();
            if t <= 0.0 {
                return Tail {
                    prob: 1.0,
                    partial: mean,
                };
            }
            let z = (mu - t.ln()) / sigma;
            Tail {
                prob: normal_cdf(z),
                partial: mean * normal_cdf(z + sigma),
            }
        }
        Sampler::Gamma { shape, scale, .. } => {
            // x Gamma(k) density = k Gamma(k + 1) density, so E[X 1{X > t}] takes shape k + 1.
            let x = t / scale;
            Tail {
                prob: upper_gamma(*shape, x),
                partial: shape * scale * upper_gamma(shape + 1.0, x),
            }
        }
        Sampler::Triangular { min, mode, max, .. } => triangular_tail(*min, *mode, *max, t),
        Sampler::Empirical {
            values, weights, ..
        } => {
            let total: f64 = weights.iter().sum();
            let (mut prob, mut partial) = (0.0, 0.0);
            for (v, w) in values.iter().zip(weights) {
                if *v > t {
                    prob += w;
                    partial += w * v;
                }
            }
            Tail {
                prob: prob / total,
                partial: partial / total,
            }
        }
    }
}

fn constant_tail(v: f64, t: f64) -> Tail {
    if v > t {
        Tail {
            prob: 1.0,
            partial: v,
        }
    } else {
        NOTHING_ABOVE
    }
}

/// Triangular on [a, b] with mode c. Cut at t, either side is again triangular: above
/// t >= c it is triangular(t, t, b), below t < c triangular(a, t, t), whose means are
/// the thirds of the corner sums.
fn triangular_tail(a: f64, c: f64, b: f64, t: f64) -> Tail {
    if t < a {
        return Tail {
            prob: 1.0,
            partial: (a + c + b) / 3.0,
        };
    }
    if t >= b {
        return NOTHING_ABOVE;
    }
    if t >= c {
        // Here c < b, since t < b.
        let prob = (b - t) * (b - t) / ((b - a) * (b - c));
        Tail {
            prob,
            partial: prob * (t + t + b) / 3.0,
        }
    } else {
        // Here a <= t < c, so c > a.
        let below = (t - a) * (t - a) / ((b - a) * (c - a));
        Tail {
            prob: 1.0 - below,
            partial: (a + c + b) / 3.0 - below * (a + t + t) / 3.0,
        }
    }
}

/// The standard normal distribution function; erfc keeps full relative precision far
/// in the lower tail, where 1 - Phi(-z) would cancel.
fn normal_cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z / SQRT_2)
}

/// Q(a, x) = Γ(a, x) / Γ(a), the upper regularized incomplete gamma function: P(Y > x)
/// for Y ~ Gamma(shape a > 0, scale 1).
///
/// By adaptive Simpson quadrature on integrands made smooth (four bounded derivatives,
/// which Simpson's error estimate assumes) by a change of variable:
/// - below the mean (x < a), Q = 1 - P(Y <= x), and with y = x u^m for a whole m >= 5/a,
///   P(Y <= x) = ∫_0^1 m u^(ma-1) x^a e^(-x u^m) du / Γ(a). Its absolute error estimate is
///   held below 1e-15; Q is not small here (Q(a, x) >= Q(a, a), above 0.1 for a >= 0.05
///   and 0.006 at a = 0.001), so Q keeps a relative error near 1e-14 (1e-13 for tiny a).
/// - from the mean on (x >= a), with y = x + v,
///   Q = g ∫_0^∞ h(v) dv, g = x^(a-1) e^(-x) / Γ(a), h(v) = (1 + v/x)^(a-1) e^(-v).
///   Since ln(1 + v/x) <= v/x, h(v) <= e^(-cv) with c = 1 - max(a-1, 0)/x >= 1/a, so
///   cutting the integral at V leaves at most e^(-cV)/c; and ∫ h >= L, L = 1 for a >= 1,
///   L = (1 - 1/e)(1 + 1/x)^(a-1) for a < 1 (h on [0, 1]). V is chosen to leave at most
///   1e-16 L, and the quadrature's error estimate is held below 1e-14 L: a relative
///   error near 1e-14 however far out x is.
pub(crate) fn upper_gamma(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    let ln_gamma_a = libm::lgamma(a);
    if x < a {
        let m = (5.0 / a).ceil().max(1.0);
        let ln_x = x.ln();
        // Logs throughout: x^a / Γ(a) alone overflows for large a.
        let f = |u: f64| {
            if u <= 0.0 {
                0.0
            } else {
                m * ((m * a - 1.0) * u.ln() + a * ln_x - x * u.powf(m) - ln_gamma_a).exp()
            }
        };
        1.0 - simpson(&f, 0.0, 1.0, 1e-15)
    } else {
        let lower = if a >= 1.0 {
            1.0
        } else {
            (1.0 - 1.0 / E) * (1.0 + 1.0 / x).powf(a - 1.0)
        };
        let c = 1.0 - (a - 1.0).max(0.0) / x;
        let cut = (16.0 * std::f64::consts::LN_10 - (c * lower).ln()) / c;
        let h = |v: f64| ((a - 1.0) * (v / x).ln_1p() - v).exp();
        let g = ((a - 1.0) * x.ln() - x - ln_gamma_a).exp();
        g * simpson(&h, 0.0, cut, 1e-14 * lower)
    }
}

/// ∫ f over [lo, hi] by adaptive Simpson's rule with Richardson's correction: each panel
/// is halved until |S(halves) - S(whole)| / 15, the usual estimate of its error, is
/// within its share of `tol` (absolute). The interval starts as 16 panels so that a narrow
/// peak is not missed by the first five points.
fn simpson(f: &dyn Fn(f64) -> f64, lo: f64, hi: f64, tol: f64) -> f64 {
    const PANELS: usize = 16;
    let width = (hi - lo) / PANELS as f64;
    (0..PANELS)
        .map(|i| {
            let a = lo + width * i as f64;
            let b = if i + 1 == PANELS { hi } else { a + width };
            let (fa, fm, fb) = (f(a), f((a + b) / 2.0), f(b));
            let whole = (b - a) / 6.0 * (fa + 4.0 * fm + fb);
            simpson_panel(f, a, b, fa, fm, fb, whole, tol / PANELS as f64, 48)
        })
        .sum()
}

#[allow(clippy::too_many_arguments)]
fn simpson_panel(
    f: &dyn Fn(f64) -> f64,
    a: f64,
    b: f64,
    fa: f64,
    fm: f64,
    fb: f64,
    whole: f64,
    tol: f64,
    depth: u32,
) -> f64 {
    let m = (a + b) / 2.0;
    let (lm, rm) = ((a + m) / 2.0, (m + b) / 2.0);
    let (flm, frm) = (f(lm), f(rm));
    let left = (m - a) / 6.0 * (fa + 4.0 * flm + fm);
    let right = (b - m) / 6.0 * (fm + 4.0 * frm + fb);
    let delta = left + right - whole;
    // The depth limit only stops a panel that floating point can no longer split usefully.
    if depth == 0 || delta.abs() <= 15.0 * tol {
        return left + right + delta / 15.0;
    }
    simpson_panel(f, a, m, fa, flm, fm, left, tol / 2.0, depth - 1)
        + simpson_panel(f, m, b, fm, frm, fb, right, tol / 2.0, depth - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn customs(threshold: f64, duty_rate: f64, vat_rate: f64, duty_base: DutyBase) -> Customs {
        Customs {
            de_minimis_usd: threshold,
            duty_rate,
            vat_rate,
            duty_base,
            clearance: crate::model::Clearance {
                inspection_rate: 0.0,
                inspection_delay: Dist::constant(0.0),
                clearance_time: Dist::constant(0.0),
            },
        }
    }

    fn relative_error(actual: f64, expected: f64) -> f64 {
        ((actual - expected) / expected).abs()
    }

    /// Russia from 2020 (scenarios/aliexpress_russia_2016.toml, variant ru-de-minimis-200):
    /// electronics from Chinese sellers, lognormal with median 12 USD and sigma 1, against
    /// a EUR 200 = 216 USD threshold, 30 % duty on the excess, no VAT.
    ///
    /// Reference figures, by hand from the partial expectations and evaluated at 40 digits
    /// (mpmath: mp.dps = 40; ncdf for Phi), then checked by integrating the density
    /// numerically (mpmath quad over [216, 1000, inf]) to the same digits:
    ///   z2 = (ln 12 - ln 216) / 1 = -ln 18 = -2.8903717578961646922
    ///   z1 = z2 + sigma = -1.8903717578961646922
    ///   E[X] = 12 e^(1/2) = 19.784655248401537762
    ///   P(X > 216) = Phi(z2) = 0.0019239324547242432247
    ///   E[X 1{X > 216}] = E[X] Phi(z1) = 0.58076132073033369516
    ///   E[(X - 216)+] = 0.58076132073033369516 - 216 x 0.0019239324547242432247
    ///                 = 0.16519191050989715862
    ///   duty = 0.3 x 0.16519191050989715862 = 0.049557573152969147585
    /// With the whole value dutiable instead (15 % duty, 20 % VAT on value plus duty):
    ///   duty = 0.15 x 0.58076132073033369516 = 0.087114198109550054274
    ///   VAT = 0.2 x 1.15 x 0.58076132073033369516 = 0.13357510376797674989
    #[test]
    // The reference figures are quoted to the digits they were computed to.
    #[allow(clippy::excessive_precision)]
    fn far_tail_lognormal_matches_reference_figures() {
        let (mu, sigma) = (12f64.ln(), 1.0);
        let d = Dist::new(Sampler::LogNormal { mu, sigma }, (mu + 0.5).exp());
        let tail = tail(&d, 216.0);
        assert!(relative_error(tail.prob, 0.0019239324547242432247) < 1e-9);
        assert!(relative_error(tail.partial, 0.58076132073033369516) < 1e-9);

        let ru = expected(&d, &customs(216.0, 0.3, 0.0, DutyBase::Excess));
        assert!(relative_error(ru.value_usd, 19.784655248401537762) < 1e-12);
        assert!(
            relative_error(ru.duty_usd, 0.049557573152969147585) < 1e-9,
            "{ru:?}"
        );
        assert_eq!(ru.vat_usd, 0.0);

        let full = expected(&d, &customs(216.0, 0.15, 0.2, DutyBase::Full));
        assert!(relative_error(full.duty_usd, 0.087114198109550054274) < 1e-9);
        assert!(relative_error(full.vat_usd, 0.13357510376797674989) < 1e-9);
    }

    /// Q(a, x) against closed forms (whole and half-integer a) and against mpmath's
    /// gammainc(a, x, inf, regularized=True) at 40 digits, below the mean, at it and far
    /// beyond it.
    #[test]
    // The reference figures are quoted to the digits they were computed to.
    #[allow(clippy::excessive_precision)]
    fn upper_gamma_matches_closed_forms_and_references() {
        let pi = std::f64::consts::PI;
        for x in [1e-3_f64, 0.01, 0.3, 0.9, 1.0, 1.4, 2.5, 10.0, 40.0, 200.0] {
            let e = (-x).exp();
            let erfc = libm::erfc(x.sqrt());
            let q15 = erfc + 2.0 * (x / pi).sqrt() * e;
            let cases = [
                (0.5, erfc),
                (1.0, e),
                (1.5, q15),
                (2.0, (1.0 + x) * e),
                (2.5, q15 + x.powf(1.5) * e / libm::tgamma(2.5)),
                (3.0, (1.0 + x + x * x / 2.0) * e),
            ];
            for (a, want) in cases {
                let got = upper_gamma(a, x);
                assert!(
                    relative_error(got, want) < 1e-11,
                    "Q({a}, {x}) = {got}, want {want}"
                );
            }
        }
        let references = [
            (0.05, 0.01, 0.18444019425871507393),
            (0.05, 0.05, 0.11775643611433194015),
            (0.05, 3.0, 0.00071590543120258615153),
            (0.6, 0.2, 0.60397793272676698417),
            (0.6, 6.0, 0.0007679830371295787194),
            (1.6, 6.0, 0.0088966969944498641605),
            (7.3, 2.0, 0.99700141422381759955),
            (7.3, 7.3, 0.45075580875144550297),
            (7.3, 40.0, 4.8875110652879969543e-11),
            (51.0, 45.0, 0.79628029040741833601),
            (51.0, 60.0, 0.10767787862197314407),
            (51.0, 150.0, 2.245445450648952386e-21),
        ];
        for (a, x, want) in references {
            let got = upper_gamma(a, x);
            // lgamma's own rounding, times |ln Γ(a)| up to 150, bounds what is attainable.
            assert!(
                relative_error(got, want) < 1e-11,
                "Q({a}, {x}) = {got}, want {want}"
            );
        }
    }

    /// Mean and standard error of one per-draw figure.
    #[derive(Default)]
    struct Moments {
        sum: f64,
        sum_sq: f64,
    }

    impl Moments {
        fn add(&mut self, v: f64) {
            self.sum += v;
            self.sum_sq += v * v;
        }

        fn mean_and_se(&self, n: usize) -> (f64, f64) {
            let n = n as f64;
            let mean = self.sum / n;
            let var = (self.sum_sq / n - mean * mean).max(0.0) * n / (n - 1.0);
            (mean, (var / n).sqrt())
        }
    }

    const DRAWS: usize = 4_000_000;

    /// Compares `expected` with the mean of `DRAWS` seeded draws of `value`, each charged
    /// as `Customs::charges_cents` charges a parcel but without rounding to cents (which
    /// `expected` ignores), at every threshold under both duty bases, with VAT.
    fn check_against_monte_carlo(name: &str, value: &Dist, thresholds: &[f64], seed: u64) {
        let mut regimes = Vec::new();
        for t in thresholds {
            regimes.push(customs(*t, 0.15, 0.2, DutyBase::Full));
            regimes.push(customs(*t, 0.3, 0.1, DutyBase::Excess));
        }
        let mut values = Moments::default();
        let mut charges: Vec<[Moments; 2]> = regimes.iter().map(|_| Default::default()).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for _ in 0..DRAWS {
            let x = value.sample(&mut rng);
            values.add(x);
            for (c, m) in regimes.iter().zip(&mut charges) {
                let (duty, vat) = if x > c.de_minimis_usd {
                    let base = match c.duty_base {
                        DutyBase::Full => x,
                        DutyBase::Excess => x - c.de_minimis_usd,
                    };
                    let duty = base * c.duty_rate;
                    (duty, (base + duty) * c.vat_rate)
                } else {
                    (0.0, 0.0)
                };
                m[0].add(duty);
                m[1].add(vat);
            }
        }
        // Four standard errors: a correct formula fails one of these ~100 comparisons by
        // chance with probability below 1 %, and the seed is fixed; the small relative
        // term absorbs the summation's rounding where the draws do not vary (se = 0).
        let close = |what: &str, exact: f64, (mc, se): (f64, f64)| {
            let tolerance = 4.0 * se + 1e-9 * exact.abs();
            assert!(
                (exact - mc).abs() <= tolerance,
                "{name}, {what}: exact {exact}, Monte Carlo {mc} +- {se}"
            );
        };
        let mut informative = false;
        for (c, m) in regimes.iter().zip(&charges) {
            let e = expected(value, c);
            let what = format!("threshold {} {:?}", c.de_minimis_usd, c.duty_base);
            close(
                &format!("{what} value"),
                e.value_usd,
                values.mean_and_se(DRAWS),
            );
            let duty = m[0].mean_and_se(DRAWS);
            close(&format!("{what} duty"), e.duty_usd, duty);
            close(&format!("{what} VAT"), e.vat_usd, m[1].mean_and_se(DRAWS));
            // The check means something only if the draws pin the duty down.
            assert!(
                duty.1 <= 0.05 * e.duty_usd || e.duty_usd == 0.0,
                "{name}, {what}"
            );
            informative |= e.duty_usd > 0.0 && duty.1 > 0.0;
        }
        assert!(
            informative || name == "constant",
            "{name}: no random charge checked"
        );
    }

    fn dist(sampler: Option<Sampler>, mean: f64) -> Dist {
        Dist::new(sampler.unwrap(), mean)
    }

    #[test]
    fn constant_matches_monte_carlo() {
        let d = Dist::constant(30.0);
        // 30 is exactly at the threshold in the third case: nothing to pay.
        check_against_monte_carlo("constant", &d, &[0.0, 29.99, 30.0, 40.0], 1);
        let at = expected(&d, &customs(30.0, 0.3, 0.2, DutyBase::Full));
        assert_eq!((at.duty_usd, at.vat_usd), (0.0, 0.0));
    }

    #[test]
    fn uniform_matches_monte_carlo() {
        // Scaled by 1.25: uniform on [6.25, 56.25); 55 leaves the top 2.5 %.
        let d = dist(Sampler::uniform(5.0, 45.0), 25.0).scaled(1.25);
        check_against_monte_carlo("uniform", &d, &[0.0, 20.0, 55.0, 60.0], 2);
    }

    #[test]
    fn exponential_matches_monte_carlo() {
        // Mean 25 after scaling; 150 leaves e^-6 = 0.25 %.
        let d = dist(Sampler::exponential(20.0), 20.0).scaled(1.25);
        check_against_monte_carlo("exponential", &d, &[10.0, 25.0, 150.0], 3);
    }

    #[test]
    fn lognormal_matches_monte_carlo() {
        // The Russian case of far_tail_lognormal_matches_reference_figures: 216 leaves 0.19 %.
        let (mu, sigma) = (12f64.ln(), 1.0);
        let d = Dist::new(
            Sampler::LogNormal { mu, sigma },
            (mu + sigma * sigma / 2.0).exp(),
        );
        check_against_monte_carlo("lognormal", &d, &[12.0, 40.0, 216.0], 4);
        // Scaled: median 31.25, sigma 0.9; 300 leaves 0.6 %.
        let (mu, sigma) = (25f64.ln(), 0.9);
        let d = Dist::new(
            Sampler::LogNormal { mu, sigma },
            (mu + sigma * sigma / 2.0).exp(),
        )
        .scaled(1.25);
        check_against_monte_carlo("lognormal scaled", &d, &[30.0, 300.0], 5);
    }

    #[test]
    fn gamma_matches_monte_carlo() {
        // Shape below 1 (density infinite at 0): mean 25 after scaling; 250 leaves 0.08 %.
        let d = dist(Sampler::gamma(0.6, 20.0 / 0.6), 20.0).scaled(1.25);
        check_against_monte_carlo("gamma 0.6", &d, &[5.0, 25.0, 250.0], 6);
        // Shape 3, mean 30: 120 leaves e^-12 (1 + 12 + 72) = 0.05 %.
        let d = dist(Sampler::gamma(3.0, 10.0), 30.0);
        check_against_monte_carlo("gamma 3", &d, &[20.0, 30.0, 120.0], 7);
    }

    #[test]
    fn triangular_matches_monte_carlo() {
        // On [2.5, 62.5] with mode 12.5 after scaling: 5 cuts the rising side, 20 the
        // falling side, and 60 leaves 0.2 %.
        let d = dist(Sampler::triangular(2.0, 10.0, 50.0), 62.0 / 3.0).scaled(1.25);
        check_against_monte_carlo("triangular", &d, &[0.0, 5.0, 20.0, 60.0], 8);
    }

    #[test]
    fn empirical_matches_monte_carlo() {
        // Values 6.25, 12.5, 25 and 75 after scaling; 12.5 is one of them (it pays nothing)
        // and only the 10 % at 75 is above 70.
        let d = dist(
            Sampler::empirical(vec![5.0, 10.0, 20.0, 60.0], vec![4.0, 3.0, 2.0, 1.0]),
            15.0,
        )
        .scaled(1.25);
        check_against_monte_carlo("empirical", &d, &[0.0, 12.5, 30.0, 70.0, 80.0], 9);
    }
}
