//! `tradesim compare`: the baseline and each variant run R times with common random
//! numbers, paired differences with Student t intervals in `compare.csv` (and on the
//! terminal), and the daily headline series in `compare.svg`.
//!
//! Replication r of every variant runs with the same (seed, replication) as replication r
//! of the baseline. The engine derives every draw from (seed, replication, unit identity),
//! and each order from its own block of its stream, so the variant sees the same buyers,
//! sellers and delays wherever the policy does not change them, and the difference
//! `variant_r - baseline_r` carries little noise. The interval is the paired-difference
//! Student t interval over replications: `mean(d) ± t(0.975, R-1) · sd(d) / sqrt(R)`.
//!
//! Output layout (staged, then renamed into place):
//! `baseline/rep-000/`, `<variant>/rep-000/`, ... (tables and manifest of each
//! replication, without the event log), `compare.csv`, `replications.csv`,
//! `compare_daily.csv`, `compare.svg`.

mod render;
mod shards;
pub(crate) mod stats;
mod svg;

use render::*;
pub use stats::{Paired, paired, t975};
pub(crate) use svg::arm_style;
use svg::*;

use std::fmt::Write as _;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use rayon::prelude::*;

use super::progress::Progress;
use crate::Error;
use crate::commands::format::{fixed, human};
use crate::engine::RunParams;
use crate::engine::streams::uncertain_coords;
use crate::model::date::Date;
use crate::output::manifest::{self, Manifest};
use crate::output::run;
use crate::output::shard::Shard;
use crate::output::staging::Staging;
use crate::projection::{Key, Summary, Tables};
use crate::scenario::Override;
use crate::scenario::{self, Document, Loaded};

pub const CSV: &str = "compare.csv";
pub const REPLICATIONS_CSV: &str = "replications.csv";
pub const DAILY_CSV: &str = "compare_daily.csv";
pub const SVG: &str = "compare.svg";
/// The columns of `compare.csv`: the metric (as `summary.csv` names it), then the
/// contract's columns, the standard deviation of the paired differences and the number
/// of pairs.
pub const HEADER: &str = "entity,entity_kind,metric,variant,baseline_mean,variant_mean,diff,rel_diff,ci95_low,ci95_high,significant,sd_diff,replications";
/// The columns of `replications.csv`: every summary row of every replication of every arm.
pub const REPLICATIONS_HEADER: &str = "variant,replication,entity,entity_kind,metric,value";
/// The name of the baseline arm, in directories and in `compare_daily.csv`.
pub const BASELINE: &str = "baseline";
/// Seed offset of variant k (1-based) under `--independent`: seed + k * this.
pub const INDEPENDENT_SEED_STEP: u64 = 1000;

/// The daily series of the chart: `daily_markets.csv` column, panel title.
pub(crate) const SERIES: [(&str, &str); 3] = [
    ("orders", "Orders placed per day"),
    (
        "mean_lead_time_days",
        "Mean lead time in days (parcels delivered that day)",
    ),
    ("duty_usd", "Duties collected per day (USD)"),
];

/// The baseline or one variant, with the seed its replications use.
struct Arm {
    /// `baseline` or the variant's name.
    name: String,
    /// Its directory in the output.
    dir: String,
    /// The scenario's variant (none for the baseline).
    variant: Option<String>,
    loaded: Loaded,
    seed: u64,
}

/// What compare keeps of one replication.
struct Outcome {
    /// The replication's `summary.csv` rows.
    summary: Summary,
    /// Per day, the `SERIES` over all markets (`None`: nothing to average that day).
    daily: Vec<[Option<f64>; 3]>,
}

/// What `compare` was asked to do.
#[derive(Debug, Clone)]
pub struct Config {
    pub scenario: PathBuf,
    /// The variants compared with the baseline, in order.
    pub variants: Vec<String>,
    /// Overrides applied to the baseline and every variant alike.
    pub sets: Vec<Override>,
    pub replications: u32,
    pub sample: f64,
    pub seed: Option<u64>,
    /// Default: `runs/<scenario>-compare`, or the next free name.
    pub out: Option<PathBuf>,
    pub threads: usize,
    pub force: bool,
    pub quiet: bool,
    /// Each variant with its own seed instead of common random numbers.
    pub independent: bool,
    /// Draw the uncertain parameters per replication, the same draws for every arm.
    pub uncertain: bool,
    /// Run only shard K of N of the replications (every arm of each).
    pub shard: Option<Shard>,
}

