//! The refresh task: for each new head, one JSON-RPC batch (one HTTP request)
//! carries the pushed heads to confirm (with their transactions when addresses are
//! watched: who sent, who received, a token's `transfer` holders), nonces not known,
//! token metadata not read yet, and the reads: every watched address's balance, its
//! balance of each token, every contract view that is due. Coalesced: a head
//! arriving during a refresh only triggers one more. It sends on the refresh lane:
//! when a provider rate-limits, the chain's requests go first.
//!
//! Providers bill each batch entry, so where Multicall3 is deployed (asked once per
//! chain) the reads ride in `aggregate3` calls, a thousand reads each, every read
//! allowed to fail alone (`multicall`). On activity (`refresh = "on_activity"`) the
//! reads wait for a second batch, once the block has said what moved: only those are
//! read, and every one every 50 blocks. Nonces cannot go through Multicall3; a
//! sender's comes with its transaction in the block, and all are read at start,
//! after blocks that were not scanned, and every 10,000 blocks. Without Multicall3
//! every read is a batch entry of its own.

mod apply;
mod confirm;
mod last;
mod multicall;
mod plan;
mod split;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use alloy_primitives::{Address, B256};
use tokio::sync::{mpsc, watch};

use super::feed::{ChainInput, HeadFeed};
use super::watched::Watched;
use super::{AppGone, Shared};
use crate::config::ContractConfig;
use crate::event::{NetIdx, Update};
use crate::rpc::http::{BatchResult, HttpClient};
use apply::Applied;
use confirm::{Missing, RECHECK_AFTER, Verdict};
use last::Last;
use plan::{Plan, Slot};

/// What the refresh task works with (fixed for the run).
pub(crate) struct Refresher {
    pub net: NetIdx,
    pub http: HttpClient,
    pub tokens: Vec<Address>,
    pub contracts: Vec<ContractConfig>,
    /// Multicall3 may be used (the config's `multicall`).
    pub multicall: bool,
    /// Balances only of addresses that moved, and all every `SWEEP` blocks.
    pub on_activity: bool,
    pub watched: Arc<Watched>,
    pub updates: mpsc::Sender<Update>,
    pub shared: Arc<Shared>,
    pub feed: Arc<HeadFeed>,
    /// Where heads the node does not have are reported.
    pub chain_tx: mpsc::Sender<ChainInput>,
    /// The mempool tracker, told each block's transactions (`pending = "watched"`).
    pub mempool: Option<mpsc::Sender<super::mempool::Input>>,
}

impl Refresher {
    pub(crate) async fn run(self, mut heads: watch::Receiver<Option<(u64, B256)>>) {
        let mut last = Last::default();
        let mut missing: Vec<Missing> = Vec::new();
        let mut epoch = 0;
        let mut known = self.watched.addresses();
        loop {
            let recheck = missing.iter().map(|m| m.since + RECHECK_AFTER).min();
            // A token log showed watched addresses moving: on activity, only their
            // balances are read (at the head the refresh already ran for).
            let mut moved_only = false;
            tokio::select! {
                changed = heads.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                () = self.watched.changed.notified() => {
                    if self.tell_watch_changes(&mut known).await.is_err() {
                        return;
                    }
                }
                () = self.watched.touched_changed.notified(), if self.on_activity => moved_only = true,
                _ = tokio::time::sleep_until(recheck.unwrap_or_else(Instant::now).into()), if recheck.is_some() => {}
            }
            let now_epoch = self.feed.epoch.load(Ordering::SeqCst);
            if now_epoch != epoch {
                // A new chain: nothing read from the old one is worth comparing with.
                epoch = now_epoch;
                last = last.for_new_chain();
                missing.clear();
            }
            // A new head came meanwhile: its full refresh reads the moved too.
            if heads.has_changed().unwrap_or(false) {
                moved_only = false;
            }
            let Some(tip) = *heads.borrow_and_update() else {
                continue;
            };
            let done = if moved_only {
                self.refresh_moved(tip, &mut last, &mut missing).await
            } else {
                self.refresh(tip, &mut last, &mut missing).await
            };
            if done.is_err() {
                return;
            }
        }
    }

