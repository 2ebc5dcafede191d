//! A mutation fuzzer for the decoders of on-disk bytes, on stable Rust (test builds only).
//!
//! Each fuzz test starts from valid encodings produced by the real encoders (the corpus),
//! mutates them (bit flips, interesting bytes and length fields, truncation, zero-fill,
//! insertion, deletion, splicing with another corpus entry, decimal numbers in JSON replaced
//! by extreme ones, random bytes) and hands the result to the decoder, which must return a
//! typed error or a valid value: a panic fails the test, and so does an allocation larger than
//! the input can justify (a length field trusted before it was checked against the bytes
//! that remain). Design after libFuzzer's mutators (`FuzzerMutate.cpp`: `ChangeBit`,
//! `ChangeBinaryInteger`, `CrossOver`, `ChangeASCIIInteger`) and cargo-fuzz's practice of
//! seeding from real files.
//!
//! - Cases per test: `TSDB_FUZZ_CASES` (default: each test's short count, a few seconds in
//!   all in a debug build); seed: `TSDB_FUZZ_SEED` (default fixed, so CI is reproducible).
//! - A failing case is written to `$TMPDIR/tsdb-fuzz-<test>-<case>.bin` and the panic message
//!   names the seed and case; `TSDB_FUZZ_SEED=<seed>` reproduces the run.
//! - `TSDB_FUZZ_VERBOSE=1` prints every case and writes its input to
//!   `$TMPDIR/tsdb-fuzz-<test>-current.bin` first (to find a case that hangs).
//! - `TSDB_FUZZ_REPLAY=$TMPDIR/tsdb-fuzz-<test>-<case>.bin` runs only that input through the
//!   test of that name, without catching its panic (for a debugger or a backtrace).
//! - Memory: a counting global allocator (this module, test builds only) tracks the peak of
//!   live heap bytes allocated by the fuzzing thread while a case runs. The peak must stay
//!   below [`alloc_limit`] of the input's length; any single request above
//!   [`HARD_ALLOC_LIMIT`] is refused (so the decoder sees an allocation failure or the
//!   process aborts naming the case, instead of the machine swapping).
//!
//! The long run and the numbers of the last one are in `docs/RELIABILITY.md` ("Fuzzing").

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::panic::AssertUnwindSafe;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Default seed of every fuzz test (`TSDB_FUZZ_SEED` overrides it).
const DEFAULT_SEED: u64 = 0x7473_6462_f022;

/// Any single allocation above this while a case runs is refused (inputs are at most a few
/// hundred KiB).
pub(crate) const HARD_ALLOC_LIMIT: usize = 256 << 20;

/// The most heap a decoder may hold at once for an input of `input_len` bytes: a small
/// multiple of the input (Arrow copies the IPC body into an aligned buffer, serde builds
/// values, Parquet decompresses pages) plus a constant for fixed-size tables.
pub(crate) fn alloc_limit(input_len: usize) -> usize {
    input_len.saturating_mul(32).saturating_add(4 << 20)
}

