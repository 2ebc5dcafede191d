//! Recovery tests: torn tails are repaired, every other kind of damage is a `Corruption`
//! error naming the file and offset, and decoding damaged bytes never panics.

use super::*;

#[tokio::test]
async fn torn_tail_at_every_offset_of_the_last_frame_is_repaired() {
    let src = tempfile::tempdir().unwrap();
    let seg = write_closed(src.path(), &[entry(1, 3), entry(4, 2), entry(6, 1)]).await;
    let original = std::fs::read(&seg).unwrap();
    let last_start = *frame_offsets(&seg).last().unwrap() as usize;
    let name = seg.file_name().unwrap().to_owned();

    for cut in last_start..original.len() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(&name);
        std::fs::write(&path, &original[..cut]).unwrap();

        let wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
        let (read, stats) = replay_all(&wal, 0);
        assert_eq!(sequences(&read), vec![1, 4], "cut at {cut}");
        assert_eq!(stats.truncated_tail_bytes, (cut - last_start) as u64);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), last_start as u64);
        // The WAL is appendable after the repair, and the new entry survives a reopen
        // (checked for the first and last cuts and a sample between, to keep the test fast).
        let edge = cut < last_start + 16 || cut + 16 >= original.len();
        if !edge && cut % 5 != 0 {
            continue;
        }
        wal.append(entry(6, 1)).await.unwrap();
        wal.close().unwrap();
        let wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
        let (read, stats) = replay_all(&wal, 0);
        assert_eq!(sequences(&read), vec![1, 4, 6], "cut at {cut}");
        assert_eq!(stats.truncated_tail_bytes, 0);
    }
}

#[tokio::test]
async fn damaged_last_frame_and_zero_filled_tail_are_torn_tails() {
    let src = tempfile::tempdir().unwrap();
    let seg = write_closed(src.path(), &[entry(1, 3), entry(4, 2)]).await;
    let original = std::fs::read(&seg).unwrap();
    let last_start = *frame_offsets(&seg).last().unwrap() as usize;

    // A flipped payload byte in the last frame: the checksum fails and the frame reaches EOF.
    let mut bytes = original.clone();
    bytes[last_start + codec::FRAME_PREFIX_LEN + 3] ^= 0x40;
    std::fs::write(&seg, &bytes).unwrap();
    let wal = Wal::open(src.path(), WalOptions::default()).unwrap();
    let (read, stats) = replay_all(&wal, 0);
    assert_eq!(sequences(&read), vec![1]);
    assert_eq!(
        stats.truncated_tail_bytes,
        (original.len() - last_start) as u64
    );
    drop(wal);

    // Zeroes after the last good frame (allocated but never written).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(seg.file_name().unwrap());
    let mut bytes = original.clone();
    bytes.extend_from_slice(&[0; 100]);
    std::fs::write(&path, &bytes).unwrap();
    let wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
    let (read, stats) = replay_all(&wal, 0);
    assert_eq!(sequences(&read), vec![1, 4]);
    assert_eq!(stats.truncated_tail_bytes, 100);
}

