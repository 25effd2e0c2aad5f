//! An order in flight: everything drawn for it at placement, and where it is now.
//!
//! All of an order's randomness is drawn when it is placed, in a fixed sequence from
//! its own slot of its hour's stream, whatever the outcomes (a draw that turns out
//! unused still takes its words), so the same order in two variants sees the same
//! numbers. Only the hub queue, which depends on other parcels, is decided later.

use super::streams::{OrderRng, unit_from_word};

use super::Plan;
use crate::event::{Event, EventKind};
use crate::model::date::DAY_S;
use crate::model::dist::Dist;
use crate::model::money::Payout;
use crate::model::{CategoryId, MarketId, MethodId, RouteId};

/// An order's stages, in lifecycle order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Stage {
    Placed,
    Attempt,
    Cancel,
    Dispatch,
    HubArrive,
    HubDepart,
    /// Ready for the line-haul: waits for a departure with a seat.
    Board,
    LinehaulDepart,
    /// On the way to the exchange office, to queue for a line there.
    ExchangeArrive,
    Customs,
    Deliver,
    /// Delivered (or refused): only money and a return are left.
    Return,
    Pay,
}

const PAID: u8 = 1;
const INSPECTED: u8 = 2;
const RETURNS: u8 = 4;
/// Cash on delivery: collected at the door, remitted later.
const AT_DOOR: u8 = 8;
const REFUSES: u8 = 16;
/// The seller has been paid.
const PAID_OUT: u8 = 32;
const RETURNED: u8 = 64;
/// A shadow (`Parcel::shadow`): it only takes its place in a hub's queue.
const SHADOW: u8 = 128;

/// 64 bytes: the whole state of an order in flight (parcels in flight are what memory
/// grows with, so every field earns its place).
#[derive(Debug, Clone, Copy)]
pub struct Parcel {
    pub order_id: u64,
    /// Time of the pending event (`stage`).
    pub next: u32,
    placed: u32,
    value_cents: u32,
    seller: u32,
    retry_gap: u32,
    /// Payment to dispatch; once dispatched, the dispatch time.
    handling: u32,
    /// Dispatch to hub arrival; once arrived, the arrival time; once delivered, the
    /// delivery time.
    leg: u32,
    /// Full-scale line time at the hub; replaced by the sampled time once served.
    service: u32,
    /// Hub departure (or dispatch) to customs clearance: transit, clearance, inspection.
    to_customs: u32,
    last_mile: u32,
    return_after: u32,
    /// Delivery to the seller's payment: confirmation or COD remittance.
    settle_after: u32,
    pub market: MarketId,
    pub route: RouteId,
    category: CategoryId,
    method: MethodId,
    pub stage: Stage,
    attempt: u8,
    attempts: u8,
    flags: u8,
}

const _: () = assert!(std::mem::size_of::<Parcel>() == 64);

/// A paid parcel as it waits in an hour's bucket: 56 bytes instead of 64, because the
/// fields only payment needs (category, attempts, retry gap) are spent by then and the
/// market follows from the route. Most parcels in flight are in this form.
#[derive(Debug, Clone, Copy)]
pub struct Stored {
    order_id: u64,
    next: u32,
    placed: u32,
    value_cents: u32,
    seller: u32,
    dispatched: u32,
    leg: u32,
    service: u32,
    to_customs: u32,
    last_mile: u32,
    return_after: u32,
    settle_after: u32,
    route: RouteId,
    method: MethodId,
    stage: Stage,
    flags: u8,
}

const _: () = assert!(std::mem::size_of::<Stored>() == 56);

impl Stored {
    /// Time of the pending event.
    pub fn next(&self) -> u32 {
        self.next
    }
}

/// What a parcel needs after emitting its events up to a step's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Its next event is at `next`, at or after the step's end.
    Later,
    /// It has arrived at a facility (an index into `Plan::facilities`) and waits for
    /// the queue to decide its departure.
    AtFacility(u16),
    /// Its story is complete.
    Done,
}