pub use shards::{CompareStudy, merge};

pub fn command(args: Config, stop: &AtomicBool, out: &mut dyn Write) -> Result<(), Error> {
    // Everything is checked before anything is written.
    run::check_sample(args.sample)?;
    run::check_replications(args.replications)?;
    let arms = arms(&args)?;
    for arm in &arms {
        crate::model::cost::check(&arm.loaded.scenario, args.sample)?;
    }
    let base = &arms[0].loaded;
    let dest = match &args.out {
        Some(p) => p.clone(),
        None => run::default_out(&base.scenario, Some("compare")),
    };
    let pool = run::thread_pool(args.threads)?;
    if !args.uncertain {
        return compare_into(&args, &arms, None, dest, pool, stop, out);
    }
    let variants: Vec<Option<&str>> = arms.iter().map(|a| a.variant.as_deref()).collect();
    scenario::with_document(&base.file, &base.sha256, |document| {
        run::check_uncertain(document, &variants, &args.sets, args.sample)?;
        compare_into(&args, &arms, Some(document), dest, pool, stop, out)
    })
}

/// Runs every arm's replications into `dest` and writes the comparison, with each
/// replication's uncertain parameters drawn from `document` when there is one.
fn compare_into(
    args: &Config,
    arms: &[Arm],
    document: Option<&Document>,
    dest: PathBuf,
    pool: rayon::ThreadPool,
    stop: &AtomicBool,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let base = &arms[0].loaded;
    let staging = Staging::new(&dest, args.force, &[&args.scenario])?;

    let reps = args.replications;
    let total_days = arms
        .iter()
        .map(|a| a.loaded.scenario.simulated_days())
        .sum::<u32>()
        .saturating_mul(reps);
    let progress = Progress::new(args.quiet, total_days, 1);
    let outcomes = simulate_all(arms, args, document, &staging.tmp, pool, &progress, stop);
    progress.finish();
    let outcomes = outcomes?;
    if let Some(shard) = args.shard {
        shards::write_shard_json(args, arms, shard, &staging.tmp)?;
        staging.commit()?;
        if !args.quiet {
            writeln!(
                out,
                "{}: shard {shard} of a comparison ({} of {} replications) -> {}",
                base.scenario.name,
                outcomes.len() / arms.len(),
                reps,
                dest.display()
            )
            .map_err(Error::stdout)?;
        }
        return Ok(());
    }
    let rows = write_comparison(arms, reps, args.sample, &outcomes, &staging.tmp)?;
    staging.commit()?;

    if args.quiet {
        return Ok(());
    }
    writeln!(
        out,
        "{}: baseline and {} variant{}, {} paired replication{} each ({}), sample {}, seed {} -> {}",
        base.scenario.name,
        arms.len() - 1,
        if arms.len() == 2 { "" } else { "s" },
        reps,
        if reps == 1 { "" } else { "s" },
        match (args.independent, args.uncertain) {
            (true, _) => "independent seeds",
            (false, true) => "common random numbers, uncertain parameters drawn per replication",
            (false, false) => "common random numbers",
        },
        args.sample,
        arms[0].seed,
        dest.display()
    )
    .map_err(Error::stdout)?;
    print_table(arms, &rows, reps, out)
}

