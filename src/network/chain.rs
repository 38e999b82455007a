//! The shown chain, kept gap-free and linked without ever waiting for HTTP inside
//! the tracker: every decision here is synchronous. A head that links to what is
//! shown is accepted at once; one that does not (a gap, a reorg, a late notification)
//! is reported as [`Offer::Unlinked`] and the chain task asks [`ChainTracker::need`]
//! which canonical blocks to fetch. Fetched blocks come back through
//! [`ChainTracker::apply_fetched`], which fills gaps, walks reorgs back (in batches,
//! by number) and reports what they orphaned. A pushed head that cannot be linked in
//! time is shown provisionally (`force`) and linked when the blocks arrive.

use std::collections::BTreeMap;

use alloy_primitives::B256;

use crate::event::{Head, HeadSource, Reorg};
use crate::rpc::types::WireBlock;

/// How many recent heads are remembered for linkage checks; also the deepest reorg
/// that can be walked back (deeper ones are resynchronised and reported as such).
pub const TRACKED: usize = 512;
/// Largest gap filled; beyond it the chain restarts from the node's head.
pub const MAX_BACKFILL: u64 = 10_000;
/// Blocks fetched per step of a reorg walk.
const WALK_CHUNK: u64 = 50;

/// What the tracker decided, in the order it must be shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Head(Head),
    /// Shown heads replaced by another branch; comes before the replacement heads.
    Reorg(Reorg),
    /// Heads that could not be fetched (shown as an error, never silently).
    Gap {
        from: u64,
        to: u64,
        reason: String,
    },
    /// A shown head that the node says does not exist: taken back.
    Retracted {
        number: u64,
        hash: B256,
    },
    /// The node is on another chain (its genesis changed): everything shown is gone.
    Reset {
        genesis: B256,
        previous: B256,
        orphaned: Vec<(u64, B256)>,
    },
}

/// What happened to one offered head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// Shown (steps were pushed).
    Shown,
    /// Already shown with this hash.
    Known,
    /// Older than anything tracked: a notification queued behind newer blocks.
    Stale,
    /// Does not link to what is shown: blocks must be fetched first.
    Unlinked,
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
        seen: None,
    }
}

#[derive(Debug, Clone)]
struct Entry {
    hash: B256,
    parent: B256,
    /// Verified to connect, parent by parent, to the oldest tracked head.
    linked: bool,
}

#[derive(Debug, Default)]
pub struct ChainTracker {
    shown: BTreeMap<u64, Entry>,
    /// Shown heads pushed aside by a provisional head before anything could tell
    /// whether a reorg orphaned them; reported by the reorg that settles it.
    displaced: Vec<(u64, B256)>,
    /// The node's head as it last told us (catch-up target).
    target: Option<u64>,
    /// Canonical blocks fetched above a fork point not found yet (a reorg walk).
    branch: BTreeMap<u64, Head>,
    /// Shown heads the node said it does not have (asked once). Replaced by another
    /// head, they are taken back, not counted as a reorg.
    suspects: std::collections::HashSet<B256>,
}

/// The blocks to fetch next, by number, inclusive.
pub type Need = (u64, u64);

impl ChainTracker {
    /// The newest shown head.
    pub fn tip(&self) -> Option<(u64, B256)> {
        self.shown.last_key_value().map(|(n, e)| (*n, e.hash))
    }

    fn first(&self) -> Option<u64> {
        self.shown.first_key_value().map(|(n, _)| *n)
    }

    /// Is `hash` shown as the head at `number`?
    pub fn shows(&self, number: u64, hash: B256) -> bool {
        self.shown.get(&number).is_some_and(|e| e.hash == hash)
    }

    /// Is everything shown linked, with nothing left to fetch?
    pub fn settled(&self) -> bool {
        self.need(None).is_none()
    }

    fn parent_linked(&self, number: u64, parent: B256) -> bool {
        number > self.first().unwrap_or(u64::MAX)
            && self
                .shown
                .get(&(number - 1))
                .is_some_and(|p| p.linked && p.hash == parent)
    }

