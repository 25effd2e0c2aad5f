//! The closed set of events a run produces: the source of truth every table folds.

pub mod context;

use crate::model::{CategoryId, HubId, MarketId, MethodId, RouteId};

/// One event. `seq` is not stored: it is the event's position in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// Seconds since the scenario start (00:00 of `start_date`).
    pub time_s: u32,
    pub order_id: u64,
    pub market: MarketId,
    /// The order's route, chosen at placement; it names the seller pool and any hub.
    pub route: RouteId,
    pub kind: EventKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    OrderPlaced {
        /// Popularity rank of the seller within its pool (0 = most popular).
        seller: u32,
        category: CategoryId,
        method: MethodId,
        value_cents: u32,
    },
    PaymentAttempted {
        method: MethodId,
        /// 1-based attempt number.
        attempt: u8,
        success: bool,
    },
    /// The buyer abandoned the order (`attempts` 0) or every payment attempt failed.
    OrderCancelled {
        seller: u32,
        method: MethodId,
        value_cents: u32,
        /// Payment attempts made: 0 when the order was abandoned before any.
        attempts: u8,
    },
    /// The seller hands the parcel to the carrier and pays the freight.
    Dispatched {
        seller: u32,
        /// The goods' value, from now on owed to the seller until it is paid or refused.
        value_cents: u32,
        freight_cents: u32,
    },
    HubArrived {
        hub: HubId,
    },
    HubDeparted {
        hub: HubId,
        /// Time queued before a line took the parcel.
        wait_s: u32,
        /// Time on the line.
        service_s: u32,
        seller: u32,
        /// The hub's fee, paid by the seller.
        fee_cents: u32,
        /// The hub's e-finance fee, when it pays the seller now (`SellerPaid` follows).
        finance_cents: u32,
    },
    /// The parcel leaves on a scheduled line-haul departure.
    LinehaulDeparted {
        /// Time from ready (hub departure or dispatch) to the departure.
        wait_s: u32,
    },
    /// Customs has cleared the parcel and released it to the last mile (through the
    /// market's exchange office, when it has one and the route is no green lane).
    CustomsCleared {
        duty_cents: u32,
        vat_cents: u32,
        inspected: bool,
        /// Time queued at the exchange office before a line took the parcel.
        wait_s: u32,
        /// Time on the office's line; 0 without an office.
        service_s: u32,
    },
    Delivered {
        /// Delivery time minus placement time.
        lead_s: u32,
        /// Cash collected at the door (cash on delivery); 0 for a prepaid order.
        collected_cents: u32,
    },
    /// A cash-on-delivery parcel refused at the door: it goes back to the seller, who pays
    /// the return freight; nobody pays for the goods.
    Refused {
        seller: u32,
        method: MethodId,
        value_cents: u32,
        freight_cents: u32,
    },
    /// The buyer sent the goods back: the seller refunds the value and pays the freight.
    Returned {
        seller: u32,
        value_cents: u32,
        freight_cents: u32,
    },
    /// The seller is paid: the order's value less the platform's commission and the
    /// payment fees (at settlement, at COD remittance, or at hub departure if financed).
    SellerPaid {
        seller: u32,
        method: MethodId,
        value_cents: u32,
        commission_cents: u32,
        fee_cents: u32,
        /// Dispatch to this payment.
        to_cash_s: u32,
    },
}

/// Event kind names, as the log writes them, in lifecycle order.
pub const KIND_NAMES: [&str; 12] = [
    "order_placed",
    "payment_attempted",
    "order_cancelled",
    "dispatched",
    "hub_arrived",
    "hub_departed",
    "linehaul_departed",
    "customs_cleared",
    "delivered",
    "returned",
    "refused",
    "seller_paid",
];

impl EventKind {
    pub fn name(&self) -> &'static str {
        KIND_NAMES[self.index()]
    }

    pub fn index(&self) -> usize {
        match self {
            EventKind::OrderPlaced { .. } => 0,
            EventKind::PaymentAttempted { .. } => 1,
            EventKind::OrderCancelled { .. } => 2,
            EventKind::Dispatched { .. } => 3,
            EventKind::HubArrived { .. } => 4,
            EventKind::HubDeparted { .. } => 5,
            EventKind::LinehaulDeparted { .. } => 6,
            EventKind::CustomsCleared { .. } => 7,
            EventKind::Delivered { .. } => 8,
            EventKind::Returned { .. } => 9,
            EventKind::Refused { .. } => 10,
            EventKind::SellerPaid { .. } => 11,
        }
    }

    /// Position in an order's lifecycle: orders one order's events that share a second.
    #[inline]
    pub fn stage(&self) -> u8 {
        match self {
            EventKind::OrderPlaced { .. } => 0,
            EventKind::PaymentAttempted { attempt, .. } => *attempt,
            other => 30 + other.index() as u8,
        }
    }
}

const _: () = assert!(std::mem::size_of::<Event>() == 40);

impl Event {
    /// The log's total order: time, then order id, then lifecycle stage.
    #[inline]
    pub fn order_key(&self) -> (u32, u64, u8) {
        (self.time_s, self.order_id, self.kind.stage())
    }
}
