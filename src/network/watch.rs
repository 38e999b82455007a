//! Watched-address refresh: for each new head, ONE JSON-RPC batch (one HTTP request)
//! carries every watched address's balance and nonce, its balance of each token,
//! every contract view that is due, token metadata not read yet, and the block with
//! its transactions (for activity). Coalesced: a head arriving during a refresh only
//! triggers one more. A batch rather than Multicall3: it needs no deployed contract,
//! works for nonces and views alike, and one failing entry does not fail the others.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use alloy_dyn_abi::{DynSolType, DynSolValue, FunctionExt};
use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256, Bytes, U64, U256};
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc, watch};

use super::Shared;
use super::heads::{ChainInput, HeadFeed, Unconfirmed};
use super::logs::render;
use crate::config::ContractConfig;
use crate::event::{NetIdx, TokenMeta, Update, ViewValue};
use crate::rpc::http::{BatchResult, HttpClient, HttpError};
use crate::rpc::types::{RpcErrorObj, WireBlock, WireTxs};
use crate::text::sanitize;

/// Longest token symbol/name kept (after escaping).
const MAX_TOKEN_TEXT: usize = 64;

/// The network's watched addresses (changed at runtime) and token metadata (read
/// once), shared by the supervisor, the watch task and the log task.
#[derive(Debug, Default)]
pub(crate) struct Watched {
    addresses: RwLock<Vec<(Address, String)>>,
    tokens: RwLock<HashMap<Address, TokenMeta>>,
    /// Woken when the address list changes, so new addresses are read at once.
    pub changed: Notify,
    /// Set once token metadata has been read, so logs are not rendered before
    /// their amounts can be formatted with the token's decimals.
    pub meta_ready: AtomicBool,
    pub meta_notify: Notify,
    /// The `logs` subscription is active on the current connection; while it is not,
    /// the logs of each new head are fetched with `eth_getLogs`.
    pub logs_live: AtomicBool,
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

