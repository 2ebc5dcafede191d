//! Parses one SQL statement into a [`Statement`].
//!
//! tsdb handles a few statements itself, in GreptimeDB's dialect (see
//! the project design note `GREPTIME_SQL.md`): `CREATE TABLE` (with `TIME INDEX`, `PRIMARY KEY`,
//! `ENGINE = mito`, `WITH (..)`), `DROP TABLE`, `DESC TABLE`, `SHOW TABLES [LIKE ..]`,
//! `SHOW CREATE TABLE`, `ALTER TABLE` (column changes, rename: `alter_table`), `ALTER TABLE t
//! SET|UNSET` of table options and `TRUNCATE [TABLE] t` (`alter_options`),
//! `ADMIN flush_table(..)`/`ADMIN compact_table(..)` and `COPY` (GreptimeDB's
//! `COPY t TO|FROM 'path' WITH (..)`; a `COPY` with `STORED AS` or `OPTIONS` is DataFusion's and is
//! passed through). Which statement
//! a text is, is decided from its first keywords only; everything else (`SELECT`, `INSERT`,
//! `CREATE EXTERNAL TABLE`, `SHOW TABLES FROM ..`, ...) is returned unchanged as
//! [`Statement::Query`] for DataFusion, without validation.
//!
//! Lexing and expressions use `sqlparser` with `GenericDialect` (DataFusion's default), so
//! `"x"` and `` `x` `` are delimited identifiers and strings are single-quoted.
//!
//! Names: unquoted identifiers are lower-cased, quoted ones keep their case. A table name may be
//! qualified only with tsdb's single schema: `public.t`, `greptime.public.t` (GreptimeDB's
//! default catalog) or `datafusion.public.t` (DataFusion's, as in its error messages); the
//! qualifier is dropped, and any other qualifier is an error.

mod alter_options;
mod alter_table;
mod copy;
mod create_table;
mod data_type;
mod session;
mod show_columns;
mod view;

use sqlparser::dialect::GenericDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer, Word};

use super::error::{Error, Result};
use super::statement::{AdminFunction, Statement};

/// The dialect used for lexing and expressions.
static DIALECT: GenericDialect = GenericDialect {};

/// Parses one statement: an optional trailing `;` and leading/trailing comments are allowed.
///
/// ```
/// use tsdb::sql::{Statement, parse_statement};
///
/// let statement = parse_statement("DROP TABLE IF EXISTS cpu;").unwrap();
/// assert_eq!(statement, Statement::DropTable { names: vec!["cpu".into()], if_exists: true });
/// let query = parse_statement("SELECT 1").unwrap();
/// assert_eq!(query, Statement::Query("SELECT 1".into()));
/// ```
///
/// # Errors
/// [`Error::Parse`] (with the position of the offending token) for syntax errors in a
/// statement tsdb handles itself; [`Error::InvalidDdl`] for a `CREATE TABLE` that describes an
/// invalid table. Statements passed to DataFusion are never rejected here.
pub fn parse_statement(sql: &str) -> Result<Statement> {
    // Statements DataFusion runs (a 1000-row INSERT of a SQL script, say) are classified from
    // their first tokens only: tokenizing the whole text here, just to hand it on, was a
    // large part of SQL-script ingest (docs/BENCHMARKS.md).
    if classify_prefix(sql) == Some(None) {
        return Ok(Statement::Query(sql.to_string()));
    }
    let mut tokens = Vec::new();
    let lexed = Tokenizer::new(&DIALECT, sql).tokenize_with_location_into_buf(&mut tokens);
    let Some(kind) = classify(&tokens) else {
        return Ok(Statement::Query(sql.to_string()));
    };
    if let Err(err) = lexed {
        return Err(Error::Parse {
            message: err.message,
            line: err.location.line,
            column: err.location.column,
        });
    }
    let mut ctx = Ctx {
        parser: Parser::new(&DIALECT).with_tokens_with_locations(tokens),
        sql,
    };
    let statement = match kind {
        Kind::CreateTable => create_table::parse(&mut ctx)?,
        Kind::DropTable => parse_drop_table(&mut ctx)?,
        Kind::Describe => {
            ctx.parser.next_token(); // DESC or DESCRIBE
            let _ = ctx.parse_words(&["TABLE"]);
            Statement::Describe {
                table: ctx.parse_table_name()?,
            }
        }
        Kind::ShowTables => parse_show_tables(&mut ctx)?,
        Kind::ShowTableStatus => show_columns::parse_show_table_status(&mut ctx)?,
        Kind::ShowCreateTable => {
            ctx.expect_words(&["SHOW", "CREATE", "TABLE"])?;
            Statement::ShowCreateTable {
                table: ctx.parse_table_name()?,
            }
        }
        Kind::ShowColumns => show_columns::parse_show_columns(&mut ctx)?,
        Kind::ShowIndex => show_columns::parse_show_index(&mut ctx)?,
        Kind::CreateView => view::parse_create_view(&mut ctx)?,
        Kind::DropView => view::parse_drop_view(&mut ctx)?,
        Kind::ShowViews => view::parse_show_views(&mut ctx)?,
        Kind::ShowCreateView => view::parse_show_create_view(&mut ctx)?,
        Kind::Admin => Statement::Admin(parse_admin(&mut ctx)?),
        Kind::Copy => Statement::Copy(copy::parse(&mut ctx)?),
        Kind::SetTimeZone => session::parse_set_time_zone(&mut ctx)?,
        Kind::ShowVariables => session::parse_show_variables(&mut ctx)?,
        Kind::AlterTableOptions => alter_options::parse_alter(&mut ctx)?,
        Kind::Truncate => alter_options::parse_truncate(&mut ctx)?,
        Kind::AlterTable => Statement::AlterTable(alter_table::parse(&mut ctx)?),
    };
    ctx.expect_end()?;
    Ok(statement)
}