thread_local! {
    /// Whether the allocations of this thread are being counted.
    static ARMED: Cell<bool> = const { Cell::new(false) };
    /// Live bytes allocated by this thread since it was armed (may go negative when it frees
    /// memory allocated before).
    static LIVE: Cell<isize> = const { Cell::new(0) };
    /// Highest `LIVE` since armed.
    static PEAK: Cell<isize> = const { Cell::new(0) };
    /// Size of a refused request, if any.
    static REFUSED: Cell<usize> = const { Cell::new(0) };
    /// The running case's input (address, length) and the file to save it to if the process
    /// is about to abort on a refused allocation.
    static CURRENT: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
    static CURRENT_FILE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Saves the running case's input and names it on stderr, before a refused allocation makes
/// a caller that cannot handle it abort the process. Runs with counting off.
fn save_current_case(requested: usize) {
    let (addr, len) = CURRENT.try_with(Cell::get).unwrap_or((0, 0));
    let file = CURRENT_FILE
        .try_with(|f| f.borrow().clone())
        .unwrap_or_default();
    if addr == 0 || file.is_empty() {
        return;
    }
    // SAFETY: `run` sets CURRENT to the input it is decoding and clears it afterwards; the
    // input outlives the case.
    #[allow(unsafe_code)]
    let input = unsafe { std::slice::from_raw_parts(addr as *const u8, len) };
    let _ = std::fs::write(&file, input);
    eprintln!("fuzz: refused an allocation of {requested} bytes; the input is in {file}");
}

/// Forwards to the system allocator, counting the fuzzing thread's bytes while armed.
struct Counting;

// The crate denies unsafe code; this test-only allocator is the one exception (as
// tests/memtable_alloc.rs, an integration test, has its own).
// SAFETY: forwards every call to `System` unchanged, except that it may return null (an
// allocation failure, which callers must handle) for a request above HARD_ALLOC_LIMIT.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !count(layout.size() as isize, layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: same layout as requested.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !count(layout.size() as isize, layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: same layout as requested.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize), 0);
        // SAFETY: `ptr` was allocated by this allocator (that is, `System`) with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !count(new_size as isize - layout.size() as isize, new_size) {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Counts `delta` live bytes for a request of `requested` bytes; `false` to refuse it.
fn count(delta: isize, requested: usize) -> bool {
    let armed = ARMED.try_with(Cell::get).unwrap_or(false);
    if !armed {
        return true;
    }
    if requested > HARD_ALLOC_LIMIT {
        let _ = REFUSED.try_with(|r| r.set(requested));
        let _ = ARMED.try_with(|c| c.set(false));
        save_current_case(requested);
        let _ = ARMED.try_with(|c| c.set(true));
        return false;
    }
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
    true
}

thread_local! {
    /// Where the last panic of a fuzz case happened (the hook records it instead of printing).
    static PANIC_AT: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Panics inside a fuzz case are not printed (the decoders under test catch some of their
/// dependencies' panics by design, thousands per run) but recorded, uncounted, for the failure
/// message; panics elsewhere go to the previous hook.
fn quiet_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let armed = ARMED.try_with(|c| c.replace(false)).unwrap_or(false);
            if armed {
                let at = info.location().map(|l| l.to_string()).unwrap_or_default();
                let _ = PANIC_AT.try_with(|p| *p.borrow_mut() = at);
            } else {
                previous(info);
            }
            let _ = ARMED.try_with(|c| c.set(armed));
        }));
    });
}

/// Runs `f` with this thread's allocations counted; returns its result, the peak of live
/// bytes, and the size of a refused request (0 if none).
fn measured<T>(f: impl FnOnce() -> T) -> (T, usize, usize) {
    quiet_panic_hook();
    LIVE.with(|c| c.set(0));
    PEAK.with(|c| c.set(0));
    REFUSED.with(|c| c.set(0));
    ARMED.with(|c| c.set(true));
    let out = f();
    ARMED.with(|c| c.set(false));
    let peak = PEAK.with(Cell::get).max(0) as usize;
    (out, peak, REFUSED.with(Cell::get))
}

