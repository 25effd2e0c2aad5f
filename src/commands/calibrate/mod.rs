//! `tradesim calibrate`: holds a scenario against its `[[target]]`s, the published record,
//! as PaySim scores its runs against real aggregates; with `--fit`, first solves the
//! scenario's `[[fit]]` parameters against them (`fit.rs`).
//!
//! A target covers a day or a period and a metric summed (counts, money) or averaged
//! (lead time, a payment method's share) over it. Counts and money of a run at
//! `--sample F` are scaled by 1/F. Over R replications the table shows the mean and its
//! 95 % Student t interval. A target passes when the mean's relative error is within its
//! tolerance; the score is the root mean square of the relative errors (an NRMSE) and the
//! largest, over the targets fitted and, apart, over those held out (`fit = false`, out
//! of sample), which are reported and never fail the command.

mod fit;
mod score;

use score::relative;
pub(crate) use score::scales;
pub use score::{
    BACKTEST_HEADER, Score, Scored, backtest_csv, score, score_targets, simulated_metric,
    target_values,
};

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use super::ScenarioChoice;
use super::progress::Progress;
use crate::Error;
use crate::commands::format::thousands;
use crate::engine::RunParams;
use crate::model::{Scenario, Target};
use crate::output::run;
use crate::scenario::{self, Override};

/// Smallest sample at which a count target's Poisson noise is a third of its tolerance.
fn sample_for(t: &Target) -> f64 {
    9.0 / (t.tolerance * t.tolerance * t.goal())
}

fn percent(x: f64) -> String {
    if x.is_finite() {
        format!("{:+.2} %", x * 100.0)
    } else {
        "inf".to_string()
    }
}

