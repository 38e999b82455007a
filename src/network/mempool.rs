//! The mempool of the watched addresses (`pending = "watched"`).
//!
//! The WebSocket reader hands each whole pending transaction to [`classify`], which
//! reads only the fields it needs straight from the frame's text (no `Value` tree,
//! no allocation for a transaction that touches nothing watched) and keeps its
//! priority fee for the percentiles. Those that touch a watched address go to the
//! [`Tracker`] task, which follows each one: pending, then mined (its hash in a
//! block the refresh task read), replaced (same sender and nonce, another hash, seen
//! pending or mined), or dropped (neither within `pending_drop_secs`). A block that
//! replaces the one a transaction was mined in (a reorg) makes it pending again.
//! The set is bounded: the oldest are forgotten for room, and counted.

use std::collections::{HashMap, HashSet, VecDeque};
use std::str::FromStr;
use std::time::{Duration, Instant, SystemTime};

use alloy_primitives::{Address, B256, U256};
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::event::{NetIdx, PendingTx, PendingTxEvent, TokenMove, TxState, Update};

/// Watched pending transactions followed at once, at most.
pub const TRACKED: usize = 1_024;
/// Recent priority fees kept for the percentiles.
pub const TIPS_KEPT: usize = 1_024;
/// A transaction mined, replaced or dropped is kept this long (a reorg can bring
/// a mined one back), then forgotten.
const KEEP_FINISHED: Duration = Duration::from_secs(600);
/// Capacity of the channel into the tracker.
pub const QUEUE: usize = 1_024;

/// `transfer(address,uint256)` and `transferFrom(address,address,uint256)`.
const TRANSFER: &str = "a9059cbb";
const TRANSFER_FROM: &str = "23b872dd";

/// The fields of a pending transaction that are read, borrowed from the frame.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire<'a> {
    #[serde(borrow)]
    hash: &'a str,
    #[serde(borrow)]
    from: &'a str,
    #[serde(default, borrow)]
    to: Option<&'a str>,
    #[serde(default, borrow)]
    value: Option<&'a str>,
    #[serde(default, borrow)]
    nonce: Option<&'a str>,
    #[serde(default, borrow)]
    input: Option<&'a str>,
    #[serde(default, borrow)]
    max_priority_fee_per_gas: Option<&'a str>,
    #[serde(default, borrow)]
    max_fee_per_gas: Option<&'a str>,
    #[serde(default, borrow)]
    gas_price: Option<&'a str>,
}

/// What one `newPendingTransactions` result was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    /// A bare hash: the endpoint sends hashes only.
    Hash,
    /// A whole transaction: its priority fee, and itself when it touches a watched
    /// address.
    Tx {
        tip: Option<u128>,
        hit: Option<Box<PendingTx>>,
    },
}

/// What is watched, as [`classify`] looks it up.
#[derive(Debug, Default, Clone)]
pub struct Watchlist {
    pub addresses: HashSet<Address>,
    /// The configured tokens: their `transfer`s to or from a watched address count.
    pub tokens: HashSet<Address>,
}

fn address(s: &str) -> Result<Address, String> {
    Address::from_str(s).map_err(|e| format!("address {s:?}: {e}"))
}

fn quantity(s: &str) -> Result<u128, String> {
    let hex = s.strip_prefix("0x").unwrap_or(s);
    u128::from_str_radix(hex, 16).map_err(|e| format!("quantity {s:?}: {e}"))
}

/// Word `i` (32 bytes) of calldata after the selector, as hex.
fn word(args: &str, i: usize) -> Option<&str> {
    args.get(i * 64..(i + 1) * 64)
}

fn word_address(w: &str) -> Option<Address> {
    Address::from_str(w.get(24..)?).ok()
}

/// The ERC-20 transfer in `input` of a call to `token`, if it is one.
fn token_move(token: Address, from: Address, input: &str) -> Option<TokenMove> {
    let hex = input.strip_prefix("0x").unwrap_or(input);
    let (selector, args) = (hex.get(..8)?, hex.get(8..)?);
    let amount = |w: &str| U256::from_str_radix(w, 16).ok();
    match selector {
        TRANSFER => Some(TokenMove {
            token,
            from,
            to: word_address(word(args, 0)?)?,
            amount: amount(word(args, 1)?)?,
        }),
        TRANSFER_FROM => Some(TokenMove {
            token,
            from: word_address(word(args, 0)?)?,
            to: word_address(word(args, 1)?)?,
            amount: amount(word(args, 2)?)?,
        }),
        _ => None,
    }
}

