//! Distributions as scenario files write them (`{ dist = "lognormal", median_days = 12.0,
//! sigma = 0.4 }`): the unit lives in the key name, so each value is converted here, once,
//! into the canonical unit of its quantity, and nothing downstream sees a unit again.

use toml::Value;

use super::Problems;
use crate::model::dist::{Dist, KINDS, Quantity, Sampler};

/// Reads one distribution table at `path`, recording every problem found.
pub fn parse(
    value: &Value,
    path: &str,
    quantity: Quantity,
    problems: &mut Problems,
) -> Option<Dist> {
    let Some(table) = value.as_table() else {
        problems.add(
            path,
            format!(
                "expected a distribution table such as {{ dist = \"exponential\", mean_{} = 1.0 }}, found {}",
                quantity.units()[0].0,
                describe(value)
            ),
        );
        return None;
    };
    let kind = match table.get("dist") {
        Some(Value::String(k)) => k.as_str(),
        Some(other) => {
            problems.add(
                &format!("{path}.dist"),
                format!(
                    "expected a string naming one of {KINDS}, found {}",
                    describe(other)
                ),
            );
            return None;
        }
        None => {
            problems.add(path, format!("missing key `dist` (one of {KINDS})"));
            return None;
        }
    };
    let mut reader = ParamReader {
        table,
        path,
        quantity,
        problems,
        used: vec!["dist"],
        ok: true,
    };
    let built = build(kind, &mut reader);
    if KINDS.split(", ").any(|k| k == kind) {
        reader.reject_unused(kind);
    }
    let (sampler, mean) = built?;
    reader.ok.then(|| Dist::new(sampler, mean))
}

/// The sampler and mean of a `kind` distribution from the reader's parameters.
fn build(kind: &str, reader: &mut ParamReader) -> Option<(Sampler, f64)> {
    let path = reader.path;
    Some(match kind {
        "constant" => {
            let v = reader.amount("value")?;
            (Sampler::Constant(v), v)
        }
        "uniform" => {
            let (lo, hi) = (reader.amount("min"), reader.amount("max"));
            let (lo, hi) = (lo?, hi?);
            if hi <= lo {
                reader.fail(&format!(
                    "uniform needs max > min, found min {lo} and max {hi} (canonical units)"
                ));
                return None;
            }
            (Sampler::uniform(lo, hi)?, (lo + hi) / 2.0)
        }
        "exponential" => {
            let mean = reader.positive_amount("mean")?;
            (Sampler::exponential(mean)?, mean)
        }
        "lognormal" => {
            let (median, sigma) = (reader.positive_amount("median"), reader.plain("sigma"));
            let (median, sigma) = (median?, sigma?);
            if sigma < 0.0 {
                reader.fail(&format!("sigma must not be negative, found {sigma}"));
                return None;
            }
            let mu = median.ln();
            (
                Sampler::LogNormal { mu, sigma },
                (mu + sigma * sigma / 2.0).exp(),
            )
        }
        "gamma" => {
            let (shape, mean) = (reader.plain("shape"), reader.positive_amount("mean"));
            let (shape, mean) = (shape?, mean?);
            if shape <= 0.0 {
                reader.fail(&format!("shape must be positive, found {shape}"));
                return None;
            }
            (Sampler::gamma(shape, mean / shape)?, mean)
        }
        "triangular" => {
            let (lo, mode, hi) = (
                reader.amount("min"),
                reader.amount("mode"),
                reader.amount("max"),
            );
            let (lo, mode, hi) = (lo?, mode?, hi?);
            if !(lo <= mode && mode <= hi && lo < hi) {
                reader.fail(&format!(
                    "triangular needs min <= mode <= max and min < max, found {lo}, {mode}, {hi} (canonical units)"
                ));
                return None;
            }
            (Sampler::triangular(lo, mode, hi)?, (lo + mode + hi) / 3.0)
        }
        "empirical" => {
            let values = reader.amount_list("values")?;
            let weights = reader.weights(values.len())?;
            let total: f64 = weights.iter().sum();
            let mean = values.iter().zip(&weights).map(|(v, w)| v * w).sum::<f64>() / total;
            (Sampler::empirical(values, weights)?, mean)
        }
        other => {
            reader.problems.add(
                &format!("{path}.dist"),
                format!("unknown distribution `{other}`; expected one of {KINDS}"),
            );
            return None;
        }
    })
}

/// Reads the parameters of one distribution table and remembers which keys it used.
struct ParamReader<'a> {
    table: &'a toml::Table,
    path: &'a str,
    quantity: Quantity,
    problems: &'a mut Problems,
    used: Vec<&'a str>,
    ok: bool,
}

impl<'a> ParamReader<'a> {
    fn fail(&mut self, message: &str) {
        self.ok = false;
        self.problems.add(self.path, message.to_string());
    }

