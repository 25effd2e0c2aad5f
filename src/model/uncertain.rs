//! Uncertain parameters (`[[uncertain]]`): an override path and the distribution of
//! its value, drawn per replication (`--uncertain`) or placed by a design (`sweep`).
//!
//! Every distribution is bounded, so a coordinate `u` in [0, 1] maps to a value by the
//! inverse CDF, ends included: a design's corners are the bounds.

/// One uncertain parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Uncertain {
    /// A short name for tables and charts (default: the path).
    pub name: String,
    /// The override path it sets, as `--set` takes it.
    pub path: String,
    pub dist: UncertainDist,
}

/// The distribution of an uncertain parameter's value.
#[derive(Debug, Clone, PartialEq)]
pub enum UncertainDist {
    Uniform {
        low: f64,
        high: f64,
    },
    Triangular {
        low: f64,
        mode: f64,
        high: f64,
    },
    /// A normal distribution truncated to [low, high].
    Normal {
        mean: f64,
        sd: f64,
        low: f64,
        high: f64,
    },
    /// Equally likely values, each in TOML syntax as `--set` takes it.
    Levels(Vec<String>),
}

/// A parameter's value at a coordinate: a number, or the index of one of its levels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum UncertainValue {
    Number(f64),
    Level(usize),
}

impl Uncertain {
    /// The value at coordinate `u` (clamped to [0, 1]).
    pub fn value_at(&self, u: f64) -> UncertainValue {
        let u = if u.is_nan() { 0.5 } else { u.clamp(0.0, 1.0) };
        match &self.dist {
            UncertainDist::Uniform { low, high } => UncertainValue::Number(low + u * (high - low)),
            UncertainDist::Triangular { low, mode, high } => {
                UncertainValue::Number(triangular_quantile(*low, *mode, *high, u))
            }
            UncertainDist::Normal {
                mean,
                sd,
                low,
                high,
            } => {
                let (a, b) = (
                    normal_cdf((low - mean) / sd),
                    normal_cdf((high - mean) / sd),
                );
                let z = normal_quantile(a + u * (b - a));
                UncertainValue::Number((mean + sd * z).clamp(*low, *high))
            }
            UncertainDist::Levels(levels) => {
                let n = levels.len();
                UncertainValue::Level(((u * n as f64) as usize).min(n - 1))
            }
        }
    }

    /// The value at `u` in TOML syntax, for an override.
    pub fn text_at(&self, u: f64) -> String {
        match (self.value_at(u), &self.dist) {
            (UncertainValue::Number(v), _) => format!("{v:?}"),
            (UncertainValue::Level(j), UncertainDist::Levels(levels)) => levels[j].clone(),
            (UncertainValue::Level(_), _) => unreachable!("only levels give a level"),
        }
    }

    /// The distribution in words: `uniform(0.1, 0.5)`, `levels[2, 3]`.
    pub fn describe(&self) -> String {
        match &self.dist {
            UncertainDist::Uniform { low, high } => format!("uniform({low}, {high})"),
            UncertainDist::Triangular { low, mode, high } => {
                format!("triangular({low}, mode {mode}, {high})")
            }
            UncertainDist::Normal {
                mean,
                sd,
                low,
                high,
            } => format!("normal(mean {mean}, sd {sd}) in [{low}, {high}]"),
            UncertainDist::Levels(levels) => format!("levels[{}]", levels.join(", ")),
        }
    }

    /// The number of discrete levels, if the parameter has them.
    pub fn levels(&self) -> Option<usize> {
        match &self.dist {
            UncertainDist::Levels(levels) => Some(levels.len()),
            _ => None,
        }
    }

    /// Coordinates that reach every extreme of the parameter (its bounds, or each level):
    /// checking the scenario at these checks every value a design can give.
    pub fn extremes(&self) -> Vec<f64> {
        match &self.dist {
            UncertainDist::Levels(levels) => {
                let n = levels.len() as f64;
                (0..levels.len()).map(|j| (j as f64 + 0.5) / n).collect()
            }
            _ => vec![0.0, 1.0],
        }
    }

    /// Whether setting `other` (a variant's or `--set`'s path) also sets this parameter:
    /// the same path, or one containing the other.
    pub fn is_set_by(&self, other: &str) -> bool {
        let within = |inner: &str, outer: &str| {
            inner
                .strip_prefix(outer)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
        };
        within(&self.path, other) || within(other, &self.path)
    }
}

