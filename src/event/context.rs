//! The dimensions of a run that its tables need besides the events: names of markets,
//! methods, categories, pools, routes and hubs, the horizon, and each hub's simulated
//! lines per day. The log carries it in its header, so a log alone rebuilds every table.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Context {
    pub scenario: String,
    pub start_date: String,
    /// `+HH:MM`: the clock of `start_date` and of every time in the log.
    pub utc_offset: String,
    /// Days on which orders are placed.
    pub days: u32,
    /// Days simulated after them with no new orders.
    pub drain_days: u32,
    /// Days simulated before the start and left out of every table and of the log.
    pub warmup_days: u32,
    pub seed: u64,
    pub replication: u32,
    pub sample: f64,
    pub markets: Vec<MarketDim>,
    pub categories: Vec<String>,
    pub pools: Vec<PoolDim>,
    pub routes: Vec<RouteDim>,
    /// Hubs first (in `HubId` order), then the routes' line-hauls, then the markets'
    /// exchange offices.
    pub facilities: Vec<FacilityDim>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketDim {
    pub id: String,
    pub methods: Vec<String>,
    /// Per method, whether it is cash on delivery (its attempts confirm the order).
    pub at_delivery: Vec<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolDim {
    pub id: String,
    pub count: u32,
    /// (tier name, share of sellers), most popular first.
    pub tiers: Vec<(String, f64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteDim {
    pub id: String,
    pub market: u8,
    pub pool: u8,
    pub hub: Option<u8>,
    /// Its line-haul departures and the exchange office its parcels queue at (none on a
    /// green lane), as indices into `Context::facilities`.
    pub linehaul: Option<u16>,
    pub exchange: Option<u16>,
}

/// In the order a route passes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FacilityKind {
    Hub,
    Linehaul,
    Exchange,
}

impl FacilityKind {
    pub fn name(self) -> &'static str {
        match self {
            FacilityKind::Hub => "hub",
            FacilityKind::Linehaul => "linehaul",
            FacilityKind::Exchange => "exchange",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FacilityDim {
    /// The hub's id, the line-haul's route, or the exchange office's market.
    pub id: String,
    pub kind: FacilityKind,
    /// Per day of the span at full scale: lines (hubs, exchange offices) or departures
    /// (line-hauls).
    pub lines_by_day: Vec<u32>,
    /// The same as simulated: fewer lines under `--sample` for an exchange office (with
    /// service times scaled so that capacity stays proportional).
    pub simulated_lines_by_day: Vec<u32>,
    /// Parcels a day it can pass at full scale (`None`: no limit).
    pub capacity_by_day: Vec<Option<u64>>,
    /// Whether it keeps its full-scale capacity under `--sample` (a hub, whose full
    /// arrivals are simulated; the sampled parcels are the share `sample` of them).
    pub full_scale: bool,
}

impl Context {
    /// Days the run covers: the orders' horizon and the drain. Tables have a row per
    /// day of it, and every event falls inside it.
    pub fn span_days(&self) -> u32 {
        self.days.saturating_add(self.drain_days)
    }

    /// The hubs: the first facilities.
    pub fn hubs(&self) -> &[FacilityDim] {
        let n = self
            .facilities
            .iter()
            .take_while(|f| f.kind == FacilityKind::Hub)
            .count();
        &self.facilities[..n]
    }

    /// Whether a route connects seller pool `pool` to market `market`.
    pub fn serves(&self, pool: usize, market: usize) -> bool {
        self.routes
            .iter()
            .any(|r| usize::from(r.pool) == pool && usize::from(r.market) == market)
    }

    /// Index of the size tier of the seller at popularity `rank` in pool `pool`.
    pub fn tier_of(&self, pool: usize, rank: u32) -> usize {
        tier_in(&self.tier_bounds(pool), rank)
    }

    /// Per size tier of `pool`, in order, the first popularity rank past it: tiers take
    /// their shares of the pool's sellers from the most popular down.
    pub fn tier_bounds(&self, pool: usize) -> Vec<u32> {
        let p = &self.pools[pool];
        let mut upper = 0.0;
        p.tiers
            .iter()
            .map(|(_, share)| {
                upper += share * f64::from(p.count);
                upper.round() as u32
            })
            .collect()
    }
}

/// The tier of popularity `rank` among tiers ending at `bounds` (`Context::tier_bounds`);
/// ranks past the last bound (rounding) belong to the last tier.
#[inline]
pub fn tier_in(bounds: &[u32], rank: u32) -> usize {
    // The tiers ending at or before `rank`, counted without a branch: ranks fall
    // anywhere, so a search's branches would be mispredicted (a hot spot of the fold).
    let inner = &bounds[..bounds.len().saturating_sub(1)];
    inner.iter().map(|&end| usize::from(rank >= end)).sum()
}

#[cfg(test)]
mod tests {
    use crate::engine::{Plan, RunParams};

    /// Tiers take their shares of a pool's ranks from the most popular down; a rank
    /// past the rounded last bound still falls in the last tier.
    #[test]
    fn size_tiers_split_the_ranks_by_share() {
        let text = include_str!("../../scenarios/aliexpress_russia_2016.toml");
        let scenario = crate::scenario::load_str(text, "ru.toml", None, &[]).unwrap();
        let params = RunParams {
            seed: 1,
            replication: 0,
            sample: 1.0,
        };
        let ctx = Plan::new(&scenario, params).context();
        // CN-SME: 200,000 sellers, medium 2 %, small 18 %, micro 80 %.
        assert_eq!(ctx.tier_bounds(0), vec![4_000, 40_000, 200_000]);
        let tiers: Vec<usize> = [0, 3_999, 4_000, 39_999, 40_000, 199_999, 250_000]
            .iter()
            .map(|&rank| ctx.tier_of(0, rank))
            .collect();
        assert_eq!(tiers, vec![0, 0, 1, 1, 2, 2, 2]);
    }

    /// The branchless count is the first tier whose end lies past the rank, even with
    /// empty tiers (equal bounds), and the last tier for ranks past every bound.
    #[test]
    fn tier_in_is_the_first_tier_ending_past_the_rank() {
        let search = |bounds: &[u32], rank: u32| {
            bounds
                .iter()
                .position(|&end| rank < end)
                .unwrap_or(bounds.len().saturating_sub(1))
        };
        for bounds in [
            &[10, 10, 20][..],
            &[0, 5, 5, 9],
            &[7],
            &[3, 3],
            &[1, 2, 3, 4, 5],
        ] {
            for rank in 0..25 {
                assert_eq!(
                    super::tier_in(bounds, rank),
                    search(bounds, rank),
                    "{bounds:?} {rank}"
                );
            }
        }
    }
}
