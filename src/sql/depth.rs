//! A bound on how deeply operators nest in a statement, checked before DataFusion plans it.
//!
//! `sqlparser` limits recursion in its parser (parentheses, function calls, subqueries, `CASE`:
//! DataFusion's `sql_parser.recursion_limit`, 50), but a chain of binary operators
//! (`1 + 1 + ... + 1`, `a AND b AND ...`) is parsed by a loop into a left-deep tree of any
//! depth. DataFusion then walks that tree recursively in places its `recursive_protection`
//! does not cover (`SchemaDisplay` of the column name, physical expression evaluation): a
//! 2,000-term sum overflowed the 8 MiB main thread of a debug build and a 600-term one a 2 MiB
//! tokio worker, aborting the process. DuckDB refuses such input the same way
//! (`max_expression_depth`, default 1000).
//!
//! The check runs on tokens (linear, no recursion, nothing allocated per level) and computes an
//! upper bound of the expression tree's depth: within one parenthesis level, the number of
//! `AND`/`OR`/`NOT` plus the longest run of other operators between two of them; levels add up.
//! A comma or a clause keyword (`SELECT`, `FROM`, `WHERE`, `WHEN`, ...) starts a new
//! expression. So `host = 'a' OR host = 'b' OR ...` with 200 alternatives counts 200, and an
//! `IN (...)` list of any length counts 1.

use sqlparser::dialect::GenericDialect;
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

use super::error::{Error, Result};

/// Deepest operator nesting a statement may have (an upper bound of the expression tree's
/// depth, see the module doc). A debug build evaluates 300 nested additions on a 2 MiB tokio
/// worker stack, not 600.
pub const MAX_EXPRESSION_DEPTH: usize = 256;

/// One parenthesis level of the walk.
#[derive(Debug, Default, Clone, Copy)]
struct Level {
    /// `AND`, `OR`, `NOT` in the current expression.
    logical: usize,
    /// Other operators since the last logical one.
    run: usize,
    /// Longest such run in the current expression.
    longest_run: usize,
}

impl Level {
    fn depth(&self) -> usize {
        self.logical + self.longest_run
    }
}

/// Checks that no expression of `sql` nests operators deeper than [`MAX_EXPRESSION_DEPTH`].
/// Text that does not tokenize passes (the parser reports it).
///
/// ```
/// use tsdb::sql::check_expression_depth;
///
/// assert!(check_expression_depth("SELECT 1 + 2 + 3").is_ok());
/// let deep = format!("SELECT {}", vec!["1"; 1000].join(" + "));
/// assert!(check_expression_depth(&deep).is_err());
/// ```
///
/// # Errors
/// [`Error::Parse`] at the operator that crosses the limit.
pub fn check_expression_depth(sql: &str) -> Result<()> {
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize_with_location() else {
        return Ok(());
    };
    check_tokens(&tokens)
}

fn check_tokens(tokens: &[TokenWithSpan]) -> Result<()> {
    // levels[0] is the statement's top level; `total` is the sum of their depths.
    let mut levels = vec![Level::default()];
    let mut total = 0usize;
    for token in tokens {
        let top = levels.len() - 1;
        let before = levels[top].depth();
        match classify(&token.token) {
            Class::Open => {
                levels.push(Level::default());
                continue;
            }
            Class::Close => {
                if levels.len() > 1 {
                    total -= before;
                    levels.pop();
                }
                continue;
            }
            Class::Boundary => levels[top] = Level::default(),
            Class::Logical => {
                let level = &mut levels[top];
                level.logical += 1;
                level.run = 0;
            }
            Class::Operator => {
                let level = &mut levels[top];
                level.run += 1;
                level.longest_run = level.longest_run.max(level.run);
            }
            Class::Operand => continue,
        }
        total = total - before + levels[top].depth();
        if total + levels.len() > MAX_EXPRESSION_DEPTH {
            return Err(Error::Parse {
                message: format!(
                    "Expression is nested too deeply (more than {MAX_EXPRESSION_DEPTH} \
                     operators deep); split it, or use IN (...) for a long list of \
                     alternatives"
                ),
                line: token.span.start.line,
                column: token.span.start.column,
            });
        }
    }
    Ok(())
}

