//! Statement splitting: cuts SQL text into statements at every `;` that is outside string
//! literals, quoted identifiers and comments.
//!
//! [`StatementSplitter`] is incremental: the shell pushes stdin line by line and runs each
//! statement as soon as its `;` arrives. The scanner is a small state machine that mirrors the
//! lexical rules of `sqlparser`'s tokenizer for `GenericDialect` (the dialect DataFusion and
//! [`parse_statement`](super::parse_statement) use), so it splits exactly where that tokenizer
//! produces `;` tokens:
//! - `'..'` with `''` escapes; `E'..'` and `X'..'` also take backslash escapes; `B'..'`, `N'..'`,
//!   `U&'..'`, `R'..'` and `B".."`/`R".."`; triple-quoted raw strings `R'''..'''`;
//!   Oracle-style `Q'[..]'`/`NQ'<..>'`;
//! - `".."` and `` `..` `` identifiers with doubled-quote escapes;
//! - `$$..$$` and `$tag$..$tag$` dollar-quoted strings;
//! - `--` line comments and nested `/* .. */` block comments;
//! - the tokenizer's quirks that swallow a would-be delimiter: `//`, `|/`, `||/` and `#-` are
//!   operators (so `//*` opens no comment), and `#x`/`@x` are words whatever `x` is.
//!
//! The unit tests check agreement with the tokenizer on thousands of random inputs. Known
//! differences, all on odd input: MySQL optimizer hints (`/*! .. */`), which the tokenizer
//! re-tokenizes as SQL, are comments here; backslashes in `U&'..'` are not escapes here, and
//! in `0x'..'` they are (an `X'..'` string after `0`); and where the tokenizer
//! fails (e.g. an invalid escape), the statement is still cut at its `;`.
//!
//! Invariants: every input byte is scanned once (the scanner state survives between pushes, and
//! the only re-reading is the few characters of look-ahead at the end of a push, e.g. a
//! trailing `-` that may start `--`, or a `$tag` that may open `$tag$`), so splitting is
//! linear in the input size; a statement whose quote or comment is still open simply waits for
//! more input, and is reported as [`Error::UnterminatedInput`] only by
//! [`StatementSplitter::finish`]. Consumed text is dropped from the buffer as statements
//! complete.

use std::collections::VecDeque;

use super::error::{Error, Result, Unterminated};

/// Splits `input` into statements (see the [module docs](self)).
///
/// Each statement is returned trimmed and without its `;`; statements that contain only
/// whitespace and comments are skipped; a final statement without `;` is included.
///
/// # Errors
/// [`Error::UnterminatedInput`] if the input ends inside a string, quoted identifier or block
/// comment.
pub fn split_statements(input: &str) -> Result<Vec<String>> {
    let mut splitter = StatementSplitter::new();
    splitter.push(input);
    splitter.eof = true;
    splitter.scan();
    let mut statements: Vec<String> = splitter.ready.drain(..).collect();
    if let Some(rest) = splitter.take_rest() {
        statements.push(rest?);
    }
    Ok(statements)
}

/// Lexical state carried from one push to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Between tokens, or inside an operator/number.
    Normal,
    /// Inside an unquoted identifier or keyword (so `e'` in `some'..` is not an escape string).
    Word,
    /// After `--`, up to the end of the line.
    LineComment,
    /// Inside `/* .. */`, nested `depth` levels deep.
    BlockComment { depth: u32 },
    /// Inside a string or identifier closed by `quote`; a doubled `quote` is an escape, and
    /// with `backslash` a `\` escapes the next character.
    Quoted {
        quote: char,
        backslash: bool,
        kind: Unterminated,
    },
    /// Inside `R'''..'''`/`R""".."""`; `run` consecutive quotes seen so far.
    TripleQuoted { quote: char, run: u8 },
    /// Inside a dollar-quoted string closed by [`StatementSplitter::dollar_delimiter`].
    Dollar,
    /// Inside `Q'<start>..<end>'`.
    QuoteDelimited { end: char },
}

