//! Pure application state: `apply(Update)` and `on_action(Action)`; no I/O here.

pub mod input;
pub mod ring;

use std::time::{Duration, Instant, SystemTime};

use alloy_primitives::{Address, B256, U256};

use crate::event::{
    Action, Command, ConnState, ConnStats, EventLog, Head, HeadSource, HttpHealth, NetIdx, Reorg,
    SubKind, SubStatus, TokenMeta, Update, ViewValue,
};
pub use input::{InputField, InputState, Submit};
pub use ring::Ring;

/// How many recent heads each network keeps.
pub const HEADS_KEPT: usize = 256;
/// How many recent logs each network's event feed keeps.
pub const EVENTS_KEPT: usize = 512;
/// How many recent heads the average block time is computed over.
const BLOCK_TIME_WINDOW: usize = 32;

/// The window of pending counts and message rates.
const PENDING_WINDOW: Duration = Duration::from_secs(1);

/// A figure as current as it can be shown.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fresh<T> {
    Now(T),
    /// The last value, and how old it is.
    Stale(T, Duration),
    /// Nothing current to show.
    Unknown,
}

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

/// One row of the recent-heads list.
#[derive(Debug, Clone, PartialEq)]
pub struct HeadRow {
    pub head: Head,
    /// This head replaced an orphaned one in a reorg.
    pub reorged: bool,
}

/// One watched address on one network.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchRow {
    pub label: String,
    pub address: Address,
    /// Latest balance in wei.
    pub balance: Option<U256>,
    /// First balance seen since start (for "change since start").
    pub initial: Option<U256>,
    /// Block of the latest balance.
    pub block: Option<u64>,
    /// Block at which the balance last changed.
    pub last_change_block: Option<u64>,
    /// The balance change at `last_change_block`: (is_negative, magnitude).
    pub last_delta: Option<(bool, U256)>,
    /// Transactions sent (`eth_getTransactionCount` at the latest refresh).
    pub nonce: Option<u64>,
    /// Balances of the network's tokens, in the order first seen.
    pub tokens: Vec<TokenBalanceRow>,
    /// The latest transaction seen touching this address.
    pub last_activity: Option<Activity>,
}

/// A watched address's balance of one token (raw units; format with the token's
/// decimals from `NetworkState::token`).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenBalanceRow {
    pub token: Address,
    pub amount: U256,
    /// First amount seen since start.
    pub initial: U256,
    pub block: u64,
    pub last_change_block: Option<u64>,
}

/// A transaction that touched a watched address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    pub block: Option<u64>,
    pub block_hash: Option<B256>,
    pub tx: B256,
    pub pending: bool,
}

/// A watched contract and its views, in config order.
#[derive(Debug, Clone, PartialEq)]
pub struct ContractRow {
    pub address: Address,
    pub label: String,
    pub views: Vec<ViewRow>,
}

/// One view of a contract and what it last answered.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewRow {
    /// The signature as configured, e.g. `balanceOf(address)(uint256)`.
    pub call: String,
    /// Latest answer (`Err`: revert reason or error, for this view only).
    pub value: Option<Result<ViewValue, String>>,
    /// Block of the latest answer.
    pub block: Option<u64>,
    /// Block at which the answer last changed (highlight it when it is the latest).
    pub last_change_block: Option<u64>,
    /// The answer before the last change.
    pub previous: Option<Result<ViewValue, String>>,
}

impl ViewRow {
    pub fn new(call: impl Into<String>) -> Self {
        Self {
            call: call.into(),
            value: None,
            block: None,
            last_change_block: None,
            previous: None,
        }
    }
}

impl WatchRow {
    pub fn new(label: impl Into<String>, address: Address) -> Self {
        Self {
            label: label.into(),
            address,
            balance: None,
            initial: None,
            block: None,
            last_change_block: None,
            last_delta: None,
            nonce: None,
            tokens: Vec::new(),
            last_activity: None,
        }
    }

    /// The balance change in block `latest` (usually the network's newest head), if
    /// the balance changed in that block.
    pub fn change_in_block(&self, latest: u64) -> Option<(bool, U256)> {
        (self.last_change_block == Some(latest))
            .then_some(self.last_delta)
            .flatten()
    }

    /// This address's balance of `token`, if read yet.
    pub fn token(&self, token: Address) -> Option<&TokenBalanceRow> {
        self.tokens.iter().find(|t| t.token == token)
    }

    /// Signed change since start: (is_negative, magnitude).
    pub fn change(&self) -> Option<(bool, U256)> {
        let (now, first) = (self.balance?, self.initial?);
        Some(if now >= first {
            (false, now - first)
        } else {
            (true, first - now)
        })
    }
}

/// Everything the UI shows about one network.
#[derive(Debug, Clone)]
pub struct NetworkState {
    pub name: String,
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
    reorg_replacing: Vec<u64>,
    pub watches: Vec<WatchRow>,
    /// The network's tokens (from the config); symbol/name/decimals filled in once read.
    pub tokens: Vec<TokenMeta>,
    pub contracts: Vec<ContractRow>,
    /// Recent logs of watched contracts and tokens, oldest first.
    pub events: Ring<EventLog>,
    pub subs_logs: Option<SubStatus>,
}

impl NetworkState {
    pub fn new(name: impl Into<String>, endpoint: impl Into<String>) -> Self {
        let endpoint = endpoint.into();
        Self {
            name: name.into(),
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
        }
    }