#[inline]
fn pick(cdf: &[f64], u: f64) -> usize {
    cdf.iter().position(|c| u < *c).unwrap_or(cdf.len() - 1)
}

impl Parcel {
    /// Draws an order; `rng` has begun it (`OrderRng::begin`).
    pub fn draw(
        plan: &Plan,
        rng: &mut OrderRng,
        market: MarketId,
        order_id: u64,
        placed: u32,
    ) -> Parcel {
        let epoch = plan.epoch(placed / DAY_S);
        let s = epoch.scenario;
        let mp = &epoch.markets[market.ix()];
        let m = &s.markets[market.ix()];
        let pool = mp.pools[pick(&mp.pool_cdf, unit_from_word(rng))];
        let route_id =
            s.route_of[market.ix()][pool.ix()].expect("validated: every source has a route");
        let route = &s.routes[route_id.ix()];
        // Read last: the popularity table's slot arrives from memory meanwhile.
        let seller = plan.pools[pool.ix()].start_rank(rng);
        let category = CategoryId(mp.categories[pick(&mp.category_cdf, unit_from_word(rng))]);
        let value_cents = s.pools[pool.ix()].order_value[category.ix()]
            .as_ref()
            .expect("validated: pools sell every category their markets buy")
            .sample_cents(rng)
            .max(1);
        let method = MethodId(pick(&mp.method_cdf, unit_from_word(rng)) as u8);
        let success = m.payment[method.ix()].success;
        let mut attempts = 0;
        let mut flags = 0;
        for k in 1..=m.max_payment_attempts {
            let ok = unit_from_word(rng) < success;
            if ok && flags & PAID == 0 {
                flags |= PAID;
                attempts = k;
            }
        }
        if flags & PAID == 0 {
            attempts = m.max_payment_attempts;
        }
        // A value nobody will read (the delays of a cancelled order, an inspection that
        // does not happen, a stage the horizon ends before) is skipped, not drawn: the
        // same words, less work. A stage is reached only if the event before it falls
        // inside the horizon; times are saturating sums as in `advance`, and a hub's
        // queue only adds to them, so a bound that is already past the horizon is final.
        let draw = |d: &Dist, used: bool, rng: &mut OrderRng| {
            if used {
                d.sample_u32(rng)
            } else {
                d.skip(rng);
                0
            }
        };
        let within = |t: u32| t < plan.horizon_s;
        let paid = flags & PAID != 0;
        let retry_gap = draw(&m.payment_retry, attempts > 1, rng);
        let handling = draw(&s.pools[pool.ix()].handling_time, paid, rng);
        let dispatch = (1..attempts)
            .fold(placed, |t, _| t.saturating_add(retry_gap))
            .saturating_add(handling);
        let dispatched = paid && within(dispatch);
        let to_hub = route
            .to_hub
            .as_ref()
            .map_or(0, |d| draw(d, dispatched, rng));
        // Hub arrival, or dispatch on a route without a hub: what `to_customs` follows.
        let before_customs = dispatch.saturating_add(to_hub);
        let sent_on = dispatched && within(before_customs);
        let service = route
            .hub
            .map_or(0, |h| draw(&s.hubs[h.ix()].service_time, sent_on, rng));
        let transit = draw(&route.transit, sent_on, rng);
        let c = &route.clearance;
        let clearance = draw(&c.clearance_time, sent_on, rng);
        let inspected = unit_from_word(rng) < c.inspection_rate;
        let inspection = draw(&c.inspection_delay, sent_on && inspected, rng);
        let to_customs = transit
            .saturating_add(clearance)
            .saturating_add(if inspected { inspection } else { 0 });
        let customs = before_customs.saturating_add(to_customs);
        let cleared = sent_on && within(customs);
        let last_mile = draw(&m.last_mile, cleared, rng);
        let returns = unit_from_word(rng) < m.return_rate;
        let delivered = cleared && within(customs.saturating_add(last_mile));
        let return_after = draw(&m.return_time, delivered && returns, rng);
        // Drawn last, so that adding them left every earlier draw as it was.
        let pm = &m.payment[method.ix()];
        // One word decides both: a refusal matters only to an order not abandoned, and
        // given that, the word rescaled past `abandon` is again uniform.
        let u = unit_from_word(rng);
        let refuses = if u < pm.abandon {
            flags &= !PAID;
            attempts = 0;
            false
        } else {
            (u - pm.abandon) < pm.refusal * (1.0 - pm.abandon)
        };
        let settle_after = if pm.at_delivery {
            draw(&m.settlement.cod_remittance, delivered && !refuses, rng)
        } else {
            let confirm = draw(&m.settlement.confirmation, delivered, rng);
            m.settlement
                .auto_confirm_s
                .map_or(confirm, |cap| confirm.min(cap))
        };
        let seller = plan.pools[pool.ix()].finish_rank(seller);
        if inspected {
            flags |= INSPECTED;
        }
        if returns {
            flags |= RETURNS;
        }
        if pm.at_delivery {
            flags |= AT_DOOR;
        }
        if refuses {
            flags |= REFUSES;
        }
        Parcel {
            order_id,
            next: placed,
            placed,
            value_cents,
            seller,
            retry_gap,
            handling,
            leg: to_hub,
            service,
            to_customs,
            last_mile,
            return_after,
            settle_after,
            market,
            route: route_id,
            category,
            method,
            stage: Stage::Placed,
            attempt: 0,
            attempts,
            flags,
        }
    }