    /// Tell the stream (the metrics, the alerts) how the watch list changed since
    /// `known`, and remember the new one.
    async fn tell_watch_changes(&self, known: &mut Vec<(Address, String)>) -> Result<(), AppGone> {
        let now = self.watched.addresses();
        let removed = known
            .iter()
            .filter(|(a, _)| !now.iter().any(|(b, _)| a == b))
            .map(|(a, _)| (*a, None));
        let added = now
            .iter()
            .filter(|w| !known.contains(w))
            .map(|(a, l)| (*a, Some(l.clone())));
        let changes: Vec<_> = removed.chain(added).collect();
        for (address, label) in changes {
            let u = Update::Watching {
                net: self.net,
                address,
                label,
            };
            self.updates.send(u).await.map_err(|_| AppGone)?;
        }
        *known = now;
        Ok(())
    }

    /// One refresh at the head `tip`; on activity, then the balances of what its
    /// block showed moving.
    async fn refresh(
        &self,
        tip: (u64, B256),
        last: &mut Last,
        missing: &mut Vec<Missing>,
    ) -> Result<(), AppGone> {
        let addresses = self.watched.addresses();
        last.forget(&addresses);
        let plan = Plan::new(self, tip, &addresses, last, missing);
        let deferred = plan.deferred;
        // Not at a head the HTTP node does not know yet: that refresh runs again.
        if !self.send_plan(plan, tip, &addresses, last, missing).await? {
            return Ok(());
        }
        // The reads, now that the block showed who moved (and Multicall3 is known);
        // else only what it showed moving.
        if deferred || (self.on_activity && !last.balance_due.is_empty()) {
            let plan = Plan::reads(self, tip.0, &addresses, last, deferred);
            self.send_plan(plan, tip, &addresses, last, missing).await?;
        }
        Ok(())
    }

    /// The balances of the addresses seen moving since the last refresh, at `tip`.
    async fn refresh_moved(
        &self,
        tip: (u64, B256),
        last: &mut Last,
        missing: &mut Vec<Missing>,
    ) -> Result<(), AppGone> {
        let addresses = self.watched.addresses();
        let plan = Plan::reads(self, tip.0, &addresses, last, false);
        self.send_plan(plan, tip, &addresses, last, missing)
            .await
            .map(|_| ())
    }

    /// Send one plan's calls and deliver what they answer. False when its reads
    /// were not made (the batch failed, or the head is unknown to the HTTP node);
    /// what was due stays due.
    async fn send_plan(
        &self,
        plan: Plan,
        tip: (u64, B256),
        addresses: &[(Address, String)],
        last: &mut Last,
        missing: &mut Vec<Missing>,
    ) -> Result<bool, AppGone> {
        if plan.is_empty() {
            return Ok(true);
        }
        let results = match split::batch(
            &self.http,
            &plan.calls,
            &mut last.batch_limit,
            &self.shared,
        )
        .await
        {
            Ok(r) => r,
            Err(e) => {
                self.shared.error(format!(
                    "watch refresh at block {}: {e}",
                    crate::fmt::thousands(tip.0)
                ));
                let reads = plan.slots.iter().chain(plan.groups.iter().flatten());
                for slot in reads {
                    still_due(slot, last);
                }
                return Ok(false);
            }
        };
        let mut results = unpack(plan.slots, results, &plan.groups, last);
        let early = too_early(&results, tip.1);
        if early {
            // The HTTP node does not know the head yet (it lags the WebSocket's, or
            // the head is not real): everything read "at" it failed for that reason
            // alone. Keep the confirmations; the refresh runs again at the re-check.
            results.retain(|(slot, _)| {
                match slot {
                    Slot::Meta { token, .. } => {
                        last.meta_asked.remove(token);
                    }
                    other => still_due(other, last),
                }
                // Finality is asked by tag, not at the head: its answers stand.
                if matches!(slot, Slot::Finality(_)) {
                    return true;
                }
                matches!(slot, Slot::Confirm { .. } | Slot::Recheck(..))
            });
        }
        let mut applied = Applied::new(self, tip.0, addresses);
        applied.apply(self, results, last, missing);
        self.deliver(applied, missing).await.map(|()| !early)
    }