    /// Finds `<stem>_<unit>` and returns the key and the factor to canonical units.
    fn unit_key(&mut self, stem: &str) -> Option<(&'a str, &'a Value, f64)> {
        let mut found = None;
        for (key, value) in self.table.iter() {
            if let Some(unit) = key.strip_prefix(stem).and_then(|r| r.strip_prefix('_')) {
                if let Some((_, factor)) = self.quantity.units().iter().find(|(u, _)| *u == unit) {
                    if found.is_some() {
                        self.fail(&format!("`{stem}` is given twice, in different units"));
                        return None;
                    }
                    found = Some((key.as_str(), value, *factor));
                }
            }
        }
        match found {
            Some((key, value, factor)) => {
                self.used.push(key);
                Some((key, value, factor))
            }
            None => {
                let units = self.quantity.unit_names();
                self.fail(&format!(
                    "missing key `{stem}_<unit>` (unit one of {units})"
                ));
                None
            }
        }
    }

    fn number_at(&mut self, key: &str, value: &Value) -> Option<f64> {
        let n = match value {
            Value::Float(f) => Some(*f),
            Value::Integer(i) => Some(*i as f64),
            _ => None,
        };
        match n {
            Some(n) if n.is_finite() => Some(n),
            _ => {
                self.ok = false;
                self.problems.add(
                    &format!("{}.{key}", self.path),
                    format!("expected a number, found {}", describe(value)),
                );
                None
            }
        }
    }

    fn amount(&mut self, stem: &str) -> Option<f64> {
        let (key, value, factor) = self.unit_key(stem)?;
        let n = self.number_at(key, value)?;
        if n < 0.0 {
            self.ok = false;
            self.problems.add(
                &format!("{}.{key}", self.path),
                format!("must not be negative, found {n}"),
            );
            return None;
        }
        Some(n * factor)
    }

    fn positive_amount(&mut self, stem: &str) -> Option<f64> {
        let (key, value, factor) = self.unit_key(stem)?;
        let n = self.number_at(key, value)?;
        if n <= 0.0 {
            self.ok = false;
            self.problems.add(
                &format!("{}.{key}", self.path),
                format!("must be positive, found {n}"),
            );
            return None;
        }
        Some(n * factor)
    }

    fn plain(&mut self, key: &'a str) -> Option<f64> {
        self.used.push(key);
        match self.table.get(key) {
            Some(v) => self.number_at(key, v),
            None => {
                self.fail(&format!("missing key `{key}`"));
                None
            }
        }
    }

    fn amount_list(&mut self, stem: &str) -> Option<Vec<f64>> {
        let (key, value, factor) = self.unit_key(stem)?;
        let list = self.number_list(key, value)?;
        if list.iter().any(|v| *v < 0.0) {
            self.ok = false;
            self.problems.add(
                &format!("{}.{key}", self.path),
                "values must not be negative".to_string(),
            );
            return None;
        }
        Some(list.into_iter().map(|v| v * factor).collect())
    }

    fn number_list(&mut self, key: &str, value: &Value) -> Option<Vec<f64>> {
        let Some(items) = value.as_array() else {
            self.ok = false;
            self.problems.add(
                &format!("{}.{key}", self.path),
                format!("expected an array of numbers, found {}", describe(value)),
            );
            return None;
        };
        if items.is_empty() {
            self.ok = false;
            self.problems.add(
                &format!("{}.{key}", self.path),
                "must not be empty".to_string(),
            );
            return None;
        }
        items.iter().map(|v| self.number_at(key, v)).collect()
    }

    fn weights(&mut self, expected_len: usize) -> Option<Vec<f64>> {
        self.used.push("weights");
        let Some(value) = self.table.get("weights") else {
            self.fail("missing key `weights` (one non-negative weight per value)");
            return None;
        };
        let weights = self.number_list("weights", value)?;
        let path = format!("{}.weights", self.path);
        if weights.len() != expected_len {
            self.ok = false;
            self.problems.add(
                &path,
                format!(
                    "expected {expected_len} weights (one per value), found {}",
                    weights.len()
                ),
            );
            return None;
        }
        if weights.iter().any(|w| *w < 0.0) || weights.iter().sum::<f64>() <= 0.0 {
            self.ok = false;
            self.problems.add(
                &path,
                "weights must be non-negative with a positive sum".to_string(),
            );
            return None;
        }
        Some(weights)
    }

    fn reject_unused(&mut self, kind: &str) {
        for key in self.table.keys() {
            if !self.used.contains(&key.as_str()) {
                self.ok = false;
                let expected = expected_keys(kind, self.quantity);
                self.problems.add(
                    &format!("{}.{key}", self.path),
                    format!("unknown key `{key}` for a {kind} distribution; expected {expected}"),
                );
            }
        }
    }
}

fn expected_keys(kind: &str, quantity: Quantity) -> String {
    let u = format!("<{}>", quantity.unit_names());
    match kind {
        "constant" => format!("value_{u}"),
        "uniform" => format!("min_{u}, max_{u}"),
        "exponential" => format!("mean_{u}"),
        "lognormal" => format!("median_{u}, sigma"),
        "gamma" => format!("shape, mean_{u}"),
        "triangular" => format!("min_{u}, mode_{u}, max_{u}"),
        _ => format!("values_{u}, weights"),
    }
}

