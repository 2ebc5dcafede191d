//! Table options the engine honours (`WITH (ttl = '7d', append_mode = 'true', merge_mode =
//! 'last_non_null')`) and the clock TTL is measured against.
//!
//! Modelled on GreptimeDB mito2's `region/options.rs` (`RegionOptions::validate`, `MergeMode`)
//! and `common/time/src/ttl.rs` (`TimeToLive::from_humantime_or_str`):
//! - `ttl`: a humantime duration (`'7d'`, `'1 second'`, `'6 hours'`), `'forever'` (or `''`,
//!   or a zero duration: keep everything) or `'instant'` (rows are discarded on insert).
//!   Rows whose time index is older than `now - ttl` are invisible to every scan at once
//!   ([`TableOptions::visible_range`]) and whole SSTs past it are removed by compaction.
//! - `append_mode = 'true'`: rows with the same `(tags, ts)` are all kept; scans, flushes and
//!   compactions skip deduplication.
//! - `merge_mode = 'last_row'` (default) or `'last_non_null'`: with `last_non_null` a later
//!   row's NULL fields keep the earlier non-NULL values of the same `(tags, ts)`.
//!   `append_mode = 'true'` allows only `last_row` (mito2's wording is kept).
//!
//! The options live in the table's catalog entry (`catalog/CATALOG`, FORMAT.md) as the
//! normalised strings [`TableOptions::to_map`] returns; the engine receives them parsed when a
//! region is created or opened, and a region keeps them in its [`Version`]
//! (`crate::engine::region::version::Version::options`), as mito2 does.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// Option key of the time to live.
pub const TTL_KEY: &str = "ttl";
/// Option key of append mode.
pub const APPEND_MODE_KEY: &str = "append_mode";
/// Option key of the merge mode.
pub const MERGE_MODE_KEY: &str = "merge_mode";

/// How long rows are kept (GreptimeDB's `TimeToLive`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// Rows are discarded on insert: the table never holds any.
    Instant,
    /// Rows are kept forever (the default).
    Forever,
    /// Rows whose time index is older than `now - duration` expire. Never zero.
    Duration(Duration),
}

impl Ttl {
    /// Parses `text` as GreptimeDB does: `instant`, `forever` or the empty string
    /// (case-insensitive), else a humantime duration; a zero duration is `Forever`.
    ///
    /// # Errors
    /// A message naming the value when it is none of these.
    pub fn parse(text: &str) -> Result<Ttl, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "instant" => Ok(Ttl::Instant),
            "forever" | "" => Ok(Ttl::Forever),
            other => match humantime::parse_duration(other) {
                Ok(d) if d.is_zero() => Ok(Ttl::Forever),
                Ok(d) => Ok(Ttl::Duration(d)),
                Err(e) => Err(format!(
                    "invalid ttl '{text}': {e} (expected a duration such as '7d' or '1 hour', \
                     'forever' or 'instant')"
                )),
            },
        }
    }
}

impl std::fmt::Display for Ttl {
    /// `instant`, `forever`, or the humantime rendering of the duration (`7days`, `1h`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ttl::Instant => f.write_str("instant"),
            Ttl::Forever => f.write_str("forever"),
            Ttl::Duration(d) => write!(f, "{}", humantime::format_duration(*d)),
        }
    }
}

/// How rows with the same `(tags, ts)` are merged (mito2's `MergeMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MergeMode {
    /// The newest row wins whole.
    #[default]
    LastRow,
    /// The newest row wins, but each of its NULL fields takes the newest non-NULL value of
    /// that field among older rows (up to an older delete).
    LastNonNull,
}

impl MergeMode {
    /// The option value (`last_row`, `last_non_null`).
    pub fn as_str(self) -> &'static str {
        match self {
            MergeMode::LastRow => "last_row",
            MergeMode::LastNonNull => "last_non_null",
        }
    }
}

/// What a merge of sorted sources does with several versions of one `(tags, ts)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DedupMode {
    /// Keep the newest version ([`MergeMode::LastRow`]).
    #[default]
    LastRow,
    /// Keep the newest version, filling its NULL fields from older ones
    /// ([`MergeMode::LastNonNull`]).
    LastNonNull,
    /// Keep every version (append mode).
    None,
}

