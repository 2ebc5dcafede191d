//! Errors of the SQL front end: syntax errors with a position, semantic errors in DDL, and
//! input that ends inside a quote or comment.
//!
//! Positions are 1-based `line`/`column` (columns count characters, not bytes) relative to the
//! start of the statement text handed to [`parse_statement`](super::parse_statement), or, for
//! the splitter, to the start of the (trimmed) unterminated statement, so a shell can draw a
//! caret under the offending token.

use std::fmt;

/// Result of the SQL front end.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error of the SQL front end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The statement is not valid SQL in tsdb's dialect.
    #[error("{message} at line {line}, column {column}")]
    Parse {
        /// What was expected and what was found.
        message: String,
        /// 1-based line of the offending token.
        line: u64,
        /// 1-based column (in characters) of the offending token.
        column: u64,
    },
    /// The DDL statement parses but describes an invalid table (time index missing, unknown
    /// type, unknown table option, ...). The message names the column or table.
    #[error("{message}")]
    InvalidDdl {
        /// Human-readable description naming the table/column and the broken rule.
        message: String,
    },
    /// The input ended inside a quoted string, quoted identifier or block comment.
    #[error(
        "Unterminated {kind} starting at line {line}, column {column}: close it with {closing}"
    )]
    UnterminatedInput {
        /// What was left open.
        kind: Unterminated,
        /// The text that would close it, e.g. `'` or `*/`.
        closing: String,
        /// 1-based line where it started.
        line: u64,
        /// 1-based column (in characters) where it started.
        column: u64,
    },
}

impl Error {
    /// Converts an error of `sqlparser` on `sql` (e.g. one DataFusion reports for a query),
    /// moving the ` at Line: L, Column: C` suffix into the position. An error without one
    /// (input ended early, "found: EOF") is placed just after the statement's last token.
    pub fn from_sqlparser(err: &sqlparser::parser::ParserError, sql: &str) -> Error {
        let (message, position) = split_sqlparser_error(err);
        let (line, column) = position.unwrap_or_else(|| end_of_input(sql));
        Error::Parse {
            message,
            line,
            column,
        }
    }

    /// Builds an [`Error::InvalidDdl`].
    pub(crate) fn invalid_ddl(message: impl Into<String>) -> Self {
        Error::InvalidDdl {
            message: message.into(),
        }
    }

    /// The `(line, column)` of the error, if it has one.
    pub fn position(&self) -> Option<(u64, u64)> {
        match self {
            Error::Parse { line, column, .. } | Error::UnterminatedInput { line, column, .. } => {
                Some((*line, *column))
            }
            Error::InvalidDdl { .. } => None,
        }
    }
}

/// The construct an input ended inside of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unterminated {
    /// A string literal (`'..'`, `E'..'`, `X'..'`, `r'''..'''`, `q'[..]'`, ...).
    String,
    /// A quoted identifier (`".."` or `` `..` ``).
    QuotedIdentifier,
    /// A dollar-quoted string (`$$..$$`, `$tag$..$tag$`).
    DollarQuotedString,
    /// A block comment (`/* .. */`).
    BlockComment,
}

impl fmt::Display for Unterminated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unterminated::String => "string literal",
            Unterminated::QuotedIdentifier => "quoted identifier",
            Unterminated::DollarQuotedString => "dollar-quoted string",
            Unterminated::BlockComment => "block comment",
        })
    }
}

/// The message of a `sqlparser` error and the position its text ends with
/// (` at Line: L, Column: C`, removed from the message), if any.
pub(crate) fn split_sqlparser_error(
    err: &sqlparser::parser::ParserError,
) -> (String, Option<(u64, u64)>) {
    use sqlparser::parser::ParserError;
    let message = match err {
        ParserError::TokenizerError(message) | ParserError::ParserError(message) => message,
        ParserError::RecursionLimitExceeded => {
            return ("Expression is nested too deeply".into(), None);
        }
    };
    if let Some((text, location)) = message.rsplit_once(" at Line: ")
        && let Some((line, column)) = location.split_once(", Column: ")
        && let (Ok(line), Ok(column)) = (line.trim().parse(), column.trim().parse())
    {
        return (text.to_string(), Some((line, column)));
    }
    (message.clone(), None)
}

/// The 1-based line and column just after the last token of `sql` (trailing whitespace and
/// `;` ignored).
fn end_of_input(sql: &str) -> (u64, u64) {
    let text = sql.trim_end_matches(|c: char| c.is_whitespace() || c == ';');
    let line = text.matches('\n').count() as u64 + 1;
    let last_line = text.rsplit('\n').next().unwrap_or("");
    (line, last_line.chars().count() as u64 + 1)
}

#[cfg(test)]
mod tests {
    use sqlparser::parser::ParserError;

    use super::*;

    #[test]
    fn sqlparser_positions_move_into_the_error() {
        let err = ParserError::ParserError(
            "Expected: an SQL statement, found: SELEC at Line: 2, Column: 3".to_string(),
        );
        assert_eq!(
            Error::from_sqlparser(&err, "\n  SELEC 1"),
            Error::Parse {
                message: "Expected: an SQL statement, found: SELEC".to_string(),
                line: 2,
                column: 3
            }
        );
    }

    #[test]
    fn errors_at_end_of_input_point_after_the_last_token() {
        let err = ParserError::ParserError("Expected: an expression, found: EOF".to_string());
        let Error::Parse { line, column, .. } =
            Error::from_sqlparser(&err, "SELECT a,\nFROM t WHERE ;\n")
        else {
            panic!("not a parse error");
        };
        assert_eq!((line, column), (2, 13));
    }
}
