//! The interactive REPL (stdin is a terminal): rustyline editing and history, prompt `tsdb> `,
//! continuation prompt `   -> ` until the buffered input ends with a terminated statement.
//!
//! Completeness is decided by [`StatementSplitter`] over the whole buffer, so a `;` inside a
//! string literal or comment does not end a statement. A complete buffer runs all its statements
//! and becomes one history entry. Ctrl-C discards the buffer, Ctrl-D exits. Tab completion and
//! syntax highlighting come from [`SqlHelper`].

use std::path::{Path, PathBuf};

use std::io::IsTerminal;

use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{CompletionType, Config, Editor};
use tsdb::sql::StatementSplitter;

use super::command::{self, Command};
use super::helper::{self, SqlHelper};
use super::{History, Session, drain, print_error};

const PROMPT: &str = "tsdb> ";
const CONTINUATION_PROMPT: &str = "   -> ";

/// Runs the REPL until Ctrl-D or `\q`.
pub async fn run(session: &mut Session, data_dir: &Path, history: &History) {
    let config = Config::builder()
        .completion_type(CompletionType::List)
        .auto_add_history(false)
        .build();
    let mut editor = match Editor::<SqlHelper, DefaultHistory>::with_config(config) {
        Ok(editor) => editor,
        Err(err) => {
            print_error(&format!("cannot start the line editor: {err}"));
            return;
        }
    };
    let color = helper::color_enabled(
        std::io::stdout().is_terminal(),
        std::env::var_os("NO_COLOR"),
    );
    let mut sql_helper = SqlHelper::new(color);
    sql_helper.schema = helper::schema_of(&session.db);
    editor.set_helper(Some(sql_helper));
    let history = match history {
        History::Default => history_path(),
        History::File(path) => Some(path.clone()),
        History::Disabled => None,
    };
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    println!(
        "tsdb-shell {} - database {}\nEnd statements with `;`. Type .help for help, .quit or Ctrl-D to quit.",
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
        // A Ctrl-C skipped the rest of the previous input; this one starts afresh.
        session.interrupted = false;
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
                Some(command) => {
                    let _ = editor.add_history_entry(line.trim());
                    command::run(session, command).await;
                    if let Some(sql_helper) = editor.helper_mut() {
                        sql_helper.schema = helper::schema_of(&session.db);
                    }
                    if session.quit {
                        break;
                    }
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
        if let Some(sql_helper) = editor.helper_mut() {
            sql_helper.schema = helper::schema_of(&session.db);
        }
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

/// A dot command, or one of the bare words `quit`, `exit` and `help` (REPL only).
fn meta_command(line: &str) -> Option<Command> {
    match line
        .trim_end_matches(';')
        .trim()
        .to_ascii_lowercase()
        .as_str()
    {
        "quit" | "exit" => Some(Command::Quit),
        "help" => Some(Command::Help),
        _ => command::parse(line),
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
        assert_eq!(meta_command("\\q"), Some(Command::Quit));
        assert_eq!(meta_command("exit"), Some(Command::Quit));
        assert_eq!(meta_command("QUIT;"), Some(Command::Quit));
        assert_eq!(meta_command("help"), Some(Command::Help));
        assert_eq!(meta_command(".tables"), Some(Command::Tables));
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