    /// A shadow: a full-scale order beyond the sample, bound for a hub, drawn only as
    /// far as the hub's queue needs (when it arrives and how long it takes a line).
    /// It joins the queue and vanishes; it emits nothing. `None` when it never arrives
    /// (payment fails or is abandoned, or it arrives after the run).
    pub fn shadow(
        plan: &Plan,
        rng: &mut OrderRng,
        market: MarketId,
        order_id: u64,
        placed: u32,
    ) -> Option<Parcel> {
        let epoch = plan.epoch(placed / DAY_S);
        let s = epoch.scenario;
        let mp = &epoch.markets[market.ix()];
        let m = &s.markets[market.ix()];
        let pool = mp.hub_pools[pick(&mp.hub_pool_cdf, unit_from_word(rng))];
        let route_id = s.route_of[market.ix()][pool.ix()].expect("a hub pool has a route");
        let route = &s.routes[route_id.ix()];
        let hub = route.hub.expect("a hub pool's route has a hub");
        let method = MethodId(pick(&mp.method_cdf, unit_from_word(rng)) as u8);
        let pm = &m.payment[method.ix()];
        let mut attempts = None;
        for k in 1..=m.max_payment_attempts {
            if unit_from_word(rng) < pm.success && attempts.is_none() {
                attempts = Some(k);
            }
        }
        let retry_gap = m.payment_retry.sample_u32(rng);
        let handling = s.pools[pool.ix()].handling_time.sample_u32(rng);
        let to_hub = route.to_hub.as_ref().map_or(0, |d| d.sample_u32(rng));
        let service = s.hubs[hub.ix()].service_time.sample_u32(rng);
        let abandons = unit_from_word(rng) < pm.abandon;
        let attempts = attempts.filter(|_| !abandons)?;
        let arrival = (1..attempts)
            .fold(placed, |t, _| t.saturating_add(retry_gap))
            .saturating_add(handling)
            .saturating_add(to_hub);
        (arrival < plan.horizon_s).then_some(Parcel {
            order_id,
            next: arrival,
            placed,
            value_cents: 0,
            seller: 0,
            retry_gap: 0,
            handling: 0,
            leg: 0,
            service,
            to_customs: 0,
            last_mile: 0,
            return_after: 0,
            settle_after: 0,
            market,
            route: route_id,
            category: CategoryId(0),
            method,
            stage: Stage::HubArrive,
            attempt: 0,
            attempts,
            flags: SHADOW,
        })
    }

