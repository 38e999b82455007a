//! The TUI: the real terminal and its signals around the loop (`event_loop`),
//! and where the commands a key gives are sent.

mod event_loop;
mod signals;

use std::time::Duration;

use crossterm::event::EventStream;
use tokio::sync::mpsc;

use crate::config::watchlist::{WatchList, save_watchlist};
use crate::event::{Command, Update};
use crate::network::NetworkHandle;
use crate::state::AppState;
use crate::tui::TerminalGuard;
use crate::ui::Theme;
pub use event_loop::{FRAME_BUDGET, Loop, Observer, Outside};

/// Where runtime watch-list changes are saved (`None`: not persisted, e.g. the demo).
pub type Persist = Option<(std::path::PathBuf, WatchList)>;

/// Send a command where it belongs; watch-list changes go to every network and are
/// saved to the watch-list file. A fetch that cannot be asked for is answered at
/// once, with why.
fn dispatch(
    net: usize,
    cmd: Command,
    networks: &[NetworkHandle],
    persist: &mut Persist,
) -> Option<Update> {
    match &cmd {
        Command::AddWatch { .. } | Command::RemoveWatch { .. } => {
            if let Some((path, list)) = persist {
                match &cmd {
                    Command::AddWatch { address, label } => list.add(*address, label.clone()),
                    Command::RemoveWatch { address } => list.remove(*address),
                    Command::Reconnect | Command::Fetch(_) => {}
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
        Command::Fetch(key) => {
            let sent = match networks.get(net).and_then(|h| h.details.as_ref()) {
                Some(tx) => tx
                    .try_send(*key)
                    .map_err(|_| "too many fetches waiting; Esc and try again".to_string()),
                None => Err("this network has no HTTP endpoint to ask".to_string()),
            };
            if let Err(why) = sent {
                return Some(Update::Detail {
                    net,
                    key: *key,
                    result: Err(why),
                });
            }
        }
    }
    None
}

/// How the TUI ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// `q`, Ctrl-C, the end of `--duration`, or the backend gone.
    Quit,
    /// A terminating signal: the process should exit with 128 + its number.
    Signal(i32),
}

/// The dashboard on this process's terminal, until it ends.
pub async fn run(
    state: AppState,
    theme: Theme,
    updates: mpsc::Receiver<Update>,
    networks: Vec<NetworkHandle>,
    duration: Option<Duration>,
    persist: Persist,
) -> anyhow::Result<Exit> {
    crate::tui::check_terminal()?;
    let outside = signals::watch();
    let mut guard = TerminalGuard::enter()?;
    let mut lp = Loop {
        networks,
        persist,
        stop_at: duration.map(|d| tokio::time::Instant::now() + d),
        ..Loop::new(state, theme, updates)
    };
    lp.run(&mut guard, EventStream::new(), outside, &mut ())
        .await
}
