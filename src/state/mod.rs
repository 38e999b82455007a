//! Pure application state: `apply(Update, now)` and `on_action(Action)`; no I/O here.
//! One module per pane's data; one list cursor for every list.

mod chart;
mod contracts;
mod cursor;
mod detail;
mod drawn;
mod events;
mod fresh;
mod heads;
pub mod input;
mod lists;
mod mempool;
mod mouse;
mod network;
pub mod race;
pub mod ring;
mod watches;

use std::time::{Duration, Instant, SystemTime};

use crate::event::{Action, AlertState, Command, NetIdx, Update};
pub use chart::{Chart, SAMPLES_KEPT};
pub use contracts::{ContractRow, ViewRow};
pub use cursor::ListCursor;
pub use detail::{DETAILS_KEPT, DetailCache, DetailView, Fetched, HISTORY_KEPT, HistoryEntry};
pub use drawn::{Drawn, Target};
pub use events::EVENTS_KEPT;
pub use fresh::Fresh;
pub use heads::{HEADS_KEPT, HeadRow};
pub use input::{InputField, InputState, Submit};
pub use lists::{EventKey, EventSort, Filter, Frozen, HeadSort, WatchSort};
pub use mempool::{MEMPOOL_KEPT, Mempool};
pub use network::{NetworkState, Page};
pub use race::{GroupState, RaceRow, Racer, Window};
pub use ring::Ring;
pub use watches::{Activity, TokenBalanceRow, WatchRow};

/// Rows PgUp and PgDn move.
const PAGE: usize = 10;

/// Which pane has keyboard focus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Networks,
    Heads,
    Watches,
    /// The selected network's event feed.
    Events,
    /// The selected network's contract views.
    Contracts,
}

impl Focus {
    const ORDER: [Focus; 5] = [
        Focus::Networks,
        Focus::Heads,
        Focus::Watches,
        Focus::Events,
        Focus::Contracts,
    ];

    fn step(self, by: usize) -> Self {
        let i = Self::ORDER.iter().position(|f| *f == self).unwrap_or(0);
        Self::ORDER[(i + by) % Self::ORDER.len()]
    }
    fn next(self) -> Self {
        self.step(1)
    }
    fn prev(self) -> Self {
        self.step(Self::ORDER.len() - 1)
    }
}

/// The list cursors of the selected network, one per list pane.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cursors {
    pub heads: ListCursor,
    pub watches: ListCursor,
    pub events: ListCursor,
    pub contracts: ListCursor,
}

impl Cursors {
    /// The cursor of a list pane (the network row has none).
    pub fn of(&mut self, focus: Focus) -> Option<&mut ListCursor> {
        match focus {
            Focus::Networks => None,
            Focus::Heads => Some(&mut self.heads),
            Focus::Watches => Some(&mut self.watches),
            Focus::Events => Some(&mut self.events),
            Focus::Contracts => Some(&mut self.contracts),
        }
    }
}

/// The whole application's state.
#[derive(Debug, Clone)]
pub struct AppState {
    pub networks: Vec<NetworkState>,
    pub selected: usize,
    pub focus: Focus,
    pub show_help: bool,
    /// The alerts popup (`!`).
    pub show_alerts: bool,
    /// The selected row of each list of the selected network (heads and events: 0
    /// is the newest; contracts: their lines, headers and views).
    pub cursors: Cursors,
    /// The watches/events/contracts pane shown where they share one place (short
    /// terminals): the last of them that had focus.
    pub side_tab: Focus,
    pub should_quit: bool,
    /// The open "add watch address" input, if any.
    pub input: Option<InputState>,
    /// Monotonic and wall clocks as of the last tick; drawing reads these, never the OS.
    pub now: Instant,
    pub wall_now: SystemTime,
    /// The dashboard's sinks (`tui` and any `[[sinks]]` of kind `tui`), each with
    /// whether it rings the bell. An alert for one of them flashes its row.
    pub tui_sinks: Vec<(String, bool)>,
    /// Alerts so far that ring the bell (the screen rings once per frame with new ones).
    pub bells: u64,
    /// Open detail views, the one shown last (Esc closes it).
    pub views: Vec<DetailView>,
    /// `f`: the lists of the selected network stopped where they were.
    pub frozen: Option<Frozen>,
    /// `/`: the focused list filtered.
    pub filter: Option<Filter>,
    /// What `y` copied last; `copies` counts them (the screen sends each once).
    pub copied: Option<String>,
    pub copies: u64,
    /// The watch `d` removed last (`u` watches it again).
    pub removed: Option<(alloy_primitives::Address, String)>,
    /// A word in the title bar for a few seconds (copied, removed), and when it came.
    pub notice: Option<(String, Instant)>,
    /// What the network cards chart (`c` cycles).
    pub chart: Chart,
    /// How the heads and the watches are ordered (`s` cycles the focused one's).
    pub head_sort: HeadSort,
    pub watch_sort: WatchSort,
    pub event_sort: EventSort,
    /// The network picker (`n`): the name typed so far, and the selected match.
    pub picker: Option<(String, ListCursor)>,
    /// Explorer links (OSC 8) on numbers, hashes and addresses (`--no-links`: off).
    pub links: bool,
    /// The mouse is captured: wheel and clicks act (`m` gives it back to the terminal).
    pub mouse: bool,
    /// What the last frame drew where (drawing fills it; clicks and links read it).
    pub drawn: std::cell::RefCell<Drawn>,
    /// Chain groups, by the race engine's index (a group of one races no more).
    pub groups: Vec<GroupState>,
}