    pub fn label(&self, address: Address) -> Option<String> {
        let read = |a: &Vec<(Address, String)>| {
            a.iter()
                .find(|(x, _)| *x == address)
                .map(|(_, l)| l.clone())
        };
        match self.addresses.read() {
            Ok(a) => read(&a),
            Err(p) => read(&p.into_inner()),
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
    }

    pub fn remove(&self, address: Address) {
        match self.addresses.write() {
            Ok(mut a) => a.retain(|(x, _)| *x != address),
            Err(p) => p.into_inner().retain(|(x, _)| *x != address),
        }
        self.changed.notify_one();
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

/// What one batch entry is for.
enum Slot {
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
}

#[derive(Clone, Copy)]
enum MetaField {
    Decimals,
    Symbol,
    Name,
}

/// Last values sent, so only changes go out.
#[derive(Default)]
struct Last {
    balances: HashMap<Address, U256>,
    nonces: HashMap<Address, u64>,
    tokens: HashMap<(Address, Address), U256>,
    views: HashMap<(usize, usize), Result<ViewValue, String>>,
    meta_asked: HashSet<Address>,
    /// The block last scanned for activity.
    scanned_block: Option<B256>,
    /// Set once the endpoint refused a whole batch: the most entries per request.
    batch_limit: Option<usize>,
}

impl Last {
    fn forget(&mut self, keep: &[(Address, String)]) {
        let kept = |a: &Address| keep.iter().any(|(k, _)| k == a);
        self.balances.retain(|a, _| kept(a));
        self.nonces.retain(|a, _| kept(a));
        self.tokens.retain(|(h, _), _| kept(h));
    }
}

const SEL_BALANCE_OF: [u8; 4] = [0x70, 0xa0, 0x82, 0x31];
const SEL_DECIMALS: [u8; 4] = [0x31, 0x3c, 0xe5, 0x67];
const SEL_SYMBOL: [u8; 4] = [0x95, 0xd8, 0x9b, 0x41];
const SEL_NAME: [u8; 4] = [0x06, 0xfd, 0xde, 0x03];

fn call(to: Address, data: &[u8], tag: &str) -> Value {
    json!([{ "to": to, "data": Bytes::copy_from_slice(data) }, tag])
}

/// What the refresh task works with (fixed for the run).
pub(crate) struct Refresher {
    pub net: NetIdx,
    pub http: HttpClient,
    pub tokens: Vec<Address>,
    pub contracts: Vec<ContractConfig>,
    pub watched: Arc<Watched>,
    pub updates: mpsc::Sender<Update>,
    pub shared: Arc<Shared>,
    pub feed: Arc<HeadFeed>,
    /// Where heads the node does not have are reported.
    pub chain_tx: mpsc::Sender<ChainInput>,
}

/// A pushed head the node did not know when asked; asked again after a while.
#[derive(Debug, Clone, Copy)]
struct Missing {
    head: Unconfirmed,
    since: Instant,
    tries: u32,
}

/// What the node said, the second time, about a head it did not know.
struct Recheck {
    missing: Missing,
    /// By hash: `Some(None)` is "no such block".
    by_hash: Option<Option<B256>>,
    /// The hash of the node's block at that number (`Some(None)`: none yet).
    at_number: Option<Option<B256>>,
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Real,
    /// Unknown by hash, twice, while the node has another block at its number.
    Invented,
    /// The node is not at that number yet, or did not answer.
    AskAgain,
}

impl Recheck {
    fn verdict(&self) -> Verdict {
        match (self.by_hash, self.at_number) {
            (Some(Some(_)), _) => Verdict::Real,
            (Some(None), Some(Some(other))) if other != self.missing.head.hash => Verdict::Invented,
            _ => Verdict::AskAgain,
        }
    }
}

/// How long after a first "no such block" a head is asked about again (the HTTP
/// node may simply be behind the WebSocket's).
const RECHECK_AFTER: Duration = Duration::from_secs(1);
/// Re-checks before a head the HTTP node never reaches is left alone.
const RECHECKS: u32 = 5;

impl Refresher {
    pub(crate) async fn run(self, mut heads: watch::Receiver<Option<(u64, B256)>>) {
        let mut last = Last::default();
        let mut missing: Vec<Missing> = Vec::new();
        let mut epoch = 0;
        loop {
            let recheck = missing.iter().map(|m| m.since + RECHECK_AFTER).min();
            tokio::select! {
                changed = heads.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                () = self.watched.changed.notified() => {}
                _ = tokio::time::sleep_until(recheck.unwrap_or_else(Instant::now).into()), if recheck.is_some() => {}
            }
            let now_epoch = self.feed.epoch.load(Ordering::SeqCst);
            if now_epoch != epoch {
                // A new chain: nothing read from the old one is worth comparing with.
                epoch = now_epoch;
                last = Last {
                    batch_limit: last.batch_limit,
                    ..Last::default()
                };
                missing.clear();
            }
            let Some(tip) = *heads.borrow_and_update() else {
                continue;
            };
            if !self.refresh(tip, &mut last, &mut missing).await {
                return;
            }
        }
    }

    /// One refresh at the head `tip`. False when the app has gone away.
    async fn refresh(
        &self,
        (block, block_hash): (u64, B256),
        last: &mut Last,
        missing: &mut Vec<Missing>,
    ) -> bool {
        let Self {
            net,
            http,
            tokens,
            contracts,
            watched,
            updates,
            shared,
            ..
        } = self;
        let net = *net;
        let addresses = watched.addresses();
        last.forget(&addresses);
        let tag = format!("{block:#x}");
        let mut calls: Vec<(&str, Value)> = Vec::new();
        let mut slots: Vec<Slot> = Vec::new();
        for (a, _) in &addresses {
            calls.push(("eth_getBalance", json!([a, tag])));
            slots.push(Slot::Balance(*a));
            calls.push(("eth_getTransactionCount", json!([a, tag])));
            slots.push(Slot::Nonce(*a));
            for t in tokens {
                let mut data = SEL_BALANCE_OF.to_vec();
                data.extend_from_slice(a.into_word().as_slice());
                calls.push(("eth_call", call(*t, &data, &tag)));
                slots.push(Slot::TokenBalance {
                    holder: *a,
                    token: *t,
                });
            }
        }
        for t in tokens {
            if last.meta_asked.insert(*t) {
                for (sel, field) in [
                    (SEL_DECIMALS, MetaField::Decimals),
                    (SEL_SYMBOL, MetaField::Symbol),
                    (SEL_NAME, MetaField::Name),
                ] {
                    calls.push(("eth_call", call(*t, &sel, &tag)));
                    slots.push(Slot::Meta { token: *t, field });
                }
            }
        }
        for (ci, c) in contracts.iter().enumerate() {
            for (vi, v) in c.views.iter().enumerate() {
                if block.is_multiple_of(v.every) || !last.views.contains_key(&(ci, vi)) {
                    calls.push(("eth_call", call(c.address, &v.calldata, &tag)));
                    slots.push(Slot::View {
                        contract: ci,
                        view: vi,
                    });
                }
            }
        }
        // Pushed heads are confirmed by hash (which also gives the transaction count
        // geth-style notifications leave out); the newest one with its transactions
        // when addresses are watched, for their activity.
        let scan = !addresses.is_empty() && last.scanned_block != Some(block_hash);
        let mut confirm = self.feed.take_unconfirmed();
        if scan && !confirm.iter().any(|u| u.hash == block_hash) {
            confirm.push(Unconfirmed {
                number: block,
                hash: block_hash,
                needs_tx_count: false,
            });
        }
        for u in confirm {
            let full = scan && u.hash == block_hash;
            calls.push(("eth_getBlockByHash", json!([u.hash, full])));
            slots.push(Slot::Confirm { head: u, full });
        }
        let now = Instant::now();
        let (due, waiting): (Vec<Missing>, Vec<Missing>) = missing
            .drain(..)
            .partition(|m| now >= m.since + RECHECK_AFTER);
        *missing = waiting;
        for m in due {
            calls.push(("eth_getBlockByHash", json!([m.head.hash, false])));
            slots.push(Slot::Recheck(m, false));
            calls.push((
                "eth_getBlockByNumber",
                json!([U64::from(m.head.number), false]),
            ));
            slots.push(Slot::Recheck(m, true));
        }
        if calls.is_empty() {
            return true;
        }
        let results = match batch(http, &calls, &mut last.batch_limit, shared).await {
            Ok(r) => r,
            Err(e) => {
                shared.error(format!(
                    "watch refresh at block {}: {e}",
                    crate::fmt::thousands(block)
                ));
                return true;
            }
        };
        let mut rechecked: HashMap<B256, Recheck> = HashMap::new();
        let mut suspects: Vec<B256> = Vec::new();
        let mut metas: HashMap<Address, TokenMeta> = HashMap::new();
        let mut out = Vec::new();
        let mut results: Vec<(Slot, BatchResult)> = slots.into_iter().zip(results).collect();
        // The HTTP node does not know the head yet (it lags the WebSocket's, or the
        // head is not real): everything read "at" it failed for that reason alone.
        // Keep only the confirmations; the refresh runs again when it is re-checked.
        let too_early = results.iter().any(|(slot, res)| {
            matches!(slot, Slot::Confirm { head, .. } if head.hash == block_hash)
                && res.as_ref().is_ok_and(|r| r.get() == "null")
        });
        if too_early {
            results.retain(|(slot, _)| {
                if let Slot::Meta { token, .. } = slot {
                    last.meta_asked.remove(token);
                }
                matches!(slot, Slot::Confirm { .. } | Slot::Recheck(..))
            });
        }
        // Token metadata first: views and balances read in the same batch are then
        // already formatted with the token's decimals.
        let (meta_first, rest): (Vec<_>, Vec<_>) = results
            .into_iter()
            .partition(|(slot, _)| matches!(slot, Slot::Meta { .. }));
        for (slot, res) in meta_first.into_iter().chain(rest) {
            match slot {
                Slot::Balance(address) => {
                    let Some(wei) = decode::<U256>(&res, shared, "balance", address) else {
                        continue;
                    };
                    if last.balances.insert(address, wei) != Some(wei) {
                        out.push(Update::Balance {
                            net,
                            address,
                            wei,
                            block,
                        });
                    }
                }
                Slot::Nonce(address) => {
                    let Some(n) = decode::<U64>(&res, shared, "nonce", address) else {
                        continue;
                    };
                    let nonce = n.to::<u64>();
                    if last.nonces.insert(address, nonce) != Some(nonce) {
                        out.push(Update::Nonce {
                            net,
                            address,
                            nonce,
                            block,
                        });
                    }
                }
                Slot::TokenBalance { holder, token } => {
                    let Some(bytes) = decode::<Bytes>(&res, shared, "token balance", token) else {
                        continue;
                    };
                    let Some(amount) = word(&bytes) else {
                        shared.error(format!(
                            "token {token}: balanceOf answered {} bytes; is it an ERC-20?",
                            bytes.len()
                        ));
                        continue;
                    };
                    if last.tokens.insert((holder, token), amount) != Some(amount) {
                        out.push(Update::TokenBalance {
                            net,
                            holder,
                            token,
                            amount,
                            block,
                        });
                    }
                }
                Slot::Meta { token, field } => {
                    let meta = metas.entry(token).or_insert(TokenMeta {
                        address: token,
                        symbol: None,
                        name: None,
                        decimals: None,
                    });
                    // Untrusted and optional: a token that does not answer keeps `None`.
                    let Ok(raw) = &res else { continue };
                    let Ok(bytes) = serde_json::from_str::<Bytes>(raw.get()) else {
                        continue;
                    };
                    match field {
                        MetaField::Decimals => {
                            meta.decimals = word(&bytes).and_then(|w| u8::try_from(w).ok())
                        }
                        MetaField::Symbol => meta.symbol = token_text(&bytes),
                        MetaField::Name => meta.name = token_text(&bytes),
                    }
                    watched.set_token(meta.clone());
                }
                Slot::View { contract, view } => {
                    let c = &contracts[contract];
                    let value = view_value(&res, &c.views[view].function, watched, c.address);
                    if last.views.get(&(contract, view)) != Some(&value) {
                        last.views.insert((contract, view), value.clone());
                        out.push(Update::View {
                            net,
                            contract: c.address,
                            index: view,
                            block,
                            value,
                        });
                    }
                }
                Slot::Confirm { head, full } => {
                    let b =
                        match res.map(|raw| serde_json::from_str::<Option<WireBlock>>(raw.get())) {
                            Ok(Ok(Some(b))) => b,
                            Ok(Ok(None)) => {
                                missing.push(Missing {
                                    head,
                                    since: Instant::now(),
                                    tries: 0,
                                });
                                suspects.push(head.hash);
                                continue;
                            }
                            Ok(Err(e)) => {
                                shared.error(format!(
                                    "block {} for activity: {e}",
                                    crate::fmt::thousands(head.number)
                                ));
                                continue;
                            }
                            Err(e) => {
                                shared.error(format!(
                                    "block {} for activity: {}",
                                    crate::fmt::thousands(head.number),
                                    e.message
                                ));
                                continue;
                            }
                        };
                    if head.needs_tx_count
                        && let Some(txs) = &b.transactions
                    {
                        out.push(Update::HeadTxCount {
                            net,
                            number: head.number,
                            hash: head.hash,
                            tx_count: txs.len() as u32,
                        });
                    }
                    if !full {
                        continue;
                    }
                    last.scanned_block = Some(b.hash);
                    if let Some(WireTxs::Full(txs)) = b.transactions {
                        for tx in txs {
                            for a in [Some(tx.from), tx.to].into_iter().flatten() {
                                if addresses.iter().any(|(w, _)| *w == a) {
                                    out.push(Update::Activity {
                                        net,
                                        address: a,
                                        block: Some(head.number),
                                        block_hash: Some(b.hash),
                                        tx: tx.hash,
                                        pending: false,
                                    });
                                }
                            }
                        }
                    }
                }
                Slot::Recheck(m, by_number) => {
                    let found = res
                        .ok()
                        .and_then(|raw| serde_json::from_str::<Option<WireBlock>>(raw.get()).ok())
                        .map(|b| b.map(|b| b.hash));
                    let entry = rechecked.entry(m.head.hash).or_insert(Recheck {
                        missing: m,
                        by_hash: None,
                        at_number: None,
                    });
                    if by_number {
                        entry.at_number = found;
                    } else {
                        entry.by_hash = found;
                    }
                }
            }
        }
        for hash in suspects {
            if self.chain_tx.send(ChainInput::Missing(hash)).await.is_err() {
                return false;
            }
        }
        for (hash, r) in rechecked {
            match r.verdict() {
                Verdict::Invented => {
                    if self.chain_tx.send(ChainInput::Retract(hash)).await.is_err() {
                        return false;
                    }
                }
                Verdict::Real => {}
                Verdict::AskAgain if r.missing.tries + 1 < RECHECKS => missing.push(Missing {
                    since: Instant::now(),
                    tries: r.missing.tries + 1,
                    ..r.missing
                }),
                Verdict::AskAgain => {}
            }
        }
        // Metadata first, so token balances arrive with their decimals known.
        let had_meta = !metas.is_empty();
        for meta in metas.into_values() {
            watched.set_token(meta.clone());
            if updates.send(Update::Token { net, meta }).await.is_err() {
                return false;
            }
        }
        if had_meta && !watched.meta_ready.swap(true, Ordering::SeqCst) {
            watched.meta_notify.notify_waiters();
        }
        for u in out {
            if updates.send(u).await.is_err() {
                return false;
            }
        }
        true
    }
}

/// Entries per request once an endpoint has refused a big batch (many providers cap
/// batches at 100 to 1,000 entries).
const SPLIT_BATCH: usize = 100;

/// The refresh batch: one request, unless the endpoint refuses batches that big;
/// then (and from then on) chunks of [`SPLIT_BATCH`], which is said once as an error
/// because it costs more requests per head.
async fn batch(
    http: &HttpClient,
    calls: &[(&str, Value)],
    limit: &mut Option<usize>,
    shared: &Shared,
) -> Result<Vec<BatchResult>, HttpError> {
    if limit.is_none_or(|l| calls.len() <= l) {
        match http.batch(calls).await {
            Ok(r) => return Ok(r),
            Err(e @ (HttpError::Transport(_) | HttpError::RateLimited(_))) => return Err(e),
            Err(e) if calls.len() <= SPLIT_BATCH => return Err(e),
            Err(e) => {
                shared.error(format!(
                    "the endpoint refused a batch of {} requests ({e}); \
                     splitting the refresh into requests of {SPLIT_BATCH}",
                    calls.len()
                ));
                *limit = Some(SPLIT_BATCH);
            }
        }
    }
    let mut out = Vec::with_capacity(calls.len());
    for chunk in calls.chunks(limit.unwrap_or(SPLIT_BATCH)) {
        out.extend(http.batch(chunk).await?);
    }
    Ok(out)
}

fn decode<T: serde::de::DeserializeOwned>(
    res: &BatchResult,
    shared: &Shared,
    what: &str,
    address: Address,
) -> Option<T> {
    match res {
        Ok(raw) => match serde_json::from_str::<T>(raw.get()) {
            Ok(v) => Some(v),
            Err(e) => {
                shared.error(format!("{what} of {address}: bad answer: {e}"));
                None
            }
        },
        Err(e) => {
            shared.error(format!("{what} of {address}: {} {}", e.code, e.message));
            None
        }
    }
}

/// The first 32-byte word of a call's answer as a number.
fn word(bytes: &[u8]) -> Option<U256> {
    (bytes.len() >= 32).then(|| U256::from_be_slice(&bytes[..32]))
}

/// A token's `symbol()`/`name()`: an ABI string, or a bytes32 in old tokens (MKR).
/// Escaped for display and bounded in length.
pub(crate) fn token_text(bytes: &[u8]) -> Option<String> {
    let text = match DynSolType::String.abi_decode(bytes) {
        Ok(DynSolValue::String(s)) => s,
        _ if bytes.len() == 32 => {
            let end = bytes.iter().position(|b| *b == 0).unwrap_or(32);
            String::from_utf8_lossy(&bytes[..end]).into_owned()
        }
        _ => return None,
    };
    let clean = sanitize(text.trim()).into_owned();
    if clean.is_empty() {
        return None;
    }
    Some(match clean.char_indices().nth(MAX_TOKEN_TEXT) {
        Some((i, _)) => format!("{}…", &clean[..i]),
        None => clean,
    })
}

/// A view's answer, or the reason it has none (revert, error, undecodable).
fn view_value(
    res: &BatchResult,
    function: &alloy_json_abi::Function,
    watched: &Watched,
    contract: Address,
) -> Result<ViewValue, String> {
    let raw = res.as_ref().map_err(revert_reason)?;
    let bytes: Bytes = serde_json::from_str(raw.get()).map_err(|e| format!("bad answer: {e}"))?;
    if bytes.is_empty() {
        return Err("empty answer (no contract at this address on this network?)".into());
    }
    let values = function
        .abi_decode_output(&bytes)
        .map_err(|e| sanitize(&format!("cannot decode the answer: {e}")).into_owned())?;
    let (display, json) = match values.as_slice() {
        // On a configured token, the ERC-20 amount views answer in token units:
        // show them with the token's decimals (other views stay plain numbers).
        [one @ DynSolValue::Uint(_, 256)]
            if matches!(
                function.name.as_str(),
                "totalSupply" | "balanceOf" | "allowance"
            ) =>
        {
            render(
                one,
                watched.token(contract).and_then(|m| m.decimals),
                watched,
            )
        }
        [one] => render(one, None, watched),
        many => render(&DynSolValue::Tuple(many.to_vec()), None, watched),
    };
    Ok(ViewValue { display, json })
}

/// The message of a failed call, with the `Error(string)` reason when the node only
/// gives it in `data`.
fn revert_reason(e: &RpcErrorObj) -> String {
    let reason = e
        .data
        .as_ref()
        .and_then(Value::as_str)
        .and_then(|d| d.parse::<Bytes>().ok())
        .filter(|d| d.len() > 4 && d[..4] == [0x08, 0xc3, 0x79, 0xa0])
        .and_then(|d| match DynSolType::String.abi_decode(&d[4..]) {
            Ok(DynSolValue::String(s)) => Some(s),
            _ => None,
        });
    let msg = match reason {
        Some(r) if !e.message.contains(&r) => format!("{}: {r}", e.message),
        _ => e.message.clone(),
    };
    sanitize(&msg).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn abi_string(s: &str) -> Vec<u8> {
        DynSolValue::String(s.to_string()).abi_encode()
    }

    #[test]
    fn token_amount_views_use_decimals_and_other_views_do_not() {
        let token = Address::repeat_byte(7);
        let watched = Watched::new(Vec::new());
        watched.set_token(TokenMeta {
            address: token,
            symbol: None,
            name: None,
            decimals: Some(6),
        });
        let answer: BatchResult = Ok(serde_json::value::to_raw_value(&Bytes::from(
            U256::from(1_500_000u64).to_be_bytes::<32>().to_vec(),
        ))
        .expect("raw"));
        let f = |sig: &str| alloy_json_abi::Function::parse(sig).expect("signature");
        let shown = |sig: &str, at: Address| {
            view_value(&answer, &f(sig), &watched, at)
                .map(|v| v.display)
                .expect("value")
        };
        assert_eq!(
            shown("function totalSupply() returns (uint256)", token),
            "1.5"
        );
        assert_eq!(
            shown("function flag() returns (uint256)", token),
            "1,500,000"
        );
        assert_eq!(
            shown("function totalSupply() returns (uint256)", Address::ZERO),
            "1,500,000"
        );
    }

    #[test]
    fn hostile_and_old_style_token_text_is_escaped() {
        let hostile = abi_string("\x1b[31mUSDC\x1b]0;pwned\x07\u{202e}");
        let shown = token_text(&hostile).expect("text");
        assert!(!shown.chars().any(|c| c.is_control()), "{shown:?}");
        assert!(
            shown.starts_with("\\x1b[31mUSDC\\x1b]0;pwned\\x07"),
            "{shown:?}"
        );
        let mut b32 = [0u8; 32];
        b32[..3].copy_from_slice(b"MKR");
        assert_eq!(token_text(&b32).as_deref(), Some("MKR"));
        assert_eq!(token_text(&[1, 2]), None);
        let long = abi_string(&"A".repeat(200));
        assert_eq!(
            token_text(&long).map(|s| s.chars().count()),
            Some(MAX_TOKEN_TEXT + 1)
        );
    }

    /// A node refusing batches of more than 100 entries with a single error object
    /// (as hosted providers do); answers `eth_getBalance` with the entry's index.
    async fn capped_node() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        crate::network::test_server::json_rpc_server(|body| {
            let reqs = body.as_array().cloned().unwrap_or_default();
            if reqs.len() > 100 {
                json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32600, "message": "batch size too large"}})
            } else {
                Value::Array(
                    reqs.iter()
                        .map(|r| json!({"jsonrpc": "2.0", "id": r["id"], "result": "0x1"}))
                        .collect(),
                )
            }
        })
        .await
    }

    #[tokio::test]
    async fn a_refused_big_batch_is_split_from_then_on() {
        let (url, requests) = capped_node().await;
        let http = HttpClient::new(&url, Arc::default(), 1 << 22).expect("client");
        let shared = Shared::new("n".into(), Arc::default(), None);
        let calls: Vec<(&str, Value)> = (0..250)
            .map(|_| {
                (
                    "eth_getBalance",
                    json!(["0x0000000000000000000000000000000000000001", "latest"]),
                )
            })
            .collect();
        let mut limit = None;
        let r = batch(&http, &calls, &mut limit, &shared)
            .await
            .expect("split");
        assert_eq!(r.len(), 250);
        assert!(
            r.iter()
                .all(|x| x.as_ref().is_ok_and(|v| v.get() == "\"0x1\""))
        );
        assert_eq!(limit, Some(SPLIT_BATCH));
        // The refused batch, then 3 chunks.
        assert_eq!(requests.load(std::sync::atomic::Ordering::Relaxed), 4);
        assert!(
            shared
                .stats()
                .last_error
                .is_some_and(|e| e.contains("splitting"))
        );
        // Next time it goes straight to chunks.
        batch(&http, &calls, &mut limit, &shared)
            .await
            .expect("split");
        assert_eq!(requests.load(std::sync::atomic::Ordering::Relaxed), 7);
    }

    #[test]
    fn a_head_is_invented_only_when_the_node_has_another_block_at_its_number() {
        let hash = B256::repeat_byte(7);
        let r = |by_hash, at_number| {
            Recheck {
                missing: Missing {
                    head: Unconfirmed {
                        number: 9,
                        hash,
                        needs_tx_count: false,
                    },
                    since: Instant::now(),
                    tries: 0,
                },
                by_hash,
                at_number,
            }
            .verdict()
        };
        let other = Some(Some(B256::repeat_byte(8)));
        assert_eq!(r(Some(None), other), Verdict::Invented);
        assert_eq!(r(Some(Some(hash)), other), Verdict::Real, "known now");
        assert_eq!(
            r(Some(None), Some(None)),
            Verdict::AskAgain,
            "node not there yet"
        );
        assert_eq!(r(None, other), Verdict::AskAgain, "no answer");
        assert_eq!(r(Some(None), Some(Some(hash))), Verdict::AskAgain);
    }

    #[test]
    fn revert_reasons_are_read_from_data_when_the_message_lacks_them() {
        let mut data = vec![0x08, 0xc3, 0x79, 0xa0];
        data.extend(DynSolValue::String("nope".into()).abi_encode_params());
        let e = RpcErrorObj {
            code: 3,
            message: "execution reverted".into(),
            data: Some(json!(Bytes::from(data))),
        };
        assert_eq!(revert_reason(&e), "execution reverted: nope");
    }
}