    /// After an outage the shown tip may have been replaced at the same height (a
    /// reorg while away, a rollback): have it checked against the node, whose head is
    /// now `current` (the newest shown head at or below it is checked).
    pub fn recheck(&mut self, current: u64) {
        if let Some((_, e)) = self.shown.range_mut(..=current).next_back() {
            e.linked = false;
        }
    }

    /// The node reported its head: catch up to it.
    pub fn set_target(&mut self, current: u64, out: &mut Vec<Step>) {
        if let Some((tip, _)) = self.tip()
            && current > tip.saturating_add(MAX_BACKFILL)
        {
            out.push(Step::Gap {
                from: tip + 1,
                to: current - 1,
                reason: format!(
                    "more than {} heads missed; following from the node's head",
                    crate::fmt::thousands(MAX_BACKFILL)
                ),
            });
            self.shown.clear();
            self.displaced.clear();
            self.branch.clear();
        }
        if self.tip().is_none_or(|(tip, _)| current > tip) {
            self.target = Some(self.target.map_or(current, |t| t.max(current)));
        }
    }

    /// Offer one head. `trusted`: it is the node's canonical block at its number
    /// (fetched over HTTP), so it may rewrite shown history. `force`: show it even if
    /// it does not link (provisionally; linked when the blocks before it arrive).
    pub fn offer(&mut self, head: Head, trusted: bool, force: bool, out: &mut Vec<Step>) -> Offer {
        let n = head.number;
        let Some(first) = self.first() else {
            self.insert(head, true, out);
            return Offer::Shown;
        };
        if n < first {
            return Offer::Stale;
        }
        if let Some(e) = self.shown.get(&n)
            && e.hash == head.hash
        {
            if !e.linked && (n == first || self.parent_linked(n, head.parent_hash)) {
                self.promote(n);
            }
            return Offer::Known;
        }
        let links = self.parent_linked(n, head.parent_hash);
        let tip = self.tip().map_or(0, |(t, _)| t);
        // A pushed head below the tip would rewrite what is shown: it may be a late
        // notification from a branch already left, so the node is asked first.
        if links && (trusted || force || n >= tip) {
            self.link(head, out);
            return Offer::Shown;
        }
        // The child of a provisional tip chains on it (and is linked with it).
        if n == tip + 1
            && self
                .shown
                .get(&tip)
                .is_some_and(|p| p.hash == head.parent_hash)
        {
            self.insert(head, false, out);
            return Offer::Shown;
        }
        if !force {
            return Offer::Unlinked;
        }
        // Shown now, linked later: what it pushes aside is reported when settled.
        let pushed: Vec<u64> = self.shown.range(n..).map(|(k, _)| *k).collect();
        for k in pushed {
            if let Some(e) = self.shown.remove(&k) {
                self.displaced.push((k, e.hash));
            }
        }
        self.insert(head, false, out);
        Offer::Shown
    }

    fn insert(&mut self, head: Head, linked: bool, out: &mut Vec<Step>) {
        let n = head.number;
        self.shown.insert(
            n,
            Entry {
                hash: head.hash,
                parent: head.parent_hash,
                linked,
            },
        );
        if self.target.is_some_and(|t| t <= n) {
            self.target = None;
        }
        out.push(Step::Head(head));
        if linked {
            self.promote(n + 1);
        }
        while self.shown.len() > TRACKED {
            self.shown.pop_first();
        }
        // The oldest tracked head is the anchor: linked by definition.
        if let Some(mut e) = self.shown.first_entry() {
            e.get_mut().linked = true;
        }
        let first = self.first().unwrap_or(0);
        self.displaced.retain(|(k, _)| *k >= first);
    }

