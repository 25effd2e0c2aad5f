//! Probability distributions in canonical units (seconds for durations, US dollars for
//! money), as the engine samples them. `scenario::dist` reads them from a scenario file,
//! where the unit lives in the key name, and converts every value once.

use rand::Rng;
use rand_distr::weighted::WeightedAliasIndex;
use rand_distr::{Distribution, Exp, Gamma, StandardNormal, Triangular, Uniform};

/// What a distribution measures, which decides the units its keys may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// Canonical unit: seconds. Keys end in `_seconds`, `_minutes`, `_hours` or `_days`.
    Duration,
    /// Canonical unit: US dollars. Keys end in `_usd`.
    Money,
}

impl Quantity {
    pub(crate) fn units(self) -> &'static [(&'static str, f64)] {
        match self {
            Quantity::Duration => &[
                ("seconds", 1.0),
                ("minutes", 60.0),
                ("hours", 3600.0),
                ("days", 86_400.0),
            ],
            Quantity::Money => &[("usd", 1.0)],
        }
    }

    pub(crate) fn unit_names(self) -> String {
        let names: Vec<&str> = self.units().iter().map(|(u, _)| *u).collect();
        names.join("|")
    }
}

/// The distribution kinds a scenario may name.
pub const KINDS: &str = "constant, uniform, exponential, lognormal, gamma, triangular, empirical";

/// A validated distribution in canonical units, ready to sample.
#[derive(Debug, Clone)]
pub struct Dist {
    sampler: Sampler,
    /// Multiplies every draw; lets `--sample` rescale service times without re-validating.
    scale: f64,
    mean: f64,
}

/// How a distribution draws, with the parameters `model::charges` needs for its closed forms
/// (rand_distr's samplers do not expose theirs). The constructors below set both from the
/// same figures, so that they cannot disagree; drawing is as rand_distr's alone.
#[derive(Debug, Clone)]
pub(crate) enum Sampler {
    Constant(f64),
    Uniform {
        low: f64,
        high: f64,
        d: Uniform<f64>,
    },
    Exponential {
        mean: f64,
        d: Exp<f64>,
    },
    /// exp(mu + sigma z) of a standard normal z, as `rand_distr::LogNormal` draws it but
    /// with `crate::model::exp` (see there why).
    LogNormal {
        mu: f64,
        sigma: f64,
    },
    Gamma {
        shape: f64,
        scale: f64,
        d: Gamma<f64>,
    },
    Triangular {
        min: f64,
        mode: f64,
        max: f64,
        d: Triangular<f64>,
    },
    Empirical {
        values: Vec<f64>,
        /// The weights as given (not normalised), one per value.
        weights: Vec<f64>,
        index: WeightedAliasIndex<f64>,
    },
}

impl Sampler {
    /// Uniform on [low, high); `None` unless low < high, both finite.
    pub(crate) fn uniform(low: f64, high: f64) -> Option<Sampler> {
        let d = Uniform::new(low, high).ok()?;
        Some(Sampler::Uniform { low, high, d })
    }

    /// Exponential with the given positive mean.
    pub(crate) fn exponential(mean: f64) -> Option<Sampler> {
        let d = Exp::new(1.0 / mean).ok()?;
        Some(Sampler::Exponential { mean, d })
    }

    /// Gamma with density proportional to x^(shape-1) e^(-x/scale).
    pub(crate) fn gamma(shape: f64, scale: f64) -> Option<Sampler> {
        let d = Gamma::new(shape, scale).ok()?;
        Some(Sampler::Gamma { shape, scale, d })
    }

    /// Triangular on [min, max] with its peak at `mode`.
    pub(crate) fn triangular(min: f64, mode: f64, max: f64) -> Option<Sampler> {
        let d = Triangular::new(min, max, mode).ok()?;
        Some(Sampler::Triangular { min, mode, max, d })
    }

    /// `values[i]` with probability proportional to `weights[i]`.
    pub(crate) fn empirical(values: Vec<f64>, weights: Vec<f64>) -> Option<Sampler> {
        let index = WeightedAliasIndex::new(weights.clone()).ok()?;
        Some(Sampler::Empirical {
            values,
            weights,
            index,
        })
    }
}

impl Dist {
    /// A distribution drawn by `sampler`, whose expected value is `mean`.
    pub(crate) fn new(sampler: Sampler, mean: f64) -> Dist {
        Dist {
            sampler,
            scale: 1.0,
            mean,
        }
    }

