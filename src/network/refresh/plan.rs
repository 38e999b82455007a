//! What one refresh asks for: the batch entries and what each one is for.

use std::time::Instant;

use alloy_primitives::{Address, B256, Bytes, U64};
use serde_json::{Value, json};

use super::Refresher;
use super::confirm::Missing;
use super::last::Last;
use super::multicall;
use crate::network::feed::Unconfirmed;

const SEL_BALANCE_OF: [u8; 4] = [0x70, 0xa0, 0x82, 0x31];
const SEL_DECIMALS: [u8; 4] = [0x31, 0x3c, 0xe5, 0x67];
const SEL_SYMBOL: [u8; 4] = [0x95, 0xd8, 0x9b, 0x41];
const SEL_NAME: [u8; 4] = [0x06, 0xfd, 0xde, 0x03];

/// What one batch entry is for.
#[derive(Debug, Clone, Copy)]
pub(super) enum Slot {
    Balance(Address),
    Nonce(Address),
    TokenBalance {
        holder: Address,
        token: Address,
    },
    View {
        contract: usize,
        view: usize,
    },
    Meta {
        token: Address,
        field: MetaField,
    },
    /// A pushed head, by hash (`full`: with its transactions, for activity).
    Confirm {
        head: Unconfirmed,
        full: bool,
    },
    /// A head the node did not know: by hash again, or (`true`) what it has at that
    /// number.
    Recheck(Missing, bool),
    /// Is Multicall3 deployed (`eth_getCode`)?
    MulticallCode,
    /// One `aggregate3` call: the reads of `Plan::groups[i]`.
    Multi(usize),
    /// The block the endpoint calls `safe` (`false`) or `finalized` (`true`).
    Finality(bool),
}

/// How often, in blocks, `refresh = "on_activity"` reads every balance: transfers
/// inside contracts (a withdrawal, a payout) leave no trace in the block.
pub(super) const BALANCE_SWEEP: u64 = 50;

/// How often, in blocks, Multicall3 mode (and on activity) reads every nonce.
/// Between sweeps a sender's nonce comes with its transaction in a scanned block,
/// and every nonce is read after blocks that were not scanned (fetched in a
/// catch-up rather than pushed); the sweep is a safety net (a reorg's blocks).
pub(super) const NONCE_SWEEP: u64 = 10_000;

#[derive(Debug, Clone, Copy)]
pub(super) enum MetaField {
    Decimals,
    Symbol,
    Name,
}

