//! `tradesim calibrate`: runs a scenario once and scores it against its `[[target]]`s,
//! as PaySim scores its runs against real aggregates.
//!
//! Every target metric is a count or an amount of money (`model::TARGET_METRICS`), so a
//! run at `--sample F` is compared after scaling its daily values by 1/F. A target
//! passes when the relative error is within its tolerance; the score is the root mean
//! square and the largest of the relative errors. Sampling adds Poisson noise (about
//! 1/sqrt(N) on a count of N simulated events), which the table shows beside each count
//! so that a sample too small for a tolerance is visible rather than mistaken for a
//! miscalibration.

use std::io::Write;
use std::sync::atomic::AtomicBool;

use super::ScenarioChoice;
use super::progress::Progress;
use crate::Error;
use crate::commands::format::thousands;
use crate::engine::RunParams;
use crate::model::{Scenario, Target};
use crate::output::run;
use crate::projection::Tables;

/// Target metrics that are amounts of money (USD); the others are counts.
const MONEY_METRICS: &[&str] = &["gmv_usd", "duty_usd", "vat_usd"];

/// One target beside the run's value.
#[derive(Debug, Clone)]
pub struct Scored {
    pub target: Target,
    /// The run's value on the target's date, scaled to full scale.
    pub simulated: f64,
    /// (simulated - target) / target; infinite when the target is 0 and the run is not.
    pub rel_error: f64,
    /// Relative standard deviation a count of this size has at the run's sample
    /// (Poisson: 1 / sqrt(target x F)); `None` for money, whose noise depends on the
    /// order value distribution.
    pub noise: Option<f64>,
    pub pass: bool,
}

/// The overall error score of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    /// Root mean square of the relative errors.
    pub rms: f64,
    /// Index (into the scored targets) of the largest absolute relative error.
    pub worst: usize,
    pub max: f64,
    pub passed: usize,
}

/// Scores every target of `scenario` inside its horizon against tables folded from a
/// run at `sample`.
pub fn score_targets(
    scenario: &Scenario,
    tables: &Tables,
    sample: f64,
) -> Result<Vec<Scored>, Error> {
    scenario
        .targets
        .iter()
        .filter(|t| scenario.day_of(t.date).is_some())
        .map(|t| {
            let value = scenario
                .day_of(t.date)
                .and_then(|d| tables.daily_metric(d as usize, t.market.ix(), &t.metric))
                .ok_or_else(|| {
                    Error::BadInput(format!(
                        "target {} {} {}: the run has no such daily value",
                        t.date,
                        scenario.markets[t.market.ix()].id,
                        t.metric
                    ))
                })?;
            let simulated = value / sample;
            let rel_error = if t.value > 0.0 {
                (simulated - t.value) / t.value
            } else if simulated == 0.0 {
                0.0
            } else {
                f64::INFINITY
            };
            let count = !MONEY_METRICS.contains(&t.metric.as_str());
            let noise = (count && t.value > 0.0).then(|| 1.0 / (t.value * sample).sqrt());
            Ok(Scored {
                target: t.clone(),
                simulated,
                rel_error,
                noise,
                pass: rel_error.abs() <= t.tolerance,
            })
        })
        .collect()
}

/// The overall score; `None` without targets.
pub fn score(scored: &[Scored]) -> Option<Score> {
    let worst = (0..scored.len()).max_by(|&a, &b| {
        scored[a]
            .rel_error
            .abs()
            .total_cmp(&scored[b].rel_error.abs())
    })?;
    let mean_square = scored
        .iter()
        .map(|s| s.rel_error * s.rel_error)
        .sum::<f64>()
        / scored.len() as f64;
    Some(Score {
        rms: mean_square.sqrt(),
        worst,
        max: scored[worst].rel_error.abs(),
        passed: scored.iter().filter(|s| s.pass).count(),
    })
}

/// Smallest sample at which a count target's Poisson noise is a third of its tolerance.
fn sample_for(t: &Target) -> f64 {
    9.0 / (t.tolerance * t.tolerance * t.value)
}