    /// Accept a head whose parent is the shown, linked head below it; whatever it
    /// replaces is orphaned.
    fn link(&mut self, head: Head, out: &mut Vec<Step>) {
        let n = head.number;
        let above: Vec<u64> = self.shown.range(n..).map(|(k, _)| *k).collect();
        let mut orphaned: Vec<(u64, B256)> = Vec::new();
        for k in above {
            // What sat on the replaced head goes with it: linked heads, and heads
            // whose parent was just orphaned. Other provisional heads above may be the
            // new branch: they are checked when their parent arrives.
            let goes = self.shown.get(&k).is_some_and(|e| {
                k == n || e.linked || orphaned.last().is_some_and(|(_, h)| *h == e.parent)
            });
            if goes && let Some(e) = self.shown.remove(&k) {
                orphaned.push((k, e.hash));
            }
        }
        self.displaced.retain(|d| {
            let gone = d.0 >= n;
            if gone {
                orphaned.push(*d);
            }
            !gone
        });
        orphaned.sort();
        orphaned.dedup();
        if !orphaned.is_empty() && orphaned.iter().all(|(_, h)| self.suspects.contains(h)) {
            // Heads the node never had, replaced by the real one: not a reorg.
            for (number, hash) in orphaned.drain(..) {
                self.suspects.remove(&hash);
                out.push(Step::Retracted { number, hash });
            }
        }
        if let Some(&(old_n, old_hash)) = orphaned.last() {
            out.push(Step::Reorg(Reorg {
                depth: old_n - n + 1,
                from_number: n,
                old_hash,
                new_hash: head.hash,
                orphaned,
                deeper_than_tracked: false,
            }));
        }
        self.insert(head, true, out);
    }

    /// Mark provisional heads from `from` up as linked while they chain on (the
    /// oldest tracked one is linked by definition).
    fn promote(&mut self, from: u64) {
        if self.first() == Some(from)
            && let Some(e) = self.shown.get_mut(&from)
        {
            e.linked = true;
            return self.promote(from + 1);
        }
        let mut m = from;
        loop {
            let prev = m.checked_sub(1).and_then(|p| self.shown.get(&p)).cloned();
            match (self.shown.get_mut(&m), prev) {
                (Some(e), Some(p)) if !e.linked && p.linked && p.hash == e.parent => {
                    e.linked = true;
                    m += 1;
                }
                _ => return,
            }
        }
    }

    /// Which canonical blocks to fetch next (at most `chunk`), if any. `held` is the
    /// number of a pushed head waiting to be linked.
    pub fn need_chunk(&self, held: Option<u64>, chunk: u64) -> Option<Need> {
        self.need(held)
            .map(|(from, to)| (from, to.min(from + chunk.max(1) - 1)))
    }

