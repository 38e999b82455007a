//! Reconnect delays: exponential growth with full jitter, reset after a stable
//! period; and the pace of a backfill on a provider that caps throughput.

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
    rng: fastrand::Rng,
}

/// Never retry faster than this, even when the jitter draws near zero.
const FLOOR: Duration = Duration::from_millis(100);

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap,
            attempt: 0,
            rng: fastrand::Rng::new(),
        }
    }

    /// Attempts since the last reset.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The ceiling of the next delay: base * 2^attempt, capped.
    pub fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(16)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// Next delay, uniformly drawn in [FLOOR, ceiling] ("full jitter").
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        let ms = ceiling.as_millis().max(FLOOR.as_millis()) as u64;
        Duration::from_millis(self.rng.u64(FLOOR.as_millis() as u64..=ms))
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// Spends at most `per_second` on average: a token bucket holding at most one
/// second's worth, that a job may overdraw (a batch can cost more than a second's
/// worth); the next job waits until it is paid back.
#[derive(Debug, Default)]
pub struct Pacer {
    balance: f64,
    at: Option<Instant>,
}

impl Pacer {
    /// Start a job costing `cost` at `now`, or how long to wait before it may.
    pub fn take(&mut self, cost: f64, per_second: f64, now: Instant) -> Option<Duration> {
        self.balance = match self.at {
            Some(at) => {
                let refill = per_second * now.saturating_duration_since(at).as_secs_f64();
                (self.balance + refill).min(per_second)
            }
            None => per_second,
        };
        self.at = Some(now);
        if self.balance < 0.0 {
            return Some(Duration::from_secs_f64(-self.balance / per_second));
        }
        self.balance -= cost;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_the_cap_with_jitter_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        let mut ceilings = Vec::new();
        for _ in 0..10 {
            ceilings.push(b.ceiling().as_secs());
            let d = b.next_delay();
            assert!(d >= FLOOR && d <= Duration::from_secs(30), "{d:?}");
        }
        assert_eq!(ceilings, vec![1, 2, 4, 8, 16, 30, 30, 30, 30, 30]);
        assert_eq!(b.attempt(), 10);
        b.reset();
        assert_eq!(b.ceiling(), Duration::from_secs(1));
        // Jitter actually varies.
        let draws: std::collections::HashSet<_> = (0..20)
            .map(|_| {
                let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
                b.attempt = 5;
                b.next_delay()
            })
            .collect();
        assert!(draws.len() > 5);
    }

    #[test]
    fn a_pacer_spends_its_rate_on_average_and_lets_a_big_job_overdraw() {
        use super::Pacer;
        let t0 = Instant::now();
        let mut p = Pacer::default();
        // A full second's worth to start; a 4,000-credit batch at 500/s overdraws.
        assert_eq!(p.take(4_000.0, 500.0, t0), None);
        // The next waits until the 3,500 are paid back: 7 s.
        let wait = p.take(80.0, 500.0, t0).expect("must wait");
        assert!((wait.as_secs_f64() - 7.0).abs() < 1e-9, "{wait:?}");
        let later = t0 + Duration::from_secs(3);
        let wait = p.take(80.0, 500.0, later).expect("still waits");
        assert!((wait.as_secs_f64() - 4.0).abs() < 1e-9, "{wait:?}");
        assert_eq!(p.take(80.0, 500.0, t0 + Duration::from_secs(7)), None);
        // Idle time refills at most one second's worth.
        let idle = t0 + Duration::from_secs(100);
        assert_eq!(p.take(400.0, 500.0, idle), None);
        assert_eq!(p.take(100.0, 500.0, idle), None);
        assert!(
            p.take(1.0, 500.0, idle).is_none(),
            "exactly spent, not overdrawn"
        );
        assert!(p.take(1.0, 500.0, idle).is_some(), "overdrawn now");
    }
}
