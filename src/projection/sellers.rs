//! The sellers' books: orders and money per seller pool, market and size tier
//! (`sellers.csv`), cash per day (`cashflow.csv`), and each seller's own account, so
//! that the tables can say how many sellers sold and how many came out ahead.

use super::*;

/// Pools larger than this keep no per-seller accounts (8 bytes and a bit a seller and
/// market): their `sellers_active` and `sellers_profitable` are left empty.
pub(super) const MAX_ACCOUNTS: u32 = 1 << 24;

/// One pool, market and tier: orders, and money in cents over the horizon.
#[derive(Debug, Clone, Default)]
pub(super) struct TierBooks {
    pub(super) orders: u64,
    pub(super) cancelled: u64,
    /// Value of the orders not cancelled.
    pub(super) revenue_cents: i64,
    gross_cents: i64,
    commission_cents: i64,
    payment_fees_cents: i64,
    finance_fees_cents: i64,
    /// Freight out and back.
    freight_cents: i64,
    hub_fees_cents: i64,
    refunds_cents: i64,
    /// Dispatch to payment, per paid order.
    to_cash: Histogram,
}

impl TierBooks {
    /// What the seller kept in the horizon: payments received less every cost paid.
    pub(super) fn net_cents(&self) -> i64 {
        self.gross_cents
            - self.commission_cents
            - self.payment_fees_cents
            - self.finance_fees_cents
            - self.freight_cents
            - self.hub_fees_cents
            - self.refunds_cents
    }

    /// Mean days from dispatch to payment.
    pub(super) fn to_cash_days(&self) -> Option<f64> {
        self.to_cash.mean().map(days)
    }

    pub(super) fn add(&mut self, x: &TierBooks) {
        self.orders += x.orders;
        self.cancelled += x.cancelled;
        self.revenue_cents += x.revenue_cents;
        self.gross_cents += x.gross_cents;
        self.commission_cents += x.commission_cents;
        self.payment_fees_cents += x.payment_fees_cents;
        self.finance_fees_cents += x.finance_fees_cents;
        self.freight_cents += x.freight_cents;
        self.hub_fees_cents += x.hub_fees_cents;
        self.refunds_cents += x.refunds_cents;
        merge(&mut self.to_cash, &x.to_cash);
    }
}

/// One day, pool and market: the money that moved and the goods shipped.
#[derive(Debug, Clone, Default)]
struct CashDay {
    dispatched: u64,
    dispatched_cents: i64,
    /// Payments to sellers, after commission and payment fees.
    payouts_cents: i64,
    /// Value of the orders paid for (what leaves the receivables).
    paid_value_cents: i64,
    freight_cents: i64,
    hub_fees_cents: i64,
    finance_fees_cents: i64,
    refunds_cents: i64,
    cod_collected_cents: i64,
    refused: u64,
    refused_value_cents: i64,
}

/// The sellers of one pool in one market, by popularity rank. Touched only by the
/// money events, each a random access: 8 bytes a seller keep the busiest pools'
/// balances in the cache, and no access at placement keeps the fold off the run's
/// critical path.
#[derive(Debug, Clone, Default)]
struct Accounts {
    /// Each seller's balance: payments received less every cost paid.
    net_cents: Vec<i64>,
    /// Bit k: seller k has dispatched a parcel.
    dispatched: Vec<u64>,
}

impl Accounts {
    fn new(sellers: usize) -> Accounts {
        Accounts {
            net_cents: vec![0; sellers],
            dispatched: vec![0; sellers.div_ceil(64)],
        }
    }
}

pub(super) struct Books {
    /// [pool][market][tier]
    pub(super) tiers: Vec<Vec<Vec<TierBooks>>>,
    /// Per pool, `Context::tier_bounds`, computed once instead of per order.
    tier_bounds: Vec<Vec<u32>>,
    /// [day][pool][market]
    cash: Vec<CashDay>,
    /// [pool][market]; empty for pools past `MAX_ACCOUNTS`.
    accounts: Vec<Vec<Accounts>>,
    pools: usize,
    markets: usize,
}

impl Books {
    pub(super) fn new(ctx: &Context) -> Books {
        let (pools, markets) = (ctx.pools.len(), ctx.markets.len());
        Books {
            tiers: ctx
                .pools
                .iter()
                .map(|p| vec![vec![TierBooks::default(); p.tiers.len().max(1)]; markets])
                .collect(),
            tier_bounds: (0..pools).map(|p| ctx.tier_bounds(p)).collect(),
            cash: vec![CashDay::default(); ctx.span_days() as usize * pools * markets],
            accounts: ctx
                .pools
                .iter()
                .enumerate()
                .map(|(p, pool)| {
                    (0..markets)
                        .map(|m| {
                            if ctx.serves(p, m) && pool.count <= MAX_ACCOUNTS {
                                Accounts::new(pool.count as usize)
                            } else {
                                Accounts::default()
                            }
                        })
                        .collect()
                })
                .collect(),
            pools,
            markets,
        }
    }

