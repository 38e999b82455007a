//! What a refresher remembers between refreshes: the values last sent (so only
//! changes go out) and what the endpoint taught it (its batch limit).

use std::collections::{HashMap, HashSet};

use alloy_primitives::{Address, B256, U256};

use crate::event::ViewValue;

/// Last values sent, so only changes go out.
#[derive(Default)]
pub(super) struct Last {
    pub balances: HashMap<Address, U256>,
    pub nonces: HashMap<Address, u64>,
    pub tokens: HashMap<(Address, Address), U256>,
    pub views: HashMap<(usize, usize), Result<ViewValue, String>>,
    pub meta_asked: HashSet<Address>,
    /// The block last scanned for activity.
    pub scanned_block: Option<B256>,
    /// Set once the endpoint refused a whole batch: the most entries per request.
    pub batch_limit: Option<usize>,
    /// Whether Multicall3 has code on this chain (`None`: not asked yet).
    pub multicall: Option<bool>,
    /// Failed code checks and whole `aggregate3` failures: after three, no Multicall3.
    pub multicall_checks: u32,
    /// Watched addresses seen sending in a scanned block: their nonce is read next.
    pub nonce_due: HashSet<Address>,
    /// Watched addresses seen moving (in a block, or a token's log): their balances
    /// are read next (`refresh = "on_activity"`).
    pub balance_due: HashSet<Address>,
    /// The block of the last read of every balance (`on_activity`).
    pub balances_swept: Option<u64>,
    /// The block each address's balances were last read at: a log of that block or
    /// an earlier one asks for nothing more.
    pub read_at: HashMap<Address, u64>,
    /// Addresses a log showed moving in a block after the head read last: read at
    /// that block's head, not before (`None`: at the next read, whatever it is).
    pub touched_later: HashMap<Address, Option<u64>>,
    /// The block of the last full nonce sweep (Multicall3 mode reads nonces only
    /// on activity, and all of them every `NONCE_SWEEP` blocks).
    pub nonces_swept: Option<u64>,
    /// The highest block scanned for activity, and whether blocks went unscanned
    /// (after a gap, or replaced by a reorg: a sender there would be missed or its
    /// transaction undone, so every nonce is read at the next refresh).
    pub scanned_to: Option<(u64, B256)>,
    pub unscanned: bool,
    /// The block `safe` and `finalized` were last asked at (in a chain group).
    pub finality_at: Option<u64>,
}

impl Last {
    /// Nothing read from the old chain is worth comparing with; what the endpoint
    /// accepts stays known.
    pub fn for_new_chain(&self) -> Self {
        Self {
            batch_limit: self.batch_limit,
            ..Self::default()
        }
    }

    /// Block `number` (`hash`) was scanned: after a gap, or a block that replaces
    /// one (a reorg), every nonce is due.
    pub fn scanned(&mut self, number: u64, hash: B256) {
        match self.scanned_to {
            Some((p, h)) if number == p && hash == h => {}
            // A block at or under the highest scanned is a replacement.
            Some((p, _)) if number <= p => self.unscanned = true,
            Some((p, _)) => {
                self.unscanned |= number > p + 1;
                self.scanned_to = Some((number, hash));
            }
            None => self.scanned_to = Some((number, hash)),
        }
    }

    pub fn forget(&mut self, keep: &[(Address, String)]) {
        let kept = |a: &Address| keep.iter().any(|(k, _)| k == a);
        self.balances.retain(|a, _| kept(a));
        self.nonces.retain(|a, _| kept(a));
        self.nonce_due.retain(kept);
        self.balance_due.retain(kept);
        self.read_at.retain(|a, _| kept(a));
        self.touched_later.retain(|a, _| kept(a));
        self.tokens.retain(|(h, _), _| kept(h));
    }

    /// Logs showed `touched` moving (with each log's block) and the reads are at
    /// `block`: due what was not read at or after the log's block; a log from a
    /// later block waits for its head (the node would answer from before it).
    pub fn take_touched(&mut self, touched: HashMap<Address, Option<u64>>, block: u64) {
        let mut all = std::mem::take(&mut self.touched_later);
        for (a, b) in touched {
            let e = all.entry(a).or_insert(b);
            *e = match (*e, b) {
                (Some(x), Some(y)) => Some(x.max(y)),
                _ => None,
            };
        }
        for (a, b) in all {
            match b {
                Some(b) if b > block => {
                    self.touched_later.insert(a, Some(b));
                }
                Some(b) if self.read_at.get(&a).is_some_and(|r| *r >= b) => {}
                _ => {
                    self.balance_due.insert(a);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_left_unscanned_make_every_nonce_due() {
        let h = B256::with_last_byte;
        let mut l = Last::default();
        for n in [10, 11, 12] {
            l.scanned(n, h(n as u8));
        }
        l.scanned(12, h(12));
        assert!(!l.unscanned, "one after another, and a block scanned twice");
        l.scanned(15, h(15));
        assert!(l.unscanned, "13 and 14 were fetched, not scanned");
        assert_eq!(l.scanned_to, Some((15, h(15))));
        l.unscanned = false;
        l.scanned(14, h(0xee));
        assert!(
            l.unscanned,
            "a replacement block (a reorg) may undo a sender's transaction"
        );
    }

    #[test]
    fn a_log_asks_for_a_read_not_made_since_its_block_and_waits_for_a_later_one() {
        let (a, b, c, d) = (
            Address::repeat_byte(1),
            Address::repeat_byte(2),
            Address::repeat_byte(3),
            Address::repeat_byte(4),
        );
        let mut l = Last::default();
        l.read_at.insert(a, 20);
        l.read_at.insert(b, 18);
        let touched = HashMap::from([(a, Some(20)), (b, Some(19)), (c, Some(21)), (d, None)]);
        l.take_touched(touched, 20);
        // a was read at 20 already; b only before its log; d's log was a retraction.
        assert_eq!(l.balance_due, HashSet::from([b, d]));
        // c's log is from block 21: read at its head, not at 20.
        assert_eq!(l.touched_later, HashMap::from([(c, Some(21))]));
        l.balance_due.clear();
        l.take_touched(HashMap::new(), 21);
        assert_eq!(l.balance_due, HashSet::from([c]));
        assert!(l.touched_later.is_empty());
    }
}
