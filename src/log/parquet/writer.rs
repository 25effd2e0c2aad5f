//! Writing the Parquet log as the run goes: the events of each day gathered into row
//! groups of at most `ROW_GROUP` rows, each row group's columns built and encoded in
//! parallel on the rayon threads, and appended to the day's file in column order.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::types::{UInt8Type, UInt16Type};
use arrow_array::{
    ArrayRef, BooleanArray, DictionaryArray, StringArray, TimestampMillisecondArray, UInt8Array,
    UInt16Array, UInt32Array, UInt64Array,
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
        // Slice by slice: a slice stays in the caches while its columns are built and
        // encoded (whole row groups, read once a column, made the run wait on memory).
        let slices: Vec<&[Event]> = events.chunks(SLICE).collect();
        let first_seq = |k: usize| self.next_seq + (k * SLICE) as u64;
        // Each slice's columns built in one pass over its events (one task), while the
        // slice before it is encoded column by column (26 tasks): the build no longer
        // reads the events once per column, and it overlaps the encoding on the pool.
        let mut current = slices.first().map(|s| columns(s, first_seq(0), names));
        for k in 0..slices.len() {
            let arrays = current.take().expect("the slice's columns are built");
            let (next, ()) = rayon::join(
                || {
                    slices
                        .get(k + 1)
                        .map(|s| columns(s, first_seq(k + 1), names))
                },
                || {
                    writers
                        .par_iter_mut()
                        .zip(arrays.par_iter())
                        .enumerate()
                        .for_each(|(i, (writer, array))| {
                            if let Ok(w) = writer {
                                let written =
                                    compute_leaves(schema.field(i), array).and_then(|leaves| {
                                        leaves.iter().try_for_each(|leaf| w.write(leaf))
                                    });
                                if let Err(e) = written {
                                    *writer = Err(e);
                                }
                            }
                        })
                },
            );
            current = next;
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

/// Every column (in `COLUMNS` order) of `events`, whose first is row `first_seq` of the
/// log, from one pass over the events: each sparse column starts as zeros and each
/// event writes only the fields its kind has (a pass per column read the events 26
/// times and matched each event's kind in each).
fn columns(events: &[Event], first_seq: u64, names: &Names) -> Vec<ArrayRef> {
    use EventKind::*;
    let n = events.len();
    let mut time_s = Vec::with_capacity(n);
    let mut kind = Vec::with_capacity(n);
    let mut order_id = Vec::with_capacity(n);
    let mut market = Vec::with_capacity(n);
    let mut route = Vec::with_capacity(n);
    let (mut hub, mut category, mut attempt) = (vec![0u8; n], vec![0u8; n], vec![0u8; n]);
    let mut method = vec![0u16; n];
    let (mut success, mut inspected) = (vec![false; n], vec![false; n]);
    let [
        mut seller,
        mut value,
        mut duty,
        mut vat,
        mut wait,
        mut service,
        mut lead,
        mut freight,
        mut fee,
        mut commission,
        mut finance,
        mut cod,
        mut to_cash,
    ] = std::array::from_fn(|_| vec![0u32; n]);
    for (k, e) in events.iter().enumerate() {
        time_s.push(e.time_s);
        kind.push(e.kind.index() as u8);
        order_id.push(e.order_id);
        market.push(e.market.0);
        route.push(e.route.0);
        let method_key = |m: crate::model::MethodId| names.method_keys[e.market.ix()][m.ix()];
        match e.kind {
            OrderPlaced {
                seller: s,
                category: c,
                method: m,
                value_cents,
            } => {
                seller[k] = s;
                category[k] = c.0;
                method[k] = method_key(m);
                value[k] = value_cents;
            }
            PaymentAttempted {
                method: m,
                attempt: a,
                success: ok,
            } => {
                method[k] = method_key(m);
                attempt[k] = a;
                success[k] = ok;
            }
            OrderCancelled {
                seller: s,
                method: m,
                value_cents,
                attempts,
            } => {
                seller[k] = s;
                method[k] = method_key(m);
                value[k] = value_cents;
                attempt[k] = attempts;
            }
            Dispatched {
                seller: s,
                value_cents,
                freight_cents,
            }
            | Returned {
                seller: s,
                value_cents,
                freight_cents,
            } => {
                seller[k] = s;
                value[k] = value_cents;
                freight[k] = freight_cents;
            }
            HubArrived { hub: h } => hub[k] = h.0,
            HubDeparted {
                hub: h,
                wait_s,
                service_s,
                seller: s,
                fee_cents,
                finance_cents,
            } => {
                hub[k] = h.0;
                wait[k] = wait_s;
                service[k] = service_s;
                seller[k] = s;
                fee[k] = fee_cents;
                finance[k] = finance_cents;
            }
            LinehaulDeparted { wait_s } => wait[k] = wait_s,
            CustomsCleared {
                duty_cents,
                vat_cents,
                inspected: i,
                wait_s,
                service_s,
            } => {
                duty[k] = duty_cents;
                vat[k] = vat_cents;
                inspected[k] = i;
                wait[k] = wait_s;
                service[k] = service_s;
            }
            Delivered {
                lead_s,
                collected_cents,
            } => {
                lead[k] = lead_s;
                cod[k] = collected_cents;
            }
            Refused {
                seller: s,
                method: m,
                value_cents,
                freight_cents,
            } => {
                seller[k] = s;
                method[k] = method_key(m);
                value[k] = value_cents;
                freight[k] = freight_cents;
            }
            SellerPaid {
                seller: s,
                method: m,
                value_cents,
                fee_cents,
                commission_cents,
                to_cash_s,
            } => {
                seller[k] = s;
                method[k] = method_key(m);
                value[k] = value_cents;
                fee[k] = fee_cents;
                commission[k] = commission_cents;
                to_cash[k] = to_cash_s;
            }
        }
    }
    // Which rows a sparse column fills, from a mask of kinds: no branch to mispredict
    // on the kinds' random order.
    // 64 rows a word, straight from the kinds' bytes (no bounds check per row).
    let valid = |i: usize| {
        let kinds = names.filled_by[i];
        let words: Vec<u64> = kind
            .chunks(64)
            .map(|chunk| {
                chunk
                    .iter()
                    .enumerate()
                    .fold(0u64, |word, (j, &k)| word | u64::from(kinds >> k & 1) << j)
            })
            .collect();
        NullBuffer::new(BooleanBuffer::new(words.into(), 0, n))
    };
    let ids = |keys: Vec<u8>, values: &ArrayRef| -> ArrayRef {
        Arc::new(DictionaryArray::<UInt8Type>::new(
            UInt8Array::from(keys),
            values.clone(),
        ))
    };
    let sparse_ids = |i: usize, keys: Vec<u8>, values: &ArrayRef| -> ArrayRef {
        Arc::new(DictionaryArray::<UInt8Type>::new(
            UInt8Array::new(keys.into(), Some(valid(i))),
            values.clone(),
        ))
    };
    let flags = |i: usize, values: &[bool]| -> ArrayRef {
        let words: Vec<u64> = values
            .chunks(64)
            .map(|chunk| {
                chunk
                    .iter()
                    .enumerate()
                    .fold(0u64, |word, (j, &v)| word | u64::from(v) << j)
            })
            .collect();
        let values = BooleanBuffer::new(words.into(), 0, n);
        Arc::new(BooleanArray::new(values, Some(valid(i))))
    };
    let time: ArrayRef = Arc::new(
        TimestampMillisecondArray::from_iter_values(
            time_s
                .iter()
                .map(|&s| (names.epoch_s + i64::from(s)) * 1000),
        )
        .with_timezone(names.tz.clone()),
    );
    let (mut time_s, mut order_id) = (Some(time_s), Some(order_id));
    let (mut market, mut route) = (Some(market), Some(route));
    let (mut hub, mut category) = (Some(hub), Some(category));
    let (mut attempt, mut method) = (Some(attempt), Some(method));
    let mut u32s = [
        Some(seller),
        Some(value),
        Some(duty),
        Some(vat),
        Some(wait),
        Some(service),
        Some(lead),
        Some(freight),
        Some(fee),
        Some(commission),
        Some(finance),
        Some(cod),
        Some(to_cash),
    ];
    let mut u32s = |i: usize, j: usize| -> ArrayRef {
        let values = u32s[j].take().expect("each column once");
        Arc::new(UInt32Array::new(values.into(), Some(valid(i))))
    };
    let once = "each column once";
    (0..COLUMNS.len())
        .map(|i| match COLUMNS[i] {
            "seq" => Arc::new(UInt64Array::from_iter_values(
                (0..n as u64).map(|k| first_seq + k),
            )) as ArrayRef,
            "time_s" => Arc::new(UInt32Array::from(time_s.take().expect(once))),
            "time" => time.clone(),
            "kind" => ids(kind.clone(), &names.kinds),
            "order_id" => Arc::new(UInt64Array::from(order_id.take().expect(once))),
            "market" => ids(market.take().expect(once), &names.markets),
            "route" => ids(route.take().expect(once), &names.routes),
            "hub" => sparse_ids(i, hub.take().expect(once), &names.hubs),
            "category" => sparse_ids(i, category.take().expect(once), &names.categories),
            "method" => Arc::new(DictionaryArray::<UInt16Type>::new(
                UInt16Array::new(method.take().expect(once).into(), Some(valid(i))),
                names.methods.clone(),
            )),
            "attempt" => Arc::new(UInt8Array::new(
                attempt.take().expect(once).into(),
                Some(valid(i)),
            )),
            "success" => flags(i, &success),
            "inspected" => flags(i, &inspected),
            "seller" => u32s(i, 0),
            "value_cents" => u32s(i, 1),
            "duty_cents" => u32s(i, 2),
            "vat_cents" => u32s(i, 3),
            "wait_s" => u32s(i, 4),
            "service_s" => u32s(i, 5),
            "lead_s" => u32s(i, 6),
            "freight_cents" => u32s(i, 7),
            "fee_cents" => u32s(i, 8),
            "commission_cents" => u32s(i, 9),
            "finance_cents" => u32s(i, 10),
            "cod_cents" => u32s(i, 11),
            "to_cash_s" => u32s(i, 12),
            other => unreachable!("column `{other}` has no builder"),
        })
        .collect()
}
