//! Dot commands (`.mode csv`) and their psql aliases (`\timing`). They are recognised only at
//! the start of a statement, one per line, in the REPL, piped scripts, `-c` text and `-f` files.

use std::path::PathBuf;

use tsdb::Output;

use super::render::OutputFormat;
use super::{Redirect, Session, error_chain};

pub const HELP: &str = "\
Statements end with `;` and may span several lines. Commands (one per line):
  .help, \\?                 this help
  .tables, \\dt              list tables
  .schema [TABLE], \\d [T]   show CREATE TABLE statements
  .mode [FORMAT]            table, csv, tsv, json, jsonl, markdown or line
  .timer on|off, \\timing    row counts and timings after each statement
  .read FILE, \\i FILE       run a script (stops at its first error)
  .import FILE TABLE        load a CSV (with header), Parquet or JSON-lines file into an
                            existing table; the format follows the extension, or give
                            --csv, --parquet or --json first
  .output [FILE], \\o [FILE] send results to FILE (no FILE: back to stdout)
  .once FILE                send only the next result to FILE
  .nullvalue TEXT           how NULL is shown in text formats
  .maxrows N                table mode: show at most N rows (0: all)
  .maxcolwidth N            table mode: cut cell lines after N characters (0: never)
  .progress on|off          progress bar on a terminal for statements over a second
  .quit, .exit, \\q          leave the shell (or Ctrl-D)";

/// `.read` inside `.read` is allowed up to this depth (a script reading itself stops here).
const MAX_READ_DEPTH: usize = 16;

/// A parsed dot command.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Help,
    Tables,
    Schema(Option<String>),
    Mode(Option<String>),
    /// `Some(on)` for `.timer on|off`, `None` toggles (`\timing`).
    Timer(Option<bool>),
    Read(PathBuf),
    /// `.import [--csv|--parquet|--json] FILE TABLE`.
    Import {
        path: String,
        table: String,
        format: ImportFormat,
    },
    Progress(bool),
    Output(Option<PathBuf>),
    Once(PathBuf),
    NullValue(String),
    MaxRows(String),
    MaxColWidth(String),
    Quit,
    /// A dot command that is unknown or has bad arguments: the error message.
    Invalid(String),
}

/// The file format of `.import`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFormat {
    Csv,
    Parquet,
    Json,
}

impl ImportFormat {
    /// From a `--csv`-style flag.
    fn from_flag(flag: &str) -> Option<ImportFormat> {
        match flag {
            "--csv" => Some(ImportFormat::Csv),
            "--parquet" => Some(ImportFormat::Parquet),
            "--json" => Some(ImportFormat::Json),
            _ => None,
        }
    }

    /// From the file name: `.parquet`, `.json`/`.jsonl`/`.ndjson`, anything else is CSV.
    fn from_path(path: &str) -> ImportFormat {
        let extension = std::path::Path::new(path)
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match extension.as_deref() {
            Some("parquet") => ImportFormat::Parquet,
            Some("json" | "jsonl" | "ndjson") => ImportFormat::Json,
            _ => ImportFormat::Csv,
        }
    }

    /// The `FORMAT` option of `COPY FROM`.
    fn copy_format(self) -> &'static str {
        match self {
            ImportFormat::Csv => "csv",
            ImportFormat::Parquet => "parquet",
            ImportFormat::Json => "json",
        }
    }
}

/// `.import` arguments (`--csv|--parquet|--json`, FILE, TABLE), split like a POSIX shell does.
fn parse_import(rest: &str) -> Command {
    const USAGE: &str = "usage: .import [--csv|--parquet|--json] FILE TABLE";
    let Some(words) = shlex::split(rest) else {
        return Command::Invalid(format!("{USAGE} (unbalanced quotes)"));
    };
    let (format, words) = match words.first().map(|w| ImportFormat::from_flag(w)) {
        Some(Some(format)) => (Some(format), &words[1..]),
        _ => (None, &words[..]),
    };
    match words {
        [path, table] if !path.starts_with("--") => Command::Import {
            format: format.unwrap_or_else(|| ImportFormat::from_path(path)),
            path: path.clone(),
            table: table.clone(),
        },
        _ => Command::Invalid(format!("{USAGE} (got: {rest})")),
    }
}

