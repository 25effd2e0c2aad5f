//! `tradesim run`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use super::ScenarioChoice;
use super::format::thousands;
use super::progress::Progress;
use crate::Error;
use crate::log::LogFormat;
use crate::model::Scenario;
use crate::output::run::{self, RunRequest};
use crate::projection::{EntityKind, Summary};

/// What `run` was asked to do.
#[derive(Debug, Clone)]
pub struct Config {
    pub scenario: ScenarioChoice,
    /// Replaces the scenario's seed.
    pub seed: Option<u64>,
    pub replications: u32,
    pub sample: f64,
    /// Default: a new directory under `runs/`.
    pub out: Option<PathBuf>,
    /// Worker threads; 0 means one per core.
    pub threads: usize,
    pub event_log: bool,
    /// The log's format, when there is one.
    pub log_format: LogFormat,
    /// Also write `orders.csv`.
    pub orders: bool,
    pub force: bool,
    pub quiet: bool,
    /// Draw the uncertain parameters per replication.
    pub uncertain: bool,
    /// Run only shard K of N of the replications.
    pub shard: Option<crate::output::shard::Shard>,
}

/// `tradesim run`: every replication into a new directory, then a summary.
pub fn command(a: Config, stop: &AtomicBool, out: &mut dyn Write) -> Result<(), Error> {
    let loaded = a.scenario.load()?;
    run::check_sample(a.sample)?;
    if a.orders {
        crate::model::cost::check_with_order_rows(&loaded.scenario, a.sample)?;
    } else {
        crate::model::cost::check(&loaded.scenario, a.sample)?;
    }
    let dest = match &a.out {
        Some(p) => p.clone(),
        None => run::default_out(&loaded.scenario, loaded.variant.as_deref()),
    };
    let req = RunRequest {
        seed: a.seed,
        replications: a.replications,
        sample: a.sample,
        out: dest,
        threads: a.threads,
        event_log: a.event_log,
        log_format: a.log_format,
        orders: a.orders,
        force: a.force,
        uncertain: a.uncertain,
        shard: a.shard,
        loaded,
    };
    let progress = Progress::new(
        a.quiet,
        req.loaded.scenario.simulated_days(),
        req.replications,
    );
    let started = Instant::now();
    let reps = run::run(&req, &|r, d, e| progress.update(r, d, e), stop);
    progress.finish();
    let reps = reps?;
    if a.quiet || reps.is_empty() {
        return Ok(());
    }
    let secs = started.elapsed().as_secs_f64();
    let events: u64 = reps.iter().map(|r| r.stats.events).sum();
    writeln!(
        out,
        "{} ({} replication{}, sample {}): {} events in {:.2} s ({:.1} M events/s) -> {}",
        req.loaded.scenario.name,
        reps.len(),
        if reps.len() == 1 { "" } else { "s" },
        req.sample,
        events,
        secs,
        events as f64 / secs / 1e6,
        req.out.display()
    )
    .map_err(Error::stdout)?;
    print_summary(&req.loaded.scenario, &reps[0].summary, req.sample, out)
}

/// A few headline lines per market and facility from a run's summary rows.
pub fn print_summary(
    s: &Scenario,
    summary: &Summary,
    sample: f64,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let get = |kind: EntityKind, id: &str, metric: &str| summary.get(kind, id, metric);
    let text = |kind, id, metric| {
        get(kind, id, metric)
            .map(|v| v.to_string())
            .unwrap_or_default()
    };
    let num = |kind, id, metric| {
        get(kind, id, metric)
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0)
    };
    if sample < 1.0 {
        writeln!(
            out,
            "(counts and money are for the {sample} sample; divide by {sample} for full scale)"
        )
        .map_err(Error::stdout)?;
    }
    for m in &s.markets {
        let id = m.id.as_str();
        let market = |metric| num(EntityKind::Market, id, metric);
        let lead = get(EntityKind::Market, id, "mean_lead_time_days").and_then(|v| v.as_f64());
        writeln!(
            out,
            "  {id}: {} orders, {} cancelled, GMV ${}, duty+VAT ${}, {} delivered, mean lead time {} days",
            thousands(market("orders")),
            thousands(market("cancelled")),
            thousands(market("gmv_usd")),
            thousands(market("duty_usd") + market("vat_usd")),
            thousands(market("delivered")),
            lead.map_or("-".to_string(), |days| format!("{days:.1}")),
        )
        .map_err(Error::stdout)?;
    }
    // Facilities in the summary's order: hubs, line-hauls, exchange offices.
    let facilities = summary.iter().filter(|(key, _)| {
        key.metric == "arrived"
            && matches!(
                key.kind,
                EntityKind::Hub | EntityKind::Linehaul | EntityKind::Exchange
            )
    });
    for (key, _) in facilities {
        let (kind, id) = (key.kind, key.entity.as_str());
        writeln!(
            out,
            "  {}: {} parcels arrived, peak utilisation {}, max backlog {}, mean wait {} h",
            key.label(),
            thousands(num(kind, id, "arrived")),
            text(kind, id, "peak_utilisation"),
            thousands(num(kind, id, "max_backlog")),
            text(kind, id, "mean_wait_hours"),
        )
        .map_err(Error::stdout)?;
    }
    Ok(())
}