/// The table options of a region. `Default` is a plain table: TTL forever, dedup, last row.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableOptions {
    /// `ttl`; `None` when not set (forever).
    pub ttl: Option<Ttl>,
    /// `append_mode`.
    pub append_mode: bool,
    /// `merge_mode`; `None` when not set (last row).
    pub merge_mode: Option<MergeMode>,
}

/// Shared table options.
pub type TableOptionsRef = Arc<TableOptions>;

/// Whether `value` is a boolean option value GreptimeDB accepts (`true` / `false`).
fn parse_bool(key: &str, value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!(
            "invalid value '{value}' for {key}: expected 'true' or 'false'"
        )),
    }
}

impl TableOptions {
    /// The options among `map` the engine honours (`ttl`, `append_mode`, `merge_mode`; other
    /// keys are ignored here: the catalog decides which keys a table may have), validated.
    ///
    /// # Errors
    /// A message naming the bad value, or mito2's "only last_row merge_mode is allowed when
    /// append_mode is enabled".
    pub fn from_map(map: &BTreeMap<String, String>) -> Result<TableOptions, String> {
        let mut options = TableOptions::default();
        if let Some(value) = map.get(TTL_KEY) {
            options.ttl = Some(Ttl::parse(value)?);
        }
        if let Some(value) = map.get(APPEND_MODE_KEY) {
            options.append_mode = parse_bool(APPEND_MODE_KEY, value)?;
        }
        if let Some(value) = map.get(MERGE_MODE_KEY) {
            options.merge_mode = match value.trim().to_ascii_lowercase().as_str() {
                "last_row" => Some(MergeMode::LastRow),
                "last_non_null" => Some(MergeMode::LastNonNull),
                // GreptimeDB reads an empty value as "not set" (`NoneAsEmptyString`).
                "" => None,
                _ => {
                    return Err(format!(
                        "invalid value '{value}' for merge_mode: expected 'last_row' or \
                         'last_non_null'"
                    ));
                }
            };
        }
        options.validate()?;
        Ok(options)
    }

    /// mito2's `RegionOptions::validate`: append mode allows only the `last_row` merge mode.
    ///
    /// # Errors
    /// The reason, in mito2's words.
    pub fn validate(&self) -> Result<(), String> {
        if self.append_mode && self.merge_mode.is_some_and(|m| m != MergeMode::LastRow) {
            return Err(
                "only last_row merge_mode is allowed when append_mode is enabled".to_string(),
            );
        }
        Ok(())
    }

    /// The options as normalised strings (what the catalog stores and `SHOW CREATE TABLE`
    /// shows): `ttl` humanised (`7days`), booleans lower-case; unset options are absent.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        let mut map = BTreeMap::new();
        if let Some(ttl) = self.ttl {
            map.insert(TTL_KEY.to_string(), ttl.to_string());
        }
        if self.append_mode {
            map.insert(APPEND_MODE_KEY.to_string(), "true".to_string());
        }
        if let Some(mode) = self.merge_mode {
            map.insert(MERGE_MODE_KEY.to_string(), mode.as_str().to_string());
        }
        map
    }

    /// The merge mode in effect (`last_row` unless set).
    pub fn merge_mode(&self) -> MergeMode {
        self.merge_mode.unwrap_or_default()
    }

    /// How merges deduplicate (mito2: `need_dedup() == !append_mode`, then the merge mode).
    pub fn dedup_mode(&self) -> DedupMode {
        if self.append_mode {
            DedupMode::None
        } else {
            match self.merge_mode() {
                MergeMode::LastRow => DedupMode::LastRow,
                MergeMode::LastNonNull => DedupMode::LastNonNull,
            }
        }
    }

    /// Whether writes are discarded (`ttl = 'instant'`).
    pub fn is_instant(&self) -> bool {
        self.ttl == Some(Ttl::Instant)
    }

    /// The smallest time index value (in a time index of `units_per_second`) that has not
    /// expired at `now_ms` (milliseconds since the Unix epoch): rows below it are expired.
    /// `None` when nothing expires; `Some(i64::MAX)` with `instant`, whose rows all expire.
    pub fn expire_before(&self, now_ms: i64, units_per_second: i64) -> Option<i64> {
        match self.ttl? {
            Ttl::Forever => None,
            Ttl::Instant => Some(i64::MAX),
            Ttl::Duration(d) => {
                let now = i128::from(now_ms) * i128::from(units_per_second) / 1000;
                let ttl = d.as_nanos() as i128 * i128::from(units_per_second) / 1_000_000_000;
                // mito2 keeps rows with `ts >= now - ttl` (`get_expired_ssts` drops files
                // whose max is below it).
                Some(i64::try_from(now - ttl).unwrap_or(i64::MIN))
            }
        }
    }
}