fn triangular_quantile(low: f64, mode: f64, high: f64, u: f64) -> f64 {
    let width = high - low;
    if width <= 0.0 {
        return low;
    }
    let at_mode = (mode - low) / width;
    if u <= at_mode {
        low + (u * width * (mode - low)).sqrt()
    } else {
        high - ((1.0 - u) * width * (high - mode)).sqrt()
    }
}

/// The standard normal CDF.
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

/// The standard normal quantile: Acklam's rational approximation (relative error
/// 1.15e-9), then one Halley step on the exact CDF, which brings it to about 1e-15.
pub fn normal_quantile(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const LOW: f64 = 0.024_25;
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    let x = if p < LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p <= 1.0 - LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    };
    let e = normal_cdf(x) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
    x - u / (1.0 + x * u / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(dist: UncertainDist) -> Uncertain {
        Uncertain {
            name: "p".into(),
            path: "market.RU.customs.duty_rate".into(),
            dist,
        }
    }

    fn number(v: UncertainValue) -> f64 {
        match v {
            UncertainValue::Number(x) => x,
            UncertainValue::Level(_) => panic!("a level"),
        }
    }

    #[test]
    fn normal_quantile_inverts_the_cdf() {
        for p in [1e-12, 1e-6, 0.01, 0.024, 0.3, 0.5, 0.77, 0.976, 0.999_9] {
            let z = normal_quantile(p);
            assert!(
                ((normal_cdf(z) - p) / p).abs() < 1e-12,
                "p {p}: z {z}, cdf {}",
                normal_cdf(z)
            );
        }
        assert!((normal_quantile(0.975) - 1.959_963_984_540_054).abs() < 1e-12);
        assert_eq!(normal_quantile(0.5), 0.0);
    }

    #[test]
    fn coordinates_map_through_the_inverse_cdf() {
        let u = param(UncertainDist::Uniform {
            low: 2.0,
            high: 6.0,
        });
        assert_eq!(number(u.value_at(0.0)), 2.0);
        assert_eq!(number(u.value_at(0.25)), 3.0);
        assert_eq!(number(u.value_at(1.0)), 6.0);

        // Triangular (0, 1, 4): F(1) = 1/4; the median solves (4 - x)^2 / 12 = 1/2.
        let t = param(UncertainDist::Triangular {
            low: 0.0,
            mode: 1.0,
            high: 4.0,
        });
        assert!((number(t.value_at(0.25)) - 1.0).abs() < 1e-12);
        assert!((number(t.value_at(0.5)) - (4.0 - 6f64.sqrt())).abs() < 1e-12);
        assert_eq!(number(t.value_at(1.0)), 4.0);

        // Normal(10, 2) truncated symmetrically: the median is the mean, the ends the bounds,
        // and a quartile sits where the truncated CDF says.
        let n = param(UncertainDist::Normal {
            mean: 10.0,
            sd: 2.0,
            low: 7.0,
            high: 13.0,
        });
        assert!((number(n.value_at(0.5)) - 10.0).abs() < 1e-12);
        assert_eq!(number(n.value_at(0.0)), 7.0);
        assert_eq!(number(n.value_at(1.0)), 13.0);
        let q = number(n.value_at(0.25));
        let (a, b) = (normal_cdf(-1.5), normal_cdf(1.5));
        assert!(((normal_cdf((q - 10.0) / 2.0) - a) / (b - a) - 0.25).abs() < 1e-12);

        let l = param(UncertainDist::Levels(vec![
            "1".into(),
            "2".into(),
            "3".into(),
        ]));
        assert_eq!(l.value_at(0.0), UncertainValue::Level(0));
        assert_eq!(l.value_at(0.34), UncertainValue::Level(1));
        assert_eq!(l.value_at(1.0), UncertainValue::Level(2));
        assert_eq!(l.text_at(0.9), "3");
        assert_eq!(l.extremes().len(), 3);
    }

    #[test]
    fn a_path_is_set_by_itself_and_by_what_contains_it() {
        let p = param(UncertainDist::Uniform {
            low: 0.0,
            high: 1.0,
        });
        assert!(p.is_set_by("market.RU.customs.duty_rate"));
        assert!(p.is_set_by("market.RU.customs"));
        assert!(p.is_set_by("market.RU"));
        assert!(!p.is_set_by("market.RUB"));
        assert!(!p.is_set_by("market.RU.customs.duty"));
        assert!(!p.is_set_by("market.IN.customs.duty_rate"));
        let q = Uncertain {
            path: "market.RU".into(),
            ..p
        };
        assert!(q.is_set_by("market.RU.customs.duty_rate"));
    }
}
