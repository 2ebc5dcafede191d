//! The persisted catalog object `catalog/CATALOG`: file header (magic `TSCT`, version 1)
//! followed by exactly one frame (record type [`RECORD_TYPE_CATALOG`]) whose payload is the
//! JSON of [`CatalogData`]. The layout is specified in `docs/FORMAT.md` (section Catalog).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::catalog::error::{CorruptionKind, Error, Result};
use crate::engine::codec;
use crate::engine::metadata::RegionId;

/// Object path of the catalog, relative to the data directory.
pub const CATALOG_PATH: &str = "catalog/CATALOG";
/// Object prefix (directory) holding the catalog.
pub const CATALOG_DIR: &str = "catalog";
/// Magic bytes of the catalog file.
pub const CATALOG_MAGIC: [u8; 4] = *b"TSCT";
/// Format version written (and the highest read) by this build.
pub const CATALOG_VERSION: u16 = 2;

/// The version written for a catalog without views or column comments: such a catalog is
/// written exactly as before they existed, so older builds still open it. A catalog holding
/// either is version [`CATALOG_VERSION`], which builds that would silently drop them (their
/// next DDL rewrites the file without the fields they do not know) refuse as newer.
pub const CATALOG_VERSION_PLAIN: u16 = 1;
/// Record type of the single frame.
pub const RECORD_TYPE_CATALOG: u8 = 1;

/// What the catalog knows about one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableInfo {
    /// Unique, never reused id.
    pub table_id: u32,
    /// The table's regions (one for now: `RegionId::new(table_id, 0)`).
    pub region_ids: Vec<RegionId>,
    /// `WITH (...)` options, keys lower-cased.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at_ms: i64,
    /// Column `COMMENT 'text'`s by column id (ids survive renames). Absent from catalogs
    /// written before comments were kept, and omitted while empty.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub column_comments: BTreeMap<u32, String>,
}

/// What the catalog knows about one view (`CREATE VIEW name AS query`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewInfo {
    /// The `CREATE [OR REPLACE] VIEW ...` statement as `SHOW CREATE VIEW` prints it
    /// (sqlparser's rendering, as GreptimeDB's).
    pub definition: String,
    /// The view's query (`SELECT ...`), planned again when the database opens.
    pub query: String,
    /// Column names given as `CREATE VIEW v (a, b) AS ...`, empty if none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at_ms: i64,
}

/// The whole catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogData {
    /// The id the next created table gets.
    pub next_table_id: u32,
    /// Tables by name.
    pub tables: BTreeMap<String, TableInfo>,
    /// Views by name (absent in catalogs written before views were kept; omitted while
    /// empty). A name is a table or a view, never both.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub views: BTreeMap<String, ViewInfo>,
}

impl Default for CatalogData {
    fn default() -> Self {
        CatalogData {
            next_table_id: 1,
            tables: BTreeMap::new(),
            views: BTreeMap::new(),
        }
    }
}

/// Encodes the catalog file.
///
/// # Errors
/// [`Error::Encode`] if JSON serialisation or framing fails.
pub fn encode(data: &CatalogData) -> Result<Vec<u8>> {
    let json = serde_json::to_vec(data).map_err(|e| Error::Encode {
        reason: e.to_string(),
    })?;
    let mut buf = Vec::with_capacity(json.len() + 16);
    let extended =
        !data.views.is_empty() || data.tables.values().any(|t| !t.column_comments.is_empty());
    let version = if extended {
        CATALOG_VERSION
    } else {
        CATALOG_VERSION_PLAIN
    };
    codec::encode_header(&mut buf, CATALOG_MAGIC, version);
    codec::encode_frame(&mut buf, RECORD_TYPE_CATALOG, &json).map_err(|e| Error::Encode {
        reason: e.to_string(),
    })?;
    Ok(buf)
}