/// The entries of one refresh batch, in order, and their slots.
pub(super) struct Plan {
    pub calls: Vec<(&'static str, Value)>,
    pub slots: Vec<Slot>,
    /// The reads each `Slot::Multi` carries, in order.
    pub groups: Vec<Vec<Slot>>,
    tag: String,
    /// Reads waiting to go into `aggregate3` calls (Multicall3 mode).
    reads: Vec<(multicall::Read, Slot)>,
    multicall: bool,
    /// The reads wait for a second batch ([`Plan::reads`]).
    pub deferred: bool,
}

fn call(to: Address, data: &[u8], tag: &str) -> Value {
    json!([{ "to": to, "data": Bytes::copy_from_slice(data) }, tag])
}

impl Plan {
    /// What is due at the head `(block, hash)`: nonces, token metadata not read
    /// yet, pushed heads to confirm (each with its transactions when addresses are
    /// watched, for their activity), heads due for a re-check (taken out of
    /// `missing`), and the reads ([`Plan::reads`]). Those wait for a second batch
    /// (`deferred`) where this one tells what they should be: on activity, the
    /// block shows who moved; and whether Multicall3 can carry them.
    pub fn new(
        r: &Refresher,
        (block, hash): (u64, B256),
        addresses: &[(Address, String)],
        last: &mut Last,
        missing: &mut Vec<Missing>,
    ) -> Self {
        let mut plan = Self::empty(r, block, last);
        let unknown = r.multicall && last.multicall.is_none();
        if unknown {
            let params = json!([multicall::MULTICALL3, plan.tag]);
            plan.push("eth_getCode", params, Slot::MulticallCode);
        }
        // Nonces only on activity where reads are scarce (Multicall3 carries the
        // balances, or only what moved is read).
        let scarce = plan.multicall || r.on_activity;
        let gap = std::mem::take(&mut last.unscanned);
        // Every nonce: where reads are not scarce, after unscanned blocks, at a sweep
        // (counted from the last time all were read).
        let all = !scarce || gap || due_sweep(&mut last.nonces_swept, block, NONCE_SWEEP);
        if all {
            last.nonces_swept = Some(block);
        }
        for (a, _) in addresses {
            // Nonces cannot be read through Multicall3: there (and on activity) only
            // when a sender's transaction did not say, never read, or at a sweep.
            // (Taken off the due list first: a read now is the read it waits for.)
            let nonce_due = last.nonce_due.remove(a);
            if all || nonce_due || !last.nonces.contains_key(a) {
                plan.push(
                    "eth_getTransactionCount",
                    json!([a, plan.tag]),
                    Slot::Nonce(*a),
                );
            }
        }
        plan.metadata(&r.tokens, last);
        // In a chain group, every few heads: how far behind its head the endpoint
        // says its chain is settled (two entries, in the batch that goes anyway).
        let every = r
            .shared
            .finality_every
            .load(std::sync::atomic::Ordering::Relaxed);
        if every > 0 && due_sweep(&mut last.finality_at, block, every) {
            for (tag, finalized) in [("safe", false), ("finalized", true)] {
                let params = json!([tag, false]);
                plan.push("eth_getBlockByNumber", params, Slot::Finality(finalized));
            }
        }
        let watching = !addresses.is_empty();
        let scan = watching && last.scanned_block != Some(hash);
        plan.deferred = unknown || (r.on_activity && scan);
        if !plan.deferred {
            plan.add_reads(r, block, addresses, last, true);
            plan.aggregate();
        }
        plan.confirmations(r.feed.take_unconfirmed(), (block, hash), scan, watching);
        plan.rechecks(missing);
        plan
    }

    /// The reads at the head `block`, in `aggregate3` calls where Multicall3 is
    /// deployed. `head`: every balance the refresh mode has due and the due views;
    /// else only the balances (and waiting nonces) of what was seen moving: in the
    /// head's block or in a token's log.
    pub fn reads(
        r: &Refresher,
        block: u64,
        addresses: &[(Address, String)],
        last: &mut Last,
        head: bool,
    ) -> Self {
        let mut plan = Self::empty(r, block, last);
        plan.add_reads(r, block, addresses, last, head);
        plan.aggregate();
        plan
    }

    fn empty(r: &Refresher, block: u64, last: &Last) -> Self {
        Self {
            calls: Vec::new(),
            slots: Vec::new(),
            groups: Vec::new(),
            tag: format!("{block:#x}"),
            reads: Vec::new(),
            multicall: r.multicall && last.multicall == Some(true),
            deferred: false,
        }
    }

    fn add_reads(
        &mut self,
        r: &Refresher,
        block: u64,
        addresses: &[(Address, String)],
        last: &mut Last,
        head: bool,
    ) {
        last.take_touched(r.watched.take_touched(), block);
        let sweep =
            head && r.on_activity && due_sweep(&mut last.balances_swept, block, BALANCE_SWEEP);
        for (a, _) in addresses {
            // On activity: only what moved, was never read, or at a sweep.
            let moved = last.balance_due.remove(a);
            let balances =
                moved || (head && (!r.on_activity || sweep || !last.balances.contains_key(a)));
            if !head && moved && last.nonce_due.remove(a) {
                self.push(
                    "eth_getTransactionCount",
                    json!([a, self.tag]),
                    Slot::Nonce(*a),
                );
            }
            if balances {
                self.balances(*a, &r.tokens);
            }
        }
        if head {
            self.views(r, block, last);
        }
    }
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    fn push(&mut self, method: &'static str, params: Value, slot: Slot) {
        self.calls.push((method, params));
        self.slots.push(slot);
    }

    /// A read of contract `to`: into the next `aggregate3` call in Multicall3
    /// mode, else an `eth_call` entry of its own.
    fn read(&mut self, to: Address, data: Vec<u8>, slot: Slot) {
        if self.multicall {
            self.reads.push(((to, data.into()), slot));
        } else {
            let params = call(to, &data, &self.tag);
            self.push("eth_call", params, slot);
        }
    }

