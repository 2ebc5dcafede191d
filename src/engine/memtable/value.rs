//! Scalar values as the memtable stores them, and conversion to and from Arrow arrays.
//!
//! Integers are widened to `i64`/`u64` and floats to `f64` (lossless for every
//! [`ColumnDataType`]); the column type restores the exact Arrow type on the way out.

use std::cmp::Ordering;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, Float32Builder, Float64Builder, Int8Builder,
    Int16Builder, Int32Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
    TimestampMillisecondBuilder, TimestampNanosecondBuilder, TimestampSecondBuilder, UInt8Builder,
    UInt16Builder, UInt32Builder, UInt64Builder,
};
use arrow::datatypes::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};

use crate::engine::metadata::ColumnDataType;

/// One cell. Ordering (used for tags): `Null` first, then by value; floats by `total_cmp`.
#[derive(Debug, Clone)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// BOOLEAN.
    Boolean(bool),
    /// Any signed integer type, and timestamps (in their column's unit).
    Int(i64),
    /// Any unsigned integer type.
    UInt(u64),
    /// FLOAT or DOUBLE.
    Float(f64),
    /// STRING; shared so that rows of one series can share their tag strings.
    String(Arc<str>),
}

impl Value {
    /// Approximate heap + inline size in bytes, for memtable accounting.
    pub fn estimated_size(&self) -> usize {
        std::mem::size_of::<Value>()
            + match self {
                Value::String(s) => s.len(),
                _ => 0,
            }
    }

