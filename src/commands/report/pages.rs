//! The two reports: a run's (headline figures, daily orders and backlog, lead times,
//! payments, seller pools) and a comparison's (paired differences with their intervals,
//! daily series of every arm).

use std::path::Path;

use super::figures;
use super::html::{self, Cell, attributes, card, details, section, table};
use super::tables::{self, Difference, Headline};
use crate::Error;
use crate::commands::chart::Style;
use crate::commands::compare::{self, arm_style};
use crate::commands::format::{fixed, grouped, human, thousands};
use crate::output::manifest::{self, MANIFEST};
use crate::projection::EntityKind;

fn count(v: Option<f64>) -> String {
    v.map_or("–".to_string(), thousands)
}

fn usd(v: Option<f64>) -> String {
    match v {
        Some(v) if v.abs() >= 1000.0 => grouped(v, 0),
        Some(v) => grouped(v, 2),
        None => "–".to_string(),
    }
}

fn days(v: Option<f64>) -> String {
    v.map_or("–".to_string(), |v| fixed(Some(v), 2))
}

fn percent(v: Option<f64>) -> String {
    v.map_or("–".to_string(), |v| {
        format!("{} %", fixed(Some(v * 100.0), 1))
    })
}

fn plural(n: usize, one: &str) -> String {
    format!("{n} {one}{}", if n == 1 { "" } else { "s" })
}

/// The first and last date and the number of days, as the header shows them.
fn span(dates: &[String]) -> String {
    match (dates.first(), dates.last()) {
        (Some(a), Some(b)) => format!("{a} to {b} ({})", plural(dates.len(), "day")),
        _ => "no days".to_string(),
    }
}

/// The market table's columns: `summary.csv` metric, heading, formatter.
type Format = fn(Option<f64>) -> String;
const MARKET_COLUMNS: [(&str, &str, Format); 12] = [
    ("orders", "Orders", count),
    ("cancelled", "Cancelled", count),
    ("gmv_usd", "GMV (USD)", usd),
    ("duty_usd", "Duty (USD)", usd),
    ("vat_usd", "VAT (USD)", usd),
    ("delivered", "Delivered", count),
    ("returned", "Returned", count),
    ("refused", "Refused", count),
    ("refunds_usd", "Refunds (USD)", usd),
    ("in_flight", "In flight", count),
    ("mean_lead_time_days", "Mean lead time (days)", days),
    ("p95_lead_time_days", "p95 lead time (days)", days),
];

