//! Reading the Parquet log back, one event at a time, every row checked as the CSV
//! reader checks its rows (`log::reader`), errors naming the file and the row.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{UInt8Type, UInt16Type, UInt32Type, UInt64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

use crate::Error;
use crate::event::context::Context;
use crate::event::{Event, EventKind, KIND_NAMES};
use crate::log::SCHEMA_VERSION;
use crate::log::reader::{RouteCheck, check_context};
use crate::model::date::{DAY_S, Date};
use crate::model::{CategoryId, HubId, MarketId, MethodId, RouteId};

use super::{
    COLUMNS, CONTEXT_KEY, DATE_PREFIX, DENSE, PART, SCHEMA_KEY, column_index, day_file, epoch_s,
    filled_by, schema,
};

/// The index of a column named by a literal, worked out at compile time.
macro_rules! ix {
    ($name:literal) => {
        const { column_index($name) }
    };
}

/// Rows decoded at a time.
const BATCH: usize = 1 << 16;

/// A Parquet log (a directory `events/`) opened for reading: its context, then its
/// events one at a time. The files must be exactly one per day of the span, each with the
/// same context and the expected columns and types; every row is checked: `seq` 1, 2,
/// 3, ... across the files, the log's total order, each event on its file's day, `time`
/// equal to the start plus `time_s`, ids in the context, and the columns each kind fills.
pub struct ParquetLogReader {
    pub context: Context,
    dir: PathBuf,
    /// The first file's `tradesim.context`, which every file must repeat.
    context_json: String,
    expected: arrow_schema::SchemaRef,
    epoch_s: i64,
    /// Per column, a bit per kind that fills it.
    filled_by: [u16; COLUMNS.len()],
    /// The day whose file is being read (or is next), and that file.
    day: u32,
    file: Option<DayReader>,
    last_seq: u64,
    last: Option<Event>,
}

/// One day's file being read.
struct DayReader {
    shown: String,
    batches: ParquetRecordBatchReader,
    batch: Option<RecordBatch>,
    /// Next row of `batch`, and rows of the file before `batch`.
    row: usize,
    rows_before: u64,
}

fn bad(what: impl std::fmt::Display, message: impl std::fmt::Display) -> Error {
    Error::BadInput(format!("{what}: {message}"))
}

/// Opens one day's file and reads its metadata: the schema version and context JSON.
fn open_file(path: &Path) -> Result<(ParquetRecordBatchReaderBuilder<File>, String), Error> {
    let shown = path.display();
    let file = File::open(path).map_err(Error::io(format!("reading {shown}")))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| {
        bad(
            &shown,
            format!("not a readable Parquet file ({e}): the log is damaged or truncated"),
        )
    })?;
    let meta = builder.metadata().file_metadata().key_value_metadata();
    let get = |key: &str| {
        meta.and_then(|kv| kv.iter().find(|kv| kv.key == key))
            .and_then(|kv| kv.value.clone())
            .ok_or_else(|| {
                bad(
                    &shown,
                    format!("no `{key}` in its metadata: not a tradesim event log"),
                )
            })
    };
    let (version, json) = (get(SCHEMA_KEY)?, get(CONTEXT_KEY)?);
    if version != SCHEMA_VERSION.to_string() {
        return Err(bad(
            &shown,
            format!(
                "event log schema {version} is not supported: tradesim {} reads schema \
                 {SCHEMA_VERSION}; run its scenario again with this one",
                env!("CARGO_PKG_VERSION")
            ),
        ));
    }
    Ok((builder, json))
}

