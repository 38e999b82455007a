//! Detail views: Enter opens the thing under the cursor (a head's block, one of
//! its transactions, a watched address, an event, a connection's history), Esc goes
//! back. What a view fetches is cached per block or transaction hash, per network.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use alloy_primitives::{Address, B256};

use super::{AppState, Focus, ListCursor};
use crate::event::{Command, Detail, DetailKey, EventLog, NetIdx};

/// Answers kept per network (the oldest go first).
pub const DETAILS_KEPT: usize = 64;
/// A connection's state changes and errors kept for its history view.
pub const HISTORY_KEPT: usize = 64;

/// One open detail view; views stack (a block, then one of its transactions).
#[derive(Debug, Clone, PartialEq)]
pub enum DetailView {
    /// A head's block: its fields and its transactions (`cursor` selects one).
    Block {
        net: NetIdx,
        hash: B256,
        number: u64,
        cursor: ListCursor,
    },
    /// A transaction's receipt and logs.
    Receipt { net: NetIdx, tx: B256 },
    /// A watched address: exact balances, nonce, what chaintop saw it do.
    Watch { net: NetIdx, address: Address },
    /// A log in full.
    Event { net: NetIdx, log: Box<EventLog> },
    /// A connection's history: state changes, errors in full.
    Health { net: NetIdx },
    /// The watched addresses' pending transactions, and the fees bid.
    Mempool { net: NetIdx },
    /// The race between the endpoints of this network's chain group.
    Race { net: NetIdx },
}

impl DetailView {
    pub fn net(&self) -> NetIdx {
        match self {
            DetailView::Block { net, .. }
            | DetailView::Receipt { net, .. }
            | DetailView::Watch { net, .. }
            | DetailView::Event { net, .. }
            | DetailView::Health { net }
            | DetailView::Mempool { net }
            | DetailView::Race { net } => *net,
        }
    }
}

/// Where a fetch stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Fetched {
    Loading,
    Ready(Arc<Detail>),
    /// Why not (shown in the view; opening it again asks again).
    Failed(String),
}

/// The answers of one network's fetches, by key, at most `DETAILS_KEPT`.
#[derive(Debug, Clone, Default)]
pub struct DetailCache {
    map: HashMap<DetailKey, Fetched>,
    order: VecDeque<DetailKey>,
}

impl DetailCache {
    pub fn get(&self, key: &DetailKey) -> Option<&Fetched> {
        self.map.get(key)
    }

    /// Whether `key` needs a fetch (never asked, or failed): it is loading now.
    pub fn want(&mut self, key: DetailKey) -> bool {
        match self.map.get(&key) {
            Some(Fetched::Loading | Fetched::Ready(_)) => false,
            Some(Fetched::Failed(_)) => {
                self.map.insert(key, Fetched::Loading);
                true
            }
            None => {
                self.insert(key, Fetched::Loading);
                true
            }
        }
    }

    /// A fetch answered.
    pub fn put(&mut self, key: DetailKey, result: Result<Box<Detail>, String>) {
        let f = match result {
            Ok(d) => Fetched::Ready(Arc::from(d)),
            Err(e) => Fetched::Failed(e),
        };
        self.insert(key, f);
    }

