//! A target's figure in a run's tables, the targets scored over replications, and
//! `backtest.csv`.

use std::fmt::Write as _;

use crate::Error;
use crate::commands::compare::stats::t975;
use crate::model::{Scenario, Target};
use crate::projection::Tables;

/// Target metrics that are amounts of money; the others are counts, except the means and
/// shares, which a sample does not scale.
const MONEY_METRICS: &[&str] = &["gmv_usd", "gmv_local", "duty_usd", "vat_usd", "refunds_usd"];

/// Whether a metric is a sum a sample scales by its fraction.
pub(crate) fn scales(metric: &str) -> bool {
    !matches!(metric, "mean_lead_time_days" | "aov_usd" | "aov_local")
        && !metric.starts_with("share:")
        && !metric.starts_with("pool_share:")
        && !metric.starts_with("growth:")
}

/// A target's metric over its period in one run's tables, at full scale.
pub fn simulated_metric(
    scenario: &Scenario,
    tables: &Tables,
    t: &Target,
    sample: f64,
) -> Option<f64> {
    if let (Some(later), Some(earlier)) = (t.later(), t.earlier()) {
        let base = simulated_metric(scenario, tables, &earlier, sample)?;
        return (base > 0.0)
            .then(|| simulated_metric(scenario, tables, &later, sample).map(|v| v / base - 1.0))?;
    }
    let days = scenario.target_days(t)?;
    let m = t.market.ix();
    let daily = |d: u32, metric: &str| tables.daily_metric(d as usize, m, metric);
    let sum = |metric: &str| -> Option<f64> { days.clone().map(|d| daily(d, metric)).sum() };
    // The share of the period's orders that `orders_on(day)` counts.
    let share = |orders_on: &dyn Fn(usize) -> u64| -> Option<f64> {
        let part: u64 = days.clone().map(|d| orders_on(d as usize)).sum();
        let orders = sum("orders")?;
        (orders > 0.0).then(|| part as f64 / orders)
    };
    Some(match t.metric.as_str() {
        "aov_usd" | "aov_local" => {
            let kept = sum("orders")? - sum("cancelled")?;
            let rate = |d: u32| match t.metric.as_str() {
                "aov_local" => scenario.on_day(d).markets[m].usd_rate,
                _ => 1.0,
            };
            let gmv: Option<f64> = days.map(|d| Some(daily(d, "gmv_usd")? * rate(d))).sum();
            (kept > 0.0).then(|| gmv.map(|gmv| gmv / kept))??
        }
        "mean_lead_time_days" => {
            let mut weighted = 0.0;
            let mut delivered = 0.0;
            for d in days {
                let n = daily(d, "delivered")?;
                if n > 0.0 {
                    weighted += daily(d, "mean_lead_time_days")? * n;
                    delivered += n;
                }
            }
            (delivered > 0.0).then(|| weighted / delivered)?
        }
        "gmv_local" => {
            let local: Option<f64> = days
                .map(|d| Some(daily(d, "gmv_usd")? * scenario.on_day(d).markets[m].usd_rate))
                .sum();
            local? / sample
        }
        metric if metric.starts_with("pool_share:") => {
            let pool = &metric["pool_share:".len()..];
            let p = scenario.pools.iter().position(|p| p.id == pool)?;
            share(&|d| tables.pool_orders(d, m, p))?
        }
        metric => {
            let method = |name: &str| {
                scenario.markets[m]
                    .payment
                    .iter()
                    .position(|p| p.method == name)
            };
            if let Some(name) = metric.strip_prefix("share:") {
                let k = method(name)?;
                share(&|d| tables.method_orders(d, m, k))?
            } else if let Some(name) = metric.strip_prefix("method_orders:") {
                let k = method(name)?;
                days.map(|d| tables.method_orders(d as usize, m, k) as f64)
                    .sum::<f64>()
                    / sample
            } else {
                sum(metric)? / sample
            }
        }
    })
}

/// One target against the runs.
#[derive(Debug, Clone)]
pub struct Scored {
    pub target: Target,
    /// The model's expectation from mean rates, where it has one.
    pub expected: Option<f64>,
    /// Per replication, the run's value at full scale.
    pub runs: Vec<f64>,
    pub mean: f64,
    /// Half the 95 % Student t interval of the mean (needs two replications).
    pub half_width: Option<f64>,
    /// (mean - goal) / goal; infinite when the goal is 0 and the runs are not.
    pub rel_error: f64,
    /// Relative standard deviation a count of this size has at the run's sample
    /// (Poisson: 1 / sqrt(goal x F)); `None` for money, means and shares.
    pub noise: Option<f64>,
    pub pass: bool,
}