impl ParquetLogReader {
    /// Opens the log in directory `dir` and checks its files and context.
    pub fn open(dir: &Path) -> Result<ParquetLogReader, Error> {
        let shown = dir.display();
        let mut dates = Vec::new();
        for entry in fs::read_dir(dir).map_err(Error::io(format!("reading {shown}")))? {
            let entry = entry.map_err(Error::io(format!("reading {shown}")))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            match name.strip_prefix(DATE_PREFIX).and_then(Date::parse) {
                Some(date) if entry.path().is_dir() => dates.push(date),
                _ => {
                    return Err(bad(
                        &shown,
                        format!(
                            "unexpected `{name}`: a Parquet event log holds only \
                             {DATE_PREFIX}YYYY-MM-DD directories"
                        ),
                    ));
                }
            }
        }
        dates.sort();
        let Some(first) = dates.first() else {
            return Err(bad(
                &shown,
                format!("no {DATE_PREFIX}YYYY-MM-DD directories: not a Parquet event log"),
            ));
        };
        let first_file = dir.join(format!("{DATE_PREFIX}{first}/{PART}"));
        let (_, context_json) = open_file(&first_file)?;
        let context: Context = serde_json::from_str(&context_json).map_err(|e| {
            bad(
                first_file.display(),
                format!("unreadable `{CONTEXT_KEY}`: {e}"),
            )
        })?;
        check_context(&context).map_err(|m| {
            bad(
                first_file.display(),
                format!("inconsistent `{CONTEXT_KEY}`: {m}"),
            )
        })?;
        // Exactly the span's days, each once.
        let start = Date::parse(&context.start_date).expect("checked");
        let span = context.span_days();
        if let Some(d) = dates
            .iter()
            .find(|d| !(0..i64::from(span)).contains(&d.days_since(start)))
        {
            return Err(bad(
                &shown,
                format!(
                    "{DATE_PREFIX}{d} is outside the run's {span} days from {start}: \
                     files of another run are mixed in"
                ),
            ));
        }
        if let Some(missing) = (0..span).find(|&day| {
            dates
                .binary_search(&start.add_days(i64::from(day)))
                .is_err()
        }) {
            return Err(bad(
                dir.join(day_file(&context, missing)).display(),
                "missing: the log is incomplete (a Parquet log has a file for every day)",
            ));
        }
        Ok(ParquetLogReader {
            expected: schema(&context),
            epoch_s: epoch_s(&context),
            context,
            dir: dir.to_path_buf(),
            context_json,
            filled_by: filled_by(),
            day: 0,
            file: None,
            last_seq: 0,
            last: None,
        })
    }

    /// Events read so far.
    pub fn events_read(&self) -> u64 {
        self.last_seq
    }

    /// The next event, `None` after the last day's last row.
    pub fn next_event(&mut self) -> Result<Option<Event>, Error> {
        loop {
            if self.file.is_none() {
                if self.day >= self.context.span_days() {
                    return Ok(None);
                }
                self.file = Some(self.open_day()?);
            }
            let file = self.file.as_mut().expect("open");
            if let Some(batch) = &file.batch
                && file.row < batch.num_rows()
            {
                let row = file.row;
                file.row += 1;
                return self.row(row).map(Some);
            }
            match file.batches.next() {
                Some(Ok(batch)) => {
                    file.rows_before += file.batch.as_ref().map_or(0, |b| b.num_rows() as u64);
                    file.batch = Some(batch);
                    file.row = 0;
                }
                Some(Err(e)) => {
                    return Err(bad(
                        &file.shown,
                        format!(
                            "cannot read rows after row {} ({e}): the log is damaged",
                            file.rows_before
                        ),
                    ));
                }
                None => {
                    self.file = None;
                    self.day += 1;
                }
            }
        }
    }

    fn open_day(&self) -> Result<DayReader, Error> {
        let path = self.dir.join(day_file(&self.context, self.day));
        let shown = path.display().to_string();
        let (builder, json) = open_file(&path)?;
        if json != self.context_json {
            return Err(bad(
                &shown,
                format!(
                    "its `{CONTEXT_KEY}` differs from the first day's: files of another run \
                     are mixed in"
                ),
            ));
        }
        let found = builder.schema().fields();
        let expected = self.expected.fields();
        if found.len() != expected.len() {
            return Err(bad(
                &shown,
                format!(
                    "{} columns, expected {}: {}",
                    found.len(),
                    expected.len(),
                    COLUMNS.join(", ")
                ),
            ));
        }
        for (f, e) in found.iter().zip(expected) {
            if f.name() != e.name()
                || f.data_type() != e.data_type()
                || f.is_nullable() != e.is_nullable()
            {
                return Err(bad(
                    &shown,
                    format!(
                        "column `{}` of type {}, expected `{}` of type {}",
                        f.name(),
                        f.data_type(),
                        e.name(),
                        e.data_type()
                    ),
                ));
            }
        }
        let batches = builder
            .with_batch_size(BATCH)
            .build()
            .map_err(|e| bad(&shown, format!("cannot read its rows ({e})")))?;
        Ok(DayReader {
            shown,
            batches,
            batch: None,
            row: 0,
            rows_before: 0,
        })
    }

