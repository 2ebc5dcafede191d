//! `SHOW [FULL] COLUMNS {FROM | IN} t [{FROM | IN} public] [LIKE 'pattern']` and
//! `SHOW {INDEX | INDEXES | KEYS} {FROM | IN} t [{FROM | IN} public]` and
//! `SHOW TABLE STATUS [{FROM | IN} public] [LIKE 'pattern' | WHERE expr]`, GreptimeDB's (MySQL's) syntax
//! (`tests/cases/standalone/common/show/show_columns.sql`, `show_index.sql`).

use sqlparser::tokenizer::Token;

use super::{Ctx, found};
use crate::sql::error::Result;
use crate::sql::statement::Statement;

/// Whether the tokens after `SHOW` start a statement of this file: returns `Some(true)` for
/// `COLUMNS`, `Some(false)` for `INDEX`.
pub(super) fn classify(second: &Token, third: &Token) -> Option<bool> {
    let is = |t: &Token, w: &str| super::is_word(t, w);
    if is(second, "COLUMNS") || is(second, "FIELDS") {
        return Some(true);
    }
    if is(second, "FULL") && (is(third, "COLUMNS") || is(third, "FIELDS")) {
        return Some(true);
    }
    if is(second, "INDEX") || is(second, "INDEXES") || is(second, "KEYS") {
        return Some(false);
    }
    None
}

/// `{FROM | IN} t [{FROM | IN} public]`: the table.
fn parse_source(ctx: &mut Ctx<'_>) -> Result<String> {
    if !ctx.parse_words(&["FROM"]) && !ctx.parse_words(&["IN"]) {
        return Err(ctx.expected("'{FROM | IN} table'"));
    }
    let table = ctx.parse_table_name()?;
    parse_optional_schema(ctx)?;
    Ok(table)
}

/// `{FROM | IN} public`, if present: tsdb's one schema.
fn parse_optional_schema(ctx: &mut Ctx<'_>) -> Result<()> {
    if ctx.parse_words(&["FROM"]) || ctx.parse_words(&["IN"]) {
        let (schema, _, token) = ctx.parse_ident("a database name")?;
        if schema != "public" {
            return Err(ctx.error_at(
                format!("Unknown database '{schema}'; tsdb has a single schema, 'public'"),
                &token,
            ));
        }
    }
    Ok(())
}

/// `[LIKE 'pattern']`.
fn parse_optional_like(ctx: &mut Ctx<'_>) -> Result<Option<String>> {
    if !ctx.parse_words(&["LIKE"]) {
        return Ok(None);
    }
    let token = ctx.parser.next_token();
    match token.token {
        Token::SingleQuotedString(pattern) => Ok(Some(pattern)),
        _ => Err(ctx.error_at(found("a quoted pattern after LIKE", &token), &token)),
    }
}

/// `SHOW TABLE STATUS [{FROM | IN} public] [LIKE 'pattern' | WHERE expr]`.
pub(super) fn parse_show_table_status(ctx: &mut Ctx<'_>) -> Result<Statement> {
    ctx.expect_words(&["SHOW", "TABLE", "STATUS"])?;
    parse_optional_schema(ctx)?;
    if ctx.parse_words(&["WHERE"]) {
        let expr = ctx.parser.parse_expr().map_err(|e| ctx.parser_error(e))?;
        return Ok(Statement::ShowTableStatus {
            like: None,
            filter: Some(expr.to_string()),
        });
    }
    let like = parse_optional_like(ctx)?;
    Ok(Statement::ShowTableStatus { like, filter: None })
}

/// `SHOW [FULL] COLUMNS ...`.
pub(super) fn parse_show_columns(ctx: &mut Ctx<'_>) -> Result<Statement> {
    ctx.expect_words(&["SHOW"])?;
    let full = ctx.parse_words(&["FULL"]);
    if !ctx.parse_words(&["COLUMNS"]) {
        ctx.expect_words(&["FIELDS"])?;
    }
    let table = parse_source(ctx)?;
    let like = parse_optional_like(ctx)?;
    Ok(Statement::ShowColumns { table, full, like })
}

/// `SHOW INDEX ...`.
pub(super) fn parse_show_index(ctx: &mut Ctx<'_>) -> Result<Statement> {
    ctx.expect_words(&["SHOW"])?;
    let _ =
        ctx.parse_words(&["INDEX"]) || ctx.parse_words(&["INDEXES"]) || ctx.parse_words(&["KEYS"]);
    Ok(Statement::ShowIndex {
        table: parse_source(ctx)?,
    })
}
