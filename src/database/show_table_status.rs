//! `SHOW TABLE STATUS [LIKE 'pattern' | WHERE expr]`: MySQL's 18 table-status columns, as GreptimeDB
//! answers them over its MySQL protocol (`Name`, `Engine`, ..., `Comment`), one row per table
//! and view, sorted by name.
//!
//! Figures come from the region's current version, without I/O: `Rows` counts the rows of
//! the memtables and SSTs before deduplication (an estimate, as InnoDB's is: overwritten and
//! deleted rows count until compaction drops them), `Data_length` is the SSTs' bytes on
//! storage (rows not yet flushed live in the WAL and the memtable, and count only in `Rows`),
//! `Avg_row_length` the SSTs' bytes per SST row.
//! `Create_time` is the catalog's creation time in UTC (`YYYY-MM-DD HH:MM:SS`);
//! `Create_options` the table's `WITH` options as `key='value'` pairs; `Comment` the table's
//! `comment` option. A view has only `Name` and `Comment` = `VIEW` (as in MySQL). Columns
//! that have no meaning here (`Max_data_length`, `Index_length`, `Data_free`,
//! `Auto_increment`, `Update_time`, `Check_time`, `Checksum`) are empty.

use super::{Database, Output};
use crate::catalog::{COMMENT_OPTION, Table};
use crate::error::Result;
use crate::query::show;

/// MySQL's `SHOW TABLE STATUS` columns, in order.
const STATUS_COLUMNS: [&str; 18] = [
    "Name",
    "Engine",
    "Version",
    "Row_format",
    "Rows",
    "Avg_row_length",
    "Data_length",
    "Max_data_length",
    "Index_length",
    "Data_free",
    "Auto_increment",
    "Create_time",
    "Update_time",
    "Check_time",
    "Collation",
    "Checksum",
    "Create_options",
    "Comment",
];

/// A table's region now: rows of its memtables and SSTs (before deduplication), and rows and
/// bytes (on storage) of its SSTs alone.
struct Extent {
    rows: u64,
    sst_rows: u64,
    sst_bytes: u64,
}

fn extent(table: &Table) -> Extent {
    let version = table.region.version();
    let memtables = std::iter::once(&version.mutable).chain(version.immutables.iter());
    let memtable_rows: u64 = memtables.map(|m| m.num_rows() as u64).sum();
    let (mut sst_rows, mut sst_bytes) = (0u64, 0u64);
    for file in version.files.values() {
        sst_rows += file.meta().num_rows;
        sst_bytes += file.meta().file_size_bytes;
    }
    Extent {
        rows: memtable_rows + sst_rows,
        sst_rows,
        sst_bytes,
    }
}