    fn balances(&mut self, a: Address, tokens: &[Address]) {
        if self.multicall {
            self.reads
                .push((multicall::eth_balance(a), Slot::Balance(a)));
        } else {
            let params = json!([a, self.tag]);
            self.push("eth_getBalance", params, Slot::Balance(a));
        }
        for t in tokens {
            let mut data = SEL_BALANCE_OF.to_vec();
            data.extend_from_slice(a.into_word().as_slice());
            let slot = Slot::TokenBalance {
                holder: a,
                token: *t,
            };
            self.read(*t, data, slot);
        }
    }

    /// The waiting reads as `aggregate3` calls of at most `multicall::CHUNK` reads.
    fn aggregate(&mut self) {
        let reads = std::mem::take(&mut self.reads);
        for chunk in reads.chunks(multicall::CHUNK) {
            let calldata: Vec<multicall::Read> = chunk.iter().map(|(r, _)| r.clone()).collect();
            let Some(data) = multicall::encode(&calldata) else {
                continue;
            };
            let slot = Slot::Multi(self.groups.len());
            self.groups.push(chunk.iter().map(|(_, s)| *s).collect());
            let params = call(multicall::MULTICALL3, &data, &self.tag);
            self.push("eth_call", params, slot);
        }
    }

    fn metadata(&mut self, tokens: &[Address], last: &mut Last) {
        for t in tokens {
            if !last.meta_asked.insert(*t) {
                continue;
            }
            for (sel, field) in [
                (SEL_DECIMALS, MetaField::Decimals),
                (SEL_SYMBOL, MetaField::Symbol),
                (SEL_NAME, MetaField::Name),
            ] {
                let params = call(*t, &sel, &self.tag);
                self.push("eth_call", params, Slot::Meta { token: *t, field });
            }
        }
    }

    fn views(&mut self, r: &Refresher, block: u64, last: &Last) {
        for (ci, c) in r.contracts.iter().enumerate() {
            for (vi, v) in c.views.iter().enumerate() {
                if block.is_multiple_of(v.every) || !last.views.contains_key(&(ci, vi)) {
                    let slot = Slot::View {
                        contract: ci,
                        view: vi,
                    };
                    self.read(c.address, v.calldata.to_vec(), slot);
                }
            }
        }
    }

    /// The pushed heads to confirm, and the newest head if it is to be scanned
    /// and not among them. With addresses watched every one comes with its
    /// transactions (the same call, a longer answer): activity and senders (whose
    /// nonces moved) are seen in every block, not only the newest.
    fn confirmations(
        &mut self,
        mut confirm: Vec<Unconfirmed>,
        (block, hash): (u64, B256),
        scan: bool,
        watching: bool,
    ) {
        if scan && !confirm.iter().any(|u| u.hash == hash) {
            confirm.push(Unconfirmed {
                number: block,
                hash,
                needs_tx_count: false,
            });
        }
        for head in confirm {
            let full = watching;
            let slot = Slot::Confirm { head, full };
            self.push("eth_getBlockByHash", json!([head.hash, full]), slot);
        }
    }

    fn rechecks(&mut self, missing: &mut Vec<Missing>) {
        let now = Instant::now();
        let (due, waiting): (Vec<Missing>, Vec<Missing>) =
            missing.drain(..).partition(|m| m.due(now));
        *missing = waiting;
        for m in due {
            self.push(
                "eth_getBlockByHash",
                json!([m.head.hash, false]),
                Slot::Recheck(m, false),
            );
            let number = json!([U64::from(m.head.number), false]);
            self.push("eth_getBlockByNumber", number, Slot::Recheck(m, true));
        }
    }
}

/// Is a sweep due at `block` (every `every` blocks since the last, or after the
/// chain went back)? Notes it when it is.
fn due_sweep(last: &mut Option<u64>, block: u64, every: u64) -> bool {
    let due = last.is_none_or(|b| block >= b + every || block < b);
    if due {
        *last = Some(block);
    }
    due
}
