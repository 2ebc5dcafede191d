use std::collections::BTreeMap;

use super::*;
use crate::engine::metadata::{ColumnDataType as T, SemanticType};
use crate::sql::statement::{AdminFunction, ColumnDef, CreateTable};

fn create(sql: &str) -> CreateTable {
    match parse_statement(sql) {
        Ok(Statement::CreateTable(create)) => create,
        other => panic!("{sql}: {other:?}"),
    }
}

/// The message of an `InvalidDdl` error.
fn ddl_error(sql: &str) -> String {
    match parse_statement(sql) {
        Err(Error::InvalidDdl { message }) => message,
        other => panic!("{sql}: expected InvalidDdl, got {other:?}"),
    }
}

/// Message, line and column of a `Parse` error.
fn parse_error(sql: &str) -> (String, u64, u64) {
    match parse_statement(sql) {
        Err(Error::Parse {
            message,
            line,
            column,
        }) => (message, line, column),
        other => panic!("{sql}: expected Parse, got {other:?}"),
    }
}

fn column_type(sql_type: &str) -> Result<T> {
    let sql = format!("CREATE TABLE t (ts TIMESTAMP TIME INDEX, c {sql_type})");
    parse_statement(&sql).map(|statement| match statement {
        Statement::CreateTable(create) => create.columns[1].data_type,
        other => panic!("{other:?}"),
    })
}

#[test]
fn create_table_full_example() {
    let table = create(
        "-- leading comment\n\
         create table if not exists Cpu (\n\
           host STRING,\n\
           \"Region\" STRING NOT NULL COMMENT 'where',\n\
           ts TIMESTAMP(3) NOT NULL,\n\
           usage_user DOUBLE NULL DEFAULT 0,\n\
           state STRING DEFAULT 'idle',\n\
           TIME INDEX (ts),\n\
           PRIMARY KEY (host, \"Region\"),\n\
         ) ENGINE = mito WITH (TTL = '7d', 'compaction.type' = 'twcs', append_mode = true, \
           write_buffer_size = 1024);",
    );
    let columns =
        |name: &str, data_type, semantic_type, nullable, default: Option<&str>| ColumnDef {
            name: name.into(),
            data_type,
            semantic_type,
            nullable,
            default: default.map(str::to_string),
            comment: None,
        };
    let mut region = columns("Region", T::String, SemanticType::Tag, false, None);
    region.comment = Some("where".into());
    assert_eq!(
        table,
        CreateTable {
            name: "cpu".into(),
            if_not_exists: true,
            columns: vec![
                columns("host", T::String, SemanticType::Tag, true, None),
                region,
                columns(
                    "ts",
                    T::TimestampMillisecond,
                    SemanticType::Timestamp,
                    false,
                    None
                ),
                columns(
                    "usage_user",
                    T::Float64,
                    SemanticType::Field,
                    true,
                    Some("0")
                ),
                columns(
                    "state",
                    T::String,
                    SemanticType::Field,
                    true,
                    Some("'idle'")
                ),
            ],
            time_index: 2,
            primary_key: vec![0, 1],
            engine: Some("mito".into()),
            options: BTreeMap::from([
                ("ttl".into(), "7d".into()),
                ("compaction.type".into(), "twcs".into()),
                ("append_mode".into(), "true".into()),
                ("write_buffer_size".into(), "1024".into()),
            ]),
        }
    );
}

#[test]
fn create_table_inline_keys_and_minimal_forms() {
    let table =
        create("CREATE TABLE `M` (h STRING PRIMARY KEY, ts TIMESTAMP TIME INDEX, v DOUBLE)");
    assert_eq!(table.name, "M");
    assert!(!table.if_not_exists);
    assert_eq!((table.time_index, table.primary_key.clone()), (1, vec![0]));
    assert_eq!(table.engine, None);
    assert!(table.options.is_empty());
    assert!(!table.columns[1].nullable, "time index is forced NOT NULL");
    assert_eq!(table.columns[2].semantic_type, SemanticType::Field);

    // No primary key at all; time index not first; schema-qualified names.
    let table = create("CREATE TABLE public.t (v INT, ts TIMESTAMP_NS NOT NULL TIME INDEX)");
    assert_eq!((table.name.as_str(), table.time_index), ("t", 1));
    assert!(table.primary_key.is_empty());
    assert_eq!(
        create("CREATE TABLE greptime.public.\"T\" (ts TIMESTAMP TIME INDEX)").name,
        "T"
    );
    let (message, _, _) = parse_error("CREATE TABLE other.t (ts TIMESTAMP TIME INDEX)");
    assert!(message.contains("'other.t'"), "{message}");
}

