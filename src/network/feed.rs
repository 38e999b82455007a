//! What flows between a network's tasks: the session and the refresh task tell the
//! chain task about heads; the chain task tells the refresh task what is shown.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use alloy_primitives::B256;
use tokio::sync::watch;

use crate::event::HeadSource;
use crate::rpc::types::WireBlock;

/// Heads waiting for the refresh task to confirm them, at most.
const CONFIRM_MAX: usize = 64;

/// What the session (and the refresh task) ask of the chain task.
#[derive(Debug)]
pub(crate) enum ChainInput {
    /// A `newHeads` notification, and when its frame was read.
    Head(Box<WireBlock>, std::time::Instant),
    /// Bring the chain up to the node's current head. `connected`: a new connection
    /// (check the genesis block and refill the logs of the last head seen before).
    CatchUp { source: HeadSource, connected: bool },
    /// The node did not know this pushed head when asked.
    Missing(B256),
    /// The node has no block with this hash (asked twice): take it back.
    Retract(B256),
}

/// A shown head the refresh task should confirm over HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unconfirmed {
    pub number: u64,
    pub hash: B256,
    /// The notification carried no transaction list: the count is looked up.
    pub needs_tx_count: bool,
}

/// What the chain task tells the refresh task.
#[derive(Debug)]
pub(crate) struct HeadFeed {
    /// The newest shown head.
    pub latest: watch::Sender<Option<(u64, B256)>>,
    /// Pushed heads not confirmed yet, oldest first.
    pub unconfirmed: Mutex<VecDeque<Unconfirmed>>,
    /// Bumped when the node turned out to be on a new chain: forget what was read.
    pub epoch: std::sync::atomic::AtomicU64,
}

impl HeadFeed {
    pub fn new() -> (Arc<Self>, watch::Receiver<Option<(u64, B256)>>) {
        let (latest, rx) = watch::channel(None);
        let feed = Arc::new(Self {
            latest,
            unconfirmed: Mutex::default(),
            epoch: Default::default(),
        });
        (feed, rx)
    }

    pub fn take_unconfirmed(&self) -> Vec<Unconfirmed> {
        match self.unconfirmed.lock() {
            Ok(mut q) => q.drain(..).collect(),
            Err(p) => p.into_inner().drain(..).collect(),
        }
    }

    pub(super) fn push_unconfirmed(&self, u: Unconfirmed) {
        let mut q = match self.unconfirmed.lock() {
            Ok(q) => q,
            Err(p) => p.into_inner(),
        };
        if q.len() == CONFIRM_MAX {
            q.pop_front();
        }
        q.push_back(u);
    }

    pub(super) fn forget(&self, hashes: &[B256]) {
        if let Ok(mut q) = self.unconfirmed.lock() {
            q.retain(|u| !hashes.contains(&u.hash));
        }
    }
}
