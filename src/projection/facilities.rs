//! `daily_facilities.csv` and the facilities' summary rows: per day and facility (hub,
//! line-haul, exchange office), arrivals, departures, backlog, utilisation and waits.
//!
//! A parcel counts as arrived on the day it arrived: at a hub from its arrival event;
//! at a line-haul when it was ready (its hub departure or dispatch); at an exchange
//! office when it clears, on the day it arrived there (the office's arrivals are not
//! events of their own, so parcels still queued there when the run ends are in neither
//! count). Parcels that arrived during the warm-up count on the first day.

use std::fmt::Write as _;

use super::summary::{EntityRows, Key};
use super::{Histogram, Value, hours, merge, opt};
use crate::event::context::{Context, FacilityKind};
use crate::event::{Event, EventKind};
use crate::model::date::DAY_S;

#[derive(Debug, Clone, Default)]
struct FacilityDay {
    arrived: u64,
    departed: u64,
    busy_s: u64,
    wait: Histogram,
}

pub(super) struct Facilities {
    /// Per day, per facility.
    days: Vec<FacilityDay>,
    n: usize,
    /// Per route: its line-haul, and whether its parcels reach it from a hub.
    linehaul: Vec<(Option<u16>, bool)>,
}

impl Facilities {
    pub(super) fn new(ctx: &Context) -> Facilities {
        let n = ctx.facilities.len();
        Facilities {
            days: vec![FacilityDay::default(); ctx.span_days() as usize * n],
            n,
            linehaul: ctx
                .routes
                .iter()
                .map(|r| (r.linehaul, r.hub.is_some()))
                .collect(),
        }
    }

    fn day(&mut self, day: usize, f: usize) -> &mut FacilityDay {
        &mut self.days[day * self.n + f]
    }

    /// A departure from facility `f` at `e.time_s` after `wait_s` in the queue and
    /// `service_s` on a line; `arrival_counted`: its arrival was counted already.
    fn departed(&mut self, e: &Event, f: usize, wait_s: u32, service_s: u32, counted: bool) {
        let day = (e.time_s / DAY_S) as usize;
        let x = self.day(day, f);
        x.departed += 1;
        x.wait.add(u64::from(wait_s));
        let arrival = i64::from(e.time_s) - i64::from(wait_s) - i64::from(service_s);
        if !counted || arrival < 0 {
            // Arrived during the warm-up, or not counted on arrival.
            self.day((arrival.max(0) / i64::from(DAY_S)) as usize, f)
                .arrived += 1;
        }
        // Line time counts on the days it was spent.
        let (mut from, end) = (e.time_s.saturating_sub(service_s), e.time_s);
        while from < end {
            let d = from / DAY_S;
            let until = end.min((d + 1) * DAY_S);
            self.day(d as usize, f).busy_s += u64::from(until - from);
            from = until;
        }
    }

    /// A parcel ready for its route's line-haul, if it has one.
    fn ready(&mut self, e: &Event, day: usize) {
        if let (Some(f), _) = self.linehaul[e.route.ix()] {
            self.day(day, usize::from(f)).arrived += 1;
        }
    }

    #[inline]
    pub(super) fn observe(&mut self, ctx: &Context, e: &Event) {
        let day = (e.time_s / DAY_S) as usize;
        match e.kind {
            EventKind::HubArrived { hub } => self.day(day, hub.ix()).arrived += 1,
            EventKind::HubDeparted {
                hub,
                wait_s,
                service_s,
                ..
            } => {
                self.departed(e, hub.ix(), wait_s, service_s, true);
                self.ready(e, day);
            }
            EventKind::Dispatched { .. } if !self.linehaul[e.route.ix()].1 => self.ready(e, day),
            EventKind::LinehaulDeparted { wait_s } => {
                if let Some(f) = ctx.routes[e.route.ix()].linehaul {
                    self.departed(e, usize::from(f), wait_s, 0, true);
                }
            }
            EventKind::CustomsCleared {
                wait_s, service_s, ..
            } => {
                if let Some(f) = ctx.routes[e.route.ix()].exchange {
                    self.departed(e, usize::from(f), wait_s, service_s, false);
                }
            }
            _ => {}
        }
    }