/// Writes the comparison's files into `dir` from every arm's replications (`outcomes[a * R
/// + r]`: arm a, replication r); returns `compare.csv`'s rows.
fn write_comparison(
    arms: &[Arm],
    reps: u32,
    sample: f64,
    outcomes: &[Outcome],
    dir: &Path,
) -> Result<Vec<Row>, Error> {
    let base = &arms[0].loaded;
    let per_arm: Vec<&[Outcome]> = outcomes.chunks(reps as usize).collect();
    let rows = compare_rows(arms, &per_arm);
    write_file(&dir.join(CSV), &render_csv(&rows))?;
    write_file(
        &dir.join(REPLICATIONS_CSV),
        &render_replications(arms, &per_arm),
    )?;
    let start = base.scenario.start;
    let days = base.scenario.simulated_days() as usize;
    let means: Vec<(String, Vec<[Option<f64>; 3]>)> = arms
        .iter()
        .zip(&per_arm)
        .map(|(arm, outs)| (arm.name.clone(), daily_means(outs, days)))
        .collect();
    write_file(&dir.join(DAILY_CSV), &render_daily(start, &means))?;
    let title = format!(
        "{}: daily means over {} replication{} (sample {}, seed {})",
        base.scenario.name,
        reps,
        if reps == 1 { "" } else { "s" },
        sample,
        arms[0].seed
    );
    write_file(&dir.join(SVG), &render_svg(&title, start, &means))?;
    Ok(rows)
}

/// The baseline and each variant, loaded and validated, with their directory names.
fn arms(args: &Config) -> Result<Vec<Arm>, Error> {
    let base = scenario::load(&args.scenario, None, &args.sets)?;
    let seed = args.seed.unwrap_or(base.scenario.seed);
    let mut arms = vec![Arm {
        name: BASELINE.to_string(),
        dir: BASELINE.to_string(),
        variant: None,
        loaded: base,
        seed,
    }];
    for (k, name) in args.variants.iter().enumerate() {
        if name == BASELINE {
            return Err(Error::Usage(format!(
                "`{BASELINE}` names the scenario without a variant; it cannot be compared with itself as a variant"
            )));
        }
        if args.variants[..k].contains(name) {
            return Err(Error::Usage(format!("--variant {name} is given twice")));
        }
        let loaded = scenario::load(&args.scenario, Some(name), &args.sets)?;
        let seed = if args.independent {
            seed.wrapping_add(INDEPENDENT_SEED_STEP * (k as u64 + 1))
        } else {
            seed
        };
        arms.push(Arm {
            name: name.clone(),
            dir: String::new(),
            variant: Some(name.clone()),
            loaded,
            seed,
        });
    }
    // A variant's directory is its name, made safe for a path and unique.
    let mut taken = vec![BASELINE.to_string()];
    for (k, arm) in arms.iter_mut().enumerate().skip(1) {
        let mut dir: String = arm
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if dir.starts_with('.') || taken.contains(&dir) {
            dir = format!("variant-{k}-{dir}");
        }
        taken.push(dir.clone());
        arm.dir = dir;
    }
    Ok(arms)
}

/// Runs every replication of every arm in parallel, in a fixed order of results:
/// arm by arm, replication by replication.
fn simulate_all(
    arms: &[Arm],
    args: &Config,
    document: Option<&Document>,
    tmp: &Path,
    pool: rayon::ThreadPool,
    progress: &Progress,
    stop: &AtomicBool,
) -> Result<Vec<Outcome>, Error> {
    let reps = args.replications as usize;
    let threads = pool.current_num_threads();
    let days_done = AtomicU32::new(0);
    let events_done = AtomicU64::new(0);
    pool.install(|| {
        let owned: Vec<usize> = (0..arms.len() * reps)
            .filter(|k| args.shard.is_none_or(|s| s.owns((k % reps) as u64)))
            .collect();
        owned
            .into_par_iter()
            .map(|k| {
                let (arm, r) = (&arms[k / reps], (k % reps) as u32);
                let dir = tmp.join(&arm.dir).join(format!("rep-{r:03}"));
                fs::create_dir_all(&dir)
                    .map_err(Error::io(format!("creating {}", dir.display())))?;
                let params = RunParams {
                    seed: arm.seed,
                    replication: r,
                    sample: args.sample,
                };
                let seen = AtomicU64::new(0);
                let tick = |_day: u32, events: u64| {
                    let new = events - seen.swap(events, Ordering::Relaxed);
                    let total = events_done.fetch_add(new, Ordering::Relaxed) + new;
                    let day = days_done.fetch_add(1, Ordering::Relaxed);
                    progress.update(0, day, total);
                };
                let drawn = match document {
                    Some(document) => {
                        let base = &arm.loaded;
                        let coords = uncertain_coords(arms[0].seed, r, document.uncertain().len());
                        let variant = arm.variant.as_deref();
                        Some(document.loaded_at(
                            &base.file,
                            &base.sha256,
                            variant,
                            &args.sets,
                            &coords,
                        )?)
                    }
                    None => None,
                };
                let loaded = drawn.as_ref().unwrap_or(&arm.loaded);
                let scenario = &loaded.scenario;
                let sim = run::simulate_into(scenario, params, &dir, None, false, &tick, stop)?;
                let manifest =
                    Manifest::new(loaded, params, threads, None, false, &sim.stats, sim.files);
                manifest::write_manifest(&dir, &manifest)?;
                Ok(outcome(&sim.tables))
            })
            .collect()
    })
}

