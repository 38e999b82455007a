//! Everything the UI shows about one network, and how its facts fold in.

use std::time::{Duration, Instant};

use alloy_primitives::Address;

use super::{ContractRow, EVENTS_KEPT, HEADS_KEPT, HeadRow, Ring, ViewRow, WatchRow};
use crate::event::{
    ConnState, ConnStats, EventLog, HttpHealth, Reorg, SubKind, SubStatus, TokenMeta, Update,
};

/// Alerts kept per network for the alerts popup.
const ALERTS_KEPT: usize = 100;

/// A page of a block explorer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Block(u64),
    /// A block by its hash: an orphaned one is not the block of its number.
    BlockHash(alloy_primitives::B256),
    Tx(alloy_primitives::B256),
    Address(Address),
}

/// Everything the UI shows about one network.
#[derive(Debug, Clone)]
pub struct NetworkState {
    pub name: String,
    /// The block explorer's base URL, if configured (links).
    pub explorer: Option<String>,
    /// The redacted WebSocket (or HTTP) endpoint shown in the health pane.
    pub endpoint: String,
    pub expected_chain_id: Option<u64>,
    /// The heartbeat interval: a round-trip older than two of them is stale.
    pub ping_every: Duration,
    pub chain_id: Option<u64>,
    pub conn: ConnState,
    /// Since when the connection has been live (for uptime).
    pub live_since: Option<Instant>,
    pub reconnects: u64,
    pub stats: ConnStats,
    /// Messages per second derived from the last two stats samples.
    pub msgs_per_sec: f64,
    /// When the last stats sample arrived (its rates are as old as that).
    pub stats_sampled_at: Option<Instant>,
    /// The endpoint's HTTP side.
    pub http: HttpHealth,
    /// When the last head was shown (whatever its source).
    pub last_head_at: Option<Instant>,
    /// `r` was pressed at this time and no connection state has come since.
    pub reconnect_requested: Option<Instant>,
    /// Heads taken back because the node does not have them.
    pub retracted: u64,
    /// Times the node turned out to be on a new chain.
    pub chain_resets: u64,
    pub heads: Ring<HeadRow>,
    pub subs_heads: Option<SubStatus>,
    pub subs_pending: Option<SubStatus>,
    /// Pending transactions per second in the last window, and when it arrived.
    pub pending_rate: f64,
    pub pending_at: Option<Instant>,
    pub pending_total: u64,
    pub reorgs: u64,
    pub deepest_reorg: u64,
    pub last_reorg: Option<Reorg>,
    /// Numbers whose heads a reorg orphaned: the heads that arrive for them are
    /// its replacements.
    pub(super) reorg_replacing: Vec<u64>,
    pub watches: Vec<WatchRow>,
    /// The network's tokens (from the config); symbol/name/decimals filled in once read.
    pub tokens: Vec<TokenMeta>,
    pub contracts: Vec<ContractRow>,
    /// Recent logs of watched contracts and tokens, oldest first.
    pub events: Ring<EventLog>,
    pub subs_logs: Option<SubStatus>,
    /// Alerts fired and resolved, newest last.
    pub alerts: Ring<crate::event::AlertNotice>,
    /// Rules (and their subjects) firing now.
    pub alerts_firing: Vec<(String, crate::event::Subject)>,
    /// What the last alert for the dashboard was about, and when it came: its row
    /// flashes for a while.
    pub flash: Option<(crate::event::Subject, Instant)>,
    /// The last failed delivery of each sink.
    pub sink_failures: Vec<crate::event::SinkFailure>,
    /// The watched addresses' pending transactions (`pending = "watched"`).
    pub mempool: super::Mempool,
    /// `pending = "watched"` is configured.
    pub wants_mempool: bool,
    /// Its part in its chain group's race, if it is in one.
    pub racer: super::Racer,
    /// What the detail views fetched (blocks, receipts).
    pub details: super::DetailCache,
    /// The connection's state changes and errors, oldest first.
    pub history: Ring<super::HistoryEntry>,
    /// Pending rate (per second), ping and HTTP round-trips (ms), oldest first.
    pub pending_history: Ring<f64>,
    pub ping_history: Ring<f64>,
    pub http_history: Ring<f64>,
}