    /// Share of the day's capacity used: line time over the lines' time at a hub or an
    /// exchange office, departures over seats at a line-haul (none without a limit).
    /// A hub keeps its full-scale lines under `--sample` while only the sample's share
    /// of its parcels are counted, so its line time is set against that share.
    fn utilisation(ctx: &Context, f: usize, d: usize, x: &FacilityDay) -> Option<f64> {
        let dim = &ctx.facilities[f];
        let sample = if dim.full_scale { ctx.sample } else { 1.0 };
        match dim.kind {
            FacilityKind::Hub | FacilityKind::Exchange => {
                let lines = f64::from(dim.simulated_lines_by_day[d]);
                (lines > 0.0).then(|| x.busy_s as f64 / (lines * f64::from(DAY_S) * sample))
            }
            FacilityKind::Linehaul => dim.capacity_by_day[d]
                .filter(|c| *c > 0)
                .map(|c| x.departed as f64 / (c as f64 * ctx.sample)),
        }
    }

    pub(super) fn render(&self, ctx: &Context, date: impl Fn(usize) -> String, t: &mut String) {
        let mut backlog = vec![0i64; self.n];
        for d in 0..ctx.span_days() as usize {
            for (f, dim) in ctx.facilities.iter().enumerate() {
                let x = &self.days[d * self.n + f];
                backlog[f] += x.arrived as i64 - x.departed as i64;
                let _ = writeln!(
                    t,
                    "{},{},{},{},{},{},{},{},{},{},{},{}",
                    date(d),
                    dim.id,
                    dim.kind.name(),
                    dim.lines_by_day[d],
                    dim.simulated_lines_by_day[d],
                    dim.capacity_by_day[d].map_or(String::new(), |c| c.to_string()),
                    x.arrived,
                    x.departed,
                    backlog[f],
                    opt(Self::utilisation(ctx, f, d, x)),
                    opt(x.wait.mean().map(hours)),
                    opt(x.wait.percentile(0.95).map(hours)),
                );
            }
        }
    }

    /// Per facility over the run: arrivals, the largest backlog at a day's end, the
    /// busiest day's utilisation, and waits (over the run, and the worst day's p95); each facility by its kind and id (a hub's,
    /// a line-haul's route's, an exchange office's market's).
    pub(super) fn summary(&self, ctx: &Context, rows: &mut Vec<(Key, Value)>) {
        for (f, dim) in ctx.facilities.iter().enumerate() {
            let mut arrived = 0;
            let mut backlog = 0i64;
            let mut max_backlog = 0i64;
            let mut wait = Histogram::default();
            let mut peak_util: Option<f64> = None;
            let mut peak_day_p95: Option<f64> = None;
            for d in 0..ctx.span_days() as usize {
                let x = &self.days[d * self.n + f];
                arrived += x.arrived;
                backlog += x.arrived as i64 - x.departed as i64;
                max_backlog = max_backlog.max(backlog);
                merge(&mut wait, &x.wait);
                if let Some(u) = Self::utilisation(ctx, f, d, x) {
                    peak_util = Some(peak_util.map_or(u, |p| p.max(u)));
                }
                if let Some(p95) = x.wait.percentile(0.95).map(hours) {
                    peak_day_p95 = Some(peak_day_p95.map_or(p95, |p| p.max(p95)));
                }
            }
            let mut r = EntityRows::of(rows, dim.kind.into(), &dim.id);
            r.push("arrived", Value::Count(arrived as i64));
            r.push("max_backlog", Value::Count(max_backlog));
            r.push("peak_utilisation", Value::Decimal(peak_util));
            r.push("mean_wait_hours", Value::Decimal(wait.mean().map(hours)));
            r.push(
                "p95_wait_hours",
                Value::Decimal(wait.percentile(0.95).map(hours)),
            );
            // The worst day's 95th percentile: the wait on the peak days, which a run's
            // percentile over all its days dilutes.
            r.push("peak_day_p95_wait_hours", Value::Decimal(peak_day_p95));
        }
    }
}
