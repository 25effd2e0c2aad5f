//! Per-run lookup tables derived from the scenario: cumulative shares, popularity
//! tables, the facilities' queues after sampling, and the run's context.
//!
//! Times inside the engine count from the start of the warm-up (`warmup_s` before the
//! scenario's start); events leave it counted from the start.

use super::*;

/// Per-run lookup tables derived from the scenario.
pub struct Plan<'a> {
    pub scenario: &'a Scenario,
    pub params: RunParams,
    /// The end of the run (the warm-up, the horizon and the drain).
    pub horizon_s: u32,
    pub warmup_s: u32,
    /// From each dated change's day on (the first from day 0), the scenario in force and
    /// its markets' tables.
    pub(super) epochs: Vec<EpochPlan<'a>>,
    pub(super) pools: Vec<PoolPlan>,
    /// Every facility's queue as the run starts, in `Context::facilities` order.
    pub facilities: Vec<Facility>,
    /// Per route, the facilities its parcels queue at.
    pub(super) stops: Vec<Stops>,
    /// Per facility, its kind and the index of its hub, route or market.
    owners: Vec<(context::FacilityKind, usize)>,
    /// Under `--sample`, hubs keep their full-scale queue: orders beyond the sample that
    /// are bound for a hub join its queue as shadows (`Parcel::shadow`).
    pub(super) shadows: bool,
}

/// The facilities on a route, as indices into `Plan::facilities`.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Stops {
    pub(super) hub: Option<u16>,
    pub(super) linehaul: Option<u16>,
    pub(super) exchange: Option<u16>,
}

pub(super) struct EpochPlan<'a> {
    pub(super) from_day: u32,
    pub(super) scenario: &'a Scenario,
    pub(super) markets: Vec<MarketPlan>,
}

pub(super) struct MarketPlan {
    pub(super) pools: Vec<PoolId>,
    pub(super) pool_cdf: Vec<f64>,
    pub(super) categories: Vec<u8>,
    pub(super) category_cdf: Vec<f64>,
    pub(super) method_cdf: Vec<f64>,
    /// The pools whose route goes via a hub, their cumulative shares among themselves,
    /// and their share of all orders.
    pub(super) hub_pools: Vec<PoolId>,
    pub(super) hub_pool_cdf: Vec<f64>,
    pub(super) hub_share: f64,
}

/// Draws a seller's popularity rank: Zipf-like weights 1/k^s over ranks k = 1..count.
pub(super) enum PoolPlan {
    Uniform(u32),
    /// An alias table: one draw per sample, no `powf` (pools up to `ALIAS_MAX` sellers).
    Alias(AliasTable),
    /// Rejection-inversion for larger pools.
    Zipf(Zipf<f64>, u32),
}

/// Largest pool sampled through an alias table (8 MiB of table at most).
pub(super) const ALIAS_MAX: u32 = 1 << 20;

impl PoolPlan {
    pub(super) fn new(count: u32, exponent: f64) -> PoolPlan {
        if exponent == 0.0 || count == 1 {
            PoolPlan::Uniform(count)
        } else if count <= ALIAS_MAX {
            let weights: Vec<f64> = (1..=count).map(|k| f64::from(k).powf(-exponent)).collect();
            PoolPlan::Alias(AliasTable::new(&weights))
        } else {
            PoolPlan::Zipf(
                Zipf::new(f64::from(count), exponent).expect("validated zipf"),
                count,
            )
        }
    }

    /// Draws a seller's popularity rank (0 = most popular), to be read with
    /// `finish_rank` once other work has hidden any wait for memory.
    #[inline]
    pub(super) fn start_rank<R: Rng + ?Sized>(&self, rng: &mut R) -> RankDraw {
        match self {
            PoolPlan::Uniform(count) => RankDraw::Ready(rand::RngExt::random_range(rng, 0..*count)),
            PoolPlan::Alias(table) => RankDraw::Alias(table.start(rng)),
            PoolPlan::Zipf(z, count) => {
                RankDraw::Ready((z.sample(rng) as u32).clamp(1, *count) - 1)
            }
        }
    }

    #[inline]
    pub(super) fn finish_rank(&self, draw: RankDraw) -> u32 {
        match (self, draw) {
            (_, RankDraw::Ready(rank)) => rank,
            (PoolPlan::Alias(table), RankDraw::Alias(draw)) => table.finish(draw),
            _ => unreachable!("a draw is finished by the pool that started it"),
        }
    }
}

