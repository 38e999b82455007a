//! One supervisor per network: owns the network's single WebSocket (subscriptions,
//! heartbeat, reconnect with backoff), a chain task (ordering, backfill, reorgs over
//! HTTP) and a watch task (balances in one batch per head). Everything it learns goes
//! out as `Update`s on the shared bounded channel.

pub mod backoff;
pub mod chain;
mod heads;
mod logs;
mod session;
#[cfg(test)]
mod test_server;
mod watch;
pub mod watchdog;

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use alloy_primitives::Address;
use tokio::sync::mpsc;

use crate::config::NetworkConfig;
use crate::event::{Command, ConnStats, HttpHealth, NetIdx, Update};
use crate::rpc::http::{HttpClient, HttpMeter, Lane};
use crate::text::{Redactor, sanitize};
pub(crate) use heads::ChainInput;
pub use heads::{BACKFILL_CHUNK, HOLD};

/// Capacity of the channel from the WebSocket reader to the chain task.
const CHAIN_QUEUE: usize = 256;

/// Counters and the last error of one network, shared by its tasks.
#[derive(Debug)]
pub(crate) struct Shared {
    name: String,
    redactor: Arc<Redactor>,
    pub messages: AtomicU64,
    pub bad_frames: AtomicU64,
    pub errors: AtomicU64,
    pub last_message_ms: AtomicU64,
    pub ping_rtt_us: AtomicU64,
    /// When the last pong arrived (unix ms, 0 = never).
    pub ping_at_ms: AtomicU64,
    pub pending_coalesced: AtomicU64,
    /// Smoothed block time in milliseconds (0 = unknown), from head timestamps.
    pub block_time_ms: AtomicU64,
    last_error: Mutex<Option<(String, SystemTime)>>,
    http: Option<Arc<HttpMeter>>,
    /// Woken on every error, so the reporter shows it at once.
    changed: tokio::sync::Notify,
}

impl Shared {
    fn new(name: String, redactor: Arc<Redactor>, http: Option<Arc<HttpMeter>>) -> Self {
        Self {
            name,
            redactor,
            messages: AtomicU64::new(0),
            bad_frames: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            last_message_ms: AtomicU64::new(0),
            ping_rtt_us: AtomicU64::new(0),
            ping_at_ms: AtomicU64::new(0),
            pending_coalesced: AtomicU64::new(0),
            block_time_ms: AtomicU64::new(0),
            last_error: Mutex::new(None),
            http,
            changed: tokio::sync::Notify::new(),
        }
    }

    /// Record an error: counted, redacted, sanitised, logged.
    pub fn error(&self, msg: impl AsRef<str>) {
        let clean = sanitize(&self.redactor.text(msg.as_ref())).into_owned();
        tracing::warn!(network = %self.name, "{clean}");
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut l) = self.last_error.lock() {
            *l = Some((clean, SystemTime::now()));
        }
        self.changed.notify_one();
    }

    /// A frame that could not be used: counted as bad and as an error.
    pub fn bad_frame(&self, msg: impl AsRef<str>) {
        self.bad_frames.fetch_add(1, Ordering::Relaxed);
        self.error(format!("bad frame: {}", msg.as_ref()));
    }

    /// The smoothed block time, once two consecutive heads have been seen.
    pub fn block_time(&self) -> Option<Duration> {
        match self.block_time_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }

    /// HTTP polling interval: about half the block time, within sane bounds.
    pub fn poll_interval(&self) -> Duration {
        match self.block_time_ms.load(Ordering::Relaxed) {
            0 => Duration::from_secs(2),
            ms => Duration::from_millis(ms / 2)
                .clamp(Duration::from_millis(250), Duration::from_secs(10)),
        }
    }

    /// Fold the interval between two consecutive heads into the block-time estimate.
    pub(crate) fn observe_block_time(&self, secs: u64) {
        let sample = secs.saturating_mul(1000).min(600_000);
        let old = self.block_time_ms.load(Ordering::Relaxed);
        let new = if old == 0 {
            sample.max(1)
        } else {
            ((old * 7 + sample) / 8).max(1)
        };
        self.block_time_ms.store(new, Ordering::Relaxed);
    }

    pub fn stats(&self) -> ConnStats {
        let at = |ms: u64| (ms > 0).then(|| SystemTime::UNIX_EPOCH + Duration::from_millis(ms));
        let rtt = self.ping_rtt_us.load(Ordering::Relaxed);
        let http_errors = self
            .http
            .as_ref()
            .map_or(0, |m| m.errors.load(Ordering::Relaxed));
        // The newer of this network's last error and its HTTP side's.
        let mine = self.last_error.lock().ok().and_then(|l| l.clone());
        let theirs = self
            .http
            .as_ref()
            .and_then(|m| m.last_error())
            .map(|(e, t)| (sanitize(&self.redactor.text(&e)).into_owned(), t));
        let last = match (mine, theirs) {
            (Some(a), Some(b)) => Some(if b.1 > a.1 { b } else { a }),
            (a, b) => a.or(b),
        };
        ConnStats {
            messages: self.messages.load(Ordering::Relaxed),
            bad_frames: self.bad_frames.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed) + http_errors,
            last_message: at(self.last_message_ms.load(Ordering::Relaxed)),
            http_latency: self.http.as_ref().and_then(|m| m.latency()),
            http_at: self.http.as_ref().and_then(|m| m.latency_at()),
            ping_rtt: (rtt > 0).then(|| Duration::from_micros(rtt)),
            ping_at: at(self.ping_at_ms.load(Ordering::Relaxed)),
            http_requests: self
                .http
                .as_ref()
                .map_or(0, |m| m.requests.load(Ordering::Relaxed)),
            pending_coalesced: self.pending_coalesced.load(Ordering::Relaxed),
            last_error_at: last.as_ref().map(|(_, t)| *t),
            last_error: last.map(|(e, _)| e),
        }
    }

    pub fn http_health(&self) -> HttpHealth {
        let mut h = self.http.as_ref().map(|m| m.health()).unwrap_or_default();
        match &mut h {
            HttpHealth::RateLimited { reason, .. }
            | HttpHealth::BackingOff { reason, .. }
            | HttpHealth::Failing { reason, .. } => {
                *reason = sanitize(&self.redactor.text(reason)).into_owned();
            }
            HttpHealth::Ok => {}
        }
        h
    }
}

