//! One series of a memtable: append-only columnar buffers of the rows of one primary key
//! (mito2's `memtable/time_series.rs`: `Series` + `ValueBuilder`).
//!
//! A [`SeriesData`] holds, per row, the time index (`i64`, the column's unit), the sequence
//! number, the op type and one value per field in typed vectors with an optional validity
//! bitmap (created on the first NULL). Rows are kept in arrival order; [`SeriesData::sorted`]
//! sorts `(ts asc, sequence desc)` at read time and [`SeriesData::gather`] copies the chosen
//! rows into Arrow arrays. All versions and tombstones are kept (the merge dedups).
//!
//! Memory accounting is exact for what this module allocates: [`SeriesData::heap_bytes`] sums
//! the vectors' capacities.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BooleanArray, PrimitiveArray, StringArray, UInt8Array,
    UInt64Array,
};
use arrow::buffer::{BooleanBuffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{
    ArrowPrimitiveType, Date32Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};

use crate::engine::error::{Error, Result};
use crate::engine::metadata::{ColumnDataType, OpType, SequenceNumber};

/// Rows of `array` to append: a contiguous range or a list of row indexes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Rows<'a> {
    /// Rows `start..end`.
    Range(usize, usize),
    /// These rows, in this order.
    List(&'a [u32]),
}

impl Rows<'_> {
    fn len(&self) -> usize {
        match *self {
            Rows::Range(start, end) => end - start,
            Rows::List(list) => list.len(),
        }
    }

    fn for_each(&self, mut f: impl FnMut(usize)) {
        match *self {
            Rows::Range(start, end) => (start..end).for_each(f),
            Rows::List(list) => list.iter().for_each(|&r| f(r as usize)),
        }
    }
}

/// Makes room for `additional` more elements, growing the capacity by 1.5x (not `Vec`'s 2x):
/// a series' vectors live until the flush, so slack is memory the memtable limit counts.
fn grow<T>(v: &mut Vec<T>, additional: usize) {
    let needed = v.len().saturating_add(additional);
    if needed > v.capacity() {
        let target = needed.max(v.capacity() + v.capacity() / 2).max(8);
        v.reserve_exact(target - v.len());
    }
}

/// Appends `rows` of `values` to `out` (one memcpy for a range).
fn extend_rows<T: Copy>(out: &mut Vec<T>, values: &[T], rows: Rows<'_>) -> Option<()> {
    grow(out, rows.len());
    match rows {
        Rows::Range(start, end) => out.extend_from_slice(values.get(start..end)?),
        Rows::List(list) => {
            for &r in list {
                out.push(*values.get(r as usize)?);
            }
        }
    }
    Some(())
}

/// Copies `values[i]` for each `i` in `indices`.
fn gather_values<T: Copy>(values: &[T], indices: &[u32]) -> Vec<T> {
    indices
        .iter()
        .filter_map(|&i| values.get(i as usize).copied())
        .collect()
}

/// A validity bitmap (bit set = valid), created lazily on the first NULL.
#[derive(Debug, Default)]
struct Validity {
    words: Vec<u64>,
}

impl Validity {
    fn set(&mut self, row: usize, valid: bool) {
        let word = row / 64;
        if self.words.len() <= word {
            let missing = word + 1 - self.words.len();
            grow(&mut self.words, missing);
            self.words.resize(word + 1, u64::MAX);
        }
        if let Some(w) = self.words.get_mut(word) {
            let bit = 1u64 << (row % 64);
            if valid {
                *w |= bit;
            } else {
                *w &= !bit;
            }
        }
    }

    fn is_valid(&self, row: usize) -> bool {
        self.words
            .get(row / 64)
            .is_none_or(|w| w & (1u64 << (row % 64)) != 0)
    }
}

/// Typed values of one field. Timestamps are kept as `i64` in their own unit.
#[derive(Debug)]
enum Values {
    Boolean(Vec<bool>),
    Int8(Vec<i8>),
    Int16(Vec<i16>),
    Int32(Vec<i32>),
    Int64(Vec<i64>),
    UInt8(Vec<u8>),
    UInt16(Vec<u16>),
    UInt32(Vec<u32>),
    UInt64(Vec<u64>),
    Float32(Vec<f32>),
    Float64(Vec<f64>),
    /// Bytes of all values (UTF-8 for strings and JSON), and the end offset of each value in
    /// `data`.
    Bytes {
        ends: Vec<u32>,
        data: Vec<u8>,
    },
}

