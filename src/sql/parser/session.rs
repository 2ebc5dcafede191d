//! Session statements tsdb runs itself: GreptimeDB's `SET time_zone` and `SHOW VARIABLES`.
//!
//! Accepted as GreptimeDB's `src/sql/src/parsers/set_var_parser.rs` accepts them:
//! `SET [SESSION | LOCAL] {TIME_ZONE | TIMEZONE | TIME ZONE} {= | TO} 'zone'` and
//! `SET TIME ZONE 'zone'`. Every other `SET` goes to DataFusion (its `datafusion.*` options).

use sqlparser::tokenizer::{Token, TokenWithSpan};

use super::{Ctx, Kind, found, is_word};
use crate::sql::error::Result;
use crate::sql::statement::Statement;

/// `Some` for the statements of this module, from their leading tokens.
pub(super) fn classify(tokens: &[TokenWithSpan]) -> Option<Kind> {
    let mut significant = tokens
        .iter()
        .map(|t| &t.token)
        .filter(|t| !matches!(t, Token::Whitespace(_)));
    let first = significant.next()?;
    let mut second = significant.next().unwrap_or(&Token::EOF);
    if is_word(first, "SHOW") {
        return is_word(second, "VARIABLES").then_some(Kind::ShowVariables);
    }
    if !is_word(first, "SET") {
        return None;
    }
    if is_word(second, "SESSION") || is_word(second, "LOCAL") {
        second = significant.next().unwrap_or(&Token::EOF);
    }
    let third = significant.next().unwrap_or(&Token::EOF);
    let time_zone = is_word(second, "TIME_ZONE")
        || is_word(second, "TIMEZONE")
        || (is_word(second, "TIME") && is_word(third, "ZONE"));
    time_zone.then_some(Kind::SetTimeZone)
}

/// `SET [SESSION | LOCAL] time_zone {= | TO} 'zone'`.
pub(super) fn parse_set_time_zone(ctx: &mut Ctx<'_>) -> Result<Statement> {
    ctx.expect_words(&["SET"])?;
    let _ = ctx.parse_words(&["SESSION"]) || ctx.parse_words(&["LOCAL"]);
    let named = ctx.parse_words(&["TIME_ZONE"])
        || ctx.parse_words(&["TIMEZONE"])
        || ctx.parse_words(&["TIME", "ZONE"]);
    if !named {
        return Err(ctx.expected("TIME_ZONE"));
    }
    let _ = ctx.parser.consume_token(&Token::Eq) || ctx.parse_words(&["TO"]);
    let token = ctx.parser.next_token();
    let value = match &token.token {
        Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => s.clone(),
        Token::Word(w) => w.value.clone(),
        _ => return Err(ctx.error_at(found("a time zone such as 'UTC'", &token), &token)),
    };
    Ok(Statement::SetTimeZone { value })
}

/// `SHOW VARIABLES name`.
pub(super) fn parse_show_variables(ctx: &mut Ctx<'_>) -> Result<Statement> {
    ctx.expect_words(&["SHOW", "VARIABLES"])?;
    let token = ctx.parser.next_token();
    let name = match &token.token {
        Token::Word(w) => w.value.to_lowercase(),
        Token::SingleQuotedString(s) => s.to_lowercase(),
        _ => return Err(ctx.error_at(found("a variable name", &token), &token)),
    };
    Ok(Statement::ShowVariables { name })
}

#[cfg(test)]
mod tests {
    use crate::sql::{Statement, parse_statement};

    fn zone(sql: &str) -> String {
        match parse_statement(sql).unwrap() {
            Statement::SetTimeZone { value } => value,
            other => panic!("{sql}: {other:?}"),
        }
    }

    #[test]
    fn greptimedb_spellings_of_set_time_zone() {
        assert_eq!(zone("SET time_zone = 'UTC'"), "UTC");
        assert_eq!(zone("SET LOCAL time_zone = 'UTC'"), "UTC");
        assert_eq!(zone("SET SESSION TIME_ZONE = '+8:00';"), "+8:00");
        assert_eq!(zone("SET TIMEZONE TO 'Europe/Berlin'"), "Europe/Berlin");
        assert_eq!(zone("SET TIMEZONE 'UTC'"), "UTC");
        assert_eq!(zone("SET TIME ZONE 'Asia/Shanghai'"), "Asia/Shanghai");
    }

    #[test]
    fn other_set_statements_go_to_datafusion() {
        let sql = "SET datafusion.execution.batch_size = 100";
        assert_eq!(parse_statement(sql).unwrap(), Statement::Query(sql.into()));
    }

    #[test]
    fn show_variables_and_errors() {
        assert_eq!(
            parse_statement("SHOW VARIABLES time_zone").unwrap(),
            Statement::ShowVariables {
                name: "time_zone".into()
            }
        );
        let err = parse_statement("SET time_zone = (1)")
            .unwrap_err()
            .to_string();
        assert!(err.contains("Expected a time zone"), "{err}");
        let err = parse_statement("SHOW VARIABLES").unwrap_err().to_string();
        assert!(err.contains("Expected a variable name"), "{err}");
    }
}