/// The statements tsdb parses itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    CreateTable,
    DropTable,
    Describe,
    ShowTables,
    ShowTableStatus,
    ShowCreateTable,
    ShowColumns,
    ShowIndex,
    CreateView,
    DropView,
    ShowViews,
    ShowCreateView,
    Admin,
    Copy,
    SetTimeZone,
    ShowVariables,
    AlterTableOptions,
    Truncate,
    AlterTable,
}

/// Bytes of a statement's start tokenized by [`classify_prefix`].
const CLASSIFY_PREFIX_BYTES: usize = 256;

/// Classifies `sql` from its first [`CLASSIFY_PREFIX_BYTES`] bytes: `Some(kind)` when the
/// prefix holds enough whole tokens to decide (four significant ones, the last of which may
/// be cut), `None` when it does not (the caller then tokenizes the whole text). `COPY` always
/// needs the whole text.
fn classify_prefix(sql: &str) -> Option<Option<Kind>> {
    if sql.len() <= CLASSIFY_PREFIX_BYTES {
        return None;
    }
    let mut end = CLASSIFY_PREFIX_BYTES;
    while !sql.is_char_boundary(end) {
        end -= 1;
    }
    let mut tokens = Vec::new();
    // An error (a literal cut in half) still leaves the tokens before it in the buffer.
    let _ = Tokenizer::new(&DIALECT, &sql[..end]).tokenize_with_location_into_buf(&mut tokens);
    let significant = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .count();
    let first_is_copy = tokens
        .iter()
        .find(|t| !matches!(t.token, Token::Whitespace(_)))
        .is_some_and(|t| is_word(&t.token, "COPY"));
    if significant < 4 || first_is_copy {
        return None;
    }
    Some(classify(&tokens))
}

