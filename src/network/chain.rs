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
mod tests {
    use super::*;

    fn hash(n: u64, fork: u8) -> B256 {
        let mut h = [0u8; 32];
        h[..8].copy_from_slice(&n.to_be_bytes());
        h[31] = fork;
        B256::from(h)
    }

    /// Head `n` of branch `fork`, whose parent is on branch `parent_fork`.
    fn head(n: u64, fork: u8, parent_fork: u8) -> Head {
        Head {
            number: n,
            hash: hash(n, fork),
            parent_hash: hash(n.wrapping_sub(1), parent_fork),
            timestamp: n * 12,
            gas_used: 1,
            gas_limit: 2,
            base_fee: None,
            tx_count: Some(0),
            source: HeadSource::Ws,
        }
    }

    fn main(n: u64) -> Head {
        head(n, 0, 0)
    }

    fn fetched(range: std::ops::RangeInclusive<u64>, f: impl Fn(u64) -> Head) -> Vec<Option<Head>> {
        range
            .map(|n| {
                let mut h = f(n);
                h.source = HeadSource::Backfill;
                Some(h)
            })
            .collect()
    }

    fn shown(out: &[Step]) -> Vec<(u64, u8, HeadSource)> {
        out.iter()
            .filter_map(|s| match s {
                Step::Head(h) => Some((h.number, h.hash[31], h.source)),
                _ => None,
            })
            .collect()
    }

