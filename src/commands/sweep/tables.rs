//! A sweep's tables, folded from its unit files in unit order: `design.csv`,
//! `results.csv` and `sensitivity.csv`.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use super::sensitivity;
use super::{BASELINE, Design, DesignKind, Study, unit_file};
use crate::Error;
use crate::model::uncertain::{Uncertain, UncertainValue};
use crate::projection::EntityKind;

/// A CSV field, quoted when it must be.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// A parameter's value at a coordinate, as the tables show it.
fn value_text(p: &Uncertain, u: f64) -> String {
    match p.value_at(u) {
        UncertainValue::Number(v) => v.to_string(),
        UncertainValue::Level(_) => csv_field(&p.text_at(u)),
    }
}

fn write(path: &Path, text: &str) -> Result<(), Error> {
    fs::write(path, text).map_err(Error::io(format!("writing {}", path.display())))
}

/// `design.csv`: `point,group,role,<parameter>...`.
pub fn write_design(path: &Path, params: &[Uncertain], design: &Design) -> Result<(), Error> {
    let mut t = String::from("point,group,role");
    for p in params {
        t.push(',');
        t.push_str(&csv_field(&p.name));
    }
    t.push('\n');
    for (i, (coords, (group, role))) in design.points.iter().zip(&design.roles).enumerate() {
        let group = group.map_or(String::new(), |g| g.to_string());
        let _ = write!(t, "{i},{group},{}", csv_field(role));
        for (p, &u) in params.iter().zip(coords) {
            let _ = write!(t, ",{}", value_text(p, u));
        }
        t.push('\n');
    }
    write(path, &t)
}

/// Every unit's summary rows as written (`arm,entity,entity_kind,metric,value` lines).
pub struct Units(Vec<String>);