    fn rank(&self) -> u8 {
        match self {
            Value::Null => 0,
            Value::Boolean(_) => 1,
            Value::Int(_) => 2,
            Value::UInt(_) => 3,
            Value::Float(_) => 4,
            Value::String(_) => 5,
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Value {}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Value::Boolean(a), Value::Boolean(b)) => a.cmp(b),
            (Value::Int(a), Value::Int(b)) => a.cmp(b),
            (Value::UInt(a), Value::UInt(b)) => a.cmp(b),
            (Value::Float(a), Value::Float(b)) => a.total_cmp(b),
            (Value::String(a), Value::String(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

/// Reads row `row` of `array`, whose Arrow type must be `data_type.to_arrow()`.
/// Returns `None` if the array has another type.
pub fn value_at(array: &dyn Array, data_type: ColumnDataType, row: usize) -> Option<Value> {
    if array.is_null(row) {
        return Some(Value::Null);
    }
    let value = match data_type {
        ColumnDataType::Boolean => Value::Boolean(array.as_boolean_opt()?.value(row)),
        ColumnDataType::Int8 => Value::Int(array.as_primitive_opt::<Int8Type>()?.value(row).into()),
        ColumnDataType::Int16 => {
            Value::Int(array.as_primitive_opt::<Int16Type>()?.value(row).into())
        }
        ColumnDataType::Int32 => {
            Value::Int(array.as_primitive_opt::<Int32Type>()?.value(row).into())
        }
        ColumnDataType::Int64 => Value::Int(array.as_primitive_opt::<Int64Type>()?.value(row)),
        ColumnDataType::UInt8 => {
            Value::UInt(array.as_primitive_opt::<UInt8Type>()?.value(row).into())
        }
        ColumnDataType::UInt16 => {
            Value::UInt(array.as_primitive_opt::<UInt16Type>()?.value(row).into())
        }
        ColumnDataType::UInt32 => {
            Value::UInt(array.as_primitive_opt::<UInt32Type>()?.value(row).into())
        }
        ColumnDataType::UInt64 => Value::UInt(array.as_primitive_opt::<UInt64Type>()?.value(row)),
        ColumnDataType::Float32 => {
            Value::Float(array.as_primitive_opt::<Float32Type>()?.value(row).into())
        }
        ColumnDataType::Float64 => {
            Value::Float(array.as_primitive_opt::<Float64Type>()?.value(row))
        }
        ColumnDataType::String => {
            Value::String(Arc::from(array.as_string_opt::<i32>()?.value(row)))
        }
        ColumnDataType::TimestampSecond => {
            Value::Int(array.as_primitive_opt::<TimestampSecondType>()?.value(row))
        }
        ColumnDataType::TimestampMillisecond => Value::Int(
            array
                .as_primitive_opt::<TimestampMillisecondType>()?
                .value(row),
        ),
        ColumnDataType::TimestampMicrosecond => Value::Int(
            array
                .as_primitive_opt::<TimestampMicrosecondType>()?
                .value(row),
        ),
        ColumnDataType::TimestampNanosecond => Value::Int(
            array
                .as_primitive_opt::<TimestampNanosecondType>()?
                .value(row),
        ),
    };
    Some(value)
}

/// Whether row `row` of `array` equals `value`, without allocating (strings are compared in
/// place). A type mismatch compares unequal.
pub fn value_equals(
    array: &dyn Array,
    data_type: ColumnDataType,
    row: usize,
    value: &Value,
) -> bool {
    match (data_type, value) {
        (ColumnDataType::String, Value::String(expected)) => {
            array.is_valid(row)
                && array
                    .as_string_opt::<i32>()
                    .is_some_and(|strings| strings.value(row) == expected.as_ref())
        }
        (ColumnDataType::String, Value::Null) => array.is_null(row),
        (ColumnDataType::String, _) => false,
        _ => value_at(array, data_type, row).is_some_and(|v| &v == value),
    }
}

/// Builds one Arrow array of a [`ColumnDataType`] from [`Value`]s.
pub struct ColumnBuilder {
    inner: Inner,
}

enum Inner {
    Boolean(BooleanBuilder),
    Int8(Int8Builder),
    Int16(Int16Builder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    UInt8(UInt8Builder),
    UInt16(UInt16Builder),
    UInt32(UInt32Builder),
    UInt64(UInt64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    String(StringBuilder),
    TimestampSecond(TimestampSecondBuilder),
    TimestampMillisecond(TimestampMillisecondBuilder),
    TimestampMicrosecond(TimestampMicrosecondBuilder),
    TimestampNanosecond(TimestampNanosecondBuilder),
}

impl ColumnBuilder {
    /// A builder for `data_type` with room for `capacity` values.
    pub fn new(data_type: ColumnDataType, capacity: usize) -> Self {
        let inner = match data_type {
            ColumnDataType::Boolean => Inner::Boolean(BooleanBuilder::with_capacity(capacity)),
            ColumnDataType::Int8 => Inner::Int8(Int8Builder::with_capacity(capacity)),
            ColumnDataType::Int16 => Inner::Int16(Int16Builder::with_capacity(capacity)),
            ColumnDataType::Int32 => Inner::Int32(Int32Builder::with_capacity(capacity)),
            ColumnDataType::Int64 => Inner::Int64(Int64Builder::with_capacity(capacity)),
            ColumnDataType::UInt8 => Inner::UInt8(UInt8Builder::with_capacity(capacity)),
            ColumnDataType::UInt16 => Inner::UInt16(UInt16Builder::with_capacity(capacity)),
            ColumnDataType::UInt32 => Inner::UInt32(UInt32Builder::with_capacity(capacity)),
            ColumnDataType::UInt64 => Inner::UInt64(UInt64Builder::with_capacity(capacity)),
            ColumnDataType::Float32 => Inner::Float32(Float32Builder::with_capacity(capacity)),
            ColumnDataType::Float64 => Inner::Float64(Float64Builder::with_capacity(capacity)),
            ColumnDataType::String => {
                Inner::String(StringBuilder::with_capacity(capacity, capacity * 8))
            }
            ColumnDataType::TimestampSecond => {
                Inner::TimestampSecond(TimestampSecondBuilder::with_capacity(capacity))
            }
            ColumnDataType::TimestampMillisecond => {
                Inner::TimestampMillisecond(TimestampMillisecondBuilder::with_capacity(capacity))
            }
            ColumnDataType::TimestampMicrosecond => {
                Inner::TimestampMicrosecond(TimestampMicrosecondBuilder::with_capacity(capacity))
            }
            ColumnDataType::TimestampNanosecond => {
                Inner::TimestampNanosecond(TimestampNanosecondBuilder::with_capacity(capacity))
            }
        };
        ColumnBuilder { inner }
    }

    /// Appends `value`; a value of another kind than the column's (which the write path
    /// never produces) is appended as NULL.
    pub fn push(&mut self, value: &Value) {
        // Narrowing casts are exact: values were widened from this column's own type.
        #[allow(clippy::cast_possible_truncation)]
        match (&mut self.inner, value) {
            (Inner::Boolean(b), Value::Boolean(v)) => b.append_value(*v),
            (Inner::Int8(b), Value::Int(v)) => b.append_value(*v as i8),
            (Inner::Int16(b), Value::Int(v)) => b.append_value(*v as i16),
            (Inner::Int32(b), Value::Int(v)) => b.append_value(*v as i32),
            (Inner::Int64(b), Value::Int(v)) => b.append_value(*v),
            (Inner::UInt8(b), Value::UInt(v)) => b.append_value(*v as u8),
            (Inner::UInt16(b), Value::UInt(v)) => b.append_value(*v as u16),
            (Inner::UInt32(b), Value::UInt(v)) => b.append_value(*v as u32),
            (Inner::UInt64(b), Value::UInt(v)) => b.append_value(*v),
            (Inner::Float32(b), Value::Float(v)) => b.append_value(*v as f32),
            (Inner::Float64(b), Value::Float(v)) => b.append_value(*v),
            (Inner::String(b), Value::String(v)) => b.append_value(v),
            (Inner::TimestampSecond(b), Value::Int(v)) => b.append_value(*v),
            (Inner::TimestampMillisecond(b), Value::Int(v)) => b.append_value(*v),
            (Inner::TimestampMicrosecond(b), Value::Int(v)) => b.append_value(*v),
            (Inner::TimestampNanosecond(b), Value::Int(v)) => b.append_value(*v),
            _ => self.push_null(),
        }
    }

    fn push_null(&mut self) {
        match &mut self.inner {
            Inner::Boolean(b) => b.append_null(),
            Inner::Int8(b) => b.append_null(),
            Inner::Int16(b) => b.append_null(),
            Inner::Int32(b) => b.append_null(),
            Inner::Int64(b) => b.append_null(),
            Inner::UInt8(b) => b.append_null(),
            Inner::UInt16(b) => b.append_null(),
            Inner::UInt32(b) => b.append_null(),
            Inner::UInt64(b) => b.append_null(),
            Inner::Float32(b) => b.append_null(),
            Inner::Float64(b) => b.append_null(),
            Inner::String(b) => b.append_null(),
            Inner::TimestampSecond(b) => b.append_null(),
            Inner::TimestampMillisecond(b) => b.append_null(),
            Inner::TimestampMicrosecond(b) => b.append_null(),
            Inner::TimestampNanosecond(b) => b.append_null(),
        }
    }

    /// The finished array.
    pub fn finish(&mut self) -> ArrayRef {
        match &mut self.inner {
            Inner::Boolean(b) => Arc::new(b.finish()),
            Inner::Int8(b) => Arc::new(b.finish()),
            Inner::Int16(b) => Arc::new(b.finish()),
            Inner::Int32(b) => Arc::new(b.finish()),
            Inner::Int64(b) => Arc::new(b.finish()),
            Inner::UInt8(b) => Arc::new(b.finish()),
            Inner::UInt16(b) => Arc::new(b.finish()),
            Inner::UInt32(b) => Arc::new(b.finish()),
            Inner::UInt64(b) => Arc::new(b.finish()),
            Inner::Float32(b) => Arc::new(b.finish()),
            Inner::Float64(b) => Arc::new(b.finish()),
            Inner::String(b) => Arc::new(b.finish()),
            Inner::TimestampSecond(b) => Arc::new(b.finish()),
            Inner::TimestampMillisecond(b) => Arc::new(b.finish()),
            Inner::TimestampMicrosecond(b) => Arc::new(b.finish()),
            Inner::TimestampNanosecond(b) => Arc::new(b.finish()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float32Array, StringArray, TimestampMillisecondArray};

    #[test]
    fn round_trips_through_builders() {
        let floats = Float32Array::from(vec![Some(1.5), None]);
        let strings = StringArray::from(vec![Some("a"), None]);
        let ts = TimestampMillisecondArray::from(vec![5, 6]);
        for (array, t) in [
            (&floats as &dyn Array, ColumnDataType::Float32),
            (&strings, ColumnDataType::String),
            (&ts, ColumnDataType::TimestampMillisecond),
        ] {
            let mut builder = ColumnBuilder::new(t, 2);
            for row in 0..2 {
                builder.push(&value_at(array, t, row).unwrap());
            }
            assert_eq!(builder.finish().as_ref(), array);
        }
        assert!(value_at(&floats, ColumnDataType::Int64, 0).is_none());
    }

    #[test]
    fn value_equals_matches_value_at() {
        let strings = StringArray::from(vec![Some("a"), None]);
        assert!(value_equals(
            &strings,
            ColumnDataType::String,
            0,
            &Value::String("a".into())
        ));
        assert!(!value_equals(
            &strings,
            ColumnDataType::String,
            0,
            &Value::String("b".into())
        ));
        assert!(value_equals(
            &strings,
            ColumnDataType::String,
            1,
            &Value::Null
        ));
        assert!(!value_equals(
            &strings,
            ColumnDataType::String,
            1,
            &Value::String("".into())
        ));
        let floats = Float32Array::from(vec![Some(1.5)]);
        assert!(value_equals(
            &floats,
            ColumnDataType::Float32,
            0,
            &Value::Float(1.5)
        ));
    }

    #[test]
    fn null_sorts_first() {
        assert!(Value::Null < Value::String("".into()));
        assert!(Value::Float(f64::NAN) > Value::Float(1.0));
    }
}