    /// Token and contract rows from the network's config (metadata and values come
    /// later as updates).
    pub fn add_config(&mut self, cfg: &crate::config::NetworkConfig) {
        self.ping_every = Duration::from_secs(cfg.ping_interval_secs.max(1));
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

    /// Lines of the contracts pane: one per contract and one per view.
    pub fn contract_lines(&self) -> usize {
        self.contracts.iter().map(|c| 1 + c.views.len()).sum()
    }

    /// Metadata of a token of this network, if it is one.
    pub fn token(&self, address: Address) -> Option<&TokenMeta> {
        self.tokens.iter().find(|t| t.address == address)
    }

    /// The label of a watched address or contract, if it is one.
    pub fn label_of(&self, address: Address) -> Option<&str> {
        self.watches
            .iter()
            .find(|w| w.address == address)
            .map(|w| w.label.as_str())
            .or_else(|| {
                self.contracts
                    .iter()
                    .find(|c| c.address == address)
                    .map(|c| c.label.as_str())
            })
    }

    fn apply_token_balance(
        &mut self,
        holder: Address,
        token: Address,
        amount: U256,
        block: u64,
    ) -> bool {
        let mut changed = false;
        for w in self.watches.iter_mut().filter(|w| w.address == holder) {
            match w.tokens.iter_mut().find(|t| t.token == token) {
                Some(t) => {
                    if t.amount != amount {
                        t.last_change_block = Some(block);
                        t.amount = amount;
                        changed = true;
                    }
                    t.block = block;
                }
                None => {
                    w.tokens.push(TokenBalanceRow {
                        token,
                        amount,
                        initial: amount,
                        block,
                        last_change_block: None,
                    });
                    changed = true;
                }
            }
        }
        changed
    }

    fn apply_log(&mut self, log: EventLog) {
        // A retraction marks the log already shown (same block hash and index); one
        // never shown is still listed, as reverted.
        if log.removed
            && let Some(shown) = self
                .events
                .iter_mut()
                .rev()
                .find(|e| e.block_hash == log.block_hash && e.log_index == log.log_index)
        {
            // Marked already when its block was orphaned, or now.
            shown.removed = true;
            return;
        }
        self.events.push(log);
    }

    fn apply_view(
        &mut self,
        contract: Address,
        index: usize,
        block: u64,
        value: Result<ViewValue, String>,
    ) -> bool {
        let Some(row) = self
            .contracts
            .iter_mut()
            .find(|c| c.address == contract)
            .and_then(|c| c.views.get_mut(index))
        else {
            return false;
        };
        row.block = Some(block);
        if row.value.as_ref() == Some(&value) {
            return false;
        }
        if row.value.is_some() {
            row.last_change_block = Some(block);
        }
        row.previous = row.value.replace(value);
        true
    }

    /// Is the WebSocket up (so its rates and round-trips can be current)?
    pub fn socket_up(&self) -> bool {
        match &self.conn {
            ConnState::Live { .. } | ConnState::Stalled { .. } => true,
            // Polling on a live socket (heads refused or stalled); not while it is
            // down, nor without one (no WebSocket configured: never subscribed).
            ConnState::Polling { retry_at, .. } => retry_at.is_none() && self.subs_heads.is_some(),
            ConnState::Connecting { .. }
            | ConnState::BackingOff { .. }
            | ConnState::Failed { .. } => false,
        }
    }

    /// Pending transactions per second, as current as the socket allows.
    pub fn pending_now(&self, now: Instant, wall_now: SystemTime) -> Fresh<f64> {
        if !self.socket_up() {
            return Fresh::Unknown;
        }
        // A window with hashes is followed by a report (zero if none came): a rate
        // that was not followed is as old as its report. A zero is only as current
        // as the last message: a silent socket (half-open) counts nothing.
        let quiet = self
            .stats
            .last_message
            .and_then(|t| wall_now.duration_since(t).ok())
            .filter(|d| *d > 2 * PENDING_WINDOW);
        let since_report = self.pending_at.map(|at| now.saturating_duration_since(at));
        match (since_report, quiet) {
            (Some(age), _) if self.pending_rate > 0.0 && age > 2 * PENDING_WINDOW => {
                Fresh::Stale(self.pending_rate, age)
            }
            (_, Some(quiet)) if self.pending_rate == 0.0 => Fresh::Stale(0.0, quiet),
            _ => Fresh::Now(self.pending_rate),
        }
    }

    /// WebSocket messages per second (counters are reported when they change, so no
    /// report for two windows means none came).
    pub fn msgs_now(&self, now: Instant) -> Fresh<f64> {
        if !self.socket_up() {
            return Fresh::Unknown;
        }
        match self.stats_sampled_at {
            Some(at) if now.saturating_duration_since(at) <= 2 * PENDING_WINDOW => {
                Fresh::Now(self.msgs_per_sec)
            }
            _ => Fresh::Now(0.0),
        }
    }

    /// The last ping round-trip; stale once older than two heartbeats, or when the
    /// socket is down.
    pub fn ping_now(&self, wall_now: SystemTime) -> Fresh<Duration> {
        let (Some(rtt), Some(at)) = (self.stats.ping_rtt, self.stats.ping_at) else {
            return Fresh::Unknown;
        };
        let age = wall_now.duration_since(at).unwrap_or(Duration::ZERO);
        if self.socket_up() && age <= 2 * self.ping_every + PENDING_WINDOW {
            Fresh::Now(rtt)
        } else {
            Fresh::Stale(rtt, age)
        }
    }

    /// The last HTTP round-trip; HTTP is used about once a block, so it is stale
    /// once older than two block times (at least 30 s).
    pub fn http_now(&self, wall_now: SystemTime) -> Fresh<Duration> {
        let (Some(rtt), Some(at)) = (self.stats.http_latency, self.stats.http_at) else {
            return Fresh::Unknown;
        };
        let age = wall_now.duration_since(at).unwrap_or(Duration::ZERO);
        let window = self
            .avg_block_time()
            .map_or(Duration::from_secs(15), |b| {
                Duration::from_secs_f64(b.max(1.0))
            })
            .max(Duration::from_secs(15));
        if age <= 2 * window && self.http == HttpHealth::Ok {
            Fresh::Now(rtt)
        } else {
            Fresh::Stale(rtt, age)
        }
    }

    /// The connection says live but no head has come for longer than three block
    /// times (at least 15 s): how long.
    pub fn heads_late(&self, now: Instant) -> Option<Duration> {
        if !matches!(self.conn, ConnState::Live { .. }) {
            return None;
        }
        let since = now.saturating_duration_since(self.last_head_at?);
        let late = self
            .avg_block_time()
            .map_or(Duration::from_secs(60), |b| {
                Duration::from_secs_f64(b * 3.0)
            })
            .max(Duration::from_secs(15));
        (since > late).then_some(since)
    }

    pub fn latest(&self) -> Option<&Head> {
        self.heads.back().map(|r| &r.head)
    }

    /// Average seconds between the last heads, from their timestamps.
    pub fn avg_block_time(&self) -> Option<f64> {
        let n = self.heads.len().min(BLOCK_TIME_WINDOW);
        if n < 2 {
            return None;
        }
        let last = &self.heads.back()?.head;
        let first = &self.heads.iter().nth(self.heads.len() - n)?.head;
        let blocks = last.number.checked_sub(first.number)?;
        if blocks == 0 {
            return None;
        }
        Some(last.timestamp.saturating_sub(first.timestamp) as f64 / blocks as f64)
    }

    /// Gas used as a percentage of the limit for the latest head.
    pub fn gas_used_pct(&self) -> Option<f64> {
        let h = self.latest()?;
        (h.gas_limit > 0).then(|| h.gas_used as f64 * 100.0 / h.gas_limit as f64)
    }

    /// Gas-used percentages of recent heads, oldest first, for the sparkline.
    pub fn gas_history(&self, max: usize) -> Vec<u64> {
        let skip = self.heads.len().saturating_sub(max);
        self.heads
            .iter()
            .skip(skip)
            .map(|r| {
                let h = &r.head;
                h.gas_used
                    .saturating_mul(100)
                    .checked_div(h.gas_limit)
                    .unwrap_or(0)
            })
            .collect()
    }

    fn apply_head(&mut self, head: Head) {
        let reorged = self.reorg_replacing.contains(&head.number);
        self.reorg_replacing.retain(|n| *n != head.number);
        // A pushed head is the node's newest: anything shown above it is gone.
        if head.source == HeadSource::Ws {
            while self.latest().is_some_and(|l| l.number > head.number) {
                self.heads.pop_back();
            }
        }
        let row = HeadRow { head, reorged };
        let at = self
            .heads
            .iter()
            .rposition(|r| r.head.number <= row.head.number);
        match at {
            Some(i)
                if self
                    .heads
                    .get(i)
                    .is_some_and(|r| r.head.number == row.head.number) =>
            {
                let reorged = row.reorged
                    || self
                        .heads
                        .get(i)
                        .is_some_and(|r| r.head.hash != row.head.hash);
                self.heads.replace(i, HeadRow { reorged, ..row });
            }
            // Heads mostly arrive in order; a backfilled one goes where it belongs.
            Some(i) => self.heads.insert(i + 1, row),
            None if self.heads.is_empty() => {
                self.heads.push(row);
            }
            // Older than every row kept: only worth it while there is room.
            None if self.heads.len() < self.heads.capacity() => self.heads.insert(0, row),
            None => {}
        }
    }

    /// Take back heads, and everything seen in them.
    fn orphan(&mut self, orphaned: &[(u64, B256)]) {
        self.heads
            .retain(|r| !orphaned.contains(&(r.head.number, r.head.hash)));
        let hashes: Vec<B256> = orphaned.iter().map(|(_, h)| *h).collect();
        for e in self.events.iter_mut() {
            if e.block_hash.is_some_and(|h| hashes.contains(&h)) {
                e.removed = true;
            }
        }
        for w in &mut self.watches {
            if w.last_activity
                .as_ref()
                .is_some_and(|a| a.block_hash.is_some_and(|h| hashes.contains(&h)))
            {
                w.last_activity = None;
            }
        }
    }

    fn apply_reorg(&mut self, reorg: Reorg) {
        self.reorgs += 1;
        self.deepest_reorg = self.deepest_reorg.max(reorg.depth);
        self.orphan(&reorg.orphaned);
        self.reorg_replacing = reorg.orphaned.iter().map(|(n, _)| *n).collect();
        self.last_reorg = Some(reorg);
    }

    /// The node is on a new chain: nothing shown from the old one holds.
    fn apply_chain_reset(&mut self) {
        self.chain_resets += 1;
        self.heads.clear();
        self.reorg_replacing.clear();
        for e in self.events.iter_mut() {
            e.removed = true;
        }
        for w in &mut self.watches {
            *w = WatchRow::new(std::mem::take(&mut w.label), w.address);
        }
        for c in &mut self.contracts {
            for v in &mut c.views {
                *v = ViewRow::new(std::mem::take(&mut v.call));
            }
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
    /// Selected row in the heads list (0 = newest).
    pub heads_cursor: usize,
    /// Selected row in the watch list.
    pub watch_cursor: usize,
    /// Selected row in the event feed (0 = newest).
    pub events_cursor: usize,
    /// Selected line of the contracts pane (contract headers and their views).
    pub contracts_cursor: usize,
    /// The watches/events/contracts pane shown where they share one place (short
    /// terminals): the last of them that had focus.
    pub side_tab: Focus,
    pub should_quit: bool,
    /// The open "add watch address" input, if any.
    pub input: Option<InputState>,
    /// Monotonic and wall clocks as of the last tick; drawing reads these, never the OS.
    pub now: Instant,
    pub wall_now: SystemTime,
}

impl AppState {
    pub fn new(networks: Vec<NetworkState>) -> Self {
        Self {
            networks,
            selected: 0,
            focus: Focus::Networks,
            show_help: false,
            heads_cursor: 0,
            watch_cursor: 0,
            events_cursor: 0,
            contracts_cursor: 0,
            side_tab: Focus::Watches,
            should_quit: false,
            input: None,
            now: Instant::now(),
            wall_now: SystemTime::now(),
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
        let Some(net) = self.networks.get_mut(update.net()) else {
            return false;
        };
        match update {
            Update::Connection { state, .. } => {
                match (&net.conn, &state) {
                    (ConnState::Live { .. }, ConnState::Live { .. }) => {}
                    (_, ConnState::Live { .. }) => net.live_since = Some(now),
                    (_, ConnState::Polling { .. }) => {}
                    _ => net.live_since = None,
                }
                match &state {
                    ConnState::Connecting { endpoint }
                    | ConnState::Live { endpoint }
                    | ConnState::Polling { endpoint, .. } => net.endpoint.clone_from(endpoint),
                    _ => {}
                }
                net.reconnect_requested = None;
                net.conn = state;
            }
            Update::Http { health, .. } => net.http = health,
            Update::HeadRetracted { number, hash, .. } => {
                net.retracted += 1;
                net.orphan(&[(number, hash)]);
            }
            Update::ChainReset { .. } => net.apply_chain_reset(),
            Update::HeadTxCount {
                number,
                hash,
                tx_count,
                ..
            } => {
                let Some(row) = net
                    .heads
                    .iter_mut()
                    .rev()
                    .find(|r| r.head.number == number && r.head.hash == hash)
                else {
                    return false;
                };
                row.head.tx_count = Some(tx_count);
            }
            Update::ChainId { chain_id, .. } => net.chain_id = Some(chain_id),
            Update::Subscription { kind, status, .. } => match kind {
                SubKind::NewHeads => net.subs_heads = Some(status),
                SubKind::NewPendingTransactions => net.subs_pending = Some(status),
                SubKind::Logs => net.subs_logs = Some(status),
            },
            Update::Head { head, .. } => {
                net.last_head_at = Some(now);
                net.apply_head(head);
            }
            Update::Reorg { reorg, .. } => net.apply_reorg(reorg),
            Update::Balance {
                address,
                wei,
                block,
                ..
            } => {
                let mut changed = false;
                for w in net.watches.iter_mut().filter(|w| w.address == address) {
                    if w.initial.is_none() {
                        w.initial = Some(wei);
                    }
                    if let Some(old) = w.balance.filter(|b| *b != wei) {
                        w.last_change_block = Some(block);
                        w.last_delta = Some(if wei >= old {
                            (false, wei - old)
                        } else {
                            (true, old - wei)
                        });
                    }
                    changed |= w.balance != Some(wei);
                    w.balance = Some(wei);
                    w.block = Some(block);
                }
                return changed;
            }
            Update::Pending {
                count, window_ms, ..
            } => {
                net.pending_total += count;
                net.pending_rate = count as f64 * 1000.0 / window_ms.max(1) as f64;
                net.pending_at = Some(now);
            }
            Update::Stats { stats, .. } => {
                if let Some(at) = net.stats_sampled_at {
                    let dt = now.duration_since(at).as_secs_f64();
                    if dt > 0.05 {
                        net.msgs_per_sec =
                            stats.messages.saturating_sub(net.stats.messages) as f64 / dt;
                    }
                }
                net.stats_sampled_at = Some(now);
                net.stats = stats;
            }
            Update::Reconnected { count, .. } => net.reconnects = count,
            Update::Token { meta, .. } => {
                match net.tokens.iter_mut().find(|t| t.address == meta.address) {
                    Some(t) => *t = meta,
                    None => net.tokens.push(meta),
                }
            }
            Update::TokenBalance {
                holder,
                token,
                amount,
                block,
                ..
            } => return net.apply_token_balance(holder, token, amount, block),
            Update::Nonce { address, nonce, .. } => {
                let mut changed = false;
                for w in net.watches.iter_mut().filter(|w| w.address == address) {
                    changed |= w.nonce.replace(nonce) != Some(nonce);
                }
                return changed;
            }
            Update::Activity {
                address,
                block,
                block_hash,
                tx,
                pending,
                ..
            } => {
                let mut changed = false;
                for w in net.watches.iter_mut().filter(|w| w.address == address) {
                    // A block's confirmation replaces the pending sighting, never the
                    // reverse; an older block never replaces a newer one.
                    let older = match (&w.last_activity, block) {
                        (Some(a), Some(b)) => a.block.is_some_and(|x| x > b),
                        (Some(a), None) => a.block.is_some() || a.tx == tx,
                        (None, _) => false,
                    };
                    if !older {
                        w.last_activity = Some(Activity {
                            block,
                            block_hash,
                            tx,
                            pending,
                        });
                        changed = true;
                    }
                }
                return changed;
            }
            Update::Log { log, .. } => net.apply_log(*log),
            Update::View {
                contract,
                index,
                block,
                value,
                ..
            } => return net.apply_view(contract, index, block, value),
        }
        true
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
        match action {
            Action::Quit => self.should_quit = true,
            // Handled by the loop, which owns the terminal.
            Action::Suspend => {}
            Action::ToggleHelp => self.show_help = !self.show_help,
            Action::Escape => self.show_help = false,
            Action::FocusNext => self.set_focus(self.focus.next()),
            Action::FocusPrev => self.set_focus(self.focus.prev()),
            Action::SelectNetwork(i) if i < n => self.select(i),
            Action::SelectNetwork(_) => {}
            Action::Left if n > 0 => self.select((self.selected + n - 1) % n),
            Action::Right if n > 0 => self.select((self.selected + 1) % n),
            Action::Left | Action::Right => {}
            Action::Up => match self.focus {
                Focus::Networks => {}
                Focus::Heads => self.heads_cursor = self.heads_cursor.saturating_sub(1),
                Focus::Watches => self.watch_cursor = self.watch_cursor.saturating_sub(1),
                Focus::Events => self.events_cursor = self.events_cursor.saturating_sub(1),
                Focus::Contracts => {
                    self.contracts_cursor = self.contracts_cursor.saturating_sub(1);
                }
            },
            Action::Down => {
                let net = self.networks.get(self.selected);
                match self.focus {
                    Focus::Networks => self.focus = Focus::Heads,
                    Focus::Heads => {
                        let len = net.map_or(0, |n| n.heads.len());
                        self.heads_cursor = (self.heads_cursor + 1).min(len.saturating_sub(1));
                    }
                    Focus::Watches => {
                        let len = net.map_or(0, |n| n.watches.len());
                        self.watch_cursor = (self.watch_cursor + 1).min(len.saturating_sub(1));
                    }
                    Focus::Events => {
                        let len = net.map_or(0, |n| n.events.len());
                        self.events_cursor = (self.events_cursor + 1).min(len.saturating_sub(1));
                    }
                    Focus::Contracts => {
                        let len = net.map_or(0, NetworkState::contract_lines);
                        self.contracts_cursor =
                            (self.contracts_cursor + 1).min(len.saturating_sub(1));
                    }
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
                let address = self
                    .selected_network()?
                    .watches
                    .get(self.watch_cursor)?
                    .address;
                for net in &mut self.networks {
                    net.watches.retain(|w| w.address != address);
                }
                let len = self.selected_network().map_or(0, |n| n.watches.len());
                self.watch_cursor = self.watch_cursor.min(len.saturating_sub(1));
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
            self.heads_cursor = 0;
            self.watch_cursor = 0;
            self.events_cursor = 0;
            self.contracts_cursor = 0;
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
mod tests {
    use super::*;
    use crate::event::HeadSource;

    impl AppState {
        fn apply_now(&mut self, update: Update) -> bool {
            self.apply(update, Instant::now())
        }
    }

    fn head(n: u64, fork: u8) -> Head {
        let h = |n: u64, f: u8| {
            let mut b = [0u8; 32];
            b[..8].copy_from_slice(&n.to_be_bytes());
            b[31] = f;
            B256::from(b)
        };
        Head {
            number: n,
            hash: h(n, fork),
            parent_hash: h(n.saturating_sub(1), 0),
            timestamp: 1_000 + n * 12,
            gas_used: 15_000_000,
            gas_limit: 30_000_000,
            base_fee: Some(U256::from(7_000_000_000u64)),
            tx_count: Some(3),
            source: HeadSource::Ws,
        }
    }

    fn state() -> AppState {
        let mut n = NetworkState::new("a", "ws://x");
        n.watches.push(WatchRow::new("w", Address::repeat_byte(1)));
        AppState::new(vec![n, NetworkState::new("b", "ws://y")])
    }

    #[test]
    fn heads_fold_in_order_with_derived_figures() {
        let mut s = state();
        for n in 1..=5 {
            assert!(s.apply_now(Update::Head {
                net: 0,
                head: head(n, 0)
            }));
        }
        let net = &s.networks[0];
        assert_eq!(net.latest().map(|h| h.number), Some(5));
        assert_eq!(net.avg_block_time(), Some(12.0));
        assert_eq!(net.gas_used_pct(), Some(50.0));
        assert_eq!(net.gas_history(3), vec![50, 50, 50]);
        assert!(s.networks[1].heads.is_empty());
        // An update for an unknown network changes nothing.
        assert!(!s.apply_now(Update::Head {
            net: 9,
            head: head(6, 0)
        }));
    }

    #[test]
    fn reorg_replaces_orphans_and_marks_replacements() {
        let mut s = state();
        for n in 1..=10 {
            s.apply_now(Update::Head {
                net: 0,
                head: head(n, 0),
            });
        }
        let new_tip = head(10, 1);
        s.apply_now(Update::Reorg {
            net: 0,
            reorg: Reorg {
                depth: 2,
                from_number: 9,
                old_hash: head(10, 0).hash,
                new_hash: new_tip.hash,
                orphaned: vec![(9, head(9, 0).hash), (10, head(10, 0).hash)],
                deeper_than_tracked: false,
            },
        });
        assert_eq!(s.networks[0].latest().map(|h| h.number), Some(8));
        s.apply_now(Update::Head {
            net: 0,
            head: head(9, 1),
        });
        s.apply_now(Update::Head {
            net: 0,
            head: new_tip,
        });
        s.apply_now(Update::Head {
            net: 0,
            head: head(11, 0),
        });
        let net = &s.networks[0];
        assert_eq!((net.reorgs, net.deepest_reorg), (1, 2));
        let marks: Vec<(u64, bool)> = net
            .heads
            .iter()
            .rev()
            .take(4)
            .map(|r| (r.head.number, r.reorged))
            .collect();
        assert_eq!(marks, vec![(11, false), (10, true), (9, true), (8, false)]);
    }

    #[test]
    fn orphaned_blocks_take_their_logs_and_activity_with_them() {
        let mut s = state();
        for n in 1..=6 {
            s.apply_now(Update::Head {
                net: 0,
                head: head(n, 0),
            });
        }
        let orphan = head(5, 0);
        let mut l = log(0, false);
        l.block = Some(5);
        l.block_hash = Some(orphan.hash);
        s.apply_now(Update::Log {
            net: 0,
            log: Box::new(l),
        });
        s.apply_now(Update::Activity {
            net: 0,
            address: Address::repeat_byte(1),
            block: Some(5),
            block_hash: Some(orphan.hash),
            tx: B256::repeat_byte(3),
            pending: false,
        });
        assert!(s.networks[0].watches[0].last_activity.is_some());
        s.apply_now(Update::Reorg {
            net: 0,
            reorg: Reorg {
                depth: 2,
                from_number: 5,
                old_hash: head(6, 0).hash,
                new_hash: head(5, 1).hash,
                orphaned: vec![(5, orphan.hash), (6, head(6, 0).hash)],
                deeper_than_tracked: false,
            },
        });
        let net = &s.networks[0];
        assert!(net.events.iter().all(|e| e.removed), "the feed strikes it");
        assert!(net.watches[0].last_activity.is_none(), "activity cleared");
        assert_eq!(net.latest().map(|h| h.number), Some(4));
    }

    #[test]
    fn backfilled_heads_go_in_order_and_retracted_ones_leave() {
        let mut s = state();
        for n in [1, 2, 6] {
            s.apply_now(Update::Head {
                net: 0,
                head: head(n, 0),
            });
        }
        for n in 3..=5 {
            let mut h = head(n, 0);
            h.source = HeadSource::Backfill;
            s.apply_now(Update::Head { net: 0, head: h });
        }
        let numbers = |s: &AppState| {
            s.networks[0]
                .heads
                .iter()
                .map(|r| r.head.number)
                .collect::<Vec<_>>()
        };
        assert_eq!(numbers(&s), vec![1, 2, 3, 4, 5, 6]);
        let fake = head(7, 9);
        s.apply_now(Update::Head {
            net: 0,
            head: fake.clone(),
        });
        s.apply_now(Update::HeadRetracted {
            net: 0,
            number: 7,
            hash: fake.hash,
        });
        assert_eq!(numbers(&s), vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(s.networks[0].retracted, 1);
        let mut geth = head(7, 0);
        geth.tx_count = None;
        s.apply_now(Update::Head {
            net: 0,
            head: geth.clone(),
        });
        assert!(s.apply_now(Update::HeadTxCount {
            net: 0,
            number: 7,
            hash: geth.hash,
            tx_count: 12
        }));
        assert_eq!(s.networks[0].latest().and_then(|h| h.tx_count), Some(12));
        s.apply_now(Update::ChainReset {
            net: 0,
            genesis: B256::repeat_byte(1),
            previous: B256::repeat_byte(2),
        });
        assert!(s.networks[0].heads.is_empty());
        assert_eq!(s.networks[0].chain_resets, 1);
    }

    #[test]
    fn balances_track_start_and_change() {
        let mut s = state();
        let a = Address::repeat_byte(1);
        let b = |wei: u64, block| Update::Balance {
            net: 0,
            address: a,
            wei: U256::from(wei),
            block,
        };
        assert!(s.apply_now(b(100, 1)));
        assert!(
            !s.apply_now(b(100, 2)),
            "same balance is not a visible change"
        );
        assert!(s.apply_now(b(40, 3)));
        let w = &s.networks[0].watches[0];
        assert_eq!(w.change(), Some((true, U256::from(60))));
        assert_eq!(w.last_change_block, Some(3));
        assert!(!s.apply_now(Update::Balance {
            net: 0,
            address: Address::ZERO,
            wei: U256::from(1),
            block: 3
        }));
    }

    #[test]
    fn connection_states_track_uptime_and_reconnects() {
        let mut s = state();
        s.apply_now(Update::Connection {
            net: 0,
            state: ConnState::Live {
                endpoint: "ws://z".into(),
            },
        });
        assert!(s.networks[0].live_since.is_some());
        assert_eq!(s.networks[0].endpoint, "ws://z");
        let until = Instant::now() + Duration::from_secs(3);
        s.apply_now(Update::Connection {
            net: 0,
            state: ConnState::BackingOff {
                until,
                attempt: 2,
                reason: "closed".into(),
            },
        });
        assert!(s.networks[0].live_since.is_none());
        assert_eq!(s.networks[0].conn.name(), "reconnecting");
        s.apply_now(Update::Reconnected { net: 0, count: 1 });
        assert_eq!(s.networks[0].reconnects, 1);
        s.apply_now(Update::Subscription {
            net: 0,
            kind: SubKind::NewPendingTransactions,
            status: SubStatus::Unsupported("-32602 nope".into()),
        });
        assert!(matches!(
            s.networks[0].subs_pending,
            Some(SubStatus::Unsupported(_))
        ));
        s.apply_now(Update::Pending {
            net: 0,
            count: 50,
            window_ms: 500,
        });
        assert_eq!(s.networks[0].pending_rate, 100.0);
        s.apply_now(Update::ChainId {
            net: 0,
            chain_id: 5,
        });
        assert_eq!(s.networks[0].chain_id, Some(5));
    }

    #[test]
    fn actions_move_focus_select_and_request_reconnects() {
        let mut s = state();
        assert_eq!(s.on_action(Action::Right), None);
        assert_eq!(s.selected, 1);
        s.on_action(Action::Right);
        assert_eq!(s.selected, 0, "wraps around");
        s.on_action(Action::SelectNetwork(1));
        assert_eq!(s.selected, 1);
        s.on_action(Action::SelectNetwork(7));
        assert_eq!(s.selected, 1, "out of range is ignored");
        assert_eq!(
            s.on_action(Action::Reconnect),
            Some((1, Command::Reconnect))
        );
        s.on_action(Action::FocusNext);
        assert_eq!(s.focus, Focus::Heads);
        s.on_action(Action::FocusPrev);
        s.on_action(Action::FocusPrev);
        assert_eq!(s.focus, Focus::Contracts);
        assert_eq!(
            s.side_tab,
            Focus::Contracts,
            "the shared place follows focus"
        );
        s.on_action(Action::FocusPrev);
        assert_eq!(s.focus, Focus::Events);
        s.on_action(Action::FocusPrev);
        s.on_action(Action::FocusPrev);
        assert_eq!(s.focus, Focus::Heads);
        assert_eq!(s.side_tab, Focus::Watches, "heads keep the last side pane");
        s.on_action(Action::ToggleHelp);
        assert!(s.show_help);
        s.on_action(Action::Escape);
        assert!(!s.show_help);
        s.on_action(Action::Quit);
        assert!(s.should_quit);
    }

    fn token_addr() -> Address {
        Address::repeat_byte(0xee)
    }

    fn log(index: u64, removed: bool) -> EventLog {
        EventLog {
            address: token_addr(),
            source: Some("TT".into()),
            event: Some("Transfer".into()),
            args: Vec::new(),
            topics: Vec::new(),
            data: Default::default(),
            block: Some(5),
            block_hash: Some(B256::repeat_byte(5)),
            tx: Some(B256::repeat_byte(9)),
            log_index: Some(index),
            removed,
        }
    }

    #[test]
    fn balance_change_in_the_last_block() {
        let mut s = state();
        let a = Address::repeat_byte(1);
        for (wei, block) in [(100u64, 1), (130, 2), (130, 3)] {
            s.apply_now(Update::Balance {
                net: 0,
                address: a,
                wei: U256::from(wei),
                block,
            });
        }
        let w = &s.networks[0].watches[0];
        assert_eq!(w.change_in_block(2), Some((false, U256::from(30))));
        assert_eq!(w.change_in_block(3), None, "no change in block 3");
    }

    #[test]
    fn token_metadata_and_balances_fold_into_rows() {
        let mut s = state();
        let a = Address::repeat_byte(1);
        let meta = TokenMeta {
            address: token_addr(),
            symbol: Some("\\x1b[31mEVIL".into()),
            name: None,
            decimals: Some(6),
        };
        assert!(s.apply_now(Update::Token {
            net: 0,
            meta: meta.clone()
        }));
        assert_eq!(s.networks[0].token(token_addr()), Some(&meta));
        let tb = |amount: u64, block| Update::TokenBalance {
            net: 0,
            holder: a,
            token: token_addr(),
            amount: U256::from(amount),
            block,
        };
        assert!(s.apply_now(tb(5, 1)));
        assert!(
            !s.apply_now(tb(5, 2)),
            "same amount is not a visible change"
        );
        assert!(s.apply_now(tb(7, 3)));
        let row = s.networks[0].watches[0].token(token_addr()).expect("row");
        assert_eq!(
            (row.amount, row.initial, row.block, row.last_change_block),
            (U256::from(7), U256::from(5), 3, Some(3))
        );
        assert_eq!(crate::fmt::token_amount(row.amount, 6), "0.000007");
        assert_eq!(crate::fmt::token_amount(U256::from(1_500_000u64), 6), "1.5");
        assert_eq!(crate::fmt::token_amount(U256::from(2_000_000u64), 6), "2");
        assert_eq!(crate::fmt::token_amount(U256::from(42u64), 0), "42");
        assert_eq!(
            crate::fmt::token_amount(U256::from(49_875_930_521_091_811_414_392u128), 18),
            "49,875.930521"
        );
        assert_eq!(
            crate::fmt::token_amount(U256::from(1_234_567_000u64), 0),
            "1,234,567,000"
        );
    }

    #[test]
    fn hostile_token_symbol_stays_escaped_in_state() {
        // The backend escapes chain text (see network::watch::token_text); the state
        // keeps it as it came, so nothing interpretable reaches drawing.
        let mut s = state();
        let symbol = crate::text::sanitize("\u{1b}[31mEVIL\u{1b}]0;owned\u{7}").into_owned();
        s.apply_now(Update::Token {
            net: 0,
            meta: TokenMeta {
                address: token_addr(),
                symbol: Some(symbol),
                name: None,
                decimals: None,
            },
        });
        let shown = s.networks[0]
            .token(token_addr())
            .and_then(|t| t.symbol.clone())
            .expect("symbol");
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
        assert_eq!(shown, "\\x1b[31mEVIL\\x1b]0;owned\\x07");
    }

    #[test]
    fn nonce_and_activity() {
        let mut s = state();
        let a = Address::repeat_byte(1);
        assert!(s.apply_now(Update::Nonce {
            net: 0,
            address: a,
            nonce: 3,
            block: 1
        }));
        assert!(!s.apply_now(Update::Nonce {
            net: 0,
            address: a,
            nonce: 3,
            block: 2
        }));
        assert_eq!(s.networks[0].watches[0].nonce, Some(3));
        let act = |block, tx: u8| Update::Activity {
            net: 0,
            address: a,
            block,
            tx: B256::repeat_byte(tx),
            block_hash: None,
            pending: block.is_none(),
        };
        assert!(s.apply_now(act(Some(10), 1)));
        assert!(
            !s.apply_now(act(Some(9), 2)),
            "older blocks never replace newer"
        );
        assert!(s.apply_now(act(Some(11), 3)));
        let last = s.networks[0].watches[0]
            .last_activity
            .clone()
            .expect("activity");
        assert_eq!((last.block, last.tx), (Some(11), B256::repeat_byte(3)));
    }

    #[test]
    fn event_and_contract_cursors_stay_in_bounds_and_reset_on_select() {
        let mut s = state();
        for i in 0..3 {
            s.apply_now(Update::Log {
                net: 0,
                log: Box::new(log(i, false)),
            });
        }
        s.networks[0].contracts.push(ContractRow {
            address: token_addr(),
            label: "pool".into(),
            views: vec![ViewRow::new("f()(uint256)"), ViewRow::new("g()(uint256)")],
        });
        assert_eq!(s.networks[0].contract_lines(), 3);
        let events: fn(&AppState) -> usize = |s| s.events_cursor;
        let contracts: fn(&AppState) -> usize = |s| s.contracts_cursor;
        for (focus, cursor) in [(Focus::Events, events), (Focus::Contracts, contracts)] {
            s.focus = focus;
            for _ in 0..5 {
                s.on_action(Action::Down);
            }
            assert_eq!(cursor(&s), 2, "{focus:?} stops at the last row");
            s.on_action(Action::Up);
            assert_eq!(cursor(&s), 1);
        }
        s.on_action(Action::SelectNetwork(1));
        assert_eq!((s.events_cursor, s.contracts_cursor), (0, 0));
    }

    #[test]
    fn event_feed_is_bounded_and_retractions_mark_shown_logs() {
        let mut s = state();
        s.apply_now(Update::Log {
            net: 0,
            log: Box::new(log(0, false)),
        });
        s.apply_now(Update::Log {
            net: 0,
            log: Box::new(log(0, true)),
        });
        s.apply_now(Update::Log {
            net: 0,
            log: Box::new(log(1, true)),
        });
        let feed: Vec<(Option<u64>, bool)> = s.networks[0]
            .events
            .iter()
            .map(|e| (e.log_index, e.removed))
            .collect();
        assert_eq!(
            feed,
            vec![(Some(0), true), (Some(1), true)],
            "the shown log is marked reverted; an unseen retraction is listed as reverted"
        );
        for i in 0..(EVENTS_KEPT as u64 + 5) {
            s.apply_now(Update::Log {
                net: 0,
                log: Box::new(log(i + 10, false)),
            });
        }
        assert_eq!(s.networks[0].events.len(), EVENTS_KEPT);
        s.apply_now(Update::Subscription {
            net: 0,
            kind: SubKind::Logs,
            status: SubStatus::Unsupported("-32602 nope".into()),
        });
        assert!(matches!(
            s.networks[0].subs_logs,
            Some(SubStatus::Unsupported(_))
        ));
    }

    #[test]
    fn views_track_last_change_and_errors_per_view() {
        let mut cfg = crate::config::NetworkConfig::new("a", None, None);
        cfg.tokens = vec![token_addr()];
        let f = alloy_json_abi::Function::parse("f()(uint256)").expect("sig");
        let view = |call: &str| crate::config::ViewConfig {
            call: call.into(),
            function: f.clone(),
            calldata: Default::default(),
            every: 1,
        };
        cfg.contracts = vec![crate::config::ContractConfig {
            address: token_addr(),
            label: "pool".into(),
            events: Vec::new(),
            views: vec![view("f()(uint256)"), view("g()(uint256)")],
        }];
        let mut s = state();
        s.networks[0].add_config(&cfg);
        assert_eq!(s.networks[0].tokens.len(), 1);
        assert_eq!(s.networks[0].label_of(token_addr()), Some("pool"));
        let v = |index, block, value: Result<&str, &str>| Update::View {
            net: 0,
            contract: token_addr(),
            index,
            block,
            value: value
                .map(|d| ViewValue {
                    display: d.into(),
                    json: serde_json::json!(d),
                })
                .map_err(str::to_string),
        };
        assert!(s.apply_now(v(0, 1, Ok("1"))));
        assert!(s.apply_now(v(1, 1, Err("execution reverted: no"))));
        assert!(!s.apply_now(v(0, 2, Ok("1"))), "same answer is no change");
        assert!(s.apply_now(v(0, 3, Ok("2"))));
        assert!(!s.apply_now(v(7, 3, Ok("2"))), "unknown view index");
        let rows = &s.networks[0].contracts[0].views;
        assert_eq!(rows[0].last_change_block, Some(3));
        assert_eq!(rows[0].block, Some(3));
        assert_eq!(
            rows[0]
                .previous
                .as_ref()
                .and_then(|p| p.as_ref().ok())
                .map(|p| p.display.as_str()),
            Some("1")
        );
        assert!(matches!(&rows[1].value, Some(Err(e)) if e.contains("reverted")));
    }

    #[test]
    fn add_and_remove_watch_through_the_input() {
        let mut s = state();
        assert_eq!(s.on_action(Action::AddWatch), None);
        assert!(s.input.is_some());
        for c in "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266".chars() {
            s.on_action(Action::InputChar(c));
        }
        assert_eq!(s.on_action(Action::InputSubmit), None, "to the label field");
        for c in "dev".chars() {
            s.on_action(Action::InputChar(c));
        }
        s.on_action(Action::InputChar('x'));
        s.on_action(Action::InputBackspace);
        let a: Address = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
            .parse()
            .expect("addr");
        assert_eq!(
            s.on_action(Action::InputSubmit),
            Some((
                0,
                Command::AddWatch {
                    address: a,
                    label: "dev".into()
                }
            ))
        );
        assert!(s.input.is_none());
        assert!(
            s.networks
                .iter()
                .all(|n| n.watches.iter().any(|w| w.address == a))
        );

        // Escape closes the input without adding anything.
        s.on_action(Action::AddWatch);
        s.on_action(Action::InputChar('0'));
        assert_eq!(s.on_action(Action::Escape), None);
        assert!(s.input.is_none());

        // `d` on the watch list removes the selected address everywhere.
        s.on_action(Action::SelectNetwork(1));
        s.focus = Focus::Watches;
        assert_eq!(
            s.on_action(Action::RemoveWatch),
            Some((1, Command::RemoveWatch { address: a }))
        );
        assert!(
            s.networks
                .iter()
                .all(|n| n.watches.iter().all(|w| w.address != a))
        );
        assert_eq!(
            s.on_action(Action::RemoveWatch),
            None,
            "nothing left to remove"
        );
    }
}
