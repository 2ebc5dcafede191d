use std::collections::HashMap;
use std::time::{Duration, Instant};

use sqlparser::dialect::GenericDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

use super::*;

fn split(input: &str) -> Vec<String> {
    split_statements(input).unwrap()
}

/// Splits by pushing `chunks` one at a time, draining after each push, then finishing.
fn split_chunked<'a>(chunks: impl IntoIterator<Item = &'a str>) -> Result<Vec<String>> {
    let mut splitter = StatementSplitter::new();
    let mut out = Vec::new();
    for chunk in chunks {
        splitter.push(chunk);
        while let Some(statement) = splitter.next_statement() {
            out.push(statement?);
        }
    }
    if let Some(rest) = splitter.finish() {
        out.push(rest?);
    }
    Ok(out)
}

/// The reference: statements cut at the `;` tokens of sqlparser's tokenizer.
fn split_with_tokenizer(input: &str) -> Option<Vec<String>> {
    let tokens = Tokenizer::new(&GenericDialect {}, input)
        .tokenize_with_location()
        .ok()?;
    let mut offsets = HashMap::new();
    let (mut line, mut column) = (1u64, 1u64);
    for (i, c) in input.char_indices() {
        offsets.insert((line, column), i);
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    let mut statements = Vec::new();
    let (mut start, mut content) = (0, false);
    for token in &tokens {
        match &token.token {
            Token::SemiColon => {
                let end = offsets[&(token.span.start.line, token.span.start.column)];
                if content {
                    statements.push(input[start..end].trim().to_string());
                }
                start = end + 1;
                content = false;
            }
            Token::Whitespace(_) => {}
            _ => content = true,
        }
    }
    if content {
        statements.push(input[start..].trim().to_string());
    }
    Some(statements)
}

#[test]
fn splits_trims_and_skips_empty_statements() {
    assert_eq!(
        split("  SELECT 1;\n\nSELECT 2 ;;  ; -- only a comment\n; /* c */ ;SELECT 3"),
        ["SELECT 1", "SELECT 2", "SELECT 3"]
    );
    assert!(split("").is_empty());
    assert!(split(" -- c\n /* d */ ").is_empty());
}

#[test]
fn semicolons_inside_quotes_do_not_split() {
    let input = "SELECT 'a;b', 'it''s;', \"x;y\", `q;`;SELECT E'\\';', $$;$$, $t$ ; $t$;\
                 SELECT r''';''', q'[;]', x'3B', b'';\nSELECT 4";
    assert_eq!(
        split(input),
        [
            "SELECT 'a;b', 'it''s;', \"x;y\", `q;`",
            "SELECT E'\\';', $$;$$, $t$ ; $t$",
            "SELECT r''';''', q'[;]', x'3B', b''",
            "SELECT 4",
        ]
    );
}

#[test]
fn comments_containing_semicolons_and_quotes() {
    let input = "SELECT 1 -- don't; stop\n+ 1; /* it's; \"here\" /* nested; */ still; */ SELECT 2;";
    assert_eq!(
        split(input),
        [
            "SELECT 1 -- don't; stop\n+ 1",
            "/* it's; \"here\" /* nested; */ still; */ SELECT 2"
        ]
    );
}

#[test]
fn operators_that_look_like_comment_starts() {
    // `//` is integer division and `|/` a root in GenericDialect, so `*` is not a comment start.
    assert_eq!(
        split("SELECT 4//*x;*/2; SELECT 2"),
        ["SELECT 4//*x", "*/2", "SELECT 2"]
    );
    assert_eq!(
        split("SELECT a #--1;\nSELECT 2"),
        ["SELECT a #--1", "SELECT 2"]
    );
    // ... but `#` inside a word is part of it: `a#` then a `--` comment.
    assert_eq!(
        split("SELECT a#--1;\nSELECT 2"),
        ["SELECT a#--1;\nSELECT 2"]
    );
}

#[test]
fn multi_line_statements_keep_their_text() {
    let input = "CREATE TABLE cpu (\n  host STRING,\n  ts TIMESTAMP TIME INDEX\n);\nINSERT INTO cpu\nVALUES ('a;\nb', 1);\n";
    assert_eq!(
        split(input),
        [
            "CREATE TABLE cpu (\n  host STRING,\n  ts TIMESTAMP TIME INDEX\n)",
            "INSERT INTO cpu\nVALUES ('a;\nb', 1)"
        ]
    );
}

#[test]
fn words_ending_in_prefix_letters_are_not_string_prefixes() {
    // `some'..'` is the word `some` then a plain string: the backslash does not escape.
    assert_eq!(
        split("SELECT some'\\';SELECT 2"),
        ["SELECT some'\\'", "SELECT 2"]
    );
    // `e'..'` at a word start is an escape string: `\'` does not close it.
    assert_eq!(
        split("SELECT e'\\';'; SELECT 2"),
        ["SELECT e'\\';'", "SELECT 2"]
    );
}

#[test]
fn streaming_returns_statements_as_their_semicolon_arrives() {
    let mut splitter = StatementSplitter::new();
    splitter.push("SELECT 1");
    assert!(splitter.next_statement().is_none());
    splitter.push(";\nSELECT 'a");
    assert_eq!(splitter.next_statement().unwrap().unwrap(), "SELECT 1");
    assert!(splitter.next_statement().is_none());
    splitter.push(";b';");
    assert_eq!(splitter.next_statement().unwrap().unwrap(), "SELECT 'a;b'");
    assert!(splitter.next_statement().is_none());
    assert!(splitter.finish().is_none());
}

#[test]
fn every_chunking_gives_the_same_statements() {
    let inputs = [
        "SELECT 'a;''b' AS \"c;\"\"d\", `e;``f`; -- x;'y\nSELECT /* 1; /* 2; */ 3; */ 4;",
        "SELECT E'\\';\\\\', X'3B', N'n;', U&'u;', B\"b;\", R'''r;'''' ''', R''; SELECT 9",
        "SELECT $$a;$$, $tag$ $ta; $tag$, $1; SELECT q'{;}', nq'<;>', q' x; SELECT 'é;ü' -- ünï;\n;",
        "SELECT 4//*x;*/2 |/ 9 ||/ 8 #-'x' - -1 ;\r\nSELECT 'tail",
    ];
    for input in inputs {
        let whole = split_chunked([input]);
        let boundaries: Vec<usize> = (0..=input.len())
            .filter(|&i| input.is_char_boundary(i))
            .collect();
        for &i in &boundaries {
            let halves = split_chunked([&input[..i], &input[i..]]);
            assert_eq!(halves, whole, "split at byte {i} of {input:?}");
        }
        let chars: Vec<&str> = boundaries.windows(2).map(|w| &input[w[0]..w[1]]).collect();
        assert_eq!(split_chunked(chars), whole, "char by char: {input:?}");
    }
}

#[test]
fn agrees_with_the_sqlparser_tokenizer() {
    let fragments = [
        "SELECT",
        " ",
        "\n",
        "x1",
        "e",
        "E",
        "r",
        "q",
        "n",
        "u&",
        "b",
        "x",
        "'a;b'",
        "'it''s'",
        "\"i;d\"",
        "`b;t`",
        "-- c;'\n",
        "/* ; ' */",
        "/* /* ; */ */",
        "$$;$$",
        "$t$ ; $t$",
        "$1",
        "$",
        "'''",
        "';'",
        "\\",
        ";",
        ",",
        "-",
        "/",
        "*",
        "|",
        "#",
        "@",
        "(",
        ")",
        "q'[;]'",
        "@@",
        ">",
        "1.5",
        "e'\\''",
    ];
    // A small deterministic xorshift generator, so failures reproduce.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut compared = 0;
    for _ in 0..20_000 {
        let len = (next() % 12 + 1) as usize;
        let input: String = (0..len)
            .map(|_| fragments[(next() % fragments.len() as u64) as usize])
            .collect();
        let Some(expected) = split_with_tokenizer(&input) else {
            // The tokenizer rejects the input (e.g. an unterminated string); the splitter must
            // still not panic.
            let _ = split_statements(&input);
            continue;
        };
        assert_eq!(
            split_statements(&input).as_ref(),
            Ok(&expected),
            "input: {input:?}"
        );
        // The fragments are ASCII, so every byte is a place to cut the stream.
        let cut = (next() % (input.len() as u64 + 1)) as usize;
        let chunked = split_chunked([&input[..cut], &input[cut..]]);
        assert_eq!(
            chunked.as_ref(),
            Ok(&expected),
            "input: {input:?} cut at {cut}"
        );
        compared += 1;
    }
    assert!(compared > 4000, "only {compared} inputs were comparable");
}

#[test]
fn unterminated_string_at_eof_is_an_error() {
    let err = split_statements("SELECT 1;\n  SELECT\n  'abc;").unwrap_err();
    assert_eq!(
        err,
        Error::UnterminatedInput {
            kind: Unterminated::String,
            closing: "'".into(),
            line: 2,
            column: 3
        }
    );
    assert!(
        err.to_string().contains("Unterminated string literal"),
        "{err}"
    );

    let mut splitter = StatementSplitter::new();
    splitter.push("SELECT \"abc");
    assert!(splitter.next_statement().is_none());
    let err = splitter.finish().unwrap().unwrap_err();
    assert!(matches!(
        err,
        Error::UnterminatedInput {
            kind: Unterminated::QuotedIdentifier,
            line: 1,
            column: 8,
            ..
        }
    ));

    for (input, kind) in [
        ("SELECT 1 /* never closed", Unterminated::BlockComment),
        ("/* /* */", Unterminated::BlockComment),
        ("SELECT $$abc$", Unterminated::DollarQuotedString),
        ("SELECT E'\\'", Unterminated::String),
        ("SELECT r'''a''", Unterminated::String),
    ] {
        let err = split_statements(input).unwrap_err();
        assert!(
            matches!(err, Error::UnterminatedInput { kind: k, .. } if k == kind),
            "{input}: {err}"
        );
    }
}

#[test]
fn finish_returns_the_unterminated_rest() {
    let mut splitter = StatementSplitter::new();
    splitter.push("SELECT 1; SELECT 2 -- trailing comment");
    assert_eq!(splitter.next_statement().unwrap().unwrap(), "SELECT 1");
    assert!(splitter.next_statement().is_none());
    assert_eq!(
        splitter.finish().unwrap().unwrap(),
        "SELECT 2 -- trailing comment"
    );

    let mut splitter = StatementSplitter::new();
    splitter.push("SELECT 1; -- just a comment");
    assert!(splitter.next_statement().is_some());
    assert!(splitter.finish().is_none());

    // A trailing `-` waits for look-ahead while streaming, and is content at the end.
    let mut splitter = StatementSplitter::new();
    splitter.push("SELECT 1 -");
    assert!(splitter.next_statement().is_none());
    assert_eq!(splitter.finish().unwrap().unwrap(), "SELECT 1 -");
}

#[test]
fn many_statements_split_in_linear_time() {
    let statement = "INSERT INTO cpu VALUES ('host;1', 1.5, 1000); -- note\n";
    let script = statement.repeat(100_000);
    let start = Instant::now();
    let statements = split(&script);
    assert_eq!(statements.len(), 100_000);
    assert_eq!(
        statements[99_999],
        "-- note\nINSERT INTO cpu VALUES ('host;1', 1.5, 1000)"
    );

    // The shell's way: one line at a time.
    let mut splitter = StatementSplitter::new();
    let mut count = 0;
    for line in script.split_inclusive('\n') {
        splitter.push(line);
        while let Some(statement) = splitter.next_statement() {
            statement.unwrap();
            count += 1;
        }
    }
    assert!(splitter.finish().is_none());
    assert_eq!(count, 100_000);

    // One 100k-line statement (a long string and a long VALUES list) pushed line by line.
    let mut splitter = StatementSplitter::new();
    splitter.push("INSERT INTO t VALUES ('");
    for _ in 0..100_000 {
        splitter.push("a;b''c\n");
        assert!(splitter.next_statement().is_none());
    }
    splitter.push("'");
    for _ in 0..100_000 {
        splitter.push(",\n(1, 'x;y')");
        assert!(splitter.next_statement().is_none());
    }
    splitter.push(";");
    let long = splitter.next_statement().unwrap().unwrap();
    assert_eq!(long.lines().count(), 200_001);
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "took {:?}",
        start.elapsed()
    );
}