/// How long the row of an alert flashes (on and off with the 1 Hz tick).
pub const FLASH: Duration = Duration::from_secs(6);

impl NetworkState {
    /// What flashes now: the subject of the dashboard's last alert, for `FLASH`
    /// after it came, on the even seconds.
    pub fn flashing(&self, now: Instant) -> Option<crate::event::Subject> {
        let (about, since) = self.flash?;
        let age = now.saturating_duration_since(since);
        (age < FLASH && age.as_secs().is_multiple_of(2)).then_some(about)
    }

    /// The explorer's page for a block, transaction or address, if an explorer is
    /// configured (Etherscan's paths, which Blockscout and most others share).
    pub fn explorer_url(&self, page: Page) -> Option<String> {
        let base = self.explorer.as_deref()?.trim_end_matches('/');
        Some(match page {
            Page::Block(n) => format!("{base}/block/{n}"),
            Page::BlockHash(h) => format!("{base}/block/{h}"),
            Page::Tx(h) => format!("{base}/tx/{h}"),
            Page::Address(a) => format!("{base}/address/{a}"),
        })
    }

    pub fn new(name: impl Into<String>, endpoint: impl Into<String>) -> Self {
        let endpoint = endpoint.into();
        Self {
            name: name.into(),
            explorer: None,
            conn: ConnState::Connecting {
                endpoint: endpoint.clone(),
            },
            endpoint,
            expected_chain_id: None,
            ping_every: Duration::from_secs(crate::config::DEFAULT_PING_INTERVAL_SECS),
            chain_id: None,
            live_since: None,
            reconnects: 0,
            stats: ConnStats::default(),
            msgs_per_sec: 0.0,
            stats_sampled_at: None,
            http: HttpHealth::Ok,
            last_head_at: None,
            reconnect_requested: None,
            retracted: 0,
            chain_resets: 0,
            heads: Ring::new(HEADS_KEPT),
            subs_heads: None,
            subs_pending: None,
            pending_rate: 0.0,
            pending_at: None,
            pending_total: 0,
            reorgs: 0,
            deepest_reorg: 0,
            last_reorg: None,
            reorg_replacing: Vec::new(),
            watches: Vec::new(),
            tokens: Vec::new(),
            contracts: Vec::new(),
            events: Ring::new(EVENTS_KEPT),
            subs_logs: None,
            alerts: Ring::new(ALERTS_KEPT),
            alerts_firing: Vec::new(),
            flash: None,
            sink_failures: Vec::new(),
            mempool: super::Mempool::default(),
            wants_mempool: false,
            racer: super::Racer::default(),
            details: super::DetailCache::default(),
            history: Ring::new(super::HISTORY_KEPT),
            pending_history: Ring::new(super::SAMPLES_KEPT),
            ping_history: Ring::new(super::SAMPLES_KEPT),
            http_history: Ring::new(super::SAMPLES_KEPT),
        }
    }

    /// Token and contract rows from the network's config (metadata and values come
    /// later as updates).
    pub fn add_config(&mut self, cfg: &crate::config::NetworkConfig) {
        self.ping_every = Duration::from_secs(cfg.ping_interval_secs.max(1));
        self.explorer = cfg.explorer.clone();
        self.wants_mempool = cfg.pending == Some(crate::config::PendingMode::Watched);
        self.racer.finality_every = cfg.finality_every;
        for t in &cfg.tokens {
            if self.token(*t).is_none() {
                self.tokens.push(TokenMeta {
                    address: *t,
                    symbol: None,
                    name: None,
                    decimals: None,
                });
            }
        }
        for c in &cfg.contracts {
            self.contracts.push(ContractRow {
                address: c.address,
                label: c.label.clone(),
                views: c
                    .views
                    .iter()
                    .map(|v| ViewRow::new(v.call.clone()))
                    .collect(),
            });
        }
    }

