//! `tradesim validate`: a scenario checked, then what it means before anything runs.

use std::io::Write;

use super::ScenarioChoice;
use super::format::thousands;
use crate::Error;
use crate::model::MarketId;
use crate::model::date::DAY_S;
use crate::scenario;

/// Whether the variant or a `--set` sets the parameter, so no draw or design moves it.
fn variant_or_set_fixes(
    document: &scenario::Document,
    variant: Option<&str>,
    sets: &[scenario::Override],
    p: &crate::model::uncertain::Uncertain,
) -> bool {
    let all = vec![0.5; document.uncertain().len()];
    !document
        .draws(variant, sets, &all)
        .iter()
        .any(|d| d.path == p.path)
}

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

pub fn validate(choice: &ScenarioChoice, sample: f64, out: &mut dyn Write) -> Result<(), Error> {
    let (file, variant, sets) = (&choice.file, choice.variant.as_deref(), &choice.sets[..]);
    crate::output::run::check_sample(sample)?;
    let text = scenario::read_text(file)?;
    let name = file.display().to_string();
    let document = scenario::Document::parse(&text, &name)?;
    let scenario = document.scenario(variant, sets)?;
    let cost = crate::model::cost::check(&scenario, sample)?;
    let s = &scenario;
    writeln!(out, "{} is valid: {}", file.display(), s.name).map_err(Error::stdout)?;
    if !s.description.is_empty() {
        writeln!(out, "  {}", s.description).map_err(Error::stdout)?;
    }
    let last = s.date_of(s.days - 1);
    let drain = if s.drain_days > 0 {
        format!(
            ", then {} days of drain to {}",
            s.drain_days,
            s.date_of(s.simulated_days() - 1)
        )
    } else {
        String::new()
    };
    let warmup = if s.warmup_days > 0 {
        format!(
            " after {} day{} of warm-up from {} (simulated, not in the tables)",
            s.warmup_days,
            if s.warmup_days == 1 { "" } else { "s" },
            s.start.add_days(-i64::from(s.warmup_days))
        )
    } else {
        String::new()
    };
    writeln!(
        out,
        "  horizon {} to {last} ({} days, clock UTC{}){warmup}{drain}, seed {}",
        s.start, s.days, s.utc_offset, s.seed
    )
    .map_err(Error::stdout)?;
    if let Some(v) = variant {
        writeln!(out, "  variant {v}").map_err(Error::stdout)?;
    }
    for o in sets {
        writeln!(out, "  override {} = {}", o.path, o.value_text()).map_err(Error::stdout)?;
    }

    writeln!(out, "\nmarkets (expected orders at full scale)").map_err(Error::stdout)?;
    for (mi, m) in s.markets.iter().enumerate() {
        let mid = MarketId(mi as u8);
        let normal = (0..s.days)
            .find(|d| s.peak_multiplier(mid, *d) == 1.0)
            .unwrap_or(0);
        let date = s.date_of(normal);
        writeln!(
            out,
            "  {} {}: {} orders on a normal day ({date} {})",
            m.id,
            m.name,
            thousands(s.expected_orders(mid, normal)),
            WEEKDAYS[date.weekday()]
        )
        .map_err(Error::stdout)?;
        for p in s.peaks.iter().filter(|p| p.markets.contains(&mid)) {
            writeln!(
                out,
                "      {} {} (x{}): {} orders",
                s.date_of(p.day),
                p.name,
                p.multiplier,
                thousands(s.expected_orders(mid, p.day))
            )
            .map_err(Error::stdout)?;
        }
        let d = &s.demand[mi];
        let sources: Vec<String> = (0..s.pools.len())
            .filter(|p| d.shares[*p] > 0.0)
            .map(|p| {
                // The pool's orders against the file's own: its share of the market's
                // multiplied demand over its base share.
                let orders = d.multiplier * d.shares[p] / m.sources[p];
                format!(
                    "{} {:.1} % (x{orders:.4} orders; landed ${:.2}, {:.1} days)",
                    s.pools[p].id,
                    d.shares[p] * 100.0,
                    d.landed_usd[p],
                    d.lead_s[p] / f64::from(DAY_S)
                )
            })
            .collect();
        writeln!(
            out,
            "      demand x{:.4} after policy; sources {}",
            d.multiplier,
            sources.join(", ")
        )
        .map_err(Error::stdout)?;
        writeln!(
            out,
            "      {:.1} % of orders get paid (or, cash on delivery, confirmed) within {} attempt(s); {:.1} % are abandoned",
            s.paid_share(mid) * 100.0,
            m.max_payment_attempts,
            m.payment.iter().map(|p| p.share * p.abandon).sum::<f64>() * 100.0
        )
        .map_err(Error::stdout)?;
    }

    if !document.uncertain().is_empty() {
        // Their extremes must make valid scenarios too, as sweep and --uncertain check.
        crate::output::run::check_uncertain(&document, &[variant], sets, sample)?;
        writeln!(
            out,
            "\nuncertain parameters (for sweep, run --uncertain, compare --uncertain; checked at their extremes)"
        )
        .map_err(Error::stdout)?;
        for p in document.uncertain() {
            let fixed = variant_or_set_fixes(&document, variant, sets, p);
            writeln!(
                out,
                "  {}: {} ~ {}{}",
                p.name,
                p.path,
                p.describe(),
                if fixed {
                    " (fixed here by the variant or --set)"
                } else {
                    ""
                }
            )
            .map_err(Error::stdout)?;
        }
    }

    if !s.changes.is_empty() {
        writeln!(out, "\nchanges (in the order they take effect)").map_err(Error::stdout)?;
    }
    for c in &s.changes {
        let description = if c.description.is_empty() {
            String::new()
        } else {
            format!(": {}", c.description)
        };
        writeln!(out, "  {} {}{description}", s.date_of(c.day), c.name).map_err(Error::stdout)?;
        let after = s.on_day(c.day);
        for (mi, m) in after.markets.iter().enumerate() {
            let mid = MarketId(mi as u8);
            writeln!(
                out,
                "      {}: {} orders that day (demand x{:.4}), {:.1} % paid or confirmed",
                m.id,
                thousands(after.expected_orders(mid, c.day)),
                after.demand[mi].multiplier,
                after.paid_share(mid) * 100.0
            )
            .map_err(Error::stdout)?;
        }
    }

    if !s.hubs.is_empty() {
        writeln!(out, "\nhubs (expected load at full scale)").map_err(Error::stdout)?;
    }
    for (hi, h) in s.hubs.iter().enumerate() {
        let busiest = (0..s.days)
            .map(|d| (d, s.expected_hub_arrivals(hi, d)))
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
            .unwrap_or((0, 0.0));
        let lines = h.lines_on(busiest.0);
        let capacity = f64::from(lines) * f64::from(DAY_S) / h.service_time.mean();
        let util = if capacity > 0.0 {
            busiest.1 / capacity
        } else {
            f64::INFINITY
        };
        writeln!(
            out,
            "  {} {}: {} lines, {} parcels/day; busiest day {}: {} arrivals, utilisation {:.2}",
            h.id,
            h.name,
            lines,
            thousands(capacity),
            s.date_of(busiest.0),
            thousands(busiest.1),
            util
        )
        .map_err(Error::stdout)?;
        if util >= 1.0 {
            writeln!(
                out,
                "      warning: utilisation >= 1: the backlog grows for as long as this lasts"
            )
            .map_err(Error::stdout)?;
        }
    }

    facilities(s, out)?;

    if !s.targets.is_empty() {
        writeln!(out, "\ntargets").map_err(Error::stdout)?;
    }
    let record_path = super::record::path_for(file);
    let named = s.targets.iter().any(|t| t.record.is_some());
    let record = if named {
        Some(super::record::read(&record_path)?)
    } else {
        None
    };
    for t in &s.targets {
        let market = &s.markets[t.market.ix()].id;
        let note = match (s.target_days(t), s.expected_metric(t)) {
            (None, _) => format!(
                " (outside the horizon {}: calibrate skips it)",
                s.horizon_text()
            ),
            (Some(_), Some(e)) => format!(
                " (expected {}, {:+.2} %)",
                if !super::calibrate::scales(&t.metric) {
                    format!("{e:.4}")
                } else {
                    thousands(e)
                },
                (e / t.goal() - 1.0) * 100.0
            ),
            (Some(_), None) => " (measured by a run only)".to_string(),
        };
        let scope = if t.scope == 1.0 {
            String::new()
        } else {
            format!(" x scope {}", t.scope)
        };
        let held = if t.fit { "" } else { ", held out of the fit" };
        writeln!(
            out,
            "  {} {market} {} = {}{scope} ± {} %{held}{note}",
            t.period(),
            t.metric,
            if t.value < 10.0 {
                format!("{}", t.value)
            } else {
                thousands(t.value)
            },
            t.tolerance * 100.0
        )
        .map_err(Error::stdout)?;
        if let (Some(id), Some(record)) = (&t.record, &record) {
            let Some(f) = record.get(id) else {
                return Err(Error::BadInput(format!(
                    "target {} {market} {}: record `{id}` is not in {}",
                    t.period(),
                    t.metric,
                    record_path.display()
                )));
            };
            if (f.value - t.value).abs() > 1e-9 * f.value.abs().max(1.0) {
                return Err(Error::BadInput(format!(
                    "target {} {market} {}: value {} differs from record `{id}`'s {}",
                    t.period(),
                    t.metric,
                    t.value,
                    f.value
                )));
            }
            writeln!(
                out,
                "      record {id}: {} ({}), {} to {}, {}, {}",
                f.measure, f.scope, f.from, f.to, f.publisher, f.published
            )
            .map_err(Error::stdout)?;
        }
    }

    let at = if sample == 1.0 {
        "full scale".to_string()
    } else {
        format!("--sample {sample}")
    };
    writeln!(
        out,
        "\ncost at {at}: {} orders, at most {} events, {} parcels in flight at most, about {:.2} GiB of memory",
        thousands(cost.orders),
        thousands(cost.events),
        thousands(cost.parcels_in_flight),
        cost.memory_bytes / (1024.0 * 1024.0 * 1024.0)
    )
    .map_err(Error::stdout)?;

    if variant.is_none() && !s.variants.is_empty() {
        writeln!(out, "\nvariants").map_err(Error::stdout)?;
        let mut failed = Vec::new();
        for v in s.variants.iter() {
            let checked = document
                .scenario(Some(&v.name), sets)
                .map_err(Error::from)
                .and_then(|s| crate::model::cost::check(&s, sample).map_err(Error::from));
            match checked {
                Ok(_) => {
                    writeln!(out, "  {} ok: {}", v.name, v.description).map_err(Error::stdout)?
                }
                Err(e) => {
                    writeln!(out, "  {} INVALID", v.name).map_err(Error::stdout)?;
                    failed.push(format!("variant `{}`:\n{e}", v.name));
                }
            }
        }
        if !failed.is_empty() {
            return Err(Error::Usage(failed.join("\n")));
        }
    }
    Ok(())
}

