//! Ranged reads of an SST (format version 2, docs/FORMAT.md "SST", "Checksums"): a reader
//! fetches the file's tail (page index and footer) and the column chunks it decodes, never
//! the whole file, and verifies each range on its own.
//!
//! - The tail, from the end of the last column chunk to the end of the file, is checked
//!   against the CRC-32 the manifest records for it ([`FooterChecksum`] in `FileMeta`).
//! - Each column chunk is checked against its CRC-32 in the footer's `tsdb:chunk_crc32`
//!   key-value entry, which the tail's checksum covers ([`ChunkChecksums`]).
//!
//! Parquet-rs 59 verifies page CRCs but never writes them, so the checksums are tsdb's own.
//! mito2 reads SSTs the same way (`src/mito2/src/sst/parquet/row_group.rs`: only the column
//! chunks of the selected row groups, through its page cache); the verification unit here
//! is the column chunk, so a reader that decodes one page of a chunk still fetches the chunk.

use std::ops::Range;
use std::sync::Arc;

use bytes::{Buf, Bytes};
use parquet::errors::ParquetError;
use parquet::file::metadata::ParquetMetaData;
use parquet::file::reader::{ChunkReader, Length};
use serde::{Deserialize, Serialize};

use crate::engine::sst::Error;

/// Key-value metadata key holding the CRC-32 of every column chunk (format version 2).
pub const CHUNK_CRC32_KEY: &str = "tsdb:chunk_crc32";

/// Where an SST's tail starts and its CRC-32: the manifest's check of the page index and
/// footer of a version-2 file (`FileMeta::footer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FooterChecksum {
    /// Byte offset of the tail: the end of the last column chunk (bytes from file start).
    pub offset: u64,
    /// CRC-32 (crc32fast) of the bytes from `offset` to the end of the file.
    pub crc32: u32,
}

/// The CRC-32 of every column chunk of a file, row group by row group, in leaf column
/// order. Encoded as `tsdb:chunk_crc32`: row groups separated by `;`, the chunks of one row
/// group by `,`, each CRC as 8 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkChecksums {
    columns: usize,
    crcs: Vec<u32>,
}

impl ChunkChecksums {
    /// Checksums of `row_groups` rows of `columns` CRCs each.
    pub fn new(columns: usize, crcs: Vec<u32>) -> Self {
        ChunkChecksums { columns, crcs }
    }

    /// The text stored under [`CHUNK_CRC32_KEY`].
    pub fn encode(&self) -> String {
        let mut text = String::with_capacity(self.crcs.len() * 9);
        for (i, crc) in self.crcs.iter().enumerate() {
            if i > 0 {
                text.push(if i % self.columns.max(1) == 0 {
                    ';'
                } else {
                    ','
                });
            }
            text.push_str(&format!("{crc:08x}"));
        }
        text
    }

    /// Parses `text` for a file of `metadata`'s shape.
    ///
    /// # Errors
    /// A description of what is wrong: a value that is not 8 hex digits, or a count of row
    /// groups or chunks that differs from the file's.
    pub fn parse(text: &str, metadata: &ParquetMetaData) -> Result<Self, String> {
        let columns = metadata.file_metadata().schema_descr().num_columns();
        let row_groups = metadata.num_row_groups();
        let mut crcs = Vec::with_capacity(columns * row_groups);
        let groups: Vec<&str> = if text.is_empty() {
            Vec::new()
        } else {
            text.split(';').collect()
        };
        if groups.len() != row_groups {
            return Err(format!(
                "{CHUNK_CRC32_KEY} has {} row groups, the file {row_groups}",
                groups.len()
            ));
        }
        for (rg, group) in groups.iter().enumerate() {
            let values: Vec<&str> = group.split(',').collect();
            if values.len() != columns {
                return Err(format!(
                    "{CHUNK_CRC32_KEY} has {} chunks in row group {rg}, the file {columns}",
                    values.len()
                ));
            }
            for value in values {
                if value.len() != 8 {
                    return Err(format!("{CHUNK_CRC32_KEY} value '{value}' is not a CRC-32"));
                }
                let crc = u32::from_str_radix(value, 16)
                    .map_err(|_| format!("{CHUNK_CRC32_KEY} value '{value}' is not a CRC-32"))?;
                crcs.push(crc);
            }
        }
        Ok(ChunkChecksums { columns, crcs })
    }

    /// The CRC-32 of the chunk of leaf column `column` in row group `row_group`.
    pub fn get(&self, row_group: usize, column: usize) -> Option<u32> {
        (column < self.columns)
            .then(|| self.crcs.get(row_group * self.columns + column).copied())
            .flatten()
    }
}

/// Byte range of the chunk of leaf `column` in `row_group` of `metadata`, if both exist.
pub fn chunk_range(
    metadata: &ParquetMetaData,
    row_group: usize,
    column: usize,
) -> Option<Range<u64>> {
    let chunk = metadata
        .row_groups()
        .get(row_group)?
        .columns()
        .get(column)?;
    let (start, len) = chunk.byte_range();
    Some(start..start + len)
}