    /// Tell the chain task what the node does not have, then send metadata (so token
    /// balances arrive with their decimals known) and the values.
    async fn deliver(
        &self,
        applied: Applied<'_>,
        missing: &mut Vec<Missing>,
    ) -> Result<(), AppGone> {
        let chain = |input| async { self.chain_tx.send(input).await.map_err(|_| AppGone) };
        for hash in applied.suspects {
            chain(ChainInput::Missing(hash)).await?;
        }
        for (hash, r) in applied.rechecked {
            match r.verdict() {
                Verdict::Invented => chain(ChainInput::Retract(hash)).await?,
                Verdict::Real => {}
                Verdict::AskAgain => missing.extend(r.missing.again()),
            }
        }
        let had_meta = !applied.metas.is_empty();
        let send = |u| async { self.updates.send(u).await.map_err(|_| AppGone) };
        for meta in applied.metas.into_values() {
            self.watched.set_token(meta.clone());
            send(Update::Token {
                net: self.net,
                meta,
            })
            .await?;
        }
        if had_meta && !self.watched.meta_ready.swap(true, Ordering::SeqCst) {
            self.watched.meta_notify.notify_waiters();
        }
        for u in applied.out {
            send(u).await?;
        }
        if let Some(mempool) = &self.mempool {
            for block in applied.mined {
                mempool.send(block).await.map_err(|_| AppGone)?;
            }
        }
        Ok(())
    }
}

/// A read that was not made stays due (on activity and for nonces in Multicall3
/// mode it would otherwise wait for a sweep).
fn still_due(slot: &Slot, last: &mut Last) {
    match slot {
        Slot::Balance(a) | Slot::TokenBalance { holder: a, .. } => {
            last.balance_due.insert(*a);
        }
        Slot::Nonce(a) => {
            last.nonce_due.insert(*a);
        }
        // Asked again at the next head.
        Slot::Finality(_) => last.finality_at = None,
        _ => {}
    }
}

/// Each answer with its slot: `aggregate3` answers taken apart into their reads,
/// and the Multicall3 code check noted (an `aggregate3` that failed as a whole has
/// it asked again).
fn unpack(
    slots: Vec<Slot>,
    results: Vec<BatchResult>,
    groups: &[Vec<Slot>],
    last: &mut Last,
) -> Vec<(Slot, BatchResult)> {
    let mut out = Vec::with_capacity(slots.len());
    for (slot, res) in slots.into_iter().zip(results) {
        match slot {
            Slot::MulticallCode => {
                last.multicall = match &res {
                    Ok(code) => Some(
                        serde_json::from_str::<alloy_primitives::Bytes>(code.get())
                            .is_ok_and(|b| !b.is_empty()),
                    ),
                    // An endpoint without eth_getCode has no Multicall3 for us.
                    Err(e) if e.code == -32601 => Some(false),
                    // A rate limit or a lagging node: ask again next time, three times.
                    Err(_) => {
                        last.multicall_checks += 1;
                        (last.multicall_checks >= 3).then_some(false)
                    }
                };
            }
            Slot::Multi(i) => {
                let Some(group) = groups.get(i) else { continue };
                if res.is_err() {
                    // Asked again; after three whole failures, one entry per read.
                    last.multicall_checks += 1;
                    last.multicall = (last.multicall_checks >= 3).then_some(false);
                }
                let balance: Vec<bool> = group
                    .iter()
                    .map(|s| matches!(s, Slot::Balance(_)))
                    .collect();
                out.extend(group.iter().copied().zip(multicall::split(&res, &balance)));
            }
            other => out.push((other, res)),
        }
    }
    out
}

/// The head this refresh was for is unknown to the HTTP node.
fn too_early(results: &[(Slot, BatchResult)], hash: B256) -> bool {
    results.iter().any(|(slot, res)| {
        matches!(slot, Slot::Confirm { head, .. } if head.hash == hash)
            && res.as_ref().is_ok_and(|r| r.get() == "null")
    })
}