    /// Metadata of a token of this network, if it is one.
    pub fn token(&self, address: Address) -> Option<&TokenMeta> {
        self.tokens.iter().find(|t| t.address == address)
    }

    /// The label of a watched address, if it is one.
    pub fn watch_label(&self, address: Address) -> Option<&str> {
        self.watches
            .iter()
            .find(|w| w.address == address)
            .map(|w| w.label.as_str())
    }

    /// The label of a watched address or contract, if it is one.
    pub fn label_of(&self, address: Address) -> Option<&str> {
        self.watch_label(address).or_else(|| {
            self.contracts
                .iter()
                .find(|c| c.address == address)
                .map(|c| c.label.as_str())
        })
    }

    /// Fold one backend fact about this network in. Returns whether anything visible
    /// changed. `now` is when the update was received.
    pub(super) fn apply(&mut self, update: Update, now: Instant) -> bool {
        match update {
            Update::Connection { state, .. } => self.apply_connection(state, now),
            Update::Http { health, .. } => self.http = health,
            Update::HeadRetracted { number, hash, .. } => {
                self.retracted += 1;
                self.orphan(&[(number, hash)]);
            }
            Update::ChainReset { .. } => self.apply_chain_reset(),
            Update::HeadTxCount {
                number,
                hash,
                tx_count,
                ..
            } => {
                let row = self.heads.iter_mut().rev();
                let Some(row) = row
                    .into_iter()
                    .find(|r| r.head.number == number && r.head.hash == hash)
                else {
                    return false;
                };
                row.head.tx_count = Some(tx_count);
            }
            Update::ChainId { chain_id, .. } => self.chain_id = Some(chain_id),
            Update::Finality { finality, .. } => self.racer.finality = Some((*finality, now)),
            // The state's, not one network's (`AppState::apply_race`).
            Update::Group { .. }
            | Update::Race { .. }
            | Update::Behind { .. }
            | Update::Disputed { .. } => return false,
            Update::PendingTx { event, .. } => self.mempool.apply(*event),
            Update::Mempool {
                feed,
                tips,
                evicted,
                ..
            } => {
                let m = &mut self.mempool;
                m.feed = Some(feed);
                m.tips = tips.map(|t| (t, now));
                m.evicted = evicted;
            }
            Update::Subscription { kind, status, .. } => match kind {
                SubKind::NewHeads => self.subs_heads = Some(status),
                SubKind::NewPendingTransactions => self.subs_pending = Some(status),
                SubKind::Logs => self.subs_logs = Some(status),
            },
            Update::Head { head, .. } => {
                self.last_head_at = Some(now);
                self.apply_head(head);
            }
            Update::Reorg { reorg, .. } => self.apply_reorg(reorg),
            Update::Balance {
                address,
                wei,
                block,
                ..
            } => return self.apply_balance(address, wei, block),
            Update::Pending {
                count, window_ms, ..
            } => {
                self.pending_total += count;
                self.pending_rate = count as f64 * 1000.0 / window_ms.max(1) as f64;
                self.pending_at = Some(now);
                self.pending_history.push(self.pending_rate);
            }
            Update::Stats { stats, .. } => self.apply_stats(stats, now),
            Update::Alert { alert, .. } => {
                let key = (alert.rule.clone(), alert.about);
                match alert.state {
                    crate::event::AlertState::Fired if alert.resolves => {
                        if !self.alerts_firing.contains(&key) {
                            self.alerts_firing.push(key);
                        }
                    }
                    crate::event::AlertState::Fired => {}
                    crate::event::AlertState::Resolved => self.alerts_firing.retain(|k| *k != key),
                }
                self.alerts.push(*alert);
            }
            // The keys changed the list already. An address no longer watched has no
            // balance alert firing any more.
            Update::Watching {
                address,
                label: None,
                ..
            } => {
                let before = self.alerts_firing.len();
                self.alerts_firing.retain(|(_, s)| {
                    !matches!(s, crate::event::Subject::Balance { holder, .. } if *holder == address)
                });
                return self.alerts_firing.len() != before;
            }
            Update::Watching { .. } => return false,
            Update::Detail { key, result, .. } => self.details.put(key, result),
            Update::SinkFailed { failure, .. } => {
                match self
                    .sink_failures
                    .iter_mut()
                    .find(|f| f.sink == failure.sink)
                {
                    Some(e) => *e = *failure,
                    None => self.sink_failures.push(*failure),
                }
            }
            Update::Reconnected { count, .. } => self.reconnects = count,
            Update::Token { meta, .. } => {
                match self.tokens.iter_mut().find(|t| t.address == meta.address) {
                    Some(t) => *t = meta,
                    None => self.tokens.push(meta),
                }
            }
            Update::TokenBalance {
                holder,
                token,
                amount,
                block,
                ..
            } => return self.apply_token_balance(holder, token, amount, block),
            Update::Nonce { address, nonce, .. } => return self.apply_nonce(address, nonce),
            Update::Activity {
                address,
                block,
                block_hash,
                tx,
                ..
            } => return self.apply_activity(address, block, block_hash, tx),
            Update::Log { log, .. } => self.apply_log(*log),
            Update::View {
                contract,
                index,
                block,
                value,
                ..
            } => return self.apply_view(contract, index, block, value),
        }
        true
    }

