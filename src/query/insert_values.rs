//! A fast path for `INSERT INTO t [(columns)] VALUES (literal, ...), ...` into a tsdb table.
//!
//! Planning a 1,000-row `VALUES` list through DataFusion (literal expressions, type coercion,
//! the optimizer's simplifier) costs far more than writing the rows. This path turns the
//! literals straight into Arrow arrays with the same typing DataFusion gives a `VALUES` list
//! (each column: all strings -> Utf8, all integers -> Int64, numbers with a fraction or
//! exponent -> Float64, booleans -> Boolean) and then casts them to the table's types with
//! [`conform_batch`], the cast and NULL checks the DataFusion insert sink also uses.
//!
//! Anything else (expressions, mixed literal kinds in a column, omitted columns that have a
//! `DEFAULT`, `ON CONFLICT`, unknown tables or columns, ...) is left to DataFusion: [`plan`]
//! returns `None` and the caller takes the general path, which also produces the errors.

use std::sync::Arc;

use crate::engine::region::RegionRef;
use crate::query::error::Error;
use crate::query::sink::conform_batch;
use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::array::{RecordBatchOptions, new_null_array};
use arrow::datatypes::{DataType, Field, Schema};

mod scanner;

use scanner::{Literal, Scanner};

/// A parsed `INSERT ... VALUES` ready to write: the rows in the table's schema.
#[derive(Debug)]
pub struct ValuesInsert {
    /// The target region.
    pub region: RegionRef,
    /// The rows, conformed to the table schema.
    pub batch: RecordBatch,
}

/// Plans `sql` if it is a plain `INSERT ... VALUES` of literals into a table `lookup` finds
/// (by its normalized name). `None` means "use the general path"; `Some(Err)` is a cast or
/// NULL error in the rows, as the general path would report it.
pub fn plan(
    sql: &str,
    lookup: impl Fn(&str) -> Option<RegionRef>,
    time_zone: &str,
) -> Option<Result<ValuesInsert, Error>> {
    // Cheap test first: only INSERT statements are tokenized here.
    let start = sql.trim_start();
    if !start.get(..6)?.eq_ignore_ascii_case("insert") {
        return None;
    }
    // A byte scanner, not sqlparser's tokens or AST: tokenizing a 1,000-row INSERT was a
    // third of SQL-script ingest, and the parser's typed-string attempt on every literal a
    // fifth before that (docs/BENCHMARKS.md).
    let mut scanner = Scanner::new(sql);
    let head = scanner.head()?;
    let region = lookup(&head.table)?;
    let metadata = region.metadata();

    // Target columns: the list given, else every column in table order.
    let targets: Vec<usize> = match &head.columns {
        None => (0..metadata.columns.len()).collect(),
        Some(columns) => {
            let mut targets = Vec::with_capacity(columns.len());
            for name in columns {
                let index = metadata.columns.iter().position(|c| &c.name == name)?;
                if targets.contains(&index) {
                    return None;
                }
                targets.push(index);
            }
            targets
        }
    };
    // Omitted columns become NULL, unless they have a DEFAULT (or are the time index).
    for (index, column) in metadata.columns.iter().enumerate() {
        if !targets.contains(&index) && (column.default.is_some() || index == metadata.time_index) {
            return None;
        }
    }
    let literals = scanner.rows(targets.len())?;
    let num_rows = literals.first().map_or(0, Vec::len);
    if num_rows == 0 {
        return None;
    }

    let table = head.table;
    let table_schema = metadata.arrow_schema();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(metadata.columns.len());
    let mut fields = Vec::with_capacity(metadata.columns.len());
    for (index, field) in table_schema.fields().iter().enumerate() {
        let array = match targets.iter().position(|&t| t == index) {
            Some(position) => {
                local_timestamps(values_array(&literals[position])?, field, time_zone)?
            }
            None => new_null_array(field.data_type(), num_rows),
        };
        fields.push(Field::new(field.name(), array.data_type().clone(), true));
        columns.push(array);
    }
    let options = RecordBatchOptions::new().with_row_count(Some(num_rows));
    let input =
        RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), columns, &options).ok()?;
    Some(
        conform_batch(&table, &metadata, &table_schema, &input)
            .map(|batch| ValuesInsert { region, batch }),
    )
}

