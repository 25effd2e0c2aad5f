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
//! replication, without the event log), `compare.csv`, `compare_daily.csv`, `compare.svg`.

use std::fmt::Write as _;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use rayon::prelude::*;

use super::progress::Progress;
use crate::Error;
use crate::commands::report::grouped;
use crate::engine::RunParams;
use crate::model::date::Date;
use crate::output::run::{self, Manifest};
use crate::output::staging::Staging;
use crate::projection::Tables;
use crate::scenario::Override;
use crate::scenario::{self, Loaded};

pub const CSV: &str = "compare.csv";
pub const DAILY_CSV: &str = "compare_daily.csv";
pub const SVG: &str = "compare.svg";
/// The columns of `compare.csv`: the nine the contract names, then the standard deviation
/// of the paired differences and the number of pairs.
pub const HEADER: &str = "metric,variant,baseline_mean,variant_mean,diff,rel_diff,ci95_low,ci95_high,significant,sd_diff,replications";
/// The name of the baseline arm, in directories and in `compare_daily.csv`.
pub const BASELINE: &str = "baseline";
/// Seed offset of variant k (1-based) under `--independent`: seed + k * this.
pub const INDEPENDENT_SEED_STEP: u64 = 1000;

/// The daily series of the chart: `daily_markets.csv` column, panel title.
const SERIES: [(&str, &str); 3] = [
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
    loaded: Loaded,
    seed: u64,
}

/// What compare keeps of one replication.
struct Outcome {
    /// Summary metrics in `summary.csv` order; `None` where the value is empty.
    summary: Vec<(String, Option<f64>)>,
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
}

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
    let staging = Staging::new(&dest, args.force, &[&args.scenario])?;

    let reps = args.replications;
    let total_days = arms
        .iter()
        .map(|a| a.loaded.scenario.days)
        .sum::<u32>()
        .saturating_mul(reps);
    let progress = Progress::new(args.quiet, total_days, 1);
    let outcomes = simulate_all(&arms, &args, &staging.tmp, pool, &progress, stop);
    progress.finish();
    let outcomes = outcomes?;

    // outcomes[a * R + r]: arm a, replication r.
    let per_arm: Vec<&[Outcome]> = outcomes.chunks(reps as usize).collect();
    let rows = compare_rows(&arms, &per_arm);
    write_file(&staging.tmp.join(CSV), &render_csv(&rows))?;
    let start = base.scenario.start;
    let days = base.scenario.days as usize;
    let means: Vec<(String, Vec<[Option<f64>; 3]>)> = arms
        .iter()
        .zip(&per_arm)
        .map(|(arm, outs)| (arm.name.clone(), daily_means(outs, days)))
        .collect();
    write_file(&staging.tmp.join(DAILY_CSV), &render_daily(start, &means))?;
    let title = format!(
        "{}: daily means over {} replication{} (sample {}, seed {})",
        base.scenario.name,
        reps,
        if reps == 1 { "" } else { "s" },
        args.sample,
        arms[0].seed
    );
    write_file(&staging.tmp.join(SVG), &render_svg(&title, start, &means))?;
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
        if args.independent { "independent seeds" } else { "common random numbers" },
        args.sample,
        arms[0].seed,
        dest.display()
    )
    .map_err(Error::stdout)?;
    print_table(&arms, &rows, reps, out)
}

/// The baseline and each variant, loaded and validated, with their directory names.
fn arms(args: &Config) -> Result<Vec<Arm>, Error> {
    let base = scenario::load(&args.scenario, None, &args.sets)?;
    let seed = args.seed.unwrap_or(base.scenario.seed);
    let mut arms = vec![Arm {
        name: BASELINE.to_string(),
        dir: BASELINE.to_string(),
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
        (0..arms.len() * reps)
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
                let sim =
                    run::simulate_into(&arm.loaded.scenario, params, &dir, false, &tick, stop)?;
                let manifest =
                    Manifest::new(&arm.loaded, params, threads, false, &sim.stats, sim.files);
                run::write_manifest(&dir, &manifest)?;
                Ok(outcome(&sim.tables))
            })
            .collect()
    })
}

