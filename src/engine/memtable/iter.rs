//! [`MemtableIter`]: a memtable's rows as read batches, series by series in key order.
//!
//! The iterator takes a snapshot of the series list when it is created (series created later
//! hold only rows written later). For each series it sorts the row indexes that pass the time
//! range and sequence bound by `(ts asc, sequence desc)` and copies the projected columns
//! under the series' read lock (one short lock per series); output batches concatenate the
//! rows of consecutive series, and the tag columns are decoded from the series keys (once per
//! series and batch, then repeated with `take`).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, UInt32Array};
use arrow::compute::{concat, take};

use crate::engine::error::{Error, Result};
use crate::engine::memtable::{MemtableRef, Series};
use crate::engine::metadata::SequenceNumber;
use crate::engine::read::{ColumnSource, ReadFormat};
use crate::engine::time_range::TimeRange;

fn arrow_error(context: &'static str) -> impl FnOnce(arrow::error::ArrowError) -> Error {
    move |source| Error::Arrow {
        context: context.to_string(),
        source,
    }
}

/// The sorted, filtered rows of one series, projected: one array per read column that is
/// not a tag (read-column order, tags left out), then `__sequence`, `__op_type`.
struct Chunk {
    key: Arc<[u8]>,
    columns: Vec<ArrayRef>,
    len: usize,
    /// Rows already emitted.
    offset: usize,
}

/// Rows of one series taken into an output batch: its key, its non-tag columns sliced to
/// the rows taken, and their number.
type Piece = (Arc<[u8]>, Vec<ArrayRef>, usize);

/// Batches of a memtable's rows; see [`crate::engine::memtable::Memtable::iter`].
pub struct MemtableIter {
    memtable: MemtableRef,
    series: std::vec::IntoIter<(Arc<[u8]>, Arc<Series>)>,
    format: Arc<ReadFormat>,
    time_range: TimeRange,
    batch_size: usize,
    max_sequence: SequenceNumber,
    pending: Option<Chunk>,
    done: bool,
}

impl MemtableIter {
    pub(crate) fn new(
        memtable: MemtableRef,
        series: Vec<(Arc<[u8]>, Arc<Series>)>,
        format: Arc<ReadFormat>,
        time_range: TimeRange,
        batch_size: usize,
        max_sequence: SequenceNumber,
    ) -> Self {
        MemtableIter {
            memtable,
            series: series.into_iter(),
            format,
            time_range,
            batch_size: batch_size.max(1),
            max_sequence,
            pending: None,
            done: false,
        }
    }

