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