/// `created_at_ms` (ms since the Unix epoch) as `YYYY-MM-DD HH:MM:SS` in UTC; empty if out of
/// chrono's range.
fn create_time(created_at_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(created_at_ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// One table's status row.
fn table_row(table: &Table) -> Vec<String> {
    let extent = extent(table);
    let average = extent.sst_bytes.checked_div(extent.sst_rows).unwrap_or(0);
    let options: Vec<String> = table
        .info
        .options
        .iter()
        .filter(|(key, _)| key.as_str() != COMMENT_OPTION)
        .map(|(key, value)| format!("{key}='{}'", value.replace('\'', "''")))
        .collect();
    let mut row = vec![String::new(); STATUS_COLUMNS.len()];
    row[0] = table.name.clone();
    row[1] = "mito".to_string();
    row[2] = "11".to_string();
    row[3] = "Fixed".to_string();
    row[4] = extent.rows.to_string();
    row[5] = average.to_string();
    row[6] = extent.sst_bytes.to_string();
    row[7] = "0".to_string();
    row[8] = "0".to_string();
    row[9] = "0".to_string();
    row[11] = create_time(table.info.created_at_ms);
    row[14] = "utf8_bin".to_string();
    row[16] = options.join(" ");
    row[17] = table
        .info
        .options
        .get(COMMENT_OPTION)
        .cloned()
        .unwrap_or_default();
    row
}

/// Columns holding numbers (MySQL's integer columns): a `WHERE` compares them as numbers.
const NUMERIC_COLUMNS: [usize; 9] = [2, 4, 5, 6, 7, 8, 9, 10, 15];

/// The rows of `rows` (in `STATUS_COLUMNS` order) for which `filter` holds. The condition is
/// planned by DataFusion over a typed copy: lower-case column names (unquoted names are
/// normalized to lower case, so `Name`, `ROWS` work as in MySQL), the numeric columns as
/// `UInt64`, empty cells as NULL.
///
/// # Errors
/// [`Error::Query`] for a condition that does not plan or evaluate (e.g. an unknown column).
async fn filter_rows(rows: Vec<Vec<String>>, filter: &str) -> Result<Vec<Vec<String>>> {
    use arrow::array::{ArrayRef, StringArray, UInt64Array};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (i, name) in STATUS_COLUMNS.iter().enumerate() {
        let cells = rows.iter().map(|r| r.get(i).filter(|c| !c.is_empty()));
        if NUMERIC_COLUMNS.contains(&i) {
            fields.push(Field::new(name.to_lowercase(), DataType::UInt64, true));
            let values: UInt64Array = cells.map(|c| c.and_then(|c| c.parse().ok())).collect();
            columns.push(Arc::new(values));
        } else {
            fields.push(Field::new(name.to_lowercase(), DataType::Utf8, true));
            let values: StringArray = cells.collect();
            columns.push(Arc::new(values));
        }
    }
    fields.push(Field::new("__row", DataType::UInt64, false));
    columns.push(Arc::new(UInt64Array::from_iter_values(
        0..rows.len() as u64,
    )));
    let schema = Arc::new(Schema::new(fields));
    let batch = arrow::array::RecordBatch::try_new(schema.clone(), columns)?;
    let ctx = datafusion::prelude::SessionContext::new();
    let table = datafusion::datasource::MemTable::try_new(schema, vec![vec![batch]])?;
    ctx.register_table("table_status", Arc::new(table))?;
    let selected = ctx
        .sql(&format!("SELECT __row FROM table_status WHERE {filter}"))
        .await?
        .collect()
        .await?;
    let mut keep = vec![false; rows.len()];
    for batch in &selected {
        if let Some(indexes) = batch.column(0).as_any().downcast_ref::<UInt64Array>() {
            for index in indexes.iter().flatten() {
                if let Some(k) = keep.get_mut(index as usize) {
                    *k = true;
                }
            }
        }
    }
    Ok(rows
        .into_iter()
        .zip(keep)
        .filter_map(|(row, keep)| keep.then_some(row))
        .collect())
}

impl Database {
    /// `SHOW TABLE STATUS [LIKE 'pattern' | WHERE expr]`: see the module docs.
    ///
    /// # Errors
    /// A `WHERE` condition that does not plan or evaluate; otherwise only an Arrow error
    /// building the result (not expected).
    pub(super) async fn show_table_status(
        &self,
        like: Option<&str>,
        filter: Option<&str>,
    ) -> Result<Output> {
        let matches = |name: &str| like.is_none_or(|pattern| show::like_matches(pattern, name));
        let mut rows: Vec<Vec<String>> = self
            .catalog
            .tables()
            .iter()
            .filter(|t| matches(&t.name))
            .map(table_row)
            .collect();
        for (name, _) in self.catalog.views() {
            if matches(&name) {
                let mut row = vec![String::new(); STATUS_COLUMNS.len()];
                row[0] = name;
                row[17] = "VIEW".to_string();
                rows.push(row);
            }
        }
        rows.sort_by(|a, b| a[0].cmp(&b[0]));
        if let Some(filter) = filter {
            rows = filter_rows(rows, filter).await?;
        }
        Ok(Output::records(show::string_table(&STATUS_COLUMNS, &rows)?))
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::AsArray;

    use crate::{Database, Output};

    /// The status row of `table` as strings, by column name.
    async fn status(db: &Database, table: &str) -> Vec<(String, String)> {
        let sql = format!("SHOW TABLE STATUS LIKE '{table}'");
        let Output::Records { schema, batches } = db.execute(&sql).await.unwrap() else {
            panic!("SHOW TABLE STATUS returns rows");
        };
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
        let batch = &batches[0];
        schema
            .fields()
            .iter()
            .zip(batch.columns())
            .map(|(f, c)| (f.name().clone(), c.as_string::<i32>().value(0).to_string()))
            .collect()
    }

    fn value<'a>(row: &'a [(String, String)], name: &str) -> &'a str {
        &row.iter().find(|(n, _)| n == name).unwrap().1
    }

    /// Rows and Data_length follow writes, flushes and compaction: Data_length is the bytes
    /// of the table's SST files on disk.
    #[tokio::test]
    async fn rows_and_data_length_follow_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).await.unwrap();
        db.execute("CREATE TABLE t (host STRING PRIMARY KEY, ts TIMESTAMP TIME INDEX, v DOUBLE)")
            .await
            .unwrap();
        for batch in 0..2 {
            let values: Vec<String> = (0..50)
                .map(|i| format!("('h{}', {}, {i}.5)", i % 5, batch * 1000 + i))
                .collect();
            let sql = format!("INSERT INTO t VALUES {}", values.join(", "));
            db.execute(&sql).await.unwrap();
            let row = status(&db, "t").await;
            assert_eq!(value(&row, "Rows"), ((batch + 1) * 50).to_string());
            db.execute("ADMIN flush_table('t')").await.unwrap();
        }
        // An overwrite counts until compaction merges it away.
        db.execute("INSERT INTO t VALUES ('h0', 0, 9.0)")
            .await
            .unwrap();
        db.execute("ADMIN flush_table('t')").await.unwrap();
        assert_eq!(value(&status(&db, "t").await, "Rows"), "101");
        db.execute("ADMIN compact_table('t')").await.unwrap();
        let row = status(&db, "t").await;
        assert_eq!(value(&row, "Rows"), "100");
        // WHERE compares the numeric columns as numbers: "100" < "99" as text.
        for (filter, tables) in [("Rows > 99", 1), ("Rows < 99", 0), ("ROWS = 100", 1)] {
            let sql = format!("SHOW TABLE STATUS WHERE {filter}");
            let Output::Records { batches, .. } = db.execute(&sql).await.unwrap() else {
                panic!("SHOW TABLE STATUS returns rows");
            };
            let found: usize = batches.iter().map(|b| b.num_rows()).sum();
            assert_eq!(found, tables, "{filter}");
        }
        // Closing waits for the compacted inputs' deletion: what is left on disk is the live SSTs.
        db.close().await.unwrap();
        let on_disk: u64 = walk(dir.path())
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
            .map(|p| std::fs::metadata(p).unwrap().len())
            .sum();
        assert!(on_disk > 0);
        assert_eq!(value(&row, "Data_length"), on_disk.to_string());
        assert_eq!(value(&row, "Avg_row_length"), (on_disk / 100).to_string());
        assert_eq!(value(&row, "Engine"), "mito");
    }

    /// Every file under `dir`.
    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
        out
    }
}
