//! The interactive REPL (stdin is a terminal): rustyline editing and history, prompt `tsdb> `,
//! continuation prompt `   -> ` until the buffered input ends with a terminated statement.
//!
//! Completeness is decided by [`StatementSplitter`] over the whole buffer, so a `;` inside a
//! string literal or comment does not end a statement. A complete buffer runs all its statements
//! and becomes one history entry. Ctrl-C discards the buffer, Ctrl-D exits.

use std::path::{Path, PathBuf};

use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;
use tsdb::sql::StatementSplitter;

use super::{Session, drain, print_error};

const PROMPT: &str = "tsdb> ";
const CONTINUATION_PROMPT: &str = "   -> ";

const HELP: &str = "\
Statements end with `;` and may span several lines.
  \\q, quit, exit   leave the shell (or Ctrl-D)
  \\d               list tables
  \\d TABLE         describe a table
  \\timing          toggle row counts and timings
  \\?, help         this help
Ctrl-C clears the current input.";

/// Runs the REPL until Ctrl-D or `\q`.
pub async fn run(session: &mut Session, data_dir: &Path) {
    let mut editor = match DefaultEditor::new() {
        Ok(editor) => editor,
        Err(err) => {
            print_error(&format!("cannot start the line editor: {err}"));
            return;
        }
    };
    let history = history_path();
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    println!(
        "tsdb-shell {} - database {}\nEnd statements with `;`. Type \\? for help, \\q or Ctrl-D to quit.",
        env!("CARGO_PKG_VERSION"),
        data_dir.display()
    );

    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() {
            PROMPT
        } else {
            CONTINUATION_PROMPT
        };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(err) => {
                print_error(&format!("cannot read input: {err}"));
                break;
            }
        };
        if buffer.is_empty() {
            match meta_command(line.trim()) {
                Some(MetaCommand::Quit) => break,
                Some(command) => {
                    let _ = editor.add_history_entry(line.trim());
                    run_meta_command(session, command).await;
                    continue;
                }
                None if line.trim().is_empty() => continue,
                None => {}
            }
        }
        buffer.push_str(&line);
        buffer.push('\n');
        if !is_complete(&buffer) {
            continue;
        }
        let _ = editor.add_history_entry(buffer.trim_end());
        let mut splitter = StatementSplitter::new();
        splitter.push(&buffer);
        buffer.clear();
        drain(session, &mut splitter).await;
    }

    if let Some(path) = &history {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(err) = editor.save_history(path) {
            print_error(&format!("cannot save history to {}: {err}", path.display()));
        }
    }
}

/// True when every statement in `input` is terminated by `;` (outside quotes and comments),
/// i.e. nothing is left over for the splitter's `finish`.
pub fn is_complete(input: &str) -> bool {
    let mut splitter = StatementSplitter::new();
    splitter.push(input);
    while splitter.next_statement().is_some() {}
    splitter.finish().is_none()
}

/// `$XDG_STATE_HOME/tsdb-shell/history`, else `~/.local/state/tsdb-shell/history`; never in the
/// working or data directory.
fn history_path() -> Option<PathBuf> {
    history_path_from(
        std::env::var_os("XDG_STATE_HOME").map(PathBuf::from),
        dirs::home_dir(),
    )
}

fn history_path_from(xdg_state_home: Option<PathBuf>, home: Option<PathBuf>) -> Option<PathBuf> {
    // The XDG spec says relative paths are invalid and must be ignored.
    let state = match xdg_state_home.filter(|path| path.is_absolute()) {
        Some(dir) => dir,
        None => home?.join(".local").join("state"),
    };
    Some(state.join("tsdb-shell").join("history"))
}

#[derive(Debug, PartialEq, Eq)]
enum MetaCommand {
    Quit,
    Help,
    ListTables,
    Describe(String),
    Timing,
    Unknown(String),
}

/// Recognises a meta command; only asked at the start of a statement.
fn meta_command(line: &str) -> Option<MetaCommand> {
    let line = line.trim_end_matches(';').trim();
    match line.to_ascii_lowercase().as_str() {
        "quit" | "exit" | "\\q" => return Some(MetaCommand::Quit),
        "help" | "\\?" | "\\h" => return Some(MetaCommand::Help),
        _ => {}
    }
    let rest = line.strip_prefix('\\')?;
    let mut words = rest.split_whitespace();
    let command = words.next().unwrap_or_default();
    let argument = words.next();
    Some(match (command, argument) {
        ("d" | "dt", None) => MetaCommand::ListTables,
        ("d", Some(table)) => MetaCommand::Describe(table.to_string()),
        ("timing", None) => MetaCommand::Timing,
        _ => MetaCommand::Unknown(line.to_string()),
    })
}

async fn run_meta_command(session: &mut Session, command: MetaCommand) {
    match command {
        MetaCommand::Quit => {}
        MetaCommand::Help => println!("{HELP}"),
        MetaCommand::ListTables => session.execute("SHOW TABLES").await,
        MetaCommand::Describe(table) => session.execute(&format!("DESC TABLE {table}")).await,
        MetaCommand::Timing => {
            session.timing = !session.timing;
            println!("Timing is {}.", if session.timing { "on" } else { "off" });
        }
        MetaCommand::Unknown(text) => {
            print_error(&format!("unknown command {text}; type \\? for help"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_prefers_absolute_xdg_state_home() {
        assert_eq!(
            history_path_from(Some("/x/state".into()), Some("/home/u".into())),
            Some(PathBuf::from("/x/state/tsdb-shell/history"))
        );
        assert_eq!(
            history_path_from(Some("relative".into()), Some("/home/u".into())),
            Some(PathBuf::from("/home/u/.local/state/tsdb-shell/history"))
        );
        assert_eq!(
            history_path_from(None, Some("/home/u".into())),
            Some(PathBuf::from("/home/u/.local/state/tsdb-shell/history"))
        );
        assert_eq!(history_path_from(None, None), None);
    }

    #[test]
    fn meta_commands() {
        assert_eq!(meta_command("\\q"), Some(MetaCommand::Quit));
        assert_eq!(meta_command("exit"), Some(MetaCommand::Quit));
        assert_eq!(meta_command("QUIT;"), Some(MetaCommand::Quit));
        assert_eq!(meta_command("\\?"), Some(MetaCommand::Help));
        assert_eq!(meta_command("\\d"), Some(MetaCommand::ListTables));
        assert_eq!(
            meta_command("\\d cpu"),
            Some(MetaCommand::Describe("cpu".into()))
        );
        assert_eq!(meta_command("\\timing"), Some(MetaCommand::Timing));
        assert_eq!(
            meta_command("\\x"),
            Some(MetaCommand::Unknown("\\x".into()))
        );
        assert_eq!(meta_command("SELECT 1;"), None);
        assert_eq!(meta_command("exit_code"), None);
    }

    #[test]
    fn completeness_follows_the_splitter() {
        assert!(is_complete("SELECT 1;\n"));
        assert!(is_complete("SELECT 1;\nSELECT 2;\n"));
        assert!(!is_complete("SELECT 1\n"));
        assert!(!is_complete("SELECT 1;\nSELECT\n"));
        assert!(!is_complete("SELECT ';\n"));
        assert!(!is_complete("SELECT 1 /* ; */\n"));
        assert!(!is_complete("SELECT 1 -- ;\n"));
        assert!(is_complete("SELECT 1; -- trailing comment\n"));
    }
}
