//! Reconnect delays: exponential growth with full jitter, reset after a stable period.

use std::time::Duration;

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
}
