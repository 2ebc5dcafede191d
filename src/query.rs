//! All DataFusion code: the table provider over regions, the scan plan, the write sinks,
//! time-filter extraction and error conversion. Nothing outside this module and
//! [`crate::database`] touches DataFusion's traits.

pub mod coercion;
pub mod copy;
pub mod dynamic_filter;
pub mod error;
pub mod field_filter;
pub mod gapfill;
pub mod insert_values;
pub mod last_row;
pub mod progress;
pub mod run_aggregate;
pub mod run_grouping;
pub mod scan_exec;
pub mod scan_plan;
pub mod session;
pub mod show;
pub mod sink;
pub mod table_provider;
pub mod tag_filter;
pub mod time_filter;
pub mod time_functions;
pub mod time_zone;
pub mod type_alias;

pub use error::Error;
pub use progress::{Progress, ProgressSnapshot};
pub use scan_exec::RegionScanExec;
pub use table_provider::TsdbTable;

#[cfg(test)]
mod plan_tests;
#[cfg(test)]
mod tests;