/// A seller rank being drawn.
#[derive(Clone, Copy)]
pub(super) enum RankDraw {
    Ready(u32),
    Alias(alias::AliasDraw),
}

pub(super) fn cdf(weights: &[f64]) -> Vec<f64> {
    let total: f64 = weights.iter().sum();
    let mut acc = 0.0;
    let mut out: Vec<f64> = weights
        .iter()
        .map(|w| {
            acc += w / total;
            acc
        })
        .collect();
    if let Some(last) = out.last_mut() {
        *last = f64::INFINITY;
    }
    out
}

impl<'a> Plan<'a> {
    pub fn new(scenario: &'a Scenario, params: RunParams) -> Plan<'a> {
        let epochs: Vec<EpochPlan> = std::iter::once((0, scenario))
            .chain(scenario.epochs.iter().map(|(day, s)| (*day, &**s)))
            .map(|(from_day, s)| EpochPlan {
                from_day,
                scenario: s,
                markets: Self::market_plans(s),
            })
            .collect();
        let pools = scenario
            .pools
            .iter()
            .map(|p| PoolPlan::new(p.count, p.popularity_zipf))
            .collect();
        let warmup = scenario.warmup_days;
        let mut plan = Plan {
            scenario,
            params,
            horizon_s: (warmup + scenario.simulated_days()) * DAY_S,
            warmup_s: warmup * DAY_S,
            epochs,
            pools,
            facilities: Vec::new(),
            stops: vec![Stops::default(); scenario.routes.len()],
            owners: Vec::new(),
            shadows: params.sample < 1.0 && scenario.routes.iter().any(|r| r.hub.is_some()),
        };
        let days = warmup + scenario.simulated_days();
        // The scenario in force on each day of the run (the first day's in the warm-up).
        let on = |d: u32| -> (&Scenario, u32) {
            let day = d.saturating_sub(warmup);
            (scenario.on_day(day), day)
        };
        let changes = |value: &dyn Fn(u32) -> u32| -> Vec<(u32, u32)> {
            (0..days)
                .filter(|&d| d == 0 || value(d) != value(d - 1))
                .map(|d| (d, value(d)))
                .collect()
        };
        for hi in 0..scenario.hubs.len() {
            let regimes = changes(&|d| {
                let (s, day) = on(d);
                s.hubs[hi].lines_on(day)
            })
            .into_iter()
            .map(|(day, lines)| Regime {
                from_s: day * DAY_S,
                lines,
                service_scale: 1.0,
            })
            .collect();
            plan.facilities
                .push(Facility::Lines(LineQueue::new(regimes)));
            plan.owners.push((context::FacilityKind::Hub, hi));
        }
        for (ri, route) in scenario.routes.iter().enumerate() {
            plan.stops[ri].hub = route.hub.map(|h| h.0 as u16);
            if route.linehaul.is_none() {
                continue;
            }
            let mut schedule = Vec::new();
            let mut capacities = Vec::new();
            for d in 0..days {
                let (s, _) = on(d);
                let l = s.routes[ri].linehaul.as_ref().expect("the shape holds");
                for t in &l.departures_s {
                    let time_s = d * DAY_S + t;
                    schedule.push(Departure {
                        deadline_s: time_s.saturating_sub(l.cutoff_s),
                        time_s,
                        seats: 0,
                    });
                    capacities.push(l.capacity);
                }
            }
            for (d, seats) in schedule
                .iter_mut()
                .zip(sampled_seats(&capacities, params.sample))
            {
                d.seats = seats;
            }
            plan.stops[ri].linehaul = Some(plan.facilities.len() as u16);
            plan.facilities
                .push(Facility::Departures(Departures::new(schedule)));
            plan.owners.push((context::FacilityKind::Linehaul, ri));
        }
        for (mi, market) in scenario.markets.iter().enumerate() {
            if market.exchange_office.is_none() {
                continue;
            }
            let office = |d: u32| {
                let (s, _) = on(d);
                s.markets[mi].exchange_office.expect("the shape holds")
            };
            // The lines' service time is the office's, scaled: parcels ask for 1 s.
            let regimes = changes(&|d| office(d).lines)
                .into_iter()
                .flat_map(|(day, _)| {
                    // A day where only the service time changed starts a regime too.
                    std::iter::once(day)
                })
                .chain((1..days).filter(|&d| office(d).service_s != office(d - 1).service_s))
                .collect::<std::collections::BTreeSet<u32>>()
                .into_iter()
                .map(|day| {
                    let o = office(day);
                    let (lines, scale) = sampled_lines(o.lines, params.sample);
                    Regime {
                        from_s: day * DAY_S,
                        lines,
                        service_scale: scale * o.service_s,
                    }
                })
                .collect();
            let id = plan.facilities.len() as u16;
            plan.facilities
                .push(Facility::Lines(LineQueue::new(regimes)));
            plan.owners.push((context::FacilityKind::Exchange, mi));
            for (ri, route) in scenario.routes.iter().enumerate() {
                if route.market.ix() == mi && !route.green_lane {
                    plan.stops[ri].exchange = Some(id);
                }
            }
        }
        plan
    }

    /// Each market's cumulative shares of pools, categories and payment methods.
    fn market_plans(scenario: &Scenario) -> Vec<MarketPlan> {
        scenario
            .markets
            .iter()
            .enumerate()
            .map(|(mi, m)| {
                let shares = &scenario.demand[mi].shares;
                let pools: Vec<PoolId> = (0..shares.len())
                    .filter(|p| shares[*p] > 0.0)
                    .map(|p| PoolId(p as u8))
                    .collect();
                let pool_w: Vec<f64> = pools.iter().map(|p| shares[p.ix()]).collect();
                let categories: Vec<u8> = (0..m.category_weights.len())
                    .filter(|c| m.category_weights[*c] > 0.0)
                    .map(|c| c as u8)
                    .collect();
                let cat_w: Vec<f64> = categories
                    .iter()
                    .map(|c| m.category_weights[*c as usize])
                    .collect();
                let method_w: Vec<f64> = m.payment.iter().map(|p| p.share).collect();
                let via_hub = |p: &PoolId| {
                    scenario.route_of[mi][p.ix()]
                        .is_some_and(|r| scenario.routes[r.ix()].hub.is_some())
                };
                let hub_pools: Vec<PoolId> = pools.iter().copied().filter(via_hub).collect();
                let hub_w: Vec<f64> = hub_pools.iter().map(|p| shares[p.ix()]).collect();
                let total: f64 = pool_w.iter().sum();
                MarketPlan {
                    pool_cdf: cdf(&pool_w),
                    pools,
                    hub_share: hub_w.iter().sum::<f64>() / total,
                    hub_pool_cdf: cdf(&hub_w),
                    hub_pools,
                    category_cdf: cdf(&cat_w),
                    categories,
                    method_cdf: cdf(&method_w),
                }
            })
            .collect()
    }

    /// The scenario in force on day `run_day` of the run (counted from the warm-up's
    /// start) and its tables; the warm-up runs under the first day's.
    #[inline]
    pub(super) fn epoch(&self, run_day: u32) -> &EpochPlan<'a> {
        match self.epochs.len() {
            1 => &self.epochs[0],
            _ => {
                let day = run_day.saturating_sub(self.warmup_s / DAY_S);
                let i = self.epochs.partition_point(|e| e.from_day <= day);
                &self.epochs[i.saturating_sub(1)]
            }
        }
    }