/// A metric's value for people: counts and money with thousands separators, means and
/// shares with decimals.
fn figure(metric: &str, v: f64) -> String {
    if scales(metric) {
        thousands(v)
    } else {
        format!("{v:.4}")
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

/// Prints the scored targets, the scores and notes on sampling noise.
pub fn print_report(
    scenario: &Scenario,
    scored: &[Scored],
    sample: f64,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let mut rows = vec![
        [
            "period",
            "market",
            "metric",
            "target",
            "simulated",
            "error",
            "tolerance",
            "noise",
            "fitted",
            "result",
        ]
        .map(str::to_string)
        .to_vec(),
    ];
    for s in scored {
        let t = &s.target;
        let simulated = match s.half_width {
            Some(h) => format!("{} ± {}", figure(&t.metric, s.mean), figure(&t.metric, h)),
            None => figure(&t.metric, s.mean),
        };
        rows.push(vec![
            t.period(),
            scenario.markets[t.market.ix()].id.clone(),
            t.metric.clone(),
            figure(&t.metric, t.goal()),
            simulated,
            percent(s.rel_error),
            format!("{:.2} %", t.tolerance * 100.0),
            s.noise
                .map_or("-".to_string(), |n| format!("{:.2} %", n * 100.0)),
            if t.fit { "yes" } else { "held out" }.to_string(),
            match (s.pass, t.fit) {
                (true, _) => "pass",
                (false, true) => "FAIL",
                (false, false) => "miss",
            }
            .to_string(),
        ]);
    }
    write_table(
        &rows,
        &[
            true, true, true, false, false, false, false, false, true, true,
        ],
        out,
    )?;
    for (label, fitted) in [("score", true), ("held out", false)] {
        let set: Vec<&Scored> = scored.iter().filter(|s| s.target.fit == fitted).collect();
        if let Some(sc) = score(&set) {
            let t = &set[sc.worst].target;
            writeln!(
                out,
                "{label}: rms error (NRMSE) {:.2} %, max error {:.2} % ({} {} {}); {} of {} targets within tolerance",
                sc.rms * 100.0,
                sc.max * 100.0,
                t.period(),
                scenario.markets[t.market.ix()].id,
                t.metric,
                sc.passed,
                set.len()
            )
            .map_err(Error::stdout)?;
        }
    }
    for s in scored {
        let t = &s.target;
        if let Some(noise) = s.noise.filter(|n| 3.0 * n > t.tolerance) {
            writeln!(
                out,
                "note: at sample {sample} the Poisson noise on {} {} {} ({:.2} %) exceeds a third of its tolerance; \
                 use --sample {:.2} or more for a 3-sigma margin",
                t.period(),
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
        let record = t
            .record
            .as_deref()
            .map_or(String::new(), |r| format!(" [record {r}]"));
        let scope = if t.scope == 1.0 {
            String::new()
        } else {
            format!(" (x {} in scope)", t.scope)
        };
        writeln!(
            out,
            "  {} {} {}{scope}: {source}{record}",
            t.period(),
            scenario.markets[t.market.ix()].id,
            t.metric
        )
        .map_err(Error::stdout)?;
    }
    Ok(())
}

/// What `calibrate` was asked to do.
#[derive(Debug, Clone)]
pub struct Config {
    pub scenario: ScenarioChoice,
    pub sample: f64,
    pub seed: Option<u64>,
    pub threads: usize,
    pub quiet: bool,
    /// Solve the `[[fit]]` parameters first.
    pub fit: bool,
    pub replications: u32,
    /// Where to write `backtest.csv`.
    pub out: Option<PathBuf>,
    pub force: bool,
}

/// The `[[fit]]` parameters solved against the fitted targets' expectations; the
/// overrides that set them, to be written into the file (`Document::written_with`: the
/// demand model takes them as the baseline), the variant and `--set`s applying on top.
fn solve_fit(
    choice: &ScenarioChoice,
    scenario: &Scenario,
    quiet: bool,
    out: &mut dyn Write,
) -> Result<Vec<Override>, Error> {
    if scenario.fits.is_empty() {
        return Err(Error::Usage(format!(
            "{}: scenario {} has no [[fit]] parameters to solve (add [[fit]] tables: path, min, max)",
            choice.file.display(),
            scenario.name
        )));
    }
    let targets: Vec<&Target> = scenario
        .targets
        .iter()
        .filter(|t| t.fit && scenario.target_days(t).is_some())
        .collect();
    if let Some(t) = targets
        .iter()
        .find(|t| scenario.expected_metric(t).is_none())
    {
        return Err(Error::Usage(format!(
            "target {} {} {}: the model has no expectation of this metric to fit; mark it `fit = false`",
            t.period(),
            scenario.markets[t.market.ix()].id,
            t.metric
        )));
    }
    if let Some(t) = targets.iter().find(|t| t.goal() == 0.0) {
        return Err(Error::Usage(format!(
            "target {} {} {}: a goal of 0 has no relative error to fit; mark it `fit = false`",
            t.period(),
            scenario.markets[t.market.ix()].id,
            t.metric
        )));
    }
    if targets.is_empty() {
        return Err(Error::Usage(format!(
            "{}: no target inside the horizon has `fit = true`: nothing to fit to",
            choice.file.display()
        )));
    }
    let text = scenario::read_text(&choice.file)?;
    let name = choice.file.display().to_string();
    let document = scenario::Document::parse(&text, &name)?;
    let at = |path: &str| document.number_at(choice.variant.as_deref(), &choice.sets, path);
    // What each parameter and its balance add up to in the file, kept through the fit.
    let sums: Vec<Option<f64>> = scenario
        .fits
        .iter()
        .map(|f| {
            f.balance
                .as_deref()
                .map(|b| Ok::<f64, Error>(at(&f.paths[0])? + at(b)?))
                .transpose()
        })
        .collect::<Result<_, _>>()?;
    // The values a scale multiplies, as written (with the variant and `--set`s).
    let written: Vec<Vec<f64>> = scenario
        .fits
        .iter()
        .map(|f| {
            if f.scale {
                f.paths.iter().map(|p| Ok(at(p)?)).collect()
            } else {
                Ok(Vec::new())
            }
        })
        .collect::<Result<_, Error>>()?;
    let sets_at = |x: &[f64]| -> Result<Vec<Override>, Error> {
        let mut sets = Vec::new();
        for (((f, v), sum), written) in scenario.fits.iter().zip(x).zip(&sums).zip(&written) {
            for (k, path) in f.paths.iter().enumerate() {
                let value = if f.scale { written[k] * v } else { *v };
                sets.push(scenario::parse_set(&format!("{path}={value:?}"))?);
            }
            if let (Some(b), Some(sum)) = (&f.balance, sum) {
                sets.push(scenario::parse_set(&format!("{b}={:?}", sum - v))?);
            }
        }
        Ok(sets)
    };
    let start: Vec<f64> = scenario
        .fits
        .iter()
        .map(|f| (f.min + f.max) / 2.0)
        .collect();
    let lo: Vec<f64> = scenario.fits.iter().map(|f| f.min).collect();
    let hi: Vec<f64> = scenario.fits.iter().map(|f| f.max).collect();
    let solution = fit::levenberg_marquardt(&start, &lo, &hi, |x| {
        let s = document
            .written_with(&sets_at(x)?)?
            .scenario(choice.variant.as_deref(), &choice.sets)?;
        Ok(s.targets
            .iter()
            .filter(|t| t.fit && s.target_days(t).is_some())
            .map(|t| {
                let expected = s.expected_metric(t).unwrap_or(0.0);
                relative(expected, t.goal()) / t.tolerance
            })
            .collect())
    })?;
    if !quiet {
        writeln!(
            out,
            "fit: {} parameters to {} targets, {} in {} iterations ({} evaluations); residual cost {:.3e} (squared errors in tolerances, halved)",
            scenario.fits.len(),
            targets.len(),
            if solution.converged {
                "converged"
            } else {
                "did not converge"
            },
            solution.iterations,
            solution.evaluations,
            solution.cost
        )
        .map_err(Error::stdout)?;
        for (((f, v), sum), written) in scenario
            .fits
            .iter()
            .zip(&solution.values)
            .zip(&sums)
            .zip(&written)
        {
            let at_bound = if *v <= f.min || *v >= f.max {
                " (at its bound)"
            } else {
                ""
            };
            if f.scale {
                writeln!(out, "  scale {v:?}{at_bound} on:").map_err(Error::stdout)?;
                for (path, w) in f.paths.iter().zip(written) {
                    writeln!(out, "  --set {path}={:?} (written {w:?})", w * v)
                        .map_err(Error::stdout)?;
                }
                continue;
            }
            for path in &f.paths {
                writeln!(out, "  --set {path}={v:?}{at_bound}").map_err(Error::stdout)?;
            }
            if let (Some(b), Some(sum)) = (&f.balance, sum) {
                writeln!(out, "  --set {b}={:?} (its balance)", sum - v).map_err(Error::stdout)?;
            }
        }
    }
    sets_at(&solution.values)
}

pub fn command(args: Config, stop: &AtomicBool, out: &mut dyn Write) -> Result<(), Error> {
    run::check_sample(args.sample)?;
    run::check_replications(args.replications)?;
    let choice = args.scenario.clone();
    let loaded = choice.load()?;
    if loaded.scenario.targets.is_empty() {
        return Err(Error::Usage(format!(
            "{}: scenario {} has no [[target]]s to calibrate against; add [[target]] tables \
             (date or from and to, market, metric, value, tolerance, source)",
            loaded.file.display(),
            loaded.scenario.name
        )));
    }
    let loaded = if args.fit {
        let fitted = solve_fit(&choice, &loaded.scenario, args.quiet, out)?;
        let text = scenario::read_text(&choice.file)?;
        let name = choice.file.display().to_string();
        let scenario = scenario::Document::parse(&text, &name)?
            .written_with(&fitted)?
            .scenario(choice.variant.as_deref(), &choice.sets)?;
        scenario::Loaded {
            scenario,
            overrides: fitted.into_iter().chain(choice.sets.clone()).collect(),
            ..loaded
        }
    } else {
        loaded
    };
    let scenario = &loaded.scenario;
    let outside: Vec<&Target> = scenario
        .targets
        .iter()
        .filter(|t| scenario.target_days(t).is_none())
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
    let staging = args
        .out
        .as_deref()
        .map(|d| crate::output::staging::Staging::new(d, args.force, &[&loaded.file]))
        .transpose()?;
    let seed = args.seed.unwrap_or(scenario.seed);
    let reps = args.replications;
    let progress = Progress::new(args.quiet, scenario.simulated_days(), reps);
    let pool = run::thread_pool(args.threads)?;
    // Each run's figures are taken and its tables dropped: memory does not grow with R.
    let mut values = Vec::new();
    for r in 0..reps {
        let params = RunParams {
            seed,
            replication: r,
            sample: args.sample,
        };
        let (_, t) = pool.install(|| {
            run::simulate_tables(scenario, params, &|d, e| progress.update(r, d, e), stop)
        })?;
        values.push(target_values(scenario, &t, args.sample));
    }
    progress.finish();
    let scored = score_targets(scenario, &values, args.sample)?;
    if let (Some(staging), Some(dir)) = (staging, &args.out) {
        let path = staging.tmp.join("backtest.csv");
        std::fs::write(&path, backtest_csv(scenario, &scored))
            .map_err(Error::io(format!("writing {}", path.display())))?;
        staging.commit()?;
        if !args.quiet {
            writeln!(out, "wrote {}", dir.join("backtest.csv").display()).map_err(Error::stdout)?;
        }
    }

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
            "calibrate {}{variant}{}: seed {seed}, sample {}, {reps} replication(s){}",
            scenario.name,
            sets.concat(),
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
                t.period(),
                scenario.markets[t.market.ix()].id,
                t.metric,
                scenario.horizon_text()
            )
            .map_err(Error::stdout)?;
        }
    }
    let failed: Vec<String> = scored
        .iter()
        .filter(|s| !s.pass && s.target.fit)
        .map(|s| {
            let t = &s.target;
            format!(
                "{} {} {} {} (target {}, tolerance {:.2} %)",
                t.period(),
                scenario.markets[t.market.ix()].id,
                t.metric,
                percent(s.rel_error),
                figure(&t.metric, t.goal()),
                t.tolerance * 100.0
            )
        })
        .collect();
    let fitted = scored.iter().filter(|s| s.target.fit).count();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::CheckFailed(format!(
            "{} of {} calibration targets failed: {}",
            failed.len(),
            fitted,
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
        let day = Date::from_ymd(2016, 11, 11).unwrap();
        Scored {
            target: Target {
                from: day,
                to: day,
                market: MarketId(0),
                metric: "orders".to_string(),
                value: 100.0,
                scope: 1.0,
                tolerance,
                source: String::new(),
                record: None,
                fit: true,
                versus: None,
            },
            expected: None,
            runs: vec![100.0 * (1.0 + rel_error)],
            mean: 100.0 * (1.0 + rel_error),
            half_width: None,
            rel_error,
            noise: None,
            pass: rel_error.abs() <= tolerance,
        }
    }

    #[test]
    fn score_is_rms_and_max_of_relative_errors() {
        let (a, b) = (scored(0.03, 0.02), scored(-0.04, 0.05));
        let s = score(&[&a, &b]).unwrap();
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
