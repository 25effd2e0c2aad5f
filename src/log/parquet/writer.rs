//! Writing the Parquet log as the run goes: the events of each day gathered into row
//! groups of at most `ROW_GROUP` rows, each row group's columns built and encoded in
//! parallel on the rayon threads, and appended to the day's file in column order.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::types::{ArrowPrimitiveType, UInt8Type, UInt16Type, UInt32Type};
use arrow_array::{
    ArrayRef, BooleanArray, DictionaryArray, PrimitiveArray, StringArray,
    TimestampMillisecondArray, UInt8Array, UInt16Array, UInt32Array, UInt64Array,
};
use arrow_buffer::{BooleanBuffer, NullBuffer};
use arrow_schema::Schema;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowRowGroupWriterFactory, ArrowWriterOptions, compute_leaves,
};
use parquet::basic::{Compression, Encoding};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::Error;
use crate::event::context::Context;
use crate::event::{Event, EventKind, KIND_NAMES};
use crate::log::SCHEMA_VERSION;
use crate::model::date::DAY_S;

use super::{
    COLUMNS, CONTEXT_KEY, SCHEMA_KEY, clock, day_file, epoch_s, filled_by, method_names, schema,
};

/// Most rows in a row group: a day with more is cut into row groups of this many (and
/// one with the rest), counted from the day's first event, so the files are the same
/// however the run hands its events over.
pub(super) const ROW_GROUP: usize = 1 << 20;
/// Events whose columns are built and encoded at a time (2.5 MB of events).
const SLICE: usize = 1 << 16;

/// Writes the Parquet log into a directory, day by day. `write` takes the next events
/// of the log (in the log's order, as `LogWriter::write` does); `finish` closes the last
/// day, writes the days after it that have no events, and reports each file's SHA-256.
pub struct ParquetLogWriter {
    dir: PathBuf,
    context: Context,
    schema: Arc<Schema>,
    props: WriterProperties,
    names: Names,
    /// The day being written and its file (`None` before the first day starts).
    day: u32,
    file: Option<DayFile>,
    /// Events of `day` not yet in a row group (fewer than `row_group`).
    pending: Vec<Event>,
    /// `ROW_GROUP`, or fewer in tests.
    pub(super) row_group: usize,
    next_seq: u64,
    hashes: BTreeMap<String, String>,
}

/// One day's file being written, hashed as it goes.
struct DayFile {
    name: String,
    writer: SerializedFileWriter<Hashed<BufWriter<File>>>,
    factory: ArrowRowGroupWriterFactory,
    row_groups: usize,
}

/// A writer that hashes every byte written through it.
struct Hashed<W> {
    inner: W,
    sha: Sha256,
}

impl<W: Write> Write for Hashed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The dictionaries' values and the ids' keys into them.
struct Names {
    kinds: ArrayRef,
    markets: ArrayRef,
    routes: ArrayRef,
    hubs: ArrayRef,
    categories: ArrayRef,
    methods: ArrayRef,
    /// Per market, each method's key in `methods`.
    method_keys: Vec<Vec<u16>>,
    epoch_s: i64,
    /// `time`'s time zone: the run's UTC offset.
    tz: Arc<str>,
    /// Per column, a bit per kind (`EventKind::index`) that fills it.
    filled_by: [u16; COLUMNS.len()],
}

impl Names {
    fn new(ctx: &Context) -> Names {
        let strings = |names: Vec<&str>| -> ArrayRef { Arc::new(StringArray::from(names)) };
        let (methods, method_keys) = method_names(ctx);
        Names {
            kinds: strings(KIND_NAMES.to_vec()),
            markets: strings(ctx.markets.iter().map(|m| m.id.as_str()).collect()),
            routes: strings(ctx.routes.iter().map(|r| r.id.as_str()).collect()),
            hubs: strings(ctx.hubs().iter().map(|h| h.id.as_str()).collect()),
            categories: strings(ctx.categories.iter().map(String::as_str).collect()),
            methods: strings(methods),
            method_keys,
            epoch_s: epoch_s(ctx),
            tz: clock(ctx).1.to_string().into(),
            filled_by: filled_by(),
        }
    }
}