/// Reads unit k of the study from whichever of `dirs` holds it; each must be present.
pub fn read_units(study: &Study, dirs: &[PathBuf]) -> Result<Units, Error> {
    let mut units = Vec::with_capacity(study.units() as usize);
    for k in 0..study.units() {
        let found = dirs.iter().map(|d| unit_file(d, k)).find(|p| p.is_file());
        let Some(path) = found else {
            return Err(Error::BadInput(format!(
                "work unit {k} (point {}, replication {}) is in none of: {}",
                k / u64::from(study.replications),
                k % u64::from(study.replications),
                dirs.iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        let text =
            fs::read_to_string(&path).map_err(Error::io(format!("reading {}", path.display())))?;
        if text.is_empty() || !text.ends_with('\n') {
            return Err(Error::BadInput(format!(
                "{}: a unit file cut short",
                path.display()
            )));
        }
        units.push(text);
    }
    Ok(Units(units))
}

/// `results.csv`: `point,replication,variant,<parameter>...,entity,entity_kind,metric,value`,
/// streamed (a large design's table need not fit in memory twice).
pub fn write_results(
    path: &Path,
    params: &[Uncertain],
    design: &Design,
    study: &Study,
    units: &Units,
) -> Result<(), Error> {
    use std::io::Write as _;
    let writing = || Error::io(format!("writing {}", path.display()));
    let file = fs::File::create(path).map_err(writing())?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut header = String::from("point,replication,variant");
    for p in params {
        header.push(',');
        header.push_str(&csv_field(&p.name));
    }
    header.push_str(",entity,entity_kind,metric,value");
    writeln!(out, "{header}").map_err(writing())?;
    let reps = u64::from(study.replications);
    for (k, text) in units.0.iter().enumerate() {
        let (point, replication) = (k as u64 / reps, k as u64 % reps);
        let mut values = String::new();
        for (p, &u) in params.iter().zip(&design.points[point as usize]) {
            values.push(',');
            values.push_str(&value_text(p, u));
        }
        for line in text.lines() {
            let (arm, rest) = split_arm(line);
            writeln!(out, "{point},{replication},{arm}{values},{rest}").map_err(writing())?;
        }
    }
    out.flush().map_err(writing())
}

/// A unit line's arm (as written, quoted if it was) and the rest.
fn split_arm(line: &str) -> (&str, &str) {
    if line.starts_with('"') {
        // A quoted name: up to the closing quote not doubled.
        let bytes = line.as_bytes();
        let mut i = 1;
        while i < bytes.len() {
            if bytes[i] == b'"' {
                if bytes.get(i + 1) == Some(&b'"') {
                    i += 2;
                    continue;
                }
                return (&line[..=i], line.get(i + 2..).unwrap_or(""));
            }
            i += 1;
        }
    }
    line.split_once(',').unwrap_or((line, ""))
}

/// One row of `sensitivity.csv`.
pub struct IndexRow {
    /// `baseline`, or a variant: then the index is of the paired difference.
    pub variant: String,
    pub entity: String,
    pub kind: String,
    pub metric: String,
    pub parameter: String,
    pub index: &'static str,
    pub estimate: Option<f64>,
    pub ci95: Option<(f64, f64)>,
}

impl IndexRow {
    /// The metric's dotted name, as `--metric` takes it.
    pub fn dotted(&self) -> String {
        let label = match EntityKind::parse(&self.kind) {
            Some(kind) => kind.label(&self.entity),
            None => self.entity.clone(),
        };
        format!("{label}.{}", self.metric)
    }
}

/// Per arm and metric, each point's mean over its replications (of the difference from
/// the baseline for a variant); `None` where a replication has no value.
fn point_means(study: &Study, units: &Units) -> Vec<(String, String, Vec<Option<f64>>)> {
    let reps = study.replications as usize;
    let points = study.design_points as usize;
    // (arm, "entity,kind,metric") in first-seen order, with each unit's value.
    let mut keys: Vec<(String, String)> = Vec::new();
    // Looked up by key, never iterated: `keys` keeps the order.
    let mut index = std::collections::BTreeMap::new();
    let mut values: Vec<Vec<Option<f64>>> = Vec::new();
    for (k, text) in units.0.iter().enumerate() {
        for line in text.lines() {
            let (arm, rest) = split_arm(line);
            let Some((key, value)) = rest.rsplit_once(',') else {
                continue;
            };
            let id = *index
                .entry((arm.to_string(), key.to_string()))
                .or_insert_with(|| {
                    keys.push((arm.to_string(), key.to_string()));
                    values.push(vec![None; units.0.len()]);
                    keys.len() - 1
                });
            values[id][k] = value.parse::<f64>().ok();
        }
    }
    let base_of = |key: &str| index.get(&(BASELINE.to_string(), key.to_string())).copied();
    keys.iter()
        .enumerate()
        .map(|(id, (arm, key))| {
            let base = (arm != BASELINE).then(|| base_of(key)).flatten();
            let means = (0..points)
                .map(|p| {
                    let mut sum = 0.0;
                    for r in 0..reps {
                        let k = p * reps + r;
                        let v = values[id][k]?;
                        sum += match base {
                            Some(b) => v - values[b][k]?,
                            None if arm != BASELINE => return None,
                            None => v,
                        };
                    }
                    Some(sum / reps as f64)
                })
                .collect();
            (arm.clone(), key.clone(), means)
        })
        .collect()
}

/// The sensitivity indices of every metric of every arm that has a value at every point.
pub fn sensitivity(
    study: &Study,
    params: &[Uncertain],
    design: &Design,
    units: &Units,
) -> Vec<IndexRow> {
    let d = params.len();
    let kind = DesignKind::parse(&study.design);
    let mut rows = Vec::new();
    for (arm, key, means) in point_means(study, units) {
        let Some(y) = means.into_iter().collect::<Option<Vec<f64>>>() else {
            continue;
        };
        let mut parts = key.splitn(3, ',');
        let (entity, entity_kind, metric) = (
            parts.next().unwrap_or_default().to_string(),
            parts.next().unwrap_or_default().to_string(),
            parts.next().unwrap_or_default().to_string(),
        );
        let mut push = |parameter: &str, index, estimate, ci95| {
            rows.push(IndexRow {
                variant: arm.clone(),
                entity: entity.clone(),
                kind: entity_kind.clone(),
                metric: metric.clone(),
                parameter: parameter.to_string(),
                index,
                estimate,
                ci95,
            });
        };
        match kind {
            Some(DesignKind::Sobol) => {
                let indices = sensitivity::sobol_indices(&y, d, study.bootstrap, study.seed);
                for (p, s) in params.iter().zip(indices.unwrap_or_default()) {
                    push(&p.name, "first", s.first, s.first_ci95);
                    push(&p.name, "total", s.total, s.total_ci95);
                }
            }
            Some(DesignKind::Morris) => {
                let indices = sensitivity::morris_indices(&design.points, &y, d);
                for (p, m) in params.iter().zip(indices.unwrap_or_default()) {
                    push(&p.name, "mu_star", m.mu_star, None);
                    push(&p.name, "mu", m.mu, None);
                    push(&p.name, "sigma", m.sigma, None);
                }
            }
            _ => {}
        }
    }
    rows
}

pub const SENSITIVITY_HEADER: &str =
    "variant,entity,entity_kind,metric,parameter,index,estimate,ci95_low,ci95_high";

pub fn write_sensitivity(path: &Path, rows: &[IndexRow]) -> Result<(), Error> {
    let mut t = format!("{SENSITIVITY_HEADER}\n");
    let num = |v: Option<f64>| {
        v.filter(|x| x.is_finite())
            .map_or(String::new(), |x| x.to_string())
    };
    for r in rows {
        let _ = writeln!(
            t,
            "{},{},{},{},{},{},{},{},{}",
            csv_field(&r.variant),
            r.entity,
            r.kind,
            r.metric,
            csv_field(&r.parameter),
            r.index,
            num(r.estimate),
            num(r.ci95.map(|c| c.0)),
            num(r.ci95.map(|c| c.1)),
        );
    }
    write(path, &t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quoted_arm_splits_at_its_closing_quote() {
        assert_eq!(
            split_arm("baseline,RU,market,orders,5"),
            ("baseline", "RU,market,orders,5")
        );
        assert_eq!(
            split_arm("\"a,\"\"b\",RU,market,orders,5"),
            ("\"a,\"\"b\"", "RU,market,orders,5")
        );
        assert_eq!(csv_field("a,\"b"), "\"a,\"\"b\"");
    }
}