    /// Decodes and checks row `row` of the current batch.
    fn row(&mut self, row: usize) -> Result<Event, Error> {
        let file = self.file.as_ref().expect("open");
        let batch = file.batch.as_ref().expect("a batch");
        let at = |message: String| {
            bad(
                &file.shown,
                format!("row {}: {message}", file.rows_before + row as u64 + 1),
            )
        };
        let event = decode(
            batch,
            row,
            &self.context,
            self.epoch_s,
            self.day,
            &self.filled_by,
        )
        .map_err(at)?;
        let seq = batch
            .column(ix!("seq"))
            .as_primitive::<UInt64Type>()
            .value(row);
        if seq != self.last_seq + 1 {
            return Err(at(format!(
                "expected seq {}, found {seq}: rows are missing, repeated or out of order",
                self.last_seq + 1
            )));
        }
        if let Some(last) = &self.last {
            let (key, last_key) = (event.order_key(), last.order_key());
            if key <= last_key {
                return Err(at(format!(
                    "`{}` of order {} at time_s {} cannot follow `{}` of order {} at time_s {}: \
                     rows out of the log's order (time_s, order_id, lifecycle stage)",
                    event.kind.name(),
                    event.order_id,
                    key.0,
                    last.kind.name(),
                    last.order_id,
                    last_key.0
                )));
            }
        }
        self.last_seq = seq;
        self.last = Some(event);
        Ok(event)
    }
}

/// The name behind dictionary column `i` at `row` (its keys are bytes, or for `method`
/// 16-bit: see `super::data_type`).
fn name_at(batch: &RecordBatch, i: usize, row: usize) -> &str {
    let array = batch.column(i);
    if let Some(dict) = array.as_dictionary_opt::<UInt8Type>() {
        return dict
            .values()
            .as_string::<i32>()
            .value(usize::from(dict.keys().value(row)));
    }
    let dict = array.as_dictionary::<UInt16Type>();
    dict.values()
        .as_string::<i32>()
        .value(usize::from(dict.keys().value(row)))
}

/// The index in `names` of dictionary column `i`'s name at `row`.
fn lookup(
    batch: &RecordBatch,
    row: usize,
    i: usize,
    names: &mut dyn Iterator<Item = &str>,
) -> Result<u8, String> {
    let value = name_at(batch, i, row);
    let mut at = None;
    for (p, n) in names.enumerate() {
        if n == value {
            at = Some(p as u8);
            break;
        }
    }
    at.ok_or_else(|| {
        format!(
            "column `{}`: unknown `{value}` (not in the context)",
            COLUMNS[i]
        )
    })
}

