//! Stall detection: the socket is alive but `newHeads` has gone quiet for several
//! observed block times. The session confirms with HTTP `eth_blockNumber` before
//! acting (a quiet chain is not a stalled subscription).

use std::time::{Duration, Instant};

/// How many observed block intervals without a head count as a stall.
const INTERVALS: u32 = 4;
const MIN_THRESHOLD: Duration = Duration::from_secs(5);
const MAX_THRESHOLD: Duration = Duration::from_secs(120);
/// Threshold before any interval has been observed.
const DEFAULT_THRESHOLD: Duration = Duration::from_secs(60);

#[derive(Debug, Default, Clone)]
pub struct Watchdog {
    last_head: Option<(u64, Instant)>,
    /// Smoothed interval between pushed heads.
    interval: Option<Duration>,
    checked_at: Option<Instant>,
    /// When the stall was acted on by resubscribing.
    pub resubscribed_at: Option<Instant>,
}

impl Watchdog {
    /// A new session subscribed: it gets a full threshold from now before a check,
    /// but keeps what was learnt (last head number, block time) so a subscription
    /// that is silent from the start is still caught.
    pub fn session_started(&mut self, now: Instant) {
        if let Some((n, _)) = self.last_head {
            self.last_head = Some((n, now));
        }
        self.checked_at = None;
        self.resubscribed_at = None;
    }

    /// A head arrived over the WebSocket. Returns true if this ends a stall.
    pub fn on_head(&mut self, number: u64, now: Instant) -> bool {
        if let Some((prev_n, prev_t)) = self.last_head
            && number > prev_n
        {
            let per_block = now.duration_since(prev_t) / (number - prev_n).min(1000) as u32;
            self.interval = Some(match self.interval {
                // EWMA with weight 1/8 for the new sample.
                Some(i) => (i * 7 + per_block) / 8,
                None => per_block,
            });
        }
        if self.last_head.is_none_or(|(n, _)| number >= n) {
            self.last_head = Some((number, now));
        }
        self.checked_at = None;
        self.resubscribed_at.take().is_some()
    }

    /// Block time learnt elsewhere (head timestamps), used until pushed heads have
    /// shown their own interval.
    pub fn hint_block_time(&mut self, block_time: Option<Duration>) {
        if self.interval.is_none() {
            self.interval = block_time.filter(|d| !d.is_zero());
        }
    }

    pub fn last_head_number(&self) -> Option<u64> {
        self.last_head.map(|(n, _)| n)
    }

    pub fn threshold(&self) -> Duration {
        self.interval.map_or(DEFAULT_THRESHOLD, |i| {
            (i * INTERVALS).clamp(MIN_THRESHOLD, MAX_THRESHOLD)
        })
    }

    /// Is it time to ask the node whether the chain moved on without us?
    pub fn check_due(&mut self, now: Instant) -> bool {
        let Some((_, at)) = self.last_head else {
            return false;
        };
        let t = self.threshold();
        let quiet = now.duration_since(at) >= t;
        let recheck = self
            .checked_at
            .is_none_or(|c| now.duration_since(c) >= t / 2);
        if quiet && recheck {
            self.checked_at = Some(now);
            return true;
        }
        false
    }

    /// After resubscribing, has it been long enough that a reconnect is needed?
    pub fn resubscribe_failed(&self, now: Instant) -> bool {
        self.resubscribed_at
            .is_some_and(|r| now.duration_since(r) >= self.threshold())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_the_block_time_and_fires_after_several_intervals() {
        let t0 = Instant::now();
        let mut w = Watchdog::default();
        assert!(
            !w.check_due(t0 + Duration::from_secs(600)),
            "no head yet: nothing to compare"
        );
        for i in 0..10u64 {
            w.on_head(100 + i, t0 + Duration::from_secs(2 * i));
        }
        assert_eq!(w.threshold(), Duration::from_secs(8));
        let last = t0 + Duration::from_secs(18);
        assert!(!w.check_due(last + Duration::from_secs(7)));
        assert!(w.check_due(last + Duration::from_secs(8)));
        assert!(
            !w.check_due(last + Duration::from_secs(9)),
            "not re-checked at once"
        );
        assert!(w.check_due(last + Duration::from_secs(12)));
        w.resubscribed_at = Some(last + Duration::from_secs(12));
        assert!(!w.resubscribe_failed(last + Duration::from_secs(13)));
        assert!(w.resubscribe_failed(last + Duration::from_secs(20)));
        assert!(
            w.on_head(110, last + Duration::from_secs(21)),
            "a head ends the stall"
        );
        assert!(w.resubscribed_at.is_none());
    }

    #[test]
    fn a_new_session_keeps_the_last_head_with_a_grace_period() {
        let t0 = Instant::now();
        let mut w = Watchdog::default();
        for i in 0..5u64 {
            w.on_head(i, t0 + Duration::from_secs(2 * i));
        }
        w.resubscribed_at = Some(t0 + Duration::from_secs(20));
        let reconnect = t0 + Duration::from_secs(30);
        w.session_started(reconnect);
        assert!(w.resubscribed_at.is_none());
        assert_eq!(w.last_head_number(), Some(4));
        assert!(!w.check_due(reconnect + Duration::from_secs(7)));
        assert!(
            w.check_due(reconnect + Duration::from_secs(8)),
            "silent new subscription is caught"
        );
    }

    #[test]
    fn fast_chains_use_the_floor() {
        let t0 = Instant::now();
        let mut w = Watchdog::default();
        for i in 0..20u64 {
            w.on_head(i, t0 + Duration::from_millis(250 * i));
        }
        assert_eq!(w.threshold(), MIN_THRESHOLD);
    }
}
