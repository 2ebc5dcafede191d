//! The REPL's rustyline helper: tab completion ([`complete`]) and syntax highlighting
//! ([`highlight`]).
//!
//! Completion offers SQL keywords, table names and column names (tables only after `FROM`,
//! `JOIN`, `DESCRIBE`, ...; columns of `table.` after the dot), dot commands at the start of a
//! line, and file paths inside a quoted string or after `.read`/`.output`/`.once`. The schema is
//! a snapshot refreshed by the REPL after each statement. Highlighting colours keywords,
//! strings, numbers and comments using sqlparser's tokenizer; it is off unless stdout is a
//! terminal and `NO_COLOR` is unset.

use std::borrow::Cow;

use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};
use sqlparser::dialect::GenericDialect;
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, Tokenizer};

/// Common SQL keywords offered by completion (tsdb's dialect included).
const KEYWORDS: &[&str] = &[
    "ADMIN",
    "ALL",
    "ALTER",
    "AND",
    "AS",
    "ASC",
    "AVG",
    "BETWEEN",
    "BIGINT",
    "BOOLEAN",
    "BY",
    "CASE",
    "CAST",
    "COLUMNS",
    "COMMENT",
    "COPY",
    "COUNT",
    "CREATE",
    "DATE_BIN",
    "DATE_BIN_GAPFILL",
    "DATE_TRUNC",
    "DELETE",
    "DESC",
    "DESCRIBE",
    "DISTINCT",
    "DOUBLE",
    "DROP",
    "ELSE",
    "END",
    "EXISTS",
    "EXPLAIN",
    "FALSE",
    "FLOAT",
    "FROM",
    "FULL",
    "GROUP",
    "HAVING",
    "IF",
    "IN",
    "INDEX",
    "INNER",
    "INSERT",
    "INT",
    "INTERPOLATE",
    "INTERVAL",
    "INTO",
    "IS",
    "JOIN",
    "KEY",
    "LEFT",
    "LIKE",
    "LIMIT",
    "LOCF",
    "MAX",
    "MIN",
    "NOT",
    "NOW",
    "NULL",
    "OFFSET",
    "ON",
    "OR",
    "ORDER",
    "OUTER",
    "OVER",
    "PARTITION",
    "PRIMARY",
    "REPLACE",
    "RIGHT",
    "SELECT",
    "SET",
    "SHOW",
    "STRING",
    "SUM",
    "TABLE",
    "TABLES",
    "THEN",
    "TIME",
    "TIMESTAMP",
    "TIME_ZONE",
    "TO",
    "TRUE",
    "TRUNCATE",
    "UNION",
    "UNSET",
    "UPDATE",
    "USING",
    "VALUES",
    "VARIABLES",
    "VIEW",
    "VIEWS",
    "WHEN",
    "WHERE",
    "WITH",
];

/// Dot commands offered at the start of a line.
const DOT_COMMANDS: &[&str] = &[
    ".exit",
    ".help",
    ".maxcolwidth",
    ".maxrows",
    ".mode",
    ".nullvalue",
    ".once",
    ".output",
    ".quit",
    ".read",
    ".schema",
    ".tables",
    ".timer",
];

/// Words after which only a table name makes sense.
const TABLE_CONTEXT: &[&str] = &[
    "FROM", "JOIN", "DESCRIBE", "DESC", "TABLE", "INTO", "UPDATE", ".SCHEMA", "\\D",
];

/// Words after which a column name is likely (offered even before anything is typed).
const COLUMN_CONTEXT: &[&str] = &[
    "WHERE", "SELECT", "AND", "OR", "BY", "ON", "HAVING", ",", "(",
];

/// What to complete at the cursor.
#[derive(Debug, PartialEq, Eq)]
pub enum Completion {
    /// Replace `line[start..pos]` with one of the candidates.
    Words {
        start: usize,
        candidates: Vec<String>,
    },
    /// Complete a file path (rustyline's [`FilenameCompleter`]).
    Path,
}

/// A table and its column names, as the completer sees the schema.
pub type TableColumns = (String, Vec<String>);