/// Row `row` of `batch` (a file of day `day`) as an event, checked against `ctx`.
fn decode(
    batch: &RecordBatch,
    row: usize,
    ctx: &Context,
    epoch_s: i64,
    day: u32,
    filled_by: &[u16; COLUMNS.len()],
) -> Result<Event, String> {
    let col = |i: usize| -> &ArrayRef { batch.column(i) };
    let int = |i: usize| -> u32 { col(i).as_primitive::<UInt32Type>().value(row) };
    let time_s = int(ix!("time_s"));
    if time_s / DAY_S != day {
        return Err(format!(
            "time_s {time_s} falls on day {} of the run, not on this file's day {day}",
            time_s / DAY_S
        ));
    }
    if time_s >= ctx.span_days() * DAY_S {
        return Err(format!("time_s {time_s} is not inside the horizon"));
    }
    let time = col(ix!("time"))
        .as_primitive::<arrow_array::types::TimestampMillisecondType>()
        .value(row);
    if time != (epoch_s + i64::from(time_s)) * 1000 {
        return Err(format!(
            "time {time} (milliseconds since 1970, UTC) is not the start plus time_s {time_s}"
        ));
    }
    let kind_name = name_at(batch, ix!("kind"), row);
    let kind = KIND_NAMES
        .iter()
        .position(|k| *k == kind_name)
        .ok_or_else(|| format!("column `kind`: unknown event kind `{kind_name}`"))?;
    for (i, name) in COLUMNS.iter().enumerate().skip(DENSE) {
        let should = filled_by[i] >> kind & 1 != 0;
        if batch.column(i).is_valid(row) != should {
            return Err(if should {
                format!("column `{name}`: expected a value for a `{kind_name}` event, found null")
            } else {
                format!("column `{name}`: expected null for a `{kind_name}` event")
            });
        }
    }
    let lookup = |i: usize, names: &mut dyn Iterator<Item = &str>| lookup(batch, row, i, names);
    let market = MarketId(lookup(
        ix!("market"),
        &mut ctx.markets.iter().map(|m| m.id.as_str()),
    )?);
    let route = RouteId(lookup(
        ix!("route"),
        &mut ctx.routes.iter().map(|r| r.id.as_str()),
    )?);
    let check = RouteCheck::new(ctx, market, route)?;
    let method = || {
        lookup(
            ix!("method"),
            &mut ctx.markets[market.ix()].methods.iter().map(String::as_str),
        )
        .map(MethodId)
    };
    let hub = || {
        check.hub(HubId(lookup(
            ix!("hub"),
            &mut ctx.hubs().iter().map(|h| h.id.as_str()),
        )?))
    };
    let seller = || check.seller(int(ix!("seller")));
    let attempt = || col(ix!("attempt")).as_primitive::<UInt8Type>().value(row);
    let flag = |i: usize| col(i).as_boolean().value(row);
    let kind = match kind {
        0 => EventKind::OrderPlaced {
            seller: seller()?,
            category: CategoryId(lookup(
                ix!("category"),
                &mut ctx.categories.iter().map(String::as_str),
            )?),
            method: method()?,
            value_cents: int(ix!("value_cents")),
        },
        1 => EventKind::PaymentAttempted {
            method: method()?,
            attempt: match attempt() {
                0 => return Err("column `attempt`: expected 1 to 255, found 0".to_string()),
                a => a,
            },
            success: flag(ix!("success")),
        },
        2 => EventKind::OrderCancelled {
            seller: seller()?,
            method: method()?,
            value_cents: int(ix!("value_cents")),
            attempts: attempt(),
        },
        3 => EventKind::Dispatched {
            seller: seller()?,
            value_cents: int(ix!("value_cents")),
            freight_cents: int(ix!("freight_cents")),
        },
        4 => EventKind::HubArrived { hub: hub()? },
        5 => EventKind::HubDeparted {
            hub: hub()?,
            wait_s: int(ix!("wait_s")),
            service_s: int(ix!("service_s")),
            seller: seller()?,
            fee_cents: int(ix!("fee_cents")),
            finance_cents: int(ix!("finance_cents")),
        },
        6 => {
            check.linehaul()?;
            EventKind::LinehaulDeparted {
                wait_s: int(ix!("wait_s")),
            }
        }
        7 => EventKind::CustomsCleared {
            duty_cents: int(ix!("duty_cents")),
            vat_cents: int(ix!("vat_cents")),
            inspected: flag(ix!("inspected")),
            wait_s: int(ix!("wait_s")),
            service_s: int(ix!("service_s")),
        },
        8 => EventKind::Delivered {
            lead_s: int(ix!("lead_s")),
            collected_cents: int(ix!("cod_cents")),
        },
        9 => EventKind::Returned {
            seller: seller()?,
            value_cents: int(ix!("value_cents")),
            freight_cents: int(ix!("freight_cents")),
        },
        10 => EventKind::Refused {
            seller: seller()?,
            method: method()?,
            value_cents: int(ix!("value_cents")),
            freight_cents: int(ix!("freight_cents")),
        },
        _ => EventKind::SellerPaid {
            seller: seller()?,
            method: method()?,
            value_cents: int(ix!("value_cents")),
            commission_cents: int(ix!("commission_cents")),
            fee_cents: int(ix!("fee_cents")),
            to_cash_s: int(ix!("to_cash_s")),
        },
    };
    Ok(Event {
        time_s,
        order_id: col(ix!("order_id")).as_primitive::<UInt64Type>().value(row),
        market,
        route,
        kind,
    })
}