/// The line-hauls and exchange offices: capacity, and the busiest day's expected load
/// (parcels reach them the mean handling and travel time after their order, without
/// queueing on the way, all on one day: the same approximation as the hubs').
fn facilities(s: &crate::model::Scenario, out: &mut dyn Write) -> Result<(), Error> {
    let hhmm = |t: &u32| format!("{:02}:{:02}", t / 3600, t / 60 % 60);
    let busiest = |load: &dyn Fn(u32) -> f64| {
        (0..s.days)
            .map(|d| (d, load(d)))
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
            .unwrap_or((0, 0.0))
    };
    let mut lines = Vec::new();
    for (ri, r) in s.routes.iter().enumerate() {
        let Some(l) = &r.linehaul else { continue };
        let lag = s.to_linehaul_s(ri);
        let (day, load) = busiest(&|d| s.expected_route_parcels(ri, d, lag));
        let times: Vec<String> = l.departures_s.iter().map(hhmm).collect();
        let capacity = s.on_day(day).routes[ri]
            .linehaul
            .as_ref()
            .and_then(|l| l.daily_capacity());
        let seats = capacity.map_or("no seat limit".to_string(), |c| {
            format!("{} seats a day", thousands(c as f64))
        });
        lines.push(format!(
            "  {} line-haul: departures {} (cut-off {:.1} h), {seats}; busiest day {}: {} parcels ready{}",
            r.id,
            times.join(", "),
            f64::from(l.cutoff_s) / 3600.0,
            s.date_of(day),
            thousands(load),
            capacity.map_or(String::new(), |c| format!(", {:.2} days of seats", load / c as f64)),
        ));
    }
    for (mi, m) in s.markets.iter().enumerate() {
        let Some(o) = m.exchange_office else { continue };
        let routes: Vec<usize> = (0..s.routes.len())
            .filter(|&ri| s.routes[ri].market.ix() == mi && !s.routes[ri].green_lane)
            .collect();
        let (day, load) = busiest(&|d| {
            routes
                .iter()
                .map(|&ri| s.expected_route_parcels(ri, d, s.to_exchange_s(ri)))
                .sum()
        });
        let office = s.on_day(day).markets[mi].exchange_office.unwrap_or(o);
        let capacity = f64::from(office.lines) * f64::from(DAY_S) / office.service_s;
        lines.push(format!(
            "  {} exchange office: {} lines, {} parcels/day; busiest day {}: {} arrivals, utilisation {:.2}",
            m.id,
            thousands(f64::from(office.lines)),
            thousands(capacity),
            s.date_of(day),
            thousands(load),
            load / capacity
        ));
    }
    if !lines.is_empty() {
        writeln!(
            out,
            "\nline-hauls and exchange offices (expected load at full scale)"
        )
        .map_err(Error::stdout)?;
        for l in lines {
            writeln!(out, "{l}").map_err(Error::stdout)?;
        }
    }
    Ok(())
}
