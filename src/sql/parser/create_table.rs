//! `CREATE TABLE` in GreptimeDB's dialect:
//!
//! ```text
//! CREATE TABLE [IF NOT EXISTS] name (
//!     column_def | PRIMARY KEY (col, ...) | TIME INDEX (col)  [, ...] [,]
//! ) [ENGINE = mito] [WITH (key = value, ...)]
//! column_def := name type { NULL | NOT NULL | DEFAULT expr | PRIMARY KEY | TIME INDEX
//!               | COMMENT 'text' }*
//! ```
//!
//! Rules (checked after parsing, as [`Error::InvalidDdl`]): exactly one time index, inline or
//! as a constraint, of a timestamp type, never `NULL` (it is forced `NOT NULL`); the primary
//! key is given inline on one column or as one constraint, never both; primary-key columns are
//! tags (nullable by default), the time index is the timestamp, all other columns are fields;
//! column names are unique; `ENGINE` is `mito`; `WITH` keys are lower-cased and must be known
//! mito options. Unquoted *reserved* keywords (e.g. `select`, `where`) are rejected as column
//! names; non-reserved ones (`region`, `value`, `time`) are ordinary names.

use std::collections::BTreeMap;

use sqlparser::ast::{ColumnOption, Expr};
use sqlparser::tokenizer::Token;

use super::{Ctx, data_type, describe, found, is_keyword, is_word, normalize};
use crate::engine::metadata::{ColumnDataType, SemanticType};
use crate::sql::error::{Error, Result};
use crate::sql::statement::{ColumnDef, CreateTable, Statement};

/// Table option keys accepted in `WITH (..)` (GreptimeDB's mito engine options).
const TABLE_OPTION_KEYS: &[&str] = &[
    "ttl",
    "write_buffer_size",
    "auto_flush_interval",
    "append_mode",
    "merge_mode",
    "skip_wal",
    "sst_format",
    "max_row_group_row_count",
    "storage",
    "comment",
    "compaction.type",
    "compaction.override",
    "compaction.twcs.trigger_file_num",
    "compaction.twcs.time_window",
    "compaction.twcs.max_output_file_size",
    "compaction.twcs.remote_compaction",
    "compaction.twcs.fallback_to_local",
    "memtable.type",
    "index.inverted_index.ignore_column_ids",
    "index.inverted_index.segment_row_count",
    "wal_options",
];

/// Prefixes of table option keys accepted in `WITH (..)`.
const TABLE_OPTION_PREFIXES: &[&str] = &["memtable.bulk."];

