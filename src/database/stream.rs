//! Streaming results: [`OutputStream`] is what [`crate::Database::execute_stream`] returns,
//! the incremental twin of [`Output`]. A query's batches arrive as DataFusion produces them
//! (the plan runs while the caller polls; bounded channels between the region scan and the
//! consumer keep at most a few batches per partition in memory), instead of being collected
//! first. Dropping the stream cancels the query. Modelled on DataFusion's
//! `DataFrame::execute_stream` (`datafusion/core/src/dataframe/mod.rs`).

use std::pin::Pin;
use std::task::{Context, Poll};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::execution::SendableRecordBatchStream;
use futures::stream::{BoxStream, Stream, StreamExt};

use crate::Progress;
use crate::database::{Database, Output, PlanKind};
use crate::error::{Error, Result};
use crate::sql::Statement;

impl Database {
    /// Executes one SQL statement like [`Database::execute`], but returns a query's rows as a
    /// stream ([`OutputStream::Records`]) that runs the plan while it is polled, instead of
    /// collecting every batch first: memory stays bounded for `SELECT *` of a large table.
    /// Statements other than DataFusion queries (DDL, SHOW, DESC, INSERT, COPY) run to
    /// completion here and their result is wrapped. Dropping the stream cancels the query.
    ///
    /// # Errors
    /// Parse and planning errors here; execution errors as items of the stream.
    pub async fn execute_stream(&self, sql: &str) -> Result<OutputStream> {
        self.execute_stream_with_progress(sql, &Progress::new())
            .await
    }

    /// [`Database::execute_stream`] reporting to `progress` (see
    /// [`Database::execute_with_progress`]).
    ///
    /// # Errors
    /// As [`Database::execute_stream`].
    pub async fn execute_stream_with_progress(
        &self,
        sql: &str,
        progress: &Progress,
    ) -> Result<OutputStream> {
        let statement = crate::sql::parse_statement(sql)?;
        self.execute_statement_stream_with_progress(statement, progress)
            .await
    }

    /// [`Database::execute_stream_with_progress`] of a parsed statement (the shell parses
    /// first to know whether a statement may be cancelled).
    ///
    /// # Errors
    /// As [`Database::execute_stream`].
    pub async fn execute_statement_stream_with_progress(
        &self,
        statement: Statement,
        progress: &Progress,
    ) -> Result<OutputStream> {
        match statement {
            Statement::Query(text) => match self.insert_values(&text).await {
                Some(output) => output.map(OutputStream::from),
                None => {
                    let planned = self.plan_query(&text, progress).await?;
                    match planned.kind {
                        PlanKind::Rows => {
                            let stream = datafusion::physical_plan::execute_stream(
                                planned.physical,
                                planned.task_ctx,
                            )?;
                            Ok(OutputStream::Records(ResultStream::from_datafusion(
                                planned.schema,
                                stream,
                            )))
                        }
                        _ => planned.run().await.map(OutputStream::from),
                    }
                }
            },
            statement => self
                .execute_statement_with_progress(statement, progress)
                .await
                .map(OutputStream::from),
        }
    }
}

/// What one statement produced, with rows as a stream.
pub enum OutputStream {
    /// A result set; see [`ResultStream`].
    Records(ResultStream),
    /// A statement that returns no rows (DDL, INSERT, DELETE, ADMIN): rows affected.
    AffectedRows(u64),
}

impl std::fmt::Debug for OutputStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutputStream::Records(stream) => {
                f.debug_tuple("Records").field(&stream.schema()).finish()
            }
            OutputStream::AffectedRows(n) => f.debug_tuple("AffectedRows").field(n).finish(),
        }
    }
}

impl OutputStream {
    /// Collects the stream into an [`Output`] (what [`crate::Database::execute`] returns).
    ///
    /// # Errors
    /// The first error the stream yields.
    pub async fn collect(self) -> Result<Output> {
        match self {
            OutputStream::AffectedRows(n) => Ok(Output::AffectedRows(n)),
            OutputStream::Records(stream) => {
                let schema = stream.schema();
                let batches = futures::TryStreamExt::try_collect(stream).await?;
                Ok(Output::Records { schema, batches })
            }
        }
    }
}