/// Cases to run: `TSDB_FUZZ_CASES`, else `default`.
pub(crate) fn cases(default: usize) -> usize {
    std::env::var("TSDB_FUZZ_CASES")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// The run's seed: `TSDB_FUZZ_SEED`, else a fixed default.
pub(crate) fn seed() -> u64 {
    std::env::var("TSDB_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_SEED)
}

/// What a fuzz run saw, for its summary line.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Summary {
    /// Cases run.
    pub cases: usize,
    /// Cases the decoder accepted.
    pub accepted: usize,
    /// Largest peak of heap bytes held by one case.
    pub max_peak: usize,
    /// Length of that case's input.
    pub max_peak_input: usize,
}

/// Fuzzes `target` with `cases` mutants of `corpus` (see the module docs). `target` returns
/// whether the decoder accepted the input (for the summary); it must not panic.
///
/// # Panics
/// On the first case that panics or allocates too much, naming the seed, case and a file
/// holding the input.
pub(crate) fn run(
    name: &str,
    corpus: &[Vec<u8>],
    default_cases: usize,
    mut target: impl FnMut(&[u8]) -> bool,
) -> Summary {
    assert!(!corpus.is_empty(), "{name}: empty corpus");
    if let Some(file) = std::env::var_os("TSDB_FUZZ_REPLAY")
        .map(std::path::PathBuf::from)
        .filter(|f| f.to_string_lossy().contains(&format!("tsdb-fuzz-{name}-")))
    {
        let input = std::fs::read(&file).expect("TSDB_FUZZ_REPLAY names a readable file");
        let accepted = target(&input);
        eprintln!(
            "fuzz {name}: replayed {}: accepted {accepted}",
            file.display()
        );
        return Summary::default();
    }
    let seed = seed();
    let cases = cases(default_cases);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ fnv(name));
    let mut summary = Summary::default();
    // Every corpus entry must decode as it is: a fuzzer that starts from invalid inputs
    // tests nothing past the first check.
    for (i, input) in corpus.iter().enumerate() {
        assert!(target(input), "{name}: corpus entry {i} does not decode");
    }
    let verbose = std::env::var_os("TSDB_FUZZ_VERBOSE").is_some();
    for case in 0..cases {
        let input = mutate(&mut rng, corpus);
        if verbose {
            let file = std::env::temp_dir().join(format!("tsdb-fuzz-{name}-current.bin"));
            let _ = std::fs::write(&file, &input);
            eprintln!(
                "fuzz {name}: case {case}, {} bytes in {}",
                input.len(),
                file.display()
            );
        }
        CURRENT_FILE.with(|f| {
            *f.borrow_mut() = std::env::temp_dir()
                .join(format!("tsdb-fuzz-{name}-{case}.bin"))
                .display()
                .to_string();
        });
        CURRENT.with(|c| c.set((input.as_ptr() as usize, input.len())));
        let (outcome, peak, refused) =
            measured(|| std::panic::catch_unwind(AssertUnwindSafe(|| target(&input))));
        CURRENT.with(|c| c.set((0, 0)));
        let fail = |what: String| -> ! {
            let file = std::env::temp_dir().join(format!("tsdb-fuzz-{name}-{case}.bin"));
            let _ = std::fs::write(&file, &input);
            panic!(
                "{name}: case {case} (TSDB_FUZZ_SEED={seed}): {what}; the {} input bytes are in {}",
                input.len(),
                file.display()
            )
        };
        match outcome {
            Ok(accepted) => summary.accepted += usize::from(accepted),
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                let at = PANIC_AT.with(|p| p.borrow().clone());
                fail(format!("the decoder panicked at {at}: {message}"))
            }
        }
        if refused > 0 {
            fail(format!("the decoder asked for {refused} bytes at once"));
        }
        if peak > alloc_limit(input.len()) {
            fail(format!(
                "the decoder held {peak} heap bytes (limit {})",
                alloc_limit(input.len())
            ));
        }
        if peak > summary.max_peak {
            summary.max_peak = peak;
            summary.max_peak_input = input.len();
        }
        summary.cases += 1;
    }
    eprintln!(
        "fuzz {name}: {} cases (seed {seed}), {} accepted, largest heap peak {} bytes (input {} bytes)",
        summary.cases, summary.accepted, summary.max_peak, summary.max_peak_input
    );
    summary
}