/// A short description of a TOML value for error messages.
pub fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("the string \"{s}\""),
        Value::Integer(i) => format!("the integer {i}"),
        Value::Float(f) => format!("the number {f}"),
        Value::Boolean(b) => format!("the boolean {b}"),
        Value::Datetime(d) => format!("the date {d}"),
        Value::Array(_) => "an array".to_string(),
        Value::Table(_) => "a table".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn parse_str(s: &str, q: Quantity) -> Result<Dist, Vec<String>> {
        let v: toml::Table = toml::from_str(&format!("d = {s}")).unwrap();
        let mut problems = Problems::default();
        let d = parse(&v["d"], "x", q, &mut problems);
        match d {
            Some(d) if problems.is_empty() => Ok(d),
            _ => Err(problems.iter().map(|p| p.to_string()).collect()),
        }
    }

    /// Skipping a draw leaves the stream exactly where sampling it would, for every
    /// family (the ziggurat and rejection samplers take a varying number of words).
    #[test]
    fn skip_takes_what_sample_takes() {
        let families = [
            r#"{ dist = "constant", value_hours = 2.0 }"#,
            r#"{ dist = "uniform", min_hours = 1.0, max_hours = 3.0 }"#,
            r#"{ dist = "exponential", mean_minutes = 30 }"#,
            r#"{ dist = "lognormal", median_days = 2.0, sigma = 0.9 }"#,
            r#"{ dist = "gamma", shape = 0.7, mean_days = 1.0 }"#,
            r#"{ dist = "triangular", min_days = 1.0, mode_days = 2.0, max_days = 5.0 }"#,
            r#"{ dist = "empirical", values_hours = [1.0, 2.0, 5.0], weights = [0.2, 0.5, 0.3] }"#,
        ];
        for text in families {
            let d = parse_str(text, Quantity::Duration).unwrap_or_else(|e| panic!("{text}: {e:?}"));
            let mut sampled = rand_chacha::ChaCha8Rng::seed_from_u64(9);
            let mut skipped = sampled.clone();
            for _ in 0..10_000 {
                d.sample_u32(&mut sampled);
                d.skip(&mut skipped);
            }
            assert_eq!(sampled.next_u64(), skipped.next_u64(), "{text}");
        }
    }

    #[test]
    fn converts_units_and_knows_means() {
        let d = parse_str(
            r#"{ dist = "constant", value_hours = 2.0 }"#,
            Quantity::Duration,
        )
        .unwrap();
        assert_eq!(d.mean(), 7200.0);
        let d = parse_str(
            r#"{ dist = "exponential", mean_minutes = 30 }"#,
            Quantity::Duration,
        )
        .unwrap();
        assert_eq!(d.mean(), 1800.0);
        let d = parse_str(
            r#"{ dist = "lognormal", median_days = 12.0, sigma = 0.0 }"#,
            Quantity::Duration,
        )
        .unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        assert_eq!(d.sample_u32(&mut rng), 12 * 86_400);
        let d = parse_str(
            r#"{ dist = "empirical", values_usd = [1, 3], weights = [1, 1] }"#,
            Quantity::Money,
        )
        .unwrap();
        assert_eq!(d.mean(), 2.0);
        assert_eq!(d.scaled(2.0).mean(), 4.0);
    }

    #[test]
    fn empirical_sample_means_converge() {
        let d = parse_str(
            r#"{ dist = "gamma", shape = 2.0, mean_seconds = 10.0 }"#,
            Quantity::Duration,
        )
        .unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let n = 200_000;
        let mean = (0..n).map(|_| d.sample(&mut rng)).sum::<f64>() / n as f64;
        assert!((mean - 10.0).abs() < 0.1, "{mean}");
    }

    #[test]
    fn names_wrong_units_and_keys() {
        let e = parse_str(
            r#"{ dist = "lognormal", median_dayz = 1.0, sigma = 0.4 }"#,
            Quantity::Duration,
        )
        .unwrap_err();
        assert!(
            e.iter().any(|m| m.contains("missing key `median_<unit>`")),
            "{e:?}"
        );
        assert!(
            e.iter().any(|m| m.contains("x.median_dayz: unknown key")),
            "{e:?}"
        );
        let e = parse_str(
            r#"{ dist = "normal", mean_days = 1.0 }"#,
            Quantity::Duration,
        )
        .unwrap_err();
        assert!(e[0].contains("unknown distribution `normal`"), "{e:?}");
        let e = parse_str(
            r#"{ dist = "exponential", mean_usd = -1.0 }"#,
            Quantity::Money,
        )
        .unwrap_err();
        assert!(e[0].contains("must be positive, found -1"), "{e:?}");
        let e = parse_str(
            r#"{ dist = "uniform", min_days = 3, max_days = 1 }"#,
            Quantity::Duration,
        )
        .unwrap_err();
        assert!(e[0].contains("max > min"), "{e:?}");
    }
}
