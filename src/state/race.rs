//! Chain groups and the race between their endpoints, as the race engine
//! (`crate::race`) tells it: per group the recent races and disagreements, per
//! endpoint its delays, misses, distance behind, round-trips, errors and finality,
//! over the last 100 heads and the last hour.

use std::time::{Duration, Instant};

use alloy_primitives::B256;

use super::Ring;
use crate::event::{ChainGroup, ConnStats, Delivery, Dispute, Finality, NetIdx, RaceResult};

/// The short window: this many of the group's latest heads.
pub const RECENT: usize = 100;
/// The long window.
pub const HOUR: Duration = Duration::from_secs(3600);
/// Races kept per endpoint for the hour (a 250 ms chain makes 14,400 an hour: the
/// hour of such a chain is its last 16,384 heads).
pub const SAMPLES_KEPT: usize = 16_384;
/// Races kept per group for its list and chart.
pub const RACES_KEPT: usize = 512;
/// Disagreements kept per group.
pub const DISPUTES_KEPT: usize = 32;
/// Round-trips kept per endpoint.
const RTT_KEPT: usize = 2048;
/// Distances behind kept per endpoint (one per change).
const BEHIND_KEPT: usize = 4096;
/// Error counter samples kept (an hour and a bit at one a minute).
const ERRORS_KEPT: usize = 64;
/// The error counter is sampled this often for its rate.
const ERROR_SAMPLE: Duration = Duration::from_secs(60);

/// A group as its race view shows it.
#[derive(Debug, Clone)]
pub struct GroupState {
    pub info: ChainGroup,
    /// Newest last.
    pub races: Ring<RaceRow>,
    /// Newest last, with when each came.
    pub disputes: Ring<(Dispute, Instant)>,
    pub disputes_total: u64,
    /// Races settled since the group formed (`races` keeps the last 512).
    pub races_total: u64,
}

impl GroupState {
    pub fn new(info: ChainGroup) -> Self {
        Self {
            info,
            races: Ring::new(RACES_KEPT),
            disputes: Ring::new(DISPUTES_KEPT),
            disputes_total: 0,
            races_total: 0,
        }
    }

    /// Two or more endpoints: a race.
    pub fn racing(&self) -> bool {
        self.info.members.len() >= 2
    }
}

/// One settled race, as the group keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct RaceRow {
    pub number: u64,
    pub hash: B256,
    pub first: NetIdx,
    /// When it was settled (its age in the chart).
    pub at: Instant,
    pub deliveries: Vec<(NetIdx, Delivery)>,
}

impl RaceRow {
    pub fn new(r: RaceResult, at: Instant) -> Self {
        Self {
            number: r.number,
            hash: r.hash,
            first: r.first,
            at,
            deliveries: r.deliveries,
        }
    }
}

/// Delay percentiles and counts over one window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub heads: usize,
    /// Heads it delivered first.
    pub first: usize,
    pub delivered: usize,
    /// p50, p95, p99 of its delays (ms), nearest rank.
    pub delay: Option<[u64; 3]>,
    pub missed: usize,
    pub backfilled: usize,
}

/// One endpoint's part in its group's race.
#[derive(Debug, Clone)]
pub struct Racer {
    /// Its group (an index into `AppState::groups`), while it races.
    pub group: Option<usize>,
    /// (settled at, how it delivered, first?), newest last.
    samples: Ring<(Instant, Delivery, bool)>,
    /// The last 100 heads (the cards show it: kept up to date as races come).
    pub recent: Window,
    /// Blocks behind the group's best head, the best, and when that was told.
    pub behind: Option<(u64, u64, Instant)>,
    behinds: Ring<(Instant, u64)>,
    pings: Ring<(Instant, Duration)>,
    https: Ring<(Instant, Duration)>,
    last_ping: Option<std::time::SystemTime>,
    last_http: Option<std::time::SystemTime>,
    /// (when, errors so far), one a minute at most, for the hour's error rate.
    errors: Ring<(Instant, u64)>,
    pub finality: Option<(Finality, Instant)>,
    /// Every how many heads finality is read (the config's): a reading older than
    /// two rounds is shown as old.
    pub finality_every: u64,
}

/// p50, p95 and p99 of `v` (sorted here), nearest rank.
fn percentiles<T: Ord + Copy>(v: &mut [T]) -> Option<[T; 3]> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let at = |p: usize| v[(v.len() * p).div_ceil(100).max(1) - 1];
    Some([at(50), at(95), at(99)])
}