/// Decodes the catalog file; every defect is a [`Error::Corruption`] naming the file.
///
/// # Errors
/// [`Error::Corruption`]; [`Error::NewerVersion`] for a format version above
/// [`CATALOG_VERSION`].
pub fn decode(bytes: &[u8]) -> Result<CatalogData> {
    let corrupt = |kind| Error::Corruption {
        path: CATALOG_PATH.to_string(),
        kind,
    };
    codec::decode_header(bytes, CATALOG_MAGIC, CATALOG_VERSION).map_err(|e| match e {
        // Written by a newer build: not damage, and not to be "restored from a backup".
        codec::DecodeError::UnsupportedVersion { found, supported } if found > supported => {
            Error::NewerVersion {
                path: CATALOG_PATH.to_string(),
                found,
                supported,
            }
        }
        e => corrupt(CorruptionKind::Framing(e)),
    })?;
    let rest = bytes.get(codec::FILE_HEADER_LEN..).unwrap_or_default();
    let frame = codec::decode_frame(rest).map_err(|e| corrupt(CorruptionKind::Framing(e)))?;
    if frame.record_type != RECORD_TYPE_CATALOG {
        return Err(corrupt(CorruptionKind::RecordType(frame.record_type)));
    }
    let trailing = rest.len() - frame.encoded_len;
    if trailing != 0 {
        return Err(corrupt(CorruptionKind::TrailingBytes(trailing)));
    }
    let data: CatalogData = serde_json::from_slice(frame.payload)
        .map_err(|e| corrupt(CorruptionKind::Json(e.to_string())))?;
    check(&data).map_err(|reason| corrupt(CorruptionKind::Invalid(reason)))?;
    Ok(data)
}