/// The candidates for the cursor at byte `pos` of `line`.
pub fn complete(line: &str, pos: usize, schema: &[TableColumns]) -> Completion {
    let before = &line[..pos];
    let trimmed = before.trim_start();
    if trimmed.starts_with('.') || trimmed.starts_with('\\') {
        match trimmed.split_once(char::is_whitespace) {
            None => {
                let start = pos - trimmed.len();
                let lower = trimmed.to_ascii_lowercase();
                let candidates = DOT_COMMANDS
                    .iter()
                    .filter(|command| command.starts_with(&lower))
                    .map(|command| command.to_string())
                    .collect();
                return Completion::Words { start, candidates };
            }
            Some((command, _)) => {
                let command = command.to_ascii_lowercase();
                if matches!(
                    command.as_str(),
                    ".read" | ".output" | ".once" | "\\i" | "\\o"
                ) {
                    return Completion::Path;
                }
                if !matches!(command.as_str(), ".schema" | "\\d") {
                    return Completion::Words {
                        start: pos,
                        candidates: Vec::new(),
                    };
                }
            }
        }
    }
    if before.chars().filter(|&c| c == '\'').count() % 2 == 1 {
        return Completion::Path;
    }

    let start = before
        .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
        .map_or(0, |at| {
            at + before[at..].chars().next().map_or(1, char::len_utf8)
        });
    let word = &before[start..];
    // `table.col`: the columns of that table.
    if let Some((table, prefix)) = word.rsplit_once('.') {
        let candidates = schema
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case(table))
            .flat_map(|(_, columns)| columns.iter())
            .filter(|column| starts_with_ignore_case(column, prefix))
            .cloned()
            .collect();
        return Completion::Words {
            start: pos - prefix.len(),
            candidates,
        };
    }

    let previous = previous_word(&before[..start]).to_ascii_uppercase();
    let tables = schema.iter().map(|(name, _)| name);
    let mut candidates: Vec<String> = if TABLE_CONTEXT.contains(&previous.as_str()) {
        tables
            .filter(|name| starts_with_ignore_case(name, word))
            .cloned()
            .collect()
    } else {
        if word.is_empty() && !COLUMN_CONTEXT.contains(&previous.as_str()) {
            return Completion::Words {
                start,
                candidates: Vec::new(),
            };
        }
        // Columns of the tables named in the line, or of every table if none is.
        let lower_line = line.to_ascii_lowercase();
        let mentioned: Vec<&TableColumns> = schema
            .iter()
            .filter(|(name, _)| contains_word(&lower_line, &name.to_ascii_lowercase()))
            .collect();
        let column_sources: Vec<&TableColumns> = if mentioned.is_empty() {
            schema.iter().collect()
        } else {
            mentioned
        };
        let mut candidates: Vec<String> = column_sources
            .iter()
            .flat_map(|(_, columns)| columns.iter())
            .filter(|column| starts_with_ignore_case(column, word))
            .cloned()
            .collect();
        if !word.is_empty() {
            candidates.extend(
                tables
                    .filter(|name| starts_with_ignore_case(name, word))
                    .cloned(),
            );
            let lower = word.chars().next().is_some_and(char::is_lowercase);
            candidates.extend(
                KEYWORDS
                    .iter()
                    .filter(|keyword| starts_with_ignore_case(keyword, word))
                    .map(|keyword| {
                        if lower {
                            keyword.to_ascii_lowercase()
                        } else {
                            keyword.to_string()
                        }
                    }),
            );
        }
        candidates
    };
    let mut seen = std::collections::HashSet::new();
    candidates.retain(|candidate| seen.insert(candidate.clone()));
    Completion::Words { start, candidates }
}

