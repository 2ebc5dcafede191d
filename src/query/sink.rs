//! [`RegionSink`]: the [`DataSink`] that writes into a region, as Puts (INSERT) or as
//! tombstones for the rows its input selects (DELETE, as mito does).
//!
//! It runs inside DataFusion's `DataSinkExec`, which reports the count as one `count`
//! UInt64 row.

use std::fmt;
use std::sync::Arc;

use arrow::array::AsArray;
use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{Field, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::datasource::sink::DataSink;
use datafusion::error::Result;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::{DisplayAs, DisplayFormatType};
use futures::StreamExt;

use crate::engine::metadata::RegionMetadataRef;
use crate::engine::region::RegionRef;
use crate::query::error::{Error, engine_to_datafusion};

/// Which mutation a [`RegionSink`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkOp {
    /// INSERT: rows conformed to the table schema, written as Puts.
    Insert,
    /// DELETE: tombstones for the row identities (tags, time index) of the input rows,
    /// which come from a scan of the table itself.
    Delete,
}

/// Writes the rows of a DataFusion plan into a region.
#[derive(Debug)]
pub struct RegionSink {
    table: String,
    region: RegionRef,
    metadata: RegionMetadataRef,
    op: SinkOp,
    /// The table schema.
    table_schema: SchemaRef,
    /// The table schema with every field nullable: what DataFusion is told, so that NULLs
    /// reach [`conform_batch`] and get an error naming the column instead of DataFusion's
    /// generic "non-nullable" check.
    schema: SchemaRef,
}

impl RegionSink {
    /// A sink applying `op` to `region` of table `table`.
    pub fn new(
        table: impl Into<String>,
        region: RegionRef,
        metadata: RegionMetadataRef,
        op: SinkOp,
    ) -> Self {
        let table_schema = metadata.arrow_schema();
        let schema = all_nullable(&table_schema);
        RegionSink {
            table: table.into(),
            region,
            metadata,
            op,
            table_schema,
            schema,
        }
    }
}

impl DisplayAs for RegionSink {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.op {
            SinkOp::Insert => "InsertSink",
            SinkOp::Delete => "DeleteSink",
        };
        write!(f, "{kind}: table={}", self.table)
    }
}

#[async_trait]
impl DataSink for RegionSink {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    async fn write_all(
        &self,
        mut data: SendableRecordBatchStream,
        _context: &Arc<TaskContext>,
    ) -> Result<u64> {
        let mut count = 0u64;
        while let Some(batch) = data.next().await {
            let batch = batch?;
            if batch.num_rows() == 0 {
                continue;
            }
            let written = match self.op {
                SinkOp::Insert => {
                    let batch =
                        conform_batch(&self.table, &self.metadata, &self.table_schema, &batch)?;
                    self.region.write(batch).await
                }
                SinkOp::Delete => self.region.delete(batch).await,
            };
            count += written.map_err(engine_to_datafusion)? as u64;
        }
        Ok(count)
    }
}

/// `schema` with every field nullable.
pub fn all_nullable(schema: &SchemaRef) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect();
    Arc::new(Schema::new(fields))
}

/// Rebuilds `batch` with exactly the table schema: columns matched by name (else by
/// position), cast to the stored type, NULLs rejected where the table forbids them.
///
/// # Errors
/// [`Error::NullTimeIndex`], [`Error::NullInNotNullColumn`], [`Error::Cast`] or
/// [`Error::MissingColumn`], each naming the table and column.
pub fn conform_batch(
    table: &str,
    metadata: &RegionMetadataRef,
    schema: &SchemaRef,
    batch: &RecordBatch,
) -> std::result::Result<RecordBatch, Error> {
    let input_schema = batch.schema();
    let same_arity = input_schema.fields().len() == schema.fields().len();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for (i, (field, column)) in schema.fields().iter().zip(&metadata.columns).enumerate() {
        let array = match input_schema.index_of(field.name()) {
            Ok(j) => batch.column(j).clone(),
            Err(_) if same_arity => batch.column(i).clone(),
            Err(_) => {
                return Err(Error::MissingColumn {
                    table: table.to_string(),
                    column: field.name().clone(),
                });
            }
        };
        let array = if array.data_type() == field.data_type() {
            array
        } else {
            // Not `cast`'s default (`safe`: an unparsable or out-of-range value becomes
            // NULL): a value that does not fit the column is an error, never a silent NULL.
            let options = arrow::compute::CastOptions {
                safe: false,
                ..Default::default()
            };
            arrow::compute::cast_with_options(&array, field.data_type(), &options).map_err(
                |source| Error::Cast {
                    table: table.to_string(),
                    column: field.name().clone(),
                    from: Box::new(array.data_type().clone()),
                    to: Box::new(field.data_type().clone()),
                    source,
                },
            )?
        };
        check_timestamp_range(table, &column.name, &array)?;
        if array.null_count() > 0 {
            if i == metadata.time_index {
                return Err(Error::NullTimeIndex {
                    table: table.to_string(),
                    column: column.name.clone(),
                });
            }
            if !column.nullable {
                return Err(Error::NullInNotNullColumn {
                    table: table.to_string(),
                    column: column.name.clone(),
                });
            }
        }
        columns.push(array);
    }
    RecordBatch::try_new(schema.clone(), columns).map_err(|source| Error::Batch {
        table: table.to_string(),
        source,
    })
}

