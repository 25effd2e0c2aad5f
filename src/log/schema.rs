//! The log's schema, in one place: its version, its marker lines, its columns, which
//! columns each kind of event fills, and the longest lines a reader takes. The writer
//! formats, and the reader checks, against these; the README's table lists the same
//! columns (a test compares them).

pub const SCHEMA_VERSION: u32 = 3;
/// Schema versions this build reads.
pub const READABLE_SCHEMAS: &[u32] = &[3];
pub(super) const MAGIC: &str = "#tradesim-events schema=";
pub(super) const CONTEXT_PREFIX: &str = "#context ";
pub(super) const END_PREFIX: &str = "#end events=";

pub const COLUMNS: [&str; 25] = [
    "seq",
    "time_s",
    "kind",
    "order_id",
    "market",
    "route",
    "hub",
    "seller",
    "category",
    "method",
    "attempt",
    "success",
    "value_cents",
    "duty_cents",
    "vat_cents",
    "inspected",
    "wait_s",
    "service_s",
    "lead_s",
    "freight_cents",
    "fee_cents",
    "commission_cents",
    "finance_cents",
    "cod_cents",
    "to_cash_s",
];

/// The longest row a log may hold: anything longer is not a row of a log (and is not
/// read whole, so a foreign file without line breaks is not loaded into memory).
pub(super) const MAX_ROW: u64 = 4096;
// The longest row valid names allow: six names (a route's id counts for two), each
// after a comma, and the other 19 columns at most 20 digits each after a comma.
const _: () =
    assert!(6 * (1 + crate::model::rules::MAX_NAME_BYTES) + 1 + 19 * 21 < MAX_ROW as usize);
/// The longest `#context` line.
pub(super) const MAX_CONTEXT: u64 = 64 << 20;

/// Columns 6.. (`hub` on) that each event kind fills, by `EventKind::index`; the
/// others must be empty.
pub(super) const FILLED: [&[usize]; 12] = [
    &[7, 8, 9, 12],
    &[9, 10, 11],
    &[7, 9, 10, 12],
    &[7, 12, 19],
    &[6],
    &[6, 7, 16, 17, 20, 22],
    &[16],
    &[13, 14, 15, 16, 17],
    &[18, 23],
    &[7, 12, 19],
    &[7, 9, 12, 19],
    &[7, 9, 12, 20, 21, 24],
];