/// The `COPY FROM` statement `.import` runs. A plain table name is used as typed (so it
/// resolves like it does in SQL); any other is quoted.
fn import_statement(path: &str, table: &str, format: ImportFormat) -> String {
    let plain = table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let table = if plain {
        table.to_string()
    } else {
        format!("\"{}\"", table.replace('"', "\"\""))
    };
    format!(
        "COPY {table} FROM '{}' WITH (FORMAT = '{}')",
        path.replace('\'', "''"),
        format.copy_format()
    )
}

/// True if `line` starts a dot command (`.x` or `\x`) rather than SQL.
pub fn is_command(line: &str) -> bool {
    let line = line.trim_start();
    line.starts_with('.') || line.starts_with('\\')
}

/// Parses a dot command line; `None` if `line` is not one.
pub fn parse(line: &str) -> Option<Command> {
    let line = line.trim();
    if !is_command(line) {
        return None;
    }
    let line = line.trim_end_matches(';').trim_end();
    let (name, rest) = match line.find(char::is_whitespace) {
        Some(at) => (&line[..at], line[at..].trim()),
        None => (line, ""),
    };
    let arg = (!rest.is_empty()).then(|| unquote(rest));
    let lower = name.to_ascii_lowercase();
    Some(match (lower.as_str(), arg) {
        (".help" | "\\?" | "\\h", _) => Command::Help,
        (".tables" | "\\dt", None) => Command::Tables,
        (".schema" | "\\d", table) => Command::Schema(table),
        (".mode", format) => Command::Mode(format),
        (".timer", Some(arg)) => match arg.to_ascii_lowercase().as_str() {
            "on" => Command::Timer(Some(true)),
            "off" => Command::Timer(Some(false)),
            _ => Command::Invalid(format!("usage: .timer on|off (got {arg})")),
        },
        (".timer", None) => Command::Invalid("usage: .timer on|off".to_string()),
        ("\\timing", None) => Command::Timer(None),
        ("\\timing", Some(arg)) => match arg.to_ascii_lowercase().as_str() {
            "on" => Command::Timer(Some(true)),
            "off" => Command::Timer(Some(false)),
            _ => Command::Invalid(format!("usage: \\timing [on|off] (got {arg})")),
        },
        (".read" | "\\i", Some(file)) => Command::Read(file.into()),
        (".read" | "\\i", None) => Command::Invalid(format!("usage: {name} FILE")),
        (".import", _) => parse_import(rest),
        (".progress", Some(arg)) => match arg.to_ascii_lowercase().as_str() {
            "on" => Command::Progress(true),
            "off" => Command::Progress(false),
            _ => Command::Invalid(format!("usage: .progress on|off (got {arg})")),
        },
        (".progress", None) => Command::Invalid("usage: .progress on|off".to_string()),
        (".output" | "\\o", file) => Command::Output(file.map(PathBuf::from)),
        (".once", Some(file)) => Command::Once(file.into()),
        (".once", None) => Command::Invalid("usage: .once FILE".to_string()),
        (".nullvalue", text) => Command::NullValue(text.unwrap_or_default()),
        (".maxrows", Some(n)) => Command::MaxRows(n),
        (".maxrows", None) => Command::Invalid("usage: .maxrows N".to_string()),
        (".maxcolwidth", Some(n)) => Command::MaxColWidth(n),
        (".maxcolwidth", None) => Command::Invalid("usage: .maxcolwidth N".to_string()),
        (".quit" | ".exit" | "\\q", None) => Command::Quit,
        _ => Command::Invalid(format!("unknown command {line}; type .help for help")),
    })
}