/// Whether `key` (lower-cased) is a known table option.
pub(crate) fn is_table_option(key: &str) -> bool {
    TABLE_OPTION_KEYS.contains(&key) || TABLE_OPTION_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// A column as written, before the table-level rules assign its role.
pub(super) struct Column {
    pub(super) name: String,
    pub(super) data_type: ColumnDataType,
    /// `Some(true)` for `NULL`, `Some(false)` for `NOT NULL`.
    pub(super) null: Option<bool>,
    pub(super) default: Option<String>,
    pub(super) comment: Option<String>,
    pub(super) time_index: bool,
    pub(super) primary_key: bool,
}

/// Table constraints as written.
#[derive(Default)]
struct Constraints {
    /// Each `PRIMARY KEY (..)` constraint.
    primary_keys: Vec<Vec<String>>,
    /// Each `TIME INDEX (..)` constraint.
    time_indexes: Vec<Vec<String>>,
}

/// Parses and validates `CREATE TABLE ...` (the statement starts at the current token), or
/// GreptimeDB's `CREATE TABLE [IF NOT EXISTS] t2 LIKE t1` (a [`Statement::CreateTableLike`]).
pub(super) fn parse(ctx: &mut Ctx<'_>) -> Result<Statement> {
    ctx.expect_words(&["CREATE", "TABLE"])?;
    let if_not_exists = ctx.parse_words(&["IF", "NOT", "EXISTS"]);
    let name = ctx.parse_table_name()?;
    if ctx.parse_words(&["LIKE"]) {
        let source = ctx.parse_table_name()?;
        return Ok(Statement::CreateTableLike {
            name,
            source,
            if_not_exists,
        });
    }
    if ctx.peek_words(&["AS"]) {
        return Err(ctx.error_at(
            "CREATE TABLE ... AS is not supported; create the table with its columns, then \
             INSERT INTO ... SELECT",
            &ctx.parser.peek_token(),
        ));
    }
    ctx.expect_token(&Token::LParen, "'(' and the column definitions")?;
    let mut columns = Vec::new();
    let mut constraints = Constraints::default();
    while !ctx.parser.consume_token(&Token::RParen) {
        parse_element(ctx, &name, &mut columns, &mut constraints)?;
        if !ctx.parser.consume_token(&Token::Comma)
            && ctx.parser.peek_token_ref().token != Token::RParen
        {
            return Err(ctx.expected("',' or ')'"));
        }
    }
    let engine = parse_engine(ctx, &name)?;
    let options = parse_options(ctx)?;
    if ctx.peek_words(&["PARTITION"]) {
        return Err(ctx.error_at(
            "PARTITION ON COLUMNS is not supported: a tsdb table is a single region",
            &ctx.parser.peek_token(),
        ));
    }
    validate(name, if_not_exists, columns, constraints, engine, options).map(Statement::CreateTable)
}

/// One element of the column list: a table constraint or a column definition.
fn parse_element(
    ctx: &mut Ctx<'_>,
    table: &str,
    columns: &mut Vec<Column>,
    constraints: &mut Constraints,
) -> Result<()> {
    if ctx.parse_words(&["PRIMARY", "KEY"]) {
        constraints.primary_keys.push(parse_column_list(ctx)?);
        return Ok(());
    }
    if ctx.parse_words(&["TIME", "INDEX"]) {
        constraints.time_indexes.push(parse_column_list(ctx)?);
        return Ok(());
    }
    let next = ctx.parser.peek_token();
    if ["CONSTRAINT", "UNIQUE", "FOREIGN", "CHECK", "INDEX", "KEY"]
        .iter()
        .any(|w| is_word(&next.token, w))
    {
        return Err(ctx.error_at(
            format!(
                "Unsupported table constraint {} in table '{table}'; only PRIMARY KEY (..) \
                 and TIME INDEX (..) are supported",
                describe(&next)
            ),
            &next,
        ));
    }
    columns.push(parse_column(ctx, table)?);
    Ok(())
}

/// `(a, b, ...)` after `PRIMARY KEY` or `TIME INDEX`.
fn parse_column_list(ctx: &mut Ctx<'_>) -> Result<Vec<String>> {
    ctx.expect_token(&Token::LParen, "'(' and a column list")?;
    let mut names = vec![ctx.parse_ident("a column name")?.0];
    while ctx.parser.consume_token(&Token::Comma) {
        names.push(ctx.parse_ident("a column name")?.0);
    }
    ctx.expect_token(&Token::RParen, "',' or ')'")?;
    Ok(names)
}

/// `name type option*`.
fn parse_column(ctx: &mut Ctx<'_>, table: &str) -> Result<Column> {
    parse_column_def(ctx, table, false)
}

/// `name type option*`, ending before `,` or `)`; in an `ALTER TABLE ... ADD` (`in_alter`)
/// also before the end of the statement, `FIRST` and `AFTER`.
pub(super) fn parse_column_def(ctx: &mut Ctx<'_>, table: &str, in_alter: bool) -> Result<Column> {
    let (name, word, token) = ctx.parse_ident("a column definition")?;
    if is_keyword(&word) {
        return Err(ctx.error_at(
            format!(
                "Cannot use keyword '{}' as column name. Hint: add quotes to the name.",
                word.value
            ),
            &token,
        ));
    }
    let data_type = data_type::parse(ctx, table, &name)?;
    let mut column = Column {
        name,
        data_type,
        null: None,
        default: None,
        comment: None,
        time_index: false,
        primary_key: false,
    };
    let duplicate = |option: &str, column: &Column| {
        Error::invalid_ddl(format!(
            "Column '{}' in table '{table}' has more than one {option} option",
            column.name
        ))
    };
    loop {
        let next = ctx.parser.peek_token();
        if matches!(next.token, Token::Comma | Token::RParen)
            || (in_alter
                && (matches!(next.token, Token::EOF | Token::SemiColon)
                    || is_word(&next.token, "FIRST")
                    || is_word(&next.token, "AFTER")))
        {
            return Ok(column);
        }
        if ctx.parse_words(&["TIME", "INDEX"]) {
            if column.time_index {
                return Err(duplicate("TIME INDEX", &column));
            }
            column.time_index = true;
            continue;
        }
        if ["INVERTED", "SKIPPING", "FULLTEXT", "VECTOR"]
            .iter()
            .any(|w| is_word(&next.token, w))
        {
            return Err(ctx.error_at(
                format!(
                    "Index option {} on column '{}' is not supported (tsdb has no secondary \
                     indexes)",
                    describe(&next),
                    column.name
                ),
                &next,
            ));
        }
        let option = ctx
            .parser
            .parse_optional_column_option()
            .map_err(|err| ctx.parser_error(err))?;
        match option {
            Some(ColumnOption::Null | ColumnOption::NotNull) if column.null.is_some() => {
                return Err(duplicate("NULL/NOT NULL", &column));
            }
            Some(ColumnOption::Null) => column.null = Some(true),
            Some(ColumnOption::NotNull) => column.null = Some(false),
            Some(ColumnOption::Default(_)) if column.default.is_some() => {
                return Err(duplicate("DEFAULT", &column));
            }
            Some(ColumnOption::Default(expr)) => {
                column.default = Some(default_text(&expr, &column.name, table)?)
            }
            Some(ColumnOption::Comment(_)) if column.comment.is_some() => {
                return Err(duplicate("COMMENT", &column));
            }
            Some(ColumnOption::Comment(comment)) => column.comment = Some(comment),
            Some(ColumnOption::PrimaryKey(_)) if column.primary_key => {
                return Err(duplicate("PRIMARY KEY", &column));
            }
            Some(ColumnOption::PrimaryKey(_)) => column.primary_key = true,
            Some(other) => {
                return Err(ctx.error_at(
                    format!(
                        "Unsupported column option '{other}' on column '{}'",
                        column.name
                    ),
                    &next,
                ));
            }
            None => {
                let what = format!(
                    "a column option (NULL, NOT NULL, DEFAULT, PRIMARY KEY, TIME INDEX, COMMENT), \
                     ',' or ')' after column '{}'",
                    column.name
                );
                return Err(ctx.error_at(found(&what, &next), &next));
            }
        }
    }
}

/// The SQL text of a `DEFAULT` expression. Bare identifiers (e.g. `now` instead of `now()`)
/// are rejected, as in GreptimeDB.
pub(super) fn default_text(expr: &Expr, column: &str, table: &str) -> Result<String> {
    if matches!(expr, Expr::Identifier(_) | Expr::CompoundIdentifier(_)) {
        return Err(Error::invalid_ddl(format!(
            "Invalid default value '{expr}' for column '{column}' in table '{table}': use a \
             literal, now(), current_timestamp() or CURRENT_TIMESTAMP"
        )));
    }
    if let Expr::Function(function) = expr {
        // GreptimeDB (`src/common/sql/src/default_constraint.rs`) keeps a function default
        // lower-cased, with `CURRENT_TIMESTAMP` written as `current_timestamp()`; DESC and SHOW
        // CREATE TABLE print it so.
        let text = function.to_string().to_lowercase();
        if text == "current_timestamp" {
            return Ok("current_timestamp()".to_string());
        }
        return Ok(text);
    }
    Ok(expr.to_string())
}

/// `[ENGINE = mito]`.
fn parse_engine(ctx: &mut Ctx<'_>, table: &str) -> Result<Option<String>> {
    if !ctx.parse_words(&["ENGINE"]) {
        return Ok(None);
    }
    ctx.expect_token(&Token::Eq, "'=' after ENGINE")?;
    let engine = ctx.parse_ident("an engine name")?.0.to_lowercase();
    if engine != "mito" {
        return Err(Error::invalid_ddl(format!(
            "Unsupported table engine '{engine}' for table '{table}'; only 'mito' is supported"
        )));
    }
    Ok(Some(engine))
}

/// `[WITH (key = value, ...)]`: keys lower-cased, values kept as strings.
fn parse_options(ctx: &mut Ctx<'_>) -> Result<BTreeMap<String, String>> {
    let mut options = BTreeMap::new();
    if !ctx.parse_words(&["WITH"]) {
        return Ok(options);
    }
    ctx.expect_token(&Token::LParen, "'(' after WITH")?;
    while !ctx.parser.consume_token(&Token::RParen) {
        let key_token = ctx.parser.next_token();
        let key = match &key_token.token {
            Token::Word(word) => normalize(word).to_lowercase(),
            Token::SingleQuotedString(key) => key.to_lowercase(),
            _ => return Err(ctx.error_at(found("a table option key", &key_token), &key_token)),
        };
        if !is_table_option(&key) {
            return Err(Error::invalid_ddl(format!(
                "Unrecognized table option key: {key}"
            )));
        }
        ctx.expect_token(&Token::Eq, "'=' after the option key")?;
        let value_token = ctx.parser.next_token();
        let value = match &value_token.token {
            Token::SingleQuotedString(value) | Token::Number(value, _) => value.clone(),
            Token::Word(word)
                if is_word(&value_token.token, "TRUE") || is_word(&value_token.token, "FALSE") =>
            {
                word.value.to_lowercase()
            }
            _ => {
                let what = format!("a string, number or boolean value for option '{key}'");
                return Err(ctx.error_at(found(&what, &value_token), &value_token));
            }
        };
        if options.insert(key.clone(), value).is_some() {
            return Err(Error::invalid_ddl(format!(
                "Duplicate table option key: {key}"
            )));
        }
        if !ctx.parser.consume_token(&Token::Comma)
            && ctx.parser.peek_token_ref().token != Token::RParen
        {
            return Err(ctx.expected("',' or ')'"));
        }
    }
    Ok(options)
}

/// Applies the table-level rules (see the module docs) and builds the statement.
fn validate(
    name: String,
    if_not_exists: bool,
    columns: Vec<Column>,
    constraints: Constraints,
    engine: Option<String>,
    options: BTreeMap<String, String>,
) -> Result<CreateTable> {
    let table = name.as_str();
    let index_of = |column: &str, role: &str| {
        columns
            .iter()
            .position(|c| c.name == column)
            .ok_or_else(|| {
                Error::invalid_ddl(format!(
                    "{role} column '{column}' not found in table '{table}'"
                ))
            })
    };
    for (i, column) in columns.iter().enumerate() {
        if columns.iter().take(i).any(|c| c.name == column.name) {
            return Err(Error::invalid_ddl(format!(
                "Duplicate column name '{}' in table '{table}'",
                column.name
            )));
        }
    }

    // Time index: inline and constraint definitions together must name exactly one column.
    let mut time_index_names: Vec<String> = columns
        .iter()
        .filter(|c| c.time_index)
        .map(|c| c.name.clone())
        .collect();
    time_index_names.extend(constraints.time_indexes.into_iter().flatten());
    let time_index = match time_index_names.as_slice() {
        [] => {
            return Err(Error::invalid_ddl(format!(
                "Missing time index constraint in table '{table}': mark one timestamp column \
                 TIME INDEX"
            )));
        }
        [column] => index_of(column, "Time index")?,
        many => {
            return Err(Error::invalid_ddl(format!(
                "Invalid time index in table '{table}': expected exactly one time index column, \
                 found {} ('{}')",
                many.len(),
                many.join("', '")
            )));
        }
    };
    let ts = columns
        .get(time_index)
        .ok_or_else(|| Error::invalid_ddl("time index out of range"))?;
    if !ts.data_type.is_timestamp() {
        return Err(Error::invalid_ddl(format!(
            "Time index column '{}' in table '{table}' must be a timestamp type, found {}",
            ts.name,
            ts.data_type.sql_name()
        )));
    }
    if ts.null == Some(true) {
        return Err(Error::invalid_ddl(format!(
            "Time index column '{}' in table '{table}' cannot be NULL",
            ts.name
        )));
    }

    // Primary key: inline on one column, or one constraint.
    let inline: Vec<String> = columns
        .iter()
        .filter(|c| c.primary_key)
        .map(|c| c.name.clone())
        .collect();
    let key_names = match (inline.len(), constraints.primary_keys.len()) {
        (0, 0) => Vec::new(),
        (1, 0) => inline,
        (0, 1) => constraints.primary_keys.into_iter().flatten().collect(),
        _ => {
            return Err(Error::invalid_ddl(format!(
                "Illegal primary keys definition in table '{table}': found definitions of \
                 primary keys in multiple places"
            )));
        }
    };
    let mut primary_key = Vec::with_capacity(key_names.len());
    for key in &key_names {
        let index = index_of(key, "Primary key")?;
        if primary_key.contains(&index) {
            return Err(Error::invalid_ddl(format!(
                "Duplicate column '{key}' in the primary key of table '{table}'"
            )));
        }
        if index == time_index {
            return Err(Error::invalid_ddl(format!(
                "Time index column '{key}' cannot also be in the primary key of table '{table}'"
            )));
        }
        primary_key.push(index);
    }

    let columns = columns
        .into_iter()
        .enumerate()
        .map(|(i, column)| {
            let semantic_type = if i == time_index {
                SemanticType::Timestamp
            } else if primary_key.contains(&i) {
                SemanticType::Tag
            } else {
                SemanticType::Field
            };
            ColumnDef {
                name: column.name,
                data_type: column.data_type,
                semantic_type,
                nullable: i != time_index && column.null != Some(false),
                default: column.default,
                comment: column.comment,
            }
        })
        .collect();
    Ok(CreateTable {
        name,
        if_not_exists,
        columns,
        time_index,
        primary_key,
        engine,
        options,
    })
}