enum Class {
    Open,
    Close,
    /// Ends the current expression (comma, semicolon, clause keyword).
    Boundary,
    Logical,
    Operator,
    Operand,
}

fn classify(token: &Token) -> Class {
    match token {
        Token::LParen | Token::LBracket | Token::LBrace => Class::Open,
        Token::RParen | Token::RBracket | Token::RBrace => Class::Close,
        Token::Comma | Token::SemiColon => Class::Boundary,
        Token::Word(word) => match word.keyword {
            Keyword::AND | Keyword::OR | Keyword::NOT | Keyword::XOR => Class::Logical,
            Keyword::IS
            | Keyword::IN
            | Keyword::LIKE
            | Keyword::ILIKE
            | Keyword::BETWEEN
            | Keyword::SIMILAR
            | Keyword::REGEXP
            | Keyword::RLIKE
            | Keyword::COLLATE
            | Keyword::AT => Class::Operator,
            Keyword::SELECT
            | Keyword::FROM
            | Keyword::WHERE
            | Keyword::GROUP
            | Keyword::HAVING
            | Keyword::ORDER
            | Keyword::LIMIT
            | Keyword::OFFSET
            | Keyword::ON
            | Keyword::JOIN
            | Keyword::UNION
            | Keyword::EXCEPT
            | Keyword::INTERSECT
            | Keyword::VALUES
            | Keyword::SET
            | Keyword::WHEN
            | Keyword::THEN
            | Keyword::ELSE
            | Keyword::END
            | Keyword::AS
            | Keyword::WITH
            | Keyword::QUALIFY
            | Keyword::WINDOW
            | Keyword::RETURNING => Class::Boundary,
            _ => Class::Operand,
        },
        Token::Number(..)
        | Token::Char(_)
        | Token::SingleQuotedString(_)
        | Token::DoubleQuotedString(_)
        | Token::DollarQuotedString(_)
        | Token::NationalStringLiteral(_)
        | Token::EscapedStringLiteral(_)
        | Token::UnicodeStringLiteral(_)
        | Token::HexStringLiteral(_)
        | Token::Placeholder(_)
        | Token::Whitespace(_)
        | Token::Period
        | Token::Colon
        | Token::EOF => Class::Operand,
        _ => Class::Operator,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(op: &str, n: usize) -> String {
        vec!["x"; n].join(op)
    }

    #[test]
    fn long_operator_chains_are_refused_with_a_position() {
        let sql = format!("SELECT {}", chain(" + ", MAX_EXPRESSION_DEPTH + 10));
        let err = check_expression_depth(&sql).unwrap_err();
        assert!(err.to_string().contains("nested too deeply"), "{err}");
        assert!(err.position().is_some());
        let sql = format!("SELECT 1 WHERE {}", chain(" AND ", 10_000));
        assert!(check_expression_depth(&sql).is_err());
        // Levels add up: 100 operators inside each of 3 nested parentheses.
        let inner = chain(" * ", 100);
        let sql = format!("SELECT ({inner} + ({inner} + ({inner})))");
        assert!(check_expression_depth(&sql).is_err());
    }

    #[test]
    fn ordinary_statements_pass() {
        let ors: Vec<String> = (0..200).map(|i| format!("host = 'h{i}'")).collect();
        let sql = format!("SELECT * FROM cpu WHERE {}", ors.join(" OR "));
        check_expression_depth(&sql).unwrap();
        let list: Vec<String> = (0..100_000).map(|i| format!("'h{i}'")).collect();
        let sql = format!("SELECT * FROM cpu WHERE host IN ({})", list.join(", "));
        check_expression_depth(&sql).unwrap();
        // Many short expressions: commas start a new one.
        let sql = format!("SELECT {}", vec!["a + b"; 10_000].join(", "));
        check_expression_depth(&sql).unwrap();
        let sql = format!("SELECT {} FROM t", chain(" + ", MAX_EXPRESSION_DEPTH - 2));
        check_expression_depth(&sql).unwrap();
        // Does not tokenize: left to the parser.
        check_expression_depth("SELECT 'open").unwrap();
    }
}
