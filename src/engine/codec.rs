//! Shared byte-level framing for files the engine owns (WAL segments, manifest files, the
//! catalog). The normative layout is `docs/FORMAT.md`; the constants here are asserted
//! against it by tests.
//!
//! - File header: `magic [4 bytes] | format_version u16 LE` ([`FILE_HEADER_LEN`] bytes).
//! - Record frame: `payload_len u32 LE | record_type u8 | payload | crc32 u32 LE`, where the
//!   CRC-32 (crc32fast) covers `payload_len`, `record_type` and `payload`.

/// Bytes in a file header: 4 magic + 2 version.
pub const FILE_HEADER_LEN: usize = 4 + 2;
/// Bytes a frame adds before the payload: 4 length + 1 type.
pub const FRAME_PREFIX_LEN: usize = 4 + 1;
/// Bytes a frame adds after the payload: the CRC-32.
pub const FRAME_SUFFIX_LEN: usize = 4;
/// Largest payload a frame may carry (1 GiB): a larger length field is treated as damage.
pub const MAX_PAYLOAD_LEN: usize = 1 << 30;

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ends inside a header or frame (a torn write at the tail of a log).
    #[error("truncated: {needed} bytes needed, {available} available")]
    Truncated { needed: usize, available: usize },
    /// Stored and computed checksums differ.
    #[error("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    ChecksumMismatch { stored: u32, computed: u32 },
    /// The file does not start with the expected magic bytes.
    #[error("bad magic {found:?}, expected {expected:?}")]
    BadMagic { found: [u8; 4], expected: [u8; 4] },
    /// The file's format version is not one this build reads.
    #[error("unsupported format version {found} (this build reads up to {supported})")]
    UnsupportedVersion { found: u16, supported: u16 },
    /// A length field is larger than [`MAX_PAYLOAD_LEN`].
    #[error("frame length {len} exceeds the maximum {MAX_PAYLOAD_LEN}")]
    LengthTooLarge { len: usize },
}

/// Appends a file header.
pub fn encode_header(buf: &mut Vec<u8>, magic: [u8; 4], version: u16) {
    buf.extend_from_slice(&magic);
    buf.extend_from_slice(&version.to_le_bytes());
}

/// Checks a file header and returns the format version it names.
///
/// # Errors
/// [`DecodeError::Truncated`], [`DecodeError::BadMagic`], or
/// [`DecodeError::UnsupportedVersion`] when the version is above `max_version`.
pub fn decode_header(buf: &[u8], magic: [u8; 4], max_version: u16) -> Result<u16, DecodeError> {
    let header = buf.get(..FILE_HEADER_LEN).ok_or(DecodeError::Truncated {
        needed: FILE_HEADER_LEN,
        available: buf.len(),
    })?;
    let (found_magic, version) = header.split_at(4);
    let found: [u8; 4] = found_magic.try_into().unwrap_or_default();
    if found != magic {
        return Err(DecodeError::BadMagic {
            found,
            expected: magic,
        });
    }
    let version = u16::from_le_bytes(version.try_into().unwrap_or_default());
    if version == 0 || version > max_version {
        return Err(DecodeError::UnsupportedVersion {
            found: version,
            supported: max_version,
        });
    }
    Ok(version)
}

/// Appends one frame holding `payload`.
///
/// # Errors
/// [`DecodeError::LengthTooLarge`] if the payload exceeds [`MAX_PAYLOAD_LEN`].
pub fn encode_frame(buf: &mut Vec<u8>, record_type: u8, payload: &[u8]) -> Result<(), DecodeError> {
    if payload.len() > MAX_PAYLOAD_LEN {
        return Err(DecodeError::LengthTooLarge { len: payload.len() });
    }
    let len = u32::try_from(payload.len())
        .map_err(|_| DecodeError::LengthTooLarge { len: payload.len() })?;
    let start = buf.len();
    buf.extend_from_slice(&len.to_le_bytes());
    buf.push(record_type);
    buf.extend_from_slice(payload);
    let crc = crc32fast::hash(buf.get(start..).unwrap_or_default());
    buf.extend_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// One decoded frame.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The record type byte.
    pub record_type: u8,
    /// The payload.
    pub payload: &'a [u8],
    /// Total bytes the frame occupies (prefix + payload + CRC).
    pub encoded_len: usize,
}