#[test]
fn default_expressions_keep_their_sql_text_function_calls_lower_cased() {
    let table = create(
        "CREATE TABLE t (ts TIMESTAMP DEFAULT CURRENT_TIMESTAMP TIME INDEX, a BIGINT DEFAULT -3 \
         NOT NULL, b TIMESTAMP DEFAULT now(), c TIMESTAMP DEFAULT current_timestamp(), d \
         BOOLEAN DEFAULT false, e DOUBLE DEFAULT 1.5 NULL)",
    );
    let defaults: Vec<_> = table.columns.iter().map(|c| c.default.as_deref()).collect();
    assert_eq!(
        defaults,
        [
            // GreptimeDB's normalisation (src/common/sql/src/default_constraint.rs).
            Some("current_timestamp()"),
            Some("-3"),
            Some("now()"),
            Some("current_timestamp()"),
            Some("false"),
            Some("1.5")
        ]
    );
    assert!(!table.columns[1].nullable);
    assert!(table.columns[5].nullable);
    let message = ddl_error("CREATE TABLE t (ts TIMESTAMP DEFAULT now TIME INDEX)");
    assert!(
        message.contains("'now'") && message.contains("'ts'"),
        "{message}"
    );
}

#[test]
fn type_names_and_aliases() {
    let cases = [
        ("STRING", T::String),
        ("varchar", T::String),
        ("VARCHAR(255)", T::String),
        ("CHAR", T::String),
        ("TEXT", T::String),
        ("TINYTEXT", T::String),
        ("MEDIUMTEXT", T::String),
        ("LONGTEXT", T::String),
        ("BOOLEAN", T::Boolean),
        ("BOOL", T::Boolean),
        ("TINYINT", T::Int8),
        ("TINYINT UNSIGNED", T::UInt8),
        ("SMALLINT", T::Int16),
        ("INT2", T::Int16),
        ("INT16", T::Int16),
        ("SMALLINT UNSIGNED", T::UInt16),
        ("INT", T::Int32),
        ("INTEGER", T::Int32),
        ("INT4", T::Int32),
        ("INT32", T::Int32),
        ("INT(11)", T::Int32),
        ("INT UNSIGNED", T::UInt32),
        ("BIGINT", T::Int64),
        ("INT8", T::Int64),
        ("INT64", T::Int64),
        ("BIGINT UNSIGNED", T::UInt64),
        ("UINT8", T::UInt8),
        ("UINT16", T::UInt16),
        ("UINT32", T::UInt32),
        ("UINT64", T::UInt64),
        ("FLOAT", T::Float32),
        ("FLOAT4", T::Float32),
        ("FLOAT32", T::Float32),
        ("DOUBLE", T::Float64),
        ("DOUBLE PRECISION", T::Float64),
        ("FLOAT8", T::Float64),
        ("FLOAT64", T::Float64),
        ("TIMESTAMP", T::TimestampMillisecond),
        ("TIMESTAMP(0)", T::TimestampSecond),
        ("TIMESTAMP(3)", T::TimestampMillisecond),
        ("TIMESTAMP(6)", T::TimestampMicrosecond),
        ("TIMESTAMP(9)", T::TimestampNanosecond),
        ("TIMESTAMP_S", T::TimestampSecond),
        ("TIMESTAMP_SEC", T::TimestampSecond),
        ("TimestampSecond", T::TimestampSecond),
        ("TIMESTAMP_MS", T::TimestampMillisecond),
        ("TIMESTAMP_US", T::TimestampMicrosecond),
        ("DATETIME", T::TimestampMicrosecond),
        ("TIMESTAMP_NS", T::TimestampNanosecond),
        ("date", T::Date),
        ("BINARY", T::Binary),
        ("VARBINARY", T::Binary),
        ("blob", T::Binary),
        ("LONGBLOB", T::Binary),
        ("BYTEA", T::Binary),
        ("json", T::Json),
    ];
    for (sql_type, expected) in cases {
        assert_eq!(column_type(sql_type), Ok(expected), "{sql_type}");
    }
}