/// Rejects timestamps outside what arrow and chrono can turn into a date (about ±262,000
/// years): stored, such a value would make every later query that compares timestamps fail.
fn check_timestamp_range(
    table: &str,
    column: &str,
    array: &ArrayRef,
) -> std::result::Result<(), Error> {
    use arrow::datatypes::{
        DataType, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
        TimestampNanosecondType, TimestampSecondType,
    };
    use arrow::temporal_conversions::as_datetime;
    fn first_bad<T: arrow::datatypes::ArrowTimestampType>(array: &ArrayRef) -> Option<i64> {
        let array = array.as_primitive_opt::<T>()?;
        array
            .iter()
            .flatten()
            .find(|&v| as_datetime::<T>(v).is_none())
    }
    let bad = match array.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => first_bad::<TimestampSecondType>(array),
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            first_bad::<TimestampMillisecondType>(array)
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            first_bad::<TimestampMicrosecondType>(array)
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => first_bad::<TimestampNanosecondType>(array),
        _ => None,
    };
    match bad {
        Some(value) => Err(Error::TimestampOutOfRange {
            table: table.to_string(),
            column: column.to_string(),
            value,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Float64Array, Int64Array, StringArray, TimestampMillisecondArray};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;
    use crate::engine::metadata::{
        ColumnDataType, ColumnMetadata, RegionId, RegionMetadata, SemanticType,
    };

    fn metadata() -> RegionMetadataRef {
        let col = |name: &str, id, t, s, nullable| ColumnMetadata {
            name: name.into(),
            column_id: id,
            data_type: t,
            semantic_type: s,
            nullable,
            default: None,
        };
        Arc::new(RegionMetadata {
            region_id: RegionId::new(1, 0),
            columns: vec![
                col("host", 0, ColumnDataType::String, SemanticType::Tag, true),
                col(
                    "ts",
                    1,
                    ColumnDataType::TimestampMillisecond,
                    SemanticType::Timestamp,
                    false,
                ),
                col(
                    "cpu",
                    2,
                    ColumnDataType::Float64,
                    SemanticType::Field,
                    false,
                ),
            ],
            primary_key: vec![0],
            time_index: 1,
            schema_version: 0,
            next_column_id: 0,
        })
    }

    fn input(ts: Vec<Option<i64>>, cpu: Vec<Option<i64>>) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("host", DataType::Utf8, true),
            Field::new("ts", DataType::Int64, true),
            Field::new("cpu", DataType::Int64, true),
        ]));
        let n = ts.len();
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec![Some("a"); n])),
                Arc::new(Int64Array::from(ts)),
                Arc::new(Int64Array::from(cpu)),
            ],
        )
        .unwrap()
    }

    #[test]
    fn casts_to_table_types() {
        let m = metadata();
        let schema = m.arrow_schema();
        let out = conform_batch("t", &m, &schema, &input(vec![Some(5)], vec![Some(2)])).unwrap();
        assert_eq!(out.schema(), schema);
        let ts = out
            .column(1)
            .as_any()
            .downcast_ref::<TimestampMillisecondArray>()
            .unwrap();
        assert_eq!(ts.value(0), 5);
        let cpu = out
            .column(2)
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap();
        assert_eq!(cpu.value(0), 2.0);
    }

    #[test]
    fn rejects_nulls_where_forbidden() {
        let m = metadata();
        let schema = m.arrow_schema();
        let err = conform_batch("t", &m, &schema, &input(vec![None], vec![Some(1)])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "time index column 'ts' of table 't' cannot be NULL"
        );
        let err = conform_batch("t", &m, &schema, &input(vec![Some(1)], vec![None])).unwrap_err();
        assert!(err.to_string().contains("'cpu'"), "{err}");
    }
}