    fn insert(&mut self, key: DetailKey, f: Fetched) {
        if self.map.insert(key, f).is_none() {
            self.order.push_back(key);
            while self.order.len() > DETAILS_KEPT {
                if let Some(old) = self.order.pop_front() {
                    self.map.remove(&old);
                }
            }
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// One line of a connection's history.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    pub at: Instant,
    pub what: String,
    /// An error (shown in its colour), not a state change.
    pub error: bool,
}

impl AppState {
    /// The view on top, if any.
    pub fn view(&self) -> Option<&DetailView> {
        self.views.last()
    }

    /// Enter: open the thing under the cursor of the focused pane (or, in a block,
    /// the selected transaction). May ask its network for a fetch.
    pub(super) fn open(&mut self) -> Option<(NetIdx, Command)> {
        let view = match self.views.last() {
            Some(DetailView::Block {
                net, hash, cursor, ..
            }) => {
                let d = self
                    .networks
                    .get(*net)?
                    .details
                    .get(&DetailKey::Block(*hash));
                let Some(Fetched::Ready(d)) = d else {
                    return None;
                };
                let Detail::Block(b) = d.as_ref() else {
                    return None;
                };
                let tx = b.txs.get(cursor.get(b.txs.len()))?;
                DetailView::Receipt {
                    net: *net,
                    tx: tx.hash,
                }
            }
            Some(_) => return None,
            None => self.open_from_pane()?,
        };
        let fetch = match &view {
            DetailView::Block { hash, .. } => Some(DetailKey::Block(*hash)),
            DetailView::Receipt { tx, .. } => Some(DetailKey::Receipt(*tx)),
            _ => None,
        };
        let net = view.net();
        self.views.push(view);
        let key = fetch?;
        let n = self.networks.get_mut(net)?;
        n.details.want(key).then_some((net, Command::Fetch(key)))
    }

    /// What the view on top needs and nobody asked for: its block or receipt when
    /// the cache let it go, and in a block the selected transaction's receipt (for
    /// its status), so one call is made per transaction looked at, not per block.
    /// A fetch that failed is not asked again here (Enter asks again).
    pub fn fetch_wanted(&mut self) -> Option<(NetIdx, Command)> {
        let (net, key) = match self.views.last()? {
            DetailView::Block {
                net, hash, cursor, ..
            } => {
                let n = self.networks.get(*net)?;
                let block = DetailKey::Block(*hash);
                match n.details.get(&block) {
                    None => (*net, block),
                    Some(Fetched::Ready(d)) => match d.as_ref() {
                        Detail::Block(b) => {
                            let tx = b.txs.get(cursor.get(b.txs.len()))?;
                            (*net, DetailKey::Receipt(tx.hash))
                        }
                        Detail::Receipt(_) => return None,
                    },
                    Some(_) => return None,
                }
            }
            DetailView::Receipt { net, tx } => (*net, DetailKey::Receipt(*tx)),
            _ => return None,
        };
        let n = self.networks.get_mut(net)?;
        (n.details.get(&key).is_none() && n.details.want(key)).then_some((net, Command::Fetch(key)))
    }

    fn open_from_pane(&self) -> Option<DetailView> {
        let net = self.selected;
        Some(match self.focus {
            Focus::Networks => DetailView::Health { net },
            Focus::Heads => {
                let heads = self.shown_heads();
                let row = heads.get(self.cursors.heads.get(heads.len()))?;
                DetailView::Block {
                    net,
                    hash: row.head.hash,
                    number: row.head.number,
                    cursor: ListCursor::default(),
                }
            }
            Focus::Watches => {
                let watches = self.shown_watches();
                DetailView::Watch {
                    net,
                    address: watches
                        .get(self.cursors.watches.get(watches.len()))?
                        .address,
                }
            }
            Focus::Events => {
                let events = self.shown_events();
                let log = *events.get(self.cursors.events.get(events.len()))?;
                DetailView::Event {
                    net,
                    log: Box::new(log.clone()),
                }
            }
            Focus::Contracts => return None,
        })
    }

    /// What `y` copies: the hash or address of the selected row or open view.
    pub(super) fn selected_text(&self) -> Option<String> {
        match self.views.last() {
            Some(DetailView::Block {
                net, hash, cursor, ..
            }) => {
                let n = self.networks.get(*net)?;
                match n.details.get(&DetailKey::Block(*hash)) {
                    Some(Fetched::Ready(d)) => match d.as_ref() {
                        Detail::Block(b) if !b.txs.is_empty() => {
                            Some(b.txs.get(cursor.get(b.txs.len()))?.hash.to_string())
                        }
                        _ => Some(hash.to_string()),
                    },
                    _ => Some(hash.to_string()),
                }
            }
            Some(DetailView::Receipt { tx, .. }) => Some(tx.to_string()),
            Some(DetailView::Watch { address, .. }) => Some(address.to_string()),
            Some(DetailView::Event { log, .. }) => Some(
                log.tx
                    .map_or_else(|| log.address.to_string(), |t| t.to_string()),
            ),
            Some(
                DetailView::Health { .. } | DetailView::Mempool { .. } | DetailView::Race { .. },
            ) => None,
            None => match self.focus {
                Focus::Heads => {
                    let heads = self.shown_heads();
                    Some(
                        heads
                            .get(self.cursors.heads.get(heads.len()))?
                            .head
                            .hash
                            .to_string(),
                    )
                }
                Focus::Watches => {
                    let watches = self.shown_watches();
                    Some(
                        watches
                            .get(self.cursors.watches.get(watches.len()))?
                            .address
                            .to_string(),
                    )
                }
                Focus::Events => {
                    let events = self.shown_events();
                    let e = events.get(self.cursors.events.get(events.len()))?;
                    Some(e.tx.map_or_else(|| e.address.to_string(), |t| t.to_string()))
                }
                Focus::Networks | Focus::Contracts => None,
            },
        }
    }

    /// Up and down in the view on top (a block's transactions).
    pub(super) fn view_move(&mut self, down: bool) {
        let Some(DetailView::Block {
            net, hash, cursor, ..
        }) = self.views.last_mut()
        else {
            return;
        };
        let len = match self
            .networks
            .get(*net)
            .and_then(|n| n.details.get(&DetailKey::Block(*hash)))
        {
            Some(Fetched::Ready(d)) => match d.as_ref() {
                Detail::Block(b) => b.txs.len(),
                Detail::Receipt(_) => 0,
            },
            _ => 0,
        };
        if down {
            cursor.down(1, len);
        } else {
            cursor.up(1);
        }
    }
}