/// Strips one pair of matching surrounding quotes.
fn unquote(text: &str) -> String {
    for quote in ['\'', '"'] {
        if text.len() >= 2 && text.starts_with(quote) && text.ends_with(quote) {
            return text[1..text.len() - 1].to_string();
        }
    }
    text.to_string()
}

/// Runs one dot command. Errors are reported like SQL errors (`Error: ...`, exit status 1).
pub async fn run(session: &mut Session, command: Command) {
    match command {
        Command::Help => session.print_info(HELP),
        Command::Tables => session.execute("SHOW TABLES").await,
        Command::Schema(table) => schema(session, table).await,
        Command::Mode(None) => {
            let text = format!("current output mode: {}", session.format.name());
            session.print_info(&text);
        }
        Command::Mode(Some(name)) => match OutputFormat::parse(&name) {
            Some(format) => session.format = format,
            None => session.report_error(&format!(
                "unknown mode {name}; expected table, csv, tsv, json, jsonl, markdown or line"
            )),
        },
        Command::Timer(setting) => {
            session.timing = setting.unwrap_or(!session.timing);
            if session.interactive {
                println!("Timing is {}.", if session.timing { "on" } else { "off" });
            }
        }
        Command::Read(_) if session.read_depth >= MAX_READ_DEPTH => {
            session.report_error(&format!(".read nested more than {MAX_READ_DEPTH} deep"));
        }
        Command::Read(path) => match std::fs::read_to_string(&path) {
            Ok(text) => {
                let (failed, bail) = (session.failed, session.bail);
                session.failed = false;
                session.bail = true;
                session.read_depth += 1;
                Box::pin(super::input::run_text(session, &text)).await;
                session.read_depth -= 1;
                session.bail = bail;
                session.failed |= failed;
            }
            Err(err) => session.report_error(&format!("cannot read {}: {err}", path.display())),
        },
        Command::Import {
            path,
            table,
            format,
        } => {
            let sql = import_statement(&path, &table, format);
            session.execute(&sql).await;
        }
        Command::Progress(on) => session.show_progress = on,
        Command::Output(None) => session.set_output(None),
        Command::Output(Some(path)) => open_output(session, path, false),
        Command::Once(path) => open_output(session, path, true),
        Command::NullValue(text) => session.render.null = Some(text),
        Command::MaxRows(n) => match n.parse::<usize>() {
            Ok(n) => session.render.max_rows = n,
            Err(_) => session.report_error(&format!("usage: .maxrows N (got {n})")),
        },
        Command::MaxColWidth(n) => match n.parse::<usize>() {
            Ok(n) => session.render.max_width = n,
            Err(_) => session.report_error(&format!("usage: .maxcolwidth N (got {n})")),
        },
        Command::Quit => session.quit = true,
        Command::Invalid(message) => session.report_error(&message),
    }
}

fn open_output(session: &mut Session, path: PathBuf, once: bool) {
    match std::fs::File::create(&path) {
        Ok(file) => session.set_output(Some(Redirect {
            file: std::io::BufWriter::new(file),
            once,
        })),
        Err(err) => session.report_error(&format!("cannot open {}: {err}", path.display())),
    }
}

/// `.schema [TABLE]`: the CREATE TABLE statement of one table or of every table, as text.
async fn schema(session: &mut Session, table: Option<String>) {
    let tables = match table {
        Some(table) => vec![table],
        None => match session.db.execute("SHOW TABLES").await {
            Ok(output) => match first_column(output) {
                Ok(names) => names,
                Err(message) => return session.report_error(&message),
            },
            Err(err) => return session.report_error(&error_chain(&err)),
        },
    };
    for table in tables {
        let sql = format!("SHOW CREATE TABLE {table}");
        let text = match session.db.execute(&sql).await {
            Ok(output) => match column(output, 1) {
                Ok(rows) => rows.join("\n"),
                Err(message) => return session.report_error(&message),
            },
            Err(err) => return session.report_error(&error_chain(&err)),
        };
        let text = format!("{};", text.trim_end());
        session.print_result_text(&format!("{text}\n"));
        if session.should_stop() {
            return;
        }
    }
}