/// Decides from the leading tokens whether tsdb handles the statement; `None` means DataFusion.
fn classify(tokens: &[TokenWithSpan]) -> Option<Kind> {
    let mut significant = tokens
        .iter()
        .map(|t| &t.token)
        .filter(|t| !matches!(t, Token::Whitespace(_)));
    let first = significant.next()?;
    let second = significant.next().unwrap_or(&Token::EOF);
    let third = significant.next().unwrap_or(&Token::EOF);
    let fourth = significant.next().unwrap_or(&Token::EOF);
    if is_word(first, "CREATE")
        && (is_word(second, "VIEW")
            || (is_word(second, "OR") && is_word(third, "REPLACE") && is_word(fourth, "VIEW")))
    {
        Some(Kind::CreateView)
    } else if is_word(first, "DROP") && is_word(second, "VIEW") {
        Some(Kind::DropView)
    } else if let Some(columns) = is_word(first, "SHOW")
        .then(|| show_columns::classify(second, third))
        .flatten()
    {
        Some(if columns {
            Kind::ShowColumns
        } else {
            Kind::ShowIndex
        })
    } else if is_word(first, "SHOW") && is_word(second, "VIEWS") {
        Some(Kind::ShowViews)
    } else if is_word(first, "SHOW") && is_word(second, "CREATE") && is_word(third, "VIEW") {
        Some(Kind::ShowCreateView)
    } else if is_word(first, "CREATE") && is_word(second, "TABLE") {
        Some(Kind::CreateTable)
    } else if is_word(first, "DROP") && is_word(second, "TABLE") {
        Some(Kind::DropTable)
    } else if is_word(first, "DESC") || is_word(first, "DESCRIBE") {
        let query = ["SELECT", "WITH", "VALUES"]
            .iter()
            .any(|w| is_word(second, w))
            || *second == Token::LParen;
        (!query).then_some(Kind::Describe)
    } else if is_word(first, "SHOW") && is_word(second, "TABLE") && is_word(third, "STATUS") {
        Some(Kind::ShowTableStatus)
    } else if is_word(first, "SHOW") && is_word(second, "TABLES") {
        let ours = matches!(third, Token::EOF | Token::SemiColon) || is_word(third, "LIKE");
        ours.then_some(Kind::ShowTables)
    } else if is_word(first, "SHOW") && is_word(second, "CREATE") && is_word(third, "TABLE") {
        Some(Kind::ShowCreateTable)
    } else if is_word(first, "ALTER") {
        // `ALTER TABLE t SET|UNSET ..` changes table options; every other `ALTER TABLE` is a
        // column change or rename.
        let significant = tokens
            .iter()
            .map(|t| &t.token)
            .filter(|t| !matches!(t, Token::Whitespace(_)));
        if alter_options::is_alter_options(significant) {
            Some(Kind::AlterTableOptions)
        } else {
            is_word(second, "TABLE").then_some(Kind::AlterTable)
        }
    } else if is_word(first, "ADMIN") {
        Some(Kind::Admin)
    } else if is_word(first, "TRUNCATE") {
        Some(Kind::Truncate)
    } else if is_word(first, "COPY") {
        let tokens: Vec<Token> = tokens.iter().map(|t| t.token.clone()).collect();
        (!copy::is_datafusion_copy(&tokens)).then_some(Kind::Copy)
    } else {
        session::classify(tokens)
    }
}

/// `DROP TABLE [IF EXISTS] a[, b ...]`.
fn parse_drop_table(ctx: &mut Ctx<'_>) -> Result<Statement> {
    ctx.expect_words(&["DROP", "TABLE"])?;
    let if_exists = ctx.parse_words(&["IF", "EXISTS"]);
    let mut names = vec![ctx.parse_table_name()?];
    while ctx.parser.consume_token(&Token::Comma) {
        names.push(ctx.parse_table_name()?);
    }
    Ok(Statement::DropTable { names, if_exists })
}

/// `SHOW TABLES [LIKE 'pattern']`.
fn parse_show_tables(ctx: &mut Ctx<'_>) -> Result<Statement> {
    ctx.expect_words(&["SHOW", "TABLES"])?;
    let like = if ctx.parse_words(&["LIKE"]) {
        let token = ctx.parser.next_token();
        match token.token {
            Token::SingleQuotedString(pattern) => Some(pattern),
            _ => return Err(ctx.error_at(found("a quoted pattern after LIKE", &token), &token)),
        }
    } else {
        None
    };
    Ok(Statement::ShowTables { like })
}

/// `ADMIN flush_table('t')` / `ADMIN compact_table('t')` / `ADMIN flush_region(id)` /
/// `ADMIN compact_region(id)`. The table name inside the string is parsed like a table name
/// in SQL (`'Cpu'` is `cpu`, `'"Cpu"'` keeps its case); a region id is a `u64`,
/// `(table_id << 32) | region_number`, GreptimeDB's numbering.
fn parse_admin(ctx: &mut Ctx<'_>) -> Result<AdminFunction> {
    ctx.expect_words(&["ADMIN"])?;
    let name_token = ctx.parser.next_token();
    let function = match &name_token.token {
        Token::Word(word) => word.value.to_lowercase(),
        _ => return Err(ctx.error_at(found("an admin function name", &name_token), &name_token)),
    };
    let by_region = match function.as_str() {
        "flush_table" | "compact_table" => false,
        "flush_region" | "compact_region" => true,
        _ => {
            return Err(ctx.error_at(
                format!(
                    "Unknown ADMIN function '{function}'; supported: flush_table('table'), \
                     compact_table('table'), flush_region(region_id), compact_region(region_id)"
                ),
                &name_token,
            ));
        }
    };
    ctx.expect_token(&Token::LParen, "'('")?;
    let arg = ctx.parser.next_token();
    let parsed = if by_region {
        let Token::Number(number, _) = &arg.token else {
            return Err(ctx.error_at(found("the region id as a number", &arg), &arg));
        };
        let region_id = number.parse::<u64>().map_err(|_| {
            ctx.error_at(
                format!("Invalid region id {number}: expected an unsigned 64-bit integer"),
                &arg,
            )
        })?;
        if function == "flush_region" {
            AdminFunction::FlushRegion { region_id }
        } else {
            AdminFunction::CompactRegion { region_id }
        }
    } else {
        let Token::SingleQuotedString(table) = &arg.token else {
            return Err(ctx.error_at(found("the table name as a quoted string", &arg), &arg));
        };
        let table = parse_quoted_table_name(table).map_err(|message| {
            ctx.error_at(format!("Invalid table name '{table}': {message}"), &arg)
        })?;
        if function == "flush_table" {
            AdminFunction::FlushTable { table }
        } else {
            AdminFunction::CompactTable { table }
        }
    };
    if !ctx.parser.consume_token(&Token::RParen) {
        let next = ctx.parser.peek_token();
        let what = if by_region {
            "the region id"
        } else {
            "the table name"
        };
        return Err(ctx.error_at(
            format!(
                "ADMIN {function} takes exactly one argument, {what}; found {}",
                describe(&next)
            ),
            &next,
        ));
    }
    Ok(parsed)
}