    #[inline]
    pub(super) fn observe(&mut self, e: &Event, day: usize, pool: usize) {
        let m = e.market.ix();
        let cash = day * self.pools * self.markets + pool * self.markets + m;
        let (seller, books_delta) = match e.kind {
            EventKind::OrderPlaced {
                seller,
                value_cents,
                ..
            } => {
                let t = self.tier(pool, m, seller);
                t.orders += 1;
                t.revenue_cents += i64::from(value_cents);
                return;
            }
            EventKind::OrderCancelled {
                seller,
                value_cents,
                ..
            } => {
                let t = self.tier(pool, m, seller);
                t.cancelled += 1;
                t.revenue_cents -= i64::from(value_cents);
                return;
            }
            EventKind::Dispatched {
                seller,
                value_cents,
                freight_cents,
            } => {
                let c = &mut self.cash[cash];
                c.dispatched += 1;
                c.dispatched_cents += i64::from(value_cents);
                c.freight_cents += i64::from(freight_cents);
                self.tier(pool, m, seller).freight_cents += i64::from(freight_cents);
                if let Some(bits) = self.accounts[pool][m]
                    .dispatched
                    .get_mut(seller as usize / 64)
                {
                    *bits |= 1 << (seller % 64);
                }
                (seller, -i64::from(freight_cents))
            }
            EventKind::HubDeparted {
                seller,
                fee_cents,
                finance_cents,
                ..
            } => {
                let c = &mut self.cash[cash];
                c.hub_fees_cents += i64::from(fee_cents);
                c.finance_fees_cents += i64::from(finance_cents);
                let t = self.tier(pool, m, seller);
                t.hub_fees_cents += i64::from(fee_cents);
                t.finance_fees_cents += i64::from(finance_cents);
                (seller, -i64::from(fee_cents) - i64::from(finance_cents))
            }
            EventKind::Delivered {
                collected_cents, ..
            } => {
                self.cash[cash].cod_collected_cents += i64::from(collected_cents);
                return;
            }
            EventKind::Refused {
                seller,
                value_cents,
                freight_cents,
                ..
            } => {
                let c = &mut self.cash[cash];
                c.refused += 1;
                c.refused_value_cents += i64::from(value_cents);
                c.freight_cents += i64::from(freight_cents);
                self.tier(pool, m, seller).freight_cents += i64::from(freight_cents);
                (seller, -i64::from(freight_cents))
            }
            EventKind::Returned {
                seller,
                value_cents,
                freight_cents,
            } => {
                let c = &mut self.cash[cash];
                c.refunds_cents += i64::from(value_cents);
                c.freight_cents += i64::from(freight_cents);
                let t = self.tier(pool, m, seller);
                t.refunds_cents += i64::from(value_cents);
                t.freight_cents += i64::from(freight_cents);
                (seller, -i64::from(value_cents) - i64::from(freight_cents))
            }
            EventKind::SellerPaid {
                seller,
                value_cents,
                commission_cents,
                fee_cents,
                to_cash_s,
                ..
            } => {
                let payout =
                    i64::from(value_cents) - i64::from(commission_cents) - i64::from(fee_cents);
                let c = &mut self.cash[cash];
                c.payouts_cents += payout;
                c.paid_value_cents += i64::from(value_cents);
                let t = self.tier(pool, m, seller);
                t.gross_cents += i64::from(value_cents);
                t.commission_cents += i64::from(commission_cents);
                t.payment_fees_cents += i64::from(fee_cents);
                t.to_cash.add(u64::from(to_cash_s));
                (seller, payout)
            }
            _ => return,
        };
        if let Some(net) = self.accounts[pool][m].net_cents.get_mut(seller as usize) {
            *net += books_delta;
        }
    }

    /// Asks for the memory of the account `e` will touch, if any.
    #[inline]
    pub(super) fn prefetch(&self, e: &Event, pool: usize) {
        let seller = match e.kind {
            EventKind::Dispatched { seller, .. }
            | EventKind::HubDeparted { seller, .. }
            | EventKind::Refused { seller, .. }
            | EventKind::Returned { seller, .. }
            | EventKind::SellerPaid { seller, .. } => seller,
            _ => return,
        };
        if let Some(net) = self.accounts[pool][e.market.ix()]
            .net_cents
            .get(seller as usize)
        {
            crate::engine::prefetch(net);
        }
    }

