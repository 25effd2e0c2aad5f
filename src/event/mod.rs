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
    /// Every payment attempt failed.
    OrderCancelled {
        seller: u32,
        method: MethodId,
        value_cents: u32,
    },
    Dispatched,
    HubArrived {
        hub: HubId,
    },
    HubDeparted {
        hub: HubId,
        /// Time queued before a line took the parcel.
        wait_s: u32,
        /// Time on the line.
        service_s: u32,
    },
    CustomsCleared {
        duty_cents: u32,
        vat_cents: u32,
        inspected: bool,
    },
    Delivered {
        /// Delivery time minus placement time.
        lead_s: u32,
    },
    Returned {
        value_cents: u32,
    },
}

/// Event kind names, as the log writes them, in lifecycle order.
pub const KIND_NAMES: [&str; 9] = [
    "order_placed",
    "payment_attempted",
    "order_cancelled",
    "dispatched",
    "hub_arrived",
    "hub_departed",
    "customs_cleared",
    "delivered",
    "returned",
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
            EventKind::Dispatched => 3,
            EventKind::HubArrived { .. } => 4,
            EventKind::HubDeparted { .. } => 5,
            EventKind::CustomsCleared { .. } => 6,
            EventKind::Delivered { .. } => 7,
            EventKind::Returned { .. } => 8,
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

impl Event {
    /// The log's total order: time, then order id, then lifecycle stage.
    #[inline]
    pub fn order_key(&self) -> (u32, u64, u8) {
        (self.time_s, self.order_id, self.kind.stage())
    }
}
