//! Counters, the last error and the block time of one network, shared by its tasks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::event::{ConnStats, HttpHealth};
use crate::rpc::http::HttpMeter;
use crate::text::{Redactor, sanitize};

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
    /// Watched pending transactions forgotten for room (`mempool`), and those the
    /// tracker's queue had no room for.
    pub mempool_evicted: AtomicU64,
    pub mempool_full: AtomicU64,
    /// Smoothed block time in milliseconds (0 = unknown), from head timestamps.
    pub block_time_ms: AtomicU64,
    last_error: Mutex<Option<(String, SystemTime)>>,
    pub(crate) http: Option<Arc<HttpMeter>>,
    /// Woken on every error, so the reporter shows it at once.
    pub(crate) changed: tokio::sync::Notify,
    /// The load benchmark's receive-time stamp for heads (`None`: not measured).
    pub(crate) head_probe: Option<crate::rpc::frame::HeadProbe>,
    /// What this network's traffic costs (shared with its HTTP client).
    pub(crate) cost: Arc<crate::cost::Meter>,
    /// The price tables endpoints are billed by (built in, with the config's).
    pub(crate) pricing: Arc<[crate::cost::PriceTable]>,
    /// Every how many heads the refresh reads `safe` and `finalized` (0: never).
    pub(crate) finality_every: Arc<AtomicU64>,
}

impl Shared {
    pub(crate) fn new(name: String, redactor: Arc<Redactor>, http: Option<Arc<HttpMeter>>) -> Self {
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
            mempool_evicted: AtomicU64::new(0),
            mempool_full: AtomicU64::new(0),
            block_time_ms: AtomicU64::new(0),
            last_error: Mutex::new(None),
            http,
            changed: tokio::sync::Notify::new(),
            head_probe: None,
            cost: Arc::default(),
            pricing: Arc::from(Vec::new()),
            finality_every: Arc::default(),
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
            cost: self.cost.snapshot(SystemTime::now()),
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
