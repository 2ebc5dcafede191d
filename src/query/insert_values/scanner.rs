//! A byte scanner for the plain `INSERT INTO name [(column, ...)] VALUES (literal, ...), ...`
//! form, in one pass over the text and without building tokens.
//!
//! Tokenizing a 1,000-row `INSERT` with `sqlparser` (one owned `Token` per literal, comma and
//! parenthesis, then a second pass to drop their locations) was a third of SQL-script ingest
//! (docs/BENCHMARKS.md). This scanner accepts a strict subset of what `sqlparser`'s tokenizer
//! reads under `GenericDialect`, and reads it the same way:
//! - whitespace is ASCII space, tab, CR and LF; `-- ...` line comments and nested `/* ... */`
//!   block comments are whitespace;
//! - unquoted names are ASCII letters, digits and `_` (lower-cased, as DataFusion resolves
//!   them); `"quoted"` names keep their case, with `""` as an escaped quote;
//! - strings are `'...'` with `''` as an escaped quote (no backslash escapes in this dialect);
//! - numbers are `digits [. digits] [e|E [+|-] digits]` (or starting at `.`), optionally
//!   preceded by `-`; `NULL`, `TRUE` and `FALSE` in any case.
//!
//! Anything outside the subset (another prefix such as `E'..'` or `0x`, a non-ASCII name, an
//! operator, a `1L` suffix, a function call, a trailing clause) makes the scan return `None`,
//! so the caller hands the statement to the general path, which accepts or rejects it with
//! `sqlparser`'s and DataFusion's own rules. Returning `None` is always safe; accepting text
//! the tokenizer would read differently is the only thing this module must never do.

use std::borrow::Cow;

/// One literal of a `VALUES` row.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Literal<'a> {
    Null,
    /// The string's value, `''` escapes resolved.
    String(Cow<'a, str>),
    Boolean(bool),
    /// A number's text (digits, `.`, exponent) and whether a `-` preceded it.
    Number {
        negative: bool,
        text: &'a str,
    },
}

/// The statement up to `VALUES`: the target table and the column list.
#[derive(Debug, PartialEq)]
pub(super) struct InsertHead {
    /// The table name as DataFusion resolves it (a `public.` qualifier dropped).
    pub table: String,
    /// The column list, names resolved; `None` when omitted.
    pub columns: Option<Vec<String>>,
}

/// Words that would start another clause where the table name stands: left to the general
/// path (quoted, they are ordinary names).
const CLAUSE_WORDS: [&str; 6] = ["values", "select", "with", "table", "default", "overwrite"];