fn outcome(tables: &Tables) -> Outcome {
    let summary = tables.summary();
    let ctx = tables.context();
    let daily = (0..ctx.span_days() as usize)
        .map(|d| {
            let sum = |metric: &str| -> f64 {
                (0..ctx.markets.len())
                    .filter_map(|m| tables.daily_metric(d, m, metric))
                    .sum()
            };
            // The mean over all markets, weighted by the parcels each delivered.
            let (mut lead_sum, mut delivered) = (0.0, 0.0);
            for m in 0..ctx.markets.len() {
                // As daily_markets.csv shows it, so that a comparison merged from shards'
                // files is this one.
                if let Some(lead) = tables
                    .daily_metric(d, m, "mean_lead_time_days")
                    .map(|v| format!("{v:.4}").parse::<f64>().expect("a number"))
                {
                    let n = tables.daily_metric(d, m, "delivered").unwrap_or(0.0);
                    lead_sum += lead * n;
                    delivered += n;
                }
            }
            let lead = (delivered > 0.0).then(|| lead_sum / delivered);
            [Some(sum(SERIES[0].0)), lead, Some(sum(SERIES[2].0))]
        })
        .collect();
    Outcome { summary, daily }
}

/// Per day, the mean of each series over the replications that have a value.
fn daily_means(outs: &[Outcome], days: usize) -> Vec<[Option<f64>; 3]> {
    (0..days)
        .map(|d| {
            std::array::from_fn(|s| {
                let values: Vec<f64> = outs
                    .iter()
                    .filter_map(|o| o.daily.get(d).and_then(|x| x[s]))
                    .collect();
                (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
            })
        })
        .collect()
}

/// One row of `compare.csv`.
struct Row {
    key: Key,
    variant: String,
    stats: Paired,
}

/// Rows variant by variant, metrics in `summary.csv` order (the baseline's, then any the
/// variant alone has).
fn compare_rows(arms: &[Arm], per_arm: &[&[Outcome]]) -> Vec<Row> {
    let values = |outs: &[Outcome], key: &Key| -> Vec<Option<f64>> {
        outs.iter()
            .map(|o| {
                let (kind, entity) = (key.kind, key.entity.as_str());
                o.summary.get(kind, entity, key.metric)?.as_f64()
            })
            .collect()
    };
    let keys = |outs: &[Outcome]| -> Vec<Key> {
        outs.first()
            .map(|o| o.summary.iter().map(|(k, _)| k.clone()).collect())
            .unwrap_or_default()
    };
    let base_keys = keys(per_arm[0]);
    let mut rows = Vec::new();
    for (arm, outs) in arms.iter().zip(per_arm).skip(1) {
        let mut metrics = base_keys.clone();
        metrics.extend(keys(outs).into_iter().filter(|k| !base_keys.contains(k)));
        for key in metrics {
            let stats = paired(&values(per_arm[0], &key), &values(outs, &key));
            rows.push(Row {
                key,
                variant: arm.name.clone(),
                stats,
            });
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::stats::{t975_exact, t975_expansion};
    use super::*;
    use crate::commands::format::grouped;

    #[test]
    fn t_quantiles_match_the_tables() {
        // Two-sided 95 % critical values of Student's t, to four decimals.
        let table = [
            (1, 12.7062),
            (2, 4.3027),
            (3, 3.1824),
            (4, 2.7764),
            (5, 2.5706),
            (6, 2.4469),
            (9, 2.2622),
            (10, 2.2281),
            (19, 2.0930),
            (29, 2.0452),
            (30, 2.0423),
            (60, 2.0003),
            (120, 1.9799),
        ];
        for (df, t) in table {
            let got = t975(df);
            assert!((got - t).abs() < 5e-5, "df {df}: {got} vs {t}");
        }
        assert!((t975(1000) - 1.962_339).abs() < 5e-7);
        // The exact sum and the expansion agree where they meet; both tend to z.
        for df in [200, 1000, 10_000] {
            assert!(
                (t975_exact(df) - t975_expansion(df)).abs() < 1e-9,
                "df {df}"
            );
        }
        assert!((t975(u64::MAX) - 1.959_963_984_540_054).abs() < 1e-12);
    }

    #[test]
    fn identical_arms_differ_by_exactly_zero() {
        let x = [Some(3.5), Some(7.25), Some(1.0)];
        let p = paired(&x, &x);
        assert_eq!(p.diff, Some(0.0));
        assert_eq!(p.ci95, Some((0.0, 0.0)));
        assert_eq!(p.significant(), Some(false));
        assert_eq!(p.rel_diff(), Some(0.0));
    }

    #[test]
    fn paired_interval_by_hand() {
        // d = 1, 2, 3: mean 2, sd 1, half width t(0.975, 2) / sqrt(3) = 2.484: spans 0.
        let p = paired(
            &[Some(10.0), Some(20.0), Some(30.0)],
            &[Some(11.0), Some(22.0), Some(33.0)],
        );
        let half = 4.302_652_729_911_275 / 3f64.sqrt();
        let (lo, hi) = p.ci95.unwrap();
        assert!((lo - (2.0 - half)).abs() < 1e-9 && (hi - (2.0 + half)).abs() < 1e-9);
        assert_eq!(p.sd_diff, Some(1.0));
        assert_eq!(p.significant(), Some(false));
        assert!((p.rel_diff().unwrap() - 0.1).abs() < 1e-12);
        // d = 1.5, 2, 2.5: sd 0.5, half width 1.242: above 0.
        let p = paired(
            &[Some(10.0), Some(20.0), Some(30.0)],
            &[Some(11.5), Some(22.0), Some(32.5)],
        );
        assert_eq!(p.significant(), Some(true));
        assert!(p.ci95.unwrap().0 > 0.0);
        // One replication: a difference, no interval.
        let one = paired(&[Some(1.0)], &[Some(2.0)]);
        assert_eq!(
            (one.diff, one.ci95, one.significant()),
            (Some(1.0), None, None)
        );
        // A missing value leaves that arm without a mean and the metric without a difference.
        let gap = paired(&[Some(1.0), None], &[Some(2.0), Some(3.0)]);
        assert_eq!(
            (gap.baseline_mean, gap.variant_mean, gap.diff),
            (None, Some(2.5), None)
        );
        // A zero baseline has no relative difference.
        assert_eq!(paired(&[Some(0.0)], &[Some(2.0)]).rel_diff(), None);
    }

    #[test]
    fn fixed_never_prints_negative_zero() {
        assert_eq!(fixed(Some(-0.0), 4), "0.0000");
        assert_eq!(fixed(Some(-0.000_01), 4), "0.0000");
        assert_eq!(fixed(Some(-1.5), 2), "-1.50");
        assert_eq!(fixed(None, 4), "");
        assert_eq!(human(-1_234_567.89), "-1,234,568");
        assert_eq!(human(678.0), "678.0");
        assert_eq!(human(12.5), "12.50");
        assert_eq!(human(-0.028_61), "-0.0286");
        assert_eq!(human(0.0), "0");
        assert_eq!(grouped(1234.5, 2), "1,234.50");
    }
}
