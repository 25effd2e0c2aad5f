//! The log's schema, in one place: its version, its columns with their types and units,
//! which columns each kind of event fills, and the longest lines a reader takes. The
//! writer formats, the reader checks, and the sidecar's data dictionary lists, against
//! these; the README's tables list the same (a test compares them).

pub const SCHEMA_VERSION: u32 = 4;
/// Schema versions this build reads.
pub const READABLE_SCHEMAS: &[u32] = &[4];
/// The sidecar's `format`: what the file beside `events.csv` is.
pub const FORMAT: &str = "tradesim-events";
/// How logs of schema 1 to 3 began: their version and context inside the CSV file.
pub(super) const OLD_MAGIC: &str = "#tradesim-events schema=";

/// A column's type as data tools know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// A whole number, at most 2^64 - 1 (`seq`, `order_id`) or 2^32 - 1 (the others).
    Integer,
    /// 0 or 1.
    Boolean,
    Text,
    /// ISO 8601 with the offset of the scenario's clock, `2016-11-11T08:15:42+03:00`.
    Timestamp,
}

impl ColumnType {
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Integer => "integer",
            ColumnType::Boolean => "boolean",
            ColumnType::Text => "text",
            ColumnType::Timestamp => "timestamp",
        }
    }
}

/// One column: its name, type and unit (empty for none).
pub struct Column {
    pub name: &'static str,
    pub ty: ColumnType,
    pub unit: &'static str,
}

const fn col(name: &'static str, ty: ColumnType, unit: &'static str) -> Column {
    Column { name, ty, unit }
}

use ColumnType::{Boolean, Integer, Text, Timestamp};

/// Every column, in the file's order.
pub const DICTIONARY: [Column; 26] = [
    col("seq", Integer, ""),
    col("time_s", Integer, "s"),
    col("time", Timestamp, ""),
    col("kind", Text, ""),
    col("order_id", Integer, ""),
    col("market", Text, ""),
    col("route", Text, ""),
    col("hub", Text, ""),
    col("seller", Integer, ""),
    col("category", Text, ""),
    col("method", Text, ""),
    col("attempt", Integer, ""),
    col("success", Boolean, "0/1"),
    col("value_cents", Integer, "USD cents"),
    col("duty_cents", Integer, "USD cents"),
    col("vat_cents", Integer, "USD cents"),
    col("inspected", Boolean, "0/1"),
    col("wait_s", Integer, "s"),
    col("service_s", Integer, "s"),
    col("lead_s", Integer, "s"),
    col("freight_cents", Integer, "USD cents"),
    col("fee_cents", Integer, "USD cents"),
    col("commission_cents", Integer, "USD cents"),
    col("finance_cents", Integer, "USD cents"),
    col("cod_cents", Integer, "USD cents"),
    col("to_cash_s", Integer, "s"),
];

pub const COLUMNS: [&str; 26] = {
    let mut names = [""; 26];
    let mut i = 0;
    while i < names.len() {
        names[i] = DICTIONARY[i].name;
        i += 1;
    }
    names
};

/// Columns every row fills: `seq` to `route`.
pub const COMMON: usize = 7;

/// The longest row a log may hold: anything longer is not a row of a log (and is not
/// read whole, so a foreign file without line breaks is not loaded into memory).
pub(super) const MAX_ROW: u64 = 4096;
// The longest row valid names allow: six names (a route's id counts for two), each
// after a comma, the time (26 bytes with its comma), and the other 19 columns at most
// 20 digits each after a comma.
const _: () =
    assert!(6 * (1 + crate::model::rules::MAX_NAME_BYTES) + 1 + 26 + 19 * 21 < MAX_ROW as usize);
/// The largest sidecar: its context lists each facility's lines for every day.
pub(super) const MAX_META: u64 = 64 << 20;

/// Columns `COMMON..` (`hub` on) that each event kind fills, by `EventKind::index`; the
/// others must be empty.
pub const FILLED: [&[usize]; 12] = [
    &[8, 9, 10, 13],
    &[10, 11, 12],
    &[8, 10, 11, 13],
    &[8, 13, 20],
    &[7],
    &[7, 8, 17, 18, 21, 23],
    &[17],
    &[14, 15, 16, 17, 18],
    &[19, 24],
    &[8, 13, 20],
    &[8, 10, 13, 20],
    &[8, 10, 13, 21, 22, 25],
];