    /// The next series with rows to read, projected.
    fn next_chunk(&mut self) -> Result<Option<Chunk>> {
        for (key, series) in self.series.by_ref() {
            let data = series.read();
            let indices = data.sorted(self.time_range.min, self.time_range.max, self.max_sequence);
            if indices.is_empty() {
                continue;
            }
            let ts_type = self.format.metadata().time_index_column().data_type;
            let mut columns = Vec::with_capacity(self.format.column_sources().len() + 2);
            for (&column, source) in self
                .format
                .read_columns()
                .iter()
                .zip(self.format.column_sources())
            {
                match *source {
                    ColumnSource::Tag(_) => {}
                    ColumnSource::TimeIndex => columns.push(super::series::timestamp_array(
                        data.gather_timestamps(&indices),
                        ts_type,
                    )?),
                    ColumnSource::Field(k) => {
                        let data_type = self
                            .format
                            .metadata()
                            .columns
                            .get(column)
                            .map_or(ts_type, |c| c.data_type);
                        columns.push(data.gather_field(k, data_type, &indices));
                    }
                }
            }
            columns.push(Arc::new(data.gather_sequences(&indices)));
            columns.push(Arc::new(data.gather_op_types(&indices)));
            return Ok(Some(Chunk {
                key,
                columns,
                len: indices.len(),
                offset: 0,
            }));
        }
        Ok(None)
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        let mut pieces: Vec<Piece> = Vec::new();
        let mut rows = 0;
        while rows < self.batch_size {
            let mut chunk = match self.pending.take() {
                Some(chunk) => chunk,
                None => match self.next_chunk()? {
                    Some(chunk) => chunk,
                    None => break,
                },
            };
            let take_rows = (chunk.len - chunk.offset).min(self.batch_size - rows);
            let columns = if chunk.offset == 0 && take_rows == chunk.len {
                std::mem::take(&mut chunk.columns)
            } else {
                chunk
                    .columns
                    .iter()
                    .map(|c| c.slice(chunk.offset, take_rows))
                    .collect()
            };
            pieces.push((chunk.key.clone(), columns, take_rows));
            rows += take_rows;
            chunk.offset += take_rows;
            if chunk.offset < chunk.len {
                self.pending = Some(chunk);
            }
        }
        if pieces.is_empty() {
            return Ok(None);
        }
        let tags = self.decode_tags(&pieces)?;
        let mut tags = tags.into_iter();
        let n_sources = self.format.column_sources().len();
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(n_sources + 2);
        // Position among the non-tag columns of a chunk.
        let mut plain = 0;
        let positions = self
            .format
            .column_sources()
            .iter()
            .map(|s| matches!(s, ColumnSource::Tag(_)))
            .chain([false, false]);
        for is_tag in positions {
            if is_tag {
                let tag = tags.next().ok_or_else(|| Error::Arrow {
                    context: "decoding series keys".to_string(),
                    source: arrow::error::ArrowError::SchemaError("missing tag".to_string()),
                })?;
                columns.push(tag);
                continue;
            }
            let column = match pieces.as_slice() {
                [(_, only, _)] => only.get(plain).cloned(),
                _ => {
                    let arrays: Vec<&dyn Array> = pieces
                        .iter()
                        .filter_map(|(_, c, _)| c.get(plain).map(|a| a.as_ref()))
                        .collect();
                    Some(concat(&arrays).map_err(arrow_error("concatenating memtable rows"))?)
                }
            };
            plain += 1;
            columns.push(column.ok_or_else(|| Error::Arrow {
                context: "assembling a memtable batch".to_string(),
                source: arrow::error::ArrowError::SchemaError("missing column".to_string()),
            })?);
        }
        RecordBatch::try_new(self.format.schema().clone(), columns)
            .map(Some)
            .map_err(arrow_error("building a memtable batch"))
    }

    /// The tag columns of the read format (in read-column order), one value per row of
    /// `pieces`, decoded from the series keys.
    fn decode_tags(&self, pieces: &[Piece]) -> Result<Vec<ArrayRef>> {
        let wanted: Vec<usize> = self
            .format
            .column_sources()
            .iter()
            .filter_map(|s| match s {
                ColumnSource::Tag(k) => Some(*k),
                _ => None,
            })
            .collect();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let Some(codec) = &self.memtable.codec else {
            return Err(Error::Arrow {
                context: "decoding series keys".to_string(),
                source: arrow::error::ArrowError::SchemaError("region has no tags".to_string()),
            });
        };
        let parser = codec.parser();
        let decoded = codec
            .convert_rows(pieces.iter().map(|(key, _, _)| parser.parse(key)))
            .map_err(arrow_error("decoding series keys"))?;
        let repeat =
            UInt32Array::from_iter_values(pieces.iter().enumerate().flat_map(|(i, (_, _, n))| {
                std::iter::repeat_n(u32::try_from(i).unwrap_or(u32::MAX), *n)
            }));
        wanted
            .iter()
            .map(|&k| {
                let tag = decoded.get(k).ok_or_else(|| Error::Arrow {
                    context: "decoding series keys".to_string(),
                    source: arrow::error::ArrowError::SchemaError("missing tag".to_string()),
                })?;
                take(tag.as_ref(), &repeat, None).map_err(arrow_error("repeating tags"))
            })
            .collect()
    }
}

impl Iterator for MemtableIter {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_batch() {
            Ok(Some(batch)) => Some(Ok(batch)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