fn percent(x: f64) -> String {
    if x.is_finite() {
        format!("{:+.2} %", x * 100.0)
    } else {
        "inf".to_string()
    }
}

/// Writes rows of cells as columns, left-aligned where `left[i]`, right-aligned otherwise.
fn write_table(rows: &[Vec<String>], left: &[bool], out: &mut dyn Write) -> Result<(), Error> {
    let widths: Vec<usize> = (0..left.len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c > 0 {
                line.push_str("  ");
            }
            let pad = widths[c] - cell.chars().count();
            if left[c] {
                line.push_str(cell);
                if c + 1 < row.len() {
                    line.push_str(&" ".repeat(pad));
                }
            } else {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            }
        }
        writeln!(out, "{line}").map_err(Error::stdout)?;
    }
    Ok(())
}

/// Prints the scored targets, the score and notes on sampling noise.
pub fn print_report(
    scenario: &Scenario,
    scored: &[Scored],
    sample: f64,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let mut rows = vec![
        [
            "date",
            "market",
            "metric",
            "target",
            "simulated",
            "error",
            "tolerance",
            "noise",
            "result",
        ]
        .map(str::to_string)
        .to_vec(),
    ];
    for s in scored {
        let t = &s.target;
        rows.push(vec![
            t.date.to_string(),
            scenario.markets[t.market.ix()].id.clone(),
            t.metric.clone(),
            thousands(t.value),
            thousands(s.simulated),
            percent(s.rel_error),
            format!("{:.2} %", t.tolerance * 100.0),
            s.noise
                .map_or("-".to_string(), |n| format!("{:.2} %", n * 100.0)),
            if s.pass { "pass" } else { "FAIL" }.to_string(),
        ]);
    }
    write_table(
        &rows,
        &[true, true, true, false, false, false, false, false, true],
        out,
    )?;
    if let Some(sc) = score(scored) {
        let t = &scored[sc.worst].target;
        writeln!(
            out,
            "score: rms error {:.2} %, max error {:.2} % ({} {} {}); {} of {} targets pass",
            sc.rms * 100.0,
            sc.max * 100.0,
            t.date,
            scenario.markets[t.market.ix()].id,
            t.metric,
            sc.passed,
            scored.len()
        )
        .map_err(Error::stdout)?;
    }
    for s in scored {
        let t = &s.target;
        if let Some(noise) = s.noise.filter(|n| 3.0 * n > t.tolerance) {
            writeln!(
                out,
                "note: at sample {sample} the Poisson noise on {} {} {} ({:.2} %) exceeds a third of its tolerance; \
                 use --sample {:.2} or more for a 3-sigma margin",
                t.date,
                scenario.markets[t.market.ix()].id,
                t.metric,
                noise * 100.0,
                sample_for(t).min(1.0)
            )
            .map_err(Error::stdout)?;
        }
    }
    writeln!(out, "sources:").map_err(Error::stdout)?;
    for s in scored {
        let t = &s.target;
        let source = if t.source.is_empty() {
            "(no source given)"
        } else {
            &t.source
        };
        writeln!(
            out,
            "  {} {} {}: {source}",
            t.date,
            scenario.markets[t.market.ix()].id,
            t.metric
        )
        .map_err(Error::stdout)?;
    }
    Ok(())
}

/// `tradesim calibrate`: one replication without an event log, in a temporary directory
/// that is removed afterwards, scored against the scenario's targets.
/// What `calibrate` was asked to do.
#[derive(Debug, Clone)]
pub struct Config {
    pub scenario: ScenarioChoice,
    pub sample: f64,
    pub seed: Option<u64>,
    pub threads: usize,
    pub quiet: bool,
}