/// Applies `$body` to the vector of a fixed-width [`Values`] variant (`$v`) together with the
/// matching Arrow type (`$t`), or evaluates `$other` for booleans and strings.
macro_rules! with_primitive {
    ($values:expr, $data_type:expr, |$v:ident, $t:ident| $body:expr, $other:expr) => {
        match ($values, $data_type) {
            (Values::Int8($v), _) => {
                type $t = Int8Type;
                $body
            }
            (Values::Int16($v), _) => {
                type $t = Int16Type;
                $body
            }
            (Values::Int32($v), ColumnDataType::Date) => {
                type $t = Date32Type;
                $body
            }
            (Values::Int32($v), _) => {
                type $t = Int32Type;
                $body
            }
            (Values::Int64($v), ColumnDataType::TimestampSecond) => {
                type $t = TimestampSecondType;
                $body
            }
            (Values::Int64($v), ColumnDataType::TimestampMillisecond) => {
                type $t = TimestampMillisecondType;
                $body
            }
            (Values::Int64($v), ColumnDataType::TimestampMicrosecond) => {
                type $t = TimestampMicrosecondType;
                $body
            }
            (Values::Int64($v), ColumnDataType::TimestampNanosecond) => {
                type $t = TimestampNanosecondType;
                $body
            }
            (Values::Int64($v), _) => {
                type $t = Int64Type;
                $body
            }
            (Values::UInt8($v), _) => {
                type $t = UInt8Type;
                $body
            }
            (Values::UInt16($v), _) => {
                type $t = UInt16Type;
                $body
            }
            (Values::UInt32($v), _) => {
                type $t = UInt32Type;
                $body
            }
            (Values::UInt64($v), _) => {
                type $t = UInt64Type;
                $body
            }
            (Values::Float32($v), _) => {
                type $t = Float32Type;
                $body
            }
            (Values::Float64($v), _) => {
                type $t = Float64Type;
                $body
            }
            _ => $other,
        }
    };
}

/// The values of `array` as `T`'s native slice, if `array` is of that type.
fn native<T: ArrowPrimitiveType>(array: &dyn Array) -> Option<&[T::Native]> {
    array.as_primitive_opt::<T>().map(|a| a.values().as_ref())
}

/// The `i64` values of a timestamp array of `data_type` (any unit).
pub(crate) fn timestamps(array: &dyn Array, data_type: ColumnDataType) -> Option<&[i64]> {
    match data_type {
        ColumnDataType::TimestampSecond => native::<TimestampSecondType>(array),
        ColumnDataType::TimestampMillisecond => native::<TimestampMillisecondType>(array),
        ColumnDataType::TimestampMicrosecond => native::<TimestampMicrosecondType>(array),
        ColumnDataType::TimestampNanosecond => native::<TimestampNanosecondType>(array),
        _ => None,
    }
}

/// An Arrow array of timestamp type `data_type` holding `values`.
///
/// # Errors
/// [`Error::Arrow`] if `data_type` is not a timestamp type.
pub(crate) fn timestamp_array(values: Vec<i64>, data_type: ColumnDataType) -> Result<ArrayRef> {
    let values = ScalarBuffer::from(values);
    let array: ArrayRef = match data_type {
        ColumnDataType::TimestampSecond => {
            Arc::new(PrimitiveArray::<TimestampSecondType>::new(values, None))
        }
        ColumnDataType::TimestampMillisecond => Arc::new(
            PrimitiveArray::<TimestampMillisecondType>::new(values, None),
        ),
        ColumnDataType::TimestampMicrosecond => Arc::new(
            PrimitiveArray::<TimestampMicrosecondType>::new(values, None),
        ),
        ColumnDataType::TimestampNanosecond => {
            Arc::new(PrimitiveArray::<TimestampNanosecondType>::new(values, None))
        }
        other => {
            return Err(Error::Arrow {
                context: "building a memtable time index".to_string(),
                source: arrow::error::ArrowError::SchemaError(format!(
                    "time index type {other:?} is not a timestamp"
                )),
            });
        }
    };
    Ok(array)
}

/// The buffer of one field column of a series.
#[derive(Debug)]
pub(crate) struct FieldBuffer {
    data_type: ColumnDataType,
    values: Values,
    /// `None` while every value is valid.
    validity: Option<Validity>,
}

