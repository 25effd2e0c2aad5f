//! Per-run lookup tables derived from the scenario: cumulative shares, popularity
//! tables, hub regimes after sampling, and the run's context.

use super::*;

/// Per-run lookup tables derived from the scenario.
pub struct Plan<'a> {
    pub scenario: &'a Scenario,
    pub params: RunParams,
    pub horizon_s: u32,
    /// From each dated change's day on (the first from day 0), the scenario in force and
    /// its markets' tables.
    pub(super) epochs: Vec<EpochPlan<'a>>,
    pub(super) pools: Vec<PoolPlan>,
    /// Per hub, the regimes of lines and service scale (after sampling).
    pub hub_regimes: Vec<Vec<Regime>>,
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
        let epochs = std::iter::once((0, scenario))
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
        let hub_regimes = scenario
            .hubs
            .iter()
            .enumerate()
            .map(|(hi, h)| {
                // With dated changes, a day's lines are those its scenario gives it.
                let by_day: Vec<(u32, u32)> = if scenario.epochs.is_empty() {
                    std::iter::once((0, h.lines))
                        .chain(h.capacity_changes.iter().copied())
                        .collect()
                } else {
                    let lines = |d: u32| scenario.on_day(d).hubs[hi].lines_on(d);
                    (0..scenario.simulated_days())
                        .filter(|&d| d == 0 || lines(d) != lines(d - 1))
                        .map(|d| (d, lines(d)))
                        .collect()
                };
                by_day
                    .into_iter()
                    .map(|(day, lines)| {
                        let (lines, service_scale) = sampled_lines(lines, params.sample);
                        Regime {
                            from_s: day * DAY_S,
                            lines,
                            service_scale,
                        }
                    })
                    .collect()
            })
            .collect();
        Plan {
            scenario,
            params,
            horizon_s: scenario.simulated_days() * DAY_S,
            epochs,
            pools,
            hub_regimes,
        }
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
                MarketPlan {
                    pool_cdf: cdf(&pool_w),
                    pools,
                    category_cdf: cdf(&cat_w),
                    categories,
                    method_cdf: cdf(&method_w),
                }
            })
            .collect()
    }

    /// The scenario in force on `day` and its tables.
    #[inline]
    pub(super) fn epoch(&self, day: u32) -> &EpochPlan<'a> {
        match self.epochs.len() {
            1 => &self.epochs[0],
            _ => {
                let i = self.epochs.partition_point(|e| e.from_day <= day);
                &self.epochs[i.saturating_sub(1)]
            }
        }
    }

    /// Lines of hub `hub` on `day` at full scale, as the dated changes leave them.
    fn lines_on(&self, hub: usize, day: u32) -> u32 {
        self.scenario.on_day(day).hubs[hub].lines_on(day)
    }

    /// The run's dimensions, as its tables and its log's header need them.
    pub fn context(&self) -> Context {
        let plan = self;
        let s = plan.scenario;
        Context {
            scenario: s.name.clone(),
            start_date: s.start.to_string(),
            days: s.days,
            drain_days: s.drain_days,
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
                .map(|r| context::RouteDim {
                    id: r.id.clone(),
                    market: r.market.0,
                    pool: r.pool.0,
                    hub: r.hub.map(|h| h.0),
                })
                .collect(),
            hubs: s
                .hubs
                .iter()
                .zip(&plan.hub_regimes)
                .enumerate()
                .map(|(hi, (h, regimes))| context::HubDim {
                    id: h.id.clone(),
                    lines_by_day: (0..s.simulated_days())
                        .map(|d| plan.lines_on(hi, d))
                        .collect(),
                    simulated_lines_by_day: (0..s.simulated_days())
                        .map(|d| {
                            regimes
                                .iter()
                                .rev()
                                .find(|r| r.from_s <= d * DAY_S)
                                .map_or(0, |r| r.lines)
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// Expected orders in `market` during hour `hour` of `day`, at the run's sample.
    pub fn hourly_rate(&self, market: MarketId, day: u32, hour: u32) -> f64 {
        if day >= self.scenario.days {
            return 0.0; // the drain: no new orders
        }
        let s = self.epoch(day).scenario;
        s.expected_orders(market, day)
            * self.params.sample
            * s.markets[market.ix()].intraday[hour as usize]
    }
}