fn parquet_error(what: &str) -> impl FnOnce(parquet::errors::ParquetError) -> Error {
    let context = format!("writing {what}");
    move |e| Error::io(context)(std::io::Error::other(e))
}

impl ParquetLogWriter {
    /// Creates the log's directory `dir` (which must not exist yet).
    pub fn create(dir: &Path, context: &Context) -> Result<ParquetLogWriter, Error> {
        fs::create_dir(dir).map_err(Error::io(format!("creating {}", dir.display())))?;
        let json = serde_json::to_string(context).expect("context serialises");
        let mut props = WriterProperties::builder()
            // Fixed, so that the bytes depend on nothing but the events.
            .set_created_by(format!("tradesim {}", env!("CARGO_PKG_VERSION")))
            .set_compression(Compression::LZ4_RAW)
            .set_dictionary_enabled(false)
            // Minimum and maximum per column chunk of the times and `seq` let readers
            // skip row groups; elsewhere they cost more than they give.
            .set_statistics_enabled(EnabledStatistics::None)
            .set_column_statistics_enabled(ColumnPath::from("seq"), EnabledStatistics::Chunk)
            .set_column_statistics_enabled(ColumnPath::from("time_s"), EnabledStatistics::Chunk)
            .set_column_statistics_enabled(ColumnPath::from("time"), EnabledStatistics::Chunk)
            // Fewer, longer batches through the column writers' per-batch work.
            .set_write_batch_size(8192)
            // Counts that mostly grow: their differences take a few bits each, and leave
            // the compressor a tenth of the bytes.
            .set_column_encoding(ColumnPath::from("seq"), Encoding::DELTA_BINARY_PACKED)
            .set_column_encoding(ColumnPath::from("time_s"), Encoding::DELTA_BINARY_PACKED)
            .set_column_encoding(ColumnPath::from("time"), Encoding::DELTA_BINARY_PACKED)
            .set_column_encoding(ColumnPath::from("order_id"), Encoding::DELTA_BINARY_PACKED)
            .set_column_encoding(ColumnPath::from("attempt"), Encoding::DELTA_BINARY_PACKED)
            .set_key_value_metadata(Some(vec![
                KeyValue::new(SCHEMA_KEY.to_string(), SCHEMA_VERSION.to_string()),
                KeyValue::new(CONTEXT_KEY.to_string(), json),
            ]));
        for name in ["kind", "market", "route", "hub", "category", "method"] {
            props = props.set_column_dictionary_enabled(ColumnPath::from(name), true);
        }
        Ok(ParquetLogWriter {
            dir: dir.to_path_buf(),
            schema: schema(context),
            props: props.build(),
            names: Names::new(context),
            context: context.clone(),
            day: 0,
            file: None,
            pending: Vec::new(),
            row_group: ROW_GROUP,
            next_seq: 1,
            hashes: BTreeMap::new(),
        })
    }

    /// Writes `events`, the next events of the log.
    pub fn write(&mut self, mut events: &[Event]) -> Result<(), Error> {
        while let Some(first) = events.first() {
            let day = first.time_s / DAY_S;
            if self.file.is_none() || day > self.day {
                self.finish_days_before(day)?;
            }
            // The events of this day: the log is in time order.
            let end = events.partition_point(|e| e.time_s / DAY_S <= day);
            let (today, rest) = events.split_at(end);
            events = rest;
            let mut today = today;
            if !self.pending.is_empty() {
                let take = (self.row_group - self.pending.len()).min(today.len());
                self.pending.extend_from_slice(&today[..take]);
                today = &today[take..];
                if self.pending.len() == self.row_group {
                    let pending = std::mem::take(&mut self.pending);
                    self.write_row_group(&pending)?;
                    self.pending = pending;
                    self.pending.clear();
                }
            }
            while today.len() >= self.row_group {
                self.write_row_group(&today[..self.row_group])?;
                today = &today[self.row_group..];
            }
            self.pending.extend_from_slice(today);
        }
        Ok(())
    }

