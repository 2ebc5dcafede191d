//! Views in GreptimeDB's syntax (`tests/cases/standalone/common/view/*.sql`):
//!
//! ```text
//! CREATE [OR REPLACE] VIEW [IF NOT EXISTS] name [(col, ...)] AS query
//! DROP VIEW [IF EXISTS] name[, name ...]
//! SHOW VIEWS [LIKE 'pattern']
//! SHOW CREATE VIEW name
//! ```
//!
//! `OR REPLACE` with `IF NOT EXISTS` is refused, as GreptimeDB does; so are `MATERIALIZED`,
//! `TEMPORARY` and other dialects' view options.

use sqlparser::ast::{ObjectName, Statement as SqlStatement};
use sqlparser::tokenizer::Token;

use super::{Ctx, found};
use crate::sql::error::{Error, Result};
use crate::sql::statement::Statement;

/// `CREATE [OR REPLACE] VIEW ...` (the statement starts at the current token).
pub(super) fn parse_create_view(ctx: &mut Ctx<'_>) -> Result<Statement> {
    let start = ctx.parser.peek_token();
    let statement = ctx
        .parser
        .parse_statement()
        .map_err(|err| ctx.parser_error(err))?;
    let SqlStatement::CreateView(view) = &statement else {
        return Err(ctx.error_at("Expected CREATE VIEW", &start));
    };
    let unsupported = |what: &str| {
        Error::invalid_ddl(format!(
            "{what} is not supported in CREATE VIEW (tsdb follows GreptimeDB's CREATE [OR \
             REPLACE] VIEW [IF NOT EXISTS] name [(columns)] AS query)"
        ))
    };
    if view.or_replace && view.if_not_exists {
        return Err(Error::invalid_ddl(
            "Invalid SQL, error: syntax error Create Or Replace and If Not Exist cannot be used \
             together",
        ));
    }
    if view.materialized {
        return Err(unsupported("MATERIALIZED"));
    }
    if view.temporary {
        return Err(unsupported("TEMPORARY"));
    }
    if view.or_alter || view.secure || view.params.is_some() || view.to.is_some() {
        return Err(unsupported("This view option"));
    }
    if view.comment.is_some() || !view.cluster_by.is_empty() || view.with_no_schema_binding {
        return Err(unsupported("This view option"));
    }
    if view.columns.iter().any(|c| c.data_type.is_some()) {
        return Err(unsupported("A column type"));
    }
    let name = object_name(ctx, &view.name, &start)?;
    let columns = view
        .columns
        .iter()
        .map(|c| ident(&c.name))
        .collect::<Vec<_>>();
    Ok(Statement::CreateView {
        name,
        or_replace: view.or_replace,
        if_not_exists: view.if_not_exists,
        columns,
        query: view.query.to_string(),
        definition: statement.to_string(),
    })
}

/// `DROP VIEW [IF EXISTS] a[, b ...]`.
pub(super) fn parse_drop_view(ctx: &mut Ctx<'_>) -> Result<Statement> {
    ctx.expect_words(&["DROP", "VIEW"])?;
    let if_exists = ctx.parse_words(&["IF", "EXISTS"]);
    let mut names = vec![ctx.parse_table_name()?];
    while ctx.parser.consume_token(&Token::Comma) {
        names.push(ctx.parse_table_name()?);
    }
    Ok(Statement::DropView { names, if_exists })
}

/// `SHOW VIEWS [LIKE 'pattern']`.
pub(super) fn parse_show_views(ctx: &mut Ctx<'_>) -> Result<Statement> {
    ctx.expect_words(&["SHOW", "VIEWS"])?;
    let like = if ctx.parse_words(&["LIKE"]) {
        let token = ctx.parser.next_token();
        match token.token {
            Token::SingleQuotedString(pattern) => Some(pattern),
            _ => return Err(ctx.error_at(found("a quoted pattern after LIKE", &token), &token)),
        }
    } else {
        None
    };
    Ok(Statement::ShowViews { like })
}

/// `SHOW CREATE VIEW name`.
pub(super) fn parse_show_create_view(ctx: &mut Ctx<'_>) -> Result<Statement> {
    ctx.expect_words(&["SHOW", "CREATE", "VIEW"])?;
    Ok(Statement::ShowCreateView {
        view: ctx.parse_table_name()?,
    })
}

/// An identifier as tsdb stores it: unquoted ones lower-cased.
fn ident(ident: &sqlparser::ast::Ident) -> String {
    if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_lowercase()
    }
}

/// A view name, with the same qualifiers as a table name (see the parser's module docs).
fn object_name(
    ctx: &Ctx<'_>,
    name: &ObjectName,
    at: &sqlparser::tokenizer::TokenWithSpan,
) -> Result<String> {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|part| {
            part.as_ident()
                .map(ident)
                .unwrap_or_else(|| part.to_string())
        })
        .collect();
    match super::unqualified_name(&parts) {
        Some(view) => Ok(view),
        None => Err(ctx.error_at(
            format!(
                "View name '{}' is qualified with an unknown schema; tsdb has a single \
                 schema, 'public': write the view name alone",
                parts.join(".")
            ),
            at,
        )),
    }
}