impl FieldBuffer {
    fn new(data_type: ColumnDataType) -> Self {
        let values = match data_type {
            ColumnDataType::Boolean => Values::Boolean(Vec::new()),
            ColumnDataType::Int8 => Values::Int8(Vec::new()),
            ColumnDataType::Int16 => Values::Int16(Vec::new()),
            ColumnDataType::Int32 | ColumnDataType::Date => Values::Int32(Vec::new()),
            ColumnDataType::Int64
            | ColumnDataType::TimestampSecond
            | ColumnDataType::TimestampMillisecond
            | ColumnDataType::TimestampMicrosecond
            | ColumnDataType::TimestampNanosecond => Values::Int64(Vec::new()),
            ColumnDataType::UInt8 => Values::UInt8(Vec::new()),
            ColumnDataType::UInt16 => Values::UInt16(Vec::new()),
            ColumnDataType::UInt32 => Values::UInt32(Vec::new()),
            ColumnDataType::UInt64 => Values::UInt64(Vec::new()),
            ColumnDataType::Float32 => Values::Float32(Vec::new()),
            ColumnDataType::Float64 => Values::Float64(Vec::new()),
            ColumnDataType::String | ColumnDataType::Binary | ColumnDataType::Json => {
                Values::Bytes {
                    ends: Vec::new(),
                    data: Vec::new(),
                }
            }
        };
        FieldBuffer {
            data_type,
            values,
            validity: None,
        }
    }

    fn heap_bytes(&self) -> usize {
        fn cap<T>(v: &Vec<T>) -> usize {
            v.capacity() * std::mem::size_of::<T>()
        }
        let values = match &self.values {
            Values::Boolean(v) => cap(v),
            Values::Int8(v) => cap(v),
            Values::Int16(v) => cap(v),
            Values::Int32(v) => cap(v),
            Values::Int64(v) => cap(v),
            Values::UInt8(v) => cap(v),
            Values::UInt16(v) => cap(v),
            Values::UInt32(v) => cap(v),
            Values::UInt64(v) => cap(v),
            Values::Float32(v) => cap(v),
            Values::Float64(v) => cap(v),
            Values::Bytes { ends, data } => cap(ends) + cap(data),
        };
        values + self.validity.as_ref().map_or(0, |v| cap(&v.words))
    }

    /// Appends `rows` of `array` (type `self.data_type`), or that many NULLs if `array` is
    /// `None` (tombstones). `len` is the number of values before the append. `None` if the
    /// array has another type or a row is out of range (nothing sensible was appended then;
    /// the caller validated the batch, so this does not happen).
    fn append(&mut self, array: Option<&dyn Array>, rows: Rows<'_>, len: usize) -> Option<()> {
        let Some(array) = array else {
            self.append_nulls(rows.len(), len);
            return Some(());
        };
        match &mut self.values {
            Values::Boolean(out) => {
                let booleans = array.as_boolean_opt()?;
                grow(out, rows.len());
                let mut ok = true;
                rows.for_each(|r| {
                    ok &= r < booleans.len();
                    out.push(r < booleans.len() && booleans.value(r));
                });
                ok.then_some(())?;
            }
            Values::Bytes { ends, data } => {
                // Strings and binaries share their layout: offsets into one value buffer.
                let (offsets, bytes) = match self.data_type {
                    ColumnDataType::Binary => {
                        let b = array.as_binary_opt::<i32>()?;
                        (b.value_offsets(), b.value_data())
                    }
                    _ => {
                        let s = array.as_string_opt::<i32>()?;
                        (s.value_offsets(), s.value_data())
                    }
                };
                let value_at = |r: usize| {
                    let start = usize::try_from(*offsets.get(r)?).ok()?;
                    let end = usize::try_from(*offsets.get(r + 1)?).ok()?;
                    bytes.get(start..end)
                };
                grow(ends, rows.len());
                let mut ok = true;
                rows.for_each(|r| {
                    if let Some(value) = value_at(r) {
                        grow(data, value.len());
                        data.extend_from_slice(value);
                    } else {
                        ok = false;
                    }
                    ends.push(u32::try_from(data.len()).unwrap_or(u32::MAX));
                });
                ok.then_some(())?;
                // More than 4 GiB of bytes in one series is refused rather than corrupted.
                u32::try_from(data.len()).ok()?;
            }
            values => with_primitive!(
                values,
                self.data_type,
                |v, T| extend_rows(v, native::<T>(array)?, rows)?,
                return None
            ),
        }
        if array.null_count() > 0 {
            let mut offset = len;
            rows.for_each(|r| {
                if array.is_null(r) {
                    self.validity.get_or_insert_with(Validity::default);
                }
                if let Some(validity) = self.validity.as_mut() {
                    validity.set(offset, array.is_valid(r));
                }
                offset += 1;
            });
        }
        // Bits at and past `len` are always set (words are added all-valid), so valid rows
        // need no update.
        Some(())
    }

