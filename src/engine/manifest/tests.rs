//! Manifest manager tests over a local directory and an in-memory (remote-style) store.

use std::sync::Arc;

use bytes::Bytes;
use object_store::path::Path;

use super::storage::{self, FileKind};
use super::*;
use crate::engine::sst::file::{FileId, FileMeta};
use crate::engine::time_range::TimeRange;

fn metadata(schema_version: u64) -> RegionMetadata {
    RegionMetadata {
        schema_version,
        next_column_id: 0,
        ..crate::engine::test_util::cpu_metadata()
    }
}

fn file(n: i64) -> FileMeta {
    FileMeta {
        file_id: FileId::random(),
        level: 0,
        time_range: TimeRange::new(n * 1000, n * 1000 + 999),
        file_size_bytes: 4096 + n as u64,
        num_rows: 100,
        num_row_groups: 1,
        max_sequence: n as u64 * 10,
        crc32: 0xdead_beef,
        footer: None,
    }
}

fn edit(add: Vec<FileMeta>, remove: Vec<FileMeta>, flushed: Option<u64>) -> ManifestAction {
    ManifestAction::Edit(RegionEdit {
        files_to_add: add,
        files_to_remove: remove,
        flushed_sequence: flushed,
        compaction_time_window: None,
        committed_sequence: None,
    })
}

fn dir() -> Path {
    Path::from("regions/1_0/manifest")
}

fn local() -> (tempfile::TempDir, ObjectStorage) {
    let tmp = tempfile::tempdir().unwrap();
    let storage = ObjectStorage::local(tmp.path()).unwrap();
    (tmp, storage)
}

fn options(checkpoint_distance: u64) -> ManifestOptions {
    ManifestOptions {
        checkpoint_distance,
    }
}

async fn open(storage: &ObjectStorage, distance: u64) -> Result<Option<RegionManifestManager>> {
    RegionManifestManager::open(storage.clone(), dir(), options(distance)).await
}

/// Names of the manifest files in `dir()`, sorted.
async fn file_names(storage: &ObjectStorage) -> Vec<String> {
    let mut names: Vec<String> = storage
        .list(&dir())
        .await
        .unwrap()
        .into_iter()
        .filter_map(|(p, _)| p.filename().map(str::to_string))
        .collect();
    names.sort();
    names
}

fn delta_path(version: u64) -> Path {
    storage::file_path(&dir(), FileKind::Delta, version)
}

fn checkpoint_path(version: u64) -> Path {
    storage::file_path(&dir(), FileKind::Checkpoint, version)
}

/// Runs `count` flush/compaction-like updates; every third removes the oldest file.
async fn churn(manager: &mut RegionManifestManager, count: i64) {
    for n in 0..count {
        let remove: Vec<FileMeta> = if n % 3 == 2 {
            manager.manifest().files.values().take(1).cloned().collect()
        } else {
            Vec::new()
        };
        let mut actions = vec![edit(vec![file(n)], remove, Some(n as u64 * 10))];
        if n % 7 == 6 {
            actions.push(ManifestAction::Change {
                metadata: metadata(n as u64),
            });
            actions.push(ManifestAction::Edit(RegionEdit {
                compaction_time_window: Some(3_600_000 + n),
                ..RegionEdit::default()
            }));
        }
        let before = manager.manifest().manifest_version;
        assert_eq!(manager.update(actions).await.unwrap(), before + 1);
    }
}

/// A new manifest in `dir()` with `updates` churned updates, checkpointing every `distance`.
async fn created(storage: &ObjectStorage, distance: u64, updates: i64) -> RegionManifestManager {
    let mut manager =
        RegionManifestManager::create(storage.clone(), dir(), metadata(0), options(distance))
            .await
            .unwrap();
    churn(&mut manager, updates).await;
    manager
}

async fn flip_byte(storage: &ObjectStorage, path: &Path, offset: usize) {
    let mut bytes = storage.get(path).await.unwrap().to_vec();
    bytes[offset] ^= 0x01;
    storage.put_durable(path, Bytes::from(bytes)).await.unwrap();
}

