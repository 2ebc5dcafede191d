//! Ctrl-C (SIGINT) while the shell runs.
//!
//! Installed once at start; from then on SIGINT no longer kills the process. What a Ctrl-C
//! does depends on where it lands:
//! - a statement is running or printing its rows (they stream, see `print.rs`): it is
//!   cancelled (the scan stops) and the statements queued behind it in the same input are
//!   skipped; the REPL then prompts again, a script exits 130;
//! - a script is between statements (reading stdin, printing a dot command's output): the
//!   shell exits 130 at once,
//!   like a shell killed by SIGINT (every acknowledged write is already durable);
//! - the REPL is at its prompt: the line editor reads Ctrl-C as a key and clears the line.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The exit status of a script stopped by Ctrl-C (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Shared between the signal task and the session.
#[derive(Debug)]
pub struct Interrupts {
    statement_running: AtomicBool,
    /// A Ctrl-C arrived during a statement and was not yet taken.
    pending: AtomicBool,
    interactive: bool,
}

impl Interrupts {
    /// Starts listening for Ctrl-C. `interactive` is true for the REPL. The handler is in
    /// place when this returns (SIGINT no longer kills the process).
    pub fn install(interactive: bool) -> Arc<Interrupts> {
        let interrupts = Arc::new(Interrupts {
            statement_running: AtomicBool::new(false),
            pending: AtomicBool::new(false),
            interactive,
        });
        let mut signals = CtrlC::listen();
        let listener = interrupts.clone();
        tokio::spawn(async move {
            while signals.recv().await {
                listener.on_ctrl_c();
            }
        });
        interrupts
    }

    /// Between statements: a script stops. During one, the statement's own listener
    /// ([`RunningStatement::cancelled`]) cancels it.
    fn on_ctrl_c(&self) {
        if self.statement_running.load(Ordering::Acquire) {
            self.pending.store(true, Ordering::Release);
        } else if !self.interactive {
            // Nothing to cancel and nothing half done: stop like SIGINT's default would.
            eprintln!("Interrupted");
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
    }

    /// Whether a Ctrl-C arrived during the last statement (cancelled or not); clears it.
    pub fn take_pending(&self) -> bool {
        self.pending.swap(false, Ordering::AcqRel)
    }

    /// Marks a statement as running until the guard drops; Ctrl-C then completes the guard's
    /// [`RunningStatement::cancelled`] instead of ending a script.
    pub fn statement(&self) -> RunningStatement<'_> {
        // Listening before the flag is set, so a Ctrl-C right after is not lost. The
        // statement's task polls this itself: a busy runtime cannot delay the cancel.
        let signals = CtrlC::listen();
        self.statement_running.store(true, Ordering::Release);
        RunningStatement {
            interrupts: self,
            signals,
        }
    }
}

/// See [`Interrupts::statement`].
pub struct RunningStatement<'a> {
    interrupts: &'a Interrupts,
    signals: CtrlC,
}

impl RunningStatement<'_> {
    /// Completes at the first Ctrl-C since the statement started.
    pub async fn cancelled(&mut self) {
        if self.signals.recv().await {
            self.interrupts.pending.store(true, Ordering::Release);
        } else {
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for RunningStatement<'_> {
    fn drop(&mut self) {
        self.interrupts
            .statement_running
            .store(false, Ordering::Release);
    }
}

/// A SIGINT listener registered when created (tokio's `ctrl_c()` registers only when first
/// polled). Every listener sees every signal.
struct CtrlC {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl CtrlC {
    fn listen() -> CtrlC {
        #[cfg(unix)]
        {
            let kind = tokio::signal::unix::SignalKind::interrupt();
            CtrlC {
                signal: tokio::signal::unix::signal(kind).ok(),
            }
        }
        #[cfg(not(unix))]
        {
            CtrlC {}
        }
    }

    /// Waits for the next Ctrl-C; false if signals cannot be received.
    async fn recv(&mut self) -> bool {
        #[cfg(unix)]
        {
            match &mut self.signal {
                Some(signal) => signal.recv().await.is_some(),
                None => false,
            }
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c().await.is_ok()
        }
    }
}