/// Read one pending result: a hash, or a transaction and whether it touches what
/// is watched. Only a hit is read in full.
pub fn classify(raw: &str, watch: &Watchlist) -> Result<Pending, String> {
    let raw = raw.trim_start();
    if raw.starts_with('"') {
        let h: &str = serde_json::from_str(raw).map_err(|e| e.to_string())?;
        B256::from_str(h).map_err(|e| format!("hash {h:?}: {e}"))?;
        return Ok(Pending::Hash);
    }
    let w: Wire<'_> = serde_json::from_str(raw).map_err(|e| e.to_string())?;
    let tip = w
        .max_priority_fee_per_gas
        .or(w.gas_price)
        .map(quantity)
        .transpose()?;
    let from = address(w.from)?;
    let to = w.to.map(address).transpose()?;
    let token = match (to, w.input) {
        (Some(t), Some(input)) if watch.tokens.contains(&t) => token_move(t, from, input),
        _ => None,
    };
    let touches = watch.addresses.contains(&from)
        || to.is_some_and(|t| watch.addresses.contains(&t))
        || token
            .is_some_and(|m| watch.addresses.contains(&m.from) || watch.addresses.contains(&m.to));
    if !touches {
        return Ok(Pending::Tx { tip, hit: None });
    }
    let hash = B256::from_str(w.hash).map_err(|e| format!("hash {:?}: {e}", w.hash))?;
    let value = match w.value {
        Some(v) => U256::from_str(v).map_err(|e| format!("value {v:?}: {e}"))?,
        None => U256::ZERO,
    };
    let nonce = match w.nonce {
        Some(n) => u64::try_from(quantity(n)?).map_err(|e| e.to_string())?,
        None => return Err("pending transaction without a nonce".into()),
    };
    let max_fee = w
        .max_fee_per_gas
        .or(w.gas_price)
        .map(quantity)
        .transpose()?;
    Ok(Pending::Tx {
        tip,
        hit: Some(Box::new(PendingTx {
            hash,
            from,
            to,
            value,
            nonce,
            tip,
            max_fee,
            token,
        })),
    })
}

/// p10, p50 and p90 of `tips` (nearest rank), if there are any.
pub fn percentiles(tips: &[u128]) -> Option<[u128; 3]> {
    if tips.is_empty() {
        return None;
    }
    let mut v = tips.to_vec();
    v.sort_unstable();
    let at = |p: usize| v[(v.len() - 1) * p / 100];
    Some([at(10), at(50), at(90)])
}

/// A block's transaction as the tracker needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinedTx {
    pub hash: B256,
    pub from: Address,
    pub nonce: Option<u64>,
    pub to: Option<Address>,
    pub value: U256,
}

/// What the tracker is told.
#[derive(Debug)]
pub enum Input {
    /// A pending transaction that touches a watched address.
    Seen(Box<PendingTx>),
    /// A block's transactions, as the refresh task read them.
    Block {
        number: u64,
        hash: B256,
        txs: Vec<MinedTx>,
    },
}

#[derive(Debug, Clone)]
struct Entry {
    tx: PendingTx,
    state: TxState,
    seen: Instant,
    seen_wall: SystemTime,
    /// Pending since (first seen, or made pending again by a reorg): the drop
    /// timer counts from here.
    since: Instant,
    /// Asked the node for its receipt before dropping it.
    asked: bool,
    /// The block it was mined in.
    block: Option<(u64, B256)>,
    /// When it was mined, replaced or dropped.
    finished: Option<Instant>,
}

/// The watched pending transactions and where each stands.
#[derive(Debug)]
pub struct Tracker {
    entries: HashMap<B256, Entry>,
    /// Hashes, oldest first (for eviction).
    order: VecDeque<B256>,
    drop_after: Duration,
    cap: usize,
    /// Forgotten for room while still pending.
    pub evicted: u64,
    /// The last blocks' transaction hashes: a transaction seen pending only after
    /// its block was read (the two come by different roads) is mined at once.
    recent: VecDeque<(u64, B256, HashSet<B256>)>,
}

/// Blocks whose transactions are remembered for late pending sightings.
const RECENT_BLOCKS: usize = 16;

