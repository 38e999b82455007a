//! The TUI loop: `select!` over terminal events, backend updates (drained with
//! `recv_many`) and a 1 Hz tick; draws only when something changed, at most once per
//! frame budget.

use std::time::{Duration, Instant, SystemTime};

use crossterm::event::{Event, EventStream, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::config::watchlist::{WatchList, save_watchlist};
use crate::event::{Action, Command, Update};
use crate::network::NetworkHandle;
use crate::state::AppState;
use crate::tui::TerminalGuard;
use crate::ui::{self, Theme};

/// Minimum time between two frames (60 fps).
pub const FRAME_BUDGET: Duration = Duration::from_millis(16);
const TICK: Duration = Duration::from_secs(1);
const DRAIN: usize = 1024;

/// Map a key to an action. While the add-watch input is open, keys edit it.
pub fn key_action(key: KeyEvent, editing: bool) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if editing {
        return Some(match key.code {
            KeyCode::Char('c') if ctrl => Action::Quit,
            KeyCode::Char('z') if ctrl => Action::Suspend,
            KeyCode::Char(c) if !ctrl => Action::InputChar(c),
            KeyCode::Backspace => Action::InputBackspace,
            KeyCode::Enter => Action::InputSubmit,
            KeyCode::Esc => Action::Escape,
            _ => return None,
        });
    }
    Some(match key.code {
        KeyCode::Char('c') if ctrl => Action::Quit,
        KeyCode::Char('z') if ctrl => Action::Suspend,
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Char('?') => Action::ToggleHelp,
        KeyCode::Esc => Action::Escape,
        KeyCode::Tab => Action::FocusNext,
        KeyCode::BackTab => Action::FocusPrev,
        KeyCode::Left | KeyCode::Char('h') => Action::Left,
        KeyCode::Right | KeyCode::Char('l') => Action::Right,
        KeyCode::Up | KeyCode::Char('k') => Action::Up,
        KeyCode::Down | KeyCode::Char('j') => Action::Down,
        KeyCode::Char('r') => Action::Reconnect,
        KeyCode::Char('a') => Action::AddWatch,
        KeyCode::Char('d') => Action::RemoveWatch,
        KeyCode::Char(c @ '1'..='9') => Action::SelectNetwork(c as usize - '1' as usize),
        _ => return None,
    })
}

/// Where runtime watch-list changes are saved (`None`: not persisted, e.g. the demo).
pub type Persist = Option<(std::path::PathBuf, WatchList)>;

/// Send a command where it belongs; watch-list changes go to every network and are
/// saved to the watch-list file.
fn dispatch(net: usize, cmd: Command, networks: &[NetworkHandle], persist: &mut Persist) {
    match &cmd {
        Command::AddWatch { .. } | Command::RemoveWatch { .. } => {
            if let Some((path, list)) = persist {
                match &cmd {
                    Command::AddWatch { address, label } => list.add(*address, label.clone()),
                    Command::RemoveWatch { address } => list.remove(*address),
                    Command::Reconnect => {}
                }
                if let Err(e) = save_watchlist(path, list) {
                    tracing::warn!("{e}");
                }
            }
            for h in networks {
                let _ = h.commands.try_send(cmd.clone());
            }
        }
        Command::Reconnect => {
            if let Some(h) = networks.get(net) {
                let _ = h.commands.try_send(cmd);
            }
        }
    }
}

/// How the TUI ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// `q`, Ctrl-C, the end of `--duration`, or the backend gone.
    Quit,
    /// A terminating signal: the process should exit with 128 + its number.
    Signal(i32),
}

/// The signals that end the TUI (the terminal is restored first).
struct Terminating(Vec<(i32, tokio::signal::unix::Signal)>);

impl Terminating {
    fn install() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        Self(
            [
                (libc::SIGTERM, SignalKind::terminate()),
                (libc::SIGHUP, SignalKind::hangup()),
                (libc::SIGINT, SignalKind::interrupt()),
                (libc::SIGQUIT, SignalKind::quit()),
            ]
            .into_iter()
            .filter_map(|(n, k)| signal(k).ok().map(|s| (n, s)))
            .collect(),
        )
    }

    /// The next terminating signal's number.
    async fn next(&mut self) -> i32 {
        if self.0.is_empty() {
            return std::future::pending().await;
        }
        let waits = self.0.iter_mut().map(|(n, s)| {
            let n = *n;
            Box::pin(async move {
                s.recv().await;
                n
            })
        });
        futures_util::future::select_all(waits).await.0
    }
}

/// SIGTSTP from outside (`kill -TSTP`); Ctrl-Z in raw mode comes as a key.
async fn suspend_signal(s: &mut Option<tokio::signal::unix::Signal>) {
    match s {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

pub async fn run(
    mut state: AppState,
    theme: Theme,
    mut updates: mpsc::Receiver<Update>,
    networks: Vec<NetworkHandle>,
    duration: Option<Duration>,
    mut persist: Persist,
) -> anyhow::Result<Exit> {
    crate::tui::check_terminal().map_err(anyhow::Error::msg)?;
    let mut terminating = Terminating::install();
    let mut tstp =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(libc::SIGTSTP)).ok();
    let mut guard = TerminalGuard::enter()?;
    let mut events = EventStream::new();
    let mut buf = Vec::with_capacity(DRAIN);
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stop_at = duration.map(|d| tokio::time::Instant::now() + d);
    let mut dirty = true;
    let mut last_draw: Option<Instant> = None;
    loop {
        let due = last_draw.map_or(Instant::now(), |t| t + FRAME_BUDGET);
        if dirty && Instant::now() >= due {
            // Synchronized update: the terminal shows the whole frame at once, never
            // a half-written one (rows of two frames mixed while a list scrolls).
            crossterm::execute!(
                std::io::stdout(),
                crossterm::terminal::BeginSynchronizedUpdate
            )?;
            let drawn = guard.terminal.draw(|f| ui::draw(f, &state, &theme));
            crossterm::execute!(
                std::io::stdout(),
                crossterm::terminal::EndSynchronizedUpdate
            )?;
            drawn?;
            last_draw = Some(Instant::now());
            dirty = false;
        }
        tokio::select! {
            biased;
            ev = events.next() => match ev {
                Some(Ok(Event::Key(key))) => {
                    if let Some(action) = key_action(key, state.input.is_some()) {
                        if action == Action::Suspend {
                            guard.suspend()?;
                            dirty = true;
                            last_draw = None;
                            continue;
                        }
                        if let Some((net, cmd)) = state.on_action(action) {
                            dispatch(net, cmd, &networks, &mut persist);
                        }
                        dirty = true;
                    }
                }
                Some(Ok(Event::Resize(..))) => dirty = true,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => break,
            },
            n = updates.recv_many(&mut buf, DRAIN) => {
                if n == 0 {
                    break;
                }
                let now = Instant::now();
                for u in buf.drain(..) {
                    dirty |= state.apply(u, now);
                }
            }
            _ = tick.tick() => {
                state.tick(Instant::now(), SystemTime::now());
                dirty = true;
            }
            _ = tokio::time::sleep_until(due.into()), if dirty => {}
            _ = async { tokio::time::sleep_until(stop_at.unwrap_or_else(tokio::time::Instant::now)).await }, if stop_at.is_some() => break,
            n = terminating.next() => return Ok(Exit::Signal(n)),
            () = suspend_signal(&mut tstp) => {
                guard.suspend()?;
                dirty = true;
                last_draw = None;
            }
        }
        if state.should_quit {
            break;
        }
    }
    Ok(Exit::Quit)
}