/// A cursor over the statement text.
pub(super) struct Scanner<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Scanner<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Scanner { text, pos: 0 }
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.bytes().get(self.pos + ahead).copied()
    }

    /// Skips whitespace and comments; `None` inside an unterminated block comment.
    fn skip_trivia(&mut self) -> Option<()> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\n' | b'\r') => self.pos += 1,
                Some(b'-') if self.peek_at(1) == Some(b'-') => {
                    let rest = self.text.get(self.pos..)?;
                    self.pos += rest.find('\n').map_or(rest.len(), |end| end + 1);
                }
                Some(b'/') if self.peek_at(1) == Some(b'*') => {
                    self.pos += 2;
                    let mut depth = 1usize;
                    while depth > 0 {
                        match (self.peek()?, self.peek_at(1)) {
                            (b'/', Some(b'*')) => {
                                depth += 1;
                                self.pos += 2;
                            }
                            (b'*', Some(b'/')) => {
                                depth -= 1;
                                self.pos += 2;
                            }
                            _ => self.pos += 1,
                        }
                    }
                }
                _ => return Some(()),
            }
        }
    }

    /// After trivia: consumes `byte` if it comes next.
    fn eat(&mut self, byte: u8) -> Option<bool> {
        self.skip_trivia()?;
        let found = self.peek() == Some(byte);
        if found {
            self.pos += 1;
        }
        Some(found)
    }

    /// An unquoted word of ASCII letters, digits and `_`, or `None` if the next thing is not
    /// one (or the word runs into a character the dialect would also take as part of it).
    fn word(&mut self) -> Option<&'a str> {
        let start = self.pos;
        match self.peek()? {
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {}
            _ => return None,
        }
        while let Some(b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_') = self.peek() {
            self.pos += 1;
        }
        // `@`, `$`, `#` and non-ASCII letters continue a word in GenericDialect.
        match self.peek() {
            Some(b'@' | b'$' | b'#') => None,
            Some(byte) if !byte.is_ascii() => None,
            _ => self.text.get(start..self.pos),
        }
    }

    /// After trivia: the keyword `expected` (any case).
    fn keyword(&mut self, expected: &str) -> Option<()> {
        self.skip_trivia()?;
        self.word()?.eq_ignore_ascii_case(expected).then_some(())
    }

    /// After trivia: a name, resolved as DataFusion resolves it, and whether it was quoted.
    fn name(&mut self) -> Option<(String, bool)> {
        self.skip_trivia()?;
        if self.peek()? == b'"' {
            self.pos += 1;
            return Some((self.quoted(b'"')?.into_owned(), true));
        }
        Some((self.word()?.to_ascii_lowercase(), false))
    }

    /// The body of a `quote`d string or name after its opening quote, doubled quotes
    /// unescaped; `None` if it never closes.
    fn quoted(&mut self, quote: u8) -> Option<Cow<'a, str>> {
        let quote_char = char::from(quote);
        let start = self.pos;
        let mut owned: Option<String> = None;
        let mut piece_start = start;
        loop {
            let rest = self.text.get(self.pos..)?;
            let end = self.pos + rest.find(quote_char)?;
            if self.bytes().get(end + 1) == Some(&quote) {
                // An escaped quote: keep the text up to and including one quote.
                owned
                    .get_or_insert_with(String::new)
                    .push_str(self.text.get(piece_start..=end)?);
                self.pos = end + 2;
                piece_start = self.pos;
                continue;
            }
            self.pos = end + 1;
            let last = self.text.get(piece_start..end)?;
            return Some(match owned {
                None => Cow::Borrowed(last),
                Some(mut text) => {
                    text.push_str(last);
                    Cow::Owned(text)
                }
            });
        }
    }

    /// `INSERT INTO name [(column, ...)] VALUES`, leaving the cursor before the first row.
    pub(super) fn head(&mut self) -> Option<InsertHead> {
        self.keyword("insert")?;
        self.keyword("into")?;
        let (first, quoted) = self.name()?;
        if !quoted && CLAUSE_WORDS.contains(&first.as_str()) {
            return None;
        }
        let table = if self.eat(b'.')? {
            let (second, quoted) = self.name()?;
            if first != "public" || (!quoted && CLAUSE_WORDS.contains(&second.as_str())) {
                return None;
            }
            second
        } else {
            first
        };
        let columns = if self.eat(b'(')? {
            let mut columns = Vec::new();
            loop {
                columns.push(self.name()?.0);
                if self.eat(b')')? {
                    break;
                }
                if !self.eat(b',')? {
                    return None;
                }
            }
            Some(columns)
        } else {
            None
        };
        self.keyword("values")?;
        Some(InsertHead { table, columns })
    }

    /// The rows after `VALUES`, column by column: `width` literals per row, `;` optional at
    /// the end, nothing after it. `None` for a row of another width or anything that is not
    /// a literal.
    pub(super) fn rows(&mut self, width: usize) -> Option<Vec<Vec<Literal<'a>>>> {
        let mut columns: Vec<Vec<Literal<'a>>> = vec![Vec::new(); width];
        loop {
            if !self.eat(b'(')? {
                return None;
            }
            for (index, column) in columns.iter_mut().enumerate() {
                if index > 0 && !self.eat(b',')? {
                    return None;
                }
                column.push(self.literal()?);
            }
            if !self.eat(b')')? {
                return None;
            }
            if !self.eat(b',')? {
                break;
            }
        }
        self.eat(b';')?;
        self.skip_trivia()?;
        (self.pos == self.text.len()).then_some(columns)
    }

    /// After trivia: one literal.
    fn literal(&mut self) -> Option<Literal<'a>> {
        self.skip_trivia()?;
        match self.peek()? {
            b'\'' => {
                self.pos += 1;
                let text = self.quoted(b'\'')?;
                // `'a' 'b'` or `'a'x`: not a lone string literal.
                Some(Literal::String(text))
            }
            b'0'..=b'9' | b'.' => self.number(false),
            b'-' if self.peek_at(1) != Some(b'-') => {
                self.pos += 1;
                self.skip_trivia()?;
                match self.peek()? {
                    b'0'..=b'9' | b'.' => self.number(true),
                    _ => None,
                }
            }
            _ => {
                let word = self.word()?;
                if word.eq_ignore_ascii_case("null") {
                    Some(Literal::Null)
                } else if word.eq_ignore_ascii_case("true") {
                    Some(Literal::Boolean(true))
                } else if word.eq_ignore_ascii_case("false") {
                    Some(Literal::Boolean(false))
                } else {
                    None
                }
            }
        }
    }

    /// A number at the cursor; `None` unless it ends at whitespace, `,`, `)` or a comment.
    fn number(&mut self, negative: bool) -> Option<Literal<'a>> {
        let start = self.pos;
        let digits = |scanner: &mut Self| {
            let from = scanner.pos;
            while let Some(b'0'..=b'9') = scanner.peek() {
                scanner.pos += 1;
            }
            scanner.pos - from
        };
        let mut count = digits(self);
        if self.peek() == Some(b'.') {
            self.pos += 1;
            count += digits(self);
        }
        if count == 0 {
            return None;
        }
        if let Some(b'e' | b'E') = self.peek() {
            let sign = usize::from(matches!(self.peek_at(1), Some(b'+' | b'-')));
            if let Some(b'0'..=b'9') = self.peek_at(1 + sign) {
                self.pos += 1 + sign;
                digits(self);
            }
        }
        let text = self.text.get(start..self.pos)?;
        match self.peek() {
            Some(b' ' | b'\t' | b'\n' | b'\r' | b',' | b')') => {}
            Some(b'-') if self.peek_at(1) == Some(b'-') => {}
            Some(b'/') if self.peek_at(1) == Some(b'*') => {}
            _ => return None,
        }
        Some(Literal::Number { negative, text })
    }
}