/// Checks `bytes`, fetched as `range` of the SST at `path`, against its CRC-32 `expected`.
///
/// # Errors
/// [`Error::RangeChecksumMismatch`] naming `what` (e.g. `column chunk 'usage_user' of row
/// group 0`) if the checksum or the length differs.
pub fn verify_range(
    path: &str,
    what: impl FnOnce() -> String,
    range: &Range<u64>,
    bytes: &[u8],
    expected: u32,
) -> crate::engine::error::Result<()> {
    let actual = crc32fast::hash(bytes);
    if actual == expected && bytes.len() as u64 == range.end.saturating_sub(range.start) {
        return Ok(());
    }
    Err(Error::RangeChecksumMismatch {
        path: path.to_string(),
        what: what(),
        start: range.start,
        end: range.end,
        expected,
        actual,
    }
    .into())
}

/// The end of the last column chunk of `metadata`'s file: where its tail starts.
pub fn data_end(metadata: &ParquetMetaData) -> u64 {
    metadata
        .row_groups()
        .iter()
        .flat_map(|rg| rg.columns())
        .map(|c| {
            let (start, len) = c.byte_range();
            start + len
        })
        .max()
        .unwrap_or(0)
}

/// The verified byte ranges of one SST a reader may read: the whole file (format version
/// 1, or a fetch for compaction), or the column chunks a read needs (version 2). Implements
/// Parquet's [`ChunkReader`], so the synchronous Arrow reader decodes from it; a read
/// outside the ranges held is an error (a planning bug), never a silent short read. Cheap
/// to clone.
#[derive(Debug, Clone)]
pub struct SstData {
    /// File length in bytes.
    len: u64,
    /// Non-overlapping ranges sorted by start, each with its bytes.
    ranges: Arc<[(u64, Bytes)]>,
}

impl SstData {
    /// The whole file.
    pub fn whole(bytes: Bytes) -> Self {
        SstData {
            len: bytes.len() as u64,
            ranges: Arc::from(vec![(0, bytes)]),
        }
    }

    /// Some ranges (`(start, bytes)`, any order; overlapping ones are dropped) of a file of
    /// `len` bytes.
    pub fn ranges(len: u64, mut ranges: Vec<(u64, Bytes)>) -> Self {
        ranges.sort_by_key(|(start, _)| *start);
        let mut kept: Vec<(u64, Bytes)> = Vec::with_capacity(ranges.len());
        for (start, bytes) in ranges {
            if let Some((last_start, last)) = kept.last()
                && start < last_start + last.len() as u64
            {
                continue;
            }
            kept.push((start, bytes));
        }
        SstData {
            len,
            ranges: Arc::from(kept),
        }
    }

    /// Whether this is the whole file.
    pub fn is_whole(&self) -> bool {
        matches!(&*self.ranges, [(0, bytes)] if bytes.len() as u64 == self.len)
    }

    /// The held range containing `[start, start + length)`: its start and bytes.
    fn find(&self, start: u64, length: u64) -> Option<&(u64, Bytes)> {
        let end = start.checked_add(length)?;
        let index = self.ranges.partition_point(|(s, _)| *s <= start);
        let candidate = self.ranges.get(index.checked_sub(1)?)?;
        (end <= candidate.0 + candidate.1.len() as u64).then_some(candidate)
    }

    fn not_held(&self, start: u64, length: u64) -> ParquetError {
        ParquetError::General(format!(
            "bytes {start}..{} of the SST were not fetched (file of {} bytes)",
            start.saturating_add(length),
            self.len
        ))
    }
}

impl Length for SstData {
    fn len(&self) -> u64 {
        self.len
    }
}

impl ChunkReader for SstData {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        let (range_start, bytes) = self.find(start, 0).ok_or_else(|| self.not_held(start, 0))?;
        let offset = usize::try_from(start - range_start).map_err(|_| self.not_held(start, 0))?;
        Ok(bytes.slice(offset..).reader())
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        let (range_start, bytes) = self
            .find(start, length as u64)
            .ok_or_else(|| self.not_held(start, length as u64))?;
        let offset = usize::try_from(start - range_start).map_err(|_| self.not_held(start, 0))?;
        Ok(bytes.slice(offset..offset + length))
    }
}

impl From<Bytes> for SstData {
    fn from(bytes: Bytes) -> Self {
        SstData::whole(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_data_serves_only_held_ranges() {
        let data = SstData::ranges(
            100,
            vec![
                (50, Bytes::from_static(b"0123456789")),
                (10, Bytes::from_static(b"abcdef")),
            ],
        );
        assert_eq!(data.len(), 100);
        assert_eq!(data.get_bytes(12, 3).unwrap(), Bytes::from_static(b"cde"));
        assert_eq!(
            data.get_bytes(50, 10).unwrap(),
            Bytes::from_static(b"0123456789")
        );
        let mut read = String::new();
        std::io::Read::read_to_string(&mut data.get_read(55).unwrap(), &mut read).unwrap();
        assert_eq!(read, "56789");
        // Straddling the end of a range, or outside every range: errors, not short reads.
        assert!(data.get_bytes(14, 3).is_err());
        assert!(data.get_bytes(0, 1).is_err());
        assert!(data.get_read(70).is_err());
        assert!(data.get_bytes(50, 10).is_ok() && data.get_bytes(49, 2).is_err());
        assert!(!data.is_whole());
        assert!(SstData::whole(Bytes::from_static(b"xyz")).is_whole());
    }
}
