//! Terminal setup and restore. The guard restores on drop (quit and error paths);
//! the panic hook restores before the panic message is printed; the app loop
//! restores on terminating signals and around a suspend (Ctrl-Z, SIGTSTP).

use std::io::{self, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::{cursor, execute, queue, terminal};
use ratatui::Terminal;
use ratatui::backend::{Backend, CrosstermBackend, TestBackend};

use crate::state::AppState;
use crate::ui::{self, Theme};

pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// Owns the terminal while the TUI runs.
pub struct TerminalGuard {
    pub terminal: Term,
    /// `AppState::bells` as of the last bell rung: more since then ring one.
    rung: u64,
    /// `AppState::copies` as of the last copy sent.
    copied: u64,
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

/// The TUI was asked for, but stdout is not a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "stdout is not a terminal, so the dashboard cannot be drawn; \
     use --headless for JSON lines (e.g. `chaintop --headless > out.jsonl`)"
)]
pub struct NotATerminal;

/// Why the TUI cannot start on this output, if it cannot: it needs a terminal.
pub fn check_terminal() -> Result<(), NotATerminal> {
    use std::io::IsTerminal;
    if io::stdout().is_terminal() {
        Ok(())
    } else {
        Err(NotATerminal)
    }
}

/// Raw mode, the alternate screen (cleared), no cursor. Clearing here rather than
/// with ratatui's `Terminal::clear` avoids its cursor-position query, which the
/// event stream already reading the terminal can swallow.
fn enter_screen() -> io::Result<()> {
    ENTERED.store(true, Ordering::SeqCst);
    terminal::enable_raw_mode()?;
    execute!(
        io::stdout(),
        terminal::EnterAlternateScreen,
        terminal::Clear(terminal::ClearType::All),
        cursor::Hide
    )
}

impl TerminalGuard {
    /// Hand the terminal back to the shell and stop this process (Ctrl-Z); when
    /// it is continued (`fg`), take the terminal again. The caller redraws.
    pub fn suspend(&mut self) -> io::Result<()> {
        restore();
        #[cfg(unix)]
        {
            // SIGSTOP cannot be caught, so this stops whatever handlers are installed;
            // raise returns once the process is continued.
            // SAFETY: raise has no memory-safety preconditions.
            unsafe {
                libc::raise(libc::SIGSTOP);
            }
        }
        enter_screen()?;
        // A new terminal has empty buffers: the next draw repaints everything.
        self.terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
        Ok(())
    }

    pub fn enter() -> io::Result<Self> {
        let setup = enter_screen().and_then(|_| Terminal::new(CrosstermBackend::new(io::stdout())));
        match setup {
            Ok(terminal) => Ok(Self {
                terminal,
                rung: 0,
                copied: 0,
            }),
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

/// Where the TUI loop draws: the real terminal, or one in memory (`Offscreen`).
pub trait Screen {
    /// Draw one frame of the state.
    fn draw(&mut self, state: &AppState, theme: &Theme) -> io::Result<()>;
    /// Hand the screen back to the shell until the process is continued.
    fn suspend(&mut self) -> io::Result<()>;
}

impl Screen for TerminalGuard {
    fn draw(&mut self, state: &AppState, theme: &Theme) -> io::Result<()> {
        // Synchronized update: the terminal shows the whole frame at once, never a
        // half-written one (rows of two frames mixed while a list scrolls). The end
        // marker is sent even when drawing failed, so the terminal is not left
        // holding back output.
        queue!(
            self.terminal.backend_mut(),
            terminal::BeginSynchronizedUpdate
        )?;
        let drawn = self
            .terminal
            .draw(|f| ui::draw(f, state, theme))
            .map(|_| ());
        let mut ended = queue!(self.terminal.backend_mut(), terminal::EndSynchronizedUpdate);
        // Alerts that ring the bell since the last frame ring it once.
        if state.bells > self.rung {
            self.rung = state.bells;
            ended = ended.and_then(|_| io::Write::write_all(self.terminal.backend_mut(), b"\x07"));
        }
        // A copy (`y`) goes to the terminal's clipboard as OSC 52.
        if state.copies > self.copied {
            self.copied = state.copies;
            if let Some(text) = &state.copied {
                let seq = osc52(text);
                ended = ended.and_then(|_| {
                    io::Write::write_all(self.terminal.backend_mut(), seq.as_bytes())
                });
            }
        }
        drawn.and(ended.and_then(|_| Backend::flush(self.terminal.backend_mut())))
    }

    fn suspend(&mut self) -> io::Result<()> {
        TerminalGuard::suspend(self)
    }
}

/// The OSC 52 sequence that puts `text` on the terminal's clipboard.
pub fn osc52(text: &str) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(text);
    format!("\x1b]52;c;{b64}\x07")
}

/// A screen in memory: the loop's tests and the load benchmark draw here, through
/// the same rendering code as the terminal.
pub struct Offscreen {
    pub terminal: Terminal<TestBackend>,
    /// Frames drawn so far.
    pub frames: u64,
    /// Times the loop handed the screen back (Ctrl-Z).
    pub suspends: u64,
    /// Bells rung (as the terminal would: one per frame that has new ones).
    pub bells: u64,
    rung: u64,
}

impl Offscreen {
    pub fn new(width: u16, height: u16) -> Self {
        let terminal = match Terminal::new(TestBackend::new(width, height)) {
            Ok(t) => t,
            Err(never) => match never {},
        };
        Self {
            terminal,
            frames: 0,
            suspends: 0,
            bells: 0,
            rung: 0,
        }
    }
}

impl Screen for Offscreen {
    fn draw(&mut self, state: &AppState, theme: &Theme) -> io::Result<()> {
        if let Err(never) = self.terminal.draw(|f| ui::draw(f, state, theme)) {
            match never {}
        }
        self.frames += 1;
        if state.bells > self.rung {
            self.rung = state.bells;
            self.bells += 1;
        }
        Ok(())
    }

    fn suspend(&mut self) -> io::Result<()> {
        self.suspends += 1;
        Ok(())
    }
}