pub fn command(args: Config, stop: &AtomicBool, out: &mut dyn Write) -> Result<(), Error> {
    let loaded = args.scenario.load()?;
    run::check_sample(args.sample)?;
    let scenario = &loaded.scenario;
    if scenario.targets.is_empty() {
        return Err(Error::Usage(format!(
            "{}: scenario {} has no [[target]]s to calibrate against; add [[target]] tables \
             (date, market, metric, value, tolerance, source)",
            loaded.file.display(),
            scenario.name
        )));
    }
    let outside: Vec<&Target> = scenario
        .targets
        .iter()
        .filter(|t| scenario.day_of(t.date).is_none())
        .collect();
    if outside.len() == scenario.targets.len() {
        return Err(Error::Usage(format!(
            "{}: every [[target]] of scenario {} lies outside its horizon {}: nothing to \
             calibrate against (widen scenario.start_date and scenario.days)",
            loaded.file.display(),
            scenario.name,
            scenario.horizon_text()
        )));
    }
    let params = RunParams {
        seed: args.seed.unwrap_or(scenario.seed),
        replication: 0,
        sample: args.sample,
    };
    let progress = Progress::new(args.quiet, scenario.simulated_days(), 1);
    let simulated = run::thread_pool(args.threads)?
        .install(|| run::simulate_tables(scenario, params, &|d, e| progress.update(0, d, e), stop));
    progress.finish();
    let (_, tables) = simulated?;
    let scored = score_targets(scenario, &tables, args.sample)?;

    if !args.quiet {
        let variant = loaded
            .variant
            .as_ref()
            .map_or(String::new(), |v| format!(", variant {v}"));
        let sets: Vec<String> = loaded
            .overrides
            .iter()
            .map(|o| format!(" --set {o}"))
            .collect();
        writeln!(
            out,
            "calibrate {}{variant}{}: seed {}, sample {}{}",
            scenario.name,
            sets.concat(),
            params.seed,
            args.sample,
            if args.sample < 1.0 {
                format!(" (counts and money scaled by 1/{})", args.sample)
            } else {
                String::new()
            }
        )
        .map_err(Error::stdout)?;
        print_report(scenario, &scored, args.sample, out)?;
        for t in &outside {
            writeln!(
                out,
                "note: target {} {} {} lies outside the horizon {}: skipped",
                t.date,
                scenario.markets[t.market.ix()].id,
                t.metric,
                scenario.horizon_text()
            )
            .map_err(Error::stdout)?;
        }
    }
    let failed: Vec<String> = scored
        .iter()
        .filter(|s| !s.pass)
        .map(|s| {
            let t = &s.target;
            format!(
                "{} {} {} {} (target {}, tolerance {:.2} %)",
                t.date,
                scenario.markets[t.market.ix()].id,
                t.metric,
                percent(s.rel_error),
                thousands(t.value),
                t.tolerance * 100.0
            )
        })
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::CheckFailed(format!(
            "{} of {} calibration targets failed: {}",
            failed.len(),
            scored.len(),
            failed.join("; ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MarketId;
    use crate::model::date::Date;

    fn scored(rel_error: f64, tolerance: f64) -> Scored {
        Scored {
            target: Target {
                date: Date::from_ymd(2016, 11, 11).unwrap(),
                market: MarketId(0),
                metric: "orders".to_string(),
                value: 100.0,
                tolerance,
                source: String::new(),
            },
            simulated: 100.0 * (1.0 + rel_error),
            rel_error,
            noise: None,
            pass: rel_error.abs() <= tolerance,
        }
    }

    #[test]
    fn score_is_rms_and_max_of_relative_errors() {
        let s = score(&[scored(0.03, 0.02), scored(-0.04, 0.05)]).unwrap();
        assert!((s.rms - (0.0025f64 / 2.0).sqrt()).abs() < 1e-12);
        assert_eq!((s.worst, s.max, s.passed), (1, 0.04, 1));
        assert!(score(&[]).is_none());
    }

    #[test]
    fn table_columns_align() {
        let rows = vec![
            vec!["a".to_string(), "1".to_string(), "x".to_string()],
            vec!["long".to_string(), "1,000".to_string(), "y".to_string()],
        ];
        let mut out = Vec::new();
        write_table(&rows, &[true, false, true], &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a         1  x\nlong  1,000  y\n"
        );
    }
}
