//! Fuzzing of the manifest decoders (`crate::engine::fuzz`): delta and checkpoint files
//! damaged as raw bytes, and their JSON payloads damaged behind a valid checksum (what a bug
//! or a hand edit would leave). An accepted file holds valid region metadata and applies
//! without panicking. `TSDB_FUZZ_CASES=N cargo test --lib fuzz` for a long run.

use super::super::action::{CheckpointRef, DeltaRef, RegionEdit};
use super::*;
use crate::engine::fuzz;

const VERSION: u64 = 3;

fn delta_path() -> Path {
    storage::file_path(&Path::from("m"), FileKind::Delta, VERSION)
}

fn checkpoint_path() -> Path {
    storage::file_path(&Path::from("m"), FileKind::Checkpoint, VERSION)
}

fn deltas() -> Vec<Vec<u8>> {
    let edit = ManifestAction::Edit(RegionEdit {
        files_to_add: vec![file(1), file(2)],
        files_to_remove: vec![file(0)],
        flushed_sequence: Some(42),
        compaction_time_window: Some(3_600_000),
        committed_sequence: Some(50),
    });
    let change = ManifestAction::Change {
        metadata: metadata(2),
    };
    [
        vec![change.clone()],
        vec![edit.clone()],
        vec![change, edit],
        vec![],
    ]
    .iter()
    .map(|actions| {
        storage::encode(
            FileKind::Delta,
            &delta_path(),
            &DeltaRef {
                version: VERSION,
                actions,
            },
            storage::FORMAT_VERSION,
        )
        .unwrap()
        .to_vec()
    })
    .collect()
}

fn checkpoints() -> Vec<Vec<u8>> {
    let mut manifest = RegionManifest::new(metadata(1));
    manifest.manifest_version = VERSION;
    let empty = manifest.clone();
    for n in 0..3 {
        let f = file(n);
        manifest.files.insert(f.file_id, f);
    }
    manifest.flushed_sequence = 77;
    manifest.compaction_time_window = Some(7_200_000);
    manifest.committed_sequence = 80;
    [empty, manifest]
        .iter()
        .map(|m| {
            storage::encode(
                FileKind::Checkpoint,
                &checkpoint_path(),
                &CheckpointRef::from_manifest(m),
                storage::FORMAT_VERSION,
            )
            .unwrap()
            .to_vec()
        })
        .collect()
}

/// Decodes a delta; an accepted one applies to a manifest and leaves valid metadata.
fn decode_delta(bytes: &[u8]) -> bool {
    let _ = storage::is_torn_write(FileKind::Delta, bytes);
    match storage::decode_delta(&delta_path(), VERSION, bytes) {
        Ok(actions) => {
            let mut manifest = RegionManifest::new(metadata(0));
            for action in &actions {
                manifest.apply(action);
            }
            assert!(manifest.metadata.validate().is_ok());
            true
        }
        Err(err) => {
            assert!(err.to_string().contains(delta_path().as_ref()), "{err}");
            false
        }
    }
}

/// Decodes a checkpoint; an accepted one has valid metadata and unique files.
fn decode_checkpoint(bytes: &[u8]) -> bool {
    let _ = storage::is_torn_write(FileKind::Checkpoint, bytes);
    match storage::decode_checkpoint(&checkpoint_path(), VERSION, bytes) {
        Ok(manifest) => {
            assert!(manifest.metadata.validate().is_ok());
            assert_eq!(manifest.manifest_version, VERSION);
            true
        }
        Err(err) => {
            assert!(
                err.to_string().contains(checkpoint_path().as_ref()),
                "{err}"
            );
            false
        }
    }
}

fn payloads(files: &[Vec<u8>]) -> Vec<Vec<u8>> {
    files
        .iter()
        .map(|f| fuzz::split_single_frame(f).unwrap().2)
        .collect()
}

#[test]
fn fuzz_manifest_deltas() {
    let files = deltas();
    fuzz::run("manifest_delta_file", &files, 1000, decode_delta);
    let header = fuzz::split_single_frame(&files[0]).unwrap().0;
    fuzz::run("manifest_delta_json", &payloads(&files), 1500, |json| {
        decode_delta(&fuzz::reframe(header, storage::RECORD_TYPE_JSON, json))
    });
}

#[test]
fn fuzz_manifest_checkpoints() {
    let files = checkpoints();
    fuzz::run("manifest_checkpoint_file", &files, 1000, decode_checkpoint);
    let header = fuzz::split_single_frame(&files[0]).unwrap().0;
    fuzz::run(
        "manifest_checkpoint_json",
        &payloads(&files),
        1500,
        |json| decode_checkpoint(&fuzz::reframe(header, storage::RECORD_TYPE_JSON, json)),
    );
}