impl Default for Racer {
    fn default() -> Self {
        Self {
            group: None,
            samples: Ring::new(SAMPLES_KEPT),
            recent: Window::default(),
            behind: None,
            behinds: Ring::new(BEHIND_KEPT),
            pings: Ring::new(RTT_KEPT),
            https: Ring::new(RTT_KEPT),
            last_ping: None,
            last_http: None,
            errors: Ring::new(ERRORS_KEPT),
            finality: None,
            finality_every: 0,
        }
    }
}

impl Racer {
    /// The finality read, and whether it is older than two rounds of reading
    /// (at `head`, the endpoint's own now).
    pub fn finality_at(&self, head: Option<u64>) -> Option<(&Finality, bool)> {
        let (f, _) = self.finality.as_ref()?;
        let rounds = self.finality_every.max(1).saturating_mul(2);
        let old = head.is_some_and(|h| h > f.head.saturating_add(rounds));
        Some((f, old))
    }

    /// Other rivals, or none: its delays and distances compare with no one any
    /// more. Its own round-trips, errors and finality stay.
    pub fn new_rivals(&mut self, group: Option<usize>) {
        self.group = group;
        self.samples.clear();
        self.recent = Window::default();
        self.behind = None;
        self.behinds.clear();
    }

    /// A settled race it was part of: the last 100 are worked out again.
    pub fn raced(&mut self, delivery: Delivery, first: bool, now: Instant) {
        self.samples.push((now, delivery, first));
        self.recent = self.window(self.samples.len().min(RECENT), now, None);
    }

    /// The hour up to `now`, worked out when asked (only the comparison view shows
    /// it: up to 16,384 delays sorted, not at every head).
    pub fn hour(&self, now: Instant) -> Window {
        self.window(self.samples.len(), now, Some(HOUR))
    }

    fn window(&self, last: usize, now: Instant, within: Option<Duration>) -> Window {
        let mut w = Window::default();
        let mut delays = Vec::with_capacity(last);
        let from = self.samples.len() - last;
        for (at, d, first) in self.samples.iter().skip(from) {
            if within.is_some_and(|h| now.saturating_duration_since(*at) > h) {
                continue;
            }
            w.heads += 1;
            w.first += usize::from(*first);
            match d {
                Delivery::After { ms, .. } => {
                    w.delivered += 1;
                    delays.push(*ms);
                }
                Delivery::Backfilled => w.backfilled += 1,
                Delivery::Missed => w.missed += 1,
            }
        }
        w.delay = percentiles(&mut delays);
        w
    }

    pub fn behind_now(&mut self, behind: u64, best: u64, now: Instant) {
        self.behind = Some((behind, best, now));
        self.behinds.push((now, behind));
    }

    /// The most it was behind within the hour.
    pub fn max_behind(&self, now: Instant) -> Option<u64> {
        self.behinds
            .iter()
            .filter(|(at, _)| now.saturating_duration_since(*at) <= HOUR)
            .map(|(_, b)| *b)
            .chain(self.behind.map(|(b, _, _)| b))
            .max()
    }

    /// New round-trips in a stats report (each measured one counted once), and
    /// the error counter.
    pub fn stats(&mut self, s: &ConnStats, live: bool, http_ok: bool, now: Instant) {
        if let (Some(rtt), Some(at)) = (s.ping_rtt, s.ping_at)
            && live
            && self.last_ping != Some(at)
        {
            self.last_ping = Some(at);
            self.pings.push((now, rtt));
        }
        if let (Some(rtt), Some(at)) = (s.http_latency, s.http_at)
            && http_ok
            && self.last_http != Some(at)
        {
            self.last_http = Some(at);
            self.https.push((now, rtt));
        }
        let due = self
            .errors
            .back()
            .is_none_or(|(at, _)| now.saturating_duration_since(*at) >= ERROR_SAMPLE);
        if due {
            self.errors.push((now, s.errors));
        }
    }

    fn rtt(q: &Ring<(Instant, Duration)>, now: Instant) -> Option<[Duration; 2]> {
        let mut v: Vec<Duration> = q
            .iter()
            .filter(|(at, _)| now.saturating_duration_since(*at) <= HOUR)
            .map(|(_, d)| *d)
            .collect();
        percentiles(&mut v).map(|[p50, p95, _]| [p50, p95])
    }