/// The time source of an engine: TTL expiry is measured against it. Tests use a
/// [`ManualClock`] so they never sleep.
pub trait Clock: std::fmt::Debug + Send + Sync {
    /// Now, in milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// Shared clock.
pub type ClockRef = Arc<dyn Clock>;

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(since) => i64::try_from(since.as_millis()).unwrap_or(i64::MAX),
            // A clock set before 1970.
            Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
        }
    }
}

/// A clock that only moves when told to (tests, the slt runner's `.clock` directive).
#[derive(Debug)]
pub struct ManualClock {
    now_ms: AtomicI64,
}

impl ManualClock {
    /// A clock standing at `now_ms`.
    pub fn new(now_ms: i64) -> Self {
        ManualClock {
            now_ms: AtomicI64::new(now_ms),
        }
    }

    /// Moves the clock to `now_ms`.
    pub fn set(&self, now_ms: i64) {
        self.now_ms.store(now_ms, Ordering::SeqCst);
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.now_ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| {
                Some(t.saturating_add(by))
            })
            .ok();
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now_ms.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn ttl_parses_as_greptimedb() {
        assert_eq!(
            Ttl::parse("7d").unwrap(),
            Ttl::Duration(Duration::from_secs(7 * 86400))
        );
        assert_eq!(
            Ttl::parse("1 second").unwrap(),
            Ttl::Duration(Duration::from_secs(1))
        );
        assert_eq!(Ttl::parse("FOREVER").unwrap(), Ttl::Forever);
        assert_eq!(Ttl::parse("").unwrap(), Ttl::Forever);
        assert_eq!(Ttl::parse("0s").unwrap(), Ttl::Forever);
        assert_eq!(Ttl::parse("instant").unwrap(), Ttl::Instant);
        assert!(
            Ttl::parse("soon")
                .unwrap_err()
                .contains("invalid ttl 'soon'")
        );
        assert_eq!(Ttl::parse("7d").unwrap().to_string(), "7days");
        assert_eq!(Ttl::parse("1h").unwrap().to_string(), "1h");
    }

    #[test]
    fn append_mode_refuses_last_non_null() {
        let err = TableOptions::from_map(&map(&[
            ("append_mode", "true"),
            ("merge_mode", "last_non_null"),
        ]))
        .unwrap_err();
        assert_eq!(
            err,
            "only last_row merge_mode is allowed when append_mode is enabled"
        );
        let ok =
            TableOptions::from_map(&map(&[("append_mode", "true"), ("merge_mode", "last_row")]))
                .unwrap();
        assert_eq!(ok.dedup_mode(), DedupMode::None);
        assert!(TableOptions::from_map(&map(&[("merge_mode", "newest")])).is_err());
        assert!(TableOptions::from_map(&map(&[("append_mode", "yes")])).is_err());
        let lnn = TableOptions::from_map(&map(&[("merge_mode", "LAST_NON_NULL")])).unwrap();
        assert_eq!(lnn.dedup_mode(), DedupMode::LastNonNull);
        assert_eq!(lnn.to_map(), map(&[("merge_mode", "last_non_null")]));
    }

    #[test]
    fn expiry_in_time_index_units() {
        let options = TableOptions::from_map(&map(&[("ttl", "1h")])).unwrap();
        let now = 10 * 3_600_000;
        assert_eq!(options.expire_before(now, 1000), Some(9 * 3_600_000));
        assert_eq!(options.expire_before(now, 1), Some(9 * 3600));
        assert_eq!(
            options.expire_before(now, 1_000_000_000),
            Some(9 * 3_600_000_000_000)
        );
        assert_eq!(TableOptions::default().expire_before(now, 1000), None);
        let instant = TableOptions::from_map(&map(&[("ttl", "instant")])).unwrap();
        assert_eq!(instant.expire_before(now, 1000), Some(i64::MAX));
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(5);
        assert_eq!(clock.now_ms(), 5);
        clock.advance(Duration::from_secs(2));
        assert_eq!(clock.now_ms(), 2005);
        clock.set(1);
        assert_eq!(clock.now_ms(), 1);
    }
}