impl AppState {
    pub fn new(networks: Vec<NetworkState>) -> Self {
        Self {
            networks,
            selected: 0,
            focus: Focus::Networks,
            show_help: false,
            show_alerts: false,
            cursors: Cursors::default(),
            side_tab: Focus::Watches,
            should_quit: false,
            input: None,
            now: Instant::now(),
            wall_now: SystemTime::now(),
            tui_sinks: vec![(crate::config::alerts::TUI_SINK.to_string(), false)],
            bells: 0,
            views: Vec::new(),
            frozen: None,
            filter: None,
            copied: None,
            copies: 0,
            removed: None,
            notice: None,
            chart: Chart::default(),
            head_sort: HeadSort::default(),
            watch_sort: WatchSort::default(),
            event_sort: EventSort::default(),
            picker: None,
            links: true,
            mouse: true,
            drawn: std::cell::RefCell::default(),
            groups: Vec::new(),
        }
    }

    pub fn selected_network(&self) -> Option<&NetworkState> {
        self.networks.get(self.selected)
    }

    /// Advance the clocks (ages tick). Always changes what is drawn.
    pub fn tick(&mut self, now: Instant, wall_now: SystemTime) {
        self.now = now;
        self.wall_now = wall_now;
    }

    /// Fold one backend fact into the state. Returns whether anything visible changed.
    /// `now` is when the update was received: ages of rates and heads count from it.
    pub fn apply(&mut self, update: Update, now: Instant) -> bool {
        if let Update::Alert { net, alert } = &update
            && alert.state == AlertState::Fired
        {
            let mine = self
                .tui_sinks
                .iter()
                .filter(|(name, _)| alert.sinks.contains(name));
            let (mut seen, mut bell) = (false, false);
            for (_, b) in mine {
                seen = true;
                bell |= *b;
            }
            if let Some(n) = self.networks.get_mut(*net).filter(|_| seen) {
                n.flash = Some((alert.about, now));
            }
            if bell {
                self.bells += 1;
            }
        }
        if matches!(
            update,
            Update::Group { .. }
                | Update::Race { .. }
                | Update::Behind { .. }
                | Update::Disputed { .. }
        ) {
            return self.apply_race(update, now);
        }
        let net = update.net();
        // Only updates that add, drop or reorder rows need the selection held.
        let moves_rows = matches!(
            update,
            Update::Head { .. }
                | Update::Reorg { .. }
                | Update::HeadRetracted { .. }
                | Update::ChainReset { .. }
                | Update::HeadTxCount { .. }
                | Update::Log { .. }
                | Update::Balance { .. }
                | Update::TokenBalance { .. }
                | Update::Watching { .. }
        );
        let held = (moves_rows && net == self.selected).then(|| self.held_rows());
        let changed = match self.networks.get_mut(net) {
            Some(n) => n.apply(update, now),
            None => false,
        };
        if let Some(held) = held.filter(|_| changed) {
            self.hold_rows(held);
            if self.frozen.is_some() {
                self.check_frozen();
            }
        }
        changed
    }