fn first_column(output: Output) -> Result<Vec<String>, String> {
    column(output, 0)
}

/// The values of column `index` of a result set, as strings.
fn column(output: Output, index: usize) -> Result<Vec<String>, String> {
    let Output::Records { batches, .. } = output else {
        return Err("expected a result set".to_string());
    };
    let mut values = Vec::new();
    for batch in &batches {
        if index >= batch.num_columns() {
            return Err("unexpected result shape".to_string());
        }
        let formatter = arrow::util::display::ArrayFormatter::try_new(
            batch.column(index).as_ref(),
            &arrow::util::display::FormatOptions::default(),
        )
        .map_err(|err| err.to_string())?;
        for row in 0..batch.num_rows() {
            values.push(formatter.value(row).to_string());
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_import() {
        assert_eq!(
            parse(".import data/w.csv weather"),
            Some(Command::Import {
                path: "data/w.csv".into(),
                table: "weather".into(),
                format: ImportFormat::Csv
            })
        );
        assert_eq!(
            parse(".import 'my file.parquet' t"),
            Some(Command::Import {
                path: "my file.parquet".into(),
                table: "t".into(),
                format: ImportFormat::Parquet
            })
        );
        assert_eq!(
            parse(".import --json rows.txt t"),
            Some(Command::Import {
                path: "rows.txt".into(),
                table: "t".into(),
                format: ImportFormat::Json
            })
        );
        assert!(matches!(
            parse(".import onlyfile"),
            Some(Command::Invalid(_))
        ));
        assert!(matches!(
            parse(".import 'open t"),
            Some(Command::Invalid(_))
        ));
        assert_eq!(
            import_statement("it's.csv", "weather", ImportFormat::Csv),
            "COPY weather FROM 'it''s.csv' WITH (FORMAT = 'csv')"
        );
        assert_eq!(
            import_statement("a.csv", "my table", ImportFormat::Csv),
            "COPY \"my table\" FROM 'a.csv' WITH (FORMAT = 'csv')"
        );
        assert_eq!(parse(".progress off"), Some(Command::Progress(false)));
    }

    #[test]
    fn parses_dot_commands_and_psql_aliases() {
        assert_eq!(parse("\\q"), Some(Command::Quit));
        assert_eq!(parse(".exit"), Some(Command::Quit));
        assert_eq!(parse(".QUIT;"), Some(Command::Quit));
        assert_eq!(parse("\\?"), Some(Command::Help));
        assert_eq!(parse(".tables"), Some(Command::Tables));
        assert_eq!(parse("\\dt"), Some(Command::Tables));
        assert_eq!(parse("\\d"), Some(Command::Schema(None)));
        assert_eq!(parse("\\d cpu"), Some(Command::Schema(Some("cpu".into()))));
        assert_eq!(parse(".mode csv"), Some(Command::Mode(Some("csv".into()))));
        assert_eq!(parse(".timer on"), Some(Command::Timer(Some(true))));
        assert_eq!(parse("\\timing"), Some(Command::Timer(None)));
        assert_eq!(
            parse(".read 'a b.sql'"),
            Some(Command::Read("a b.sql".into()))
        );
        assert_eq!(parse("\\o"), Some(Command::Output(None)));
        assert_eq!(parse(".nullvalue ∅"), Some(Command::NullValue("∅".into())));
        assert!(matches!(parse(".frob"), Some(Command::Invalid(_))));
        assert!(matches!(parse(".timer maybe"), Some(Command::Invalid(_))));
        assert_eq!(parse("SELECT 1;"), None);
        assert_eq!(parse("exit"), None);
    }
}