/// Handle to a running network supervisor.
#[derive(Debug, Clone)]
pub struct NetworkHandle {
    pub commands: mpsc::Sender<Command>,
}

/// Capacity of the channel into the log task.
const LOG_QUEUE: usize = 1024;

/// Start the supervisor (and its chain, watch and log tasks) for one network.
/// `watches` are (address, label); tokens and contracts come from `cfg`.
pub fn spawn(
    net: NetIdx,
    cfg: NetworkConfig,
    watches: Vec<(Address, String)>,
    updates: mpsc::Sender<Update>,
    redactor: Arc<Redactor>,
) -> NetworkHandle {
    let (cmd_tx, cmd_rx) = mpsc::channel(8);
    let http = cfg.http.as_deref().and_then(|url| {
        HttpClient::new(url, redactor.clone(), cfg.max_message_bytes)
            .map_err(|e| tracing::error!(network = %cfg.name, "HTTP client: {e}"))
            .ok()
    });
    let shared = Arc::new(Shared::new(
        cfg.name.clone(),
        redactor.clone(),
        http.as_ref().map(|h| h.meter.clone()),
    ));
    let (chain_tx, chain_rx) = mpsc::channel(CHAIN_QUEUE);
    let (feed, head_rx) = heads::HeadFeed::new();
    let watched = Arc::new(watch::Watched::new(watches));
    let decoder = logs::LogDecoder::new(&cfg.contracts, &cfg.tokens);
    let log_filter = decoder.filter();
    let (log_tx, log_rx) = mpsc::channel(LOG_QUEUE);
    let log_tx = log_filter.is_some().then_some(log_tx);
    tokio::spawn(logs::run(
        net,
        http.as_ref().map(|h| h.on(Lane::Refresh)),
        decoder,
        watched.clone(),
        log_rx,
        updates.clone(),
        shared.clone(),
    ));
    let follower = heads::Follower::new(
        net,
        http.clone(),
        updates.clone(),
        feed.clone(),
        shared.clone(),
        log_tx.clone().map(|tx| (tx, watched.clone())),
    );
    tokio::spawn(follower.run(chain_rx));
    if let Some(http) = &http {
        let refresher = watch::Refresher {
            net,
            http: http.on(Lane::Refresh),
            tokens: cfg.tokens.clone(),
            contracts: cfg.contracts.clone(),
            watched: watched.clone(),
            updates: updates.clone(),
            shared: shared.clone(),
            feed,
            chain_tx: chain_tx.clone(),
        };
        tokio::spawn(refresher.run(head_rx));
    }
    tokio::spawn(report(net, shared.clone(), updates.clone()));
    let sup = session::Supervisor::new(net, cfg, updates, redactor, shared, http, chain_tx, cmd_rx)
        .with_watch(watched, log_filter.zip(log_tx));
    tokio::spawn(sup.run());
    NetworkHandle { commands: cmd_tx }
}

/// How often counters and the HTTP state are looked at (sent only when changed).
pub const REPORT_EVERY: Duration = Duration::from_secs(1);

/// Reports the network's counters (best effort: a full channel skips a sample) and
/// every change of its HTTP state (never skipped).
async fn report(net: NetIdx, shared: Arc<Shared>, updates: mpsc::Sender<Update>) {
    let mut tick = tokio::time::interval(REPORT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_stats = ConnStats::default();
    let mut last_http = HttpHealth::Ok;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shared.changed.notified() => {
                // A burst of errors is one report.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            () = async {
                match &shared.http {
                    Some(m) => m.changed.notified().await,
                    None => std::future::pending().await,
                }
            } => tokio::time::sleep(Duration::from_millis(20)).await,
        }
        let stats = shared.stats();
        if stats != last_stats {
            match updates.try_send(Update::Stats {
                net,
                stats: stats.clone(),
            }) {
                Ok(()) => last_stats = stats,
                Err(mpsc::error::TrySendError::Full(_)) => {}
                Err(mpsc::error::TrySendError::Closed(_)) => return,
            }
        }
        let health = shared.http_health();
        if health != last_http {
            last_http = health.clone();
            if updates.send(Update::Http { net, health }).await.is_err() {
                return;
            }
        }
    }
}
