//! Keeps the shown chain gap-free, ordered and linked: every head once, in order;
//! gaps filled from a block source, reorgs walked back by parent hash.

use std::collections::VecDeque;

use alloy_primitives::B256;

use crate::event::{Head, HeadSource, Reorg};
use crate::rpc::types::WireBlock;

/// How many recent (number, hash) pairs are remembered for linkage checks.
pub const TRACKED: usize = 256;
/// Deepest reorg walked back before giving up and restarting from the new tip.
pub const MAX_REORG_WALK: u64 = 64;
/// Largest gap filled; beyond it only the most recent `MAX_BACKFILL` heads are fetched.
pub const MAX_BACKFILL: u64 = 10_000;

/// Where missed blocks come from (HTTP in production).
pub trait BlockSource {
    /// Blocks `from..=to` in order, without full transactions.
    fn blocks(
        &self,
        from: u64,
        to: u64,
    ) -> impl std::future::Future<Output = Result<Vec<WireBlock>, String>> + Send;
    /// One block by hash.
    fn block_by_hash(
        &self,
        hash: B256,
    ) -> impl std::future::Future<Output = Result<Option<WireBlock>, String>> + Send;
}

/// What the tracker decided, in the order it must be shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Head(Head),
    Reorg(Reorg),
    /// Heads that could not be fetched (shown as an error, never silently).
    Gap {
        from: u64,
        to: u64,
        reason: String,
    },
}

pub fn to_head(b: &WireBlock, source: HeadSource) -> Head {
    Head {
        number: b.number.to::<u64>(),
        hash: b.hash,
        parent_hash: b.parent_hash,
        timestamp: b.timestamp.to::<u64>(),
        gas_used: b.gas_used.to::<u64>(),
        gas_limit: b.gas_limit.to::<u64>(),
        base_fee: b.base_fee_per_gas,
        tx_count: b.transactions.as_ref().map(|t| t.len() as u32),
        source,
    }
}

#[derive(Debug, Default)]
pub struct ChainTracker {
    recent: VecDeque<(u64, B256)>,
}

impl ChainTracker {
    pub fn tip(&self) -> Option<(u64, B256)> {
        self.recent.back().copied()
    }

    fn hash_at(&self, number: u64) -> Option<B256> {
        let (first, _) = *self.recent.front()?;
        let idx = number.checked_sub(first)?;
        self.recent
            .get(idx as usize)
            .filter(|(n, _)| *n == number)
            .map(|(_, h)| *h)
    }

    fn push(&mut self, head: Head, out: &mut Vec<Step>) {
        if self.recent.len() == TRACKED {
            self.recent.pop_front();
        }
        self.recent.push_back((head.number, head.hash));
        out.push(Step::Head(head));
    }

    /// Bring the shown chain up to `current` (after a reconnect, or from polling).
    pub async fn catch_up<S: BlockSource>(
        &mut self,
        current: u64,
        source: HeadSource,
        src: &S,
        chunk: u64,
        out: &mut Vec<Step>,
    ) {
        let Some((tip, _)) = self.tip() else {
            // Nothing shown yet: start from the current head only.
            match src.blocks(current, current).await {
                Ok(blocks) => {
                    for b in blocks {
                        Box::pin(self.accept(b, source, src, chunk, out)).await;
                    }
                }
                Err(reason) => out.push(Step::Gap {
                    from: current,
                    to: current,
                    reason,
                }),
            }
            return;
        };
        if current <= tip {
            return;
        }
        let mut from = tip + 1;
        if current - tip > MAX_BACKFILL {
            out.push(Step::Gap {
                from,
                to: current - MAX_BACKFILL,
                reason: format!("more than {MAX_BACKFILL} heads missed"),
            });
            from = current - MAX_BACKFILL + 1;
            self.recent.clear();
        }
        while from <= current {
            let to = (from + chunk - 1).min(current);
            match src.blocks(from, to).await {
                Ok(blocks) => {
                    for b in blocks {
                        Box::pin(self.accept(b, source, src, chunk, out)).await;
                    }
                }
                Err(reason) => {
                    out.push(Step::Gap {
                        from,
                        to: current,
                        reason,
                    });
                    return;
                }
            }
            from = to + 1;
        }
    }

