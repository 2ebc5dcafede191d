//! Gap filling as InfluxDB 3 does it: `date_bin_gapfill`, `locf`, `interpolate`.
//!
//! ```sql
//! SELECT host, date_bin_gapfill(INTERVAL '1 minute', ts) AS minute,
//!        locf(avg(cpu)), interpolate(max(mem)), count(*)
//! FROM t WHERE ts >= '2024-01-01T00:00:00' AND ts < '2024-01-01T01:00:00'
//! GROUP BY host, minute
//! ```
//!
//! returns, for every series (`host`) that has rows in the range, one row per minute of the
//! range: aggregates of minutes without rows are NULL (`count` 0), `locf` carries the last
//! non-NULL value forward, `interpolate` draws a straight line between non-NULL neighbours.
//!
//! - [`udf`]: the marker functions, registered in the session; never evaluated.
//! - [`rule`]: the analyzer rule that replaces them by a [`node::GapFill`] node above the
//!   aggregate (after type coercion).
//! - [`node`]: the logical node, and the query planner that plans it as [`exec::GapFillExec`].
//! - [`exec`]: the physical operator and its per-partition stream.
//! - [`algo`]: the filling of one series, independent of DataFusion's plans.
//!
//! Design after InfluxDB 3 (`influxdata/influxdb3_core`: `iox_query/src/analyzer/
//! handle_gapfill.rs`, `iox_query/src/exec/gapfill/`, `query_functions/src/gapfill.rs`).

pub mod algo;
pub mod exec;
pub mod node;
pub mod rule;
pub mod udf;

#[cfg(test)]
mod tests;
