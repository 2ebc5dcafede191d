//! GreptimeDB's `COPY`:
//!
//! ```text
//! COPY [TABLE] <table> TO '<path>' [WITH (<key> = '<value>' [, ...])]
//! COPY [TABLE] <table> FROM '<path>' [WITH (<key> = '<value>' [, ...])]
//! COPY (<query>) TO '<path>' [WITH (<key> = '<value>' [, ...])]
//! ```
//!
//! Option keys are case-insensitive (lower-cased here) and may be quoted; values are quoted
//! strings (bare words and numbers are accepted too). Which options are valid is checked when
//! the statement runs. DataFusion's own `COPY ... STORED AS ... OPTIONS (...)` is not parsed
//! here (see [`super::classify`]).

use std::collections::BTreeMap;

use sqlparser::tokenizer::Token;

use super::{Ctx, found, is_word};
use crate::sql::error::Result;
use crate::sql::statement::{CopySource, CopyStatement};

/// Whether a statement starting with `COPY` is DataFusion's form (has `STORED AS` or
/// `OPTIONS`): then tsdb leaves it to DataFusion.
pub(super) fn is_datafusion_copy(tokens: &[Token]) -> bool {
    tokens
        .iter()
        .any(|t| is_word(t, "STORED") || is_word(t, "OPTIONS"))
}

/// Parses a whole `COPY` statement (the `COPY` keyword included).
pub(super) fn parse(ctx: &mut Ctx<'_>) -> Result<CopyStatement> {
    ctx.expect_words(&["COPY"])?;
    let source = if ctx.parser.consume_token(&Token::LParen) {
        let query = ctx.parser.parse_query().map_err(|e| ctx.parser_error(e))?;
        ctx.expect_token(&Token::RParen, "')' after the COPY query")?;
        CopySource::Query(query.to_string())
    } else {
        let _ = ctx.parse_words(&["TABLE"]);
        CopySource::Table(ctx.parse_table_name()?)
    };
    let to = if ctx.parse_words(&["TO"]) {
        true
    } else if ctx.parse_words(&["FROM"]) {
        false
    } else {
        return Err(ctx.expected("TO or FROM"));
    };
    let path_token = ctx.parser.next_token();
    let Token::SingleQuotedString(path) = path_token.token.clone() else {
        return Err(ctx.error_at(found("a quoted file path", &path_token), &path_token));
    };
    let options = parse_options(ctx)?;
    if to {
        return Ok(CopyStatement::To {
            source,
            path,
            options,
        });
    }
    match source {
        CopySource::Table(table) => Ok(CopyStatement::From {
            table,
            path,
            options,
        }),
        CopySource::Query(_) => Err(ctx.error_at(
            "COPY (query) FROM is not supported; COPY FROM loads into a table: COPY t FROM 'path'",
            &path_token,
        )),
    }
}

/// `[WITH (key = value [, ...])]`.
fn parse_options(ctx: &mut Ctx<'_>) -> Result<BTreeMap<String, String>> {
    let mut options = BTreeMap::new();
    if !ctx.parse_words(&["WITH"]) {
        return Ok(options);
    }
    ctx.expect_token(&Token::LParen, "'(' after WITH")?;
    if ctx.parser.consume_token(&Token::RParen) {
        return Ok(options);
    }
    loop {
        let key_token = ctx.parser.next_token();
        let key = match &key_token.token {
            Token::Word(w) => w.value.to_lowercase(),
            Token::SingleQuotedString(s) => s.to_lowercase(),
            _ => return Err(ctx.error_at(found("an option name", &key_token), &key_token)),
        };
        ctx.expect_token(&Token::Eq, "'=' after the option name")?;
        let value_token = ctx.parser.next_token();
        let value = match &value_token.token {
            Token::SingleQuotedString(s) => s.clone(),
            Token::Word(w) => w.value.clone(),
            Token::Number(n, _) => n.clone(),
            _ => {
                return Err(ctx.error_at(
                    found(&format!("a quoted value for option '{key}'"), &value_token),
                    &value_token,
                ));
            }
        };
        if options.insert(key.clone(), value).is_some() {
            return Err(ctx.error_at(format!("Option '{key}' given twice"), &key_token));
        }
        if ctx.parser.consume_token(&Token::Comma) {
            continue;
        }
        ctx.expect_token(&Token::RParen, "',' or ')' in the WITH options")?;
        return Ok(options);
    }
}