#[cfg(test)]
mod tests {
    use super::{InsertHead, Literal, Scanner};

    fn head(sql: &str) -> Option<InsertHead> {
        Scanner::new(sql).head()
    }

    fn rows(values: &str, width: usize) -> Option<Vec<Vec<Literal<'_>>>> {
        let mut scanner = Scanner::new(values);
        scanner.rows(width)
    }

    fn number(text: &str) -> Literal<'_> {
        Literal::Number {
            negative: false,
            text,
        }
    }

    #[test]
    fn heads() {
        let parsed = head("insert INTO Cpu VALUES").expect("plain");
        assert_eq!(parsed.table, "cpu");
        assert_eq!(parsed.columns, None);
        let parsed = head(
            "INSERT /* a /* nested */ note */ INTO public.\"Cpu\" (\"Host\", ts)\n-- x\nVALUES",
        )
        .expect("quoted, commented");
        assert_eq!(parsed.table, "Cpu");
        assert_eq!(parsed.columns, Some(vec!["Host".into(), "ts".into()]));
        assert_eq!(
            head("INSERT INTO \"a\"\"b\" VALUES")
                .expect("escaped")
                .table,
            "a\"b"
        );
        assert_eq!(
            head("INSERT INTO \"values\" VALUES").expect("quoted").table,
            "values"
        );
        for refused in [
            "INSERT INTO values VALUES",
            "INSERT INTO other.t VALUES",
            "INSERT INTO t SELECT",
            "INSERT INTO t () VALUES",
            "INSERT INTO t (a b) VALUES",
            "INSERT INTO tä VALUES",
            "INSERT INTO t$x VALUES",
            "INSERT INTO `t` VALUES",
            "INSERT OVERWRITE t VALUES",
            "INSERT INTO t /* open VALUES",
        ] {
            assert_eq!(head(refused), None, "{refused}");
        }
    }

    #[test]
    fn literals() {
        let parsed = rows(
            "('a''b', -1.5e3, .5, 1., NULL, true, FALSE, 'ä;''' ), (  '', - 7, 1E-2, -.5 , null, TRUE, false, 'x');",
            8,
        )
        .expect("rows");
        assert_eq!(parsed.len(), 8);
        assert_eq!(
            parsed[0],
            vec![Literal::String("a'b".into()), Literal::String("".into())]
        );
        assert_eq!(
            parsed[1],
            vec![
                Literal::Number {
                    negative: true,
                    text: "1.5e3"
                },
                Literal::Number {
                    negative: true,
                    text: "7"
                }
            ]
        );
        assert_eq!(parsed[2], vec![number(".5"), number("1E-2")]);
        assert_eq!(
            parsed[3],
            vec![
                number("1."),
                Literal::Number {
                    negative: true,
                    text: ".5"
                }
            ]
        );
        assert_eq!(parsed[4], vec![Literal::Null, Literal::Null]);
        assert_eq!(
            parsed[5],
            vec![Literal::Boolean(true), Literal::Boolean(true)]
        );
        assert_eq!(
            parsed[6],
            vec![Literal::Boolean(false), Literal::Boolean(false)]
        );
        assert_eq!(
            parsed[7],
            vec![Literal::String("ä;'".into()), Literal::String("x".into())]
        );
        // An exponent marker without digits is not part of the number (and then not ours).
        assert_eq!(rows("(1e)", 1), None);
        assert_eq!(
            rows("(1 -- one\n)", 1).expect("comment")[0],
            vec![number("1")]
        );
    }

    #[test]
    fn refused_rows() {
        for (values, width) in [
            ("(1, 2)", 1),
            ("(1)", 2),
            ("(1) (2)", 1),
            ("(1), ", 1),
            ("(1); SELECT 1", 1),
            ("(1) RETURNING x", 1),
            ("(1 + 1)", 1),
            ("(+1)", 1),
            ("(--1\n)", 1),
            ("(- -1)", 1),
            ("(0x1F)", 1),
            ("(1L)", 1),
            ("(1_000)", 1),
            ("(E'a')", 1),
            ("(N'a')", 1),
            ("('a' 'b')", 1),
            ("('open)", 1),
            ("(now())", 1),
            ("(nulls)", 1),
            ("(.)", 1),
            ("(1.2.3)", 1),
            ("('a'::text)", 1),
        ] {
            assert_eq!(rows(values, width), None, "{values}");
        }
    }

    /// sqlparser's reading of a row list, as the oracle: the literal tokens in order, a `-`
    /// joined to the number after it; `None` if it holds any other token.
    fn tokenizer_literals(values: &str) -> Option<Vec<Literal<'static>>> {
        use sqlparser::dialect::GenericDialect;
        use sqlparser::keywords::Keyword;
        use sqlparser::tokenizer::{Token, Tokenizer};

        let tokens = Tokenizer::new(&GenericDialect {}, values).tokenize().ok()?;
        let mut literals = Vec::new();
        let mut negative = false;
        for token in tokens {
            let literal = match token {
                Token::Whitespace(_) => continue,
                Token::LParen | Token::RParen | Token::Comma | Token::SemiColon if !negative => {
                    continue;
                }
                Token::Minus if !negative => {
                    negative = true;
                    continue;
                }
                Token::Number(text, false) => Literal::Number {
                    negative,
                    text: Box::leak(text.into_boxed_str()),
                },
                _ if negative => return None,
                Token::SingleQuotedString(text) => Literal::String(text.into()),
                Token::Word(word) if word.quote_style.is_none() => match word.keyword {
                    Keyword::NULL => Literal::Null,
                    Keyword::TRUE => Literal::Boolean(true),
                    Keyword::FALSE => Literal::Boolean(false),
                    _ => return None,
                },
                _ => return None,
            };
            negative = false;
            literals.push(literal);
        }
        (!negative).then_some(literals)
    }

    /// Whatever random row text the scanner accepts, sqlparser's tokenizer reads as the same
    /// literals (the scanner may refuse more, never read differently).
    #[test]
    fn agrees_with_the_sqlparser_tokenizer() {
        let fragments = [
            "(", ")", ",", ", ", " ", "\n", "\t", "'a'", "'it''s'", "''", "'ä;'", "'", "\"", "1",
            "42", "1.5", ".5", "1.", "1e5", "2E-3", "e", "E", "-", "- ", "--c\n", "/*c*/", "/*",
            "*/", "NULL", "null", "nulls", "true", "FALSE", "x", "0x1", "L", "_", ";", "+", "$",
            "@", "#", "N", "ä", ".", "'\\'",
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut accepted = 0;
        for _ in 0..50_000 {
            let width = (next() % 3 + 1) as usize;
            let len = (next() % 10 + 1) as usize;
            let body: String = (0..len)
                .map(|_| fragments[(next() % fragments.len() as u64) as usize])
                .collect();
            // Half the inputs are shaped as rows, so that many are accepted.
            let values = if next() % 2 == 0 {
                let row: Vec<&str> = (0..width).map(|_| body.as_str()).collect();
                format!("({})", row.join(","))
            } else {
                body
            };
            let Some(columns) = rows(&values, width) else {
                continue;
            };
            accepted += 1;
            let scanned: Vec<Literal<'_>> = (0..columns[0].len())
                .flat_map(|row| columns.iter().map(move |column| column[row].clone()))
                .collect();
            assert_eq!(
                tokenizer_literals(&values).as_deref(),
                Some(scanned.as_slice()),
                "values: {values:?}"
            );
        }
        assert!(accepted > 1_000, "only {accepted} inputs were accepted");
    }
}
