//! The session time zone: GreptimeDB's `SET time_zone = '...'`.
//!
//! The zone is kept in DataFusion's `datafusion.execution.time_zone` (so `now()`,
//! `TIMESTAMP WITH TIME ZONE` casts and DataFusion's own zone-aware functions see it), as a
//! canonical string: a zone name (`Europe/Berlin`, `UTC`) or an offset (`+08:00`). Values are
//! accepted as GreptimeDB's `Timezone::from_tz_string` accepts them
//! (`src/common/time/src/timezone.rs`): `SYSTEM` (the `TZ` environment variable, else UTC),
//! `[+-]H:MM` offsets, zone names in any letter case.
//!
//! [`LocalTimestampLiterals`] makes timestamp literals without an offset mean wall-clock time
//! in the session zone, as GreptimeDB does (`ts >= '2024-01-02 08:00:00'`, the bounds of a
//! gap-filling query, a `date_bin` origin); literals with an offset keep it.

use std::str::FromStr;
use std::sync::Arc;

use arrow::array::timezone::Tz as ArrowTz;
use arrow::compute::kernels::cast_utils::string_to_datetime;
use arrow::datatypes::{DataType, TimeUnit};
use chrono::FixedOffset;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::logical_expr::expr::{Cast, TryCast};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::optimizer::AnalyzerRule;

use super::Error;

/// The zone used when none was set.
pub const DEFAULT_TIME_ZONE: &str = "UTC";

/// `value` as a canonical zone string (`Europe/Berlin`, `UTC`, `+08:00`).
///
/// # Errors
/// [`Error::InvalidTimeZone`] for anything else.
pub fn parse_time_zone(value: &str) -> Result<String, Error> {
    let invalid = || Error::InvalidTimeZone {
        value: value.to_string(),
    };
    let trimmed = value.trim();
    if trimmed.eq_ignore_ascii_case("SYSTEM") {
        let system = std::env::var("TZ").ok();
        return Ok(system
            .and_then(|tz| parse_time_zone(&tz).ok())
            .unwrap_or_else(|| DEFAULT_TIME_ZONE.to_string()));
    }
    if let Some((hours, minutes)) = trimmed.split_once(':') {
        let hours: i32 = hours.parse().map_err(|_| invalid())?;
        let minutes: i32 = minutes.parse().map_err(|_| invalid())?;
        if !(0..60).contains(&minutes) {
            return Err(invalid());
        }
        let sign = if hours < 0 || trimmed.starts_with('-') {
            -1
        } else {
            1
        };
        let seconds = sign * (hours.abs() * 3600 + minutes * 60);
        let offset = FixedOffset::east_opt(seconds).ok_or_else(invalid)?;
        return Ok(offset.to_string());
    }
    chrono_tz::TZ_VARIANTS
        .iter()
        .find(|tz| tz.name().eq_ignore_ascii_case(trimmed))
        .map(|tz| tz.name().to_string())
        .ok_or_else(invalid)
}

/// The session's zone: `datafusion.execution.time_zone`, else [`DEFAULT_TIME_ZONE`].
pub fn session_time_zone(options: &ConfigOptions) -> String {
    options
        .execution
        .time_zone
        .clone()
        .filter(|tz| !tz.is_empty())
        .unwrap_or_else(|| DEFAULT_TIME_ZONE.to_string())
}

/// Whether `zone` (canonical) is UTC, so literals need no conversion.
pub fn is_utc(zone: &str) -> bool {
    matches!(zone, "UTC" | "+00:00" | "Etc/UTC" | "Z")
}

/// `text` as a timestamp of `unit` (UTC-based), wall-clock time in `zone` unless it carries
/// its own offset; `None` if it does not parse or is out of range.
pub fn parse_local_timestamp(text: &str, zone: &str, unit: TimeUnit) -> Option<i64> {
    let tz = ArrowTz::from_str(zone).ok()?;
    let datetime = string_to_datetime(&tz, text).ok()?;
    let utc = datetime.naive_utc().and_utc();
    match unit {
        TimeUnit::Second => Some(utc.timestamp()),
        TimeUnit::Millisecond => Some(utc.timestamp_millis()),
        TimeUnit::Microsecond => Some(utc.timestamp_micros()),
        TimeUnit::Nanosecond => utc.timestamp_nanos_opt(),
    }
}

