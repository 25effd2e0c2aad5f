//! Who pays whom, in integer cents: the one place where the scenario's rates and fees
//! become the amounts that events carry (the engine charges them, `explain` tells them).

use crate::model::{Hub, Market, Route};

/// US dollars to whole cents, rounded half up (amounts are validated finite and
/// non-negative, and far below `u32::MAX` cents by the value limits).
#[inline]
pub fn cents(usd: f64) -> u32 {
    round_half_up(usd * 100.0)
}

#[inline]
fn share_of(value_cents: u32, rate: f64) -> u32 {
    round_half_up(f64::from(value_cents) * rate)
}

/// `x.round()` for `x >= 0`, without the call `round` costs where SSE4.1 is not assumed.
#[inline]
fn round_half_up(x: f64) -> u32 {
    (x + 0.5) as u32
}

/// What the seller gets for one order at settlement, before its own costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payout {
    /// The order's value, as the buyer paid it.
    pub gross_cents: u32,
    /// The platform's commission.
    pub commission_cents: u32,
    /// The payment method's fee and the currency conversion spread.
    pub fee_cents: u32,
    /// The hub's e-finance fee, when the seller was paid at hub departure.
    pub finance_cents: u32,
}

impl Payout {
    /// The order's payout in `market` paid with `method`, financed at `hub` if given.
    pub fn of(market: &Market, method: usize, value_cents: u32, finance_rate: f64) -> Payout {
        let m = &market.payment[method];
        let fee = share_of(value_cents, m.fee_rate + market.fx_spread) + cents(m.fee_usd);
        Payout {
            gross_cents: value_cents,
            commission_cents: share_of(value_cents, market.commission_rate),
            fee_cents: fee,
            finance_cents: share_of(value_cents, finance_rate),
        }
    }

    /// What reaches the seller's account (negative when fees exceed the value).
    pub fn net_cents(&self) -> i64 {
        i64::from(self.gross_cents)
            - i64::from(self.commission_cents)
            - i64::from(self.fee_cents)
            - i64::from(self.finance_cents)
    }
}

impl Route {
    /// Freight of one parcel out, paid by the seller at dispatch.
    pub fn freight_cents(&self) -> u32 {
        cents(self.cost_usd)
    }

    /// Freight of one parcel back to the seller, paid by the seller.
    pub fn return_freight_cents(&self) -> u32 {
        cents(self.return_cost_usd)
    }
}

impl Hub {
    /// The hub's fee for one parcel, paid by the seller.
    pub fn fee_cents(&self) -> u32 {
        cents(self.fee_usd)
    }
}