/// Incremental statement splitter for streaming input (see the [module docs](self)).
///
/// ```
/// use tsdb::sql::StatementSplitter;
///
/// let mut splitter = StatementSplitter::new();
/// splitter.push("SELECT ';' AS x; SELECT");
/// assert_eq!(splitter.next_statement().unwrap().unwrap(), "SELECT ';' AS x");
/// assert!(splitter.next_statement().is_none()); // `SELECT` is not terminated yet
/// splitter.push(" 2");
/// assert_eq!(splitter.finish().unwrap().unwrap(), "SELECT 2");
/// ```
#[derive(Debug, Clone)]
pub struct StatementSplitter {
    /// Text not yet handed out (compacted from the front on push).
    buf: String,
    /// Next byte of `buf` to scan.
    pos: usize,
    /// Start in `buf` of the statement being scanned.
    stmt_start: usize,
    /// The current statement has something besides whitespace and comments.
    has_content: bool,
    /// Scanner state at `pos`.
    mode: Mode,
    /// Where in `buf` the open quote/comment of `mode` began (for error positions).
    open_at: usize,
    /// What closes the dollar-quoted string in [`Mode::Dollar`]: `$$` or `$tag$`.
    dollar_delimiter: String,
    /// Complete statements not yet returned.
    ready: VecDeque<String>,
    /// No more input will come: look-ahead past the end of `buf` sees end of input.
    eof: bool,
}

impl Default for StatementSplitter {
    fn default() -> Self {
        Self::new()
    }
}

impl StatementSplitter {
    /// An empty splitter.
    pub fn new() -> Self {
        StatementSplitter {
            buf: String::new(),
            pos: 0,
            stmt_start: 0,
            has_content: false,
            mode: Mode::Normal,
            open_at: 0,
            dollar_delimiter: String::new(),
            ready: VecDeque::new(),
            eof: false,
        }
    }

    /// Appends input text (any chunking: a line, a byte range, a whole script).
    pub fn push(&mut self, text: &str) {
        if self.stmt_start > 0 && self.stmt_start >= self.buf.len() / 2 {
            let consumed = self.stmt_start;
            self.buf.drain(..consumed);
            self.pos -= consumed;
            self.open_at = self.open_at.saturating_sub(consumed);
            self.stmt_start = 0;
        }
        self.buf.push_str(text);
    }

    /// The next complete (`;`-terminated) statement, trimmed and without its `;`, or `None` if
    /// no complete statement has been pushed yet. Never returns an error today (errors are only
    /// known at end of input); the `Result` leaves room for future checks.
    pub fn next_statement(&mut self) -> Option<Result<String>> {
        if self.ready.is_empty() {
            self.scan();
        }
        self.ready.pop_front().map(Ok)
    }

    /// Ends the input and returns the text after the last `;` if it holds more than whitespace
    /// and comments. Call [`next_statement`](Self::next_statement) until it returns `None`
    /// first; otherwise this returns the oldest complete statement and drops the rest.
    ///
    /// # Errors
    /// [`Error::UnterminatedInput`] if the input ends inside a string, quoted identifier or
    /// block comment (a `--` comment may end the input).
    pub fn finish(mut self) -> Option<Result<String>> {
        self.eof = true;
        if let Some(statement) = self.next_statement() {
            return Some(statement);
        }
        self.take_rest()
    }

    /// After end of input has been scanned: the unterminated last statement, if any.
    fn take_rest(&mut self) -> Option<Result<String>> {
        let closing = match &self.mode {
            Mode::Normal | Mode::Word | Mode::LineComment => {
                let text = self.buf.get(self.stmt_start..)?.trim();
                return self.has_content.then(|| Ok(text.to_string()));
            }
            Mode::BlockComment { .. } => (Unterminated::BlockComment, "*/".to_string()),
            Mode::Quoted { quote, kind, .. } => (*kind, quote.to_string()),
            Mode::TripleQuoted { quote, .. } => (Unterminated::String, quote.to_string().repeat(3)),
            Mode::Dollar => (
                Unterminated::DollarQuotedString,
                self.dollar_delimiter.clone(),
            ),
            Mode::QuoteDelimited { end } => (Unterminated::String, format!("{end}'")),
        };
        let (kind, closing) = closing;
        let (line, column) = self.position_of(self.open_at);
        Some(Err(Error::UnterminatedInput {
            kind,
            closing,
            line,
            column,
        }))
    }

