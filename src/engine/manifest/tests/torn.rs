//! Recovery from interrupted installs and from damaged-but-checksummed files.

use bytes::Bytes;

use super::super::*;
use super::{
    churn, created, delta_path, dir, file_names, flip_byte, local, metadata, open, options,
};

/// A power cut in the middle of an install by a build that renamed before it fsynced could
/// leave the newest delta empty, zero-filled or cut short. That update never completed (it
/// was not acknowledged and nothing was deleted on its account), so open ignores the delta,
/// as a torn WAL tail, and deletes it; the next update writes that version again.
#[tokio::test]
async fn torn_newest_delta_is_ignored_and_removed() {
    let (_tmp, storage) = local();
    let mut manager = created(&storage, 100, 4).await;
    let state = manager.manifest().clone();
    let torn = delta_path(5);
    let whole = {
        churn(&mut manager, 1).await;
        storage.get(&torn).await.unwrap()
    };
    let cases = [
        Bytes::new(),
        Bytes::from(vec![0u8; whole.len()]),
        whole.slice(..3),
        whole.slice(..whole.len() - 1),
        whole.slice(..12),
    ];
    for bytes in cases {
        let len = bytes.len();
        storage.put_durable(&torn, bytes).await.unwrap();
        let mut reopened = open(&storage, 100).await.unwrap().unwrap();
        assert_eq!(reopened.manifest(), &state, "torn delta of {len} bytes");
        assert!(
            !file_names(&storage)
                .await
                .contains(&"00000000000000000005.json".to_string()),
            "the torn delta is deleted at open"
        );
        churn(&mut reopened, 1).await;
        assert_eq!(reopened.manifest().manifest_version, 5);
        let again = open(&storage, 100).await.unwrap().unwrap();
        assert_eq!(again.manifest(), reopened.manifest());
    }
}

/// Only an interrupted install is tolerated: a bit flip in the newest delta, or a torn delta
/// that is not the newest, is damage and names the file.
#[tokio::test]
async fn damaged_newest_delta_and_torn_older_delta_are_errors() {
    let (_tmp, storage) = local();
    let _manager = created(&storage, 100, 5).await;
    let newest = delta_path(5);
    flip_byte(&storage, &newest, 20).await;
    let error = open(&storage, 100).await.unwrap_err();
    assert!(matches!(error, Error::Corruption { .. }), "{error}");
    assert!(
        error.to_string().contains("00000000000000000005.json"),
        "{error}"
    );
    flip_byte(&storage, &newest, 20).await;
    storage
        .put_durable(&delta_path(3), Bytes::new())
        .await
        .unwrap();
    let error = open(&storage, 100).await.unwrap_err();
    assert!(
        error.to_string().contains("00000000000000000003.json"),
        "{error}"
    );
}

/// Temp files of an interrupted install are deleted at open, once the manifest was read.
#[tokio::test]
async fn temp_files_are_swept_at_open() {
    let (tmp, storage) = local();
    let manager = created(&storage, 100, 2).await;
    let fs_dir = tmp.path().join("regions/1_0/manifest");
    let temp = fs_dir.join(".00000000000000000003.json.0123456789abcdef.tmp");
    std::fs::write(&temp, b"half").unwrap();
    let reopened = open(&storage, 100).await.unwrap().unwrap();
    assert_eq!(reopened.manifest(), manager.manifest());
    assert!(!temp.exists());
}

/// A checksummed file whose metadata no build would write (a primary key index out of
/// range) is a corruption error naming the file, never a panic later.
#[tokio::test]
async fn invalid_metadata_in_a_checksummed_delta_is_corruption() {
    let (_tmp, storage) = local();
    let bytes = {
        let (_tmp2, scratch) = local();
        let mut manager =
            RegionManifestManager::create(scratch.clone(), dir(), metadata(0), options(100))
                .await
                .unwrap();
        // Bypass the manager's checks: encode a delta with the bad metadata by hand.
        manager
            .update(vec![ManifestAction::Change {
                metadata: metadata(1),
            }])
            .await
            .unwrap();
        let good = scratch.get(&delta_path(1)).await.unwrap();
        let json_start =
            crate::engine::codec::FILE_HEADER_LEN + crate::engine::codec::FRAME_PREFIX_LEN;
        let json = &good[json_start..good.len() - crate::engine::codec::FRAME_SUFFIX_LEN];
        let mut value: serde_json::Value = serde_json::from_slice(json).unwrap();
        value["actions"][0]["Change"]["metadata"]["primary_key"]
            .as_array_mut()
            .expect("primary_key is an array")
            .push(serde_json::json!(99));
        let json = serde_json::to_vec(&value).unwrap();
        let mut buf = Vec::new();
        crate::engine::codec::encode_header(&mut buf, DELTA_MAGIC, FORMAT_VERSION);
        crate::engine::codec::encode_frame(&mut buf, RECORD_TYPE_JSON, &json).unwrap();
        Bytes::from(buf)
    };
    RegionManifestManager::create(storage.clone(), dir(), metadata(0), options(100))
        .await
        .unwrap();
    storage.put_durable(&delta_path(1), bytes).await.unwrap();
    let error = open(&storage, 100).await.unwrap_err();
    assert!(matches!(error, Error::Corruption { .. }), "{error}");
    assert!(error.to_string().contains("primary key"), "{error}");
    assert!(
        error.to_string().contains("00000000000000000001.json"),
        "{error}"
    );
}