    #[inline]
    fn tier(&mut self, pool: usize, market: usize, seller: u32) -> &mut TierBooks {
        let tier = tier_in(&self.tier_bounds[pool], seller);
        &mut self.tiers[pool][market][tier]
    }

    /// A pool's books in a market over all its tiers.
    pub(super) fn all_tiers(&self, pool: usize, market: usize) -> TierBooks {
        let mut all = TierBooks::default();
        for t in &self.tiers[pool][market] {
            all.add(t);
        }
        all
    }

    /// Sellers of ranks `ranks` that dispatched a parcel, and those with a positive
    /// balance; `None` when the pool keeps no accounts.
    fn sellers(
        &self,
        pool: usize,
        market: usize,
        ranks: std::ops::Range<usize>,
    ) -> Option<(u64, u64)> {
        let accounts = &self.accounts[pool][market];
        if accounts.net_cents.is_empty() {
            return None;
        }
        let active = ranks
            .clone()
            .filter(|&k| accounts.dispatched[k / 64] >> (k % 64) & 1 == 1)
            .count();
        let profitable = accounts.net_cents[ranks].iter().filter(|n| **n > 0).count();
        Some((active as u64, profitable as u64))
    }

    /// The rows of `sellers.csv`.
    pub(super) fn render_sellers(&self, ctx: &Context, out: &mut String) {
        for (m, market) in ctx.markets.iter().enumerate() {
            let (orders, revenue) = (0..self.pools).fold((0u64, 0i64), |(o, r), p| {
                let all = self.all_tiers(p, m);
                (o + all.orders, r + all.revenue_cents)
            });
            for (p, pool) in ctx.pools.iter().enumerate() {
                if !ctx.serves(p, m) {
                    continue;
                }
                let all = self.all_tiers(p, m);
                let bounds = &self.tier_bounds[p];
                let mut rows = vec![("all", &all, 0..pool.count as usize)];
                // A pool without size tiers has one implicit tier: its `all` row says it.
                if pool.tiers.len() > 1 {
                    let mut from = 0;
                    for (k, (name, _)) in pool.tiers.iter().enumerate() {
                        let to = bounds[k] as usize;
                        rows.push((name.as_str(), &self.tiers[p][m][k], from..to));
                        from = to;
                    }
                }
                for (name, x, ranks) in rows {
                    let sellers = self.sellers(p, m, ranks);
                    let _ = writeln!(
                        out,
                        "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                        pool.id,
                        market.id,
                        name,
                        x.orders,
                        x.cancelled,
                        usd(x.revenue_cents),
                        opt(ratio(x.orders, orders)),
                        opt((revenue > 0).then(|| x.revenue_cents as f64 / revenue as f64)),
                        usd(x.gross_cents),
                        usd(x.commission_cents),
                        usd(x.payment_fees_cents),
                        usd(x.finance_fees_cents),
                        usd(x.freight_cents),
                        usd(x.hub_fees_cents),
                        usd(x.refunds_cents),
                        usd(x.net_cents()),
                        opt(x.to_cash.mean().map(days)),
                        opt(x.to_cash.percentile(0.95).map(days)),
                        sellers.map_or(String::new(), |s| s.0.to_string()),
                        sellers.map_or(String::new(), |s| s.1.to_string()),
                    );
                }
            }
        }
    }

    /// The rows of `cashflow.csv`: per day, pool and market served.
    pub(super) fn render_cashflow(
        &self,
        ctx: &Context,
        date: impl Fn(usize) -> String,
        out: &mut String,
    ) {
        let mut receivables = vec![0i64; self.pools * self.markets];
        for d in 0..ctx.span_days() as usize {
            for (p, pool) in ctx.pools.iter().enumerate() {
                for (m, market) in ctx.markets.iter().enumerate() {
                    if !ctx.serves(p, m) {
                        continue;
                    }
                    let x = &self.cash[d * self.pools * self.markets + p * self.markets + m];
                    let owed = &mut receivables[p * self.markets + m];
                    *owed += x.dispatched_cents - x.paid_value_cents - x.refused_value_cents;
                    let net = x.payouts_cents
                        - x.freight_cents
                        - x.hub_fees_cents
                        - x.finance_fees_cents
                        - x.refunds_cents;
                    let _ = writeln!(
                        out,
                        "{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                        date(d),
                        pool.id,
                        market.id,
                        x.dispatched,
                        usd(x.dispatched_cents),
                        usd(x.payouts_cents),
                        usd(x.freight_cents),
                        usd(x.hub_fees_cents),
                        usd(x.finance_fees_cents),
                        usd(x.refunds_cents),
                        usd(net),
                        usd(*owed),
                        usd(x.cod_collected_cents),
                        x.refused,
                    );
                }
            }
        }
    }
}
