//! What the list panes show of the selected network: its heads and events (newest
//! first) and its watches, through the freeze (`f`: the lists stop where they are
//! and count what came since) and the filter (`/`: the focused list, by what its
//! rows say).

use alloy_primitives::B256;

use super::{AppState, Focus, HeadRow, WatchRow};
use crate::event::{EventLog, NetIdx};

/// An event row, as the cursor and the freeze hold on to it.
pub type EventKey = (Option<B256>, Option<u64>, bool);

fn event_key(e: &EventLog) -> EventKey {
    (e.block_hash, e.log_index, e.removed)
}

/// The same log, retracted since or not (the freeze holds on to it either way).
fn same_log(key: &EventKey, e: &EventLog) -> bool {
    (key.0, key.1) == (e.block_hash, e.log_index)
}

/// The rows the cursors hold on to across an update.
#[derive(Debug, Clone, Default)]
pub(super) struct Held {
    head: Option<B256>,
    event: Option<EventKey>,
    watch: Option<alloy_primitives::Address>,
}

/// The newest head and event shown when the view was frozen.
#[derive(Debug, Clone, PartialEq)]
pub struct Frozen {
    pub net: NetIdx,
    /// Hash and number of the newest head shown (a reorg may replace the hash).
    head: Option<(B256, u64)>,
    event: Option<EventKey>,
}

/// How the heads are ordered (`s` cycles).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HeadSort {
    #[default]
    Newest,
    Txs,
    Gas,
}

/// How the watches are ordered (`s` cycles).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WatchSort {
    /// As configured (and added).
    #[default]
    Listed,
    Label,
    Balance,
    /// The largest change since start, either way, first.
    Change,
    /// The latest to move first.
    Changed,
}

/// How the events are ordered (`s` cycles); newest first within each group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EventSort {
    #[default]
    Newest,
    /// By contract (its label or symbol), A to Z.
    Source,
    /// By event name, A to Z (raw logs last).
    Event,
}

impl EventSort {
    fn next(self) -> Self {
        match self {
            EventSort::Newest => EventSort::Source,
            EventSort::Source => EventSort::Event,
            EventSort::Event => EventSort::Newest,
        }
    }
    /// What it sorts by, for the pane's title (`None`: newest first).
    pub fn column(self) -> Option<&'static str> {
        match self {
            EventSort::Newest => None,
            EventSort::Source => Some("contract"),
            EventSort::Event => Some("event"),
        }
    }
}

impl HeadSort {
    fn next(self) -> Self {
        match self {
            HeadSort::Newest => HeadSort::Txs,
            HeadSort::Txs => HeadSort::Gas,
            HeadSort::Gas => HeadSort::Newest,
        }
    }
    /// The column header it sorts by (`None`: the list's own order).
    pub fn column(self) -> Option<&'static str> {
        match self {
            HeadSort::Newest => None,
            HeadSort::Txs => Some("txs"),
            HeadSort::Gas => Some("gas%"),
        }
    }
}

impl WatchSort {
    fn next(self) -> Self {
        match self {
            WatchSort::Listed => WatchSort::Label,
            WatchSort::Label => WatchSort::Balance,
            WatchSort::Balance => WatchSort::Change,
            WatchSort::Change => WatchSort::Changed,
            WatchSort::Changed => WatchSort::Listed,
        }
    }
    /// The column header it sorts by (`None`: as listed).
    pub fn column(self) -> Option<&'static str> {
        match self {
            WatchSort::Listed => None,
            WatchSort::Label => Some("label"),
            WatchSort::Balance => Some("balance ETH"),
            WatchSort::Change => Some("change"),
            WatchSort::Changed => Some("changed at"),
        }
    }
}

/// The filter of one list pane.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub pane: Focus,
    pub text: String,
    /// Keys are typed into it (until Enter).
    pub typing: bool,
}

impl Filter {
    fn words(&self) -> String {
        self.text.trim().to_lowercase()
    }
}

/// Digits (commas allowed) are a number's start; anything else a hash's (with or
/// without `0x`). "19" is never a hash prefix, so it does not match one at random.
fn head_matches(row: &HeadRow, q: &str) -> bool {
    let digits: String = q.chars().filter(|c| *c != ',' && *c != '_').collect();
    if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
        return row.head.number.to_string().starts_with(&digits);
    }
    let hash = row.head.hash.to_string();
    hash.starts_with(q) || hash[2..].starts_with(q)
}

