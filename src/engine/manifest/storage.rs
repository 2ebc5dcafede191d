//! Manifest files in the object store: naming, byte encoding and listing (as in mito2's
//! `manifest/storage.rs`). The layout is normative in `docs/FORMAT.md` ("Manifest").
//!
//! Every file is one codec file header followed by exactly one codec frame whose payload is
//! JSON; nothing may follow the frame. Any other object in the manifest directory is not a
//! manifest file and is ignored.

use std::collections::BTreeMap;

use bytes::Bytes;
use object_store::path::Path;

use super::action::{Checkpoint, CheckpointRef, Delta, DeltaRef, ManifestAction, RegionManifest};
use super::{Error, Result};
use crate::engine::codec::{self, DecodeError};
use crate::engine::io::ObjectStorage;

/// Magic of delta files.
pub const DELTA_MAGIC: [u8; 4] = *b"TSMD";
/// Magic of checkpoint files.
pub const CHECKPOINT_MAGIC: [u8; 4] = *b"TSMC";
/// Format version written, and the highest one read.
pub const FORMAT_VERSION: u16 = 1;
/// Format version of a manifest file whose region metadata was altered (`schema_version` >
/// 0): the newest this build reads. Older builds refuse such a file ("open it with a newer
/// tsdb") instead of reading SSTs of an older schema by name. Files of unaltered regions stay
/// version [`FORMAT_VERSION`], readable by every build.
pub const ALTERED_FORMAT_VERSION: u16 = 2;

/// The version a manifest file holding `metadata` (none: no `Change`) is written with.
fn version_for<'a>(
    mut metadata: impl Iterator<Item = &'a crate::engine::metadata::RegionMetadata>,
) -> u16 {
    if metadata.any(|m| m.schema_version > 0) {
        ALTERED_FORMAT_VERSION
    } else {
        FORMAT_VERSION
    }
}
/// Frame record type of a JSON (uncompressed) payload, the only one in version 1.
pub const RECORD_TYPE_JSON: u8 = 1;
/// File name suffix of delta files.
pub const DELTA_SUFFIX: &str = ".json";
/// File name suffix of checkpoint files.
pub const CHECKPOINT_SUFFIX: &str = ".checkpoint";
/// Decimal digits of the zero-padded version in file names (`u64::MAX` has 20).
pub const VERSION_DIGITS: usize = 20;

/// The kind of a manifest file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    /// `{version:020}.json`: the actions of one update.
    Delta,
    /// `{version:020}.checkpoint`: the full state at a version.
    Checkpoint,
}

impl FileKind {
    fn suffix(self) -> &'static str {
        match self {
            FileKind::Delta => DELTA_SUFFIX,
            FileKind::Checkpoint => CHECKPOINT_SUFFIX,
        }
    }

    fn magic(self) -> [u8; 4] {
        match self {
            FileKind::Delta => DELTA_MAGIC,
            FileKind::Checkpoint => CHECKPOINT_MAGIC,
        }
    }
}

/// Path of the manifest file of `kind` at `version` in `dir`.
pub(super) fn file_path(dir: &Path, kind: FileKind, version: u64) -> Path {
    dir.clone().join(format!(
        "{version:0width$}{}",
        kind.suffix(),
        width = VERSION_DIGITS
    ))
}

/// Parses a manifest file name; `None` for any other name (temp files, strays).
pub(super) fn parse_file_name(name: &str) -> Option<(FileKind, u64)> {
    [FileKind::Delta, FileKind::Checkpoint]
        .into_iter()
        .find_map(|kind| {
            let digits = name.strip_suffix(kind.suffix())?;
            if digits.len() != VERSION_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            digits.parse::<u64>().ok().map(|version| (kind, version))
        })
}

/// The manifest files found in a directory, by version.
#[derive(Debug, Default)]
pub(super) struct Listing {
    /// Delta files.
    pub deltas: BTreeMap<u64, Path>,
    /// Checkpoint files.
    pub checkpoints: BTreeMap<u64, Path>,
}

impl Listing {
    /// Whether the directory holds no manifest file.
    pub fn is_empty(&self) -> bool {
        self.deltas.is_empty() && self.checkpoints.is_empty()
    }

    /// The highest version any file names.
    pub fn latest_version(&self) -> Option<u64> {
        let delta = self.deltas.last_key_value().map(|(v, _)| *v);
        let checkpoint = self.checkpoints.last_key_value().map(|(v, _)| *v);
        delta.max(checkpoint)
    }

    /// The first version in `from..=to` that has no delta file, if any.
    pub fn first_missing_delta(&self, from: u64, to: u64) -> Option<u64> {
        if from > to {
            return None;
        }
        let mut expected = from;
        for &version in self.deltas.range(from..=to).map(|(v, _)| v) {
            if version != expected {
                return Some(expected);
            }
            expected = version.checked_add(1)?;
        }
        (expected <= to).then_some(expected)
    }
}