/// Structural checks: ids unique and below `next_table_id`, regions belong to their table,
/// no name is both a table and a view.
fn check(data: &CatalogData) -> std::result::Result<(), String> {
    if let Some(name) = data
        .views
        .keys()
        .find(|name| data.tables.contains_key(*name))
    {
        return Err(format!("'{name}' is both a table and a view"));
    }
    let mut ids = std::collections::HashSet::new();
    for (name, info) in &data.tables {
        if !ids.insert(info.table_id) {
            return Err(format!(
                "table id {} used twice (table '{name}')",
                info.table_id
            ));
        }
        if info.table_id >= data.next_table_id {
            return Err(format!(
                "table '{name}' has id {} but next_table_id is {}",
                info.table_id, data.next_table_id
            ));
        }
        if info.region_ids.is_empty() {
            return Err(format!("table '{name}' has no region"));
        }
        if let Some(r) = info
            .region_ids
            .iter()
            .find(|r| r.table_id() != info.table_id)
        {
            return Err(format!(
                "table '{name}' (id {}) names region {r}",
                info.table_id
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CatalogData {
        let mut data = CatalogData::default();
        data.tables.insert(
            "cpu".into(),
            TableInfo {
                table_id: 1,
                region_ids: vec![RegionId::new(1, 0)],
                options: BTreeMap::from([("ttl".to_string(), "7d".to_string())]),
                created_at_ms: 1_700_000_000_000,
                column_comments: BTreeMap::from([(2, "it's a comment".to_string())]),
            },
        );
        data.next_table_id = 2;
        data
    }

    #[test]
    fn round_trip() {
        let data = sample();
        let bytes = encode(&data).unwrap();
        assert_eq!(&bytes[..4], b"TSCT");
        // Column comments make it version 2; without them it is written as version 1.
        assert_eq!(&bytes[4..6], &2u16.to_le_bytes());
        let mut plain = data.clone();
        plain
            .tables
            .values_mut()
            .for_each(|t| t.column_comments.clear());
        assert_eq!(&encode(&plain).unwrap()[4..6], &1u16.to_le_bytes());
        // format_spec: payload_len at 6..10, record_type at 10, JSON from 11, CRC last.
        let len = u32::from_le_bytes(bytes[6..10].try_into().unwrap()) as usize;
        assert_eq!(bytes[10], RECORD_TYPE_CATALOG);
        assert_eq!(bytes.len(), 11 + len + 4);
        assert_eq!(bytes[11], b'{');
        assert_eq!(decode(&bytes).unwrap(), data);
    }

    #[test]
    fn catalogs_without_comments_still_decode() {
        // A catalog as written before column comments were kept (no `column_comments`).
        let json = br#"{"next_table_id":2,"tables":{"cpu":{"table_id":1,"region_ids":[4294967296],"options":{},"created_at_ms":5}}}"#;
        let mut bytes = Vec::new();
        codec::encode_header(&mut bytes, CATALOG_MAGIC, CATALOG_VERSION_PLAIN);
        codec::encode_frame(&mut bytes, RECORD_TYPE_CATALOG, json).unwrap();
        let data = decode(&bytes).unwrap();
        assert!(data.tables["cpu"].column_comments.is_empty());
        // ... and a catalog without comments is written as before.
        let written = String::from_utf8(serde_json::to_vec(&data).unwrap()).unwrap();
        assert!(!written.contains("column_comments"), "{written}");
    }

    #[test]
    fn damage_is_corruption_naming_the_file() {
        let bytes = encode(&sample()).unwrap();
        for cut in [0, 3, 6, 10, bytes.len() - 1] {
            let err = decode(&bytes[..cut]).unwrap_err();
            assert!(err.to_string().contains(CATALOG_PATH), "{err}");
        }
        for i in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[i] ^= 0x40;
            assert!(decode(&damaged).is_err(), "flip at {i} undetected");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
    }

    #[test]
    fn a_newer_format_version_is_not_called_corruption() {
        let mut bytes = encode(&sample()).unwrap();
        bytes[4..6].copy_from_slice(&3u16.to_le_bytes());
        let err = decode(&bytes).unwrap_err();
        assert!(matches!(err, Error::NewerVersion { found: 3, .. }), "{err}");
        assert!(err.to_string().contains("newer tsdb"), "{err}");
        bytes[4..6].copy_from_slice(&0u16.to_le_bytes());
        assert!(matches!(decode(&bytes), Err(Error::Corruption { .. })));
    }

    #[test]
    fn inconsistent_content_is_rejected() {
        let mut data = sample();
        data.next_table_id = 1;
        assert!(decode(&encode(&data).unwrap()).is_err());
        let mut data = sample();
        if let Some(info) = data.tables.get_mut("cpu") {
            info.region_ids = vec![RegionId::new(9, 0)];
        }
        assert!(decode(&encode(&data).unwrap()).is_err());
    }

    /// Fuzzing (`crate::engine::fuzz`): raw damage to the file, and damage to the JSON
    /// payload behind a valid checksum (what a bug or hand edit would leave). An accepted
    /// catalog is consistent and encodes to a file that decodes to the same catalog.
    #[test]
    fn fuzz_catalog() {
        use crate::engine::fuzz;
        let mut two = sample();
        two.tables.insert(
            "mem".into(),
            TableInfo {
                table_id: 5,
                region_ids: vec![RegionId::new(5, 0)],
                options: BTreeMap::new(),
                created_at_ms: -1,
                column_comments: BTreeMap::new(),
            },
        );
        two.next_table_id = 9;
        let files = vec![
            encode(&sample()).unwrap(),
            encode(&two).unwrap(),
            encode(&CatalogData::default()).unwrap(),
        ];
        let decode_checked = |bytes: &[u8]| match decode(bytes) {
            Ok(data) => {
                assert!(check(&data).is_ok());
                assert_eq!(decode(&encode(&data).unwrap()).unwrap(), data);
                true
            }
            Err(err) => {
                assert!(err.to_string().contains(CATALOG_PATH), "{err}");
                false
            }
        };
        fuzz::run("catalog_file", &files, 1500, decode_checked);
        let payloads: Vec<Vec<u8>> = files
            .iter()
            .map(|f| fuzz::split_single_frame(f).unwrap().2)
            .collect();
        fuzz::run("catalog_json", &payloads, 1500, |json| {
            decode_checked(&fuzz::reframe(*b"TSCT\x01\x00", RECORD_TYPE_CATALOG, json))
        });
    }
}
