//! Calibration targets (the published figures a scenario is held against) and the
//! parameters `calibrate --fit` solves for.

use super::MarketId;
use super::date::Date;

/// The daily metrics a calibration target may name (columns of `daily_markets.csv`).
pub const TARGET_METRICS: &[&str] = &[
    "orders",
    "cancelled",
    "gmv_usd",
    "payment_attempts",
    "payment_failures",
    "duty_usd",
    "vat_usd",
    "delivered",
    "returned",
    "dispatched",
    // Parcels customs cleared: arrived in the market (what a post office counts).
    "cleared",
    "refused",
    "refunds_usd",
    // GMV in the market's currency, at each day's `usd_rate`.
    "gmv_local",
    // Placement to delivery over the period's deliveries (not scaled by the sample).
    "mean_lead_time_days",
    // Average value of the orders not cancelled (GMV / (orders - cancelled)), in USD and
    // in the market's currency at each day's `usd_rate`.
    "aov_usd",
    "aov_local",
];

#[derive(Debug, Clone)]
pub struct Target {
    /// The period it covers, both days included (any dates: a target outside the
    /// horizon is kept, and skipped by `calibrate`).
    pub from: Date,
    pub to: Date,
    pub market: MarketId,
    pub metric: String,
    /// The published figure.
    pub value: f64,
    /// The share of it the scenario covers (1: all of it); the run is held against
    /// `value x scope`.
    pub scope: f64,
    /// Relative tolerance, e.g. 0.02 for 2 %.
    pub tolerance: f64,
    pub source: String,
    /// The row of the record table (`scenarios/record/record.csv`) it comes from.
    pub record: Option<String>,
    /// Whether `calibrate --fit` fits the `[[fit]]` parameters to it; `false` marks an
    /// out-of-sample check.
    pub fit: bool,
}

impl Target {
    /// What the run is held against.
    pub fn goal(&self) -> f64 {
        self.value * self.scope
    }

    /// `2016-11-11`, or `2016-01-01..2016-12-31`.
    pub fn period(&self) -> String {
        if self.from == self.to {
            self.from.to_string()
        } else {
            format!("{}..{}", self.from, self.to)
        }
    }
}

/// A parameter `calibrate --fit` solves for: an override path and its bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub path: String,
    pub min: f64,
    pub max: f64,
}