/// 64-bit FNV-1a of `text`, to give every test its own stream from one seed.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Little-endian 32-bit values that length and count fields are most often wrong with.
const INTERESTING_U32: [u32; 10] = [
    0,
    1,
    0x7f,
    0xff,
    0xffff,
    (1 << 30) - 1,
    1 << 30,
    (1 << 30) + 1,
    0x7fff_ffff,
    u32::MAX,
];

/// Decimal numbers that JSON fields (indexes, ids, counts, versions) are most often wrong with.
const INTERESTING_DECIMALS: [&str; 12] = [
    "0",
    "-1",
    "1",
    "255",
    "256",
    "65535",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "1e999",
];

/// One mutant of a random corpus entry: one to four stacked mutations.
pub(crate) fn mutate(rng: &mut ChaCha8Rng, corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut bytes = corpus[rng.random_range(0..corpus.len())].clone();
    let rounds = rng.random_range(1..=4);
    for _ in 0..rounds {
        mutate_once(rng, &mut bytes, corpus);
    }
    bytes
}

fn mutate_once(rng: &mut ChaCha8Rng, bytes: &mut Vec<u8>, corpus: &[Vec<u8>]) {
    let len = bytes.len();
    let at = |rng: &mut ChaCha8Rng| rng.random_range(0..len.max(1));
    match rng.random_range(0..12) {
        // Flip one to eight bits.
        0 if len > 0 => {
            for _ in 0..rng.random_range(1..=8) {
                let i = at(rng);
                bytes[i] ^= 1 << rng.random_range(0..8);
            }
        }
        // An interesting byte.
        1 if len > 0 => {
            let i = at(rng);
            bytes[i] = [0u8, 1, 0x7f, 0x80, 0xff][rng.random_range(0..5)];
        }
        // An interesting 32-bit little-endian value (a length or count field).
        2 if len >= 4 => {
            let i = rng.random_range(0..=len - 4);
            let value = if rng.random_bool(0.2) {
                (len as u32).wrapping_add(rng.random_range(0..16))
            } else {
                INTERESTING_U32[rng.random_range(0..INTERESTING_U32.len())]
            };
            bytes[i..i + 4].copy_from_slice(&value.to_le_bytes());
        }
        // An interesting 64-bit value.
        3 if len >= 8 => {
            let i = rng.random_range(0..=len - 8);
            let value =
                [0u64, u64::MAX, i64::MAX as u64, 1 << 40, rng.random()][rng.random_range(0..5)];
            bytes[i..i + 8].copy_from_slice(&value.to_le_bytes());
        }
        // Truncate (a torn write).
        4 => bytes.truncate(rng.random_range(0..=len)),
        // Zero-fill a range (allocated but never written).
        5 if len > 0 => {
            let start = at(rng);
            let end = rng.random_range(start..=len);
            bytes[start..end].fill(0);
        }
        // Insert random bytes.
        6 => {
            let i = rng.random_range(0..=len);
            let n = rng.random_range(1..=16);
            let insert: Vec<u8> = (0..n).map(|_| rng.random()).collect();
            bytes.splice(i..i, insert);
        }
        // Delete a range.
        7 if len > 0 => {
            let start = at(rng);
            let end = rng.random_range(start..=len.min(start + 64));
            bytes.drain(start..end);
        }
        // Splice: this entry up to a point, another from a point (CrossOver).
        8 => {
            let other = &corpus[rng.random_range(0..corpus.len())];
            let cut = rng.random_range(0..=len);
            let from = rng.random_range(0..=other.len());
            bytes.truncate(cut);
            bytes.extend_from_slice(&other[from..]);
        }
        // Duplicate a range.
        9 if len > 0 => {
            let start = at(rng);
            let end = rng.random_range(start..=len.min(start + 256));
            let copy = bytes[start..end].to_vec();
            let i = rng.random_range(0..=bytes.len());
            bytes.splice(i..i, copy);
        }
        // Replace a decimal number (JSON) by an extreme one (ChangeASCIIInteger).
        10 => replace_decimal(rng, bytes),
        // Random bytes, rarely.
        _ => {
            if rng.random_bool(0.1) {
                let n = rng.random_range(0..256);
                *bytes = (0..n).map(|_| rng.random()).collect();
            } else if len > 0 {
                let i = at(rng);
                bytes[i] = rng.random();
            }
        }
    }
}