/// Strings for a timestamp column read as wall-clock time in the session zone `time_zone`
/// (unless they carry an offset), as GreptimeDB reads them; `None` if one does not parse
/// (the general path then reports it). Other arrays, and any array under UTC, unchanged.
fn local_timestamps(array: ArrayRef, field: &Field, time_zone: &str) -> Option<ArrayRef> {
    let DataType::Timestamp(unit, _) = field.data_type() else {
        return Some(array);
    };
    if crate::query::time_zone::is_utc(time_zone) {
        return Some(array);
    }
    let Some(strings) = array.as_any().downcast_ref::<StringArray>() else {
        return Some(array);
    };
    let mut values = Vec::with_capacity(arrow::array::Array::len(strings));
    for text in strings.iter() {
        values.push(match text {
            None => None,
            Some(text) => Some(crate::query::time_zone::parse_local_timestamp(
                text, time_zone, *unit,
            )?),
        });
    }
    arrow::compute::cast(&Int64Array::from(values), field.data_type()).ok()
}

/// The column's literals as the array DataFusion would type a `VALUES` column with; `None`
/// for mixed kinds (DataFusion's coercion rules then apply).
fn values_array(literals: &[Literal<'_>]) -> Option<ArrayRef> {
    let kind = literals.iter().find(|l| !matches!(l, Literal::Null));
    Some(match kind {
        None => new_null_array(&DataType::Null, literals.len()),
        Some(Literal::String(_)) => Arc::new(collect::<StringArray, _>(literals, |l| match l {
            Literal::String(text) => Some(text.as_ref()),
            _ => None,
        })?),
        Some(Literal::Boolean(_)) => Arc::new(collect::<BooleanArray, _>(literals, |l| match l {
            Literal::Boolean(value) => Some(*value),
            _ => None,
        })?),
        Some(Literal::Number { .. }) => {
            match collect::<Int64Array, _>(literals, |l| match l {
                Literal::Number { negative, text } => {
                    let value: i64 = text.parse().ok()?;
                    if *negative {
                        value.checked_neg()
                    } else {
                        Some(value)
                    }
                }
                _ => None,
            }) {
                Some(integers) => Arc::new(integers),
                None => Arc::new(collect::<Float64Array, _>(literals, |l| match l {
                    // An integer beyond i64 is a decimal to DataFusion: not ours.
                    Literal::Number { text, .. } if !text.contains(['.', 'e', 'E']) => None,
                    Literal::Number { negative, text } => {
                        let value: f64 = text.parse().ok()?;
                        Some(if *negative { -value } else { value })
                    }
                    _ => None,
                })?),
            }
        }
        Some(Literal::Null) => return None,
    })
}

/// Collects `literals` into an array: NULL stays NULL, anything else goes through `value`
/// (`None` from it, a literal of another kind, gives up on the whole column).
fn collect<'b, 'a: 'b, A, T>(
    literals: &'b [Literal<'a>],
    value: impl Fn(&'b Literal<'a>) -> Option<T>,
) -> Option<A>
where
    A: FromIterator<Option<T>>,
{
    literals
        .iter()
        .map(|literal| match literal {
            Literal::Null => Some(None),
            other => value(other).map(Some),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use arrow::util::pretty::pretty_format_batches;

    use crate::{Database, Output};

    async fn dump(db: &Database, table: &str) -> String {
        let sql = format!("SELECT * FROM {table} ORDER BY host, ts");
        match db.execute(&sql).await.expect("select") {
            Output::Records { batches, .. } => {
                pretty_format_batches(&batches).expect("format").to_string()
            }
            Output::AffectedRows(_) => panic!("no rows"),
        }
    }

    /// The fast path stores exactly what DataFusion's planner stores for the same VALUES.
    #[tokio::test]
    async fn same_rows_as_the_general_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Database::open(dir.path()).await.expect("open");
        for table in ["fast", "general"] {
            db.execute(&format!(
                "CREATE TABLE {table} (host STRING, ts TIMESTAMP TIME INDEX, v DOUBLE, \
                 n BIGINT, ok BOOLEAN, PRIMARY KEY (host))"
            ))
            .await
            .expect("create");
        }
        let lists = [
            "('a', '2016-01-01 00:00:00', 1, 2, true)",
            "('b', '2016-01-01 00:00:02', -1.5, -3, NULL), ('c', '2016-01-01T00:00:01Z', 2.5e3, NULL, false)",
            "('e', 1000, 1, 1.5, NULL)",
            "('d', 5, '7.25', 4, 'true'), (NULL, 6, NULL, NULL, NULL)",
            "('a', '2016-01-01 00:00:00', 10, 20, false)",
            "('it''s ä', '2016-01-01 00:00:03', .5, - 4, NULL) /* c */, ('f', '2016-01-01 00:00:04', 1., 5, TRUE)",
        ];
        for list in lists {
            let fast = format!("INSERT INTO fast VALUES {list}");
            let metadata_lookup = |name: &str| db.catalog().table(name).map(|t| t.region);
            assert!(
                super::plan(&fast, metadata_lookup, "UTC").is_some(),
                "{fast}"
            );
            db.execute(&fast).await.expect("fast insert");
            db.execute(&format!(
                "INSERT INTO general SELECT * FROM (VALUES {list})"
            ))
            .await
            .expect("general insert");
        }
        assert_eq!(dump(&db, "fast").await, dump(&db, "general").await);

        // Left to DataFusion: expressions, mixed kinds, missing time index, unknown table,
        // other statements; a NULL time index is an error either way.
        let lookup = |name: &str| db.catalog().table(name).map(|t| t.region);
        for sql in [
            "INSERT INTO fast VALUES ('x', now(), 1, 2, true)",
            "INSERT INTO fast VALUES ('x', 1, 'a', 2, true), ('y', 2, 3, 2, true)",
            "INSERT INTO fast (host, v) VALUES ('x', 1)",
            "INSERT INTO nope VALUES (1)",
            "INSERT INTO fast VALUES ('x', 99999999999999999999, 1, 2, true)",
            "INSERT INTO fast VALUES ('x', 1, 1, 2, true) RETURNING host",
            "INSERT INTO fast VALUES ('x', 1, 1, 2, true) ON CONFLICT DO NOTHING",
            "INSERT INTO fast SELECT 'x', 1, 1, 2, true",
            "INSERT INTO fast VALUES ('x', 1, 1, 2, true) ('y', 2, 1, 2, true)",
            "INSERT INTO fast VALUES ('x', 1, 1 + 1, 2, true)",
            "INSERT INTO other.fast VALUES ('x', 1, 1, 2, true)",
            "SELECT 1",
        ] {
            assert!(super::plan(sql, lookup, "UTC").is_none(), "{sql}");
        }
        // Column lists, a `public` qualifier, quoting, comments and the closing `;` are ours.
        for sql in [
            "INSERT INTO public.fast (ts, host, v, n, ok) VALUES (7, 'q', 1, 2, true);",
            "insert into \"fast\" (\"host\", ts, v, n, ok) -- note\n VALUES ('q', 8, 1, 2, true)",
        ] {
            assert!(
                matches!(super::plan(sql, lookup, "UTC"), Some(Ok(_))),
                "{sql}"
            );
        }
        let null_ts = "INSERT INTO fast VALUES ('x', NULL, 1, 2, true)";
        assert!(matches!(super::plan(null_ts, lookup, "UTC"), Some(Err(_))));
        assert!(db.execute(null_ts).await.is_err());
        db.close().await.expect("close");
    }
}