    /// Ready to leave (dispatched on a direct route, or out of the hub) at `t`: to the
    /// line-haul if the route has one, else on the way.
    fn ready(&mut self, plan: &Plan, t: u32) {
        if plan.stops[self.route.ix()].linehaul.is_some() {
            self.stage = Stage::Board;
            self.next = t;
        } else {
            self.depart(plan, t);
        }
    }

    /// Leaves for the market at `t`: to its exchange office, or straight to customs.
    fn depart(&mut self, plan: &Plan, t: u32) {
        self.stage = if plan.stops[self.route.ix()].exchange.is_some() {
            Stage::ExchangeArrive
        } else {
            Stage::Customs
        };
        self.next = t.saturating_add(self.to_customs);
    }

    /// Emits every event due before `end`, in lifecycle order, but stops at a facility
    /// it reaches at or after `arrive_by`: what happens there depends on the parcels
    /// that arrive before it, so the queue must see it in its step. (Before a facility,
    /// and between one facility's decision and the next, only its own draws count.)
    pub fn advance(&mut self, plan: &Plan, end: u32, arrive_by: u32, out: &mut Vec<Event>) -> Step {
        // The rules in force when the order was placed follow it to its end.
        let s = plan.epoch(self.placed / DAY_S).scenario;
        loop {
            if self.next >= end {
                return Step::Later;
            }
            let t = self.next;
            let kind = match self.stage {
                Stage::Placed => {
                    if self.attempts == 0 {
                        // Abandoned: no attempt; cancelled in the same second.
                        self.stage = Stage::Cancel;
                    } else {
                        self.stage = Stage::Attempt;
                        self.attempt = 1;
                    }
                    EventKind::OrderPlaced {
                        seller: self.seller,
                        category: self.category,
                        method: self.method,
                        value_cents: self.value_cents,
                    }
                }
                Stage::Attempt => {
                    let attempt = self.attempt;
                    let last = attempt == self.attempts;
                    let success = last && self.flags & PAID != 0;
                    if !last {
                        self.attempt += 1;
                        self.next = t.saturating_add(self.retry_gap);
                    } else if success {
                        self.stage = Stage::Dispatch;
                        self.next = t.saturating_add(self.handling);
                    } else {
                        self.stage = Stage::Cancel;
                    }
                    EventKind::PaymentAttempted {
                        method: self.method,
                        attempt,
                        success,
                    }
                }
                Stage::Cancel => {
                    self.emit(
                        plan,
                        out,
                        t,
                        EventKind::OrderCancelled {
                            seller: self.seller,
                            method: self.method,
                            value_cents: self.value_cents,
                            attempts: self.attempts,
                        },
                    );
                    return Step::Done;
                }
                Stage::Dispatch => {
                    let route = &s.routes[self.route.ix()];
                    self.handling = t;
                    if route.hub.is_some() {
                        self.stage = Stage::HubArrive;
                        self.next = t.saturating_add(self.leg);
                    } else {
                        self.ready(plan, t);
                    }
                    EventKind::Dispatched {
                        seller: self.seller,
                        value_cents: self.value_cents,
                        freight_cents: route.freight_cents(),
                    }
                }
                Stage::HubArrive | Stage::Board | Stage::ExchangeArrive if t >= arrive_by => {
                    return Step::Later;
                }
                Stage::HubArrive => {
                    let hub = s.routes[self.route.ix()].hub.expect("hub route");
                    if self.flags & SHADOW == 0 {
                        self.emit(plan, out, t, EventKind::HubArrived { hub });
                    }
                    self.leg = t;
                    self.stage = Stage::HubDepart;
                    return Step::AtFacility(hub.0.into());
                }
                Stage::HubDepart => {
                    self.ready(plan, t);
                    let hub_id = s.routes[self.route.ix()].hub.expect("hub route");
                    let hub = &s.hubs[hub_id.ix()];
                    // E-finance pays for prepaid orders only: a COD order's cash may never come.
                    let finance = hub.efinance_rate.filter(|_| self.flags & AT_DOOR == 0);
                    let payout = finance.map(|rate| {
                        Payout::of(
                            &s.markets[self.market.ix()],
                            self.method.ix(),
                            self.value_cents,
                            rate,
                        )
                    });
                    self.emit(
                        plan,
                        out,
                        t,
                        EventKind::HubDeparted {
                            hub: hub_id,
                            wait_s: t - self.service - self.leg,
                            service_s: self.service,
                            seller: self.seller,
                            fee_cents: hub.fee_cents(),
                            finance_cents: payout.map_or(0, |p| p.finance_cents),
                        },
                    );
                    if let Some(p) = payout {
                        self.pay(plan, t, p, out);
                    }
                    continue;
                }
                Stage::Board => {
                    self.leg = t;
                    self.stage = Stage::LinehaulDepart;
                    let linehaul = plan.stops[self.route.ix()].linehaul;
                    return Step::AtFacility(linehaul.expect("a line-haul route"));
                }
                Stage::LinehaulDepart => {
                    let wait_s = t - self.leg;
                    self.depart(plan, t);
                    EventKind::LinehaulDeparted { wait_s }
                }
                Stage::ExchangeArrive => {
                    self.leg = t;
                    self.stage = Stage::Customs;
                    let office = plan.stops[self.route.ix()].exchange;
                    return Step::AtFacility(office.expect("an office on the route"));
                }
                Stage::Customs => {
                    let customs = &s.markets[self.market.ix()].customs;
                    let (duty_cents, vat_cents) = customs.charges_cents(self.value_cents);
                    let (wait_s, service_s) = if plan.stops[self.route.ix()].exchange.is_some() {
                        (t - self.service - self.leg, self.service)
                    } else {
                        (0, 0)
                    };
                    self.stage = Stage::Deliver;
                    self.next = t.saturating_add(self.last_mile);
                    EventKind::CustomsCleared {
                        duty_cents,
                        vat_cents,
                        inspected: self.flags & INSPECTED != 0,
                        wait_s,
                        service_s,
                    }
                }
                Stage::Deliver => {
                    if self.flags & (AT_DOOR | REFUSES) == AT_DOOR | REFUSES {
                        self.emit(
                            plan,
                            out,
                            t,
                            EventKind::Refused {
                                seller: self.seller,
                                method: self.method,
                                value_cents: self.value_cents,
                                freight_cents: s.routes[self.route.ix()].return_freight_cents(),
                            },
                        );
                        return Step::Done;
                    }
                    let collected_cents = if self.flags & AT_DOOR != 0 {
                        self.value_cents
                    } else {
                        0
                    };
                    self.emit(
                        plan,
                        out,
                        t,
                        EventKind::Delivered {
                            lead_s: t - self.placed,
                            collected_cents,
                        },
                    );
                    self.leg = t;
                    match self.after_delivery() {
                        Some(step) => return step,
                        None => continue,
                    }
                }
                Stage::Return => {
                    self.flags |= RETURNED;
                    self.emit(
                        plan,
                        out,
                        t,
                        EventKind::Returned {
                            seller: self.seller,
                            value_cents: self.value_cents,
                            freight_cents: s.routes[self.route.ix()].return_freight_cents(),
                        },
                    );
                    match self.after_delivery() {
                        Some(step) => return step,
                        None => continue,
                    }
                }
                Stage::Pay => {
                    let payout = Payout::of(
                        &s.markets[self.market.ix()],
                        self.method.ix(),
                        self.value_cents,
                        0.0,
                    );
                    self.pay(plan, t, payout, out);
                    match self.after_delivery() {
                        Some(step) => return step,
                        None => continue,
                    }
                }
            };
            self.emit(plan, out, t, kind);
        }
    }