fn watch_matches(w: &WatchRow, q: &str) -> bool {
    w.label.to_lowercase().contains(q) || w.address.to_string().to_lowercase().contains(q)
}

fn event_matches(
    e: &EventLog,
    label: &dyn Fn(&alloy_primitives::Address) -> Option<String>,
    q: &str,
) -> bool {
    let named = |a: &alloy_primitives::Address| {
        a.to_string().to_lowercase().contains(q)
            || label(a).is_some_and(|l| l.to_lowercase().contains(q))
    };
    e.event
        .as_deref()
        .is_some_and(|n| n.to_lowercase().contains(q))
        || e.source
            .as_deref()
            .is_some_and(|s| s.to_lowercase().contains(q))
        || named(&e.address)
        || e.args.iter().any(|a| match &a.value {
            crate::event::AbiValue::Address(x) => named(x),
            _ => false,
        })
}

impl AppState {
    /// The filter text of `pane`, if it has one.
    fn filter_of(&self, pane: Focus) -> Option<String> {
        self.filter
            .as_ref()
            .filter(|f| f.pane == pane && !f.text.trim().is_empty())
            .map(Filter::words)
    }

    fn frozen_here(&self) -> Option<&Frozen> {
        self.frozen.as_ref().filter(|f| f.net == self.selected)
    }

    /// Heads newer than the frozen top (0 when not frozen).
    fn heads_skipped(&self) -> usize {
        let (Some(n), Some((hash, number))) = (
            self.selected_network(),
            self.frozen_here().and_then(|f| f.head),
        ) else {
            return 0;
        };
        let rows = || n.heads.iter().rev();
        rows()
            .position(|r| r.head.hash == hash)
            .or_else(|| rows().position(|r| r.head.number <= number))
            .unwrap_or(0)
    }

    /// Events newer than the frozen top (0 when not frozen; all of them when there
    /// was none yet).
    fn events_skipped(&self) -> usize {
        let (Some(n), Some(f)) = (self.selected_network(), self.frozen_here()) else {
            return 0;
        };
        let Some(key) = f.event else {
            return n.events.len();
        };
        n.events
            .iter()
            .rev()
            .position(|e| same_log(&key, e))
            .unwrap_or(0)
    }

    /// Rows that came since the view was frozen, for the pane's title.
    pub fn frozen_new(&self, pane: Focus) -> Option<usize> {
        self.frozen_here()?;
        match pane {
            Focus::Heads => Some(self.heads_skipped()),
            Focus::Events => Some(self.events_skipped()),
            _ => None,
        }
    }

    /// The heads the pane shows, newest first.
    pub fn shown_heads(&self) -> Vec<&HeadRow> {
        let Some(n) = self.selected_network() else {
            return Vec::new();
        };
        let q = self.filter_of(Focus::Heads);
        let mut rows: Vec<&HeadRow> = n
            .heads
            .iter()
            .rev()
            .skip(self.heads_skipped())
            .filter(|r| q.as_deref().is_none_or(|q| head_matches(r, q)))
            .collect();
        // Stable: equal rows stay newest first.
        match self.head_sort {
            HeadSort::Newest => {}
            HeadSort::Txs => rows.sort_by_key(|r| std::cmp::Reverse(r.head.tx_count)),
            HeadSort::Gas => rows.sort_by(|a, b| {
                let pct = |r: &HeadRow| r.head.gas_used as f64 / r.head.gas_limit.max(1) as f64;
                pct(b).total_cmp(&pct(a))
            }),
        }
        rows
    }

    /// The watches the pane shows.
    pub fn shown_watches(&self) -> Vec<&WatchRow> {
        let Some(n) = self.selected_network() else {
            return Vec::new();
        };
        let q = self.filter_of(Focus::Watches);
        let mut rows: Vec<&WatchRow> = n
            .watches
            .iter()
            .filter(|w| q.as_deref().is_none_or(|q| watch_matches(w, q)))
            .collect();
        match self.watch_sort {
            WatchSort::Listed => {}
            WatchSort::Label => rows.sort_by_key(|w| w.label.to_lowercase()),
            WatchSort::Balance => rows.sort_by_key(|w| std::cmp::Reverse(w.balance)),
            WatchSort::Change => {
                rows.sort_by_key(|w| std::cmp::Reverse(w.change().map(|(_, d)| d)))
            }
            WatchSort::Changed => rows.sort_by_key(|w| std::cmp::Reverse(w.last_change_block)),
        }
        rows
    }

