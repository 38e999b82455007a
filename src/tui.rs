//! Terminal setup and restore. The guard restores on drop (quit and error paths);
//! the panic hook restores before the panic message is printed.

use std::io::{self, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::{cursor, execute, terminal};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// Owns the terminal while the TUI runs.
pub struct TerminalGuard {
    pub terminal: Term,
}

/// Whether the terminal is in raw mode / the alternate screen (restore is a no-op
/// otherwise, so errors before the TUI starts print no escape codes).
static ENTERED: AtomicBool = AtomicBool::new(false);

/// Put the terminal back the way we found it. Safe to call more than once.
pub fn restore() {
    if !ENTERED.swap(false, Ordering::SeqCst) {
        return;
    }
    let _ = terminal::disable_raw_mode();
    let _ = execute!(io::stdout(), terminal::LeaveAlternateScreen, cursor::Show);
}

/// Install a panic hook that restores the terminal first, so the message is readable
/// and the shell is usable.
pub fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
}

impl TerminalGuard {
    pub fn enter() -> io::Result<Self> {
        ENTERED.store(true, Ordering::SeqCst);
        if let Err(e) = terminal::enable_raw_mode() {
            restore();
            return Err(e);
        }
        let setup = execute!(io::stdout(), terminal::EnterAlternateScreen, cursor::Hide)
            .and_then(|_| Terminal::new(CrosstermBackend::new(io::stdout())));
        match setup {
            Ok(mut terminal) => {
                terminal.clear()?;
                Ok(Self { terminal })
            }
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}