fn starts_with_ignore_case(candidate: &str, prefix: &str) -> bool {
    candidate.len() >= prefix.len()
        && candidate.is_char_boundary(prefix.len())
        && candidate[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// True if `word` occurs in `text` delimited by non-identifier characters.
fn contains_word(text: &str, word: &str) -> bool {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(word).any(|(at, _)| {
        !text[..at].chars().next_back().is_some_and(is_ident)
            && !text[at + word.len()..].chars().next().is_some_and(is_ident)
    })
}

/// The last word (or the punctuation `,`/`(`) before the end of `text`.
fn previous_word(text: &str) -> &str {
    let text = text.trim_end();
    if text.ends_with(',') || text.ends_with('(') {
        return &text[text.len() - 1..];
    }
    let start = text.rfind(char::is_whitespace).map_or(0, |at| at + 1);
    &text[start..]
}

const KEYWORD_STYLE: &str = "\x1b[1;34m";
const STRING_STYLE: &str = "\x1b[32m";
const NUMBER_STYLE: &str = "\x1b[33m";
const COMMENT_STYLE: &str = "\x1b[90m";
const RESET: &str = "\x1b[0m";

/// `line` with ANSI colours around keywords, strings, numbers and comments; unchanged if it
/// does not tokenize (e.g. an unterminated string) or is a dot command.
pub fn highlight(line: &str) -> Cow<'_, str> {
    if super::command::is_command(line) {
        return Cow::Borrowed(line);
    }
    let dialect = GenericDialect {};
    let Ok(tokens) = Tokenizer::new(&dialect, line).tokenize_with_location() else {
        return Cow::Borrowed(line);
    };
    // Byte offset of each (line, column) start, 1-based as in sqlparser's locations.
    let mut line_starts = vec![0usize];
    line_starts.extend(line.match_indices('\n').map(|(at, _)| at + 1));
    let offset = |line_no: u64, column: u64| -> Option<usize> {
        let begin = *line_starts.get(usize::try_from(line_no).ok()?.checked_sub(1)?)?;
        let column = usize::try_from(column).ok()?.checked_sub(1)?;
        let rest = &line[begin..];
        Some(
            begin
                + rest
                    .char_indices()
                    .nth(column)
                    .map_or(rest.len(), |(at, _)| at),
        )
    };
    let mut out = String::with_capacity(line.len() + 32);
    let mut copied = 0;
    for token in &tokens {
        let style = match &token.token {
            Token::Word(word)
                if word.quote_style.is_none() && word.keyword != Keyword::NoKeyword =>
            {
                KEYWORD_STYLE
            }
            Token::Number(..) => NUMBER_STYLE,
            Token::SingleQuotedString(_)
            | Token::NationalStringLiteral(_)
            | Token::EscapedStringLiteral(_)
            | Token::HexStringLiteral(_)
            | Token::DollarQuotedString(_) => STRING_STYLE,
            Token::Whitespace(
                sqlparser::tokenizer::Whitespace::SingleLineComment { .. }
                | sqlparser::tokenizer::Whitespace::MultiLineComment(_),
            ) => COMMENT_STYLE,
            _ => continue,
        };
        let (Some(start), Some(end)) = (
            offset(token.span.start.line, token.span.start.column),
            offset(token.span.end.line, token.span.end.column),
        ) else {
            continue;
        };
        if start < copied || end <= start {
            continue;
        }
        // A line comment's span includes its newline: keep that outside the colour.
        let end = if line[start..end].ends_with('\n') {
            end - 1
        } else {
            end
        };
        out.push_str(&line[copied..start]);
        out.push_str(style);
        out.push_str(&line[start..end]);
        out.push_str(RESET);
        copied = end;
    }
    if copied == 0 && out.is_empty() {
        return Cow::Borrowed(line);
    }
    out.push_str(&line[copied..]);
    Cow::Owned(out)
}

/// True when the REPL should colour its input: stdout is a terminal and `NO_COLOR` is unset
/// (or empty, as the convention says).
pub fn color_enabled(stdout_is_terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    stdout_is_terminal && no_color.is_none_or(|value| value.is_empty())
}

/// The rustyline helper of the REPL.
pub struct SqlHelper {
    /// Tables and their columns, refreshed after each statement.
    pub schema: Vec<TableColumns>,
    /// Highlight the input.
    pub color: bool,
    files: FilenameCompleter,
}

impl SqlHelper {
    pub fn new(color: bool) -> SqlHelper {
        SqlHelper {
            schema: Vec::new(),
            color,
            files: FilenameCompleter::new(),
        }
    }
}

/// The tables of `db` with their column names, for completion.
pub fn schema_of(db: &tsdb::Database) -> Vec<TableColumns> {
    db.catalog()
        .tables()
        .into_iter()
        .map(|table| {
            let columns = table
                .region
                .metadata()
                .columns
                .iter()
                .map(|column| column.name.clone())
                .collect();
            (table.name, columns)
        })
        .collect()
}

impl Completer for SqlHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        match complete(line, pos, &self.schema) {
            Completion::Path => self.files.complete(line, pos, ctx),
            Completion::Words { start, candidates } => Ok((
                start,
                candidates
                    .into_iter()
                    .map(|word| Pair {
                        display: word.clone(),
                        replacement: word,
                    })
                    .collect(),
            )),
        }
    }
}

impl Highlighter for SqlHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        if self.color {
            highlight(line)
        } else {
            Cow::Borrowed(line)
        }
    }

    fn highlight_char(&self, _line: &str, _pos: usize, _kind: CmdKind) -> bool {
        self.color
    }
}