fn outcome(tables: &Tables) -> Outcome {
    let summary = tables
        .summary()
        .into_iter()
        .map(|(name, value)| {
            let v = value.parse::<f64>().ok();
            (name, v)
        })
        .collect();
    let ctx = tables.context();
    let daily = (0..ctx.days as usize)
        .map(|d| {
            let sum = |metric: &str| -> f64 {
                (0..ctx.markets.len())
                    .filter_map(|m| tables.daily_metric(d, m, metric))
                    .sum()
            };
            // The mean over all markets, weighted by the parcels each delivered.
            let (mut lead_sum, mut delivered) = (0.0, 0.0);
            for m in 0..ctx.markets.len() {
                if let Some(lead) = tables.daily_metric(d, m, "mean_lead_time_days") {
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

// ---------------------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------------------

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

fn mean_all(values: &[Option<f64>]) -> Option<f64> {
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
fn t975_exact(df: u64) -> f64 {
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
fn t975_expansion(df: u64) -> f64 {
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
fn central_probability(theta: f64, df: u64) -> f64 {
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

/// One row of `compare.csv`.
struct Row {
    metric: String,
    variant: String,
    stats: Paired,
}

/// Rows variant by variant, metrics in `summary.csv` order (the baseline's, then any the
/// variant alone has).
fn compare_rows(arms: &[Arm], per_arm: &[&[Outcome]]) -> Vec<Row> {
    let values = |outs: &[Outcome], metric: &str| -> Vec<Option<f64>> {
        outs.iter()
            .map(|o| {
                o.summary
                    .iter()
                    .find(|(name, _)| name == metric)
                    .and_then(|(_, v)| *v)
            })
            .collect()
    };
    let names = |outs: &[Outcome]| -> Vec<String> {
        outs.first()
            .map(|o| o.summary.iter().map(|(n, _)| n.clone()).collect())
            .unwrap_or_default()
    };
    let base_names = names(per_arm[0]);
    let mut rows = Vec::new();
    for (arm, outs) in arms.iter().zip(per_arm).skip(1) {
        let mut metrics = base_names.clone();
        metrics.extend(names(outs).into_iter().filter(|n| !base_names.contains(n)));
        for metric in metrics {
            let stats = paired(&values(per_arm[0], &metric), &values(outs, &metric));
            rows.push(Row {
                metric,
                variant: arm.name.clone(),
                stats,
            });
        }
    }
    rows
}

// ---------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------

/// Fixed decimals, without a negative zero; empty for `None`.
fn fixed(v: Option<f64>, decimals: usize) -> String {
    match v {
        Some(v) => {
            let s = format!("{v:.decimals$}");
            match s.strip_prefix('-') {
                Some(rest) if rest.bytes().all(|b| b == b'0' || b == b'.') => rest.to_string(),
                _ => s,
            }
        }
        None => String::new(),
    }
}

fn render_csv(rows: &[Row]) -> String {
    let mut t = format!("{HEADER}\n");
    for row in rows {
        let p = &row.stats;
        let _ = writeln!(
            t,
            "{},{},{},{},{},{},{},{},{},{},{}",
            csv_field(&row.metric),
            csv_field(&row.variant),
            fixed(p.baseline_mean, 4),
            fixed(p.variant_mean, 4),
            fixed(p.diff, 4),
            fixed(p.rel_diff(), 6),
            fixed(p.ci95.map(|c| c.0), 4),
            fixed(p.ci95.map(|c| c.1), 4),
            p.significant()
                .map_or("", |s| if s { "true" } else { "false" }),
            fixed(p.sd_diff, 4),
            p.n,
        );
    }
    t
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// `compare_daily.csv`: the series the chart draws, per date and arm.
fn render_daily(start: Date, means: &[(String, Vec<[Option<f64>; 3]>)]) -> String {
    let mut t = String::from("date,variant");
    for (key, _) in SERIES {
        let _ = write!(t, ",{key}");
    }
    t.push('\n');
    let days = means.first().map_or(0, |(_, m)| m.len());
    for d in 0..days {
        for (name, series) in means {
            let x = series[d];
            let _ = writeln!(
                t,
                "{},{},{},{},{}",
                start.add_days(d as i64),
                csv_field(name),
                fixed(x[0], 4),
                fixed(x[1], 4),
                fixed(x[2], 4)
            );
        }
    }
    t
}

fn write_file(path: &Path, text: &str) -> Result<(), Error> {
    fs::write(path, text).map_err(Error::io(format!("writing {}", path.display())))
}

/// A number for people: about four significant digits (at most four decimals), with
/// thousands separators.
fn human(v: f64) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    let magnitude = v.abs().log10().floor() as i64;
    grouped(v, (3 - magnitude).clamp(0, 4) as usize)
}

/// The comparison table, one block per variant, columns aligned. Metrics on which the
/// variant equals the baseline in every replication are listed after the table rather
/// than printed as rows of zeros.
fn print_table(arms: &[Arm], rows: &[Row], reps: u32, out: &mut dyn Write) -> Result<(), Error> {
    let opt = |v: Option<f64>| v.map(human).unwrap_or_default();
    for arm in &arms[1..] {
        let description = arm
            .loaded
            .scenario
            .variants
            .iter()
            .find(|v| v.name == arm.name)
            .map(|v| v.description.as_str())
            .unwrap_or_default();
        writeln!(out).map_err(Error::stdout)?;
        if description.is_empty() {
            writeln!(out, "{} vs baseline", arm.name).map_err(Error::stdout)?;
        } else {
            writeln!(out, "{} vs baseline: {description}", arm.name).map_err(Error::stdout)?;
        }
        let (same, changed): (Vec<&Row>, Vec<&Row>) = rows
            .iter()
            .filter(|r| r.variant == arm.name)
            .partition(|r| r.stats.diff == Some(0.0) && r.stats.sd_diff.unwrap_or(0.0) == 0.0);
        if !changed.is_empty() {
            let head = [
                "metric",
                "baseline",
                "variant",
                "diff",
                "rel",
                "95% CI of diff",
                "",
            ];
            let cells: Vec<[String; 7]> = changed
                .iter()
                .map(|r| {
                    let p = &r.stats;
                    [
                        r.metric.clone(),
                        opt(p.baseline_mean),
                        opt(p.variant_mean),
                        opt(p.diff),
                        p.rel_diff()
                            .map(|x| format!("{}%", fixed(Some(x * 100.0), 2)))
                            .unwrap_or_default(),
                        p.ci95
                            .map(|(l, h)| format!("[{}, {}]", human(l), human(h)))
                            .unwrap_or_default(),
                        if p.significant() == Some(true) {
                            "*"
                        } else {
                            ""
                        }
                        .to_string(),
                    ]
                })
                .collect();
            let mut widths = head.map(str::len);
            for c in &cells {
                for (wd, s) in widths.iter_mut().zip(c) {
                    *wd = (*wd).max(s.chars().count());
                }
            }
            let line = |c: [&str; 7]| -> String {
                let mut s = format!("  {:<w0$}", c[0], w0 = widths[0]);
                for i in 1..6 {
                    let _ = write!(s, "  {:>wi$}", c[i], wi = widths[i]);
                }
                let _ = write!(s, " {}", c[6]);
                s.trim_end().to_string()
            };
            writeln!(out, "{}", line(head)).map_err(Error::stdout)?;
            for c in &cells {
                writeln!(out, "{}", line(std::array::from_fn(|i| c[i].as_str())))
                    .map_err(Error::stdout)?;
            }
        }
        if !same.is_empty() {
            let names: Vec<&str> = same.iter().map(|r| r.metric.as_str()).collect();
            let what = if changed.is_empty() {
                format!(
                    "identical to the baseline in every replication on all {} metrics",
                    same.len()
                )
            } else {
                format!(
                    "identical to the baseline in every replication ({})",
                    same.len()
                )
            };
            // Wrapped at about 100 columns.
            let mut text = format!("  {what}:");
            let mut width = text.len();
            for (i, name) in names.iter().enumerate() {
                let sep = if i + 1 < names.len() { "," } else { "" };
                if width + 1 + name.len() + sep.len() > 100 {
                    text.push_str("\n   ");
                    width = 3;
                }
                let _ = write!(text, " {name}{sep}");
                width += 1 + name.len() + sep.len();
            }
            writeln!(out, "{text}").map_err(Error::stdout)?;
        }
    }
    writeln!(out).map_err(Error::stdout)?;
    if reps == 1 {
        writeln!(
            out,
            "One replication: no confidence interval (use --replications 2 or more)."
        )
        .map_err(Error::stdout)?;
    } else {
        writeln!(
            out,
            "* the 95 % interval of the paired difference excludes 0 (Student t, {} degrees of freedom)",
            reps - 1
        )
        .map_err(Error::stdout)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Chart
// ---------------------------------------------------------------------------------------

/// Line colours: black for the baseline, then the Okabe-Ito palette (safe for colour
/// blindness), repeated with dashes when there are more variants than colours.
const COLOURS: [&str; 7] = [
    "#E69F00", "#0072B2", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
];

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A step of 1, 2 or 5 times a power of ten giving at most about `ticks` intervals.
fn nice_step(max: f64, ticks: f64) -> f64 {
    let raw = max / ticks;
    let power = 10f64.powf(raw.log10().floor());
    let m = raw / power;
    let nice = if m <= 1.0 {
        1.0
    } else if m <= 2.0 {
        2.0
    } else if m <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * power
}

/// A tick label: grouped integers for steps of 1 and more, else enough decimals.
fn tick_label(v: f64, step: f64) -> String {
    if step >= 1.0 {
        grouped(v, 0)
    } else {
        let decimals = (-step.log10()).ceil() as usize;
        fixed(Some(v), decimals)
    }
}

/// The chart: one panel per series, one line per arm, dates along the x axis.
fn render_svg(title: &str, start: Date, means: &[(String, Vec<[Option<f64>; 3]>)]) -> String {
    const WIDTH: f64 = 960.0;
    const LEFT: f64 = 90.0;
    const RIGHT: f64 = 50.0;
    const TOP: f64 = 84.0;
    const PANEL: f64 = 200.0;
    const GAP: f64 = 76.0;
    let height = TOP + SERIES.len() as f64 * (PANEL + GAP);
    let plot_w = WIDTH - LEFT - RIGHT;
    let days = means.first().map_or(0, |(_, m)| m.len());
    let x_of = |d: usize| -> f64 {
        if days <= 1 {
            LEFT + plot_w / 2.0
        } else {
            LEFT + plot_w * d as f64 / (days - 1) as f64
        }
    };
    let style = |k: usize| -> (String, f64, &'static str) {
        if k == 0 {
            ("#000000".to_string(), 2.5, "")
        } else {
            let i = k - 1;
            let dash = if (i / COLOURS.len()) % 2 == 1 {
                " stroke-dasharray=\"6 3\""
            } else {
                ""
            };
            (COLOURS[i % COLOURS.len()].to_string(), 1.5, dash)
        }
    };

    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\" font-family=\"Helvetica, Arial, sans-serif\">"
    );
    let _ = writeln!(s, "<title>{}</title>", xml(title));
    let _ = writeln!(s, "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>");
    let _ = writeln!(
        s,
        "<text x=\"{LEFT}\" y=\"26\" font-size=\"16\" font-weight=\"bold\">{}</text>",
        xml(title)
    );

    // Legend.
    let mut x = LEFT;
    for (k, (name, _)) in means.iter().enumerate() {
        let (colour, width, dash) = style(k);
        let _ = writeln!(
            s,
            "<line x1=\"{x:.1}\" y1=\"50\" x2=\"{:.1}\" y2=\"50\" stroke=\"{colour}\" stroke-width=\"{width}\"{dash}/>",
            x + 24.0
        );
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"54\" font-size=\"12\">{}</text>",
            x + 30.0,
            xml(name)
        );
        x += 30.0 + 7.0 * name.chars().count() as f64 + 24.0;
    }

    // Date ticks: every 1, 2, 7, 14, 28, ... days, at most about ten.
    let date_step = [1usize, 2, 7, 14, 28, 56, 91, 182, 364]
        .into_iter()
        .find(|step| days.div_ceil(*step) <= 10)
        .unwrap_or(days.max(1).div_ceil(10));

    for (p, (_, panel_title)) in SERIES.iter().enumerate() {
        let top = TOP + p as f64 * (PANEL + GAP) + 24.0;
        let bottom = top + PANEL;
        let max = means
            .iter()
            .flat_map(|(_, m)| m.iter().filter_map(|x| x[p]))
            .fold(0.0f64, f64::max);
        let step = if max > 0.0 { nice_step(max, 5.0) } else { 1.0 };
        let y_max = if max > 0.0 {
            (max / step).ceil() * step
        } else {
            5.0
        };
        let y_of = |v: f64| bottom - PANEL * v / y_max;

        let _ = writeln!(s, "<g>");
        let _ = writeln!(
            s,
            "<text x=\"{LEFT}\" y=\"{:.1}\" font-size=\"13\" font-weight=\"bold\">{}</text>",
            top - 8.0,
            xml(panel_title)
        );
        // Horizontal grid and value ticks.
        let ticks = (y_max / step).round() as usize;
        for i in 0..=ticks {
            let v = step * i as f64;
            let y = y_of(v);
            let _ = writeln!(
                s,
                "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#e0e0e0\" stroke-width=\"1\"/>",
                LEFT + plot_w
            );
            let _ = writeln!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
                LEFT - 6.0,
                y + 4.0,
                tick_label(v, step)
            );
        }
        // Date ticks.
        for d in (0..days).step_by(date_step) {
            let x = x_of(d);
            let _ = writeln!(
                s,
                "<line x1=\"{x:.1}\" y1=\"{bottom:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#000000\" stroke-width=\"1\"/>",
                bottom + 5.0
            );
            let _ = writeln!(
                s,
                "<text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
                bottom + 18.0,
                start.add_days(d as i64)
            );
        }
        // Axes.
        let _ = writeln!(
            s,
            "<path d=\"M{LEFT},{top:.1} V{bottom:.1} H{:.1}\" fill=\"none\" stroke=\"#000000\" stroke-width=\"1\"/>",
            LEFT + plot_w
        );
        // One line per arm, broken where a day has no value; the baseline first, so
        // that a variant identical to it is drawn on top and both stay visible.
        for (k, (_, series)) in means.iter().enumerate() {
            let (colour, width, dash) = style(k);
            let mut path = String::new();
            let mut pen_down = false;
            for (d, x) in series.iter().enumerate() {
                match x[p] {
                    Some(v) => {
                        let _ = write!(
                            path,
                            "{}{:.1},{:.1} ",
                            if pen_down { "L" } else { "M" },
                            x_of(d),
                            y_of(v)
                        );
                        pen_down = true;
                    }
                    None => pen_down = false,
                }
            }
            if !path.is_empty() {
                let _ = writeln!(
                    s,
                    "<path d=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"{width}\" stroke-linejoin=\"round\"{dash}/>",
                    path.trim_end()
                );
            }
        }
        let _ = writeln!(s, "</g>");
    }
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\">date</text>",
        LEFT + plot_w / 2.0,
        height - 16.0
    );
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

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