    /// The race's facts, about a group rather than one network.
    fn apply_race(&mut self, update: Update, now: Instant) -> bool {
        match update {
            Update::Group { group, info, .. } => {
                // Other members: the old races and figures are no comparison.
                let changed = self
                    .groups
                    .get(group)
                    .is_none_or(|g| g.info.members != info.members);
                for (i, n) in self.networks.iter_mut().enumerate() {
                    let member = info.members.contains(&i) && info.members.len() >= 2;
                    if member && (changed || n.racer.group != Some(group)) {
                        n.racer.new_rivals(Some(group));
                    } else if !member && n.racer.group == Some(group) {
                        n.racer.new_rivals(None);
                    }
                }
                if self.groups.len() <= group {
                    self.groups.resize_with(group + 1, || {
                        GroupState::new(crate::event::ChainGroup {
                            name: String::new(),
                            chain_id: None,
                            members: Vec::new(),
                        })
                    });
                }
                if changed {
                    self.groups[group] = GroupState::new(*info);
                } else {
                    self.groups[group].info = *info;
                }
                true
            }
            Update::Race { race, .. } => {
                let Some(g) = self.groups.get_mut(race.group) else {
                    return false;
                };
                for (net, d) in &race.deliveries {
                    if let Some(n) = self.networks.get_mut(*net) {
                        n.racer.raced(*d, *net == race.first, now);
                    }
                }
                g.races.push(RaceRow::new(*race, now));
                g.races_total += 1;
                true
            }
            Update::Behind {
                net, behind, best, ..
            } => {
                let Some(n) = self.networks.get_mut(net) else {
                    return false;
                };
                n.racer.behind_now(behind, best, now);
                true
            }
            Update::Disputed { group, dispute, .. } => {
                let Some(g) = self.groups.get_mut(group) else {
                    return false;
                };
                g.disputes.push((*dispute, now));
                g.disputes_total += 1;
                true
            }
            _ => false,
        }
    }

    /// The racing group of network `net`.
    pub fn group_of(&self, net: NetIdx) -> Option<(usize, &GroupState)> {
        let gi = self.networks.get(net)?.racer.group?;
        self.groups.get(gi).filter(|g| g.racing()).map(|g| (gi, g))
    }

    /// Rows of the focused list of the selected network, as shown.
    fn focused_len(&self) -> usize {
        self.len_of(self.focus)
    }

    /// Rows of a list pane of the selected network, as shown.
    fn len_of(&self, pane: Focus) -> usize {
        let Some(net) = self.selected_network() else {
            return 0;
        };
        match pane {
            Focus::Networks => 0,
            Focus::Heads => self.shown_heads().len(),
            Focus::Watches => self.shown_watches().len(),
            Focus::Events => self.shown_events().len(),
            Focus::Contracts => net.contract_lines(),
        }
    }

    /// Keys are typed into a field (the add-watch input, the filter, the picker).
    pub fn editing(&self) -> bool {
        self.input.is_some()
            || self.picker.is_some()
            || self.filter.as_ref().is_some_and(|f| f.typing)
    }

    /// The networks the picker lists (by index): those whose name holds what was typed.
    pub fn picked(&self) -> Vec<usize> {
        let typed = self
            .picker
            .as_ref()
            .map(|(t, _)| t.to_lowercase())
            .unwrap_or_default();
        (0..self.networks.len())
            .filter(|&i| self.networks[i].name.to_lowercase().contains(&typed))
            .collect()
    }

    /// Keys while the network picker is open.
    fn on_picker(&mut self, action: Action) -> Option<(NetIdx, Command)> {
        let len = self.picked().len();
        let (text, cursor) = self.picker.as_mut()?;
        match action {
            Action::InputChar(c) => {
                text.push(c);
                cursor.reset();
            }
            Action::InputBackspace => {
                text.pop();
                cursor.reset();
            }
            Action::Up => cursor.up(1),
            Action::Down => cursor.down(1, len),
            Action::InputSubmit => {
                let at = cursor.get(len);
                if let Some(&i) = self.picked().get(at) {
                    self.select(i);
                }
                self.picker = None;
            }
            Action::Escape => self.picker = None,
            Action::Quit => self.should_quit = true,
            _ => {}
        }
        None
    }