#[tokio::test]
async fn flipped_byte_mid_log_is_corruption_naming_file_and_offset() {
    let src = tempfile::tempdir().unwrap();
    let seg = write_closed(src.path(), &[entry(1, 3), entry(4, 2), entry(6, 2)]).await;
    let original = std::fs::read(&seg).unwrap();
    let offsets = frame_offsets(&seg);
    let second = offsets[1] as usize;

    let cases = [
        ("payload byte", second + codec::FRAME_PREFIX_LEN + 10, 0x01),
        ("record type", second + 4, 0x02),
        ("crc byte", offsets[2] as usize - 1, 0x80),
        // A length that claims to run past the end of the file must not hide the frame after it.
        ("length high byte", second + 3, 0x7f),
        ("length low byte", second, 0x01),
    ];
    for (what, at, mask) in cases {
        let mut bytes = original.clone();
        bytes[at] ^= mask;
        std::fs::write(&seg, &bytes).unwrap();
        match open_err(src.path()) {
            Error::Corruption { path, offset, .. } => {
                assert_eq!(path, seg, "{what}");
                assert_eq!(offset, second as u64, "{what}");
            }
            other => panic!("{what}: expected corruption, got {other:?}"),
        }
        // Nothing was repaired or created by the failed open.
        assert_eq!(std::fs::read(&seg).unwrap(), bytes, "{what}");
        assert_eq!(segment_ids(src.path()), vec![1], "{what}");
    }

    // A bad magic is corruption at offset 0.
    let mut bytes = original.clone();
    bytes[0] = b'X';
    std::fs::write(&seg, &bytes).unwrap();
    let err = open_err(src.path());
    assert!(
        matches!(err, Error::Corruption { offset: 0, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&seg.display().to_string()),
        "{err}"
    );
}

#[tokio::test]
async fn damage_in_an_earlier_segment_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
    wal.append(entry(1, 3)).await.unwrap();
    wal.append(entry(4, 3)).await.unwrap();
    wal.roll().await.unwrap();
    wal.append(entry(7, 3)).await.unwrap();
    wal.close().unwrap();
    let first = seg_path(dir.path(), 1);
    let last_start = *frame_offsets(&first).last().unwrap();
    // A torn tail is only tolerated in the newest segment.
    let len = std::fs::metadata(&first).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&first)
        .unwrap()
        .set_len(len - 2)
        .unwrap();
    match open_err(dir.path()) {
        Error::Corruption {
            path,
            offset,
            reason,
        } => {
            assert_eq!(path, first);
            assert_eq!(offset, last_start);
            assert!(matches!(reason, CorruptionKind::Frame(_)), "{reason:?}");
        }
        other => panic!("expected corruption, got {other:?}"),
    }
    // An empty segment that is not the newest is corruption too.
    std::fs::write(&first, b"").unwrap();
    let err = open_err(dir.path());
    assert!(
        matches!(err, Error::Corruption { offset: 0, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn empty_or_partially_created_last_segment_is_fine() {
    let dir = tempfile::tempdir().unwrap();
    write_closed(dir.path(), &[entry(1, 3)]).await;
    // Crash images of an interrupted segment creation: zero-length, then half a header.
    std::fs::write(seg_path(dir.path(), 3), b"").unwrap();
    let wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
    assert_eq!(sequences(&replay_all(&wal, 0).0), vec![1]);
    wal.append(entry(4, 1)).await.unwrap();
    drop(wal);
    assert_eq!(segment_ids(dir.path()), vec![1, 4]);

    std::fs::write(seg_path(dir.path(), 5), b"TSW").unwrap();
    let wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
    let (read, stats) = replay_all(&wal, 0);
    assert_eq!(sequences(&read), vec![1, 4]);
    assert_eq!(stats.truncated_tail_bytes, 3);
    assert_eq!(segment_ids(dir.path()), vec![1, 4, 6]);
    drop(wal);

    // A short last segment that is not a header prefix is corruption (the header-only
    // segment 6 before it is fine).
    std::fs::write(seg_path(dir.path(), 7), b"XY").unwrap();
    let err = open_err(dir.path());
    assert!(
        matches!(err, Error::Corruption { offset: 0, .. }),
        "{err:?}"
    );

    // A header-only newest segment (an active segment that got no entry) is removed at open.
    std::fs::remove_file(seg_path(dir.path(), 7)).unwrap();
    let wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
    assert_eq!(segment_ids(dir.path()), vec![1, 4, 7]);
    assert_eq!(sequences(&replay_all(&wal, 0).0), vec![1, 4]);
}

#[test]
fn decoding_garbage_payloads_never_panics() {
    let good = entry::encode_entry_frame(&entry(7, 3)).unwrap();
    let frame = codec::decode_frame(&good).unwrap();
    let payload = frame.payload.to_vec();
    assert_eq!(entry::decode_entry(&payload).unwrap().sequence, 7);
    for len in 0..payload.len() {
        assert!(
            entry::decode_entry(&payload[..len]).is_err(),
            "prefix {len}"
        );
    }
    let mut bad_op = payload.clone();
    bad_op[entry::SEQUENCE_LEN] = 9;
    assert!(matches!(
        entry::decode_entry(&bad_op),
        Err(CorruptionKind::UnknownOpType(9))
    ));
    let mut trailing = payload.clone();
    trailing.push(0);
    assert!(entry::decode_entry(&trailing).is_err());
    let mut two = 7u64.to_le_bytes().to_vec();
    two.push(OpType::Put as u8);
    let mut writer = arrow::ipc::writer::StreamWriter::try_new(&mut two, &schema()).unwrap();
    writer.write(&batch(0, 2)).unwrap();
    writer.write(&batch(2, 2)).unwrap();
    writer.finish().unwrap();
    drop(writer);
    assert!(matches!(
        entry::decode_entry(&two),
        Err(CorruptionKind::BatchCount { found: 2 })
    ));
    assert!(matches!(
        entry::decode_entry(&payload[..entry::ENTRY_HEADER_LEN]),
        Err(CorruptionKind::MissingEndOfStream)
    ));
    // Flip every byte in several ways: an error or (for bytes Arrow ignores) a batch, never a
    // panic or an abort.
    for i in 0..payload.len() {
        for mask in [0x01, 0x5b, 0x80, 0xff] {
            let mut bytes = payload.clone();
            bytes[i] ^= mask;
            let _ = entry::decode_entry(&bytes);
        }
    }
}