/// Lists the manifest files directly in `dir`; other objects are ignored.
///
/// # Errors
/// [`Error::Storage`] if the listing fails.
pub(super) async fn list(storage: &ObjectStorage, dir: &Path) -> Result<Listing> {
    let mut listing = Listing::default();
    for (path, _size) in storage.list(dir).await? {
        let parsed = path.prefix_match(dir).and_then(|mut rest| {
            // Only direct children of `dir` are manifest files.
            let name = rest.next()?;
            if rest.next().is_some() {
                return None;
            }
            parse_file_name(name.as_ref())
        });
        match parsed {
            Some((FileKind::Delta, version)) => {
                listing.deltas.insert(version, path);
            }
            Some((FileKind::Checkpoint, version)) => {
                listing.checkpoints.insert(version, path);
            }
            None => log::debug!("ignoring non-manifest object '{path}'"),
        }
    }
    Ok(listing)
}

/// Durably writes the delta `version` holding `actions`.
///
/// # Errors
/// [`Error::Serialize`] / [`Error::TooLarge`] if it cannot be encoded, [`Error::Storage`] if
/// the write fails (the file may or may not exist afterwards).
pub(super) async fn write_delta(
    storage: &ObjectStorage,
    dir: &Path,
    version: u64,
    actions: &[ManifestAction],
) -> Result<()> {
    let path = file_path(dir, FileKind::Delta, version);
    let format = version_for(actions.iter().filter_map(|a| match a {
        ManifestAction::Change { metadata } => Some(metadata),
        ManifestAction::Edit(_) => None,
    }));
    let bytes = encode(
        FileKind::Delta,
        &path,
        &DeltaRef { version, actions },
        format,
    )?;
    storage.put_durable(&path, bytes).await?;
    Ok(())
}

/// Durably writes a checkpoint of `manifest` at its `manifest_version`.
///
/// # Errors
/// As [`write_delta`].
pub(super) async fn write_checkpoint(
    storage: &ObjectStorage,
    dir: &Path,
    manifest: &RegionManifest,
) -> Result<()> {
    let path = file_path(dir, FileKind::Checkpoint, manifest.manifest_version);
    let bytes = encode(
        FileKind::Checkpoint,
        &path,
        &CheckpointRef::from_manifest(manifest),
        version_for(std::iter::once(manifest.metadata.as_ref())),
    )?;
    storage.put_durable(&path, bytes).await?;
    Ok(())
}

/// Whether `bytes`, the content of a manifest file of `kind`, can only be an install that a
/// crash interrupted before it completed: empty, all zero bytes (space allocated but never
/// written), a prefix of the file header, or a valid header followed by a frame that ends
/// before its length says. A file with a checksum mismatch or bad JSON is not torn: it is
/// damage. Files installed by this build are never torn (temp file fsynced before the rename);
/// builds before the fix renamed first, so a power cut could leave the newest delta torn.
pub(super) fn is_torn_write(kind: FileKind, bytes: &[u8]) -> bool {
    if bytes.iter().all(|&b| b == 0) {
        return true;
    }
    if bytes.len() < codec::FILE_HEADER_LEN {
        return [FORMAT_VERSION, ALTERED_FORMAT_VERSION].iter().any(|&v| {
            let mut header = Vec::with_capacity(codec::FILE_HEADER_LEN);
            codec::encode_header(&mut header, kind.magic(), v);
            header.starts_with(bytes)
        });
    }
    if codec::decode_header(bytes, kind.magic(), ALTERED_FORMAT_VERSION).is_err() {
        return false;
    }
    let body = bytes.get(codec::FILE_HEADER_LEN..).unwrap_or_default();
    matches!(
        codec::decode_frame(body),
        Err(DecodeError::Truncated { .. })
    )
}

/// Reads and decodes the delta at `path`, which the listing named as `version`.
///
/// # Errors
/// [`Error::Storage`] if it cannot be read; [`Error::Corruption`] naming the file if it does
/// not decode or its payload names another version; [`Error::UnsupportedVersion`].
pub(super) async fn read_delta(
    storage: &ObjectStorage,
    path: &Path,
    version: u64,
) -> Result<Vec<ManifestAction>> {
    let bytes = storage.get(path).await?;
    decode_delta(path, version, &bytes)
}

/// Decodes the bytes of the delta at `path`, which the listing named as `version` (no I/O).
///
/// # Errors
/// As [`read_delta`], without [`Error::Storage`].
pub(super) fn decode_delta(path: &Path, version: u64, bytes: &[u8]) -> Result<Vec<ManifestAction>> {
    let delta: Delta = decode(FileKind::Delta, path, bytes)?;
    check_version(path, version, delta.version)?;
    for action in &delta.actions {
        if let ManifestAction::Change { metadata } = action {
            validate_metadata(path, metadata)?;
        }
    }
    Ok(delta.actions)
}

