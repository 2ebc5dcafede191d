//! How the shell reports errors: one `Error: <message>` line on stderr, the message built
//! from the error's source chain without repeats, and a caret under a parse error's position.

use std::fmt::Display;
use std::io::Write;

pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Writes `Error: <message>` to stderr as exactly one line.
pub fn print_error(message: &dyn Display) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "Error: {}", one_line(&message.to_string()));
    let _ = stderr.flush();
}

/// The error's message followed by those of its sources, skipping a source whose text is
/// already part of the message (transparent wrappers and `External error: {inner}` repeat it).
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !text.is_empty() && !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// Where in the statement a parse error is (tsdb's parser and DataFusion's sqlparser errors
/// both arrive as [`tsdb::sql::Error`] with a position).
pub fn error_position(err: &tsdb::Error) -> Option<(u64, u64)> {
    match err {
        tsdb::Error::Sql(sql_err) => sql_err.position(),
        _ => None,
    }
}

/// The `line`-th line (1-based) of `sql` and a `^` under its `column`-th character (1-based),
/// each ending with a newline; `None` if the position is outside the text.
pub fn caret_lines(sql: &str, line: u64, column: u64) -> Option<String> {
    let text = sql
        .lines()
        .nth(usize::try_from(line).ok()?.checked_sub(1)?)?;
    let column = usize::try_from(column).ok()?.checked_sub(1)?;
    if column > text.chars().count() {
        return None;
    }
    // Tabs stay tabs so that the caret lines up whatever the terminal's tab width.
    let pad: String = text
        .chars()
        .take(column)
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    Some(format!("{text}\n{pad}^\n"))
}

/// Collapses every run of whitespace (including newlines) into one space.
pub fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use std::fmt::Display;

    use super::*;

    #[derive(Debug)]
    struct Outer(Inner);
    #[derive(Debug)]
    struct Inner;
    impl Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "External error: {}", self.0)
        }
    }
    impl Display for Inner {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "table t not found")
        }
    }
    impl std::error::Error for Inner {}
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn error_chain_skips_repeated_sources() {
        assert_eq!(
            error_chain(&Outer(Inner)),
            "External error: table t not found"
        );
        let io = std::io::Error::other(Outer(Inner));
        assert_eq!(error_chain(&io), "External error: table t not found");
    }

    #[test]
    fn error_chain_appends_new_sources() {
        let err = anyhow::Error::new(Inner).context("cannot open database d");
        let boxed: Box<dyn std::error::Error + Send + Sync> = err.into();
        assert_eq!(
            error_chain(&*boxed),
            "cannot open database d: table t not found"
        );
    }

    /// A thiserror message that embeds its source, wrapped in anyhow context, is printed once:
    /// anyhow's `{:#}` would repeat every level.
    #[test]
    fn context_over_self_describing_errors_is_not_repeated() {
        let err = anyhow::Error::new(Outer(Inner)).context("cannot open database d");
        assert_eq!(
            error_chain(err.as_ref()),
            "cannot open database d: External error: table t not found"
        );
    }

    #[test]
    fn messages_are_flattened_to_one_line() {
        assert_eq!(one_line("a\n  b\r\n\tc "), "a b c");
        assert_eq!(one_line("plain"), "plain");
    }

    #[test]
    fn caret_points_at_the_column() {
        assert_eq!(
            caret_lines("SELECT 1;\nSELEC oops;", 2, 7).as_deref(),
            Some("SELEC oops;\n      ^\n")
        );
        assert_eq!(
            caret_lines("\tFROM x", 1, 2).as_deref(),
            Some("\tFROM x\n\t^\n")
        );
        assert_eq!(caret_lines("a b", 1, 4).as_deref(), Some("a b\n   ^\n"));
        assert_eq!(caret_lines("a b", 1, 9), None);
        assert_eq!(caret_lines("a b", 2, 1), None);
        assert_eq!(caret_lines("a b", 0, 1), None);
    }
}
