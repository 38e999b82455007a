//! One endpoint's HTTP health and counters, and the gate a rate limit closes: the
//! chain lane goes first when it opens, the refresh lane waits for it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::event::HttpHealth;

/// Which work a request is for. When a rate limit closes the gate, requests wait
/// for it to open, and the chain's (heads, backfill, reorg walks, probes) go first:
/// the refresh lane (balances, views, confirmations, log refills) waits for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Chain,
    Refresh,
}

/// How long the refresh lane waits after the gate opens, so that waiting chain
/// requests are sent first.
const REFRESH_YIELD: Duration = Duration::from_millis(100);

/// Counters and the health of one endpoint's HTTP side, shared with the stats.
#[derive(Debug, Default)]
pub struct HttpMeter {
    pub requests: AtomicU64,
    /// Failed attempts (rate limits included), even when a retry then succeeded.
    pub errors: AtomicU64,
    /// Last round-trip in microseconds (0 = none yet).
    pub last_latency_us: AtomicU64,
    /// When the last round-trip was measured (unix ms, 0 = never).
    pub last_latency_at_ms: AtomicU64,
    fail_streak: AtomicU32,
    health: Mutex<HttpHealth>,
    last_error: Mutex<Option<(String, SystemTime)>>,
    /// No request is sent before this (a rate limit's wait).
    gate: Mutex<Option<Instant>>,
    chain_waiting: AtomicUsize,
    /// Woken when the health or the last error changes.
    pub changed: tokio::sync::Notify,
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl HttpMeter {
    pub fn latency(&self) -> Option<Duration> {
        match self.last_latency_us.load(Ordering::Relaxed) {
            0 => None,
            us => Some(Duration::from_micros(us)),
        }
    }

    pub fn latency_at(&self) -> Option<SystemTime> {
        match self.last_latency_at_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(SystemTime::UNIX_EPOCH + Duration::from_millis(ms)),
        }
    }

    pub fn health(&self) -> HttpHealth {
        match self.health.lock() {
            Ok(h) => h.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    pub fn last_error(&self) -> Option<(String, SystemTime)> {
        self.last_error.lock().ok().and_then(|e| e.clone())
    }

    pub(super) fn set_health(&self, h: HttpHealth) {
        let mut g = match self.health.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if *g != h {
            *g = h;
            self.changed.notify_one();
        }
    }

    pub(super) fn answered(&self, latency: Duration) {
        self.last_latency_us
            .store(latency.as_micros().max(1) as u64, Ordering::Relaxed);
        self.last_latency_at_ms
            .store(unix_ms(SystemTime::now()), Ordering::Relaxed);
        self.fail_streak.store(0, Ordering::Relaxed);
        self.set_health(HttpHealth::Ok);
    }

    pub(super) fn failed(&self, reason: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut e) = self.last_error.lock() {
            *e = Some((format!("http: {reason}"), SystemTime::now()));
        }
        self.changed.notify_one();
    }

    /// A request failed outright (5xx, transport, undecodable body).
    pub(super) fn failing(&self, reason: String) {
        let in_a_row = self.fail_streak.fetch_add(1, Ordering::Relaxed) + 1;
        self.failed(reason.clone());
        self.set_health(HttpHealth::Failing { reason, in_a_row });
    }

    /// A rate limit: nothing is sent through this endpoint until `until`.
    pub(super) fn limited(&self, until: Instant, reason: String, http_429: bool) {
        self.failed(reason.clone());
        if let Ok(mut g) = self.gate.lock() {
            *g = Some(g.map_or(until, |t| t.max(until)));
        }
        self.set_health(if http_429 {
            HttpHealth::RateLimited { until, reason }
        } else {
            HttpHealth::BackingOff { until, reason }
        });
    }

    pub(super) fn gate(&self) -> Option<Instant> {
        self.gate
            .lock()
            .ok()
            .and_then(|g| *g)
            // tokio's clock (the same as std's unless paused, as in the tests).
            .filter(|t| *t > tokio::time::Instant::now().into_std())
    }

    /// Wait for this lane's turn: the gate open, and for the refresh lane no chain
    /// request waiting.
    pub(super) async fn wait_turn(&self, lane: Lane) {
        let mut waited = false;
        loop {
            if let Some(until) = self.gate() {
                waited = true;
                if lane == Lane::Chain {
                    self.chain_waiting.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep_until(until.into()).await;
                    self.chain_waiting.fetch_sub(1, Ordering::SeqCst);
                } else {
                    tokio::time::sleep_until(until.into()).await;
                }
                continue;
            }
            if lane == Lane::Refresh && (waited || self.chain_waiting.load(Ordering::SeqCst) > 0) {
                waited = false;
                tokio::time::sleep(REFRESH_YIELD).await;
                if self.chain_waiting.load(Ordering::SeqCst) > 0 || self.gate().is_some() {
                    continue;
                }
            }
            return;
        }
    }
}