#[test]
fn unsupported_and_invalid_types_name_the_type_and_column() {
    for (sql_type, shown) in [
        ("DECIMAL(10, 2)", "'DECIMAL(10,2)'"),
        ("INTERVAL", "'INTERVAL'"),
    ] {
        let Err(Error::InvalidDdl { message }) = column_type(sql_type) else {
            panic!("{sql_type} was accepted");
        };
        assert!(
            message.contains(shown) && message.contains("column 'c'"),
            "{message}"
        );
    }
    let Err(Error::InvalidDdl { message }) = column_type("TIMESTAMP(4)") else {
        panic!("TIMESTAMP(4) was accepted");
    };
    assert!(
        message.contains("precision 4") && message.contains("'c'"),
        "{message}"
    );
    assert!(matches!(
        column_type("DOUBLE UNSIGNED"),
        Err(Error::InvalidDdl { .. })
    ));
    assert!(matches!(
        column_type("BOOLEAN(1)"),
        Err(Error::InvalidDdl { .. })
    ));
    assert!(matches!(
        column_type("TIMESTAMP(x)"),
        Err(Error::Parse { .. })
    ));
}

#[test]
fn time_index_rules() {
    assert_eq!(
        ddl_error("CREATE TABLE cpu (host STRING, ts TIMESTAMP)"),
        "Missing time index constraint in table 'cpu': mark one timestamp column TIME INDEX"
    );
    for sql in [
        "CREATE TABLE t (a TIMESTAMP TIME INDEX, b TIMESTAMP TIME INDEX)",
        "CREATE TABLE t (a TIMESTAMP TIME INDEX, TIME INDEX (a))",
        "CREATE TABLE t (a TIMESTAMP, b TIMESTAMP, TIME INDEX (a, b))",
        "CREATE TABLE t (a TIMESTAMP, b TIMESTAMP, TIME INDEX (a), TIME INDEX (b))",
    ] {
        let message = ddl_error(sql);
        assert!(
            message.contains("exactly one time index") && message.contains("'t'"),
            "{message}"
        );
    }
    let message = ddl_error("CREATE TABLE t (ts BIGINT TIME INDEX)");
    assert!(
        message.contains("'ts'") && message.contains("timestamp type"),
        "{message}"
    );
    let message = ddl_error("CREATE TABLE t (ts TIMESTAMP NULL TIME INDEX)");
    assert!(
        message.contains("'ts'") && message.contains("NULL"),
        "{message}"
    );
    let message = ddl_error("CREATE TABLE t (ts TIMESTAMP, TIME INDEX (tz))");
    assert!(message.contains("'tz' not found"), "{message}");
    let message = ddl_error("CREATE TABLE t (ts TIMESTAMP TIME INDEX TIME INDEX)");
    assert!(message.contains("more than one TIME INDEX"), "{message}");
}

#[test]
fn primary_key_and_column_rules() {
    for sql in [
        "CREATE TABLE t (a STRING PRIMARY KEY, ts TIMESTAMP TIME INDEX, PRIMARY KEY (a))",
        "CREATE TABLE t (a STRING PRIMARY KEY, b STRING PRIMARY KEY, ts TIMESTAMP TIME INDEX)",
        "CREATE TABLE t (a STRING, ts TIMESTAMP TIME INDEX, PRIMARY KEY (a), PRIMARY KEY (a))",
    ] {
        assert!(
            ddl_error(sql).contains("primary keys in multiple places"),
            "{sql}"
        );
    }
    let message = ddl_error("CREATE TABLE t (ts TIMESTAMP TIME INDEX, PRIMARY KEY (nope))");
    assert!(
        message.contains("'nope' not found in table 't'"),
        "{message}"
    );
    let message = ddl_error("CREATE TABLE t (a INT, ts TIMESTAMP TIME INDEX, PRIMARY KEY (a, a))");
    assert!(message.contains("Duplicate column 'a'"), "{message}");
    let message = ddl_error("CREATE TABLE t (ts TIMESTAMP TIME INDEX, PRIMARY KEY (ts))");
    assert!(message.contains("'ts'"), "{message}");
    let message = ddl_error("CREATE TABLE t (a INT, ts TIMESTAMP TIME INDEX, A DOUBLE)");
    assert_eq!(message, "Duplicate column name 'a' in table 't'");
    let message = ddl_error("CREATE TABLE t (ts TIMESTAMP TIME INDEX, a INT NULL NOT NULL)");
    assert!(message.contains("'a'"), "{message}");
    let message = ddl_error("CREATE TABLE t (ts TIMESTAMP TIME INDEX, a INT DEFAULT 1 DEFAULT 2)");
    assert!(message.contains("more than one DEFAULT"), "{message}");
}

