//! `[[uncertain]]` tables -> `model::uncertain::Uncertain`. Whether each path and its
//! extreme values make a valid scenario is checked by the commands that draw them
//! (`run --uncertain`, `compare --uncertain`, `sweep`), before anything runs.

use std::collections::BTreeSet;

use super::Validator;
use crate::model::uncertain::{Uncertain, UncertainDist, normal_cdf};
use crate::scenario::raw::{RawScenario, RawUncertain};

/// Most uncertain parameters a scenario may declare: a Saltelli design over them already
/// costs (d + 2) runs per base point.
pub const MAX_UNCERTAIN: usize = 32;
/// Columns of `design.csv` and `results.csv` a parameter's name must not repeat.
const RESERVED: [&str; 10] = [
    "point",
    "group",
    "role",
    "replication",
    "variant",
    "entity",
    "entity_kind",
    "metric",
    "value",
    "parameter",
];
/// Most levels of one discrete parameter.
pub const MAX_LEVELS: usize = 1000;

impl Validator {
    pub(super) fn uncertain(&mut self, raw: &RawScenario) -> Vec<Uncertain> {
        if raw.uncertain.len() > MAX_UNCERTAIN {
            self.err(
                "uncertain",
                format!(
                    "at most {MAX_UNCERTAIN} uncertain parameters, found {}",
                    raw.uncertain.len()
                ),
            );
        }
        let mut names = BTreeSet::new();
        let params: Vec<Uncertain> = raw
            .uncertain
            .iter()
            .enumerate()
            .filter_map(|(i, u)| {
                let at = format!("uncertain[{i}]");
                let param = self.one_uncertain(&at, u)?;
                if !names.insert(param.name.clone()) {
                    self.err(
                        &format!("{at}.name"),
                        format!("duplicate uncertain parameter name \"{}\"", param.name),
                    );
                }
                Some(param)
            })
            .collect();
        for (i, p) in params.iter().enumerate() {
            if let Some(q) = params[..i].iter().find(|q| q.is_set_by(&p.path)) {
                self.err(
                    &format!("uncertain[{i}].path"),
                    format!(
                        "`{}` overlaps `{}` of parameter \"{}\": each value may be uncertain once",
                        p.path, q.path, q.name
                    ),
                );
            }
        }
        params
    }

    fn one_uncertain(&mut self, at: &str, u: &RawUncertain) -> Option<Uncertain> {
        let path = u.path.trim();
        if path.is_empty() {
            self.err(&format!("{at}.path"), "expected an override path");
            return None;
        }
        if path == "scenario" || path.starts_with("scenario.") || path.starts_with("uncertain") {
            self.err(
                &format!("{at}.path"),
                format!(
                    "`{path}`: an uncertain parameter is a value of the world, not of the run \
                     (scenario.*) or of the uncertain list"
                ),
            );
        }
        let name = u.name.clone().unwrap_or_else(|| path.to_string());
        if RESERVED.contains(&name.as_str()) {
            self.err(
                &format!("{at}.name"),
                format!("\"{name}\" names a column of sweep's tables; choose another name"),
            );
        }
        if name.trim().is_empty() || name.contains([',', '"', '\n']) {
            self.err(
                &format!("{at}.name"),
                format!("expected a name without commas, quotes or line breaks, found {name:?}"),
            );
        }
        let given = [
            ("low", u.low.is_some()),
            ("high", u.high.is_some()),
            ("mode", u.mode.is_some()),
            ("mean", u.mean.is_some()),
            ("sd", u.sd.is_some()),
            ("levels", u.levels.is_some()),
        ];
        let wants: &[&str] = match u.dist.as_str() {
            "uniform" => &["low", "high"],
            "triangular" => &["low", "mode", "high"],
            "normal" => &["mean", "sd", "low", "high"],
            "levels" => &["levels"],
            other => {
                self.err(
                    &format!("{at}.dist"),
                    format!(
                        "unknown distribution `{other}`; expected uniform, triangular, normal \
                         (truncated to low..high) or levels"
                    ),
                );
                return None;
            }
        };
        let mut complete = true;
        for (key, present) in given {
            if present && !wants.contains(&key) {
                self.err(
                    &format!("{at}.{key}"),
                    format!("`{key}` is not a parameter of dist = \"{}\"", u.dist),
                );
            }
            if !present && wants.contains(&key) {
                self.err(
                    at,
                    format!(
                        "dist = \"{}\" needs {}; `{key}` is missing",
                        u.dist,
                        wants.join(", ")
                    ),
                );
                complete = false;
            }
        }
        if !complete {
            return None;
        }
        let finite = |v: &mut Validator, key: &str, x: f64| {
            if !x.is_finite() {
                v.err(
                    &format!("{at}.{key}"),
                    format!("must be a finite number, found {x}"),
                );
            }
            x
        };
        let bounds = |v: &mut Validator| -> Option<(f64, f64)> {
            let (low, high) = (u.low?, u.high?);
            let (low, high) = (finite(v, "low", low), finite(v, "high", high));
            if low.is_finite() && high.is_finite() && low >= high {
                v.err(
                    at,
                    format!("expected low < high, found low {low} and high {high}"),
                );
            }
            Some((low, high))
        };
        let dist = match u.dist.as_str() {
            "uniform" => {
                let (low, high) = bounds(self)?;
                UncertainDist::Uniform { low, high }
            }
            "triangular" => {
                let (low, high) = bounds(self)?;
                let mode = finite(self, "mode", u.mode?);
                if !(low..=high).contains(&mode) {
                    self.err(
                        &format!("{at}.mode"),
                        format!("must lie in low..high ({low}..{high}), found {mode}"),
                    );
                }
                UncertainDist::Triangular { low, mode, high }
            }
            "normal" => {
                let (low, high) = bounds(self)?;
                let mean = finite(self, "mean", u.mean?);
                let sd = u.sd?;
                if !(sd.is_finite() && sd > 0.0) {
                    self.err(
                        &format!("{at}.sd"),
                        format!("must be a positive number, found {sd}"),
                    );
                }
                // Its mass inside the bounds must be a number the CDF can tell from 0:
                // beyond about 8 sd from the mean the truncated draws would all sit on a bound.
                let mass = normal_cdf((high - mean) / sd) - normal_cdf((low - mean) / sd);
                if sd.is_finite() && sd > 0.0 && (mass.is_nan() || mass <= 1e-9) {
                    self.err(
                        at,
                        format!(
                            "low..high ({low}..{high}) lies too far in the tail of normal(mean \
                             {mean}, sd {sd}) to draw from; bring the bounds within a few sd of \
                             the mean"
                        ),
                    );
                }
                UncertainDist::Normal {
                    mean,
                    sd,
                    low,
                    high,
                }
            }
            _ => {
                let levels = u.levels.as_ref()?;
                if !(2..=MAX_LEVELS).contains(&levels.len()) {
                    self.err(
                        &format!("{at}.levels"),
                        format!("expected 2 to {MAX_LEVELS} levels, found {}", levels.len()),
                    );
                }
                let texts: Vec<String> = levels.iter().map(|v| v.to_string()).collect();
                for (j, text) in texts.iter().enumerate() {
                    if texts[..j].contains(text) {
                        self.err(
                            &format!("{at}.levels"),
                            format!("the level {text} is given twice"),
                        );
                    }
                }
                UncertainDist::Levels(texts)
            }
        };
        Some(Uncertain {
            name,
            path: path.to_string(),
            dist,
        })
    }
}
