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
    /// For `growth:METRIC`: the earlier period the metric over `from..to` is compared
    /// with (the target is the ratio less 1).
    pub versus: Option<(Date, Date)>,
}

impl Target {
    /// What the run is held against.
    pub fn goal(&self) -> f64 {
        if self.metric.starts_with("growth:") {
            // A ratio of two periods of the same scope.
            self.value
        } else {
            self.value * self.scope
        }
    }

    /// `2016-11-11`, or `2016-01-01..2016-12-31`, and for a growth the earlier period
    /// after `/`.
    pub fn period(&self) -> String {
        let span = |from: Date, to: Date| {
            if from == to {
                from.to_string()
            } else {
                format!("{from}..{to}")
            }
        };
        match self.versus {
            Some((from, to)) => format!("{}/{}", span(self.from, self.to), span(from, to)),
            None => span(self.from, self.to),
        }
    }

    /// The same target over the earlier period of a growth, and the metric it grows.
    pub fn earlier(&self) -> Option<Target> {
        let (from, to) = self.versus?;
        Some(Target {
            from,
            to,
            metric: self.metric.strip_prefix("growth:")?.to_string(),
            versus: None,
            ..self.clone()
        })
    }

    /// The same target over its own period, on the metric it grows.
    pub fn later(&self) -> Option<Target> {
        Some(Target {
            metric: self.metric.strip_prefix("growth:")?.to_string(),
            versus: None,
            ..self.clone()
        })
    }
}

/// A parameter `calibrate --fit` solves for: the override paths it sets and its bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    /// One path (`path`), or several moved by the one parameter (`paths`).
    pub paths: Vec<String>,
    /// Whether the parameter is a factor on each path's written value (a scale over
    /// several order values) rather than the value itself.
    pub scale: bool,
    pub min: f64,
    pub max: f64,
    /// A second path that moves the other way by as much, so that the two keep the sum
    /// they have in the file (two shares of a payment mix, which must sum to 1).
    pub balance: Option<String>,
}