    pub fn constant(value: f64) -> Dist {
        Dist {
            sampler: Sampler::Constant(value),
            scale: 1.0,
            mean: value,
        }
    }

    /// The expected value, in canonical units.
    pub fn mean(&self) -> f64 {
        self.mean * self.scale
    }

    /// How a draw is made before `scale()` multiplies it.
    pub(crate) fn sampler(&self) -> &Sampler {
        &self.sampler
    }

    /// The factor applied to every draw of `sampler()`.
    pub(crate) fn scale(&self) -> f64 {
        self.scale
    }

    /// The same distribution with every value multiplied by `factor`.
    pub fn scaled(&self, factor: f64) -> Dist {
        Dist {
            scale: self.scale * factor,
            ..self.clone()
        }
    }

    /// P(X <= x), x in canonical units: what `model::lag` discretises a delay with.
    pub fn cdf(&self, x: f64) -> f64 {
        let x = x / self.scale;
        match &self.sampler {
            Sampler::Constant(v) => f64::from(u8::from(x >= *v)),
            Sampler::Uniform { low, high, .. } => ((x - low) / (high - low)).clamp(0.0, 1.0),
            Sampler::Exponential { mean, .. } => {
                if x <= 0.0 {
                    0.0
                } else {
                    -(-x / mean).exp_m1()
                }
            }
            Sampler::LogNormal { mu, sigma } => {
                if x <= 0.0 {
                    0.0
                } else {
                    super::uncertain::normal_cdf((x.ln() - mu) / sigma)
                }
            }
            Sampler::Gamma { shape, scale, .. } => {
                1.0 - super::charges::upper_gamma(*shape, x / scale)
            }
            Sampler::Triangular { min, mode, max, .. } => {
                if x <= *min {
                    0.0
                } else if x >= *max {
                    1.0
                } else if x <= *mode {
                    (x - min).powi(2) / ((max - min) * (mode - min))
                } else {
                    1.0 - (max - x).powi(2) / ((max - min) * (max - mode))
                }
            }
            Sampler::Empirical {
                values, weights, ..
            } => {
                let total: f64 = weights.iter().sum();
                let below: f64 = values
                    .iter()
                    .zip(weights)
                    .filter(|(v, _)| **v <= x)
                    .map(|(_, w)| w)
                    .sum();
                below / total
            }
        }
    }

    /// One draw in canonical units; never negative for the parameters validation admits.
    #[inline(always)]
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let raw = match &self.sampler {
            Sampler::Constant(v) => *v,
            Sampler::Uniform { d, .. } => d.sample(rng),
            Sampler::Exponential { d, .. } => d.sample(rng),
            Sampler::LogNormal { mu, sigma } => {
                let z: f64 = StandardNormal.sample(rng);
                super::exp::exp(mu + sigma * z)
            }
            Sampler::Gamma { d, .. } => d.sample(rng),
            Sampler::Triangular { d, .. } => d.sample(rng),
            Sampler::Empirical { values, index, .. } => values[index.sample(rng)],
        };
        raw * self.scale
    }

    /// A draw rounded to a whole number of canonical units (seconds), saturating at `u32::MAX`.
    #[inline]
    pub fn sample_u32<R: Rng + ?Sized>(&self, rng: &mut R) -> u32 {
        to_u32(self.sample(rng))
    }

    /// Takes from the stream exactly what `sample` would, for a draw whose value is
    /// never read (so that the draws after it stay put), without a lognormal's `exp`.
    #[inline]
    pub fn skip<R: Rng + ?Sized>(&self, rng: &mut R) {
        match &self.sampler {
            Sampler::LogNormal { .. } => {
                let _: f64 = StandardNormal.sample(rng);
            }
            _ => {
                self.sample(rng);
            }
        }
    }

    /// A money draw in whole cents, saturating at `u32::MAX` cents.
    #[inline]
    pub fn sample_cents<R: Rng + ?Sized>(&self, rng: &mut R) -> u32 {
        to_u32(self.sample(rng) * 100.0)
    }
}

/// Rounds half up to a whole number, saturating; `as` truncation of `v + 0.5` avoids a
/// libm `round` call in the hottest loop.
#[inline]
fn to_u32(v: f64) -> u32 {
    if v >= u32::MAX as f64 {
        u32::MAX
    } else if v > 0.0 {
        (v + 0.5) as u32
    } else {
        0
    }
}
