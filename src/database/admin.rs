//! `ADMIN flush_table('t')`, `ADMIN compact_table('t')`, `ADMIN flush_region(id)`,
//! `ADMIN compact_region(id)`. As in GreptimeDB (e.g. its sqlness
//! `tests/cases/standalone/common/delete/delete.result`), the result is one row, one `UInt64`
//! column named after the call (`ADMIN flush_table('monitor')`), value `0`.
//!
//! Region ids are GreptimeDB's: `(table_id << 32) | region_number`, which is tsdb's
//! [`RegionId`]; a tsdb table has one region, number 0, so table 1's region is `4294967296`.

use std::sync::Arc;

use arrow::array::{RecordBatch, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};

use super::{Database, Output, bare};
use crate::engine::metadata::RegionId;
use crate::error::{Error, Result};
use crate::sql::AdminFunction;

impl Database {
    /// Runs an `ADMIN` function.
    ///
    /// # Errors
    /// [`Error::TableNotFound`] for a missing table; [`Error::Unsupported`] for a table tsdb
    /// does not store or a region id no table has; engine errors of the flush or compaction.
    pub(super) async fn admin(&self, function: AdminFunction) -> Result<Output> {
        let (region, flush) = match &function {
            AdminFunction::FlushTable { table } | AdminFunction::CompactTable { table } => {
                let Some(found) = self.catalog.table(table) else {
                    if self.ctx.table_exist(bare(table))? {
                        return Err(Error::Unsupported {
                            statement: "ADMIN",
                            reason: format!("table '{table}' is not stored by tsdb"),
                        });
                    }
                    return Err(Error::TableNotFound {
                        name: table.clone(),
                    });
                };
                (
                    found.region,
                    matches!(function, AdminFunction::FlushTable { .. }),
                )
            }
            AdminFunction::FlushRegion { region_id }
            | AdminFunction::CompactRegion { region_id } => {
                let id = RegionId(*region_id);
                let Some(found) = self
                    .catalog
                    .tables()
                    .into_iter()
                    .find(|t| t.info.region_ids.contains(&id))
                else {
                    return Err(Error::Unsupported {
                        statement: "ADMIN",
                        reason: format!(
                            "no table has region {region_id} (table {}, region number {}); \
                             region ids are (table_id << 32) | region_number, see \
                             information_schema.tables' table_id",
                            id.table_id(),
                            id.region_number()
                        ),
                    });
                };
                (
                    found.region,
                    matches!(function, AdminFunction::FlushRegion { .. }),
                )
            }
        };
        if flush {
            region.flush().await?;
        } else {
            region.compact().await?;
        }
        let schema = Arc::new(Schema::new(vec![Field::new(
            function.to_string(),
            DataType::UInt64,
            false,
        )]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(UInt64Array::from(vec![0u64]))],
        )?;
        Ok(Output::Records {
            schema,
            batches: vec![batch],
        })
    }
}
