//! The watched addresses' pending transactions (`pending = "watched"`): the latest
//! news of each, the feed's kind, and the priority fees it bids.

use std::time::Instant;

use alloy_primitives::Address;

use crate::event::{PendingFeed, PendingTxEvent, TxState};

/// Watched pending transactions kept for the screen (the finished ones go first).
pub const MEMPOOL_KEPT: usize = 200;

#[derive(Debug, Clone, Default)]
pub struct Mempool {
    /// What the endpoint's pending feed gives (`None`: not asked for).
    pub feed: Option<PendingFeed>,
    /// p10, p50, p90 of recent priority fees (wei), and when they came.
    pub tips: Option<([u128; 3], Instant)>,
    /// Watched pending transactions the backend forgot for room.
    pub evicted: u64,
    /// The latest news of each, oldest first seen first.
    pub txs: Vec<PendingTxEvent>,
}

impl Mempool {
    /// A transaction's news: it replaces what was known of it.
    pub fn apply(&mut self, e: PendingTxEvent) {
        if let Some(old) = self.txs.iter_mut().find(|t| t.tx.hash == e.tx.hash) {
            *old = e;
            return;
        }
        if self.txs.len() >= MEMPOOL_KEPT {
            let at = self
                .txs
                .iter()
                .position(|t| t.state != TxState::Pending)
                .unwrap_or(0);
            self.txs.remove(at);
        }
        self.txs.push(e);
    }

    /// The newest still pending transaction that touches `a` (as sender, recipient,
    /// or holder of a token it moves).
    pub fn pending_for(&self, a: Address) -> Option<&PendingTxEvent> {
        self.txs
            .iter()
            .rev()
            .find(|e| e.state == TxState::Pending && e.tx.touches(a))
    }

    /// Still pending, of those kept.
    pub fn pending(&self) -> usize {
        self.txs
            .iter()
            .filter(|e| e.state == TxState::Pending)
            .count()
    }
}