    /// 1-based line and column of byte `offset`, relative to the trimmed statement start.
    fn position_of(&self, offset: usize) -> (u64, u64) {
        let statement = self.buf.get(self.stmt_start..offset).unwrap_or_default();
        let prefix = statement.trim_start();
        let line = prefix.matches('\n').count() as u64 + 1;
        let last_line = prefix.rsplit('\n').next().unwrap_or_default();
        let column = last_line.chars().count() as u64 + 1;
        (line, column)
    }

    /// Scans as far as the input allows, queueing complete statements.
    fn scan(&mut self) {
        loop {
            self.skip_run();
            if !self.step() {
                break;
            }
        }
    }

    /// Skips, a byte at a time and without look-ahead, the characters that [`step`](Self::step)
    /// would consume one by one without a change of mode: ASCII whitespace, digits and plain
    /// punctuation between tokens, ASCII word characters inside a word, the body of a quoted
    /// string up to its next quote, a line comment up to its newline. A 1,000-row `INSERT` of
    /// a SQL script is mostly such runs.
    fn skip_run(&mut self) {
        let bytes = self.buf.as_bytes();
        let rest = bytes.get(self.pos..).unwrap_or_default();
        let skipped = match self.mode {
            Mode::Normal => {
                let mut skipped = 0;
                for &byte in rest {
                    match byte {
                        b' ' | b'\t' | b'\n' | b'\r' => {}
                        b'0'..=b'9'
                        | b','
                        | b'('
                        | b')'
                        | b'.'
                        | b'+'
                        | b'*'
                        | b'='
                        | b'<'
                        | b'>'
                        | b':' => self.has_content = true,
                        _ => break,
                    }
                    skipped += 1;
                }
                skipped
            }
            Mode::Word => rest
                .iter()
                .position(|&byte| !(byte.is_ascii_alphanumeric() || b"@$#_".contains(&byte)))
                .unwrap_or(rest.len()),
            Mode::Quoted {
                quote,
                backslash: false,
                ..
            } if quote.is_ascii() => {
                let quote = quote as u8;
                rest.iter()
                    .position(|&byte| byte == quote)
                    .unwrap_or(rest.len())
            }
            Mode::LineComment => rest
                .iter()
                .position(|&byte| byte == b'\n')
                .unwrap_or(rest.len()),
            _ => 0,
        };
        self.pos += skipped;
    }

    /// Scans one character (or a few, for multi-character delimiters). Returns false when the
    /// buffer is exhausted or more input is needed to decide.
    fn step(&mut self) -> bool {
        let mut ahead = self.buf.get(self.pos..).unwrap_or_default().chars();
        let Some(c) = ahead.next() else {
            return false;
        };
        let c1 = ahead.next();
        let c2 = ahead.next();
        let c3 = ahead.next();
        // Look-ahead that ran off the end of the buffer while more input may come.
        let open = !self.eof;
        let len = c.len_utf8();
        match self.mode {
            Mode::Normal => return self.step_normal(c, [c1, c2, c3]),
            Mode::Word => {
                if is_identifier_part(c) {
                    self.pos += len;
                } else {
                    self.mode = Mode::Normal;
                }
            }
            Mode::LineComment => {
                if c == '\n' {
                    self.mode = Mode::Normal;
                }
                self.pos += len;
            }
            Mode::BlockComment { depth } => match (c, c1) {
                ('/' | '*', None) if open => return false,
                ('/', Some('*')) => {
                    self.mode = Mode::BlockComment { depth: depth + 1 };
                    self.pos += 2;
                }
                ('*', Some('/')) => {
                    self.mode = match depth.checked_sub(1) {
                        Some(depth) if depth > 0 => Mode::BlockComment { depth },
                        _ => Mode::Normal,
                    };
                    self.pos += 2;
                }
                _ => self.pos += len,
            },
            Mode::Quoted {
                quote, backslash, ..
            } => match c1 {
                None if open && (c == quote || (backslash && c == '\\')) => return false,
                Some(next) if backslash && c == '\\' => self.pos += 1 + next.len_utf8(),
                Some(next) if c == quote && next == quote => self.pos += 2 * len,
                _ if c == quote => {
                    self.mode = Mode::Normal;
                    self.pos += len;
                }
                _ => self.pos += len,
            },
            Mode::TripleQuoted { quote, run } => {
                if c == quote {
                    self.mode = if run >= 2 {
                        Mode::Normal
                    } else {
                        Mode::TripleQuoted {
                            quote,
                            run: run + 1,
                        }
                    };
                } else if run > 0 {
                    self.mode = Mode::TripleQuoted { quote, run: 0 };
                }
                self.pos += len;
            }
            Mode::Dollar => {
                let rest = self.buf.get(self.pos..).unwrap_or_default();
                let delimiter = self.dollar_delimiter.as_str();
                if c != '$' {
                    self.pos += len;
                } else if rest.starts_with(delimiter) {
                    self.mode = Mode::Normal;
                    self.pos += delimiter.len();
                } else if open && rest.len() < delimiter.len() && delimiter.starts_with(rest) {
                    return false;
                } else {
                    self.pos += 1;
                }
            }
            Mode::QuoteDelimited { end } => match c1 {
                None if open && c == end => return false,
                Some('\'') if c == end => {
                    self.mode = Mode::Normal;
                    self.pos += len + 1;
                }
                _ => self.pos += len,
            },
        }
        true
    }

