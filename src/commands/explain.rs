//! `tradesim explain`: one order's story, told from the event log alone.
//!
//! The log is streamed; only the order's own events are kept. An order's events can lie
//! anywhere after its placement (a return or the seller's payment comes days later), so
//! the whole log is read unless the order has ended for certain (cancelled, refused, or
//! both returned and paid for).

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::Error;
use crate::commands::replay::{locate_log, open_log};
use crate::event::context::Context;
use crate::event::{Event, EventKind};
use crate::model::date::DAY_S;
use crate::model::date::Date;
use crate::projection::usd;

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// What `explain` was asked to do.
#[derive(Debug, Clone)]
pub struct Config {
    /// A run directory (with events.csv), or an events.csv file.
    pub run_dir: PathBuf,
    pub order_id: u64,
}

pub fn command(args: Config, stop: &AtomicBool, out: &mut dyn Write) -> Result<(), Error> {
    let loc = locate_log(&args.run_dir)?;
    let mut reader = open_log(&loc.log)?;
    let id = args.order_id;
    let mut events = Vec::new();
    let mut highest: Option<u64> = None;
    while let Some(e) = reader.next_event()? {
        highest = highest.max(Some(e.order_id));
        if e.order_id == id {
            events.push(e);
            let seen = |f: fn(&EventKind) -> bool| events.iter().any(|e| f(&e.kind));
            if matches!(
                e.kind,
                EventKind::OrderCancelled { .. } | EventKind::Refused { .. }
            ) || (seen(|k| matches!(k, EventKind::Returned { .. }))
                && seen(|k| matches!(k, EventKind::SellerPaid { .. })))
            {
                break;
            }
        }
        if reader.events_read() % (1 << 16) == 0 && stop.load(Ordering::Relaxed) {
            return Err(Error::Interrupted);
        }
    }
    if events.is_empty() {
        let held = match highest {
            Some(h) => format!("its order ids run from 0 to {h}"),
            None => "it holds no events".to_string(),
        };
        return Err(Error::BadInput(format!(
            "order {id} is not in {}: {held}",
            loc.log.display()
        )));
    }
    out.write_all(story(&reader.context, id, &events).as_bytes())
        .map_err(Error::stdout)
}