/// Parses the contents of a string argument as a table name.
fn parse_quoted_table_name(text: &str) -> std::result::Result<String, String> {
    let tokens = Tokenizer::new(&DIALECT, text)
        .tokenize_with_location()
        .map_err(|err| err.message)?;
    let mut ctx = Ctx {
        parser: Parser::new(&DIALECT).with_tokens_with_locations(tokens),
        sql: text,
    };
    let name = ctx.parse_table_name().map_err(|err| err.to_string())?;
    if ctx.parser.peek_token_ref().token != Token::EOF {
        return Err("expected a single table name".to_string());
    }
    Ok(name)
}

/// A parser over one statement plus the text, for error positions.
pub(crate) struct Ctx<'a> {
    pub(crate) parser: Parser<'a>,
    sql: &'a str,
}

impl Ctx<'_> {
    /// A [`Error::Parse`] at `token` (at the end of the text for end of input).
    pub(crate) fn error_at(&self, message: impl Into<String>, token: &TokenWithSpan) -> Error {
        let start = token.span.start;
        let (line, column) = if start.line == 0 {
            end_position(self.sql)
        } else {
            (start.line, start.column)
        };
        Error::Parse {
            message: message.into(),
            line,
            column,
        }
    }

    /// "Expected `what`, found <next token>" at the next token.
    pub(crate) fn expected(&self, what: &str) -> Error {
        let token = self.parser.peek_token_ref();
        self.error_at(found(what, token), token)
    }

    /// Whether the next tokens are the unquoted words `words` (case-insensitive).
    pub(crate) fn peek_words(&self, words: &[&str]) -> bool {
        words
            .iter()
            .enumerate()
            .all(|(i, word)| is_word(&self.parser.peek_nth_token_ref(i).token, word))
    }

    /// Consumes `words` if they come next.
    pub(crate) fn parse_words(&mut self, words: &[&str]) -> bool {
        if !self.peek_words(words) {
            return false;
        }
        for _ in words {
            self.parser.next_token();
        }
        true
    }

    /// Consumes `words` or fails naming them.
    pub(crate) fn expect_words(&mut self, words: &[&str]) -> Result<()> {
        if self.parse_words(words) {
            return Ok(());
        }
        Err(self.expected(&words.join(" ")))
    }

    /// Consumes `token` or fails naming it as `what`.
    pub(crate) fn expect_token(&mut self, token: &Token, what: &str) -> Result<()> {
        if self.parser.consume_token(token) {
            return Ok(());
        }
        Err(self.expected(what))
    }

    /// An identifier token: its normalised name, the word and the token (for positions).
    pub(crate) fn parse_ident(&mut self, what: &str) -> Result<(String, Word, TokenWithSpan)> {
        let token = self.parser.next_token();
        match &token.token {
            Token::Word(word) => Ok((normalize(word), word.clone(), token.clone())),
            _ => Err(self.error_at(found(what, &token), &token)),
        }
    }

    /// A table name, `t`, `public.t`, `greptime.public.t` or `datafusion.public.t` (see the
    /// module docs).
    pub(crate) fn parse_table_name(&mut self) -> Result<String> {
        let (first, _, first_token) = self.parse_ident("a table name")?;
        let mut parts = vec![first];
        while self.parser.consume_token(&Token::Period) {
            parts.push(self.parse_ident("a table name after '.'")?.0);
        }
        match unqualified_name(&parts) {
            Some(table) => Ok(table),
            None => Err(self.error_at(
                format!(
                    "Table name '{}' is qualified with an unknown schema; tsdb has a single \
                     schema, 'public': write the table name alone",
                    parts.join(".")
                ),
                &first_token,
            )),
        }
    }

    /// Converts an error from `sqlparser`, keeping the position it reports.
    pub(crate) fn parser_error(&self, err: ParserError) -> Error {
        match crate::sql::error::split_sqlparser_error(&err) {
            (message, Some((line, column))) => Error::Parse {
                message,
                line,
                column,
            },
            (message, None) => self.error_at(message, self.parser.get_current_token()),
        }
    }

    /// An optional `;`, then end of input.
    pub(crate) fn expect_end(&mut self) -> Result<()> {
        let _ = self.parser.consume_token(&Token::SemiColon);
        if self.parser.peek_token_ref().token == Token::EOF {
            return Ok(());
        }
        Err(self.expected("end of statement"))
    }
}