impl Hinter for SqlHelper {
    type Hint = String;
}

impl Validator for SqlHelper {}

impl Helper for SqlHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Vec<TableColumns> {
        vec![
            (
                "cpu".to_string(),
                vec!["host".into(), "ts".into(), "usage_user".into()],
            ),
            (
                "mem".to_string(),
                vec!["host".into(), "ts".into(), "used".into()],
            ),
        ]
    }

    fn words(line: &str) -> (usize, Vec<String>) {
        match complete(line, line.len(), &schema()) {
            Completion::Words { start, candidates } => (start, candidates),
            Completion::Path => panic!("path completion for {line:?}"),
        }
    }

    #[test]
    fn keywords_keep_the_typed_case() {
        assert_eq!(words("SEL"), (0, vec!["SELECT".to_string()]));
        assert_eq!(words("sel"), (0, vec!["select".to_string()]));
        assert_eq!(words("SELECT 1 FR").1, vec!["FROM".to_string()]);
    }

    #[test]
    fn tables_after_from_join_describe() {
        assert_eq!(
            words("SELECT * FROM "),
            (14, vec!["cpu".into(), "mem".into()])
        );
        assert_eq!(words("SELECT * FROM c"), (14, vec!["cpu".into()]));
        assert_eq!(words("select * from cpu join m").1, vec!["mem".to_string()]);
        assert_eq!(words("DESCRIBE m").1, vec!["mem".to_string()]);
        assert_eq!(words("DESC "), (5, vec!["cpu".into(), "mem".into()]));
        assert_eq!(words(".schema c").1, vec!["cpu".to_string()]);
    }

    #[test]
    fn columns_of_the_tables_in_the_line() {
        assert_eq!(
            words("SELECT * FROM cpu WHERE "),
            (24, vec!["host".into(), "ts".into(), "usage_user".into()])
        );
        assert_eq!(
            words("SELECT * FROM cpu WHERE us").1,
            vec!["usage_user".to_string(), "using".to_string()]
        );
        assert_eq!(
            words("SELECT * FROM mem WHERE us").1,
            vec!["used".to_string(), "using".to_string()]
        );
        // No table named yet: columns of every table, deduplicated.
        assert_eq!(words("SELECT ho").1, vec!["host".to_string()]);
        assert_eq!(words("SELECT cpu.u"), (11, vec!["usage_user".to_string()]));
        // Nothing typed and no context: no flood of candidates.
        assert_eq!(words("SELECT 1 "), (9, vec![]));
    }

    #[test]
    fn dot_commands_and_paths() {
        assert_eq!(words(".ti"), (0, vec![".timer".to_string()]));
        assert_eq!(
            words("  .m").1,
            vec![
                ".maxcolwidth".to_string(),
                ".maxrows".to_string(),
                ".mode".to_string()
            ]
        );
        assert_eq!(complete(".read sc", 8, &schema()), Completion::Path);
        assert_eq!(
            complete("COPY cpu FROM '/tm", 18, &schema()),
            Completion::Path
        );
        assert_eq!(words(".mode cs").1, Vec::<String>::new());
    }

    #[test]
    fn highlighting_colours_tokens() {
        assert_eq!(
            highlight("SELECT 'a', 42 FROM t -- hi"),
            format!(
                "{KEYWORD_STYLE}SELECT{RESET} {STRING_STYLE}'a'{RESET}, {NUMBER_STYLE}42{RESET} \
                 {KEYWORD_STYLE}FROM{RESET} t {COMMENT_STYLE}-- hi{RESET}"
            )
        );
        // Unterminated input and dot commands are left alone.
        assert_eq!(highlight("SELECT 'abc"), "SELECT 'abc");
        assert_eq!(highlight(".mode csv"), ".mode csv");
        assert_eq!(highlight("x"), "x");
    }

    #[test]
    fn highlighting_is_off_when_disabled() {
        assert!(color_enabled(true, None));
        assert!(color_enabled(true, Some("".into())));
        assert!(!color_enabled(true, Some("1".into())));
        assert!(!color_enabled(false, None));
        let helper = SqlHelper::new(false);
        assert_eq!(Highlighter::highlight(&helper, "SELECT 1", 0), "SELECT 1");
        assert!(!helper.highlight_char("SELECT 1", 0, CmdKind::Other));
        let helper = SqlHelper::new(true);
        assert_ne!(Highlighter::highlight(&helper, "SELECT 1", 0), "SELECT 1");
    }
}