/// Decodes the frame at the start of `buf`.
///
/// # Errors
/// [`DecodeError::Truncated`] if `buf` ends inside the frame, [`DecodeError::LengthTooLarge`]
/// for an impossible length, [`DecodeError::ChecksumMismatch`] if the CRC does not match.
pub fn decode_frame(buf: &[u8]) -> Result<Frame<'_>, DecodeError> {
    let truncated = |needed| DecodeError::Truncated {
        needed,
        available: buf.len(),
    };
    let prefix = buf
        .get(..FRAME_PREFIX_LEN)
        .ok_or(truncated(FRAME_PREFIX_LEN))?;
    let (len_bytes, type_byte) = prefix.split_at(4);
    let len = u32::from_le_bytes(len_bytes.try_into().unwrap_or_default()) as usize;
    if len > MAX_PAYLOAD_LEN {
        return Err(DecodeError::LengthTooLarge { len });
    }
    let record_type = type_byte.first().copied().unwrap_or_default();
    let body_end = FRAME_PREFIX_LEN + len;
    let total = body_end + FRAME_SUFFIX_LEN;
    let body = buf.get(..body_end).ok_or(truncated(total))?;
    let stored_bytes = buf.get(body_end..total).ok_or(truncated(total))?;
    let stored = u32::from_le_bytes(stored_bytes.try_into().unwrap_or_default());
    let computed = crc32fast::hash(body);
    if stored != computed {
        return Err(DecodeError::ChecksumMismatch { stored, computed });
    }
    Ok(Frame {
        record_type,
        payload: body.get(FRAME_PREFIX_LEN..).unwrap_or_default(),
        encoded_len: total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The numbers in docs/FORMAT.md "Common framing".
    #[test]
    fn format_spec() {
        assert_eq!(FILE_HEADER_LEN, 6);
        assert_eq!(FRAME_PREFIX_LEN, 5);
        assert_eq!(FRAME_SUFFIX_LEN, 4);
        assert_eq!(MAX_PAYLOAD_LEN, 1 << 30);
        let mut buf = Vec::new();
        encode_header(&mut buf, *b"TSWL", 1);
        assert_eq!(buf, [0x54, 0x53, 0x57, 0x4C, 0x01, 0x00]);
    }

    #[test]
    fn frame_round_trip_and_damage() {
        let mut buf = Vec::new();
        encode_frame(&mut buf, 7, b"hello").unwrap();
        assert_eq!(buf.len(), FRAME_PREFIX_LEN + 5 + FRAME_SUFFIX_LEN);
        let frame = decode_frame(&buf).unwrap();
        assert_eq!((frame.record_type, frame.payload), (7, &b"hello"[..]));
        assert!(matches!(
            decode_frame(&buf[..buf.len() - 1]),
            Err(DecodeError::Truncated { .. })
        ));
        buf[6] ^= 0xff;
        assert!(matches!(
            decode_frame(&buf),
            Err(DecodeError::ChecksumMismatch { .. })
        ));
    }

    #[test]
    fn header_checks_magic_and_version() {
        let mut buf = Vec::new();
        encode_header(&mut buf, *b"TEST", 1);
        assert_eq!(decode_header(&buf, *b"TEST", 1), Ok(1));
        assert!(decode_header(&buf, *b"NOPE", 1).is_err());
        assert!(decode_header(&buf, *b"TEST", 0).is_err());
        assert!(decode_header(&buf[..3], *b"TEST", 1).is_err());
    }

    #[test]
    fn decode_never_panics_on_garbage() {
        for len in 0..64 {
            let garbage: Vec<u8> = (0..len).map(|i| (i * 37 % 251) as u8).collect();
            let _ = decode_frame(&garbage);
            let _ = decode_header(&garbage, *b"TEST", 1);
        }
    }

    /// Fuzzing (`crate::engine::fuzz`): a decoded frame lies inside the input, its payload is
    /// the bytes its length names, and it encodes back to the same bytes.
    #[test]
    fn fuzz_codec_frames() {
        let mut corpus = Vec::new();
        for payload in [&b""[..], b"x", b"hello frame", &[0u8; 300]] {
            let mut buf = Vec::new();
            encode_header(&mut buf, *b"TEST", 1);
            encode_frame(&mut buf, 1, payload).unwrap();
            encode_frame(&mut buf, 2, b"second").unwrap();
            corpus.push(buf);
        }
        crate::engine::fuzz::run("codec", &corpus, 3000, |bytes| {
            let header = decode_header(bytes, *b"TEST", 1);
            let Some(rest) = bytes.get(FILE_HEADER_LEN..) else {
                return header.is_ok();
            };
            let Ok(frame) = decode_frame(rest) else {
                return false;
            };
            assert!(frame.encoded_len <= rest.len());
            assert_eq!(
                frame.encoded_len,
                FRAME_PREFIX_LEN + frame.payload.len() + FRAME_SUFFIX_LEN
            );
            let mut again = Vec::new();
            encode_frame(&mut again, frame.record_type, frame.payload).unwrap();
            assert_eq!(again.as_slice(), &rest[..frame.encoded_len]);
            header.is_ok()
        });
    }
}