    /// The kind of facility `f`.
    #[inline]
    pub(super) fn facility_kind(&self, f: u16) -> context::FacilityKind {
        self.owners[usize::from(f)].0
    }

    /// Expected shadow orders (`Parcel::shadow`) in `market` in an hour of day
    /// `run_day` whose sampled rate is `sampled`: the full-scale orders beyond the
    /// sample that are bound for a hub.
    pub(super) fn shadow_rate(&self, market: MarketId, run_day: u32, sampled: f64) -> f64 {
        let sample = self.params.sample;
        sampled / sample * (1.0 - sample) * self.epoch(run_day).markets[market.ix()].hub_share
    }

    /// The day of the scenario that day `run_day` of the run is, as the random streams
    /// number it: warm-up days count back from 2^32.
    pub(super) fn stream_day(&self, run_day: u32) -> u32 {
        run_day.wrapping_sub(self.warmup_s / DAY_S)
    }

    /// The run's dimensions, as its tables and its log's header need them.
    pub fn context(&self) -> Context {
        let plan = self;
        let s = plan.scenario;
        Context {
            scenario: s.name.clone(),
            start_date: s.start.to_string(),
            utc_offset: s.utc_offset.to_string(),
            days: s.days,
            drain_days: s.drain_days,
            warmup_days: s.warmup_days,
            seed: plan.params.seed,
            replication: plan.params.replication,
            sample: plan.params.sample,
            markets: s
                .markets
                .iter()
                .map(|m| context::MarketDim {
                    id: m.id.clone(),
                    methods: m.payment.iter().map(|p| p.method.clone()).collect(),
                    at_delivery: m.payment.iter().map(|p| p.at_delivery).collect(),
                })
                .collect(),
            categories: s.categories.clone(),
            pools: s
                .pools
                .iter()
                .map(|p| context::PoolDim {
                    id: p.id.clone(),
                    count: p.count,
                    tiers: p.size_tiers.clone(),
                })
                .collect(),
            routes: s
                .routes
                .iter()
                .enumerate()
                .map(|(ri, r)| context::RouteDim {
                    id: r.id.clone(),
                    market: r.market.0,
                    pool: r.pool.0,
                    hub: r.hub.map(|h| h.0),
                    linehaul: plan.stops[ri].linehaul,
                    exchange: plan.stops[ri].exchange,
                })
                .collect(),
            facilities: (0..plan.facilities.len())
                .map(|f| plan.facility_dim(f))
                .collect(),
        }
    }

