//! The interactive REPL driven through a pseudo-terminal: tab completion, the continuation
//! prompt, the history file and syntax highlighting. Uses the C library's pty functions
//! directly (no extra crates, no `script`/`tmux`).
#![cfg(target_os = "linux")]

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::FromRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use std::ffi::{c_char, c_int, c_ulong};

unsafe extern "C" {
    fn posix_openpt(flags: c_int) -> c_int;
    fn grantpt(fd: c_int) -> c_int;
    fn unlockpt(fd: c_int) -> c_int;
    fn ptsname_r(fd: c_int, buf: *mut c_char, len: usize) -> c_int;
    fn setsid() -> c_int;
    fn ioctl(fd: c_int, request: c_ulong, ...) -> c_int;
}

const O_RDWR: c_int = 2;
const O_NOCTTY: c_int = 0o400;
const TIOCSCTTY: c_ulong = 0x540E;
const TIOCSWINSZ: c_ulong = 0x5414;

#[repr(C)]
struct WinSize {
    rows: u16,
    cols: u16,
    x: u16,
    y: u16,
}

/// A `tsdb-shell` REPL running on a pty, with everything it printed so far.
struct Repl {
    child: Child,
    master: File,
    output: Arc<Mutex<Vec<u8>>>,
}

impl Repl {
    fn spawn(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Repl {
        // SAFETY: plain libc calls on a descriptor we own; results are checked.
        let (master, slave_path) = unsafe {
            let fd = posix_openpt(O_RDWR | O_NOCTTY);
            assert!(fd >= 0, "posix_openpt failed");
            assert_eq!(grantpt(fd), 0);
            assert_eq!(unlockpt(fd), 0);
            let size = WinSize {
                rows: 40,
                cols: 200,
                x: 0,
                y: 0,
            };
            ioctl(fd, TIOCSWINSZ, &size as *const WinSize);
            let mut name = [0 as c_char; 256];
            assert_eq!(ptsname_r(fd, name.as_mut_ptr(), name.len()), 0);
            let path = std::ffi::CStr::from_ptr(name.as_ptr())
                .to_str()
                .unwrap()
                .to_string();
            (File::from_raw_fd(fd), path)
        };
        let slave = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&slave_path)
            .unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_tsdb-shell"));
        command
            .arg(dir.join("data"))
            .args(args)
            .current_dir(dir)
            .env("XDG_STATE_HOME", dir.join("state"))
            .env("TERM", "xterm")
            .env_remove("TSDB_HISTORY")
            .env_remove("NO_COLOR")
            .stdin(slave.try_clone().unwrap())
            .stdout(slave.try_clone().unwrap())
            .stderr(slave);
        for (key, value) in envs {
            command.env(key, value);
        }
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            command.pre_exec(|| {
                setsid();
                ioctl(0, TIOCSCTTY, 0);
                Ok(())
            });
        }
        let child = command.spawn().unwrap();
        let output = Arc::new(Mutex::new(Vec::new()));
        let mut reader = master.try_clone().unwrap();
        let sink = Arc::clone(&output);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Repl {
            child,
            master,
            output,
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// Waits until the output after byte `from` contains `needle`; returns where it ends.
    fn expect_after(&self, from: usize, needle: &str) -> usize {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = self.text();
            if let Some(at) = text.get(from..).and_then(|rest| rest.find(needle)) {
                return from + at + needle.len();
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {needle:?}; output: {text:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn send(&mut self, input: &str) {
        self.master.write_all(input.as_bytes()).unwrap();
        self.master.flush().unwrap();
    }

    fn wait(mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "{status}: {:?}", self.text());
                break;
            }
            assert!(
                Instant::now() < deadline,
                "REPL did not exit: {:?}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self.text()
    }
}

#[test]
fn completion_continuation_prompt_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("my_history");
    let mut repl = Repl::spawn(
        dir.path(),
        &["--history-file", history.to_str().unwrap()],
        &[("NO_COLOR", "1")],
    );
    let mut at = repl.expect_after(0, "tsdb> ");
    repl.send(
        "CREATE TABLE cpu (host STRING, ts TIMESTAMP TIME INDEX, usage_user DOUBLE, \
         PRIMARY KEY (host));\r",
    );
    at = repl.expect_after(at, "Affected Rows: 0");
    at = repl.expect_after(at, "tsdb> ");
    // Column and table names complete with Tab.
    repl.send("SELECT usage_u\t");
    at = repl.expect_after(at, "SELECT usage_user");
    repl.send(" FROM c\t");
    at = repl.expect_after(at, "FROM cpu");
    // No `;` yet: the continuation prompt.
    repl.send("\r");
    at = repl.expect_after(at, "   -> ");
    repl.send(";\r");
    at = repl.expect_after(at, "0 rows in set");
    repl.send(".ta\t");
    at = repl.expect_after(at, ".tables");
    repl.send("\r");
    at = repl.expect_after(at, "cpu");
    repl.send(".quit\r");
    let output = repl.wait();
    assert!(!output[at..].contains("Error"), "{output}");
    assert!(
        !output.contains("\x1b[1;34m"),
        "NO_COLOR: no highlighting: {output:?}"
    );

    let saved = std::fs::read_to_string(&history).unwrap();
    assert!(saved.contains("CREATE TABLE cpu"), "{saved}");
    assert!(saved.contains("SELECT usage_user FROM cpu"), "{saved}");
    assert!(saved.contains(".tables"), "{saved}");
    // The default location was not used.
    assert!(!dir.path().join("state").exists());
}

#[test]
fn highlighting_and_default_history_location() {
    let dir = tempfile::tempdir().unwrap();
    let mut repl = Repl::spawn(dir.path(), &[], &[]);
    let mut at = repl.expect_after(0, "tsdb> ");
    repl.send("SELECT 1 = = 2;\r");
    at = repl.expect_after(at, "\x1b[1;34mSELECT\x1b[0m");
    // A parse error with a caret under the offending token.
    at = repl.expect_after(at, "Error: ");
    at = repl.expect_after(at, "SELECT 1 = = 2\r\n           ^");
    repl.send("\x04");
    let output = repl.wait();
    assert!(output.len() >= at);
    let saved = std::fs::read_to_string(dir.path().join("state/tsdb-shell/history")).unwrap();
    assert!(saved.contains("SELECT 1 = = 2;"), "{saved}");
    assert!(!dir.path().join("data/history").exists());
}

#[test]
fn no_history_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut repl = Repl::spawn(dir.path(), &["--no-history"], &[("NO_COLOR", "1")]);
    let at = repl.expect_after(0, "tsdb> ");
    repl.send("SELECT 1;\r");
    repl.expect_after(at, "1 row in set");
    repl.send(".quit\r");
    repl.wait();
    assert!(!dir.path().join("state").exists());
}