impl From<Output> for OutputStream {
    /// An already computed result as a stream (statements tsdb executes itself: SHOW, DESC).
    fn from(output: Output) -> Self {
        match output {
            Output::AffectedRows(n) => OutputStream::AffectedRows(n),
            Output::Records { schema, batches } => {
                let stream = futures::stream::iter(batches.into_iter().map(Ok)).boxed();
                OutputStream::Records(ResultStream { schema, stream })
            }
        }
    }
}

/// Result batches of one query, all with the schema [`ResultStream::schema`] (also known when
/// there are no rows). `Send + 'static`: it may be moved to another task. Items are
/// `Result<RecordBatch>`; after an error the stream should not be polled again.
pub struct ResultStream {
    schema: SchemaRef,
    stream: BoxStream<'static, Result<RecordBatch>>,
}

impl ResultStream {
    /// Wraps a DataFusion stream; its errors become [`Error`] (tsdb's own errors that went
    /// through DataFusion are recovered, as in `execute`).
    pub(crate) fn from_datafusion(schema: SchemaRef, stream: SendableRecordBatchStream) -> Self {
        let stream = stream.map(|item| item.map_err(Error::from)).boxed();
        ResultStream { schema, stream }
    }

    /// Schema of every batch.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

impl std::fmt::Debug for ResultStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultStream")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl Stream for ResultStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.stream.poll_next_unpin(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn affected(db: &Database, sql: &str) -> u64 {
        match db.execute_stream(sql).await {
            Ok(OutputStream::AffectedRows(n)) => n,
            other => panic!("{sql}: {other:?}"),
        }
    }

    /// The first batch arrives while the scan has produced only part of the table: the rows
    /// are not collected before the caller sees them.
    #[tokio::test]
    async fn query_rows_arrive_before_the_scan_ends() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).await.unwrap();
        affected(
            &db,
            "CREATE TABLE t (host STRING, ts TIMESTAMP TIME INDEX, v BIGINT, PRIMARY KEY (host))",
        )
        .await;
        let n = affected(
            &db,
            "INSERT INTO t SELECT 'h' || CAST(value % 5 AS VARCHAR), \
             to_timestamp_millis(value), value FROM range(0, 250000)",
        )
        .await;
        assert_eq!(n, 250_000);
        db.execute("ADMIN flush_table('t')").await.unwrap();

        let progress = Progress::new();
        let out = db
            .execute_stream_with_progress("SELECT * FROM t", &progress)
            .await
            .unwrap();
        let OutputStream::Records(mut stream) = out else {
            panic!("expected records, got {out:?}");
        };
        assert_eq!(stream.schema().fields().len(), 3);
        let first = stream.next().await.unwrap().unwrap();
        assert!(first.num_rows() > 0);
        let read = progress.snapshot().unwrap().rows;
        assert!(read < 250_000, "the scan had produced {read} rows");
        let mut total = first.num_rows();
        while let Some(batch) = stream.next().await {
            total += batch.unwrap().num_rows();
        }
        assert_eq!(total, 250_000);

        // Dropping a stream early cancels the query; the database stays usable.
        let out = db.execute_stream("SELECT * FROM t").await.unwrap();
        drop(out);
        // Other statements are run and wrapped.
        assert_eq!(affected(&db, "INSERT INTO t VALUES ('x', 1, 1)").await, 1);
        let Output::Records { batches, .. } = db
            .execute_stream("SHOW TABLES")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap()
        else {
            panic!("SHOW TABLES has rows");
        };
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
        let Output::Records { batches, .. } = db
            .execute_stream("SELECT count(*) FROM t WHERE host = 'x'")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap()
        else {
            panic!("count has rows");
        };
        assert_eq!(batches[0].num_rows(), 1);
        // Planning errors come back directly.
        let err = db.execute_stream("SELECT nope FROM t").await.unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
        db.close().await.unwrap();
    }
}
