//! Session statements: `SET time_zone` and `SHOW VARIABLES` (GreptimeDB's syntax and
//! output, `tests/cases/standalone/common/system/timezone.result`).
//!
//! A [`Database`] is one session: the zone set here applies to every later statement of
//! every caller, until changed (it is not persisted across opens).

use std::sync::Arc;

use arrow::array::{RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};

use super::{Database, Output};
use crate::error::{Error, Result};
use crate::query::time_zone::{DEFAULT_TIME_ZONE, parse_time_zone, session_time_zone};

impl Database {
    /// `SET time_zone = 'zone'`: validates and stores the zone in the session's
    /// `datafusion.execution.time_zone`.
    ///
    /// # Errors
    /// An invalid zone (`Invalid time zone ...`).
    pub(super) fn set_time_zone(&self, value: &str) -> Result<Output> {
        let zone = parse_time_zone(value)?;
        let state = self.ctx.state_ref();
        state.write().config_mut().options_mut().execution.time_zone = Some(zone);
        Ok(Output::AffectedRows(0))
    }

    /// The session time zone (`UTC` if none was set).
    pub fn time_zone(&self) -> String {
        session_time_zone(self.ctx.state_ref().read().config_options())
    }

    /// `SHOW VARIABLES time_zone | system_time_zone`: one row, one column named after the
    /// variable in upper case.
    ///
    /// # Errors
    /// Any other variable.
    pub(super) fn show_variables(&self, name: &str) -> Result<Output> {
        let value = match name {
            "time_zone" => self.time_zone(),
            "system_time_zone" => std::env::var("TZ")
                .ok()
                .and_then(|tz| parse_time_zone(&tz).ok())
                .unwrap_or_else(|| DEFAULT_TIME_ZONE.to_string()),
            other => {
                return Err(Error::Unsupported {
                    statement: "SHOW VARIABLES",
                    reason: format!(
                        "unknown variable '{other}'; supported: time_zone, system_time_zone"
                    ),
                });
            }
        };
        let schema = Arc::new(Schema::new(vec![Field::new(
            name.to_uppercase(),
            DataType::Utf8,
            false,
        )]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(StringArray::from(vec![value]))],
        )?;
        Ok(Output::Records {
            schema,
            batches: vec![batch],
        })
    }
}