    /// The events the pane shows, newest first.
    pub fn shown_events(&self) -> Vec<&EventLog> {
        let Some(n) = self.selected_network() else {
            return Vec::new();
        };
        let q = self.filter_of(Focus::Events);
        let label = |a: &alloy_primitives::Address| n.label_of(*a).map(str::to_string);
        let mut rows: Vec<&EventLog> = n
            .events
            .iter()
            .rev()
            .skip(self.events_skipped())
            .filter(|e| q.as_deref().is_none_or(|q| event_matches(e, &label, q)))
            .collect();
        match self.event_sort {
            EventSort::Newest => {}
            EventSort::Source => rows.sort_by_cached_key(|e| {
                e.source
                    .as_deref()
                    .map(str::to_lowercase)
                    .unwrap_or_else(|| e.address.to_string().to_lowercase())
            }),
            EventSort::Event => rows.sort_by_cached_key(|e| {
                (e.event.is_none(), e.event.as_deref().map(str::to_lowercase))
            }),
        }
        rows
    }

    /// After an update: a freeze whose rows aged out of memory (more new rows came
    /// than the lists keep) ends, and says so, rather than show other rows.
    pub(super) fn check_frozen(&mut self) {
        let (Some(f), Some(n)) = (self.frozen_here(), self.selected_network()) else {
            return;
        };
        let head_gone = f.head.is_some_and(|(hash, number)| {
            !n.heads.iter().any(|r| r.head.hash == hash)
                && n.heads.iter().next().is_none_or(|r| r.head.number > number)
        });
        let event_gone = f
            .event
            .is_some_and(|key| !n.events.iter().any(|e| same_log(&key, e)));
        if head_gone || event_gone {
            self.frozen = None;
            self.notice = Some(("following again: the frozen rows aged out".into(), self.now));
        }
    }

    /// `s`: the focused list's next order.
    pub(super) fn next_sort(&mut self) {
        match self.focus {
            Focus::Heads => self.head_sort = self.head_sort.next(),
            Focus::Watches => self.watch_sort = self.watch_sort.next(),
            Focus::Events => self.event_sort = self.event_sort.next(),
            _ => return,
        }
        if let Some(c) = self.cursors.of(self.focus) {
            c.reset();
        }
    }

    /// `f`: freeze the lists where they are, or follow again.
    pub(super) fn toggle_freeze(&mut self) {
        if self.frozen_here().is_some() {
            self.frozen = None;
            return;
        }
        let Some(n) = self.selected_network() else {
            return;
        };
        self.frozen = Some(Frozen {
            net: self.selected,
            head: n.heads.back().map(|r| (r.head.hash, r.head.number)),
            event: n.events.back().map(event_key),
        });
    }

    /// The selected head, event and watch: new rows arriving above, or a sorted
    /// list reordering, must not move the selection to another row. The newest row
    /// of a list in its own order follows the newest instead.
    pub(super) fn held_rows(&self) -> Held {
        let head = match self.cursors.heads.get(usize::MAX) {
            0 if self.head_sort == HeadSort::Newest => None,
            i => self.shown_heads().get(i).map(|r| r.head.hash),
        };
        let event = match self.cursors.events.get(usize::MAX) {
            0 if self.event_sort == EventSort::Newest => None,
            i => self.shown_events().get(i).map(|e| event_key(e)),
        };
        let watch = match self.watch_sort {
            WatchSort::Listed => None,
            _ => {
                let i = self.cursors.watches.get(usize::MAX);
                self.shown_watches().get(i).map(|w| w.address)
            }
        };
        Held { head, event, watch }
    }

    pub(super) fn hold_rows(&mut self, held: Held) {
        if let Some(h) = held.head
            && let Some(i) = self.shown_heads().iter().position(|r| r.head.hash == h)
        {
            self.cursors.heads = super::ListCursor::at(i);
        }
        if let Some(e) = held.event
            && let Some(i) = self.shown_events().iter().position(|x| same_log(&e, x))
        {
            self.cursors.events = super::ListCursor::at(i);
        }
        if let Some(a) = held.watch
            && let Some(i) = self.shown_watches().iter().position(|w| w.address == a)
        {
            self.cursors.watches = super::ListCursor::at(i);
        }
    }
}