    /// Take one candidate head. Fills any gap before it, detects reorgs, skips duplicates.
    pub async fn accept<S: BlockSource>(
        &mut self,
        block: WireBlock,
        source: HeadSource,
        src: &S,
        chunk: u64,
        out: &mut Vec<Step>,
    ) {
        let head = to_head(&block, source);
        let Some((tip_n, tip_h)) = self.tip() else {
            self.push(head, out);
            return;
        };
        if self.hash_at(head.number) == Some(head.hash) {
            return; // already shown
        }
        // Older than anything tracked: a notification that was queued while a
        // catch-up already fetched newer blocks. Not a reorg: nothing to compare with.
        if self
            .recent
            .front()
            .is_some_and(|(first, _)| head.number < *first)
        {
            return;
        }
        if head.number > tip_n + 1 {
            self.catch_up(head.number - 1, HeadSource::Backfill, src, chunk, out)
                .await;
            // The gap fill may itself have reorged; re-check against the new tip.
            if self.tip().is_some_and(|(n, _)| n + 1 == head.number) {
                return Box::pin(self.accept(block, source, src, chunk, out)).await;
            }
            // Could not fill: show it anyway, the gap has been reported.
            self.recent.clear();
            self.push(head, out);
            return;
        }
        if head.number == tip_n + 1 && head.parent_hash == tip_h {
            self.push(head, out);
            return;
        }
        self.reorg(head, src, out).await;
    }