#[tokio::test]
async fn create_open_round_trip() {
    let (_tmp, storage) = local();
    let manager = RegionManifestManager::create(storage.clone(), dir(), metadata(0), options(10))
        .await
        .unwrap();
    assert_eq!(manager.manifest().manifest_version, 0);
    assert_eq!(file_names(&storage).await, ["00000000000000000000.json"]);
    let reopened = open(&storage, 10).await.unwrap().unwrap();
    assert_eq!(reopened.manifest(), manager.manifest());
    assert_eq!(*reopened.manifest().metadata, metadata(0));
    assert!(reopened.manifest().files.is_empty());

    let again =
        RegionManifestManager::create(storage.clone(), dir(), metadata(0), options(10)).await;
    assert!(
        matches!(again, Err(Error::AlreadyExists { .. })),
        "{again:?}"
    );
}

#[tokio::test]
async fn open_empty_dir_is_none() {
    let (_tmp, storage) = local();
    assert!(open(&storage, 10).await.unwrap().is_none());
    // Non-manifest objects alone do not make a manifest.
    storage
        .put_durable(&dir().join("notes.txt"), Bytes::from_static(b"x"))
        .await
        .unwrap();
    assert!(open(&storage, 10).await.unwrap().is_none());
}

#[tokio::test]
async fn edits_across_checkpoints_reopen_equal() {
    let (_tmp, storage) = local();
    let mut manager =
        RegionManifestManager::create(storage.clone(), dir(), metadata(0), options(4))
            .await
            .unwrap();
    churn(&mut manager, 23).await;
    let state = manager.manifest().clone();
    assert_eq!(state.manifest_version, 23);
    assert_eq!(manager.last_checkpoint_version(), 20);
    assert_eq!(state.files.len(), 23 - 7);
    assert_eq!(state.flushed_sequence, 220);
    assert_eq!(state.compaction_time_window, Some(3_600_020));
    assert_eq!(state.metadata.schema_version, 20);
    // Only the newest checkpoint and the deltas after it remain.
    assert_eq!(
        file_names(&storage).await,
        [
            "00000000000000000020.checkpoint",
            "00000000000000000021.json",
            "00000000000000000022.json",
            "00000000000000000023.json",
        ]
    );
    let mut reopened = open(&storage, 4).await.unwrap().unwrap();
    assert_eq!(reopened.manifest(), &state);
    assert_eq!(reopened.last_checkpoint_version(), 20);
    // The reopened manager continues the same history.
    churn(&mut reopened, 2).await;
    assert_eq!(reopened.manifest().manifest_version, 25);
    let state = reopened.manifest().clone();
    assert_eq!(open(&storage, 4).await.unwrap().unwrap().manifest(), &state);
}

#[tokio::test]
async fn flushed_sequence_never_goes_backwards() {
    let (_tmp, storage) = local();
    let mut manager =
        RegionManifestManager::create(storage.clone(), dir(), metadata(0), options(2))
            .await
            .unwrap();
    for (flushed, expected) in [
        (Some(50), 50),
        (Some(10), 50),
        (None, 50),
        (Some(60), 60),
        (Some(0), 60),
    ] {
        manager
            .update(vec![edit(vec![], vec![], flushed)])
            .await
            .unwrap();
        assert_eq!(manager.manifest().flushed_sequence, expected);
    }
    assert_eq!(
        open(&storage, 2)
            .await
            .unwrap()
            .unwrap()
            .manifest()
            .flushed_sequence,
        60
    );
}

#[tokio::test]
async fn corrupted_delta_is_named() {
    let (_tmp, storage) = local();
    let mut manager =
        RegionManifestManager::create(storage.clone(), dir(), metadata(0), options(100))
            .await
            .unwrap();
    churn(&mut manager, 5).await;
    let damaged = delta_path(3);
    flip_byte(&storage, &damaged, 20).await;
    match open(&storage, 100).await {
        Err(Error::Corruption { path, reason }) => {
            assert_eq!(path, damaged.to_string());
            assert!(reason.contains("checksum"), "{reason}");
        }
        other => panic!("expected corruption, got {other:?}"),
    }
    // Truncation and a garbled header are corruption too.
    let bytes = storage.get(&damaged).await.unwrap();
    storage
        .put_durable(&damaged, bytes.slice(..bytes.len() - 3))
        .await
        .unwrap();
    assert!(matches!(
        open(&storage, 100).await,
        Err(Error::Corruption { .. })
    ));
    storage
        .put_durable(&damaged, Bytes::from_static(b"XXXX\x01\x00"))
        .await
        .unwrap();
    let error = open(&storage, 100).await.unwrap_err();
    assert!(
        error.to_string().contains("00000000000000000003.json"),
        "{error}"
    );
}