/// Reads and decodes the checkpoint at `path`, which the listing named as `version`.
///
/// # Errors
/// As [`read_delta`]; also [`Error::Corruption`] if a file id appears twice.
pub(super) async fn read_checkpoint(
    storage: &ObjectStorage,
    path: &Path,
    version: u64,
) -> Result<RegionManifest> {
    let bytes = storage.get(path).await?;
    decode_checkpoint(path, version, &bytes)
}

/// Decodes the bytes of the checkpoint at `path`, which the listing named as `version` (no
/// I/O).
///
/// # Errors
/// As [`read_checkpoint`], without [`Error::Storage`].
pub(super) fn decode_checkpoint(path: &Path, version: u64, bytes: &[u8]) -> Result<RegionManifest> {
    let checkpoint: Checkpoint = decode(FileKind::Checkpoint, path, bytes)?;
    check_version(path, version, checkpoint.version)?;
    let manifest = checkpoint
        .into_manifest()
        .map_err(|file_id| corruption(path, format!("file {file_id} is listed twice")))?;
    validate_metadata(path, &manifest.metadata)?;
    Ok(manifest)
}

/// A checksummed file can still hold metadata no build would write (a bug, a hand edit):
/// refuse it here, naming the file, rather than index out of range later.
fn validate_metadata(
    path: &Path,
    metadata: &crate::engine::metadata::RegionMetadata,
) -> Result<()> {
    metadata
        .validate()
        .map_err(|e| corruption(path, format!("invalid region metadata: {e}")))
}

fn check_version(path: &Path, expected: u64, found: u64) -> Result<()> {
    if expected != found {
        return Err(corruption(
            path,
            format!("payload is version {found}, file name says {expected}"),
        ));
    }
    Ok(())
}

fn corruption(path: &Path, reason: String) -> Error {
    Error::Corruption {
        path: path.to_string(),
        reason,
    }
}

/// Encodes `payload` as a manifest file of `kind` and format `version`.
pub(super) fn encode<T: serde::Serialize>(
    kind: FileKind,
    path: &Path,
    payload: &T,
    version: u16,
) -> Result<Bytes> {
    let json = serde_json::to_vec(payload).map_err(|source| Error::Serialize {
        path: path.to_string(),
        source,
    })?;
    let mut buf = Vec::with_capacity(
        codec::FILE_HEADER_LEN + codec::FRAME_PREFIX_LEN + json.len() + codec::FRAME_SUFFIX_LEN,
    );
    codec::encode_header(&mut buf, kind.magic(), version);
    codec::encode_frame(&mut buf, RECORD_TYPE_JSON, &json).map_err(|_| Error::TooLarge {
        path: path.to_string(),
        len: json.len(),
    })?;
    Ok(Bytes::from(buf))
}