    fn append_nulls(&mut self, count: usize, len: usize) {
        fn fill<T: Clone>(v: &mut Vec<T>, len: usize, count: usize, value: T) {
            grow(v, count);
            v.resize(len + count, value);
        }
        match &mut self.values {
            Values::Boolean(v) => fill(v, len, count, false),
            Values::Int8(v) => fill(v, len, count, 0),
            Values::Int16(v) => fill(v, len, count, 0),
            Values::Int32(v) => fill(v, len, count, 0),
            Values::Int64(v) => fill(v, len, count, 0),
            Values::UInt8(v) => fill(v, len, count, 0),
            Values::UInt16(v) => fill(v, len, count, 0),
            Values::UInt32(v) => fill(v, len, count, 0),
            Values::UInt64(v) => fill(v, len, count, 0),
            Values::Float32(v) => fill(v, len, count, 0.0),
            Values::Float64(v) => fill(v, len, count, 0.0),
            Values::Bytes { ends, data } => {
                let end = u32::try_from(data.len()).unwrap_or(u32::MAX);
                fill(ends, len, count, end);
            }
        }
        let validity = self.validity.get_or_insert_with(Validity::default);
        for offset in len..len + count {
            validity.set(offset, false);
        }
    }

    /// The values at `indices` as an Arrow array of `self.data_type.to_arrow()`.
    fn gather(&self, indices: &[u32]) -> ArrayRef {
        let nulls = self.validity.as_ref().map(|validity| {
            NullBuffer::new(BooleanBuffer::from_iter(
                indices.iter().map(|&i| validity.is_valid(i as usize)),
            ))
        });
        match &self.values {
            Values::Boolean(v) => {
                let values = BooleanBuffer::from_iter(gather_values(v, indices));
                Arc::new(BooleanArray::new(values, nulls))
            }
            Values::Bytes { ends, data } => {
                let mut offsets = Vec::with_capacity(indices.len() + 1);
                let mut bytes = Vec::new();
                offsets.push(0i32);
                for &i in indices {
                    let i = i as usize;
                    let end = ends.get(i).copied().unwrap_or(0) as usize;
                    let start = match i.checked_sub(1) {
                        Some(prev) => ends.get(prev).copied().unwrap_or(0) as usize,
                        None => 0,
                    };
                    bytes.extend_from_slice(data.get(start..end).unwrap_or_default());
                    offsets.push(i32::try_from(bytes.len()).unwrap_or(i32::MAX));
                }
                let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
                // Offsets grow monotonically and the bytes are whole values (UTF-8 ones for
                // strings and JSON, as they were appended).
                let array: Option<ArrayRef> = match self.data_type {
                    ColumnDataType::Binary => BinaryArray::try_new(offsets, bytes.into(), nulls)
                        .ok()
                        .map(|a| Arc::new(a) as ArrayRef),
                    _ => StringArray::try_new(offsets, bytes.into(), nulls)
                        .ok()
                        .map(|a| Arc::new(a) as ArrayRef),
                };
                array.unwrap_or_else(|| {
                    arrow::array::new_null_array(&self.data_type.to_arrow(), indices.len())
                })
            }
            values => with_primitive!(
                values,
                self.data_type,
                |v, T| Arc::new(PrimitiveArray::<T>::new(
                    ScalarBuffer::from(gather_values(v, indices)),
                    nulls
                )) as ArrayRef,
                arrow::array::new_null_array(&self.data_type.to_arrow(), indices.len())
            ),
        }
    }
}

/// The rows of one series, in arrival order.
#[derive(Debug)]
pub(crate) struct SeriesData {
    timestamps: Vec<i64>,
    sequences: Vec<SequenceNumber>,
    op_types: Vec<u8>,
    /// One buffer per field, `RegionMetadata::field_indexes()` order.
    fields: Vec<FieldBuffer>,
    /// Smallest and largest time index value, for pruning by time range.
    min_ts: i64,
    max_ts: i64,
    /// Whether the rows are already in `(ts asc, sequence desc)` order.
    sorted: bool,
}

impl SeriesData {
    /// An empty series whose fields have `field_types`.
    pub(crate) fn new(field_types: &[ColumnDataType]) -> Self {
        SeriesData {
            timestamps: Vec::new(),
            sequences: Vec::new(),
            op_types: Vec::new(),
            fields: field_types.iter().map(|&t| FieldBuffer::new(t)).collect(),
            min_ts: i64::MAX,
            max_ts: i64::MIN,
            sorted: true,
        }
    }

