//! What becomes of each event of the log: its OCEL event type's attributes (the log's
//! fields in the log's units) and the objects it concerns, each with its role.

use super::json::{AttrType, EventAttr, EventOut, Relation, Value, relation, timestamp};
use super::json::{facility_id, market_id, order_id, parcel_id, seller_id};
use crate::event::context::Context;
use crate::event::{Event, EventKind, KIND_NAMES};
use crate::model::date::{Date, UtcOffset};

/// The attributes of each event type, by kind index: the log's fields other than those
/// that name an object (seller, hub, market, route), in the log's units.
pub(super) const EVENT_ATTRIBUTES: [&[(&str, AttrType)]; KIND_NAMES.len()] = {
    use AttrType::{Boolean as B, Integer as I, String as S};
    [
        &[("category", S), ("method", S), ("value_cents", I)],
        &[("method", S), ("attempt", I), ("success", B)],
        &[("method", S), ("attempt", I), ("value_cents", I)],
        &[("value_cents", I), ("freight_cents", I)],
        &[],
        &[
            ("wait_s", I),
            ("service_s", I),
            ("fee_cents", I),
            ("finance_cents", I),
        ],
        &[("wait_s", I)],
        &[
            ("duty_cents", I),
            ("vat_cents", I),
            ("inspected", B),
            ("wait_s", I),
            ("service_s", I),
        ],
        &[("lead_s", I), ("cod_cents", I)],
        &[("value_cents", I), ("freight_cents", I)],
        &[("method", S), ("value_cents", I), ("freight_cents", I)],
        &[
            ("method", S),
            ("value_cents", I),
            ("fee_cents", I),
            ("commission_cents", I),
            ("to_cash_s", I),
        ],
    ]
};

/// The seller an event names, if it names one.
pub(super) fn seller_of(kind: &EventKind) -> Option<u32> {
    match *kind {
        EventKind::OrderPlaced { seller, .. }
        | EventKind::OrderCancelled { seller, .. }
        | EventKind::Dispatched { seller, .. }
        | EventKind::HubDeparted { seller, .. }
        | EventKind::Returned { seller, .. }
        | EventKind::Refused { seller, .. }
        | EventKind::SellerPaid { seller, .. } => Some(seller),
        _ => None,
    }
}

/// Whether the event happens to the parcel: from the seller's hand-over on.
pub(super) fn is_parcel_event(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Dispatched { .. }
            | EventKind::HubArrived { .. }
            | EventKind::HubDeparted { .. }
            | EventKind::LinehaulDeparted { .. }
            | EventKind::CustomsCleared { .. }
            | EventKind::Delivered { .. }
            | EventKind::Returned { .. }
            | EventKind::Refused { .. }
    )
}

/// The event's attributes, as `EVENT_ATTRIBUTES` declares them for its kind.
fn event_attributes<'a>(ctx: &'a Context, e: &Event) -> Vec<EventAttr<'a>> {
    use Value::{Boolean, Integer, Text};
    let market = &ctx.markets[e.market.ix()];
    let method = |m: crate::model::MethodId| Text(&market.methods[m.ix()]);
    let int = |v: u32| Integer(u64::from(v));
    let values: Vec<Value> = match e.kind {
        EventKind::OrderPlaced {
            category,
            method: m,
            value_cents,
            ..
        } => vec![
            Text(&ctx.categories[category.ix()]),
            method(m),
            int(value_cents),
        ],
        EventKind::PaymentAttempted {
            method: m,
            attempt,
            success,
        } => vec![method(m), int(attempt.into()), Boolean(success)],
        EventKind::OrderCancelled {
            method: m,
            value_cents,
            attempts,
            ..
        } => vec![method(m), int(attempts.into()), int(value_cents)],
        EventKind::Dispatched {
            value_cents,
            freight_cents,
            ..
        }
        | EventKind::Returned {
            value_cents,
            freight_cents,
            ..
        } => vec![int(value_cents), int(freight_cents)],
        EventKind::HubArrived { .. } => vec![],
        EventKind::HubDeparted {
            wait_s,
            service_s,
            fee_cents,
            finance_cents,
            ..
        } => vec![
            int(wait_s),
            int(service_s),
            int(fee_cents),
            int(finance_cents),
        ],
        EventKind::LinehaulDeparted { wait_s } => vec![int(wait_s)],
        EventKind::CustomsCleared {
            duty_cents,
            vat_cents,
            inspected,
            wait_s,
            service_s,
        } => vec![
            int(duty_cents),
            int(vat_cents),
            Boolean(inspected),
            int(wait_s),
            int(service_s),
        ],
        EventKind::Delivered {
            lead_s,
            collected_cents,
        } => vec![int(lead_s), int(collected_cents)],
        EventKind::Refused {
            method: m,
            value_cents,
            freight_cents,
            ..
        } => vec![method(m), int(value_cents), int(freight_cents)],
        EventKind::SellerPaid {
            method: m,
            value_cents,
            commission_cents,
            fee_cents,
            to_cash_s,
            ..
        } => vec![
            method(m),
            int(value_cents),
            int(fee_cents),
            int(commission_cents),
            int(to_cash_s),
        ],
    };
    let names = EVENT_ATTRIBUTES[e.kind.index()];
    debug_assert_eq!(names.len(), values.len(), "{}", e.kind.name());
    names
        .iter()
        .zip(values)
        .map(|(&(name, _), value)| EventAttr { name, value })
        .collect()
}

