//! How current each figure of a network is: a rate or a round-trip that is no
//! longer current is stale (shown with its age) or unknown (`—`).

use std::time::{Duration, Instant, SystemTime};

use super::NetworkState;
use crate::event::{ConnState, HttpHealth};

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

impl NetworkState {
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

    /// Spend per minute. The rate changes every second while anything is spent,
    /// so a report older than a few seconds means the reporter stopped: stale.
    pub fn spend_now(&self, now: Instant) -> Fresh<f64> {
        let Some(rate) = self.stats.cost.per_minute else {
            return Fresh::Unknown;
        };
        match self
            .stats_sampled_at
            .map(|at| now.saturating_duration_since(at))
        {
            Some(age) if rate > 0.0 && age > 5 * PENDING_WINDOW => Fresh::Stale(rate, age),
            _ => Fresh::Now(rate),
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
}
