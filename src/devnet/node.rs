//! The node's state, shared by the producers, the HTTP and WebSocket halves and the
//! handle (`handle.rs`): the chain, the fault modes, the open connections and the
//! counters.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{broadcast, mpsc};

use super::DevnetConfig;
use super::chain::{Chain, ChainEvent, Tx};
use super::fault::{LogsRangeStyle, Malformed};

/// Events a slow subscriber may fall behind before it silently skips some, as a node
/// drops notifications for a client that does not keep up.
const EVENT_BACKLOG: usize = 4096;

pub(super) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Modes set by faults that outlive a single event.
#[derive(Debug, Default)]
pub(crate) struct Modes {
    /// (Retry-After seconds, requests left).
    pub rate_limit: Option<(u64, u32)>,
    /// (backoff seconds, calls left).
    pub limit_exceeded: Option<(u64, u32)>,
    pub refused: HashSet<String>,
    pub heads_stopped_until: Option<Instant>,
    pub logs_range: Option<LogsRangeStyle>,
    /// HTTP requests go unanswered until then.
    pub http_hang_until: Option<Instant>,
    /// (status, requests left) answered instead of the JSON-RPC reply.
    pub http_status: Option<(u16, u32)>,
}

#[derive(Debug)]
pub(super) enum Ctl {
    Close(u16, &'static str),
    Reset,
    HalfOpen(Duration),
    Malformed(Malformed),
    /// A `newHeads` notification with this header (for a block that does not exist).
    Invented(Arc<str>),
}

pub(super) struct Conn {
    pub ws: bool,
    pub ctl: mpsc::UnboundedSender<Ctl>,
}

pub(crate) struct PendingBatch {
    pub base_fee: u64,
    pub txs: Vec<Tx>,
}

pub(crate) struct Shared {
    pub chain: Mutex<Chain>,
    pub chain_id: AtomicU64,
    pub modes: Mutex<Modes>,
    pub method_counts: Mutex<HashMap<String, u64>>,
    pub http_requests: AtomicU64,
    pub(super) conns: Mutex<HashMap<u64, Conn>>,
    next_conn: AtomicU64,
    pub(super) heads_tx: broadcast::Sender<Arc<ChainEvent>>,
    pub(super) pending_tx: broadcast::Sender<Arc<PendingBatch>>,
    pub(super) down_tx: mpsc::UnboundedSender<Duration>,
    /// From the config: how a fresh chain is made, and how heads are pushed.
    pub(super) cfg: DevnetConfig,
    pub(super) fresh_chains: AtomicU64,
}

impl Shared {
    /// A node at its first block; `down_tx` reaches the accept loop (outages).
    pub(super) fn new(cfg: DevnetConfig, down_tx: mpsc::UnboundedSender<Duration>) -> Self {
        let (heads_tx, _) = broadcast::channel(EVENT_BACKLOG);
        let (pending_tx, _) = broadcast::channel(EVENT_BACKLOG);
        Shared {
            chain: Mutex::new(Chain::new(
                cfg.seed,
                cfg.start_block,
                cfg.reorg_probability,
                unix_now(),
            )),
            chain_id: AtomicU64::new(cfg.chain_id),
            modes: Mutex::new(Modes::default()),
            method_counts: Mutex::new(HashMap::new()),
            http_requests: AtomicU64::new(0),
            conns: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(0),
            heads_tx,
            pending_tx,
            down_tx,
            cfg,
            fresh_chains: AtomicU64::new(0),
        }
    }

    pub(super) fn register(&self) -> (u64, mpsc::UnboundedReceiver<Ctl>) {
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        if let Ok(mut conns) = self.conns.lock() {
            conns.insert(id, Conn { ws: false, ctl: tx });
        }
        (id, rx)
    }

    pub(super) fn send_ctl(&self, ws_only: bool, make: impl Fn() -> Ctl) {
        if let Ok(conns) = self.conns.lock() {
            for c in conns.values().filter(|c| c.ws || !ws_only) {
                let _ = c.ctl.send(make());
            }
        }
    }

    pub(super) fn take_http_status(&self) -> Option<u16> {
        let mut modes = self.modes.lock().ok()?;
        let (status, left) = modes.http_status.as_mut()?;
        let status = *status;
        *left = left.saturating_sub(1);
        if *left == 0 {
            modes.http_status = None;
        }
        Some(status)
    }

    pub(super) fn hang_until(&self) -> Option<Instant> {
        self.modes
            .lock()
            .ok()?
            .http_hang_until
            .filter(|t| *t > Instant::now())
    }

    pub(super) fn take_rate_limit(&self) -> Option<u64> {
        let mut modes = self.modes.lock().ok()?;
        let (secs, left) = modes.rate_limit.as_mut()?;
        let secs = *secs;
        *left = left.saturating_sub(1);
        if *left == 0 {
            modes.rate_limit = None;
        }
        Some(secs)
    }
}

/// Removes a connection from the registry however its task ends.
pub(super) struct ConnGuard<'a> {
    pub shared: &'a Shared,
    pub id: u64,
}

impl Drop for ConnGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut conns) = self.shared.conns.lock() {
            conns.remove(&self.id);
        }
    }
}
