//! Parquet conventions of tsdb SSTs (normative text: `docs/FORMAT.md`, "SST").

/// Key-value metadata key holding the SST format version.
pub const FORMAT_VERSION_KEY: &str = "tsdb:format_version";
/// Key-value metadata key holding the region metadata (JSON) the file was written with.
pub const REGION_METADATA_KEY: &str = "tsdb:region_metadata";
/// The SST format version this build writes and the newest it reads.
/// Version 2 added the column chunk checksums (`tsdb:chunk_crc32`, `sst/ranged.rs`); a
/// version 1 file is read whole and checked against the manifest's whole-file CRC.
pub const FORMAT_VERSION: u32 = 2;
/// Rows per Parquet row group (as mito2's `DEFAULT_ROW_GROUP_SIZE`).
pub const ROW_GROUP_ROWS: usize = 100 * 1024;
/// Rows per batch when reading.
pub const READ_BATCH_ROWS: usize = 8192;
/// At most this many rows per data page (Parquet's default is 20,000): the unit page pruning
/// skips. On a 100k-row TSBS table 4096 costs 0.4 % more bytes than 20,000 (see FORMAT.md).
/// The writer checks the limit after each write batch of 1024 rows, so pages hold up to
/// `PAGE_ROWS + 1023` rows.
pub const PAGE_ROWS: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    /// The numbers in docs/FORMAT.md "SST (Parquet)".
    #[test]
    fn format_spec() {
        assert_eq!(FORMAT_VERSION_KEY, "tsdb:format_version");
        assert_eq!(REGION_METADATA_KEY, "tsdb:region_metadata");
        assert_eq!(FORMAT_VERSION, 2);
        assert_eq!(ROW_GROUP_ROWS, 102_400);
        assert_eq!(PAGE_ROWS, 4096);
        assert_eq!(crate::engine::read::SEQUENCE_COLUMN, "__sequence");
        assert_eq!(crate::engine::read::OP_TYPE_COLUMN, "__op_type");
    }
}
