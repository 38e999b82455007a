//! A network's recent heads: in order by number, replaced on reorgs, taken back
//! when orphaned; and what they say (block time, gas).

use alloy_primitives::B256;

use super::{NetworkState, ViewRow, WatchRow};
use crate::event::{Head, HeadSource, Reorg};

/// How many recent heads each network keeps.
pub const HEADS_KEPT: usize = 256;
/// How many recent heads the average block time is computed over.
const BLOCK_TIME_WINDOW: usize = 32;

/// One row of the recent-heads list.
#[derive(Debug, Clone, PartialEq)]
pub struct HeadRow {
    pub head: Head,
    /// This head replaced an orphaned one in a reorg.
    pub reorged: bool,
}

impl NetworkState {
    pub fn latest(&self) -> Option<&Head> {
        self.heads.back().map(|r| &r.head)
    }

    /// Average seconds between the last heads, from their timestamps.
    pub fn avg_block_time(&self) -> Option<f64> {
        let n = self.heads.len().min(BLOCK_TIME_WINDOW);
        if n < 2 {
            return None;
        }
        let last = &self.heads.back()?.head;
        let first = &self.heads.iter().nth(self.heads.len() - n)?.head;
        let blocks = last.number.checked_sub(first.number)?;
        if blocks == 0 {
            return None;
        }
        Some(last.timestamp.saturating_sub(first.timestamp) as f64 / blocks as f64)
    }

    /// Gas used as a percentage of the limit for the latest head.
    pub fn gas_used_pct(&self) -> Option<f64> {
        let h = self.latest()?;
        (h.gas_limit > 0).then(|| h.gas_used as f64 * 100.0 / h.gas_limit as f64)
    }

    pub(super) fn apply_head(&mut self, head: Head) {
        let reorged = self.reorg_replacing.contains(&head.number);
        self.reorg_replacing.retain(|n| *n != head.number);
        // A pushed head is the node's newest: anything shown above it is gone.
        if head.source == HeadSource::Ws {
            while self.latest().is_some_and(|l| l.number > head.number) {
                self.heads.pop_back();
            }
        }
        let row = HeadRow { head, reorged };
        let at = self
            .heads
            .iter()
            .rposition(|r| r.head.number <= row.head.number);
        match at {
            Some(i)
                if self
                    .heads
                    .get(i)
                    .is_some_and(|r| r.head.number == row.head.number) =>
            {
                // A new block at a shown number replaces it (a reorg); the same block
                // again (a catch-up overlapping pushed heads) keeps its mark.
                let reorged = row.reorged
                    || self
                        .heads
                        .get(i)
                        .is_some_and(|r| r.head.hash != row.head.hash || r.reorged);
                self.heads.replace(i, HeadRow { reorged, ..row });
            }
            // Heads mostly arrive in order; a backfilled one goes where it belongs.
            Some(i) => self.heads.insert(i + 1, row),
            None if self.heads.is_empty() => {
                self.heads.push(row);
            }
            // Older than every row kept: only worth it while there is room.
            None if self.heads.len() < self.heads.capacity() => self.heads.insert(0, row),
            None => {}
        }
    }

    /// Take back heads, and everything seen in them.
    pub(super) fn orphan(&mut self, orphaned: &[(u64, B256)]) {
        self.heads
            .retain(|r| !orphaned.contains(&(r.head.number, r.head.hash)));
        let hashes: Vec<B256> = orphaned.iter().map(|(_, h)| *h).collect();
        for e in self.events.iter_mut() {
            if e.block_hash.is_some_and(|h| hashes.contains(&h)) {
                e.removed = true;
            }
        }
        for w in &mut self.watches {
            if w.last_activity
                .as_ref()
                .is_some_and(|a| a.block_hash.is_some_and(|h| hashes.contains(&h)))
            {
                w.last_activity = None;
            }
        }
    }

    pub(super) fn apply_reorg(&mut self, reorg: Reorg) {
        self.reorgs += 1;
        self.deepest_reorg = self.deepest_reorg.max(reorg.depth);
        self.orphan(&reorg.orphaned);
        // Every number from the fork to the old tip was replaced, shown here or not: a
        // replacement already shown (pushed before the walk settled) is marked now,
        // the others when they arrive.
        let last = reorg.from_number + reorg.depth.saturating_sub(1);
        let replaced = reorg.from_number..=last;
        for r in self.heads.iter_mut() {
            r.reorged |= replaced.contains(&r.head.number);
        }
        let shown: Vec<u64> = self.heads.iter().map(|r| r.head.number).collect();
        self.reorg_replacing = replaced.filter(|n| !shown.contains(n)).collect();
        self.last_reorg = Some(reorg);
    }

    /// The node is on a new chain: nothing shown from the old one holds.
    pub(super) fn apply_chain_reset(&mut self) {
        self.chain_resets += 1;
        self.heads.clear();
        self.reorg_replacing.clear();
        for e in self.events.iter_mut() {
            e.removed = true;
        }
        for w in &mut self.watches {
            *w = WatchRow::new(std::mem::take(&mut w.label), w.address);
        }
        for c in &mut self.contracts {
            for v in &mut c.views {
                *v = ViewRow::new(std::mem::take(&mut v.call));
            }
        }
    }
}
