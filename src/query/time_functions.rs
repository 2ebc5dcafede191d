//! GreptimeDB's time functions that DataFusion 55 lacks: `date_add`, `date_sub`, `timezone()`.
//!
//! DataFusion already has `date_format` (an alias of `to_char`, chrono format strings) and
//! `to_unixtime` (seconds since the epoch as Int64, from a timestamp or a string), with
//! GreptimeDB's results in UTC, so they are not redefined here.
//!
//! - `date_add(t, interval)` / `date_sub(t, interval)`: `t` a DATE or a TIMESTAMP of any
//!   precision, `interval` an INTERVAL (or a string such as `'5 day'`); the result has `t`'s
//!   type. Month parts move by calendar months (`'2023-12-06'::DATE + 3 month 5 day` is
//!   `2024-03-11`). GreptimeDB's `src/common/function/src/scalars/date/date_add.rs` and
//!   `date_sub.rs`: Arrow's `add` / `sub` kernels over the same signatures.
//! - `timezone()`: the session time zone (`SET time_zone`), `UTC` when none was set, as
//!   Utf8View (GreptimeDB's `src/common/function/src/system/timezone.rs`).

use std::sync::Arc;

use arrow::compute::kernels::numeric;
use arrow::datatypes::{DataType, IntervalUnit, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};

use super::time_zone::session_time_zone;

/// `date_add` or `date_sub`; see the module docs.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DateArithmetic {
    name: &'static str,
    subtract: bool,
    signature: Signature,
}

impl DateArithmetic {
    fn new(name: &'static str, subtract: bool) -> Self {
        let times = [
            DataType::Date32,
            DataType::Timestamp(TimeUnit::Second, None),
            DataType::Timestamp(TimeUnit::Millisecond, None),
            DataType::Timestamp(TimeUnit::Microsecond, None),
            DataType::Timestamp(TimeUnit::Nanosecond, None),
        ];
        let intervals = [
            DataType::Interval(IntervalUnit::MonthDayNano),
            DataType::Interval(IntervalUnit::YearMonth),
            DataType::Interval(IntervalUnit::DayTime),
        ];
        let signatures = times
            .iter()
            .flat_map(|t| {
                intervals
                    .iter()
                    .map(move |i| TypeSignature::Exact(vec![t.clone(), i.clone()]))
            })
            .collect();
        DateArithmetic {
            name,
            subtract,
            signature: Signature::one_of(signatures, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for DateArithmetic {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        arg_types.first().cloned().ok_or_else(|| {
            DataFusionError::Plan(format!("{} expects a date or timestamp", self.name))
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [time, interval] = arrays.as_slice() else {
            return Err(DataFusionError::Plan(format!(
                "{} expects 2 arguments, got {}",
                self.name,
                arrays.len()
            )));
        };
        let result = if self.subtract {
            numeric::sub(time, interval)?
        } else {
            numeric::add(time, interval)?
        };
        Ok(ColumnarValue::Array(result))
    }
}

/// `timezone()`; see the module docs.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TimezoneFunction {
    signature: Signature,
}

impl ScalarUDFImpl for TimezoneFunction {
    fn name(&self) -> &str {
        "timezone"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8View)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let zone = session_time_zone(&args.config_options);
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8View(Some(zone))))
    }
}

/// The functions, to register in a session.
pub fn functions() -> Vec<Arc<ScalarUDF>> {
    vec![
        Arc::new(ScalarUDF::from(DateArithmetic::new("date_add", false))),
        Arc::new(ScalarUDF::from(DateArithmetic::new("date_sub", true))),
        Arc::new(ScalarUDF::from(TimezoneFunction {
            signature: Signature::nullary(Volatility::Stable),
        })),
    ]
}