#[tokio::test]
async fn missing_delta_is_an_error() {
    let (_tmp, storage) = local();
    let mut manager =
        RegionManifestManager::create(storage.clone(), dir(), metadata(0), options(5))
            .await
            .unwrap();
    churn(&mut manager, 8).await;
    storage.delete(&delta_path(7)).await.unwrap();
    let result = open(&storage, 5).await;
    assert!(
        matches!(result, Err(Error::MissingDelta { version: 7, .. })),
        "{result:?}"
    );
    // Without any checkpoint, delta 0 is needed.
    let (_tmp, storage) = local();
    let mut manager =
        RegionManifestManager::create(storage.clone(), dir(), metadata(0), options(50))
            .await
            .unwrap();
    churn(&mut manager, 3).await;
    storage.delete(&delta_path(0)).await.unwrap();
    let result = open(&storage, 50).await;
    assert!(
        matches!(result, Err(Error::MissingDelta { version: 0, .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn deleted_newest_checkpoint_is_an_error() {
    let (_tmp, storage) = local();
    let mut manager =
        RegionManifestManager::create(storage.clone(), dir(), metadata(0), options(5))
            .await
            .unwrap();
    churn(&mut manager, 7).await;
    storage.delete(&checkpoint_path(5)).await.unwrap();
    // Deltas 0..=5 were purged: the history cannot be rebuilt, and it is not silently empty.
    let result = open(&storage, 5).await;
    assert!(
        matches!(result, Err(Error::MissingDelta { version: 0, .. })),
        "{result:?}"
    );
}

/// Writes checkpoints of intermediate states by hand, so that older checkpoints and all deltas
/// coexist (as after a crash or a failed purge).
#[tokio::test]
async fn damaged_newest_checkpoint_falls_back_only_when_deltas_exist() {
    let (_tmp, storage) = local();
    let mut manager =
        RegionManifestManager::create(storage.clone(), dir(), metadata(0), options(1000))
            .await
            .unwrap();
    churn(&mut manager, 5).await;
    let at_5 = manager.manifest().clone();
    churn(&mut manager, 7).await;
    let at_12 = manager.manifest().clone();
    churn(&mut manager, 8).await;
    let state = manager.manifest().clone();
    storage::write_checkpoint(&storage, &dir(), &at_5)
        .await
        .unwrap();
    storage::write_checkpoint(&storage, &dir(), &at_12)
        .await
        .unwrap();
    let reopened = open(&storage, 1000).await.unwrap().unwrap();
    assert_eq!(
        (reopened.manifest(), reopened.last_checkpoint_version()),
        (&state, 12)
    );

    // Newest checkpoint garbled: fall back to checkpoint 5 plus deltas 6..=20.
    flip_byte(&storage, &checkpoint_path(12), 30).await;
    let reopened = open(&storage, 1000).await.unwrap().unwrap();
    assert_eq!(
        (reopened.manifest(), reopened.last_checkpoint_version()),
        (&state, 5)
    );

    // Both garbled: replay from delta 0.
    flip_byte(&storage, &checkpoint_path(5), 30).await;
    let reopened = open(&storage, 1000).await.unwrap().unwrap();
    assert_eq!(
        (reopened.manifest(), reopened.last_checkpoint_version()),
        (&state, 0)
    );

    // Restore checkpoint 5 and drop deltas 0..=12: the fallback lacks deltas 6..=12, so the
    // damaged newest checkpoint is reported.
    flip_byte(&storage, &checkpoint_path(5), 30).await;
    for version in 0..=12 {
        storage.delete(&delta_path(version)).await.unwrap();
    }
    match open(&storage, 1000).await {
        Err(Error::Corruption { path, .. }) => assert_eq!(path, checkpoint_path(12).to_string()),
        other => panic!("expected corruption, got {other:?}"),
    }
}

#[tokio::test]
async fn stray_files_are_ignored() {
    let (tmp, storage) = local();
    let mut manager =
        RegionManifestManager::create(storage.clone(), dir(), metadata(0), options(3))
            .await
            .unwrap();
    churn(&mut manager, 4).await;
    let state = manager.manifest().clone();
    // object_store's local staging file, plus other names that are not manifest files.
    let fs_dir = tmp.path().join("regions/1_0/manifest");
    std::fs::write(fs_dir.join("00000000000000000005.json#1"), b"partial").unwrap();
    for name in [
        "00000000000000000009.json.tmp",
        "LOCK",
        "5.json",
        "x/00000000000000000009.json",
    ] {
        let path = Path::from(format!("{}/{name}", dir()));
        storage
            .put_durable(&path, Bytes::from_static(b"junk"))
            .await
            .unwrap();
    }
    let mut reopened = open(&storage, 3).await.unwrap().unwrap();
    assert_eq!(reopened.manifest(), &state);
    // Checkpoints (and their purges) still work alongside the strays.
    churn(&mut reopened, 3).await;
    let state = reopened.manifest().clone();
    assert_eq!(open(&storage, 3).await.unwrap().unwrap().manifest(), &state);
}

#[tokio::test]
async fn failed_write_leaves_state_unchanged() {
    let (tmp, storage) = local();
    let mut manager =
        RegionManifestManager::create(storage.clone(), dir(), metadata(0), options(100))
            .await
            .unwrap();
    churn(&mut manager, 2).await;
    let state = manager.manifest().clone();
    // A directory where the next delta goes makes the put fail.
    let blocker = tmp
        .path()
        .join("regions/1_0/manifest/00000000000000000003.json");
    std::fs::create_dir_all(blocker.join("sub")).unwrap();
    let result = manager
        .update(vec![edit(vec![file(9)], vec![], Some(999))])
        .await;
    assert!(matches!(result, Err(Error::Storage(_))), "{result:?}");
    assert_eq!(manager.manifest(), &state);
    std::fs::remove_dir_all(&blocker).unwrap();
    assert_eq!(
        manager
            .update(vec![edit(vec![], vec![], Some(5))])
            .await
            .unwrap(),
        3
    );
}

#[tokio::test]
async fn change_of_another_region_is_refused() {
    let (_tmp, storage) = local();
    let mut manager =
        RegionManifestManager::create(storage.clone(), dir(), metadata(0), options(10))
            .await
            .unwrap();
    let mut other = metadata(1);
    other.region_id = RegionId::new(2, 0);
    let result = manager
        .update(vec![ManifestAction::Change { metadata: other }])
        .await;
    assert!(
        matches!(result, Err(Error::RegionMismatch { .. })),
        "{result:?}"
    );
    assert_eq!(manager.manifest().manifest_version, 0);
}

/// The S3 code path: the same manager over an `object_store` backend without local fsync.
#[tokio::test]
async fn remote_store_works_the_same() {
    let storage = ObjectStorage::remote(Arc::new(object_store::memory::InMemory::new()));
    assert!(open(&storage, 3).await.unwrap().is_none());
    let mut manager =
        RegionManifestManager::create(storage.clone(), dir(), metadata(0), options(3))
            .await
            .unwrap();
    churn(&mut manager, 10).await;
    let state = manager.manifest().clone();
    assert_eq!(open(&storage, 3).await.unwrap().unwrap().manifest(), &state);
    assert_eq!(
        file_names(&storage).await,
        [
            "00000000000000000009.checkpoint",
            "00000000000000000010.json"
        ]
    );
    // A sibling region's manifest in the same store is not mixed in.
    let sibling = Path::from("regions/1_0/manifest_old");
    storage
        .put_durable(
            &sibling.clone().join("00000000000000000011.json"),
            Bytes::new(),
        )
        .await
        .unwrap();
    assert_eq!(open(&storage, 3).await.unwrap().unwrap().manifest(), &state);
    flip_byte(&storage, &delta_path(10), 10).await;
    assert!(matches!(
        open(&storage, 3).await,
        Err(Error::Corruption { .. })
    ));
}

#[test]
fn edit_json_shape() {
    let action = edit(vec![], vec![], Some(7));
    let json = serde_json::to_string(&action).unwrap();
    assert_eq!(
        json,
        r#"{"Edit":{"files_to_add":[],"files_to_remove":[],"flushed_sequence":7,"compaction_time_window":null,"committed_sequence":null}}"#
    );
    // Absent fields default (forward compatibility of older writers' files).
    let parsed: ManifestAction = serde_json::from_str(r#"{"Edit":{}}"#).unwrap();
    assert_eq!(parsed, ManifestAction::Edit(RegionEdit::default()));
    let meta = file(1);
    let json = serde_json::to_value(&meta).unwrap();
    assert_eq!(json["file_id"], serde_json::json!(meta.file_id.to_string()));
    assert_eq!(
        json["time_range"],
        serde_json::json!({"min": 1000, "max": 1999})
    );
}

mod fuzz;
mod torn;