/// Decodes a manifest file of `kind`; every failure names `path`.
fn decode<T: serde::de::DeserializeOwned>(kind: FileKind, path: &Path, bytes: &[u8]) -> Result<T> {
    codec::decode_header(bytes, kind.magic(), ALTERED_FORMAT_VERSION).map_err(|e| match e {
        // Only a version above ours is a newer build's file; version 0 was never written, so
        // it is damage (it was reported as "open it with a newer tsdb", found by
        // tests/damage.rs).
        DecodeError::UnsupportedVersion { found, supported } if found > supported => {
            Error::UnsupportedVersion {
                path: path.to_string(),
                found,
                supported,
            }
        }
        other => corruption(path, format!("file header: {other}")),
    })?;
    let body = bytes.get(codec::FILE_HEADER_LEN..).unwrap_or_default();
    let frame = codec::decode_frame(body).map_err(|e| {
        corruption(
            path,
            format!("frame at offset {}: {e}", codec::FILE_HEADER_LEN),
        )
    })?;
    if frame.record_type != RECORD_TYPE_JSON {
        return Err(corruption(
            path,
            format!("unknown record type {}", frame.record_type),
        ));
    }
    let end = codec::FILE_HEADER_LEN + frame.encoded_len;
    if end != bytes.len() {
        return Err(corruption(
            path,
            format!("{} trailing bytes at offset {end}", bytes.len() - end),
        ));
    }
    serde_json::from_slice(frame.payload)
        .map_err(|e| corruption(path, format!("invalid JSON payload: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let dir = Path::from("regions/1_0/manifest");
        let path = file_path(&dir, FileKind::Delta, 42);
        assert_eq!(
            path.as_ref(),
            "regions/1_0/manifest/00000000000000000042.json"
        );
        let path = file_path(&dir, FileKind::Checkpoint, u64::MAX);
        assert_eq!(path.filename(), Some("18446744073709551615.checkpoint"));
        assert_eq!(
            parse_file_name("00000000000000000042.json"),
            Some((FileKind::Delta, 42))
        );
        assert_eq!(
            parse_file_name("18446744073709551615.checkpoint"),
            Some((FileKind::Checkpoint, u64::MAX))
        );
        for stray in [
            "00000000000000000042.json#1",
            "42.json",
            "0000000000000000004x.json",
            "99999999999999999999.json",
            "00000000000000000042.json.tmp",
            "_last_checkpoint",
        ] {
            assert_eq!(parse_file_name(stray), None, "{stray}");
        }
    }

    #[test]
    fn first_missing_delta() {
        let mut listing = Listing::default();
        for v in [0, 1, 2, 4] {
            listing.deltas.insert(v, Path::from(v.to_string()));
        }
        assert_eq!(listing.first_missing_delta(0, 2), None);
        assert_eq!(listing.first_missing_delta(0, 4), Some(3));
        assert_eq!(listing.first_missing_delta(1, 5), Some(3));
        assert_eq!(listing.first_missing_delta(4, 5), Some(5));
        assert_eq!(listing.first_missing_delta(5, 4), None);
        assert_eq!(listing.latest_version(), Some(4));
    }

    /// The byte layout in docs/FORMAT.md ("Manifest").
    #[test]
    fn format_spec() {
        assert_eq!(&DELTA_MAGIC, b"TSMD");
        assert_eq!(&CHECKPOINT_MAGIC, b"TSMC");
        assert_eq!((FORMAT_VERSION, RECORD_TYPE_JSON), (1, 1));
        assert_eq!(ALTERED_FORMAT_VERSION, 2);
        let path = Path::from("m/00000000000000000007.json");
        let bytes = encode(
            FileKind::Delta,
            &path,
            &DeltaRef {
                version: 7,
                actions: &[],
            },
            FORMAT_VERSION,
        )
        .unwrap();
        let json = br#"{"version":7,"actions":[]}"#;
        let mut expected = b"TSMD\x01\x00".to_vec();
        expected.extend_from_slice(&(json.len() as u32).to_le_bytes());
        expected.push(1);
        expected.extend_from_slice(json);
        let crc = crc32fast::hash(&expected[6..]);
        expected.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(bytes.as_ref(), expected.as_slice());
        let delta: Delta = decode(FileKind::Delta, &path, &bytes).unwrap();
        assert_eq!((delta.version, delta.actions.len()), (7, 0));
        // The wrong magic, a newer version and trailing bytes are refused.
        assert!(matches!(
            decode::<Delta>(FileKind::Checkpoint, &path, &bytes),
            Err(Error::Corruption { .. })
        ));
        // Version 2 (altered schemas) reads the same way; version 3 is newer than this build.
        let mut altered = bytes.to_vec();
        altered[4] = 2;
        assert!(decode::<Delta>(FileKind::Delta, &path, &altered).is_ok());
        let mut newer = bytes.to_vec();
        newer[4] = 3;
        assert!(matches!(
            decode::<Delta>(FileKind::Delta, &path, &newer),
            Err(Error::UnsupportedVersion {
                found: 3,
                supported: 2,
                ..
            })
        ));
        // Version 0 was never written: damage, not a newer build's file.
        newer[4] = 0;
        assert!(matches!(
            decode::<Delta>(FileKind::Delta, &path, &newer),
            Err(Error::Corruption { .. })
        ));
        assert_eq!(version_for(std::iter::empty()), FORMAT_VERSION);
        let mut metadata = crate::engine::test_util::cpu_metadata();
        assert_eq!(version_for(std::iter::once(&metadata)), FORMAT_VERSION);
        metadata.schema_version = 1;
        assert_eq!(
            version_for(std::iter::once(&metadata)),
            ALTERED_FORMAT_VERSION
        );
        let mut trailing = bytes.to_vec();
        trailing.push(0);
        assert!(matches!(
            decode::<Delta>(FileKind::Delta, &path, &trailing),
            Err(Error::Corruption { .. })
        ));
    }

    #[test]
    fn decode_never_panics_on_damage() {
        let path = Path::from("m/00000000000000000001.json");
        let bytes = encode(
            FileKind::Delta,
            &path,
            &DeltaRef {
                version: 1,
                actions: &[],
            },
            FORMAT_VERSION,
        )
        .unwrap();
        for len in 0..bytes.len() {
            assert!(decode::<Delta>(FileKind::Delta, &path, &bytes[..len]).is_err());
        }
        for i in 0..bytes.len() {
            let mut damaged = bytes.to_vec();
            damaged[i] ^= 0x40;
            assert!(
                decode::<Delta>(FileKind::Delta, &path, &damaged).is_err(),
                "byte {i}"
            );
        }
    }
}
