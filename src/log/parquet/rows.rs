//! A row group's columns, filled from its events in one pass as the run hands them over,
//! and made into Arrow arrays for encoding. One pass reads each event (80 bytes) once; a
//! pass per column read them 26 times, from memory when a step's events outgrow the
//! caches, and cost more than the Parquet encoding itself.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowDictionaryKeyType, ArrowPrimitiveType, TimestampMillisecondType, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{
    ArrayRef, BooleanArray, DictionaryArray, PrimitiveArray, TimestampMillisecondArray, UInt8Array,
    UInt16Array, UInt32Array, UInt64Array,
};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer};

use crate::event::{Event, EventKind, KIND_NAMES};

use super::writer::Names;
use super::{COLUMNS, column_index};

const SELLER: usize = column_index("seller");
const VALUE: usize = column_index("value_cents");
const DUTY: usize = column_index("duty_cents");
const VAT: usize = column_index("vat_cents");
const WAIT: usize = column_index("wait_s");
const SERVICE: usize = column_index("service_s");
const LEAD: usize = column_index("lead_s");
const FREIGHT: usize = column_index("freight_cents");
const FEE: usize = column_index("fee_cents");
const COMMISSION: usize = column_index("commission_cents");
const FINANCE: usize = column_index("finance_cents");
const COD: usize = column_index("cod_cents");
const TO_CASH: usize = column_index("to_cash_s");
/// The 32-bit columns that only some kinds fill.
const U32_COLUMNS: [usize; 13] = [
    SELLER, VALUE, DUTY, VAT, WAIT, SERVICE, LEAD, FREIGHT, FEE, COMMISSION, FINANCE, COD, TO_CASH,
];

/// The rows of a row group, a vector a column. A column that only some kinds fill holds
/// 0 (or false) in the other rows, which the kind's null mask hides. Once encoded, the
/// vectors are taken back from the arrays and filled again (`recycle`): fresh ones, 60 MB
/// a row group, cost the kernel's zeroing of every page.
#[derive(Default)]
pub(super) struct Rows {
    /// Empty until `into_arrays`, which fills them from the others.
    seq: Vec<u64>,
    time: Vec<i64>,
    time_s: Vec<u32>,
    kind: Vec<u8>,
    order_id: Vec<u64>,
    market: Vec<u8>,
    route: Vec<u8>,
    hub: Vec<u8>,
    category: Vec<u8>,
    /// Keys into `Names::methods`.
    method: Vec<u16>,
    attempt: Vec<u8>,
    success: Vec<bool>,
    inspected: Vec<bool>,
    /// By column index; used at `U32_COLUMNS`.
    u32s: [Vec<u32>; COLUMNS.len()],
}

impl Rows {
    pub(super) fn len(&self) -> usize {
        self.kind.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.kind.is_empty()
    }

