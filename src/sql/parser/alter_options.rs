//! `ALTER TABLE t SET 'k' = 'v'[, ..]`, `ALTER TABLE t UNSET 'k'[, ..]` and
//! `TRUNCATE [TABLE] t`, in GreptimeDB's syntax (`sql/src/parsers/alter_parser.rs`:
//! `parse_string_options`, `parse_string_option_names`; `truncate_parser.rs`).
//!
//! An option name is a single-quoted string or a bare word (`SET ttl = '1h'` and
//! `SET 'ttl' = '1h'` are the same); a value is a single-quoted string, a number, or `NULL`
//! (read as the empty string, as GreptimeDB does). Other `ALTER TABLE` forms are not parsed
//! here.

use sqlparser::tokenizer::Token;

use super::{Ctx, found, is_word};
use crate::sql::error::Result;
use crate::sql::statement::{AlterTableOptions, OptionChange, Statement};

/// Whether `tokens` (significant ones, from `ALTER`) are `ALTER TABLE name SET|UNSET ..`.
pub(super) fn is_alter_options<'a>(mut tokens: impl Iterator<Item = &'a Token>) -> bool {
    if !(tokens.next().is_some_and(|t| is_word(t, "ALTER"))
        && tokens.next().is_some_and(|t| is_word(t, "TABLE")))
    {
        return false;
    }
    // The (maybe qualified) name: words separated by periods.
    if !matches!(tokens.next(), Some(Token::Word(_))) {
        return false;
    }
    loop {
        match tokens.next() {
            Some(Token::Period) => {
                if !matches!(tokens.next(), Some(Token::Word(_))) {
                    return false;
                }
            }
            Some(t) => return is_word(t, "SET") || is_word(t, "UNSET"),
            None => return false,
        }
    }
}

/// `ALTER TABLE t SET ..` / `UNSET ..`.
pub(super) fn parse_alter(ctx: &mut Ctx<'_>) -> Result<Statement> {
    ctx.expect_words(&["ALTER", "TABLE"])?;
    let table = ctx.parse_table_name()?;
    let change = if ctx.parse_words(&["SET"]) {
        let mut pairs = vec![parse_pair(ctx)?];
        while ctx.parser.consume_token(&Token::Comma) {
            pairs.push(parse_pair(ctx)?);
        }
        OptionChange::Set(pairs)
    } else if ctx.parse_words(&["UNSET"]) {
        let mut keys = vec![parse_key(ctx)?];
        while ctx.parser.consume_token(&Token::Comma) {
            keys.push(parse_key(ctx)?);
        }
        OptionChange::Unset(keys)
    } else {
        return Err(ctx.expected("SET or UNSET"));
    };
    Ok(Statement::AlterTableOptions(AlterTableOptions {
        table,
        change,
    }))
}

/// `TRUNCATE [TABLE] t`.
pub(super) fn parse_truncate(ctx: &mut Ctx<'_>) -> Result<Statement> {
    ctx.expect_words(&["TRUNCATE"])?;
    let _ = ctx.parse_words(&["TABLE"]);
    Ok(Statement::Truncate {
        table: ctx.parse_table_name()?,
    })
}

/// An option name: `'key'` or a bare word, lower-cased.
fn parse_key(ctx: &mut Ctx<'_>) -> Result<String> {
    let token = ctx.parser.next_token();
    match &token.token {
        Token::SingleQuotedString(key) => Ok(key.to_ascii_lowercase()),
        Token::Word(word) if word.quote_style.is_none() => Ok(word.value.to_ascii_lowercase()),
        _ => Err(ctx.error_at(found("a table option name", &token), &token)),
    }
}

/// `key = 'value' | number | NULL`.
fn parse_pair(ctx: &mut Ctx<'_>) -> Result<(String, String)> {
    let key = parse_key(ctx)?;
    ctx.expect_token(&Token::Eq, "'='")?;
    let token = ctx.parser.next_token();
    let value = match &token.token {
        Token::SingleQuotedString(value) => value.clone(),
        Token::Number(number, _) => number.clone(),
        Token::Word(word) if is_word(&token.token, "NULL") && word.quote_style.is_none() => {
            String::new()
        }
        _ => {
            return Err(ctx.error_at(
                format!(
                    "Unexpected option value for alter table statements, expect string \
                     literal, numeric literal or NULL, got: {}",
                    super::describe(&token)
                ),
                &token,
            ));
        }
    };
    Ok((key, value))
}

#[cfg(test)]
mod tests {
    use crate::sql::parse_statement;
    use crate::sql::statement::{AlterTableOptions, OptionChange, Statement};

    #[test]
    fn parses_set_and_unset() {
        assert_eq!(
            parse_statement("ALTER TABLE public.t SET 'ttl' = '1h', append_mode = 'true'").unwrap(),
            Statement::AlterTableOptions(AlterTableOptions {
                table: "t".into(),
                change: OptionChange::Set(vec![
                    ("ttl".into(), "1h".into()),
                    ("append_mode".into(), "true".into())
                ]),
            })
        );
        assert_eq!(
            parse_statement("alter table T set TTL = NULL;").unwrap(),
            Statement::AlterTableOptions(AlterTableOptions {
                table: "t".into(),
                change: OptionChange::Set(vec![("ttl".into(), String::new())]),
            })
        );
        assert_eq!(
            parse_statement("ALTER TABLE t UNSET 'ttl'").unwrap(),
            Statement::AlterTableOptions(AlterTableOptions {
                table: "t".into(),
                change: OptionChange::Unset(vec!["ttl".into()]),
            })
        );
        let err = parse_statement("ALTER TABLE t SET ttl = ").unwrap_err();
        assert!(err.to_string().contains("Unexpected option value"), "{err}");
        let err = parse_statement("ALTER TABLE t SET 'ttl' '1h'").unwrap_err();
        assert!(err.to_string().contains("Expected '='"), "{err}");
        // Other ALTER TABLE forms are column changes (`alter_table`).
        assert!(matches!(
            parse_statement("ALTER TABLE t ADD COLUMN c INT").unwrap(),
            Statement::AlterTable(_)
        ));
    }

    #[test]
    fn parses_truncate() {
        for sql in [
            "TRUNCATE TABLE cpu",
            "truncate cpu;",
            "TRUNCATE greptime.public.cpu",
        ] {
            assert_eq!(
                parse_statement(sql).unwrap(),
                Statement::Truncate {
                    table: "cpu".into()
                },
                "{sql}"
            );
        }
        assert!(parse_statement("TRUNCATE TABLE").is_err());
        assert!(parse_statement("TRUNCATE TABLE a b").is_err());
    }
}
