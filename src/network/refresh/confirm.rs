//! Pushed heads the node did not know when asked: asked again a while later, with
//! what the node has at that number, to tell a lagging HTTP node from a head that was
//! never real.

use std::time::{Duration, Instant};

use alloy_primitives::B256;

use crate::network::feed::Unconfirmed;

/// How long after a first "no such block" a head is asked about again (the HTTP
/// node may simply be behind the WebSocket's).
pub(super) const RECHECK_AFTER: Duration = Duration::from_secs(1);
/// Re-checks before a head the HTTP node never reaches is left alone.
pub(super) const RECHECKS: u32 = 5;

/// A pushed head the node did not know when asked; asked again after a while.
#[derive(Debug, Clone, Copy)]
pub(super) struct Missing {
    pub head: Unconfirmed,
    pub since: Instant,
    pub tries: u32,
}

impl Missing {
    pub fn new(head: Unconfirmed) -> Self {
        Self {
            head,
            since: Instant::now(),
            tries: 0,
        }
    }

    pub fn due(&self, now: Instant) -> bool {
        now >= self.since + RECHECK_AFTER
    }

    /// The same head, asked again later; `None` once it has been asked enough.
    pub fn again(self) -> Option<Self> {
        (self.tries + 1 < RECHECKS).then(|| Self {
            since: Instant::now(),
            tries: self.tries + 1,
            ..self
        })
    }
}

/// What the node said, the second time, about a head it did not know.
#[derive(Debug)]
pub(super) struct Recheck {
    pub missing: Missing,
    /// By hash: `Some(None)` is "no such block".
    pub by_hash: Option<Option<B256>>,
    /// The hash of the node's block at that number (`Some(None)`: none yet).
    pub at_number: Option<Option<B256>>,
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    Real,
    /// Unknown by hash, twice, while the node has another block at its number.
    Invented,
    /// The node is not at that number yet, or did not answer.
    AskAgain,
}

impl Recheck {
    pub fn new(missing: Missing) -> Self {
        Self {
            missing,
            by_hash: None,
            at_number: None,
        }
    }

    pub fn verdict(&self) -> Verdict {
        match (self.by_hash, self.at_number) {
            (Some(Some(_)), _) => Verdict::Real,
            (Some(None), Some(Some(other))) if other != self.missing.head.hash => Verdict::Invented,
            _ => Verdict::AskAgain,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_is_invented_only_when_the_node_has_another_block_at_its_number() {
        let hash = B256::repeat_byte(7);
        let r = |by_hash, at_number| {
            Recheck {
                missing: Missing::new(Unconfirmed {
                    number: 9,
                    hash,
                    needs_tx_count: false,
                }),
                by_hash,
                at_number,
            }
            .verdict()
        };
        let other = Some(Some(B256::repeat_byte(8)));
        assert_eq!(r(Some(None), other), Verdict::Invented);
        assert_eq!(r(Some(Some(hash)), other), Verdict::Real, "known now");
        assert_eq!(
            r(Some(None), Some(None)),
            Verdict::AskAgain,
            "node not there yet"
        );
        assert_eq!(r(None, other), Verdict::AskAgain, "no answer");
        assert_eq!(r(Some(None), Some(Some(hash))), Verdict::AskAgain);
    }

    #[test]
    fn a_missing_head_is_asked_a_bounded_number_of_times() {
        let mut m = Missing::new(Unconfirmed {
            number: 1,
            hash: B256::ZERO,
            needs_tx_count: false,
        });
        let mut asked = 1;
        while let Some(next) = m.again() {
            m = next;
            asked += 1;
        }
        assert_eq!(asked, RECHECKS);
        assert!(!m.due(m.since));
        assert!(m.due(m.since + RECHECK_AFTER));
    }
}
