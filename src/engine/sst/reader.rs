//! Reads an SST: verifies its checksum, prunes row groups by the time index's Parquet
//! statistics, and yields batches in a [`ReadFormat`]'s schema.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, new_null_array};
use bytes::Bytes;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::file::statistics::Statistics;

use crate::engine::error::Result;
use crate::engine::io::ObjectStorage;
use crate::engine::metadata::RegionId;
use crate::engine::read::ReadFormat;
use crate::engine::read::predicate::{TagFilter, row_group_may_match};
use crate::engine::sst::file::FileMeta;
use crate::engine::sst::format::{FORMAT_VERSION, FORMAT_VERSION_KEY};
use crate::engine::sst::{Error, sst_path};
use crate::engine::time_range::TimeRange;

/// Fetches an SST's bytes and checks them against the manifest's size and CRC-32.
///
/// # Errors
/// [`Error::Missing`] if the object is gone, [`Error::ChecksumMismatch`] if it was damaged.
pub async fn fetch_sst(
    storage: &ObjectStorage,
    region_id: RegionId,
    meta: &FileMeta,
) -> Result<Bytes> {
    let path = sst_path(region_id, meta.file_id);
    let bytes = storage.get(&path).await.map_err(|source| Error::Missing {
        path: path.to_string(),
        source,
    })?;
    let actual = crc32fast::hash(&bytes);
    if actual != meta.crc32 || bytes.len() as u64 != meta.file_size_bytes {
        return Err(Error::ChecksumMismatch {
            path: path.to_string(),
            expected: meta.crc32,
            actual,
            size: bytes.len() as u64,
            expected_size: meta.file_size_bytes,
        }
        .into());
    }
    Ok(bytes)
}

/// Batches of one SST in a read format; see [`SstReader::open`].
pub struct SstReader {
    path: String,
    inner: ParquetRecordBatchReader,
    format: Arc<ReadFormat>,
    /// For each read-schema column: its index in the projected file batch, or `None` if the
    /// file predates the column (filled with NULL).
    mapping: Vec<Option<usize>>,
}

impl SstReader {
    /// Opens verified SST `bytes` for reading `format`'s columns of the row groups whose
    /// time range overlaps `time_range`.
    ///
    /// # Errors
    /// [`Error::Parquet`] for an unreadable file, [`Error::Invalid`] for a file of an
    /// unsupported format version or without the internal columns.
    pub fn open(
        path: String,
        bytes: Bytes,
        format: Arc<ReadFormat>,
        time_range: TimeRange,
        batch_size: usize,
    ) -> Result<SstReader> {
        Self::open_filtered(path, bytes, format, time_range, &[], batch_size)
    }

    /// As [`SstReader::open`], also skipping row groups whose tag statistics rule out every
    /// `tag_filters` match (rows of the groups read are not filtered: see [`TagFilter`]).
    ///
    /// # Errors
    /// As [`SstReader::open`].
    pub fn open_filtered(
        path: String,
        bytes: Bytes,
        format: Arc<ReadFormat>,
        time_range: TimeRange,
        tag_filters: &[TagFilter],
        batch_size: usize,
    ) -> Result<SstReader> {
        let parquet_err = |source| Error::Parquet {
            path: path.clone(),
            source,
        };
        let invalid = |reason: String| Error::Invalid {
            path: path.clone(),
            reason,
        };
        let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(parquet_err)?;
        let file_metadata = builder.metadata().file_metadata();
        let version = file_metadata
            .key_value_metadata()
            .and_then(|kvs| kvs.iter().find(|kv| kv.key == FORMAT_VERSION_KEY))
            .and_then(|kv| kv.value.as_deref())
            .and_then(|v| v.parse::<u32>().ok())
            .ok_or_else(|| invalid(format!("missing {FORMAT_VERSION_KEY}")))?;
        if version == 0 || version > FORMAT_VERSION {
            return Err(invalid(format!(
                "format version {version} is newer than this build reads ({FORMAT_VERSION})"
            ))
            .into());
        }
        let file_schema = builder.schema().clone();
        let mut roots = Vec::new();
        for field in format.schema().fields() {
            if let Ok(index) = file_schema.index_of(field.name()) {
                roots.push(index);
            }
        }
        roots.sort_unstable();
        let mapping: Vec<Option<usize>> = format
            .schema()
            .fields()
            .iter()
            .map(|field| {
                file_schema
                    .index_of(field.name())
                    .ok()
                    .and_then(|index| roots.iter().position(|&r| r == index))
            })
            .collect();
        for position in [
            format.time_index_position(),
            format.sequence_position(),
            format.op_type_position(),
        ] {
            if mapping.get(position).copied().flatten().is_none() {
                return Err(invalid("missing a key or internal column".to_string()).into());
            }
        }
        let ts_name = format
            .schema()
            .field(format.time_index_position())
            .name()
            .clone();
        let ts_leaf = file_schema.index_of(&ts_name).ok();
        let row_groups: Vec<usize> = builder
            .metadata()
            .row_groups()
            .iter()
            .enumerate()
            .filter(|(_, rg)| {
                let stats = ts_leaf
                    .and_then(|leaf| rg.columns().get(leaf))
                    .and_then(|c| c.statistics());
                match stats {
                    Some(Statistics::Int64(s)) => match (s.min_opt(), s.max_opt()) {
                        (Some(&min), Some(&max)) => TimeRange::new(min, max).overlaps(&time_range),
                        _ => true,
                    },
                    _ => true,
                }
            })
            .filter(|(_, rg)| {
                row_group_may_match(rg, tag_filters, |name| file_schema.index_of(name).ok())
            })
            .map(|(i, _)| i)
            .collect();
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
        let inner = builder
            .with_projection(mask)
            .with_row_groups(row_groups)
            .with_batch_size(batch_size.max(1))
            .build()
            .map_err(parquet_err)?;
        Ok(SstReader {
            path,
            inner,
            format,
            mapping,
        })
    }

    fn convert(&self, batch: RecordBatch) -> Result<RecordBatch> {
        let schema = self.format.schema();
        let columns: Vec<ArrayRef> = self
            .mapping
            .iter()
            .zip(schema.fields())
            .map(
                |(index, field)| match index.and_then(|i| batch.columns().get(i)) {
                    Some(column) => column.clone(),
                    None => new_null_array(field.data_type(), batch.num_rows()),
                },
            )
            .collect();
        RecordBatch::try_new(schema.clone(), columns).map_err(|source| {
            Error::Arrow {
                path: self.path.clone(),
                source,
            }
            .into()
        })
    }
}

impl Iterator for SstReader {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        let batch = self.inner.next()?;
        Some(
            batch
                .map_err(|source| {
                    Error::Arrow {
                        path: self.path.clone(),
                        source,
                    }
                    .into()
                })
                .and_then(|batch| self.convert(batch)),
        )
    }
}