/// Whether `token` is the unquoted word `word` (case-insensitive).
pub(crate) fn is_word(token: &Token, word: &str) -> bool {
    matches!(token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
}

/// Whether `word` is an unquoted SQL keyword (GreptimeDB rejects those as column names).
pub(crate) fn is_keyword(word: &Word) -> bool {
    word.quote_style.is_none() && is_reserved(word.keyword)
}

/// Keywords that cannot name a column unquoted: those sqlparser reserves as column or table
/// aliases (a column named `where` would break every query) and the words a column
/// definition or expression gives meaning to. Non-reserved keywords such as `region`,
/// `value`, `time` or `hour` stay usable, as the TSBS schema needs.
fn is_reserved(keyword: Keyword) -> bool {
    use sqlparser::keywords::{RESERVED_FOR_COLUMN_ALIAS, RESERVED_FOR_TABLE_ALIAS};
    const EXTRA: &[Keyword] = &[
        Keyword::FROM,
        Keyword::AND,
        Keyword::OR,
        Keyword::NOT,
        Keyword::NULL,
        Keyword::TRUE,
        Keyword::FALSE,
        Keyword::AS,
        Keyword::CASE,
        Keyword::WHEN,
        Keyword::THEN,
        Keyword::ELSE,
        Keyword::END,
        Keyword::DEFAULT,
        Keyword::PRIMARY,
        Keyword::DISTINCT,
        Keyword::ALL,
        Keyword::IS,
        Keyword::IN,
        Keyword::BETWEEN,
        Keyword::LIKE,
        Keyword::COMMENT,
    ];
    keyword != Keyword::NoKeyword
        && (RESERVED_FOR_COLUMN_ALIAS.contains(&keyword)
            || RESERVED_FOR_TABLE_ALIAS.contains(&keyword)
            || EXTRA.contains(&keyword))
}

/// Unquoted identifiers are lower-cased; quoted ones keep their case.
pub(crate) fn normalize(word: &Word) -> String {
    if word.quote_style.is_some() {
        word.value.clone()
    } else {
        word.value.to_lowercase()
    }
}

/// "Expected `what`, found `token`".
pub(crate) fn found(what: &str, token: &TokenWithSpan) -> String {
    format!("Expected {what}, found {}", describe(token))
}

/// A token for messages: `end of input` or the quoted token text.
pub(crate) fn describe(token: &TokenWithSpan) -> String {
    match token.token {
        Token::EOF => "end of input".to_string(),
        ref other => format!("'{other}'"),
    }
}

/// Line and column just past the last character of `sql`.
fn end_position(sql: &str) -> (u64, u64) {
    let line = sql.matches('\n').count() as u64 + 1;
    let last_line = sql.rsplit('\n').next().unwrap_or_default();
    (line, last_line.chars().count() as u64 + 1)
}

#[cfg(test)]
mod tests;

/// The name `parts` (a possibly qualified table or view name) stands for in tsdb's single
/// schema: `name`, `public.name`, `greptime.public.name` or `datafusion.public.name` give
/// `name`; any other qualifier gives `None`.
pub(super) fn unqualified_name(parts: &[String]) -> Option<String> {
    match parts {
        [name] => Some(name.clone()),
        [schema, name] if schema == "public" => Some(name.clone()),
        [catalog, schema, name]
            if (catalog == "greptime" || catalog == "datafusion") && schema == "public" =>
        {
            Some(name.clone())
        }
        _ => None,
    }
}