#[test]
fn engine_and_table_options() {
    assert_eq!(
        ddl_error("CREATE TABLE t (ts TIMESTAMP TIME INDEX) WITH (foo = 'x')"),
        "Unrecognized table option key: foo"
    );
    let message = ddl_error("CREATE TABLE t (ts TIMESTAMP TIME INDEX) ENGINE = file");
    assert!(
        message.contains("'file'") && message.contains("'t'"),
        "{message}"
    );
    let table = create(
        "CREATE TABLE t (ts TIMESTAMP TIME INDEX) ENGINE=MITO WITH ('memtable.bulk.x' = 1, \
         'Compaction.TWCS.Time_Window' = '1h', skip_wal = 'true',)",
    );
    assert_eq!(table.engine.as_deref(), Some("mito"));
    assert_eq!(table.options["compaction.twcs.time_window"], "1h");
    assert_eq!(table.options["memtable.bulk.x"], "1");
    let message =
        ddl_error("CREATE TABLE t (ts TIMESTAMP TIME INDEX) WITH (ttl = '1d', TTL = '2d')");
    assert!(
        message.contains("Duplicate table option key: ttl"),
        "{message}"
    );
    let (message, _, _) = parse_error("CREATE TABLE t (ts TIMESTAMP TIME INDEX) WITH (ttl = x)");
    assert!(message.contains("'ttl'"), "{message}");
}

#[test]
fn create_table_syntax_errors_point_at_the_token() {
    let (message, line, column) =
        parse_error("CREATE TABLE t (\n  ts TIMESTAMP TIME INDEX\n  host STRING\n)");
    assert!(message.contains("',' or ')'"), "{message}");
    assert_eq!((line, column), (3, 3));

    let (message, line, column) =
        parse_error("CREATE TABLE t (ts TIMESTAMP TIME INDEX, select DOUBLE)");
    assert!(
        message.contains("Cannot use keyword 'select' as column name"),
        "{message}"
    );
    assert_eq!((line, column), (1, 42));
    create("CREATE TABLE t (ts TIMESTAMP TIME INDEX, \"select\" DOUBLE)");
    // Non-reserved keywords are ordinary column names (TSBS uses `region`, `os`, `arch`).
    create(
        "CREATE TABLE t (time TIMESTAMP TIME INDEX, region STRING, value DOUBLE, hour INT, PRIMARY KEY(region))",
    );

    let (message, ..) = parse_error("CREATE TABLE t (ts TIMESTAMP TIME INDEX, a INT UNIQUE)");
    assert!(
        message.contains("UNIQUE") && message.contains("'a'"),
        "{message}"
    );
    let (message, ..) =
        parse_error("CREATE TABLE t (ts TIMESTAMP TIME INDEX, a STRING INVERTED INDEX)");
    assert!(message.contains("INVERTED"), "{message}");
    let (message, ..) =
        parse_error("CREATE TABLE t (ts TIMESTAMP TIME INDEX, CONSTRAINT c UNIQUE (ts))");
    assert!(message.contains("CONSTRAINT"), "{message}");
    let (message, ..) = parse_error("CREATE TABLE t AS SELECT 1");
    assert!(message.contains("AS"), "{message}");
    assert_eq!(
        parse_statement("CREATE TABLE IF NOT EXISTS public.t LIKE \"U\";").unwrap(),
        Statement::CreateTableLike {
            name: "t".into(),
            source: "U".into(),
            if_not_exists: true,
        }
    );
    let (message, ..) = parse_error("CREATE TABLE t LIKE u (ts TIMESTAMP TIME INDEX)");
    assert!(message.contains("end of statement"), "{message}");
    let (message, ..) =
        parse_error("CREATE TABLE t (ts TIMESTAMP TIME INDEX) PARTITION ON COLUMNS (a) ()");
    assert!(message.contains("PARTITION"), "{message}");
    let (message, line, column) = parse_error("CREATE TABLE t (ts TIMESTAMP TIME INDEX");
    assert!(message.contains("end of input"), "{message}");
    assert_eq!((line, column), (1, 40));
    let (message, ..) = parse_error("CREATE TABLE t (ts TIMESTAMP TIME INDEX); SELECT 1");
    assert!(message.contains("end of statement"), "{message}");
    // A lexical error inside our own statement is reported with its position.
    let (message, line, column) = parse_error("CREATE TABLE t (a STRING DEFAULT 'x");
    assert!(message.contains("Unterminated"), "{message}");
    assert_eq!((line, column), (1, 34));
}