    /// Keys while the filter is typed into.
    fn on_filter_input(&mut self, action: Action) -> Option<(NetIdx, Command)> {
        let f = self.filter.as_mut()?;
        let pane = f.pane;
        match action {
            Action::InputChar(c) => f.text.push(c),
            Action::InputBackspace => {
                f.text.pop();
            }
            Action::InputSubmit => f.typing = false,
            Action::Escape => {
                if let Some(f) = self.filter.take()
                    && let Some(c) = self.cursors.of(f.pane)
                {
                    c.reset();
                }
            }
            Action::Quit => self.should_quit = true,
            _ => return None,
        }
        if let Some(c) = self.cursors.of(pane) {
            c.reset();
        }
        None
    }

    /// Apply a user action; may return a command for one network's supervisor.
    ///
    /// `AddWatch`/`RemoveWatch` commands concern every network: the state already
    /// changed all of them, and the app loop sends the command to every network handle
    /// (and records it in the watch-list file).
    pub fn on_action(&mut self, action: Action) -> Option<(NetIdx, Command)> {
        let n = self.networks.len();
        if self.input.is_some() {
            return self.on_input(action);
        }
        if self.picker.is_some() {
            return self.on_picker(action);
        }
        if self.filter.as_ref().is_some_and(|f| f.typing) {
            return self.on_filter_input(action);
        }
        // A popup takes the keys: it closes, the other popup opens, or the program
        // leaves; nothing acts on the panes behind it.
        if (self.show_help || self.show_alerts)
            && !matches!(
                action,
                Action::Escape
                    | Action::ToggleHelp
                    | Action::ToggleAlerts
                    | Action::Quit
                    | Action::Suspend
            )
        {
            return None;
        }
        if let Action::Mouse(m) = action {
            return self.on_mouse(m);
        }
        // A detail view takes the keys that move and open; popups over it and the
        // keys that leave work as everywhere.
        if !self.views.is_empty() && !self.show_help && !self.show_alerts {
            match action {
                Action::Escape => {
                    self.views.pop();
                    return None;
                }
                Action::Up | Action::Down => {
                    self.view_move(action == Action::Down);
                    return None;
                }
                Action::Open => return self.open(),
                Action::Quit
                | Action::Suspend
                | Action::ToggleHelp
                | Action::ToggleAlerts
                | Action::Copy
                | Action::ToggleMouse
                | Action::Reconnect => {}
                _ => return None,
            }
        }
        match action {
            Action::Quit => self.should_quit = true,
            // Handled by the loop, which owns the terminal.
            Action::Suspend => {}
            Action::ToggleHelp => self.show_help = !self.show_help,
            Action::ToggleAlerts => self.show_alerts = !self.show_alerts,
            Action::Open => return self.open(),
            Action::Escape if self.show_help || self.show_alerts => {
                self.show_help = false;
                self.show_alerts = false;
            }
            Action::Escape => {
                if let Some(f) = self.filter.take()
                    && let Some(c) = self.cursors.of(f.pane)
                {
                    c.reset();
                }
            }
            Action::Freeze => self.toggle_freeze(),
            Action::Mempool => {
                if n > 0 {
                    self.views.push(DetailView::Mempool { net: self.selected });
                }
            }
            Action::Race => {
                if n > 0 {
                    self.views.push(DetailView::Race { net: self.selected });
                }
            }
            Action::Chart => self.chart = self.chart.next(),
            Action::ToggleMouse => {
                self.mouse = !self.mouse;
                let what = if self.mouse {
                    "mouse on (m: off)"
                } else {
                    "mouse off: the terminal selects text (m: on)"
                };
                self.notice = Some((what.to_string(), self.now));
            }
            // Taken above.
            Action::Mouse(_) => {}
            Action::Sort => self.next_sort(),
            Action::PickNetwork => {
                if n > 0 {
                    self.picker = Some((String::new(), ListCursor::default()));
                }
            }
            Action::Copy => {
                if let Some(text) = self.selected_text() {
                    self.notice = Some((format!("copied {text}"), self.now));
                    self.copied = Some(text);
                    self.copies += 1;
                }
            }
            Action::Undo => {
                let (address, label) = self.removed.take()?;
                for net in &mut self.networks {
                    if !net.watches.iter().any(|w| w.address == address) {
                        net.watches.push(WatchRow::new(label.clone(), address));
                    }
                }
                self.notice = Some((
                    format!("watching {} again", crate::text::sanitize(&label)),
                    self.now,
                ));
                return Some((self.selected, Command::AddWatch { address, label }));
            }
            Action::Filter => {
                if matches!(self.focus, Focus::Heads | Focus::Watches | Focus::Events) {
                    self.filter = Some(Filter {
                        pane: self.focus,
                        text: String::new(),
                        typing: true,
                    });
                    if let Some(c) = self.cursors.of(self.focus) {
                        c.reset();
                    }
                }
            }
            Action::PageUp | Action::PageDown | Action::Top | Action::Bottom => {
                let len = self.focused_len();
                if let Some(c) = self.cursors.of(self.focus) {
                    match action {
                        Action::PageUp => c.up(PAGE),
                        Action::PageDown => c.down(PAGE, len),
                        Action::Top => c.reset(),
                        _ => c.down(usize::MAX, len),
                    }
                }
            }
            Action::FocusNext => self.set_focus(self.focus.next()),
            Action::FocusPrev => self.set_focus(self.focus.prev()),
            Action::SelectNetwork(i) if i < n => self.select(i),
            Action::SelectNetwork(_) => {}
            Action::Left if n > 0 => self.select((self.selected + n - 1) % n),
            Action::Right if n > 0 => self.select((self.selected + 1) % n),
            Action::Left | Action::Right => {}
            Action::Up => {
                if let Some(c) = self.cursors.of(self.focus) {
                    c.up(1);
                }
            }
            Action::Down if self.focus == Focus::Networks => self.focus = Focus::Heads,
            Action::Down => {
                let len = self.focused_len();
                if let Some(c) = self.cursors.of(self.focus) {
                    c.down(1, len);
                }
            }
            Action::Reconnect if n > 0 => {
                if let Some(net) = self.networks.get_mut(self.selected) {
                    net.reconnect_requested = Some(self.now);
                }
                return Some((self.selected, Command::Reconnect));
            }
            Action::Reconnect => {}
            Action::AddWatch if n > 0 => self.input = Some(InputState::new()),
            Action::RemoveWatch if self.focus == Focus::Watches => {
                let shown = self.shown_watches();
                let row = shown.get(self.cursors.watches.get(shown.len()))?;
                let (address, label) = (row.address, row.label.clone());
                self.notice = Some((
                    format!("removed {} (u undoes)", crate::text::sanitize(&label)),
                    self.now,
                ));
                self.removed = Some((address, label));
                for net in &mut self.networks {
                    net.watches.retain(|w| w.address != address);
                }
                let len = self.shown_watches().len();
                self.cursors.watches.clamp(len);
                return Some((self.selected, Command::RemoveWatch { address }));
            }
            Action::AddWatch
            | Action::RemoveWatch
            | Action::InputChar(_)
            | Action::InputBackspace
            | Action::InputSubmit => {}
        }
        None
    }