/// The objects an event concerns, each with its role as the qualifier.
fn event_relations(ctx: &Context, e: &Event) -> Vec<Relation> {
    let route = &ctx.routes[e.route.ix()];
    let mut rels = vec![relation(order_id(e.order_id), "order")];
    if is_parcel_event(&e.kind) {
        rels.push(relation(parcel_id(e.order_id), "parcel"));
    }
    if let Some(rank) = seller_of(&e.kind) {
        rels.push(relation(seller_id(ctx, route.pool, rank), "seller"));
    }
    let facility = |ix: u16| facility_id(&ctx.facilities[usize::from(ix)]);
    let market = || market_id(&ctx.markets[e.market.ix()].id);
    match e.kind {
        EventKind::OrderPlaced { .. } => rels.push(relation(market(), "market")),
        EventKind::HubArrived { hub } | EventKind::HubDeparted { hub, .. } => {
            rels.push(relation(facility(u16::from(hub.0)), "hub"));
        }
        EventKind::LinehaulDeparted { .. } => {
            if let Some(ix) = route.linehaul {
                rels.push(relation(facility(ix), "linehaul"));
            }
        }
        EventKind::CustomsCleared { .. } => {
            if let Some(ix) = route.exchange {
                rels.push(relation(facility(ix), "exchange office"));
            }
            rels.push(relation(market(), "destination"));
        }
        _ => {}
    }
    rels
}

/// Event `seq` of the log as an OCEL event, its time on the clock `clock` (the start
/// date and its offset from UTC).
pub(super) fn event_out<'a>(
    ctx: &'a Context,
    clock: (Date, UtcOffset),
    seq: u64,
    e: &Event,
) -> EventOut<'a> {
    EventOut {
        id: seq.to_string(),
        kind: e.kind.name(),
        time: timestamp(clock.0, clock.1, e.time_s),
        attributes: event_attributes(ctx, e),
        relationships: event_relations(ctx, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Plan, RunParams};
    use crate::model::{CategoryId, HubId, MarketId, MethodId, RouteId};

    fn tiny_context() -> Context {
        let text = include_str!("../../../tests/data/tiny.toml");
        let scenario = crate::scenario::load_str(text, "tiny.toml", None, &[]).unwrap();
        let params = RunParams {
            seed: 1,
            replication: 0,
            sample: 1.0,
        };
        Plan::new(&scenario, params).context()
    }

    /// One event of every kind, in `KIND_NAMES` order.
    fn one_of_each_kind() -> Vec<EventKind> {
        let (m, v) = (MethodId(0), 1234);
        vec![
            EventKind::OrderPlaced {
                seller: 3,
                category: CategoryId(0),
                method: m,
                value_cents: v,
            },
            EventKind::PaymentAttempted {
                method: m,
                attempt: 1,
                success: true,
            },
            EventKind::OrderCancelled {
                seller: 3,
                method: m,
                value_cents: v,
                attempts: 2,
            },
            EventKind::Dispatched {
                seller: 3,
                value_cents: v,
                freight_cents: 200,
            },
            EventKind::HubArrived { hub: HubId(0) },
            EventKind::HubDeparted {
                hub: HubId(0),
                wait_s: 5,
                service_s: 6,
                seller: 3,
                fee_cents: 7,
                finance_cents: 8,
            },
            EventKind::LinehaulDeparted { wait_s: 9 },
            EventKind::CustomsCleared {
                duty_cents: 1,
                vat_cents: 2,
                inspected: false,
                wait_s: 3,
                service_s: 4,
            },
            EventKind::Delivered {
                lead_s: 100,
                collected_cents: 0,
            },
            EventKind::Returned {
                seller: 3,
                value_cents: v,
                freight_cents: 200,
            },
            EventKind::Refused {
                seller: 3,
                method: m,
                value_cents: v,
                freight_cents: 200,
            },
            EventKind::SellerPaid {
                seller: 3,
                method: m,
                value_cents: v,
                commission_cents: 5,
                fee_cents: 6,
                to_cash_s: 7,
            },
        ]
    }

    /// Every kind's attributes are those its event type declares, with the declared
    /// types, so that PM4Py reads each as what it is.
    #[test]
    fn each_event_has_the_attributes_its_type_declares() {
        let ctx = tiny_context();
        let kinds = one_of_each_kind();
        assert_eq!(kinds.len(), KIND_NAMES.len());
        for (i, kind) in kinds.into_iter().enumerate() {
            assert_eq!(kind.index(), i, "one_of_each_kind follows KIND_NAMES");
            let e = Event {
                time_s: 60,
                order_id: 7,
                market: MarketId(0),
                route: RouteId(0),
                kind,
            };
            let got: Vec<(&str, AttrType)> = event_attributes(&ctx, &e)
                .iter()
                .map(|a| (a.name, a.value.attr_type()))
                .collect();
            assert_eq!(got, EVENT_ATTRIBUTES[i].to_vec(), "{}", kind.name());
            let rels = event_relations(&ctx, &e);
            assert_eq!(rels[0].object_id, "order-7", "{}", kind.name());
            assert_eq!(
                rels.iter().any(|r| r.object_id == "parcel-7"),
                is_parcel_event(&kind),
                "{}",
                kind.name()
            );
            assert_eq!(
                rels.iter().any(|r| r.qualifier == "seller"),
                seller_of(&kind).is_some(),
                "{}",
                kind.name()
            );
        }
    }
}