    /// Appends `events`, each read once.
    pub(super) fn push(&mut self, events: &[Event], method_keys: &[Vec<u16>]) {
        use EventKind::*;
        let start = self.len();
        let end = start + events.len();
        for column in [&mut self.hub, &mut self.category, &mut self.attempt] {
            column.resize(end, 0);
        }
        self.method.resize(end, 0);
        self.success.resize(end, false);
        self.inspected.resize(end, false);
        for c in U32_COLUMNS {
            self.u32s[c].resize(end, 0);
        }
        self.time_s.reserve(events.len());
        self.kind.reserve(events.len());
        self.order_id.reserve(events.len());
        self.market.reserve(events.len());
        self.route.reserve(events.len());
        let u = &mut self.u32s;
        for (r, e) in (start..).zip(events) {
            self.time_s.push(e.time_s);
            self.kind.push(e.kind.index() as u8);
            self.order_id.push(e.order_id);
            self.market.push(e.market.0);
            self.route.push(e.route.0);
            let methods = &method_keys[e.market.ix()];
            match e.kind {
                OrderPlaced {
                    seller,
                    category,
                    method,
                    value_cents,
                } => {
                    u[SELLER][r] = seller;
                    self.category[r] = category.0;
                    self.method[r] = methods[method.ix()];
                    u[VALUE][r] = value_cents;
                }
                PaymentAttempted {
                    method,
                    attempt,
                    success,
                } => {
                    self.method[r] = methods[method.ix()];
                    self.attempt[r] = attempt;
                    self.success[r] = success;
                }
                OrderCancelled {
                    seller,
                    method,
                    value_cents,
                    attempts,
                } => {
                    u[SELLER][r] = seller;
                    self.method[r] = methods[method.ix()];
                    u[VALUE][r] = value_cents;
                    self.attempt[r] = attempts;
                }
                Dispatched {
                    seller,
                    value_cents,
                    freight_cents,
                }
                | Returned {
                    seller,
                    value_cents,
                    freight_cents,
                } => {
                    u[SELLER][r] = seller;
                    u[VALUE][r] = value_cents;
                    u[FREIGHT][r] = freight_cents;
                }
                HubArrived { hub } => self.hub[r] = hub.0,
                HubDeparted {
                    hub,
                    wait_s,
                    service_s,
                    seller,
                    fee_cents,
                    finance_cents,
                } => {
                    self.hub[r] = hub.0;
                    u[WAIT][r] = wait_s;
                    u[SERVICE][r] = service_s;
                    u[SELLER][r] = seller;
                    u[FEE][r] = fee_cents;
                    u[FINANCE][r] = finance_cents;
                }
                LinehaulDeparted { wait_s } => u[WAIT][r] = wait_s,
                CustomsCleared {
                    duty_cents,
                    vat_cents,
                    inspected,
                    wait_s,
                    service_s,
                } => {
                    u[DUTY][r] = duty_cents;
                    u[VAT][r] = vat_cents;
                    self.inspected[r] = inspected;
                    u[WAIT][r] = wait_s;
                    u[SERVICE][r] = service_s;
                }
                Delivered {
                    lead_s,
                    collected_cents,
                } => {
                    u[LEAD][r] = lead_s;
                    u[COD][r] = collected_cents;
                }
                Refused {
                    seller,
                    method,
                    value_cents,
                    freight_cents,
                } => {
                    u[SELLER][r] = seller;
                    self.method[r] = methods[method.ix()];
                    u[VALUE][r] = value_cents;
                    u[FREIGHT][r] = freight_cents;
                }
                SellerPaid {
                    seller,
                    method,
                    value_cents,
                    commission_cents,
                    fee_cents,
                    to_cash_s,
                } => {
                    u[SELLER][r] = seller;
                    self.method[r] = methods[method.ix()];
                    u[VALUE][r] = value_cents;
                    u[COMMISSION][r] = commission_cents;
                    u[FEE][r] = fee_cents;
                    u[TO_CASH][r] = to_cash_s;
                }
            }
        }
    }