/// Replaces a random run of ASCII digits in `bytes` by one of [`INTERESTING_DECIMALS`].
fn replace_decimal(rng: &mut ChaCha8Rng, bytes: &mut Vec<u8>) {
    let runs: Vec<(usize, usize)> = {
        let mut runs = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i].is_ascii_digit() {
                let start = i;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                runs.push((start, i));
            } else {
                i += 1;
            }
        }
        runs
    };
    if runs.is_empty() {
        return;
    }
    let (start, end) = runs[rng.random_range(0..runs.len())];
    let number = INTERESTING_DECIMALS[rng.random_range(0..INTERESTING_DECIMALS.len())];
    bytes.splice(start..end, number.bytes());
}

/// Splits a file made of a codec header and one frame into (header, record type, payload);
/// `None` if it is not such a file.
pub(crate) fn split_single_frame(bytes: &[u8]) -> Option<([u8; 6], u8, Vec<u8>)> {
    use crate::engine::codec;
    let header: [u8; 6] = bytes.get(..codec::FILE_HEADER_LEN)?.try_into().ok()?;
    let frame = codec::decode_frame(bytes.get(codec::FILE_HEADER_LEN..)?).ok()?;
    Some((header, frame.record_type, frame.payload.to_vec()))
}

/// A codec header plus one frame around `payload`, with a correct checksum: lets a fuzz
/// test reach the payload decoder past the CRC.
pub(crate) fn reframe(header: [u8; 6], record_type: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = header.to_vec();
    crate::engine::codec::encode_frame(&mut out, record_type, payload)
        .expect("fuzz payloads are far below the frame limit");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allocator_counts_the_peak_and_refuses_huge_requests() {
        let ((), peak, refused) = measured(|| {
            let v: Vec<u8> = Vec::with_capacity(1 << 20);
            drop(v);
            let w: Vec<u8> = Vec::with_capacity(1000);
            drop(w);
        });
        assert!((1 << 20..(1 << 20) + 4096).contains(&peak), "{peak}");
        assert_eq!(refused, 0);
        let (result, _, refused) = measured(|| {
            let mut v: Vec<u8> = Vec::new();
            v.try_reserve_exact(HARD_ALLOC_LIMIT + 1).is_err()
        });
        assert!(result, "the huge request was granted");
        assert_eq!(refused, HARD_ALLOC_LIMIT + 1);
    }

    #[test]
    fn a_panicking_target_fails_the_run() {
        let corpus = vec![b"{\"a\":1}".to_vec()];
        let result = std::panic::catch_unwind(|| {
            run("selftest", &corpus, 50, |bytes| {
                assert!(bytes == corpus[0].as_slice(), "mutant");
                true
            })
        });
        let message = result.unwrap_err();
        let message = message.downcast_ref::<String>().unwrap();
        assert!(
            message.contains("the decoder panicked at src/engine/fuzz.rs:")
                && message.contains(": mutant;"),
            "{message}"
        );
    }

    #[test]
    fn mutants_differ_and_reframing_restores_the_checksum() {
        let corpus = vec![(0..100u8).collect::<Vec<u8>>()];
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let changed = (0..100)
            .filter(|_| mutate(&mut rng, &corpus) != corpus[0])
            .count();
        assert!(changed > 80, "{changed}");
        let file = reframe(*b"TEST\x01\x00", 3, b"payload");
        let (header, record_type, payload) = split_single_frame(&file).unwrap();
        assert_eq!(
            (&header, record_type, &payload[..]),
            (b"TEST\x01\x00", 3, &b"payload"[..])
        );
    }
}