pub fn run_page(dir: &Path) -> Result<String, Error> {
    let manifest = manifest::read_manifest(&dir.join(MANIFEST))?;
    let summary = tables::summary(dir)?;
    let orders = tables::daily_orders(dir)?;
    let backlog = tables::daily_backlog(dir)?;
    let lead_times = tables::lead_times(dir)?;
    let payments = tables::payments(dir)?;
    let sellers = tables::sellers(dir)?;
    let markets = &orders.names;
    let get = |entity: &str, metric: &str| -> Option<f64> {
        summary
            .iter()
            .find(|h: &&Headline| {
                matches!(h.kind, EntityKind::Market | EntityKind::All)
                    && h.entity == entity
                    && h.metric == metric
            })
            .and_then(|h| h.value)
    };

    let all = |m: &str| get("all", m);
    let share = |part: Option<f64>, whole: Option<f64>| match (part, whole) {
        (Some(p), Some(w)) if w > 0.0 => format!("{} of orders", percent(Some(p / w))),
        _ => String::new(),
    };
    let cards = [
        card(
            "all",
            "orders",
            "Orders placed",
            all("orders"),
            &count(all("orders")),
            &format!(
                "{} over {}",
                plural(markets.len(), "market"),
                plural(orders.dates.len(), "day")
            ),
        ),
        card(
            "all",
            "gmv_usd",
            "GMV (USD)",
            all("gmv_usd"),
            &usd(all("gmv_usd")),
            "orders placed less cancelled",
        ),
        card(
            "all",
            "cancelled",
            "Cancelled",
            all("cancelled"),
            &count(all("cancelled")),
            &share(all("cancelled"), all("orders")),
        ),
        card(
            "all",
            "delivered",
            "Delivered",
            all("delivered"),
            &count(all("delivered")),
            &format!("{} still in flight", count(all("in_flight"))),
        ),
        card(
            "all",
            "mean_lead_time_days",
            "Mean lead time",
            all("mean_lead_time_days"),
            &format!("{} d", days(all("mean_lead_time_days"))),
            "placement to delivery",
        ),
        card(
            "all",
            "p95_lead_time_days",
            "95th percentile",
            all("p95_lead_time_days"),
            &format!("{} d", days(all("p95_lead_time_days"))),
            "of the lead time",
        ),
    ]
    .concat();
    let mut head = vec!["Market"];
    head.extend(MARKET_COLUMNS.iter().map(|c| c.1));
    let rows: Vec<(String, String, Vec<Cell>)> = markets
        .iter()
        .map(String::as_str)
        .chain(["all"])
        .map(|m| {
            let mut cells = vec![Cell::Text(if m == "all" {
                "All markets".to_string()
            } else {
                m.to_string()
            })];
            cells.extend(
                MARKET_COLUMNS
                    .iter()
                    .map(|(metric, _, f)| Cell::number(metric, get(m, metric), f(get(m, metric)))),
            );
            let class = if m == "all" { "all" } else { "" };
            (class.to_string(), attributes(&[("entity", m)]), cells)
        })
        .collect();
    let headline = section(
        "headline",
        "Headline figures",
        "Over the whole run (summary.csv). GMV is the value of the orders placed less those cancelled; lead times are from placement to delivery, over the parcels delivered.",
        &format!(
            "<div class=\"cards\">\n{cards}</div>\n{}",
            table(&head, &rows)
        ),
    );

    let daily_orders = section(
        "orders",
        "Daily orders",
        "Orders placed per day in each market (daily_markets.csv).",
        &figures::daily_panels(
            "Orders placed per day",
            &[("Orders placed per day", &orders)],
            &Style::nth,
        ),
    );
    let daily_backlog = section(
        "backlog",
        "Backlog at the facilities",
        "Parcels arrived and not yet departed at the end of each day, at each hub, line-haul and exchange office (daily_facilities.csv).",
        &figures::daily_panels(
            "Backlog at the end of the day",
            &[("Parcels waiting at the end of the day", &backlog)],
            &Style::nth,
        ),
    );

    let lead_rows: Vec<(String, String, Vec<Cell>)> = lead_times
        .iter()
        .map(|r| {
            let mut cells = vec![Cell::Text(r.market.clone()), Cell::Text(r.route.clone())];
            for (i, column) in tables::LEAD_TIME_COLUMNS.iter().enumerate() {
                let v = r.figures[i];
                cells.push(Cell::number(
                    column,
                    v,
                    if i == 0 { count(v) } else { days(v) },
                ));
            }
            (
                String::new(),
                attributes(&[("market", &r.market), ("route", &r.route)]),
                cells,
            )
        })
        .collect();
    let lead = section(
        "lead-times",
        "Lead times",
        "Days from placement to delivery on each market's routes, over the parcels delivered (lead_times.csv).",
        &format!(
            "{}{}",
            figures::lead_times(&lead_times, markets),
            details(
                "The numbers",
                &table(
                    &[
                        "Market",
                        "Route",
                        "Delivered",
                        "Mean",
                        "p50",
                        "p90",
                        "p95",
                        "p99",
                        "Longest"
                    ],
                    &lead_rows
                )
            )
        ),
    );

    let pay_rows: Vec<(String, String, Vec<Cell>)> = payments
        .iter()
        .map(|p| {
            let mut cells = vec![Cell::Text(p.market.clone()), Cell::Text(p.method.clone())];
            for (i, column) in tables::PAYMENT_COLUMNS.iter().enumerate() {
                let v = p.figures[i];
                let shown = if column.ends_with("_rate") {
                    percent(v)
                } else if column.ends_with("_usd") {
                    usd(v)
                } else {
                    count(v)
                };
                cells.push(Cell::number(column, v, shown));
            }
            (
                String::new(),
                attributes(&[("market", &p.market), ("method", &p.method)]),
                cells,
            )
        })
        .collect();
    let pay = section(
        "payments",
        "Payment outcomes",
        "Per market and payment method (payments.csv): the share of payment attempts that succeeded, and of orders cancelled (every attempt failed, or abandoned) and refused at the door.",
        &format!(
            "{}{}",
            figures::payments(&payments),
            table(
                &[
                    "Market",
                    "Method",
                    "Orders",
                    "Attempts",
                    "Success rate",
                    "Cancelled",
                    "Cancel rate",
                    "Abandon rate",
                    "Refusal rate",
                    "Fees (USD)"
                ],
                &pay_rows
            )
        ),
    );

    let seller_rows: Vec<(String, String, Vec<Cell>)> = sellers
        .iter()
        .map(|p| {
            let mut cells = vec![Cell::Text(p.sellers.clone()), Cell::Text(p.market.clone())];
            for (i, column) in tables::SELLER_COLUMNS.iter().enumerate() {
                let v = p.figures[i];
                let shown = match *column {
                    "order_share" => percent(v),
                    "mean_days_to_cash" => days(v),
                    c if c.ends_with("_usd") => usd(v),
                    _ => count(v),
                };
                cells.push(Cell::number(column, v, shown));
            }
            (
                String::new(),
                attributes(&[("sellers", &p.sellers), ("market", &p.market)]),
                cells,
            )
        })
        .collect();
    let pools = section(
        "sellers",
        "Seller pools",
        "Each seller pool in each market, all size tiers together (sellers.csv): revenue is the value of the orders not cancelled; net is what the sellers kept of the cash paid within the run.",
        &table(
            &[
                "Sellers",
                "Market",
                "Orders",
                "Revenue (USD)",
                "Order share",
                "Net (USD)",
                "Mean days to cash",
                "Active sellers",
            ],
            &seller_rows,
        ),
    );

    let mut facts = vec![
        (
            "variant",
            manifest
                .variant
                .clone()
                .unwrap_or_else(|| "none (the scenario as written)".to_string()),
        ),
        ("seed", manifest.seed.to_string()),
        ("replication", manifest.replication.to_string()),
        ("sample", manifest.sample.to_string()),
        ("dates", span(&orders.dates)),
        ("events", thousands(manifest.events as f64)),
    ];
    if !manifest.overrides.is_empty() {
        facts.push(("overrides", manifest.overrides.join(", ")));
    }
    if !manifest.uncertain.is_empty() {
        facts.push(("uncertain, drawn", manifest.uncertain.join(", ")));
    }
    Ok(html::page(
        "tradesim run report",
        &manifest.scenario,
        &facts,
        &[headline, daily_orders, daily_backlog, lead, pay, pools],
        &format!(
            "Written by tradesim {} from the tables in {}; scenario file {} (sha256 {}).",
            env!("CARGO_PKG_VERSION"),
            dir.display(),
            manifest.scenario_file,
            &manifest.scenario_sha256[..manifest.scenario_sha256.len().min(12)]
        ),
    ))
}