#[test]
fn views_and_show_columns_parse() {
    assert_eq!(
        parse_statement("create or replace view public.V (x) as select a from t").unwrap(),
        Statement::CreateView {
            name: "v".into(),
            or_replace: true,
            if_not_exists: false,
            columns: vec!["x".into()],
            query: "SELECT a FROM t".into(),
            definition: "CREATE OR REPLACE VIEW public.V (x) AS SELECT a FROM t".into(),
        }
    );
    assert_eq!(
        parse_statement("DROP VIEW IF EXISTS a, \"B\"").unwrap(),
        Statement::DropView {
            names: vec!["a".into(), "B".into()],
            if_exists: true
        }
    );
    assert_eq!(
        parse_statement("SHOW FULL COLUMNS IN t FROM public LIKE 'a%'").unwrap(),
        Statement::ShowColumns {
            table: "t".into(),
            full: true,
            like: Some("a%".into())
        }
    );
    assert_eq!(
        parse_statement("SHOW INDEXES FROM t").unwrap(),
        Statement::ShowIndex { table: "t".into() }
    );
    assert_eq!(
        parse_statement("ADMIN compact_region(4294967296)").unwrap(),
        Statement::Admin(AdminFunction::CompactRegion {
            region_id: 4_294_967_296
        })
    );
    // Other dialects' views are DataFusion's (session-only), as before.
    assert_eq!(
        parse_statement("CREATE TEMPORARY VIEW v AS SELECT 1").unwrap(),
        Statement::Query("CREATE TEMPORARY VIEW v AS SELECT 1".into())
    );
    let (message, ..) = parse_error("CREATE VIEW other.v AS SELECT 1");
    assert!(message.contains("unknown schema"), "{message}");
    let message = parse_statement("CREATE OR REPLACE VIEW IF NOT EXISTS v AS SELECT 1")
        .unwrap_err()
        .to_string();
    assert!(message.contains("cannot be used together"), "{message}");
}

#[test]
fn other_statements_pass_through_unchanged() {
    for sql in [
        "SELECT 1;",
        "  select * from cpu where host = 'a;b'",
        "INSERT INTO cpu VALUES ('a', 1)",
        "CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '/tmp/x.csv'",
        "SHOW TABLES FROM db",
        "SHOW DATABASES",
        "DESCRIBE SELECT 1",
        "EXPLAIN SELECT 1",
        "SELECT 'unterminated",
        "",
        "-- only a comment",
    ] {
        assert_eq!(
            parse_statement(sql),
            Ok(Statement::Query(sql.to_string())),
            "{sql}"
        );
    }
}

#[test]
fn drop_describe_show() {
    assert_eq!(
        parse_statement("drop table IF EXISTS A, \"B\", public.c;"),
        Ok(Statement::DropTable {
            names: vec!["a".into(), "B".into(), "c".into()],
            if_exists: true
        })
    );
    assert_eq!(
        parse_statement("DROP TABLE a"),
        Ok(Statement::DropTable {
            names: vec!["a".into()],
            if_exists: false
        })
    );
    assert!(parse_error("DROP TABLE a b").0.contains("end of statement"));
    assert!(parse_error("DROP TABLE").0.contains("table name"));
    for sql in [
        "DESC cpu",
        "desc table Cpu;",
        "DESCRIBE cpu",
        "DESCRIBE TABLE public.cpu",
    ] {
        assert_eq!(
            parse_statement(sql),
            Ok(Statement::Describe {
                table: "cpu".into()
            }),
            "{sql}"
        );
    }
    assert_eq!(
        parse_statement("SHOW TABLES"),
        Ok(Statement::ShowTables { like: None })
    );
    assert_eq!(
        parse_statement("show tables like 'c%';"),
        Ok(Statement::ShowTables {
            like: Some("c%".into())
        })
    );
    assert!(
        parse_error("SHOW TABLES LIKE cpu")
            .0
            .contains("quoted pattern")
    );
    assert_eq!(
        parse_statement("SHOW CREATE TABLE \"Cpu\""),
        Ok(Statement::ShowCreateTable {
            table: "Cpu".into()
        })
    );
}