impl Tracker {
    pub fn new(drop_after: Duration, cap: usize) -> Self {
        Self {
            entries: HashMap::new(),
            order: VecDeque::new(),
            drop_after,
            cap: cap.max(1),
            evicted: 0,
            recent: VecDeque::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn event(e: &Entry, now: Instant) -> PendingTxEvent {
        PendingTxEvent {
            tx: e.tx.clone(),
            state: e.state,
            first_seen: e.seen_wall,
            latency_ms: e
                .finished
                .map(|_| now.saturating_duration_since(e.seen).as_millis() as u64),
        }
    }

    fn finish(e: &mut Entry, state: TxState, now: Instant, out: &mut Vec<PendingTxEvent>) {
        e.state = state;
        e.finished = Some(now);
        out.push(Self::event(e, now));
    }

    /// A pending transaction: new (pending), or a replacement of one followed.
    pub fn seen(&mut self, tx: PendingTx, now: Instant, wall: SystemTime) -> Vec<PendingTxEvent> {
        let mut out = Vec::new();
        if self.entries.contains_key(&tx.hash) {
            return out;
        }
        for e in self.entries.values_mut() {
            if e.state == TxState::Pending
                && e.tx.from == tx.from
                && e.tx.nonce == tx.nonce
                && tx.bid() >= e.tx.bid()
            {
                let cancel = tx.to == Some(tx.from) && tx.value.is_zero();
                let by = tx.hash;
                Self::finish(e, TxState::Replaced { by, cancel }, now, &mut out);
            }
        }
        let mut e = Entry {
            tx,
            state: TxState::Pending,
            seen: now,
            seen_wall: wall,
            since: now,
            asked: false,
            block: None,
            finished: None,
        };
        out.push(Self::event(&e, now));
        if let Some((n, h, _)) = self
            .recent
            .iter()
            .find(|(_, _, txs)| txs.contains(&e.tx.hash))
        {
            e.block = Some((*n, *h));
            Self::finish(&mut e, TxState::Mined { block: *n }, now, &mut out);
        }
        self.order.push_back(e.tx.hash);
        self.entries.insert(e.tx.hash, e);
        self.make_room();
        out
    }

    /// Forget the oldest finished ones first, then the oldest pending (counted).
    fn make_room(&mut self) {
        while self.entries.len() > self.cap {
            let finished = self
                .order
                .iter()
                .position(|h| self.entries.get(h).is_none_or(|e| e.finished.is_some()));
            let at = finished.unwrap_or(0);
            let Some(h) = self.order.remove(at) else {
                return;
            };
            if let Some(e) = self.entries.remove(&h)
                && e.finished.is_none()
            {
                self.evicted += 1;
            }
        }
    }

    /// A block: what it mines, what it replaces, and whether it replaces the block
    /// a followed transaction was mined in (another hash at that height: a reorg;
    /// then it is pending again, unless this block mines it too). Blocks may come
    /// out of order (a backfilled head behind pushed ones), so a lower number alone
    /// orphans nothing. A transaction thought dropped or replaced that turns up in
    /// a block was mined after all.
    pub fn block(
        &mut self,
        number: u64,
        hash: B256,
        txs: &[MinedTx],
        now: Instant,
    ) -> Vec<PendingTxEvent> {
        let mut out = Vec::new();
        for e in self.entries.values_mut() {
            if let (TxState::Mined { .. }, Some((n, h))) = (e.state, e.block)
                && number == n
                && hash != h
            {
                e.state = TxState::Pending;
                e.block = None;
                e.finished = None;
                e.since = now;
                e.asked = false;
                out.push(Self::event(e, now));
            }
        }
        let by_hash: HashSet<B256> = txs.iter().map(|t| t.hash).collect();
        // This block replaces any remembered at its height.
        self.recent.retain(|(n, _, _)| *n != number);
        if self.recent.len() >= RECENT_BLOCKS {
            self.recent.pop_front();
        }
        self.recent.push_back((number, hash, by_hash.clone()));
        for e in self.entries.values_mut() {
            if matches!(e.state, TxState::Mined { .. }) {
                continue;
            }
            if by_hash.contains(&e.tx.hash) {
                e.block = Some((number, hash));
                Self::finish(e, TxState::Mined { block: number }, now, &mut out);
            } else if e.state == TxState::Pending
                && let Some(t) = txs
                    .iter()
                    .find(|t| t.from == e.tx.from && t.nonce == Some(e.tx.nonce))
            {
                let cancel = t.to == Some(t.from) && t.value.is_zero();
                Self::finish(e, TxState::Replaced { by: t.hash, cancel }, now, &mut out);
            }
        }
        out
    }

    /// Pending past the drop time and not asked about yet: the node is asked for
    /// their receipts first (a block that was not read with its transactions, while
    /// polling or in a reconnect gap, may have mined them).
    pub fn due(&mut self, now: Instant) -> Vec<B256> {
        let drop_after = self.drop_after;
        self.entries
            .values_mut()
            .filter(|e| {
                e.state == TxState::Pending
                    && !e.asked
                    && now.saturating_duration_since(e.since) >= drop_after
            })
            .map(|e| {
                e.asked = true;
                e.tx.hash
            })
            .collect()
    }

    /// The node's answer for a transaction due to be dropped: mined in `block`, or
    /// not known (`None`): dropped.
    pub fn answered(
        &mut self,
        hash: B256,
        block: Option<(u64, B256)>,
        now: Instant,
    ) -> Vec<PendingTxEvent> {
        let mut out = Vec::new();
        if let Some(e) = self
            .entries
            .get_mut(&hash)
            .filter(|e| e.state == TxState::Pending)
        {
            match block {
                Some((n, h)) => {
                    e.block = Some((n, h));
                    Self::finish(e, TxState::Mined { block: n }, now, &mut out);
                }
                None => Self::finish(e, TxState::Dropped, now, &mut out),
            }
        }
        out
    }

    /// Once a second: what finished long ago is forgotten.
    pub fn tick(&mut self, now: Instant) {
        let entries = &mut self.entries;
        self.order.retain(|h| {
            let old = entries
                .get(h)
                .and_then(|e| e.finished)
                .is_some_and(|f| now.saturating_duration_since(f) >= KEEP_FINISHED);
            if old {
                entries.remove(h);
            }
            entries.contains_key(h)
        });
    }
}

/// The block a transaction was mined in, by its receipt (`None`: not mined, or
/// the node could not say).
async fn mined_in(http: &crate::rpc::http::HttpClient, hash: B256) -> Option<(u64, B256)> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Receipt {
        block_number: Option<alloy_primitives::U64>,
        block_hash: Option<B256>,
    }
    let r: Option<Receipt> = http
        .call("eth_getTransactionReceipt", serde_json::json!([hash]))
        .await
        .ok()?;
    let r = r?;
    Some((r.block_number?.to(), r.block_hash?))
}

/// The tracker's task: inputs in, `Update::PendingTx` out, a tick a second. A
/// transaction due to be dropped is first looked up by its receipt (on the metered
/// HTTP client: one billed call per transaction, and only for those).
pub(crate) async fn run(
    net: NetIdx,
    mut rx: mpsc::Receiver<Input>,
    updates: mpsc::Sender<Update>,
    drop_after: Duration,
    shared: std::sync::Arc<super::Shared>,
    http: Option<crate::rpc::http::HttpClient>,
) {
    let mut t = Tracker::new(drop_after, TRACKED);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (answer_tx, mut answers) = mpsc::channel::<(B256, Option<(u64, B256)>)>(64);
    loop {
        let events = tokio::select! {
            input = rx.recv() => match input {
                Some(Input::Seen(tx)) => t.seen(*tx, Instant::now(), SystemTime::now()),
                Some(Input::Block { number, hash, txs }) => {
                    t.block(number, hash, &txs, Instant::now())
                }
                None => return,
            },
            Some((hash, block)) = answers.recv() => t.answered(hash, block, Instant::now()),
            _ = tick.tick() => {
                let now = Instant::now();
                t.tick(now);
                let mut out = Vec::new();
                for hash in t.due(now) {
                    match &http {
                        Some(http) => {
                            let (http, tx) = (http.clone(), answer_tx.clone());
                            tokio::spawn(async move {
                                let _ = tx.send((hash, mined_in(&http, hash).await)).await;
                            });
                        }
                        None => out.extend(t.answered(hash, None, now)),
                    }
                }
                out
            }
        };
        shared
            .mempool_evicted
            .store(t.evicted, std::sync::atomic::Ordering::Relaxed);
        for event in events {
            let u = Update::PendingTx {
                net,
                event: Box::new(event),
            };
            if updates.send(u).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests;