pub fn compare_page(dir: &Path) -> Result<String, Error> {
    let diffs = tables::compare(dir)?;
    let daily = tables::compare_daily(dir)?;
    let base =
        manifest::read_manifest(&dir.join(compare::BASELINE).join("rep-000").join(MANIFEST))?;
    let mut variants: Vec<&str> = Vec::new();
    for d in &diffs {
        if !variants.contains(&d.variant.as_str()) {
            variants.push(&d.variant);
        }
    }
    let reps = diffs.iter().find_map(|d| d.replications).unwrap_or(0.0) as u64;
    let dates = daily
        .first()
        .map(|(_, d)| d.dates.clone())
        .unwrap_or_default();

    let mut sections = Vec::new();
    let mut cards = String::new();
    for (k, variant) in variants.iter().enumerate() {
        let rows: Vec<&Difference> = diffs.iter().filter(|d| d.variant == *variant).collect();
        let changed: Vec<&Difference> = rows.iter().copied().filter(|d| !d.identical()).collect();
        let significant = changed
            .iter()
            .filter(|d| d.significant == Some(true))
            .count();
        cards.push_str(&card(
            variant,
            "differing_metrics",
            variant,
            Some(changed.len() as f64),
            &format!("{} of {}", changed.len(), rows.len()),
            &format!("metrics differ; {significant} with an interval excluding 0"),
        ));
        let colour = arm_style(k + 1).colour;
        let same: Vec<String> = rows
            .iter()
            .filter(|d| d.identical())
            .map(|d| d.name())
            .collect();
        let mut content = if changed.is_empty() {
            String::new()
        } else {
            figures::forest(variant, colour, &changed)
        };
        if !same.is_empty() {
            content.push_str(&format!(
                "<p class=\"note\">Identical to the baseline in every replication ({}): {}</p>\n",
                same.len(),
                crate::commands::chart::xml(&same.join(", "))
            ));
        }
        let table_rows: Vec<(String, String, Vec<Cell>)> = changed
            .iter()
            .map(|d| {
                let (low, high) = (d.ci95.map(|c| c.0), d.ci95.map(|c| c.1));
                let opt = |v: Option<f64>| v.map_or("–".to_string(), human);
                let cells = vec![
                    Cell::Text(d.name()),
                    Cell::number("baseline_mean", d.baseline_mean, opt(d.baseline_mean)),
                    Cell::number("variant_mean", d.variant_mean, opt(d.variant_mean)),
                    Cell::number("diff", d.diff, opt(d.diff)),
                    Cell::number(
                        "rel_diff",
                        d.rel_diff,
                        d.rel_diff.map_or("–".to_string(), |r| {
                            format!("{} %", fixed(Some(r * 100.0), 2))
                        }),
                    ),
                    Cell::number("ci95_low", low, opt(low)),
                    Cell::number("ci95_high", high, opt(high)),
                ];
                let class = if d.significant == Some(true) {
                    "significant"
                } else {
                    ""
                };
                (
                    class.to_string(),
                    attributes(&[
                        ("variant", &d.variant),
                        ("entity_kind", d.kind.name()),
                        ("entity", &d.entity),
                        ("metric", &d.metric),
                    ]),
                    cells,
                )
            })
            .collect();
        if !table_rows.is_empty() {
            content.push_str(&details(
                "The numbers",
                &table(
                    &[
                        "Metric",
                        "Baseline mean",
                        "Variant mean",
                        "Difference",
                        "Relative",
                        "95 % interval from",
                        "to",
                    ],
                    &table_rows,
                ),
            ));
        }
        sections.push(section(
            &format!("variant-{k}"),
            &format!("{variant} against the baseline"),
            &format!(
                "The mean paired difference variant − baseline over {} (compare.csv), relative to the baseline mean, with its 95 % Student t interval{}.",
                plural(reps as usize, "replication"),
                if reps < 2 { " (none with one replication)" } else { "" }
            ),
            &content,
        ));
    }
    let overview = section(
        "overview",
        "Overview",
        "Each variant ran with the baseline's random numbers, replication by replication, so each difference is paired.",
        &format!("<div class=\"cards\">\n{cards}</div>\n"),
    );
    sections.insert(0, overview);

    let titled: Vec<(&str, &tables::Daily)> = daily
        .iter()
        .map(|(column, d)| {
            let title = compare::SERIES
                .iter()
                .find(|(c, _)| c == column)
                .map_or(column.as_str(), |(_, t)| *t);
            (title, d)
        })
        .collect();
    sections.push(section(
        "daily",
        "Daily series",
        &format!(
            "Each arm's daily mean over its {} (compare_daily.csv), the baseline in black.",
            plural(reps as usize, "replication")
        ),
        &figures::daily_panels("Daily means of every arm", &titled, &arm_style),
    ));

    let facts = vec![
        ("variants", variants.join(", ")),
        ("replications", reps.to_string()),
        ("seed", base.seed.to_string()),
        ("sample", base.sample.to_string()),
        ("dates", span(&dates)),
    ];
    Ok(html::page(
        "tradesim comparison report",
        &base.scenario,
        &facts,
        &sections,
        &format!(
            "Written by tradesim {} from the tables in {}; scenario file {}.",
            env!("CARGO_PKG_VERSION"),
            dir.display(),
            base.scenario_file
        ),
    ))
}