    /// Walk back from `head` by parent hash to a block we have shown.
    async fn reorg<S: BlockSource>(&mut self, head: Head, src: &S, out: &mut Vec<Step>) {
        let Some((tip_n, tip_h)) = self.tip() else {
            return;
        };
        let mut branch = vec![head];
        loop {
            let cur = branch.last().map(|h| (h.number, h.parent_hash));
            let Some((n, parent)) = cur else { return };
            if n == 0 {
                break;
            }
            if self.hash_at(n - 1) == Some(parent) {
                break;
            }
            let too_deep = tip_n.saturating_sub(n - 1) > MAX_REORG_WALK
                || branch.len() as u64 > MAX_REORG_WALK
                || self.recent.front().is_none_or(|(first, _)| n - 1 < *first);
            if too_deep {
                // No common ancestor we know of: restart from the new branch.
                let from = branch.last().map_or(0, |h| h.number);
                out.push(Step::Reorg(Reorg {
                    depth: tip_n.saturating_sub(from) + 1,
                    from_number: from,
                    old_hash: tip_h,
                    new_hash: branch[0].hash,
                }));
                self.recent.clear();
                for h in branch.into_iter().rev() {
                    self.push(h, out);
                }
                return;
            }
            match src.block_by_hash(parent).await {
                Ok(Some(b)) => branch.push(to_head(&b, HeadSource::Backfill)),
                Ok(None) | Err(_) => {
                    out.push(Step::Gap {
                        from: n - 1,
                        to: n - 1,
                        reason: "reorg walk-back: parent block not found".into(),
                    });
                    self.recent.clear();
                    for h in branch.into_iter().rev() {
                        self.push(h, out);
                    }
                    return;
                }
            }
        }
        let ancestor = branch.last().map_or(0, |h| h.number.saturating_sub(1));
        let depth = tip_n.saturating_sub(ancestor);
        if depth > 0 {
            out.push(Step::Reorg(Reorg {
                depth,
                from_number: ancestor + 1,
                old_hash: tip_h,
                new_hash: branch[0].hash,
            }));
        }
        while self.tip().is_some_and(|(n, _)| n > ancestor) {
            self.recent.pop_back();
        }
        for h in branch.into_iter().rev() {
            self.push(h, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::U64;
    use std::collections::HashMap;
    use std::sync::Mutex;

    /// An in-memory chain standing in for the HTTP block source in these unit tests
    /// (the real HTTP path is covered by the anvil and devnet integration tests).
    #[derive(Default)]
    struct Chain {
        by_hash: Mutex<HashMap<B256, WireBlock>>,
        canonical: Mutex<Vec<B256>>,
    }

    fn hash(n: u64, fork: u8) -> B256 {
        let mut h = [0u8; 32];
        h[..8].copy_from_slice(&n.to_be_bytes());
        h[31] = fork;
        B256::from(h)
    }

    impl Chain {
        fn new(len: u64) -> Self {
            let c = Chain::default();
            for n in 0..len {
                c.add(n, 0, if n == 0 { B256::ZERO } else { hash(n - 1, 0) });
            }
            c
        }
        fn add(&self, n: u64, fork: u8, parent: B256) -> WireBlock {
            let b = WireBlock {
                hash: hash(n, fork),
                parent_hash: parent,
                number: U64::from(n),
                timestamp: U64::from(n * 12),
                gas_used: U64::from(1),
                gas_limit: U64::from(2),
                base_fee_per_gas: None,
                miner: None,
                transactions: None,
            };
            self.by_hash.lock().unwrap().insert(b.hash, b.clone());
            let mut c = self.canonical.lock().unwrap();
            c.truncate(n as usize);
            c.push(b.hash);
            b
        }
        fn block(&self, n: u64) -> WireBlock {
            let h = self.canonical.lock().unwrap()[n as usize];
            self.by_hash.lock().unwrap()[&h].clone()
        }
    }

    impl BlockSource for Chain {
        async fn blocks(&self, from: u64, to: u64) -> Result<Vec<WireBlock>, String> {
            Ok((from..=to).map(|n| self.block(n)).collect())
        }
        async fn block_by_hash(&self, hash: B256) -> Result<Option<WireBlock>, String> {
            Ok(self.by_hash.lock().unwrap().get(&hash).cloned())
        }
    }

    fn heads(out: &[Step]) -> Vec<(u64, HeadSource)> {
        out.iter()
            .filter_map(|s| match s {
                Step::Head(h) => Some((h.number, h.source)),
                _ => None,
            })
            .collect()
    }

    #[tokio::test]
    async fn fills_gaps_in_order_and_skips_duplicates() {
        let chain = Chain::new(20);
        let mut t = ChainTracker::default();
        let mut out = Vec::new();
        t.accept(chain.block(5), HeadSource::Ws, &chain, 4, &mut out)
            .await;
        t.accept(chain.block(6), HeadSource::Ws, &chain, 4, &mut out)
            .await;
        t.accept(chain.block(6), HeadSource::Ws, &chain, 4, &mut out)
            .await;
        t.accept(chain.block(15), HeadSource::Ws, &chain, 4, &mut out)
            .await;
        let got = heads(&out);
        assert_eq!(
            got.iter().map(|h| h.0).collect::<Vec<_>>(),
            (5..=15).collect::<Vec<_>>()
        );
        assert_eq!(got[2].1, HeadSource::Backfill);
        assert_eq!(got.last().unwrap().1, HeadSource::Ws);
        // Catch-up after a reconnect.
        out.clear();
        t.catch_up(19, HeadSource::Backfill, &chain, 4, &mut out)
            .await;
        assert_eq!(
            heads(&out).iter().map(|h| h.0).collect::<Vec<_>>(),
            vec![16, 17, 18, 19]
        );
    }

    #[tokio::test]
    async fn walks_back_a_reorg_announced_as_new_tip_only() {
        let chain = Chain::new(11); // 0..=10
        let mut t = ChainTracker::default();
        let mut out = Vec::new();
        for n in 5..=10 {
            t.accept(chain.block(n), HeadSource::Ws, &chain, 4, &mut out)
                .await;
        }
        // Replace 9 and 10, and announce only the new tip 11.
        let b9 = chain.add(9, 1, hash(8, 0));
        let b10 = chain.add(10, 1, b9.hash);
        let b11 = chain.add(11, 1, b10.hash);
        out.clear();
        t.accept(b11.clone(), HeadSource::Ws, &chain, 4, &mut out)
            .await;
        assert_eq!(
            out[0],
            Step::Reorg(Reorg {
                depth: 2,
                from_number: 9,
                old_hash: hash(10, 0),
                new_hash: b11.hash
            })
        );
        assert_eq!(
            heads(&out).iter().map(|h| h.0).collect::<Vec<_>>(),
            vec![9, 10, 11]
        );
        assert_eq!(t.tip(), Some((11, b11.hash)));
    }

    #[tokio::test]
    async fn queued_heads_older_than_a_catch_up_are_not_reorgs() {
        let chain = Chain::new(30);
        let mut t = ChainTracker::default();
        let mut out = Vec::new();
        // First connect: the catch-up shows the current head (25) at once...
        t.catch_up(25, HeadSource::Backfill, &chain, 4, &mut out)
            .await;
        // ...while notifications for 21..=25 were still queued behind it.
        for n in 21..=26 {
            t.accept(chain.block(n), HeadSource::Ws, &chain, 4, &mut out)
                .await;
        }
        assert!(!out.iter().any(|s| matches!(s, Step::Reorg(_))), "{out:?}");
        assert_eq!(
            heads(&out),
            vec![(25, HeadSource::Backfill), (26, HeadSource::Ws)]
        );
    }

    #[tokio::test]
    async fn replacement_at_same_height_is_a_reorg() {
        let chain = Chain::new(11);
        let mut t = ChainTracker::default();
        let mut out = Vec::new();
        for n in 8..=10 {
            t.accept(chain.block(n), HeadSource::Ws, &chain, 4, &mut out)
                .await;
        }
        out.clear();
        let b10 = chain.add(10, 2, hash(9, 0));
        t.accept(b10.clone(), HeadSource::Ws, &chain, 4, &mut out)
            .await;
        assert!(matches!(
            out[0],
            Step::Reorg(Reorg {
                depth: 1,
                from_number: 10,
                ..
            })
        ));
        assert_eq!(heads(&out), vec![(10, HeadSource::Ws)]);
    }
}