    /// The rows as Arrow arrays, in `COLUMNS` order; the first is row `first_seq` of the
    /// log. The vectors become the arrays' buffers without a copy.
    pub(super) fn into_arrays(self, first_seq: u64, names: &Names) -> Vec<ArrayRef> {
        let Rows {
            mut seq,
            mut time,
            time_s,
            kind,
            order_id,
            market,
            route,
            hub,
            category,
            method,
            attempt,
            success,
            inspected,
            mut u32s,
        } = self;
        let n = kind.len();
        // Which rows each kind fills, a bit a row (Arrow's order: row k is bit k % 64 of
        // word k / 64), in one pass over the kinds; a sparse column's rows are the union
        // of its kinds', a word at a time.
        let words = n.div_ceil(64);
        let mut by_kind = vec![vec![0u64; words]; KIND_NAMES.len()];
        for (k, &kind) in kind.iter().enumerate() {
            by_kind[usize::from(kind)][k / 64] |= 1 << (k % 64);
        }
        let valid = |i: usize| {
            let mut bits = vec![0u64; words];
            for (kind, rows) in by_kind.iter().enumerate() {
                if names.filled_by[i] >> kind & 1 != 0 {
                    bits.iter_mut().zip(rows).for_each(|(b, r)| *b |= r);
                }
            }
            let bits = BooleanBuffer::new(Buffer::from_vec(bits), 0, n);
            Some(NullBuffer::new(bits))
        };
        let ids = |keys: Vec<u8>, nulls: Option<NullBuffer>, values: &ArrayRef| -> ArrayRef {
            Arc::new(DictionaryArray::<UInt8Type>::new(
                UInt8Array::new(keys.into(), nulls),
                values.clone(),
            ))
        };
        let flags = |i: usize, values: Vec<bool>| -> ArrayRef {
            let values = BooleanBuffer::collect_bool(n, |k| values[k]);
            Arc::new(BooleanArray::new(values, valid(i)))
        };
        let mut arrays: Vec<Option<ArrayRef>> = vec![None; COLUMNS.len()];
        let mut set = |name: &str, array: ArrayRef| arrays[column_index(name)] = Some(array);
        seq.extend(first_seq..first_seq + n as u64);
        set("seq", Arc::new(UInt64Array::new(seq.into(), None)));
        time.extend(
            time_s
                .iter()
                .map(|&t| (names.epoch_s + i64::from(t)) * 1000),
        );
        let time = TimestampMillisecondArray::new(time.into(), None);
        set("time", Arc::new(time.with_timezone(names.tz.clone())));
        set("time_s", Arc::new(UInt32Array::new(time_s.into(), None)));
        set(
            "order_id",
            Arc::new(UInt64Array::new(order_id.into(), None)),
        );
        set("market", ids(market, None, &names.markets));
        set("route", ids(route, None, &names.routes));
        set("hub", ids(hub, valid(column_index("hub")), &names.hubs));
        set(
            "category",
            ids(category, valid(column_index("category")), &names.categories),
        );
        set(
            "method",
            Arc::new(DictionaryArray::<UInt16Type>::new(
                UInt16Array::new(method.into(), valid(column_index("method"))),
                names.methods.clone(),
            )),
        );
        set(
            "attempt",
            Arc::new(UInt8Array::new(
                attempt.into(),
                valid(column_index("attempt")),
            )),
        );
        set("success", flags(column_index("success"), success));
        set("inspected", flags(column_index("inspected"), inspected));
        for c in U32_COLUMNS {
            let values = std::mem::take(&mut u32s[c]);
            set(
                COLUMNS[c],
                Arc::new(UInt32Array::new(values.into(), valid(c))),
            );
        }
        set("kind", ids(kind, None, &names.kinds));
        arrays
            .into_iter()
            .map(|array| array.expect("every column is built"))
            .collect()
    }

    /// Empty rows with the vectors of `arrays` (those `into_arrays` made, now encoded),
    /// where no other reference to them is left.
    pub(super) fn recycle(arrays: Vec<ArrayRef>) -> Rows {
        let mut arrays: Vec<Option<ArrayRef>> = arrays.into_iter().map(Some).collect();
        let mut take = |name: &str| {
            arrays[column_index(name)]
                .take()
                .expect("every column, once")
        };
        let mut rows = Rows {
            seq: values::<UInt64Type>(take("seq")),
            time: values::<TimestampMillisecondType>(take("time")),
            time_s: values::<UInt32Type>(take("time_s")),
            kind: keys::<UInt8Type>(take("kind")),
            order_id: values::<UInt64Type>(take("order_id")),
            market: keys::<UInt8Type>(take("market")),
            route: keys::<UInt8Type>(take("route")),
            hub: keys::<UInt8Type>(take("hub")),
            category: keys::<UInt8Type>(take("category")),
            method: keys::<UInt16Type>(take("method")),
            attempt: values::<UInt8Type>(take("attempt")),
            ..Rows::default()
        };
        for c in U32_COLUMNS {
            rows.u32s[c] = values::<UInt32Type>(take(COLUMNS[c]));
        }
        rows
    }
}

/// The vector behind a primitive array's values, emptied (a new one if it is shared).
fn values<T: ArrowPrimitiveType>(array: ArrayRef) -> Vec<T::Native> {
    let primitive: PrimitiveArray<T> = array.as_primitive::<T>().clone();
    drop(array);
    vector(primitive)
}

/// The vector behind a dictionary array's keys, emptied.
fn keys<K: ArrowDictionaryKeyType>(array: ArrayRef) -> Vec<K::Native> {
    let dictionary: DictionaryArray<K> = array.as_dictionary::<K>().clone();
    drop(array);
    vector(dictionary.into_parts().0)
}

fn vector<T: ArrowPrimitiveType>(array: PrimitiveArray<T>) -> Vec<T::Native> {
    let (_, values, _) = array.into_parts();
    let mut vector = values.into_inner().into_vec().unwrap_or_default();
    vector.clear();
    vector
}
