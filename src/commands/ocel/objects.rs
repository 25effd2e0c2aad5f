//! The objects of the export, collected while the events are written and written after
//! them: markets and facilities from the context, and the sellers, orders and parcels the
//! events name, with their object-to-object relations.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};

use super::events::{is_parcel_event, seller_of};
use super::json::{AttrType, EPOCH, ObjectAttr, ObjectOut, Value, relation};
use super::json::{facility_id, market_id, order_id, parcel_id, plain_object, seller_id};
use crate::event::context::Context;
use crate::event::{Event, EventKind};

/// The object types and their attributes; a facility's type is its kind.
pub(super) const OBJECT_TYPES: [(&str, &[(&str, AttrType)]); 7] = [
    (
        "order",
        &[
            ("route", AttrType::String),
            ("category", AttrType::String),
            ("method", AttrType::String),
            ("value_cents", AttrType::Integer),
        ],
    ),
    ("parcel", &[]),
    (
        "seller",
        &[
            ("pool", AttrType::String),
            ("rank", AttrType::Integer),
            ("tier", AttrType::String),
        ],
    ),
    ("market", &[]),
    ("hub", &[]),
    ("linehaul", &[]),
    ("exchange", &[]),
];

/// What the objects need of one order: 12 bytes (plus the map's share).
#[derive(Debug, Clone, Copy)]
struct OrderState {
    /// The seller's rank, `NO_SELLER` until an event names it.
    seller: u32,
    value_cents: u32,
    route: u8,
    category: u8,
    method: u8,
    /// `PLACED` (its `order_placed` is in the log), `PARCEL` (a parcel event is).
    flags: u8,
}

const _: () = assert!(std::mem::size_of::<OrderState>() == 12);

const NO_SELLER: u32 = u32::MAX;
const PLACED: u8 = 1;
const PARCEL: u8 = 2;

/// The sellers, orders and parcels seen so far.
#[derive(Default)]
pub struct Objects {
    orders: BTreeMap<u64, OrderState>,
    sellers: BTreeSet<(u8, u32)>,
}

impl Objects {
    /// Records what the objects will need of this event: its order, parcel and seller.
    pub fn note(&mut self, ctx: &Context, e: &Event) {
        let state = self.orders.entry(e.order_id).or_insert(OrderState {
            seller: NO_SELLER,
            value_cents: 0,
            route: e.route.0,
            category: 0,
            method: 0,
            flags: 0,
        });
        if let EventKind::OrderPlaced {
            category,
            method,
            value_cents,
            ..
        } = e.kind
        {
            state.category = category.0;
            state.method = method.0;
            state.value_cents = value_cents;
            state.flags |= PLACED;
        }
        if is_parcel_event(&e.kind) {
            state.flags |= PARCEL;
        }
        if let Some(rank) = seller_of(&e.kind) {
            state.seller = rank;
            self.sellers.insert((ctx.routes[e.route.ix()].pool, rank));
        }
    }

    /// Writes every object, comma-separated, one a line; returns how many.
    pub fn write(&self, ctx: &Context, w: &mut impl Write) -> io::Result<u64> {
        let mut objects = 0u64;
        let mut put = |w: &mut dyn Write, o: ObjectOut| -> io::Result<()> {
            w.write_all(if objects == 0 { b"\n" } else { b",\n" })?;
            objects += 1;
            serde_json::to_writer(w, &o).map_err(io::Error::from)
        };
        for m in &ctx.markets {
            put(w, plain_object(market_id(&m.id), "market"))?;
        }
        for f in &ctx.facilities {
            put(w, plain_object(facility_id(f), f.kind.name()))?;
        }
        for &(pool, rank) in &self.sellers {
            put(w, seller_out(ctx, pool, rank))?;
        }
        for (&id, state) in &self.orders {
            put(w, order_out(ctx, id, state))?;
            if state.flags & PARCEL != 0 {
                let mut parcel = plain_object(parcel_id(id), "parcel");
                parcel.relationships.push(relation(order_id(id), "ships"));
                put(w, parcel)?;
            }
        }
        Ok(objects)
    }
}

fn seller_out(ctx: &Context, pool: u8, rank: u32) -> ObjectOut<'_> {
    let p = &ctx.pools[usize::from(pool)];
    let tier = ctx.tier_of(usize::from(pool), rank);
    // A pool without tiers has the one implicit tier the tables call `all`.
    let tier = p.tiers.get(tier).map_or("all", |t| t.0.as_str());
    let attr = |name, value| ObjectAttr {
        name,
        time: EPOCH,
        value,
    };
    ObjectOut {
        id: seller_id(ctx, pool, rank),
        kind: "seller",
        attributes: vec![
            attr("pool", Value::Text(&p.id)),
            attr("rank", Value::Integer(rank.into())),
            attr("tier", Value::Text(tier)),
        ],
        relationships: Vec::new(),
    }
}

/// An order with its route, and what it was placed with when its placement is in the
/// log (an order placed during a warm-up has only its later events there).
fn order_out<'a>(ctx: &'a Context, id: u64, s: &OrderState) -> ObjectOut<'a> {
    let route = &ctx.routes[usize::from(s.route)];
    let market = &ctx.markets[usize::from(route.market)];
    let attr = |name, value| ObjectAttr {
        name,
        time: EPOCH,
        value,
    };
    let mut attributes = vec![attr("route", Value::Text(&route.id))];
    if s.flags & PLACED != 0 {
        attributes.extend([
            attr(
                "category",
                Value::Text(&ctx.categories[usize::from(s.category)]),
            ),
            attr(
                "method",
                Value::Text(&market.methods[usize::from(s.method)]),
            ),
            attr("value_cents", Value::Integer(s.value_cents.into())),
        ]);
    }
    let mut relationships = vec![relation(market_id(&market.id), "placed in")];
    if s.seller != NO_SELLER {
        relationships.push(relation(seller_id(ctx, route.pool, s.seller), "sold by"));
    }
    ObjectOut {
        id: order_id(id),
        kind: "order",
        attributes,
        relationships,
    }
}