/// The story of order `id` from its events, in log order.
pub fn story(ctx: &Context, id: u64, events: &[Event]) -> String {
    let start = Date::parse(&ctx.start_date).expect("the log reader checks the start date");
    let horizon_s = ctx.span_days() * DAY_S;
    let first = &events[0];
    let route = &ctx.routes[first.route.ix()];
    let market = &ctx.markets[first.market.ix()];
    let pool = &ctx.pools[usize::from(route.pool)];
    let hub = route.hub.map(|h| ctx.hubs()[usize::from(h)].id.as_str());
    let mut s = String::new();

    let _ = writeln!(
        s,
        "Order {id} (scenario {}, seed {}, replication {}, sample {})",
        ctx.scenario, ctx.seed, ctx.replication, ctx.sample
    );
    let via = hub.map_or("direct".to_string(), |h| format!("via hub {h}"));
    let _ = writeln!(
        s,
        "  route      {} ({} sellers to market {}, {via})",
        route.id, pool.id, market.id
    );
    let placed = events.iter().find_map(|e| match e.kind {
        EventKind::OrderPlaced {
            seller,
            category,
            method,
            value_cents,
        } => Some((seller, category, method, value_cents)),
        _ => None,
    });
    let cod = placed.is_some_and(|(_, _, method, _)| market.at_delivery[method.ix()]);
    match placed {
        Some((seller, category, _, value_cents)) => {
            let tier = ctx.tier_of(usize::from(route.pool), seller);
            let tier = if pool.tiers.len() > 1 {
                format!(", size tier `{}`", pool.tiers[tier].0)
            } else {
                String::new()
            };
            let _ = writeln!(
                s,
                "  seller     rank {seller} of {} in pool {} by popularity (0 = most popular){tier}",
                pool.count, pool.id
            );
            let _ = writeln!(
                s,
                "  goods      {} worth {} USD",
                ctx.categories[category.ix()],
                usd(i64::from(value_cents))
            );
        }
        None => {
            let _ = writeln!(s, "  (its placement is not in the log)");
        }
    }
    let _ = writeln!(s);

    let at = |t: u32| {
        let day = start.add_days(i64::from(t / DAY_S));
        let sec = t % DAY_S;
        format!(
            "{day} {} {:02}:{:02}:{:02}",
            WEEKDAYS[day.weekday()],
            sec / 3600,
            sec / 60 % 60,
            sec % 60
        )
    };
    let placed_at = first.time_s;
    let mut prev_t = first.time_s;
    let mut paid_at = None;
    let mut delivered_at = None;
    let mut hub_arrived_at = None;
    let mut attempts = 0;
    let mut ended = false;
    // The seller's money on this order, in cents: what it received less what it paid.
    let mut seller_net: i64 = 0;
    let mut seller_paid = false;
    for e in events {
        let since = dur(e.time_s - prev_t);
        let line = match e.kind {
            EventKind::OrderPlaced { method, .. } => {
                format!(
                    "placed in market {}, to be paid by {}",
                    market.id,
                    market.methods[method.ix()]
                )
            }
            EventKind::PaymentAttempted {
                method,
                attempt,
                success,
            } => {
                attempts = attempt;
                let outcome = if success {
                    paid_at = Some(e.time_s);
                    "succeeded"
                } else {
                    "failed"
                };
                let after = if attempt > 1 {
                    format!(", {since} after the previous attempt")
                } else {
                    String::new()
                };
                if market.at_delivery[method.ix()] {
                    let outcome = if success {
                        "confirmed"
                    } else {
                        "not confirmed"
                    };
                    format!(
                        "confirmation attempt {attempt} for {} (paid in cash at the door): {outcome}{after}",
                        market.methods[method.ix()]
                    )
                } else {
                    format!(
                        "payment attempt {attempt} by {}: {outcome}{after}",
                        market.methods[method.ix()]
                    )
                }
            }
            EventKind::OrderCancelled {
                value_cents,
                attempts: 0,
                ..
            } => {
                ended = true;
                format!(
                    "cancelled: the buyer abandoned it before paying (or confirming); the {} USD order is void",
                    usd(i64::from(value_cents))
                )
            }
            EventKind::OrderCancelled { value_cents, .. } => {
                ended = true;
                let failed = if attempts == 1 {
                    "its only payment attempt failed".to_string()
                } else {
                    format!("all {attempts} payment attempts failed")
                };
                format!(
                    "cancelled: {failed}; the {} USD order is void",
                    usd(i64::from(value_cents))
                )
            }
            EventKind::Dispatched { freight_cents, .. } => {
                seller_net -= i64::from(freight_cents);
                let paid = if cod { "confirmation" } else { "payment" };
                let after = paid_at.map_or(String::new(), |p| {
                    format!(", {} after {paid}", dur(e.time_s - p))
                });
                format!(
                    "dispatched by the seller{after}; the seller paid {} USD freight",
                    usd(i64::from(freight_cents))
                )
            }
            EventKind::HubArrived { hub } => {
                hub_arrived_at = Some(e.time_s);
                format!(
                    "arrived at hub {}, {since} after dispatch",
                    ctx.hubs()[hub.ix()].id
                )
            }
            EventKind::HubDeparted {
                hub,
                wait_s,
                service_s,
                fee_cents,
                finance_cents,
                ..
            } => {
                seller_net -= i64::from(fee_cents) + i64::from(finance_cents);
                let dim = &ctx.hubs()[hub.ix()];
                let (hub, service) = (&dim.id, dur(service_s));
                let mut fees = format!(
                    "; the seller paid the hub {} USD",
                    usd(i64::from(fee_cents))
                );
                if finance_cents > 0 {
                    let _ = write!(
                        fees,
                        " and {} USD for e-finance (paid now instead of at settlement)",
                        usd(i64::from(finance_cents))
                    );
                }
                let left = if wait_s == 0 {
                    format!("left hub {hub} after {service} on a line, without queueing")
                } else {
                    // Days of the wait on which the hub had no line at all.
                    let served = e.time_s.saturating_sub(service_s);
                    let closed: Vec<String> = (served.saturating_sub(wait_s) / DAY_S
                        ..=served / DAY_S)
                        .filter(|&d| dim.simulated_lines_by_day.get(d as usize) == Some(&0))
                        .map(|d| start.add_days(i64::from(d)).to_string())
                        .collect();
                    let why = if closed.is_empty() {
                        String::new()
                    } else {
                        format!(" (the hub had no lines on {})", closed.join(", "))
                    };
                    format!(
                        "left hub {hub} after {} in its queue{why} and {service} on a line",
                        dur(wait_s)
                    )
                };
                left + &fees
            }
            EventKind::LinehaulDeparted { wait_s } => format!(
                "left on route {}'s line-haul, {} after it was ready for it (the departures' cut-offs and seats decide the wait)",
                route.id,
                dur(wait_s)
            ),
            EventKind::CustomsCleared {
                duty_cents,
                vat_cents,
                inspected,
                wait_s,
                service_s,
            } => {
                let charges = if u64::from(duty_cents) + u64::from(vat_cents) > 0 {
                    format!(
                        "duty {} USD and VAT {} USD charged (its value is above the market's de minimis threshold)",
                        usd(i64::from(duty_cents)),
                        usd(i64::from(vat_cents))
                    )
                } else {
                    "no duty or VAT (its value is below the market's de minimis threshold)"
                        .to_string()
                };
                let held = if inspected {
                    "held for inspection (customs picks parcels at random; the hold is part of that time)"
                } else {
                    "not inspected"
                };
                let office = if route.exchange.is_some() {
                    format!(
                        " through its exchange office ({} queued, {} on a line)",
                        dur(wait_s),
                        dur(service_s)
                    )
                } else {
                    String::new()
                };
                format!(
                    "cleared customs in {}{office}, {since} after {}; {charges}; {held}",
                    market.id,
                    if route.linehaul.is_some() {
                        "the line-haul left"
                    } else if hub.is_some() {
                        "leaving the hub"
                    } else {
                        "dispatch"
                    }
                )
            }
            EventKind::Delivered {
                lead_s,
                collected_cents,
            } => {
                delivered_at = Some(e.time_s);
                let cash = if collected_cents > 0 {
                    format!(
                        "; the buyer paid {} USD in cash at the door, held by the carrier until it remits it",
                        usd(i64::from(collected_cents))
                    )
                } else {
                    String::new()
                };
                format!(
                    "delivered, {since} after customs; lead time {} from placement{cash}",
                    dur(lead_s)
                )
            }
            EventKind::Refused { freight_cents, .. } => {
                ended = true;
                seller_net -= i64::from(freight_cents);
                format!(
                    "refused at the door, {since} after customs: nobody pays for the goods, which go back to the seller, who pays {} USD return freight",
                    usd(i64::from(freight_cents))
                )
            }
            EventKind::Returned {
                value_cents,
                freight_cents,
                ..
            } => {
                seller_net -= i64::from(value_cents) + i64::from(freight_cents);
                let after = delivered_at.map_or(String::new(), |d| {
                    format!(", {} after delivery", dur(e.time_s - d))
                });
                format!(
                    "returned by the buyer{after}: the seller refunded {} USD and paid {} USD return freight",
                    usd(i64::from(value_cents)),
                    usd(i64::from(freight_cents))
                )
            }
            EventKind::SellerPaid {
                value_cents,
                commission_cents,
                fee_cents,
                to_cash_s,
                ..
            } => {
                seller_paid = true;
                let net =
                    i64::from(value_cents) - i64::from(commission_cents) - i64::from(fee_cents);
                seller_net += net;
                format!(
                    "the seller was paid {} USD: {} USD less the platform's {} USD commission and {} USD payment fees; {} after dispatch",
                    usd(net),
                    usd(i64::from(value_cents)),
                    usd(i64::from(commission_cents)),
                    usd(i64::from(fee_cents)),
                    dur(to_cash_s)
                )
            }
        };
        let _ = writeln!(s, "  {}  {line}", at(e.time_s));
        prev_t = e.time_s;
    }

    let _ = writeln!(s);
    let last = events.last().expect("at least one event");
    let returned = events
        .iter()
        .any(|e| matches!(e.kind, EventKind::Returned { .. }));
    let outcome = if ended {
        match last.kind {
            EventKind::Refused { .. } => format!(
                "refused at the door {} after it was placed",
                dur(last.time_s - placed_at)
            ),
            _ => "cancelled before dispatch".to_string(),
        }
    } else if let Some(d) = delivered_at {
        let then = match (returned, seller_paid) {
            (true, true) => "then returned".to_string(),
            (true, false) => format!(
                "then returned; the seller not yet paid by the end of the horizon ({})",
                at(horizon_s)
            ),
            (false, true) => format!("not returned by the end of the horizon ({})", at(horizon_s)),
            (false, false) => format!(
                "not returned, and the seller not yet paid, by the end of the horizon ({})",
                at(horizon_s)
            ),
        };
        format!("delivered in {}; {then}", dur(d - placed_at))
    } else {
        let where_ = match last.kind {
            EventKind::OrderPlaced { .. } => "waiting for payment".to_string(),
            EventKind::PaymentAttempted { success: false, .. } => {
                "waiting to retry its payment".to_string()
            }
            EventKind::PaymentAttempted { success: true, .. } => {
                "paid, waiting for the seller to dispatch it".to_string()
            }
            EventKind::Dispatched { .. } => match hub {
                Some(h) => format!("on its way to hub {h}"),
                None if route.linehaul.is_some() => {
                    "waiting for its line-haul departure".to_string()
                }
                None => format!("in transit to {} or at its customs", market.id),
            },
            EventKind::HubArrived { hub } => format!(
                "queued at hub {} for {}",
                ctx.hubs()[hub.ix()].id,
                dur(horizon_s - hub_arrived_at.unwrap_or(last.time_s))
            ),
            EventKind::HubDeparted { .. } if route.linehaul.is_some() => {
                "waiting for its line-haul departure".to_string()
            }
            EventKind::HubDeparted { .. } | EventKind::LinehaulDeparted { .. } => {
                format!("in transit to {} or at its customs", market.id)
            }
            EventKind::CustomsCleared { .. } => "on the last mile to the buyer".to_string(),
            _ => "in an unknown state".to_string(),
        };
        format!(
            "still in flight at the end of the horizon ({}): {where_}, {} after it was placed",
            at(horizon_s),
            dur(horizon_s - placed_at)
        )
    };
    let _ = writeln!(s, "Outcome: {outcome}.");
    if events
        .iter()
        .any(|e| matches!(e.kind, EventKind::Dispatched { .. }))
    {
        let _ = writeln!(
            s,
            "Seller's money on this order so far: {} USD (payments received less freight, hub fees, e-finance and refunds).",
            usd(seller_net)
        );
    }
    s
}

/// A duration in the unit a reader would use: seconds, minutes, hours or days.
pub fn dur(s: u32) -> String {
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", (s + 30) / 60),
        3600..172_800 => format!("{:.1} h", f64::from(s) / 3600.0),
        _ => format!("{:.1} days", f64::from(s) / f64::from(DAY_S)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(dur(0), "0 s");
        assert_eq!(dur(59), "59 s");
        assert_eq!(dur(300), "5 min");
        assert_eq!(dur(5400), "1.5 h");
        assert_eq!(dur(3 * DAY_S + DAY_S / 2), "3.5 days");
    }
}