#[test]
fn admin_functions() {
    assert_eq!(
        parse_statement("ADMIN flush_table('cpu');"),
        Ok(Statement::Admin(AdminFunction::FlushTable {
            table: "cpu".into()
        }))
    );
    assert_eq!(
        parse_statement("admin COMPACT_TABLE('Cpu')"),
        Ok(Statement::Admin(AdminFunction::CompactTable {
            table: "cpu".into()
        }))
    );
    assert_eq!(
        parse_statement("ADMIN compact_table('\"Cpu\"')"),
        Ok(Statement::Admin(AdminFunction::CompactTable {
            table: "Cpu".into()
        }))
    );
    let (message, line, column) = parse_error("ADMIN drop_everything('t')");
    assert!(
        message.contains("Unknown ADMIN function 'drop_everything'"),
        "{message}"
    );
    assert_eq!((line, column), (1, 7));
    assert!(
        parse_error("ADMIN flush_table('t', 'x')")
            .0
            .contains("exactly one argument")
    );
    assert!(
        parse_error("ADMIN flush_table(t)")
            .0
            .contains("quoted string")
    );
    assert!(
        parse_error("ADMIN flush_table('a b')")
            .0
            .contains("Invalid table name")
    );
}

#[test]
fn never_panics_on_prefixes_and_garbage() {
    let sql = "CREATE TABLE IF NOT EXISTS \"t\" (h STRING PRIMARY KEY, ts TIMESTAMP(3) NOT NULL \
               DEFAULT now() TIME INDEX, v DOUBLE DEFAULT -1 COMMENT 'x', PRIMARY KEY (h),) \
               ENGINE=mito WITH ('ttl' = '1d');";
    for end in (0..=sql.len()).filter(|&i| sql.is_char_boundary(i)) {
        let _ = parse_statement(&sql[..end]);
    }
    for garbage in [
        "CREATE TABLE",
        "ADMIN",
        "ADMIN (",
        "DESC",
        "SHOW CREATE TABLE",
        "CREATE TABLE t (,)",
        "CREATE TABLE t ((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((",
        "CREATE TABLE t (a INT DEFAULT ((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((1",
    ] {
        assert!(parse_statement(garbage).is_err(), "{garbage}");
    }
}

/// Long statements are classified from their first tokens; the result is the same as from
/// the whole text, also when the prefix cuts a literal or holds only a long comment.
#[test]
fn long_statements_are_classified_from_their_prefix() {
    let values: Vec<String> = (0..200).map(|i| format!("('h{i}', {i}, 0.5)")).collect();
    let insert = format!("INSERT INTO cpu VALUES {};", values.join(", "));
    assert!(insert.len() > CLASSIFY_PREFIX_BYTES);
    assert_eq!(classify_prefix(&insert), Some(None));
    assert!(matches!(parse_statement(&insert), Ok(Statement::Query(q)) if q == insert));

    let literal = format!("SELECT '{}' AS x;", "é".repeat(300));
    assert!(matches!(parse_statement(&literal), Ok(Statement::Query(_))));

    let columns: Vec<String> = (0..40).map(|i| format!("f{i} DOUBLE")).collect();
    let create_sql = format!(
        "CREATE TABLE t (host STRING, ts TIMESTAMP TIME INDEX, {}, PRIMARY KEY (host));",
        columns.join(", ")
    );
    assert!(create_sql.len() > CLASSIFY_PREFIX_BYTES);
    assert_eq!(create(&create_sql).columns.len(), 42);

    let commented = format!("-- {}\nSHOW TABLES;", "x".repeat(400));
    assert_eq!(classify_prefix(&commented), None);
    assert!(matches!(
        parse_statement(&commented),
        Ok(Statement::ShowTables { .. })
    ));
}