    /// A facility's dimensions over the days of the span.
    fn facility_dim(&self, f: usize) -> context::FacilityDim {
        use context::FacilityKind::*;
        let (kind, owner) = self.owners[f];
        let days = 0..self.scenario.simulated_days();
        let on = |d: u32| self.scenario.on_day(d);
        let sample = self.params.sample;
        let (lines, simulated, capacity): (Vec<u32>, Vec<u32>, Vec<Option<u64>>) = match kind {
            Hub => {
                let lines: Vec<u32> = days.map(|d| on(d).hubs[owner].lines_on(d)).collect();
                let capacity = lines
                    .iter()
                    .zip(0..)
                    .map(|(l, d)| {
                        let mean = on(d).hubs[owner].service_time.mean();
                        (mean > 0.0)
                            .then(|| (f64::from(*l) * f64::from(DAY_S) / mean).round() as u64)
                    })
                    .collect();
                (lines.clone(), lines, capacity)
            }
            Linehaul => {
                let l = |d: u32| {
                    on(d).routes[owner]
                        .linehaul
                        .clone()
                        .expect("the shape holds")
                };
                let lines: Vec<u32> = days
                    .clone()
                    .map(|d| l(d).departures_s.len() as u32)
                    .collect();
                let capacity = days.map(|d| l(d).daily_capacity()).collect();
                (lines.clone(), lines, capacity)
            }
            Exchange => {
                let o = |d: u32| {
                    on(d).markets[owner]
                        .exchange_office
                        .expect("the shape holds")
                };
                let lines = days.clone().map(|d| o(d).lines).collect();
                let simulated = days
                    .clone()
                    .map(|d| sampled_lines(o(d).lines, sample).0)
                    .collect();
                let capacity = days
                    .map(|d| {
                        let o = o(d);
                        Some((f64::from(o.lines) * f64::from(DAY_S) / o.service_s).round() as u64)
                    })
                    .collect();
                (lines, simulated, capacity)
            }
        };
        context::FacilityDim {
            id: match kind {
                Hub => self.scenario.hubs[owner].id.clone(),
                Linehaul => self.scenario.routes[owner].id.clone(),
                Exchange => self.scenario.markets[owner].id.clone(),
            },
            kind,
            lines_by_day: lines,
            simulated_lines_by_day: simulated,
            capacity_by_day: capacity,
            full_scale: kind == Hub,
        }
    }

    /// Expected orders in `market` during hour `hour` of day `run_day` of the run, at
    /// the run's sample. A warm-up day has the demand of the first day's scenario on its
    /// own date (its weekday), without peaks.
    pub fn hourly_rate(&self, market: MarketId, run_day: u32, hour: u32) -> f64 {
        let warmup = self.warmup_s / DAY_S;
        let daily = if run_day < warmup {
            let s = self.scenario;
            let date = s.start.add_days(i64::from(run_day) - i64::from(warmup));
            s.base_orders(market, date)
        } else {
            let day = run_day - warmup;
            if day >= self.scenario.days {
                return 0.0; // the drain: no new orders
            }
            self.epoch(run_day).scenario.expected_orders(market, day)
        };
        let s = self.epoch(run_day).scenario;
        daily * self.params.sample * s.markets[market.ix()].intraday[hour as usize]
    }
}