    /// Keys while the add-watch input is open.
    fn on_input(&mut self, action: Action) -> Option<(NetIdx, Command)> {
        let input = self.input.as_mut()?;
        match action {
            Action::InputChar(c) => input.push(c),
            Action::InputBackspace => input.backspace(),
            Action::Escape => self.input = None,
            Action::Quit => self.should_quit = true,
            Action::InputSubmit => match input.submit() {
                Submit::Next | Submit::Invalid(_) => {}
                Submit::Done(address, label) => {
                    self.input = None;
                    for net in &mut self.networks {
                        if !net.watches.iter().any(|w| w.address == address) {
                            net.watches.push(WatchRow::new(label.clone(), address));
                        }
                    }
                    return Some((self.selected, Command::AddWatch { address, label }));
                }
            },
            _ => {}
        }
        None
    }

    fn set_focus(&mut self, focus: Focus) {
        self.focus = focus;
        if matches!(focus, Focus::Watches | Focus::Events | Focus::Contracts) {
            self.side_tab = focus;
        }
    }

    fn select(&mut self, i: usize) {
        if self.selected != i {
            self.selected = i;
            self.cursors = Cursors::default();
            // The filter was for the other network's list.
            self.filter = None;
        }
    }
}

/// Seconds between a unix timestamp and `now`, for head ages (never negative).
pub fn age_secs(timestamp: u64, now: SystemTime) -> u64 {
    let now = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    now.saturating_sub(timestamp)
}

#[cfg(test)]
mod tests;