    /// Closes the day being written and every day before `day`, and opens `day`'s file.
    fn finish_days_before(&mut self, day: u32) -> Result<(), Error> {
        if self.file.is_some() {
            self.close_day()?;
            self.day += 1;
        }
        while self.day < day {
            self.open_day()?;
            self.close_day()?;
            self.day += 1;
        }
        self.open_day()
    }

    fn open_day(&mut self) -> Result<(), Error> {
        let name = day_file(&self.context, self.day);
        let path = self.dir.join(&name);
        let shown = path.display().to_string();
        if let Some(parent) = path.parent() {
            fs::create_dir(parent).map_err(Error::io(format!("creating {}", parent.display())))?;
        }
        let file = File::create(&path).map_err(Error::io(format!("creating {shown}")))?;
        let out = Hashed {
            inner: BufWriter::with_capacity(1 << 20, file),
            sha: Sha256::new(),
        };
        let options = ArrowWriterOptions::new().with_properties(self.props.clone());
        let (writer, factory) =
            ArrowWriter::try_new_with_options(out, self.schema.clone(), options)
                .and_then(ArrowWriter::into_serialized_writer)
                .map_err(parquet_error(&shown))?;
        self.file = Some(DayFile {
            name,
            writer,
            factory,
            row_groups: 0,
        });
        Ok(())
    }

    /// Writes the day's last row group and its footer.
    fn close_day(&mut self) -> Result<(), Error> {
        if !self.pending.is_empty() {
            let pending = std::mem::take(&mut self.pending);
            self.write_row_group(&pending)?;
            self.pending = pending;
            self.pending.clear();
        }
        let day = self.file.take().expect("a day's file is open");
        let shown = self.dir.join(&day.name).display().to_string();
        let out = day.writer.into_inner().map_err(parquet_error(&shown))?;
        let sha = crate::model::digest::hex(&out.sha.finalize());
        out.inner
            .into_inner()
            .map_err(|e| Error::io(format!("writing {shown}"))(e.into_error()))?;
        self.hashes.insert(day.name, sha);
        Ok(())
    }

    /// Encodes `events` (the next rows) as a row group of the day's file: each column
    /// built and encoded as a task of its own, then the chunks appended in order.
    fn write_row_group(&mut self, events: &[Event]) -> Result<(), Error> {
        let file = self.file.as_mut().expect("a day's file is open");
        let shown = || self.dir.join(&file.name).display().to_string();
        let writers = file
            .factory
            .create_column_writers(file.row_groups)
            .map_err(parquet_error(&shown()))?;
        let (names, schema) = (&self.names, &self.schema);
        let mut writers: Vec<_> = writers.into_iter().map(Ok).collect();
        // Slice by slice, each slice's columns in parallel: a slice stays in the caches
        // while its 26 columns are built from it (whole row groups, read once a column,
        // made the run wait on memory).
        for (k, slice) in events.chunks(SLICE).enumerate() {
            let first_seq = self.next_seq + (k * SLICE) as u64;
            writers.par_iter_mut().enumerate().for_each(|(i, writer)| {
                if let Ok(w) = writer {
                    let array = column(i, slice, first_seq, names);
                    let written = compute_leaves(schema.field(i), &array)
                        .and_then(|leaves| leaves.iter().try_for_each(|leaf| w.write(leaf)));
                    if let Err(e) = written {
                        *writer = Err(e);
                    }
                }
            });
        }
        let chunks: Vec<ArrowColumnChunk> = writers
            .into_par_iter()
            .map(|w| w?.close())
            .collect::<Result<_, _>>()
            .map_err(parquet_error(&shown()))?;
        let mut group = file
            .writer
            .next_row_group()
            .map_err(parquet_error(&shown()))?;
        for chunk in chunks {
            chunk
                .append_to_row_group(&mut group)
                .map_err(parquet_error(&shown()))?;
        }
        group.close().map_err(parquet_error(&shown()))?;
        file.row_groups += 1;
        self.next_seq += events.len() as u64;
        Ok(())
    }

    /// Closes the last day and writes the days after it up to the end of the span;
    /// returns each file's SHA-256 by its path relative to the log's directory.
    pub fn finish(mut self) -> Result<BTreeMap<String, String>, Error> {
        if self.file.is_some() {
            self.close_day()?;
            self.day += 1;
        }
        while self.day < self.context.span_days() {
            self.open_day()?;
            self.close_day()?;
            self.day += 1;
        }
        Ok(self.hashes)
    }
}

