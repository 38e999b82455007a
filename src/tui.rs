//! Terminal setup and restore. The guard restores on drop (quit and error paths);
//! the panic hook restores before the panic message is printed; the app loop
//! restores on terminating signals and around a suspend (Ctrl-Z, SIGTSTP).

use std::io::{self, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::{cursor, event, execute, queue, terminal};
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
    /// The explorer links on the screen now.
    links: Links,
    /// Whether the terminal reports the mouse to us now.
    mouse: bool,
}

/// Report presses, releases and the wheel (1000), in SGR form (1006): no motion,
/// which crossterm's `EnableMouseCapture` adds and which would wake the loop on
/// every move. `DisableMouseCapture` turns off all of them.
const MOUSE_ON: &[u8] = b"\x1b[?1000h\x1b[?1006h";

/// Whether the terminal is in raw mode / the alternate screen (restore is a no-op
/// otherwise, so errors before the TUI starts print no escape codes).
static ENTERED: AtomicBool = AtomicBool::new(false);

/// Put the terminal back the way we found it. Safe to call more than once.
pub fn restore() {
    if !ENTERED.swap(false, Ordering::SeqCst) {
        return;
    }
    let _ = terminal::disable_raw_mode();
    let _ = execute!(
        io::stdout(),
        event::DisableMouseCapture,
        terminal::LeaveAlternateScreen,
        cursor::Show
    );
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
        // A new terminal has empty buffers: the next draw repaints everything, links
        // and mouse mode too.
        self.terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
        self.links = Links::default();
        self.mouse = false;
        Ok(())
    }

    pub fn enter() -> io::Result<Self> {
        let setup = enter_screen().and_then(|_| Terminal::new(CrosstermBackend::new(io::stdout())));
        match setup {
            Ok(terminal) => Ok(Self {
                terminal,
                rung: 0,
                copied: 0,
                links: Links::default(),
                mouse: false,
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
        let links = &mut self.links;
        let drawn = self
            .terminal
            .draw(|f| ui::draw(f, state, theme))
            .map(|done| {
                // The frame's links, written over their cells inside the same update.
                links.update(done.buffer, &state.drawn.borrow().links)
            });
        let drawn = match drawn {
            Ok(bytes) => io::Write::write_all(self.terminal.backend_mut(), &bytes),
            Err(e) => Err(e),
        };
        // The mouse as asked for; a failure to say so still ends the update.
        let mouse = if state.mouse != self.mouse {
            self.mouse = state.mouse;
            let backend = self.terminal.backend_mut();
            if state.mouse {
                io::Write::write_all(backend, MOUSE_ON)
            } else {
                queue!(backend, event::DisableMouseCapture)
            }
        } else {
            Ok(())
        };
        let mut ended =
            queue!(self.terminal.backend_mut(), terminal::EndSynchronizedUpdate).and(mouse);
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

/// The explorer links on the terminal (OSC 8). ratatui writes cells without them,
/// so after each frame the link cells are written again inside an OSC 8 pair; only
/// those that are new or that the frame changed, and the cells of links that went
/// are written plain.
#[derive(Debug, Default)]
pub struct Links {
    area: ratatui::layout::Rect,
    shown: Vec<(ratatui::layout::Rect, String, Vec<ratatui::buffer::Cell>)>,
}

impl Links {
    /// The bytes that make the terminal show `links` over the frame in `buf`.
    pub fn update(
        &mut self,
        buf: &ratatui::buffer::Buffer,
        links: &[(ratatui::layout::Rect, String)],
    ) -> Vec<u8> {
        use ratatui::layout::Position;
        // A resized terminal was cleared and drawn anew: nothing links any more.
        if buf.area != self.area {
            self.area = buf.area;
            self.shown.clear();
        }
        let cells = |r: ratatui::layout::Rect| -> Vec<ratatui::buffer::Cell> {
            r.positions().filter_map(|p| buf.cell(p).cloned()).collect()
        };
        let now: Vec<_> = links
            .iter()
            .map(|(r, url)| (*r, url.clone(), cells(r.intersection(buf.area))))
            .collect();
        let mut out: Vec<u8> = Vec::new();
        let area = buf.area;
        let mut write =
            |r: ratatui::layout::Rect, c: &[ratatui::buffer::Cell], url: Option<&str>| {
                // The cells were read from the part inside the frame.
                let r = r.intersection(area);
                if let Some(url) = url {
                    out.extend_from_slice(format!("\x1b]8;;{url}\x1b\\").as_bytes());
                }
                let at = r.positions().zip(c).map(|(Position { x, y }, c)| (x, y, c));
                // Into memory: cannot fail.
                let _ = Backend::draw(&mut CrosstermBackend::new(&mut out), at);
                if url.is_some() {
                    out.extend_from_slice(b"\x1b]8;;\x1b\\");
                }
            };
        for (r, url, _) in &self.shown {
            if !now.iter().any(|(r2, u2, _)| r2 == r && u2 == url) {
                write(*r, &cells(r.intersection(buf.area)), None);
            }
        }
        for link in &now {
            if !self.shown.contains(link) {
                write(link.0, &link.2, Some(&link.1));
            }
        }
        self.shown = now;
        out
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

#[cfg(test)]
mod tests {
    use ratatui::buffer::Buffer;
    use ratatui::layout::Rect;

    use super::Links;

    fn text(b: &[u8]) -> String {
        String::from_utf8_lossy(b).into_owned()
    }

    #[test]
    fn links_are_written_once_again_when_changed_and_plain_when_gone() {
        let url = "https://scan.example/block/7".to_string();
        let at = Rect::new(2, 0, 1, 1);
        let mut links = Links::default();
        let buf = Buffer::with_lines(["# 7 x"]);
        let first = text(&links.update(&buf, &[(at, url.clone())]));
        assert!(
            first.starts_with("\x1b]8;;https://scan.example/block/7\x1b\\")
                && first.contains('7')
                && first.ends_with("\x1b]8;;\x1b\\"),
            "{first:?}"
        );
        assert!(
            links.update(&buf, &[(at, url.clone())]).is_empty(),
            "an unchanged link is not written again"
        );
        let changed = Buffer::with_lines(["# 8 x"]);
        let again = text(&links.update(&changed, &[(at, url.clone())]));
        assert!(
            again.contains("\x1b]8;;https") && again.contains('8'),
            "{again:?}"
        );
        let gone = text(&links.update(&changed, &[]));
        assert!(
            !gone.contains("\x1b]8;;h") && gone.contains('8'),
            "a link that went is written plain: {gone:?}"
        );
        // A resize cleared the screen: the link is written again.
        links.update(&changed, &[(at, url.clone())]);
        let wider = Buffer::with_lines(["# 8 x  "]);
        assert!(!links.update(&wider, &[(at, url)]).is_empty());
    }
}