/// The overall error of a set of targets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    /// Root mean square of the relative errors (an NRMSE, each error normalised by its
    /// published figure).
    pub rms: f64,
    /// Index (into the targets scored) of the largest absolute relative error.
    pub worst: usize,
    pub max: f64,
    pub passed: usize,
}

/// (value - goal) / |goal| (a growth's goal may be negative); 0 or infinite for a goal
/// of 0.
pub(super) fn relative(value: f64, goal: f64) -> f64 {
    if goal != 0.0 {
        (value - goal) / goal.abs()
    } else if value == 0.0 {
        0.0
    } else {
        f64::INFINITY
    }
}

/// Each target inside the horizon's figure in one run's tables (`None`: the run has
/// none, e.g. a mean lead time without deliveries).
pub fn target_values(scenario: &Scenario, tables: &Tables, sample: f64) -> Vec<Option<f64>> {
    scenario
        .targets
        .iter()
        .filter(|t| scenario.target_days(t).is_some())
        .map(|t| simulated_metric(scenario, tables, t, sample))
        .collect()
}

/// Scores every target inside the horizon against its values in each replication
/// (`target_values` of each run).
pub fn score_targets(
    scenario: &Scenario,
    replications: &[Vec<Option<f64>>],
    sample: f64,
) -> Result<Vec<Scored>, Error> {
    scenario
        .targets
        .iter()
        .filter(|t| scenario.target_days(t).is_some())
        .enumerate()
        .map(|(i, t)| {
            let runs = replications
                .iter()
                .map(|values| values[i])
                .collect::<Option<Vec<f64>>>()
                .ok_or_else(|| {
                    Error::BadInput(format!(
                        "target {} {} {}: the run has no value for it (no deliveries or orders in the period?)",
                        t.period(),
                        scenario.markets[t.market.ix()].id,
                        t.metric
                    ))
                })?;
            let n = runs.len() as f64;
            let mean = runs.iter().sum::<f64>() / n;
            let half_width = (runs.len() >= 2).then(|| {
                let var = runs.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
                t975(runs.len() as u64 - 1) * (var / n).sqrt()
            });
            let goal = t.goal();
            let rel_error = relative(mean, goal);
            let count = scales(&t.metric) && !MONEY_METRICS.contains(&t.metric.as_str());
            let noise = (count && goal > 0.0).then(|| 1.0 / (goal * sample * n).sqrt());
            Ok(Scored {
                target: t.clone(),
                expected: scenario.expected_metric(t),
                runs,
                mean,
                half_width,
                rel_error,
                noise,
                pass: rel_error.abs() <= t.tolerance,
            })
        })
        .collect()
}

/// The overall score; `None` without targets.
pub fn score(scored: &[&Scored]) -> Option<Score> {
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

/// The columns of `backtest.csv`.
pub const BACKTEST_HEADER: &str = "period,from,to,market,metric,record,fitted,published,scope,goal,expected,simulated,ci95_low,ci95_high,replications,error_pct,tolerance_pct,within_tolerance,source";

/// `backtest.csv`: one row per target, in the scenario's order.
pub fn backtest_csv(scenario: &Scenario, scored: &[Scored]) -> String {
    let mut text = format!("{BACKTEST_HEADER}\n");
    let cell = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    for s in scored {
        let t = &s.target;
        let (low, high) = s.half_width.map_or((String::new(), String::new()), |h| {
            (format!("{}", s.mean - h), format!("{}", s.mean + h))
        });
        let _ = writeln!(
            text,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{:.4},{},{}",
            t.period(),
            t.from,
            t.to,
            scenario.markets[t.market.ix()].id,
            cell(&t.metric),
            t.record.as_deref().unwrap_or(""),
            t.fit,
            t.value,
            t.scope,
            t.goal(),
            s.expected.map_or(String::new(), |e| e.to_string()),
            s.mean,
            low,
            high,
            s.runs.len(),
            if s.rel_error.is_finite() {
                format!("{:.4}", s.rel_error * 100.0)
            } else {
                "inf".to_string()
            },
            t.tolerance * 100.0,
            s.pass,
            cell(&t.source),
        );
    }
    text
}