/// Column `i` (of `COLUMNS`) of `events`, whose first is row `first_seq` of the log.
fn column(i: usize, events: &[Event], first_seq: u64, names: &Names) -> ArrayRef {
    use EventKind::*;
    // Which rows a sparse column fills, from a mask of kinds: no branch to mispredict
    // on the kinds' random order.
    let valid = || {
        let kinds = names.filled_by[i];
        NullBuffer::new(BooleanBuffer::collect_bool(events.len(), |k| {
            kinds >> events[k].kind.index() & 1 != 0
        }))
    };
    let ids = |keys: Vec<u8>, values: &ArrayRef| -> ArrayRef {
        Arc::new(DictionaryArray::<UInt8Type>::new(
            UInt8Array::from(keys),
            values.clone(),
        ))
    };
    match COLUMNS[i] {
        "seq" => Arc::new(UInt64Array::from_iter_values(
            (0..events.len() as u64).map(|k| first_seq + k),
        )),
        "time_s" => Arc::new(UInt32Array::from_iter_values(
            events.iter().map(|e| e.time_s),
        )),
        "time" => Arc::new(
            TimestampMillisecondArray::from_iter_values(
                events
                    .iter()
                    .map(|e| (names.epoch_s + i64::from(e.time_s)) * 1000),
            )
            .with_timezone(names.tz.clone()),
        ),
        "kind" => ids(
            events.iter().map(|e| e.kind.index() as u8).collect(),
            &names.kinds,
        ),
        "order_id" => Arc::new(UInt64Array::from_iter_values(
            events.iter().map(|e| e.order_id),
        )),
        "market" => ids(events.iter().map(|e| e.market.0).collect(), &names.markets),
        "route" => ids(events.iter().map(|e| e.route.0).collect(), &names.routes),
        "hub" => sparse_ids(events, valid(), &names.hubs, |k| match k {
            HubArrived { hub } | HubDeparted { hub, .. } => Some(hub.0),
            _ => None,
        }),
        "category" => sparse_ids(events, valid(), &names.categories, |k| match k {
            OrderPlaced { category, .. } => Some(category.0),
            _ => None,
        }),
        "method" => {
            let method = |e: &Event| match e.kind {
                OrderPlaced { method, .. }
                | PaymentAttempted { method, .. }
                | OrderCancelled { method, .. }
                | Refused { method, .. }
                | SellerPaid { method, .. } => Some(method),
                _ => None,
            };
            let keys: Vec<u16> = events
                .iter()
                .map(|e| method(e).map_or(0, |m| names.method_keys[e.market.ix()][m.ix()]))
                .collect();
            let keys = UInt16Array::new(keys.into(), Some(valid()));
            Arc::new(DictionaryArray::<UInt16Type>::new(
                keys,
                names.methods.clone(),
            ))
        }
        "attempt" => sparse::<UInt8Type>(events, valid(), |k| match k {
            PaymentAttempted { attempt, .. } => Some(*attempt),
            OrderCancelled { attempts, .. } => Some(*attempts),
            _ => None,
        }),
        "success" => flags(events, valid(), |k| match k {
            PaymentAttempted { success, .. } => Some(*success),
            _ => None,
        }),
        "inspected" => flags(events, valid(), |k| match k {
            CustomsCleared { inspected, .. } => Some(*inspected),
            _ => None,
        }),
        "seller" => sparse::<UInt32Type>(events, valid(), |k| match k {
            OrderPlaced { seller, .. }
            | OrderCancelled { seller, .. }
            | Dispatched { seller, .. }
            | HubDeparted { seller, .. }
            | Returned { seller, .. }
            | Refused { seller, .. }
            | SellerPaid { seller, .. } => Some(*seller),
            _ => None,
        }),
        "value_cents" => sparse::<UInt32Type>(events, valid(), |k| match k {
            OrderPlaced { value_cents, .. }
            | OrderCancelled { value_cents, .. }
            | Dispatched { value_cents, .. }
            | Returned { value_cents, .. }
            | Refused { value_cents, .. }
            | SellerPaid { value_cents, .. } => Some(*value_cents),
            _ => None,
        }),
        "duty_cents" => sparse::<UInt32Type>(events, valid(), |k| match k {
            CustomsCleared { duty_cents, .. } => Some(*duty_cents),
            _ => None,
        }),
        "vat_cents" => sparse::<UInt32Type>(events, valid(), |k| match k {
            CustomsCleared { vat_cents, .. } => Some(*vat_cents),
            _ => None,
        }),
        "wait_s" => sparse::<UInt32Type>(events, valid(), |k| match k {
            HubDeparted { wait_s, .. }
            | LinehaulDeparted { wait_s }
            | CustomsCleared { wait_s, .. } => Some(*wait_s),
            _ => None,
        }),
        "service_s" => sparse::<UInt32Type>(events, valid(), |k| match k {
            HubDeparted { service_s, .. } | CustomsCleared { service_s, .. } => Some(*service_s),
            _ => None,
        }),
        "lead_s" => sparse::<UInt32Type>(events, valid(), |k| match k {
            Delivered { lead_s, .. } => Some(*lead_s),
            _ => None,
        }),
        "freight_cents" => sparse::<UInt32Type>(events, valid(), |k| match k {
            Dispatched { freight_cents, .. }
            | Returned { freight_cents, .. }
            | Refused { freight_cents, .. } => Some(*freight_cents),
            _ => None,
        }),
        "fee_cents" => sparse::<UInt32Type>(events, valid(), |k| match k {
            HubDeparted { fee_cents, .. } | SellerPaid { fee_cents, .. } => Some(*fee_cents),
            _ => None,
        }),
        "commission_cents" => sparse::<UInt32Type>(events, valid(), |k| match k {
            SellerPaid {
                commission_cents, ..
            } => Some(*commission_cents),
            _ => None,
        }),
        "finance_cents" => sparse::<UInt32Type>(events, valid(), |k| match k {
            HubDeparted { finance_cents, .. } => Some(*finance_cents),
            _ => None,
        }),
        "cod_cents" => sparse::<UInt32Type>(events, valid(), |k| match k {
            Delivered {
                collected_cents, ..
            } => Some(*collected_cents),
            _ => None,
        }),
        "to_cash_s" => sparse::<UInt32Type>(events, valid(), |k| match k {
            SellerPaid { to_cash_s, .. } => Some(*to_cash_s),
            _ => None,
        }),
        other => unreachable!("column `{other}` has no builder"),
    }
}