    /// [`step`](Self::step) in [`Mode::Normal`]: `c` is the current character, `ahead` the
    /// next three (`None` past the end of the buffer).
    fn step_normal(&mut self, c: char, ahead: [Option<char>; 3]) -> bool {
        let [c1, c2, c3] = ahead;
        let open = !self.eof;
        let len = c.len_utf8();
        if c.is_whitespace() {
            self.pos += len;
            return true;
        }
        // Every branch below that needs look-ahead waits when it ran off the buffer.
        let needs_more = |next: Option<char>| next.is_none() && open;
        match c {
            ';' => {
                let text = self.buf.get(self.stmt_start..self.pos).unwrap_or_default();
                if self.has_content {
                    self.ready.push_back(text.trim().to_string());
                }
                self.pos += 1;
                self.stmt_start = self.pos;
                self.has_content = false;
                return true;
            }
            '-' | '/' | '|' | '#' | '@' if needs_more(c1) => return false,
            '-' if c1 == Some('-') => {
                self.mode = Mode::LineComment;
                self.pos += 2;
                return true;
            }
            '/' if c1 == Some('*') => {
                self.open_at = self.pos;
                self.mode = Mode::BlockComment { depth: 1 };
                self.pos += 2;
                return true;
            }
            // Operators that swallow a `/` or `-` which would otherwise start a comment:
            // `//` (integer division), `|/`, `||/` (roots), `#-` (JSON delete path).
            '/' | '|' if c1 == Some('/') => {
                self.has_content = true;
                self.pos += 2;
                return true;
            }
            '#' if c1 == Some('-') => {
                self.has_content = true;
                self.pos += 2;
                return true;
            }
            '|' if c1 == Some('|') => {
                if needs_more(c2) {
                    return false;
                }
                self.has_content = true;
                self.pos += if c2 == Some('/') { 3 } else { 2 };
                return true;
            }
            _ => {}
        }
        self.has_content = true;
        let quoted = |quote: char, backslash: bool| Mode::Quoted {
            quote,
            backslash,
            kind: if quote == '\'' {
                Unterminated::String
            } else {
                Unterminated::QuotedIdentifier
            },
        };
        // (new mode, bytes consumed) for a token that opens a quote or a word; `None` for
        // other tokens (operators, numbers, punctuation), which take one character.
        let opened: Option<(Mode, usize)> = match (c.to_ascii_uppercase(), c1) {
            ('\'' | '"' | '`', _) => Some((quoted(c, false), 1)),
            ('$', _) => return self.step_dollar(),
            ('#' | '@', None) if open => return false,
            // The tokenizer makes `#x`/`@x` a word with whatever character `x` is (even `;`
            // or a quote), except for the operators `#-`, `#>`, `@>`, `@?` and before a space
            // or (for `@`) a quote; `@@x` likewise.
            ('#', Some(next)) if !matches!(next, '-' | '>' | ' ') => {
                Some((Mode::Word, 1 + next.len_utf8()))
            }
            ('@', Some('@')) if needs_more(c2) => return false,
            ('@', Some('@')) => match c2 {
                Some(next) if next != ' ' => Some((Mode::Word, 2 + next.len_utf8())),
                _ => Some((Mode::Normal, 2)),
            },
            ('@', Some(next)) if !matches!(next, '>' | '?' | ' ' | '\'' | '"' | '`') => {
                Some((Mode::Word, 1 + next.len_utf8()))
            }
            ('#' | '@', _) => None,
            ('E' | 'X' | 'B' | 'R' | 'N' | 'Q' | 'U', None) if open => return false,
            ('E' | 'X', Some('\'')) => Some((quoted('\'', true), 2)),
            ('B', Some(q @ ('\'' | '"'))) => Some((string_mode(q, false), 2)),
            ('N', Some('\'')) => Some((quoted('\'', false), 2)),
            ('R', Some(q @ ('\'' | '"'))) => {
                if needs_more(c2) || (c2 == Some(q) && needs_more(c3)) {
                    return false;
                }
                if c2 == Some(q) && c3 == Some(q) {
                    Some((Mode::TripleQuoted { quote: q, run: 0 }, 4))
                } else {
                    Some((string_mode(q, false), 2))
                }
            }
            ('U', Some('&')) if needs_more(c2) => return false,
            ('U', Some('&')) if c2 == Some('\'') => Some((quoted('\'', false), 3)),
            ('Q', Some('\'')) if needs_more(c2) => return false,
            ('Q', Some('\'')) => quote_delimited(c2, 2),
            ('N', Some('q' | 'Q')) if needs_more(c2) || (c2 == Some('\'') && needs_more(c3)) => {
                return false;
            }
            ('N', Some('q' | 'Q')) if c2 == Some('\'') => quote_delimited(c3, 3),
            _ => None,
        };
        match opened {
            Some((mode, skip)) => {
                if !matches!(mode, Mode::Word | Mode::Normal) {
                    self.open_at = self.pos;
                }
                self.mode = mode;
                self.pos += skip;
            }
            None if c != '#' && c != '@' && is_identifier_start(c) => {
                // An ordinary word (or a prefix letter not followed by a quote).
                self.mode = Mode::Word;
                self.pos += len;
            }
            None => self.pos += len,
        }
        true
    }