/// The analyzer rule (after type coercion): `CAST('...' AS TIMESTAMP)` of a string literal,
/// as coercion writes a comparison with a timestamp column, becomes a timestamp literal read
/// in the session zone. Without a session zone (or with UTC) it does nothing.
#[derive(Debug, Default)]
pub struct LocalTimestampLiterals;

impl AnalyzerRule for LocalTimestampLiterals {
    fn analyze(&self, plan: LogicalPlan, config: &ConfigOptions) -> DfResult<LogicalPlan> {
        let zone = session_time_zone(config);
        if is_utc(&zone) {
            return Ok(plan);
        }
        plan.transform_up_with_subqueries(|plan| {
            // Output names stay those the planner gave (the literal as written).
            let names = NamePreserver::new(&plan);
            plan.map_expressions(|expr| {
                let name = names.save(&expr);
                let rewritten = expr.transform_up(|e| rewrite(e, &zone))?;
                Ok(rewritten.update_data(|e| name.restore(e)))
            })
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "tsdb_local_timestamp_literals"
    }
}

fn rewrite(expr: Expr, zone: &str) -> DfResult<Transformed<Expr>> {
    let (inner, field) = match &expr {
        Expr::Cast(Cast { expr, field }) | Expr::TryCast(TryCast { expr, field }) => {
            (expr.as_ref(), field)
        }
        _ => return Ok(Transformed::no(expr)),
    };
    let DataType::Timestamp(unit, None) = field.data_type() else {
        return Ok(Transformed::no(expr));
    };
    let unit = *unit;
    let Expr::Literal(
        ScalarValue::Utf8(Some(text))
        | ScalarValue::LargeUtf8(Some(text))
        | ScalarValue::Utf8View(Some(text)),
        _,
    ) = inner
    else {
        return Ok(Transformed::no(expr));
    };
    let Some(value) = parse_local_timestamp(text, zone, unit) else {
        // Left to the cast, which reports the bad literal.
        return Ok(Transformed::no(expr));
    };
    let scalar = match unit {
        TimeUnit::Second => ScalarValue::TimestampSecond(Some(value), None),
        TimeUnit::Millisecond => ScalarValue::TimestampMillisecond(Some(value), None),
        TimeUnit::Microsecond => ScalarValue::TimestampMicrosecond(Some(value), None),
        TimeUnit::Nanosecond => ScalarValue::TimestampNanosecond(Some(value), None),
    };
    Ok(Transformed::yes(Expr::Literal(scalar, None)))
}

/// The analyzer rule, boxed for the session.
pub fn rule() -> Arc<dyn AnalyzerRule + Send + Sync> {
    Arc::new(LocalTimestampLiterals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_are_accepted_as_greptimedb_accepts_them() {
        assert_eq!(parse_time_zone("+8:00").unwrap(), "+08:00");
        assert_eq!(parse_time_zone("-8:00").unwrap(), "-08:00");
        assert_eq!(parse_time_zone("+05:30").unwrap(), "+05:30");
        assert_eq!(parse_time_zone("europe/berlin").unwrap(), "Europe/Berlin");
        assert_eq!(parse_time_zone("UTC").unwrap(), "UTC");
        for bad in ["Mars/Olympus", "+8:75", "8", "", "+99:00"] {
            let err = parse_time_zone(bad).unwrap_err().to_string();
            assert!(err.contains("Invalid time zone"), "{bad}: {err}");
        }
    }

    #[test]
    fn literals_without_offset_are_wall_clock_in_the_zone() {
        let ms = TimeUnit::Millisecond;
        // 2024-01-02T00:00:00Z = 1704153600 s.
        assert_eq!(
            parse_local_timestamp("2024-01-02 00:00:00", "+08:00", ms),
            Some(1_704_124_800_000)
        );
        assert_eq!(
            parse_local_timestamp("2024-01-02 00:00:00", "-08:00", ms),
            Some(1_704_182_400_000)
        );
        // An explicit offset wins over the zone.
        assert_eq!(
            parse_local_timestamp("2024-01-02T00:00:00Z", "+08:00", ms),
            Some(1_704_153_600_000)
        );
        // Berlin is UTC+2 in July (DST).
        assert_eq!(
            parse_local_timestamp("2024-07-01 02:00:00", "Europe/Berlin", TimeUnit::Second),
            Some(1_719_792_000)
        );
        assert_eq!(parse_local_timestamp("not a time", "+08:00", ms), None);
    }
}
