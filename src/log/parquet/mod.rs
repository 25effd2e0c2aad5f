//! The event log as Parquet (`tradesim run --log parquet`): a directory `events/` with one
//! file per simulated day, hive style, `events/date=YYYY-MM-DD/part-0.parquet`, every day
//! of the span present (a day without events is a file without rows), so a missing day
//! is caught. The rows are those of `events.csv` with real types (see `schema`); each
//! file's key-value metadata holds the schema version and the run's context, so the
//! directory alone rebuilds every table.

mod reader;
mod rows;
mod writer;

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, TimeUnit};

use crate::event::KIND_NAMES;
use crate::event::context::Context;
/// The columns: those of `events.csv`, in the same order.
pub use crate::log::COLUMNS;
use crate::log::schema::{COMMON as DENSE, FILLED};
use crate::model::date::{DAY_S, Date, UtcOffset};

pub use reader::ParquetLogReader;
pub use writer::ParquetLogWriter;

/// Key-value metadata keys of every file: the log's schema version, and the context
/// as JSON.
pub const SCHEMA_KEY: &str = "tradesim.schema";
pub const CONTEXT_KEY: &str = "tradesim.context";
/// The one file of each day's directory.
pub const PART: &str = "part-0.parquet";
/// A day's directory is `date=` and the day's date.
pub const DATE_PREFIX: &str = "date=";

/// The type of column `i`: ids as dictionaries of their names, money and durations as
/// unsigned integers, flags as booleans, `time` as the UTC instant with the run's clock
/// as its time zone (in milliseconds: Parquet has no timestamps in seconds).
fn data_type(i: usize, tz: &str) -> DataType {
    let names = |key: DataType| DataType::Dictionary(Box::new(key), Box::new(DataType::Utf8));
    match COLUMNS[i] {
        "seq" | "order_id" => DataType::UInt64,
        "time" => DataType::Timestamp(TimeUnit::Millisecond, Some(tz.into())),
        "kind" | "market" | "route" | "hub" | "category" => names(DataType::UInt8),
        // Method names are per market; the dictionary holds every market's.
        "method" => names(DataType::UInt16),
        "attempt" => DataType::UInt8,
        "success" | "inspected" => DataType::Boolean,
        _ => DataType::UInt32,
    }
}

/// The Arrow schema of a log with `context`. Its metadata (stored in the files as
/// `ARROW:schema`, which pyarrow reads instead of the files' own key-value metadata)
/// holds `pandas`.
pub fn schema(context: &Context) -> Arc<Schema> {
    let tz = clock(context).1.to_string();
    let fields: Vec<Field> = (0..COLUMNS.len())
        .map(|i| Field::new(COLUMNS[i], data_type(i, &tz), i >= DENSE))
        .collect();
    let mut schema = Schema::new(fields);
    // Arrow's metadata is a hash map: with one key, its order cannot reach the bytes.
    schema
        .metadata
        .insert("pandas".to_string(), pandas_metadata());
    Arc::new(schema)
}

/// The `pandas` metadata that pandas (through pyarrow) reads to give the
/// sparse columns its nullable types (`UInt32`, `boolean`) rather than floats and objects.
fn pandas_metadata() -> String {
    let columns: Vec<serde_json::Value> = (DENSE..COLUMNS.len())
        .filter_map(|i| {
            let (pandas, numpy) = match data_type(i, "") {
                DataType::UInt32 => ("uint32", "UInt32"),
                DataType::UInt8 => ("uint8", "UInt8"),
                DataType::Boolean => ("boolean", "boolean"),
                _ => return None,
            };
            Some(serde_json::json!({
                "name": COLUMNS[i],
                "field_name": COLUMNS[i],
                "pandas_type": pandas,
                "numpy_type": numpy,
                "metadata": null,
            }))
        })
        .collect();
    serde_json::json!({
        "index_columns": [],
        "column_indexes": [],
        "columns": columns,
        "creator": {"library": "tradesim", "version": env!("CARGO_PKG_VERSION")},
        "pandas_version": "2.2.0",
    })
    .to_string()
}

/// The index of `name` in `COLUMNS`; a name that is none of them fails to compile where
/// it is a constant (`ix!`).
pub(super) const fn column_index(name: &str) -> usize {
    let mut i = 0;
    while i < COLUMNS.len() {
        let (a, b) = (COLUMNS[i].as_bytes(), name.as_bytes());
        if a.len() == b.len() {
            let mut k = 0;
            while k < a.len() && a[k] == b[k] {
                k += 1;
            }
            if k == a.len() {
                return i;
            }
        }
        i += 1;
    }
    panic!("not a column of the Parquet log")
}

/// The context's start date and clock; `check_context` has accepted both by now.
fn clock(context: &Context) -> (Date, UtcOffset) {
    (
        Date::parse(&context.start_date).unwrap_or(Date::from_ymd(1970, 1, 1).expect("a date")),
        UtcOffset::parse(&context.utc_offset).unwrap_or(UtcOffset::UTC),
    )
}

/// The UTC instant (seconds since 1970) of `time_s` 0: midnight of `start_date` on the
/// run's clock.
fn epoch_s(context: &Context) -> i64 {
    let (start, offset) = clock(context);
    let days = start.days_since(Date::from_ymd(1970, 1, 1).expect("a date"));
    days * i64::from(DAY_S) - i64::from(offset.seconds())
}

/// Day `day`'s file, relative to the log's directory.
pub fn day_file(context: &Context, day: u32) -> String {
    let date = clock(context).0.add_days(i64::from(day));
    format!("{DATE_PREFIX}{date}/{PART}")
}

/// Per column, a bit per kind (`EventKind::index`) that fills it: every kind for the
/// columns every row fills, and for the others the kinds `log::schema::FILLED` gives.
fn filled_by() -> [u16; COLUMNS.len()] {
    let mut bits = [0u16; COLUMNS.len()];
    bits[..DENSE].fill((1 << KIND_NAMES.len()) - 1);
    for (kind, cols) in FILLED.iter().enumerate() {
        for &c in *cols {
            bits[c] |= 1 << kind;
        }
    }
    bits
}

/// The names of every method of every market, once each, in order of first appearance,
/// and per market the index of each of its methods in that list.
fn method_names(context: &Context) -> (Vec<&str>, Vec<Vec<u16>>) {
    let mut names: Vec<&str> = Vec::new();
    let index = context
        .markets
        .iter()
        .map(|m| {
            m.methods
                .iter()
                .map(|name| match names.iter().position(|n| n == name) {
                    Some(i) => i as u16,
                    None => {
                        names.push(name);
                        (names.len() - 1) as u16
                    }
                })
                .collect()
        })
        .collect();
    (names, index)
}

#[cfg(test)]
mod tests;