    /// A `$` in [`Mode::Normal`]: `$$`/`$tag$` open a dollar-quoted string, anything else is a
    /// placeholder such as `$1`.
    fn step_dollar(&mut self) -> bool {
        let rest = self.buf.get(self.pos + 1..).unwrap_or_default();
        let tag_len = rest
            .char_indices()
            .find(|(_, ch)| !(ch.is_alphanumeric() || *ch == '_'))
            .map(|(i, _)| i);
        let Some(tag_len) = tag_len.or(if self.eof { Some(rest.len()) } else { None }) else {
            return false;
        };
        let tag = rest.get(..tag_len).unwrap_or_default();
        if rest
            .get(tag_len..)
            .is_some_and(|after| after.starts_with('$'))
        {
            self.open_at = self.pos;
            self.dollar_delimiter = format!("${tag}$");
            self.mode = Mode::Dollar;
            self.pos += tag_len + 2;
        } else {
            self.pos += tag_len + 1;
        }
        true
    }
}

/// A string (never an identifier) closed by `quote`, e.g. `B".."`.
fn string_mode(quote: char, backslash: bool) -> Mode {
    Mode::Quoted {
        quote,
        backslash,
        kind: Unterminated::String,
    }
}

/// `Q'` (or `NQ'`, `prefix_len` bytes) followed by `start`: the mode for the rest of the
/// literal and the bytes consumed, or `None` if `start` cannot open one (whitespace or end of
/// input; the tokenizer rejects that), in which case the prefix is scanned as an ordinary word.
fn quote_delimited(start: Option<char>, prefix_len: usize) -> Option<(Mode, usize)> {
    let start = start.filter(|c| !c.is_whitespace())?;
    let end = match start {
        '[' => ']',
        '{' => '}',
        '<' => '>',
        '(' => ')',
        c => c,
    };
    Some((Mode::QuoteDelimited { end }, prefix_len + start.len_utf8()))
}

/// `GenericDialect::is_identifier_start`.
fn is_identifier_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '#' || c == '@'
}

/// `GenericDialect::is_identifier_part`.
fn is_identifier_part(c: char) -> bool {
    c.is_alphabetic() || c.is_ascii_digit() || matches!(c, '@' | '$' | '#' | '_')
}

#[cfg(test)]
mod tests;