    /// Pays the seller at `t`.
    fn pay(&mut self, plan: &Plan, t: u32, payout: Payout, out: &mut Vec<Event>) {
        self.flags |= PAID_OUT;
        self.emit(
            plan,
            out,
            t,
            EventKind::SellerPaid {
                seller: self.seller,
                method: self.method,
                value_cents: payout.gross_cents,
                commission_cents: payout.commission_cents,
                fee_cents: payout.fee_cents,
                to_cash_s: t - self.handling,
            },
        );
    }

    /// After delivery, a payment and a return may be pending: the earlier comes next
    /// (the payment on a tie); `Done` when neither is.
    fn after_delivery(&mut self) -> Option<Step> {
        let delivered = self.leg;
        let pay = (self.flags & PAID_OUT == 0).then(|| delivered.saturating_add(self.settle_after));
        let ret = (self.flags & (RETURNS | RETURNED) == RETURNS)
            .then(|| delivered.saturating_add(self.return_after));
        match (pay, ret) {
            (None, None) => return Some(Step::Done),
            (Some(p), r) if r.is_none_or(|r| p <= r) => {
                self.stage = Stage::Pay;
                self.next = p;
            }
            (_, r) => {
                self.stage = Stage::Return;
                self.next = r.expect("a return is pending");
            }
        }
        None
    }
    /// Whether payment is over, so that the parcel can wait as a `Stored`.
    pub fn is_paid(&self) -> bool {
        self.stage >= Stage::Dispatch
    }