    fn apply_connection(&mut self, state: ConnState, now: Instant) {
        match (&self.conn, &state) {
            (ConnState::Live { .. }, ConnState::Live { .. }) => {}
            (_, ConnState::Live { .. }) => self.live_since = Some(now),
            (_, ConnState::Polling { .. }) => {}
            _ => self.live_since = None,
        }
        match &state {
            ConnState::Connecting { endpoint }
            | ConnState::Live { endpoint }
            | ConnState::Polling { endpoint, .. } => self.endpoint.clone_from(endpoint),
            _ => {}
        }
        self.reconnect_requested = None;
        let what = history_line(&state);
        if self
            .history
            .back()
            .is_none_or(|h| h.error || h.what != what)
        {
            self.history.push(super::HistoryEntry {
                at: now,
                what,
                error: false,
            });
        }
        self.conn = state;
    }

    /// Counters; the message rate comes from two samples.
    fn apply_stats(&mut self, stats: ConnStats, now: Instant) {
        if let Some(at) = self.stats_sampled_at {
            let dt = now.duration_since(at).as_secs_f64();
            if dt > 0.05 {
                self.msgs_per_sec = stats.messages.saturating_sub(self.stats.messages) as f64 / dt;
            }
        }
        self.stats_sampled_at = Some(now);
        // A round-trip kept from before the connection (or HTTP) went down is no
        // sample.
        if let Some(p) = stats
            .ping_rtt
            .filter(|_| matches!(self.conn, ConnState::Live { .. }))
        {
            self.ping_history.push(p.as_secs_f64() * 1000.0);
        }
        if let Some(h) = stats
            .http_latency
            .filter(|_| matches!(self.http, crate::event::HttpHealth::Ok))
        {
            self.http_history.push(h.as_secs_f64() * 1000.0);
        }
        let live = matches!(self.conn, ConnState::Live { .. });
        let http_ok = matches!(self.http, crate::event::HttpHealth::Ok);
        self.racer.stats(&stats, live, http_ok, now);
        if stats.errors > self.stats.errors
            && let Some(e) = &stats.last_error
        {
            self.history.push(super::HistoryEntry {
                at: now,
                what: e.clone(),
                error: true,
            });
        }
        self.stats = stats;
    }
}

/// A connection state as its history says it, with its reason in full.
fn history_line(s: &ConnState) -> String {
    match s {
        ConnState::Connecting { endpoint } => format!("connecting to {endpoint}"),
        ConnState::Live { endpoint } => format!("live on {endpoint}"),
        ConnState::Stalled { reason } => format!("stalled: {reason}"),
        ConnState::Polling {
            endpoint, reason, ..
        } => format!("polling {endpoint}: {reason}"),
        ConnState::BackingOff {
            attempt, reason, ..
        } => format!("lost ({reason}); reconnect attempt {attempt}"),
        ConnState::Failed { reason, .. } => format!("failed: {reason}"),
    }
}
