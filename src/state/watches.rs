//! Watched addresses on a network: balances, nonces, token balances, activity.

use alloy_primitives::{Address, B256, U256};

use super::NetworkState;

/// One watched address on one network.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchRow {
    pub label: String,
    pub address: Address,
    /// Latest balance in wei.
    pub balance: Option<U256>,
    /// First balance seen since start (for "change since start").
    pub initial: Option<U256>,
    /// Block of the latest balance.
    pub block: Option<u64>,
    /// Block at which the balance last changed.
    pub last_change_block: Option<u64>,
    /// The balance change at `last_change_block`: (is_negative, magnitude).
    pub last_delta: Option<(bool, U256)>,
    /// Transactions sent (`eth_getTransactionCount` at the latest refresh).
    pub nonce: Option<u64>,
    /// Balances of the network's tokens, in the order first seen.
    pub tokens: Vec<TokenBalanceRow>,
    /// The latest transaction seen touching this address.
    pub last_activity: Option<Activity>,
}

/// A watched address's balance of one token (raw units; format with the token's
/// decimals from `NetworkState::token`).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenBalanceRow {
    pub token: Address,
    pub amount: U256,
    /// First amount seen since start.
    pub initial: U256,
    pub block: u64,
    pub last_change_block: Option<u64>,
}

/// A transaction that touched a watched address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    pub block: Option<u64>,
    pub block_hash: Option<B256>,
    pub tx: B256,
}

impl WatchRow {
    pub fn new(label: impl Into<String>, address: Address) -> Self {
        Self {
            label: label.into(),
            address,
            balance: None,
            initial: None,
            block: None,
            last_change_block: None,
            last_delta: None,
            nonce: None,
            tokens: Vec::new(),
            last_activity: None,
        }
    }

    /// The balance change in block `latest` (usually the network's newest head), if
    /// the balance changed in that block.
    pub fn change_in_block(&self, latest: u64) -> Option<(bool, U256)> {
        (self.last_change_block == Some(latest))
            .then_some(self.last_delta)
            .flatten()
    }

    /// This address's balance of `token`, if read yet.
    pub fn token(&self, token: Address) -> Option<&TokenBalanceRow> {
        self.tokens.iter().find(|t| t.token == token)
    }

    /// Signed change since start: (is_negative, magnitude).
    pub fn change(&self) -> Option<(bool, U256)> {
        let (now, first) = (self.balance?, self.initial?);
        Some(if now >= first {
            (false, now - first)
        } else {
            (true, first - now)
        })
    }
}

impl NetworkState {
    /// A balance read at `block`: a change is recorded with its block and delta.
    pub(super) fn apply_balance(&mut self, address: Address, wei: U256, block: u64) -> bool {
        let mut changed = false;
        for w in self.watches.iter_mut().filter(|w| w.address == address) {
            if w.initial.is_none() {
                w.initial = Some(wei);
            }
            if let Some(old) = w.balance.filter(|b| *b != wei) {
                w.last_change_block = Some(block);
                w.last_delta = Some(if wei >= old {
                    (false, wei - old)
                } else {
                    (true, old - wei)
                });
            }
            changed |= w.balance != Some(wei);
            w.balance = Some(wei);
            w.block = Some(block);
        }
        changed
    }

    pub(super) fn apply_nonce(&mut self, address: Address, nonce: u64) -> bool {
        let mut changed = false;
        for w in self.watches.iter_mut().filter(|w| w.address == address) {
            changed |= w.nonce.replace(nonce) != Some(nonce);
        }
        changed
    }

    /// A transaction touching `address` in a block; an older block never replaces a
    /// newer one.
    pub(super) fn apply_activity(
        &mut self,
        address: Address,
        block: Option<u64>,
        block_hash: Option<B256>,
        tx: B256,
    ) -> bool {
        let mut changed = false;
        for w in self.watches.iter_mut().filter(|w| w.address == address) {
            let older = match (&w.last_activity, block) {
                (Some(a), Some(b)) => a.block.is_some_and(|x| x > b),
                (Some(a), None) => a.block.is_some() || a.tx == tx,
                (None, _) => false,
            };
            if !older {
                w.last_activity = Some(Activity {
                    block,
                    block_hash,
                    tx,
                });
                changed = true;
            }
        }
        changed
    }

    pub(super) fn apply_token_balance(
        &mut self,
        holder: Address,
        token: Address,
        amount: U256,
        block: u64,
    ) -> bool {
        let mut changed = false;
        for w in self.watches.iter_mut().filter(|w| w.address == holder) {
            match w.tokens.iter_mut().find(|t| t.token == token) {
                Some(t) => {
                    if t.amount != amount {
                        t.last_change_block = Some(block);
                        t.amount = amount;
                        changed = true;
                    }
                    t.block = block;
                }
                None => {
                    w.tokens.push(TokenBalanceRow {
                        token,
                        amount,
                        initial: amount,
                        block,
                        last_change_block: None,
                    });
                    changed = true;
                }
            }
        }
        changed
    }
}