    fn reorgs(out: &[Step]) -> Vec<&Reorg> {
        out.iter()
            .filter_map(|s| match s {
                Step::Reorg(r) => Some(r),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn linked_heads_are_shown_at_once_and_duplicates_skipped() {
        let mut t = ChainTracker::default();
        let mut out = Vec::new();
        for n in 5..=7 {
            assert_eq!(t.offer(main(n), false, false, &mut out), Offer::Shown);
        }
        assert_eq!(t.offer(main(7), false, false, &mut out), Offer::Known);
        assert_eq!(t.offer(main(3), false, false, &mut out), Offer::Stale);
        assert_eq!(shown(&out).len(), 3);
        assert!(t.settled());
    }

    #[test]
    fn a_gap_is_unlinked_until_fetched_then_filled_in_order() {
        let mut t = ChainTracker::default();
        let mut out = Vec::new();
        t.offer(main(5), false, false, &mut out);
        assert_eq!(t.offer(main(9), false, false, &mut out), Offer::Unlinked);
        assert_eq!(t.need_chunk(Some(9), 50), Some((6, 9)));
        assert_eq!(t.need_chunk(Some(9), 2), Some((6, 7)), "chunked");
        out.clear();
        t.apply_fetched(fetched(6..=8, main), &mut out);
        assert_eq!(t.offer(main(9), false, false, &mut out), Offer::Shown);
        assert_eq!(
            shown(&out),
            vec![
                (6, 0, HeadSource::Backfill),
                (7, 0, HeadSource::Backfill),
                (8, 0, HeadSource::Backfill),
                (9, 0, HeadSource::Ws)
            ]
        );
        assert!(t.settled());
    }

    #[test]
    fn a_forced_head_is_shown_first_and_its_gap_filled_after() {
        let mut t = ChainTracker::default();
        let mut out = Vec::new();
        t.offer(main(5), false, false, &mut out);
        assert_eq!(t.offer(main(9), false, true, &mut out), Offer::Shown);
        // The next pushed head links to the provisional one and is shown too.
        assert_eq!(t.offer(main(10), false, false, &mut out), Offer::Shown);
        assert!(!t.settled());
        assert_eq!(t.need_chunk(None, 50), Some((6, 10)));
        assert_eq!(t.need_chunk(None, 2), Some((6, 7)));
        t.apply_fetched(fetched(6..=10, main), &mut out);
        assert!(t.settled(), "the provisional heads are linked now");
        let numbers: Vec<u64> = shown(&out).iter().map(|s| s.0).collect();
        assert_eq!(numbers, vec![5, 9, 10, 6, 7, 8]);
        assert!(reorgs(&out).is_empty());
    }

    #[test]
    fn a_reorg_announced_as_the_new_tip_is_walked_back_and_reports_what_it_orphaned() {
        let mut t = ChainTracker::default();
        let mut out = Vec::new();
        for n in 5..=10 {
            t.offer(main(n), false, false, &mut out);
        }
        // 9 and 10 replaced; only the new tip 11 (branch 1) is announced.
        let tip = head(11, 1, 1);
        assert_eq!(
            t.offer(tip.clone(), false, false, &mut out),
            Offer::Unlinked
        );
        let need = t.need_chunk(Some(11), 50).expect("need");
        assert_eq!(need, (11, 11));
        out.clear();
        // The node's canonical chain: 9' (parent 8), 10', 11'.
        let canon = |n: u64| if n == 9 { head(9, 1, 0) } else { head(n, 1, 1) };
        t.apply_fetched(fetched(11..=11, canon), &mut out);
        assert!(out.is_empty(), "11' does not link to 10: walk lower");
        assert_eq!(t.need_chunk(Some(11), 50), Some((5, 10)));
        t.apply_fetched(
            fetched(5..=10, |n| if n < 9 { main(n) } else { canon(n) }),
            &mut out,
        );
        let r = reorgs(&out);
        assert_eq!(r.len(), 1);
        assert_eq!(
            (
                r[0].depth,
                r[0].from_number,
                r[0].old_hash,
                r[0].orphaned.clone()
            ),
            (2, 9, hash(10, 0), vec![(9, hash(9, 0)), (10, hash(10, 0))])
        );
        assert!(
            matches!(out[0], Step::Reorg(_)),
            "the reorg comes before its heads"
        );
        assert_eq!(t.offer(tip, false, false, &mut out), Offer::Known);
        assert_eq!(t.tip(), Some((11, hash(11, 1))));
        assert!(t.settled());
    }

    #[test]
    fn a_same_height_replacement_is_a_depth_1_reorg_without_fetching() {
        let mut t = ChainTracker::default();
        let mut out = Vec::new();
        for n in 8..=10 {
            t.offer(main(n), false, false, &mut out);
        }
        out.clear();
        assert_eq!(
            t.offer(head(10, 2, 0), false, false, &mut out),
            Offer::Shown
        );
        let r = reorgs(&out);
        assert_eq!((r[0].depth, r[0].from_number), (1, 10));
        assert_eq!(shown(&out), vec![(10, 2, HeadSource::Ws)]);
    }

    #[test]
    fn a_late_pushed_head_below_the_tip_is_checked_before_it_rewrites_history() {
        let mut t = ChainTracker::default();
        let mut out = Vec::new();
        for n in 5..=10 {
            t.offer(main(n), false, false, &mut out);
        }
        // A notification from a branch the node has already left: links to 6 but
        // would orphan 7..10.
        assert_eq!(
            t.offer(head(7, 3, 0), false, false, &mut out),
            Offer::Unlinked
        );
        assert_eq!(t.need_chunk(Some(7), 50), Some((7, 7)));
        out.clear();
        t.apply_fetched(fetched(7..=7, main), &mut out);
        assert!(out.is_empty(), "the node confirms what is shown");
        assert_eq!(t.tip(), Some((10, hash(10, 0))));
    }

    #[test]
    fn a_reorg_deeper_than_what_is_tracked_resynchronises_and_says_so() {
        let mut t = ChainTracker::default();
        let mut out = Vec::new();
        for n in 1000..1000 + TRACKED as u64 {
            t.offer(main(n), false, false, &mut out);
        }
        let tip = 1000 + TRACKED as u64 - 1;
        out.clear();
        // After an outage, the node is on a branch that forked below 1000.
        t.set_target(tip + 5, &mut out);
        let other = |n: u64| head(n, 7, 7);
        let mut low = tip + 1;
        t.apply_fetched(fetched(low..=tip + 5, other), &mut out);
        while let Some((from, to)) = t.need_chunk(None, 50) {
            assert!(from < low, "walks down");
            low = from;
            t.apply_fetched(fetched(from..=to, other), &mut out);
            if !out.is_empty() {
                break;
            }
        }
        let r = reorgs(&out);
        assert_eq!(r.len(), 1, "{out:?}");
        assert!(r[0].deeper_than_tracked);
        assert_eq!(r[0].orphaned.len(), TRACKED);
        assert_eq!(r[0].depth, TRACKED as u64);
        assert_eq!(t.tip(), Some((tip + 5, hash(tip + 5, 7))));
        assert!(t.settled());
    }

    #[test]
    fn a_forced_head_on_another_branch_is_settled_as_a_reorg_of_what_it_displaced() {
        let mut t = ChainTracker::default();
        let mut out = Vec::new();
        for n in 5..=10 {
            t.offer(main(n), false, false, &mut out);
        }
        // HTTP is slow: the new branch's tip 10' is shown before its parent is known.
        t.offer(head(10, 1, 1), false, true, &mut out);
        out.clear();
        t.apply_fetched(
            fetched(
                9..=10,
                |n| if n == 9 { head(9, 1, 0) } else { head(n, 1, 1) },
            ),
            &mut out,
        );
        let r = reorgs(&out);
        assert_eq!(r[0].orphaned, vec![(9, hash(9, 0)), (10, hash(10, 0))]);
        assert!(t.settled());
    }

    #[test]
    fn a_forced_tip_the_node_confirms_still_has_its_fork_found() {
        let mut t = ChainTracker::default();
        let mut out = Vec::new();
        for n in 30..=34 {
            t.offer(main(n), false, false, &mut out);
        }
        // 32..34 replaced; 35' announced and shown before HTTP could answer.
        t.offer(head(35, 1, 1), false, true, &mut out);
        t.offer(head(36, 1, 1), false, false, &mut out);
        let canon = |n: u64| match n {
            ..=31 => main(n),
            32 => head(32, 1, 0),
            _ => head(n, 1, 1),
        };
        out.clear();
        let mut fetches = 0;
        while let Some((from, to)) = t.need_chunk(None, 50) {
            fetches += 1;
            assert!(fetches < 5, "no progress: {from}..={to}");
            t.apply_fetched(fetched(from..=to, canon), &mut out);
        }
        let r = reorgs(&out);
        assert_eq!(r.len(), 1, "{out:?}");
        assert_eq!(
            r[0].orphaned,
            vec![(32, hash(32, 0)), (33, hash(33, 0)), (34, hash(34, 0))]
        );
        assert_eq!(
            shown(&out).iter().map(|h| (h.0, h.1)).collect::<Vec<_>>(),
            vec![(32, 1), (33, 1), (34, 1)]
        );
        assert_eq!(t.tip(), Some((36, hash(36, 1))));
    }

    #[test]
    fn blocks_fetched_below_the_first_tracked_head_are_not_a_reorg() {
        let mut t = ChainTracker::default();
        let mut out = Vec::new();
        t.set_target(1, &mut out);
        // The pushed head 2 arrives while block 1 is being fetched.
        t.offer(main(2), false, false, &mut out);
        t.apply_fetched(fetched(1..=1, main), &mut out);
        assert!(reorgs(&out).is_empty(), "{out:?}");
        assert_eq!(shown(&out).len(), 1);
        assert!(t.settled());
    }

    #[test]
    fn a_tip_replaced_at_the_same_height_while_away_is_found_on_recheck() {
        let mut t = ChainTracker::default();
        let mut out = Vec::new();
        for n in 5..=10 {
            t.offer(main(n), false, false, &mut out);
        }
        t.recheck(10);
        t.set_target(10, &mut out);
        assert_eq!(t.need_chunk(None, 50), Some((10, 10)));
        out.clear();
        // 9 and 10 were replaced while away.
        let canon = |n: u64| match n {
            9 => head(9, 1, 0),
            10 => head(10, 1, 1),
            _ => main(n),
        };
        while let Some((from, to)) = t.need_chunk(None, 50) {
            t.apply_fetched(fetched(from..=to, canon), &mut out);
        }
        let r = reorgs(&out);
        assert_eq!(
            (r.len(), r[0].depth, r[0].from_number),
            (1, 2, 9),
            "{out:?}"
        );
        // Nothing changed: the recheck settles with one fetch and no steps.
        let mut t = ChainTracker::default();
        t.offer(main(5), false, false, &mut out);
        t.offer(main(6), false, false, &mut out);
        out.clear();
        t.recheck(6);
        t.apply_fetched(fetched(6..=6, main), &mut out);
        assert!(out.is_empty() && t.settled(), "{out:?}");
        // A lone anchor too.
        let mut t = ChainTracker::default();
        t.offer(main(5), false, false, &mut out);
        out.clear();
        t.recheck(9);
        t.apply_fetched(fetched(5..=5, main), &mut out);
        assert!(out.is_empty() && t.settled(), "{out:?}");
    }

    #[test]
    fn retraction_takes_back_an_invented_head() {
        let mut t = ChainTracker::default();
        let mut out = Vec::new();
        for n in 5..=7 {
            t.offer(main(n), false, false, &mut out);
        }
        let fake = head(8, 9, 0);
        t.offer(fake.clone(), false, false, &mut out);
        out.clear();
        t.retract(fake.hash, &mut out);
        assert_eq!(
            out,
            vec![Step::Retracted {
                number: 8,
                hash: fake.hash
            }]
        );
        out.clear();
        // The real 8 then links without a reorg.
        assert_eq!(t.offer(main(8), false, false, &mut out), Offer::Shown);
        assert!(reorgs(&out).is_empty());
    }

    #[test]
    fn a_suspect_head_replaced_by_the_real_one_is_retracted_not_a_reorg() {
        let mut t = ChainTracker::default();
        let mut out = Vec::new();
        for n in 5..=7 {
            t.offer(main(n), false, false, &mut out);
        }
        let fake = head(8, 9, 0);
        t.offer(fake.clone(), false, false, &mut out);
        t.suspect(fake.hash);
        out.clear();
        t.offer(main(8), false, false, &mut out);
        assert_eq!(
            out,
            vec![
                Step::Retracted {
                    number: 8,
                    hash: fake.hash
                },
                Step::Head(main(8))
            ]
        );
        // A head the node did know is a reorg as before.
        out.clear();
        t.offer(head(8, 2, 0), false, false, &mut out);
        assert_eq!(reorgs(&out).len(), 1);
    }

    #[test]
    fn catch_up_targets_and_the_first_head() {
        let mut t = ChainTracker::default();
        let mut out = Vec::new();
        t.set_target(100, &mut out);
        assert_eq!(
            t.need_chunk(None, 50),
            Some((100, 100)),
            "first connect: the current head"
        );
        t.apply_fetched(fetched(100..=100, main), &mut out);
        t.set_target(180, &mut out);
        assert_eq!(t.need_chunk(None, 50), Some((101, 150)));
        t.apply_fetched(fetched(101..=150, main), &mut out);
        assert_eq!(t.need_chunk(None, 50), Some((151, 180)));
        // A fetch that stops early (the HTTP node is behind) is applied as far as it goes.
        let mut part = fetched(151..=160, main);
        part.push(None);
        t.apply_fetched(part, &mut out);
        assert_eq!(t.need_chunk(None, 50), Some((161, 180)));
        t.set_target(20_000, &mut out);
        assert!(
            matches!(
                out.last(),
                Some(Step::Gap {
                    from: 161,
                    to: 19_999,
                    ..
                })
            ),
            "{:?}",
            out.last()
        );
    }
}
