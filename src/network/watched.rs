//! The network's watched addresses (changed at runtime), its tokens' metadata (read
//! once), and whether the `logs` subscription is live: shared by the session, the
//! refresh task, the chain task and the log task.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, RwLock};

use alloy_primitives::Address;
use tokio::sync::Notify;

use crate::event::TokenMeta;

/// The network's watched addresses (changed at runtime) and token metadata (read
/// once), shared by the supervisor, the watch task and the log task.
#[derive(Debug, Default)]
pub(crate) struct Watched {
    addresses: RwLock<Vec<(Address, String)>>,
    tokens: RwLock<HashMap<Address, TokenMeta>>,
    /// Woken when the address list changes, so new addresses are read at once.
    pub changed: Notify,
    /// Woken too, for the session: the tokens' `logs` filters name the watched
    /// addresses.
    pub filters_changed: Notify,
    /// Set once token metadata has been read, so logs are not rendered before
    /// their amounts can be formatted with the token's decimals.
    pub meta_ready: AtomicBool,
    pub meta_notify: Notify,
    /// The `logs` subscription is active on the current connection; while it is not,
    /// the logs of each new head are fetched with `eth_getLogs`.
    pub logs_live: AtomicBool,
    /// Watched addresses a log showed moving (a token `Transfer`), with the block
    /// of the log (`None`: a retraction, or a log not mined): with
    /// `refresh = "on_activity"` their balances are read at once, unless a read
    /// at that block or later was already made.
    touched: Mutex<HashMap<Address, Option<u64>>>,
    /// Woken when `touched` gains addresses.
    pub touched_changed: Notify,
}

impl Watched {
    pub fn new(addresses: Vec<(Address, String)>) -> Self {
        Self {
            addresses: RwLock::new(addresses),
            ..Self::default()
        }
    }

    pub fn addresses(&self) -> Vec<(Address, String)> {
        match self.addresses.read() {
            Ok(a) => a.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    pub fn contains(&self, address: Address) -> bool {
        match self.addresses.read() {
            Ok(a) => a.iter().any(|(x, _)| *x == address),
            Err(p) => p.into_inner().iter().any(|(x, _)| *x == address),
        }
    }

    pub fn add(&self, address: Address, label: String) {
        let mut list = match self.addresses.write() {
            Ok(a) => a,
            Err(p) => p.into_inner(),
        };
        match list.iter_mut().find(|(a, _)| *a == address) {
            Some(entry) => entry.1 = label,
            None => list.push((address, label)),
        }
        drop(list);
        self.changed.notify_one();
        self.filters_changed.notify_one();
    }

    pub fn remove(&self, address: Address) {
        match self.addresses.write() {
            Ok(mut a) => a.retain(|(x, _)| *x != address),
            Err(p) => p.into_inner().retain(|(x, _)| *x != address),
        }
        self.changed.notify_one();
        self.filters_changed.notify_one();
    }

    /// A log of `block` showed `addresses` moving: wake the refresh for them. A
    /// log without a block (a retraction) makes the read due whatever was read.
    pub fn touch(&self, addresses: &[Address], block: Option<u64>) {
        if addresses.is_empty() {
            return;
        }
        let add = |t: &mut HashMap<Address, Option<u64>>| {
            for a in addresses {
                let e = t.entry(*a).or_insert(block);
                // The later block, and no block over any block.
                *e = match (*e, block) {
                    (Some(x), Some(y)) => Some(x.max(y)),
                    _ => None,
                };
            }
        };
        match self.touched.lock() {
            Ok(mut t) => add(&mut t),
            Err(p) => add(&mut p.into_inner()),
        }
        self.touched_changed.notify_one();
    }

    /// The addresses touched since the last call, with their blocks.
    pub fn take_touched(&self) -> HashMap<Address, Option<u64>> {
        match self.touched.lock() {
            Ok(mut t) => std::mem::take(&mut *t),
            Err(p) => std::mem::take(&mut *p.into_inner()),
        }
    }

    pub fn token(&self, address: Address) -> Option<TokenMeta> {
        match self.tokens.read() {
            Ok(t) => t.get(&address).cloned(),
            Err(p) => p.into_inner().get(&address).cloned(),
        }
    }

    pub fn set_token(&self, meta: TokenMeta) {
        match self.tokens.write() {
            Ok(mut t) => t.insert(meta.address, meta),
            Err(p) => p.into_inner().insert(meta.address, meta),
        };
    }
}