/// A column that only some kinds fill: `value` of each event, null where `valid` says.
fn sparse<T: ArrowPrimitiveType>(
    events: &[Event],
    valid: NullBuffer,
    value: impl Fn(&EventKind) -> Option<T::Native>,
) -> ArrayRef {
    Arc::new(sparse_values::<T>(events, valid, value))
}

fn sparse_values<T: ArrowPrimitiveType>(
    events: &[Event],
    valid: NullBuffer,
    value: impl Fn(&EventKind) -> Option<T::Native>,
) -> PrimitiveArray<T> {
    let values: Vec<T::Native> = events
        .iter()
        .map(|e| value(&e.kind).unwrap_or_default())
        .collect();
    PrimitiveArray::<T>::new(values.into(), Some(valid))
}

/// A sparse id column: keys into `names`, null where `valid` says.
fn sparse_ids(
    events: &[Event],
    valid: NullBuffer,
    names: &ArrayRef,
    id: impl Fn(&EventKind) -> Option<u8>,
) -> ArrayRef {
    let keys = sparse_values::<UInt8Type>(events, valid, id);
    Arc::new(DictionaryArray::<UInt8Type>::new(keys, names.clone()))
}

/// A sparse yes/no column.
fn flags(
    events: &[Event],
    valid: NullBuffer,
    flag: impl Fn(&EventKind) -> Option<bool>,
) -> ArrayRef {
    let values = BooleanBuffer::collect_bool(events.len(), |i| flag(&events[i].kind) == Some(true));
    Arc::new(BooleanArray::new(values, Some(valid)))
}
