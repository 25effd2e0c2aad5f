//! The scenario file exactly as written: serde types that reject unknown keys.
//!
//! Nothing here is checked beyond its TOML type; `validate` turns a `RawScenario`
//! into a `model::Scenario`. Distributions stay `toml::Value` because their key
//! names carry units, which `dist::parse` reads.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Value;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub scenario: RawHeader,
    #[serde(default)]
    pub hub: Vec<RawHub>,
    #[serde(default)]
    pub market: Vec<RawMarket>,
    #[serde(default)]
    pub sellers: Vec<RawSellers>,
    #[serde(default)]
    pub route: Vec<RawRoute>,
    #[serde(default)]
    pub peak: Vec<RawPeak>,
    #[serde(default)]
    pub variant: Vec<RawVariant>,
    #[serde(default)]
    pub target: Vec<RawTarget>,
    #[serde(default)]
    pub change: Vec<RawChange>,
    #[serde(default)]
    pub fit: Vec<RawFit>,
    #[serde(default)]
    pub uncertain: Vec<RawUncertain>,
}

/// An uncertain parameter: an override path and its distribution. Which fields a
/// distribution takes is checked in `validate`, so a missing one is named there.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUncertain {
    #[serde(default)]
    pub name: Option<String>,
    pub path: String,
    pub dist: String,
    pub low: Option<f64>,
    pub high: Option<f64>,
    pub mode: Option<f64>,
    pub mean: Option<f64>,
    pub sd: Option<f64>,
    pub levels: Option<Vec<Value>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFit {
    pub path: Option<String>,
    pub paths: Option<Vec<String>>,
    #[serde(default)]
    pub scale: bool,
    pub min: f64,
    pub max: f64,
    pub balance: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHeader {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub seed: u64,
    #[serde(deserialize_with = "date_text")]
    pub start_date: String,
    pub days: i64,
    #[serde(default)]
    pub drain_days: i64,
    #[serde(default)]
    pub warmup_days: i64,
    /// `+HH:MM`: the clock the scenario's times are on.
    #[serde(default)]
    pub utc_offset: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHub {
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub lines: i64,
    pub service_time: Value,
    #[serde(default)]
    pub capacity_changes: Vec<RawCapacityChange>,
    #[serde(default)]
    pub fee_usd: f64,
    #[serde(default)]
    pub efinance_rate: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCapacityChange {
    #[serde(deserialize_with = "date_text")]
    pub date: String,
    pub lines: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMarket {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub currency: String,
    #[serde(default = "one")]
    pub usd_rate: f64,
    pub active_buyers: f64,
    pub orders_per_buyer_day: f64,
    #[serde(default)]
    pub weekly: Option<Vec<f64>>,
    #[serde(default)]
    pub monthly: Option<Vec<f64>>,
    #[serde(default)]
    pub growth: f64,
    #[serde(default)]
    pub intraday: Option<Vec<f64>>,
    pub categories: BTreeMap<String, f64>,
    pub payment: Vec<RawPayment>,
    #[serde(default = "one_attempt")]
    pub max_payment_attempts: i64,
    #[serde(default)]
    pub payment_retry: Option<Value>,
    #[serde(default)]
    pub commission_rate: f64,
    #[serde(default)]
    pub fx_spread: f64,
    #[serde(default)]
    pub settlement: RawSettlement,
    pub customs: RawCustoms,
    pub last_mile: Value,
    #[serde(default)]
    pub return_rate: f64,
    #[serde(default)]
    pub return_time: Option<Value>,
    #[serde(default)]
    pub exchange_office: Option<RawExchangeOffice>,
    #[serde(default)]
    pub elasticities: RawElasticities,
    pub sources: BTreeMap<String, f64>,
}

fn one() -> f64 {
    1.0
}

fn one_attempt() -> i64 {
    1
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPayment {
    pub method: String,
    pub share: f64,
    pub success: f64,
    #[serde(default)]
    pub abandon: f64,
    #[serde(default)]
    pub fee_rate: f64,
    #[serde(default)]
    pub fee_usd: f64,
    /// "order" (paid before dispatch, the default) or "delivery" (cash on delivery).
    #[serde(default)]
    pub collect: Option<String>,
    #[serde(default)]
    pub refusal: f64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettlement {
    #[serde(default)]
    pub confirmation: Option<Value>,
    #[serde(default)]
    pub auto_confirm_days: Option<f64>,
    #[serde(default)]
    pub cod_remittance: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCustoms {
    pub de_minimis_usd: f64,
    pub duty_rate: f64,
    pub vat_rate: f64,
    #[serde(default)]
    pub duty_base: Option<String>,
    #[serde(default)]
    pub inspection_rate: f64,
    #[serde(default)]
    pub inspection_delay: Option<Value>,
    #[serde(default)]
    pub clearance_time: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExchangeOffice {
    pub lines: i64,
    pub parcels_per_line_hour: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawElasticities {
    #[serde(default)]
    pub landed_cost: f64,
    #[serde(default)]
    pub delivery_time: f64,
    #[serde(default = "one")]
    pub outside_share: f64,
}

/// No elasticities given: demand ignores policy, and the pools are independent.
impl Default for RawElasticities {
    fn default() -> Self {
        RawElasticities {
            landed_cost: 0.0,
            delivery_time: 0.0,
            outside_share: 1.0,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSellers {
    pub id: String,
    #[serde(default)]
    pub country: String,
    pub count: i64,
    #[serde(default = "one")]
    pub popularity_zipf: f64,
    pub order_value: BTreeMap<String, Value>,
    pub handling_time: Value,
    #[serde(default)]
    pub size_tiers: Vec<RawSizeTier>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSizeTier {
    pub name: String,
    pub share: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    pub sellers: String,
    pub market: String,
    #[serde(default)]
    pub via: Option<String>,
    #[serde(default)]
    pub to_hub: Option<Value>,
    pub transit: Value,
    #[serde(default)]
    pub linehaul: Option<RawLinehaul>,
    #[serde(default)]
    pub customs: Option<RawRouteCustoms>,
    pub cost_usd: f64,
    #[serde(default)]
    pub return_cost_usd: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLinehaul {
    /// Times of day, "HH:MM".
    pub departures: Vec<String>,
    #[serde(default)]
    pub cutoff_hours: f64,
    #[serde(default)]
    pub capacity: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRouteCustoms {
    #[serde(default)]
    pub inspection_rate: Option<f64>,
    #[serde(default)]
    pub inspection_delay: Option<Value>,
    #[serde(default)]
    pub clearance_time: Option<Value>,
    #[serde(default)]
    pub green_lane: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPeak {
    pub name: String,
    #[serde(deserialize_with = "date_text")]
    pub date: String,
    pub markets: Vec<String>,
    pub multiplier: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVariant {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub set: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChange {
    pub name: String,
    #[serde(deserialize_with = "date_text")]
    pub date: String,
    #[serde(default)]
    pub description: String,
    pub set: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    /// One day, or a period `from`..`to` (both included).
    #[serde(default, deserialize_with = "some_date_text")]
    pub date: Option<String>,
    #[serde(default, deserialize_with = "some_date_text")]
    pub from: Option<String>,
    #[serde(default, deserialize_with = "some_date_text")]
    pub to: Option<String>,
    /// For a `growth:METRIC` target, the earlier period.
    #[serde(default, deserialize_with = "some_date_text")]
    pub versus_from: Option<String>,
    #[serde(default, deserialize_with = "some_date_text")]
    pub versus_to: Option<String>,
    pub market: String,
    pub metric: String,
    pub value: f64,
    #[serde(default = "one")]
    pub scope: f64,
    pub tolerance: f64,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub record: Option<String>,
    #[serde(default = "yes")]
    pub fit: bool,
}

fn yes() -> bool {
    true
}

fn some_date_text<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<String>, D::Error> {
    date_text(de).map(Some)
}

/// A date, written as a string (`"2016-11-09"`) or as a bare TOML date (`2016-11-09`),
/// kept as text for `validate` to check.
fn date_text<'de, D: serde::Deserializer<'de>>(de: D) -> Result<String, D::Error> {
    struct DateText;
    impl<'de> serde::de::Visitor<'de> for DateText {
        type Value = String;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a date such as \"2016-11-09\"")
        }

        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_string())
        }

        // TOML hands its dates to serde as a map with one private key.
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<String, A::Error> {
            let value = toml::value::Datetime::deserialize(
                serde::de::value::MapAccessDeserializer::new(map),
            )?;
            match (value.date, value.time, value.offset) {
                (Some(date), None, None) => Ok(date.to_string()),
                _ => Err(serde::de::Error::custom(format!(
                    "expected a date such as \"2016-11-09\", found the date-time {value}"
                ))),
            }
        }
    }
    de.deserialize_any(DateText)
}

/// A serde message in the scenario language's terms: `expected struct RawMarket` becomes
/// `expected a [[market]] table`.
pub fn in_user_terms(message: &str) -> String {
    const NAMES: &[(&str, &str)] = &[
        ("struct RawScenario", "a scenario"),
        ("struct RawHeader", "the [scenario] table"),
        ("struct RawHub", "a [[hub]] table"),
        (
            "struct RawCapacityChange",
            "a capacity change table { date, lines }",
        ),
        ("struct RawMarket", "a [[market]] table"),
        (
            "struct RawPayment",
            "a payment table { method, share, success, abandon, fee_rate, fee_usd, collect, refusal }",
        ),
        ("struct RawCustoms", "a customs table"),
        (
            "struct RawSettlement",
            "a settlement table { confirmation, auto_confirm_days, cod_remittance }",
        ),
        (
            "struct RawElasticities",
            "an elasticities table { landed_cost, delivery_time, outside_share }",
        ),
        ("struct RawSellers", "a [[sellers]] table"),
        ("struct RawSizeTier", "a size tier table { name, share }"),
        ("struct RawRoute", "a [[route]] table"),
        ("struct RawPeak", "a [[peak]] table"),
        ("struct RawVariant", "a [[variant]] table"),
        ("struct RawTarget", "a [[target]] table"),
        (
            "struct RawFit",
            "a [[fit]] table { path or paths, scale, min, max, balance }",
        ),
        (
            "struct RawUncertain",
            "an [[uncertain]] table { name, path, dist, low, high, mode, mean, sd, levels }",
        ),
        (
            "struct RawChange",
            "a [[change]] table { name, date, description, set }",
        ),
    ];
    NAMES
        .iter()
        .fold(message.to_string(), |m, (from, to)| m.replace(from, to))
}