    /// p50 and p95 of the pings of the hour.
    pub fn ping(&self, now: Instant) -> Option<[Duration; 2]> {
        Self::rtt(&self.pings, now)
    }

    /// p50 and p95 of the HTTP round-trips of the hour (one per stats report).
    pub fn http(&self, now: Instant) -> Option<[Duration; 2]> {
        Self::rtt(&self.https, now)
    }

    /// Errors per hour over the hour (or as long as it has been counting, once
    /// that is a minute); `errors` is the counter now.
    pub fn errors_per_hour(&self, errors: u64, now: Instant) -> Option<f64> {
        let (at, then) = self
            .errors
            .iter()
            .find(|(at, _)| now.saturating_duration_since(*at) <= HOUR)?;
        let span = now.saturating_duration_since(*at);
        (span >= ERROR_SAMPLE)
            .then(|| errors.saturating_sub(*then) as f64 * 3600.0 / span.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::HeadSource;

    fn after(ms: u64) -> Delivery {
        Delivery::After {
            ms,
            source: HeadSource::Ws,
        }
    }

    #[test]
    fn windows_count_the_last_100_and_the_hour() {
        let t0 = Instant::now();
        let mut r = Racer::default();
        // 150 heads an hour and a bit ago, delayed 1 s; 100 recent ones: 90 at
        // 300 ms, 5 at 400, 3 missed, 2 backfilled.
        for _ in 0..150 {
            r.raced(after(1000), false, t0);
        }
        let now = t0 + HOUR + Duration::from_secs(60);
        for i in 0..100 {
            let d = match i {
                0..90 => after(300),
                90..95 => after(400),
                95..98 => Delivery::Missed,
                _ => Delivery::Backfilled,
            };
            r.raced(d, i % 10 == 0, now);
        }
        assert_eq!(
            r.recent,
            Window {
                heads: 100,
                first: 10,
                delivered: 95,
                delay: Some([300, 400, 400]),
                missed: 3,
                backfilled: 2,
            }
        );
        // The hour leaves the old ones out.
        assert_eq!(r.hour(now), r.recent);
        let later = now + HOUR + Duration::from_secs(1);
        assert_eq!(r.hour(later).heads, 0, "and ages out with the clock");
        assert_eq!(r.samples.len(), 250);
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut v: Vec<u64> = (1..=100).rev().collect();
        assert_eq!(percentiles(&mut v), Some([50, 95, 99]));
        assert_eq!(percentiles(&mut [7u64]), Some([7, 7, 7]));
        assert_eq!(percentiles::<u64>(&mut []), None);
    }

    #[test]
    fn round_trips_count_once_each_and_errors_make_a_rate() {
        let t0 = Instant::now();
        let wall = std::time::SystemTime::now();
        let mut r = Racer::default();
        let mut s = ConnStats {
            ping_rtt: Some(Duration::from_millis(10)),
            ping_at: Some(wall),
            ..ConnStats::default()
        };
        r.stats(&s, true, true, t0);
        // The same ping reported again is no new sample.
        r.stats(&s, true, true, t0 + Duration::from_secs(1));
        s.ping_rtt = Some(Duration::from_millis(30));
        s.ping_at = Some(wall + Duration::from_secs(2));
        r.stats(&s, true, true, t0 + Duration::from_secs(2));
        assert_eq!(r.pings.len(), 2);
        assert_eq!(
            r.ping(t0 + Duration::from_secs(2)),
            Some([Duration::from_millis(10), Duration::from_millis(30)])
        );
        // Not live: not a sample.
        s.ping_at = Some(wall + Duration::from_secs(3));
        r.stats(&s, false, true, t0 + Duration::from_secs(3));
        assert_eq!(r.pings.len(), 2);
        assert_eq!(r.errors_per_hour(0, t0 + Duration::from_secs(30)), None);
        assert_eq!(
            r.errors_per_hour(10, t0 + Duration::from_secs(600)),
            Some(60.0)
        );
    }

    #[test]
    fn the_most_behind_is_the_hours() {
        let t0 = Instant::now();
        let mut r = Racer::default();
        r.behind_now(9, 100, t0);
        r.behind_now(0, 101, t0 + Duration::from_secs(10));
        assert_eq!(r.max_behind(t0 + Duration::from_secs(20)), Some(9));
        assert_eq!(r.max_behind(t0 + HOUR + Duration::from_secs(5)), Some(0));
    }
}