    fn need(&self, held: Option<u64>) -> Option<Need> {
        let Some(first) = self.first() else {
            // Nothing shown yet: the node's current head only.
            return self.target.map(|t| (t, t));
        };
        let tip = self.tip().map_or(first, |(t, _)| t);
        // A reorg walk in progress: the chunk below the lowest fetched block.
        if let Some((&low, _)) = self.branch.first_key_value() {
            let to = low - 1;
            return Some((to.saturating_sub(WALK_CHUNK - 1).max(first), to));
        }
        // The lowest number that is missing or not linked.
        let mut trouble = None;
        let mut expected = first;
        for (&k, e) in &self.shown {
            if k != expected {
                trouble = Some(expected);
                break;
            }
            if !e.linked {
                trouble = Some(k);
                break;
            }
            expected = k + 1;
        }
        let top = self
            .shown
            .last_key_value()
            .map_or(tip, |(k, _)| *k)
            .max(self.target.unwrap_or(0));
        let from_shown = match trouble {
            Some(k) => Some((k, top)),
            None if top > tip => Some((tip + 1, top)),
            None => None,
        };
        let from_held = held.map(|h| (h.min(tip + 1).max(first), h));
        match (from_shown, from_held) {
            (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
            (a, b) => a.or(b),
        }
    }

    /// Apply the node's canonical blocks `from..` (ascending, `None` where the node
    /// has no block at that number). Fills gaps, settles provisional heads and reorgs.
    pub fn apply_fetched(&mut self, blocks: Vec<Option<Head>>, out: &mut Vec<Step>) {
        let mut got: Vec<Head> = blocks.into_iter().map_while(|b| b).collect();
        if got.is_empty() {
            return;
        }
        let top = got.last().map_or(0, |h| h.number);
        // Blocks fetched earlier above a fork point continue this batch.
        let branch = std::mem::take(&mut self.branch);
        got.extend(branch.into_values().filter(|h| h.number > top));
        let (Some(first), Some((tip, _))) = (self.first(), self.tip()) else {
            for h in got {
                self.offer(h, true, false, out);
            }
            return;
        };
        // Older than everything tracked (the node's answer to a question asked
        // before newer heads arrived): nothing to compare it with.
        got.retain(|h| h.number >= first);
        let Some(lowest) = got.first() else {
            return;
        };
        // Placed: it links below, or it is already shown and linked. A provisional
        // head confirmed by the node still needs the fork below it found.
        let placed = self.parent_linked(lowest.number, lowest.parent_hash)
            || self
                .shown
                .get(&lowest.number)
                .is_some_and(|e| e.hash == lowest.hash && (e.linked || lowest.number == first));
        if !placed {
            if lowest.number > tip + 1 {
                return; // not contiguous with anything shown
            }
            if lowest.number <= first {
                self.resync(&got, out);
            } else {
                // The fork is lower: keep these and fetch the chunk below.
                self.branch = got.into_iter().map(|h| (h.number, h)).collect();
                return;
            }
        }
        for h in got {
            self.offer(h, true, false, out);
        }
    }

    /// The fork is below everything tracked: everything shown is orphaned and the
    /// chain restarts from the node's blocks.
    fn resync(&mut self, got: &[Head], out: &mut Vec<Step>) {
        let (Some(first), Some((old_n, old_hash))) = (self.first(), self.tip()) else {
            return;
        };
        let mut orphaned: Vec<(u64, B256)> = self.shown.iter().map(|(k, e)| (*k, e.hash)).collect();
        orphaned.append(&mut self.displaced);
        orphaned.sort();
        orphaned.dedup();
        self.shown.clear();
        self.branch.clear();
        out.push(Step::Reorg(Reorg {
            depth: old_n.saturating_sub(first) + 1,
            from_number: first,
            old_hash,
            new_hash: got.first().map_or(B256::ZERO, |h| h.hash),
            orphaned,
            deeper_than_tracked: true,
        }));
    }

    /// The node did not know this head when asked (once): if another head replaces
    /// it, it is taken back rather than reported as a reorg.
    pub fn suspect(&mut self, hash: B256) {
        let shown = self.shown.values().any(|e| e.hash == hash);
        if shown {
            if self.suspects.len() >= TRACKED {
                self.suspects.clear();
            }
            self.suspects.insert(hash);
        }
    }

    /// The node says this shown head does not exist: take it back, and re-check
    /// what was linked through it.
    pub fn retract(&mut self, hash: B256, out: &mut Vec<Step>) {
        let found = self
            .shown
            .iter()
            .find(|(_, e)| e.hash == hash)
            .map(|(k, _)| *k);
        if let Some(n) = found {
            self.shown.remove(&n);
            for (_, e) in self.shown.range_mut(n..) {
                e.linked = false;
            }
            out.push(Step::Retracted { number: n, hash });
        } else if let Some(i) = self.displaced.iter().position(|(_, h)| *h == hash) {
            let (number, hash) = self.displaced.remove(i);
            out.push(Step::Retracted { number, hash });
        }
    }

    /// The node is on another chain (new genesis): forget everything; returns what
    /// was shown.
    pub fn reset(&mut self) -> Vec<(u64, B256)> {
        let mut all: Vec<(u64, B256)> = self.shown.iter().map(|(k, e)| (*k, e.hash)).collect();
        all.append(&mut self.displaced);
        *self = Self::default();
        all
    }
}

#[cfg(test)]
mod tests;