    /// Number of rows (all versions, tombstones included).
    pub(crate) fn len(&self) -> usize {
        self.timestamps.len()
    }

    /// Bytes allocated on the heap by this series' buffers (capacities, not lengths).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.timestamps.capacity() * 8
            + self.sequences.capacity() * 8
            + self.op_types.capacity()
            + self.fields.capacity() * std::mem::size_of::<FieldBuffer>()
            + self
                .fields
                .iter()
                .map(FieldBuffer::heap_bytes)
                .sum::<usize>()
    }

    /// Appends `rows` of a batch: `ts` are the batch's time index values, `sequence_of(row)`
    /// gives a row's sequence, `fields` the batch's field arrays (`None` for a tombstone:
    /// NULL fields). Returns `None` on a type mismatch; the series may then hold a partial
    /// row, which the caller must prevent by validating the batch first.
    pub(crate) fn append(
        &mut self,
        ts: &[i64],
        sequence_of: impl Fn(usize) -> SequenceNumber,
        op_type: OpType,
        fields: Option<&[&dyn Array]>,
        rows: Rows<'_>,
    ) -> Option<()> {
        let len = self.len();
        for (k, buffer) in self.fields.iter_mut().enumerate() {
            let array = match fields {
                Some(arrays) => Some(*arrays.get(k)?),
                None => None,
            };
            buffer.append(array, rows, len)?;
        }
        extend_rows(&mut self.timestamps, ts, rows)?;
        grow(&mut self.sequences, rows.len());
        rows.for_each(|r| self.sequences.push(sequence_of(r)));
        grow(&mut self.op_types, rows.len());
        self.op_types.resize(len + rows.len(), op_type as u8);
        let mut sorted = self.sorted;
        let mut prev = len
            .checked_sub(1)
            .and_then(|p| Some((*self.timestamps.get(p)?, *self.sequences.get(p)?)));
        for (&t, &s) in self.timestamps[len..].iter().zip(&self.sequences[len..]) {
            self.min_ts = self.min_ts.min(t);
            self.max_ts = self.max_ts.max(t);
            if let Some((pt, ps)) = prev {
                sorted &= pt < t || (pt == t && ps > s);
            }
            prev = Some((t, s));
        }
        self.sorted = sorted;
        Some(())
    }

    /// Indexes of the rows with `ts` in `[min, max]` and sequence at most `max_sequence`, in
    /// `(ts asc, sequence desc)` order.
    pub(crate) fn sorted(&self, min: i64, max: i64, max_sequence: SequenceNumber) -> Vec<u32> {
        if self.len() == 0 || self.max_ts < min || self.min_ts > max {
            return Vec::new();
        }
        let mut indices: Vec<u32> = self
            .timestamps
            .iter()
            .zip(&self.sequences)
            .enumerate()
            .filter(|(_, (t, s))| min <= **t && **t <= max && **s <= max_sequence)
            .filter_map(|(i, _)| u32::try_from(i).ok())
            .collect();
        if !self.sorted {
            let key = |i: &u32| {
                let i = *i as usize;
                (
                    self.timestamps.get(i).copied().unwrap_or(0),
                    std::cmp::Reverse(self.sequences.get(i).copied().unwrap_or(0)),
                )
            };
            indices.sort_unstable_by_key(key);
        }
        indices
    }

    /// The time index values at `indices`.
    pub(crate) fn gather_timestamps(&self, indices: &[u32]) -> Vec<i64> {
        gather_values(&self.timestamps, indices)
    }

    /// The sequences at `indices`.
    pub(crate) fn gather_sequences(&self, indices: &[u32]) -> UInt64Array {
        UInt64Array::from(gather_values(&self.sequences, indices))
    }

    /// The op types at `indices`.
    pub(crate) fn gather_op_types(&self, indices: &[u32]) -> UInt8Array {
        UInt8Array::from(gather_values(&self.op_types, indices))
    }

    /// Field `k` (`field_indexes()` order) at `indices`, or NULLs of `data_type` if there is
    /// no such field.
    pub(crate) fn gather_field(
        &self,
        k: usize,
        data_type: ColumnDataType,
        indices: &[u32],
    ) -> ArrayRef {
        match self.fields.get(k) {
            Some(buffer) => buffer.gather(indices),
            None => arrow::array::new_null_array(&data_type.to_arrow(), indices.len()),
        }
    }
}