    /// The compact form of a paid parcel.
    pub fn store(&self) -> Stored {
        debug_assert!(self.is_paid());
        Stored {
            order_id: self.order_id,
            next: self.next,
            placed: self.placed,
            value_cents: self.value_cents,
            seller: self.seller,
            dispatched: self.handling,
            leg: self.leg,
            service: self.service,
            to_customs: self.to_customs,
            last_mile: self.last_mile,
            return_after: self.return_after,
            settle_after: self.settle_after,
            route: self.route,
            method: self.method,
            stage: self.stage,
            flags: self.flags,
        }
    }

    /// A paid parcel back from its compact form; the spent payment fields are zero.
    pub fn restore(plan: &Plan, s: &Stored) -> Parcel {
        Parcel {
            order_id: s.order_id,
            next: s.next,
            placed: s.placed,
            value_cents: s.value_cents,
            seller: s.seller,
            retry_gap: 0,
            handling: s.dispatched,
            leg: s.leg,
            service: s.service,
            to_customs: s.to_customs,
            last_mile: s.last_mile,
            return_after: s.return_after,
            settle_after: s.settle_after,
            market: plan.scenario.routes[s.route.ix()].market,
            route: s.route,
            category: CategoryId(0),
            method: s.method,
            stage: s.stage,
            attempt: 0,
            attempts: 0,
            flags: s.flags,
        }
    }

    /// Time of arrival at the facility it waits at, and its full-scale need there: its
    /// line time at a hub, a unit at an exchange office (whose lines carry the office's
    /// service time), none at a departure.
    pub fn facility_request(&self) -> (u32, u32) {
        let need = match self.stage {
            Stage::HubDepart => self.service,
            Stage::Customs => 1,
            _ => 0,
        };
        (self.next, need)
    }

    /// Records the queue's decision; the parcel departs at `start + service`.
    pub fn served(&mut self, start_s: u32, service_s: u32) {
        self.service = service_s;
        self.next = start_s.saturating_add(service_s);
    }

    pub fn is_shadow(&self) -> bool {
        self.flags & SHADOW != 0
    }

    /// No line or departure will ever take it: it stays where it is past the horizon.
    pub fn stranded(&mut self) {
        self.next = u32::MAX;
    }

    /// Emits an event at `t` (run time): nothing during the warm-up, and counted from
    /// the scenario's start after it.
    #[inline]
    fn emit(&self, plan: &Plan, out: &mut Vec<Event>, t: u32, kind: EventKind) {
        if t >= plan.warmup_s {
            out.push(Event {
                time_s: t - plan.warmup_s,
                order_id: self.order_id,
                market: self.market,
                route: self.route,
                kind,
            });
        }
    }
}
