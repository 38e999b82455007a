//! Logs of watched contracts and tokens: `logs` subscription filters (one for the
//! contracts' events, two for the tokens' transfers that name a watched address),
//! decoding with the configured events (alloy-dyn-abi), labelling, dedupe, and the
//! `eth_getLogs` refill of blocks missed while disconnected.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use alloy_dyn_abi::{DynSolValue, EventExt};
use alloy_json_abi::Event;
use alloy_primitives::{Address, B256, U64};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::Shared;
use super::decode::abi_value;
use super::watched::Watched;
use crate::config::ContractConfig;
use crate::event::{Arg, EventLog, NetIdx, Update};
use crate::rpc::http::{HttpClient, HttpError, is_range_error};
use crate::rpc::types::WireLog;
use crate::text::sanitize;

/// `Transfer(address,address,uint256)`, shared by ERC-20 and ERC-721.
pub const TRANSFER_TOPIC: B256 =
    alloy_primitives::b256!("ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");
/// How many (block hash, log index) keys are remembered to deliver each log once.
const SEEN_KEPT: usize = 8192;
/// Longest wait for token metadata before logs are shown anyway.
const META_WAIT: Duration = Duration::from_secs(5);
/// Smallest block range split further when a provider refuses a range.
const MAX_SPLITS: u32 = 16;

/// What the session and the chain task hand to the log task.
#[derive(Debug)]
pub(crate) enum LogInput {
    /// A `logs` notification.
    Log(Box<WireLog>),
    /// Blocks `from..=to` may have logs we did not get pushed (reconnect, polling).
    Range { from: u64, to: u64 },
    /// These blocks were orphaned (a reorg, a retracted head, a new chain): the logs
    /// delivered from them are retracted, whether or not the node says so.
    Orphaned(Vec<B256>),
}

/// Blocks whose delivered logs are remembered for retraction.
const DELIVERED_BLOCKS: usize = 512;

/// The logs delivered per block hash (bounded), to retract them when the block is
/// orphaned.
#[derive(Default)]
struct Delivered {
    by_block: HashMap<B256, Vec<WireLog>>,
    order: VecDeque<B256>,
}

impl Delivered {
    fn add(&mut self, log: &WireLog) {
        let Some(hash) = log.block_hash else { return };
        if log.removed {
            if let Some(v) = self.by_block.get_mut(&hash) {
                v.retain(|l| l.log_index != log.log_index);
            }
            return;
        }
        if !self.by_block.contains_key(&hash) {
            if self.order.len() == DELIVERED_BLOCKS
                && let Some(old) = self.order.pop_front()
            {
                self.by_block.remove(&old);
            }
            self.order.push_back(hash);
        }
        self.by_block.entry(hash).or_default().push(log.clone());
    }

    /// The logs delivered from `hash`, as retractions.
    fn retract(&mut self, hash: &B256) -> Vec<WireLog> {
        self.order.retain(|h| h != hash);
        self.by_block
            .remove(hash)
            .unwrap_or_default()
            .into_iter()
            .map(|mut l| {
                l.removed = true;
                l
            })
            .collect()
    }
}

/// The events known for one address.
struct Source {
    label: Option<String>,
    events: Vec<Event>,
    /// A configured token: its Transfers are shown when they involve a watched address.
    token: bool,
    /// A configured contract: all its logs are shown.
    contract: bool,
}

/// Watched addresses past which a token's `Transfer` filter names no addresses
/// (all its transfers come, and the ones of strangers are dropped here): providers
/// cap a filter's length.
const NARROW_MAX: usize = 1000;

/// The `logs` filters of one network. Contracts' events come through one filter.
/// A token's `Transfer`s come through two that name the watched addresses, as
/// sender and as recipient: a provider bills each block with a matching log, and a
/// busy token has one in nearly every block, so only the transfers that concern
/// the watch list are pushed (and billed).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LogFilters {
    contracts: Option<Value>,
    tokens: Vec<Address>,
}

impl LogFilters {
    /// The contracts' filter.
    pub fn contracts(&self) -> Option<&Value> {
        self.contracts.as_ref()
    }

    /// The filters, for the addresses watched now.
    pub fn all(&self, watched: &[(Address, String)]) -> Vec<Value> {
        self.contracts
            .iter()
            .cloned()
            .chain(self.tokens(watched))
            .collect()
    }

    /// The tokens' filters: none while nothing is watched (no transfer would be
    /// shown).
    pub fn tokens(&self, watched: &[(Address, String)]) -> Vec<Value> {
        if self.tokens.is_empty() || watched.is_empty() {
            return Vec::new();
        }
        if watched.len() > NARROW_MAX {
            return vec![json!({ "address": self.tokens, "topics": [[TRANSFER_TOPIC]] })];
        }
        let mut holders: Vec<B256> = watched.iter().map(|(a, _)| a.into_word()).collect();
        holders.sort();
        holders.dedup();
        vec![
            json!({ "address": self.tokens, "topics": [[TRANSFER_TOPIC], holders] }),
            json!({ "address": self.tokens, "topics": [[TRANSFER_TOPIC], null, holders] }),
        ]
    }
}

/// Decodes logs of one network's contracts and tokens.
pub(crate) struct LogDecoder {
    sources: HashMap<Address, Source>,
}

fn transfer_event() -> Event {
    Event::parse("Transfer(address indexed from, address indexed to, uint256 value)")
        .unwrap_or_else(|_| Event {
            name: "Transfer".into(),
            inputs: Vec::new(),
            anonymous: false,
        })
}

impl LogDecoder {
    /// Does it decode any configured token's logs?
    pub fn has_tokens(&self) -> bool {
        self.sources.values().any(|s| s.token)
    }

    pub fn new(contracts: &[ContractConfig], tokens: &[Address]) -> Self {
        let mut sources: HashMap<Address, Source> = HashMap::new();
        for c in contracts {
            let s = sources.entry(c.address).or_insert_with(|| Source {
                label: None,
                events: Vec::new(),
                token: false,
                contract: false,
            });
            s.label = Some(c.label.clone());
            // A contract watched for its views only is not one whose logs are shown
            // (were it a token too, all its transfers would be pushed and billed).
            s.contract |= !c.events.is_empty();
            s.events.extend(c.events.iter().cloned());
        }
        for t in tokens {
            let s = sources.entry(*t).or_insert_with(|| Source {
                label: None,
                events: Vec::new(),
                token: false,
                contract: false,
            });
            s.token = true;
            if !s.events.iter().any(|e| e.selector() == TRANSFER_TOPIC) {
                s.events.push(transfer_event());
            }
        }
        Self { sources }
    }

    /// What to subscribe to, or `None` when no logs are wanted: tokens, and
    /// contracts that declare events (a views-only contract's logs are not).
    pub fn filters(&self) -> Option<LogFilters> {
        let mut contracts: Vec<Address> = Vec::new();
        let mut tokens: Vec<Address> = Vec::new();
        let mut topics: Vec<B256> = Vec::new();
        let mut any_topic = false;
        for (a, s) in &self.sources {
            if s.events.is_empty() {
                continue;
            }
            if !s.contract {
                // A token only: its Transfers that name a watched address.
                tokens.push(*a);
                continue;
            }
            contracts.push(*a);
            // Anonymous events have no selector topic: such a contract needs all topics.
            if s.events.iter().any(|e| e.anonymous) {
                any_topic = true;
            }
            for e in s.events.iter().filter(|e| !e.anonymous) {
                let t = e.selector();
                if !topics.contains(&t) {
                    topics.push(t);
                }
            }
        }
        if contracts.is_empty() && tokens.is_empty() {
            return None;
        }
        contracts.sort();
        tokens.sort();
        topics.sort();
        let contracts = (!contracts.is_empty()).then(|| {
            if any_topic {
                json!({ "address": contracts })
            } else {
                json!({ "address": contracts, "topics": [topics] })
            }
        });
        Some(LogFilters { contracts, tokens })
    }

    /// Decode one log. `None` when it is not for the feed: a token Transfer not
    /// involving a watched address (unless the token is also a watched contract).
    /// Also returns the watched addresses it is activity for.
    pub fn decode(&self, log: WireLog, watched: &Watched) -> Option<(EventLog, Vec<Address>)> {
        let (log, activity, shown) = self.decode_parts(log, watched);
        shown.then_some((log, activity))
    }

    /// Decode any log, for a receipt: with its event where one is known, raw
    /// otherwise.
    pub fn decode_any(&self, log: WireLog, watched: &Watched) -> EventLog {
        self.decode_parts(log, watched).0
    }

    /// The log, the watched addresses it is activity for, and whether the feed
    /// shows it.
    fn decode_parts(&self, log: WireLog, watched: &Watched) -> (EventLog, Vec<Address>, bool) {
        let source = self.sources.get(&log.address);
        let mut decoded = None;
        for e in source.map(|s| s.events.as_slice()).unwrap_or_default() {
            if !e.anonymous && log.topics.first() != Some(&e.selector()) {
                continue;
            }
            if let Ok(d) = e.decode_log_parts(log.topics.iter().copied(), &log.data) {
                decoded = Some((e, d));
                break;
            }
        }
        let token_meta = watched.token(log.address);
        let mut args = Vec::new();
        let mut activity = Vec::new();
        if let Some((e, d)) = &decoded {
            let (mut indexed, mut body) = (d.indexed.iter(), d.body.iter());
            for p in &e.inputs {
                let Some(v) = (if p.indexed {
                    indexed.next()
                } else {
                    body.next()
                }) else {
                    break;
                };
                // Amounts of a known token get its decimals; only value-like
                // (non-indexed uint) arguments are amounts.
                let decimals = token_meta
                    .as_ref()
                    .and_then(|m| m.decimals)
                    .filter(|_| !p.indexed && p.ty.starts_with("uint"));
                if let DynSolValue::Address(a) = v
                    && watched.contains(*a)
                    && !activity.contains(a)
                {
                    activity.push(*a);
                }
                args.push(Arg {
                    name: sanitize(&p.name).into_owned(),
                    ty: p.ty.clone(),
                    indexed: p.indexed,
                    value: abi_value(v, decimals),
                });
            }
        }
        let is_transfer = decoded
            .as_ref()
            .is_some_and(|(e, _)| e.selector() == TRANSFER_TOPIC);
        let shown = source.is_none_or(|s| s.contract)
            || (source.is_some_and(|s| s.token) && is_transfer && !activity.is_empty());
        if !is_transfer {
            // Only a token movement counts as activity of the addresses it names.
            activity.clear();
        }
        let label = source
            .and_then(|s| s.label.clone())
            .or_else(|| token_meta.and_then(|m| m.symbol));
        (
            EventLog {
                address: log.address,
                source: label,
                event: decoded.map(|(e, _)| sanitize(&e.name).into_owned()),
                args,
                topics: log.topics,
                data: log.data,
                block: log.block_number.map(|n| n.to()),
                block_hash: log.block_hash,
                tx: log.transaction_hash,
                log_index: log.log_index.map(|n| n.to()),
                removed: log.removed,
            },
            activity,
            shown,
        )
    }
}

/// Remembers recently delivered logs so each is delivered once (a retraction is a
/// different delivery than the log itself).
#[derive(Default)]
pub(crate) struct Seen {
    set: HashSet<(B256, u64, bool)>,
    order: VecDeque<(B256, u64, bool)>,
}

impl Seen {
    /// True the first time a log is offered. Logs without block hash or index
    /// (not mined yet) cannot be told apart and always pass.
    pub fn first(&mut self, log: &WireLog) -> bool {
        let (Some(hash), Some(index)) = (log.block_hash, log.log_index) else {
            return true;
        };
        let key = (hash, index.to::<u64>(), log.removed);
        if !self.set.insert(key) {
            return false;
        }
        if self.order.len() == SEEN_KEPT
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        self.order.push_back(key);
        true
    }
}

/// `eth_getLogs` over `from..=to`, halving the range while the provider says it is
/// too wide or returns too much.
pub(crate) async fn get_logs(
    http: &HttpClient,
    filter: &Value,
    from: u64,
    to: u64,
) -> Result<Vec<WireLog>, String> {
    let mut out = Vec::new();
    let mut todo = vec![(from, to, 0u32)];
    while let Some((a, b, depth)) = todo.pop() {
        let mut f = filter.clone();
        f["fromBlock"] = json!(U64::from(a));
        f["toBlock"] = json!(U64::from(b));
        match http.call::<Vec<WireLog>>("eth_getLogs", json!([f])).await {
            Ok(logs) => out.extend(logs),
            Err(HttpError::Rpc(e)) if is_range_error(&e) && a < b && depth < MAX_SPLITS => {
                let mid = a + (b - a) / 2;
                // Pushed in reverse so the lower half is fetched (and delivered) first.
                todo.push((mid + 1, b, depth + 1));
                todo.push((a, mid, depth + 1));
            }
            Err(e) => return Err(format!("eth_getLogs {a}..={b}: {e}")),
        }
    }
    Ok(out)
}

/// The log task of one network: decodes pushed logs and refills missed ranges.
pub(crate) async fn run(
    net: NetIdx,
    http: Option<HttpClient>,
    decoder: LogDecoder,
    watched: Arc<Watched>,
    mut rx: mpsc::Receiver<LogInput>,
    updates: mpsc::Sender<Update>,
    shared: Arc<Shared>,
) {
    let filters = decoder.filters();
    let mut seen = Seen::default();
    let mut delivered = Delivered::default();
    while let Some(input) = rx.recv().await {
        let logs = match input {
            LogInput::Log(l) => vec![*l],
            LogInput::Orphaned(hashes) => {
                hashes.iter().flat_map(|h| delivered.retract(h)).collect()
            }
            LogInput::Range { from, to } => {
                let (Some(http), Some(filters)) = (&http, &filters) else {
                    continue;
                };
                let mut logs = Vec::new();
                for filter in filters.all(&watched.addresses()) {
                    match get_logs(http, &filter, from, to).await {
                        Ok(l) => logs.extend(l),
                        Err(e) => shared.error(format!("missed logs not refilled: {e}")),
                    }
                }
                // Each filter's logs come in order; together, in the chain's.
                logs.sort_by_key(|l| (l.block_number, l.log_index));
                logs
            }
        };
        // A token's first logs can come before its decimals are read; wait (briefly)
        // for the metadata so amounts are not shown as raw integers.
        if decoder.has_tokens() && !watched.meta_ready.load(Ordering::SeqCst) {
            let ready = watched.meta_notify.notified();
            if !watched.meta_ready.load(Ordering::SeqCst) {
                let _ = tokio::time::timeout(META_WAIT, ready).await;
            }
        }
        for log in logs {
            if !seen.first(&log) {
                continue;
            }
            delivered.add(&log);
            let Some((event, activity)) = decoder.decode(log, &watched) else {
                continue;
            };
            // A token moved (or a move was undone): its holders' balances changed.
            // A retraction has them read whatever was read since.
            let at = event.block.filter(|_| !event.removed);
            watched.touch(&activity, at);
            if !event.removed
                && let Some(tx) = event.tx
            {
                for address in activity {
                    let u = Update::Activity {
                        net,
                        address,
                        block: event.block,
                        block_hash: event.block_hash,
                        tx,
                    };
                    if updates.send(u).await.is_err() {
                        return;
                    }
                }
            }
            let u = Update::Log {
                net,
                log: Box::new(event),
            };
            if updates.send(u).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{AbiValue, TokenMeta};
    use alloy_primitives::{Bytes, U256};

    fn addr(b: u8) -> Address {
        Address::repeat_byte(b)
    }

    fn topic(a: Address) -> B256 {
        a.into_word()
    }

    fn transfer(token: Address, from: Address, to: Address, value: u64, index: u64) -> WireLog {
        WireLog {
            address: token,
            topics: vec![TRANSFER_TOPIC, topic(from), topic(to)],
            data: Bytes::from(U256::from(value).to_be_bytes::<32>().to_vec()),
            block_hash: Some(B256::repeat_byte(7)),
            block_number: Some(U64::from(5)),
            transaction_hash: Some(B256::repeat_byte(9)),
            transaction_index: Some(U64::from(0)),
            log_index: Some(U64::from(index)),
            removed: false,
        }
    }

    fn watched() -> Watched {
        let w = Watched::new(vec![(addr(1), "mine".into())]);
        w.set_token(TokenMeta {
            address: addr(0xee),
            symbol: Some("TT".into()),
            name: None,
            decimals: Some(6),
        });
        w
    }

    #[test]
    fn token_transfers_decode_with_labels_and_decimals_and_count_as_activity() {
        let d = LogDecoder::new(&[], &[addr(0xee)]);
        let w = watched();
        let (log, activity) = d
            .decode(transfer(addr(0xee), addr(2), addr(1), 1_500_000, 0), &w)
            .expect("involves a watched address");
        assert_eq!(log.event.as_deref(), Some("Transfer"));
        assert_eq!(log.source.as_deref(), Some("TT"));
        let values: Vec<&AbiValue> = log.args.iter().map(|a| &a.value).collect();
        assert_eq!(
            values,
            vec![
                &AbiValue::Address(addr(2)),
                &AbiValue::Address(addr(1)),
                &AbiValue::Uint {
                    value: U256::from(1_500_000u64),
                    decimals: Some(6)
                }
            ],
            "the amount carries the token's decimals; the addresses are typed"
        );
        assert_eq!(activity, vec![addr(1)]);
        assert!(!log.removed);
        let mut retracted = transfer(addr(0xee), addr(2), addr(1), 1_500_000, 0);
        retracted.removed = true;
        let (log, _) = d.decode(retracted, &w).expect("retraction shown");
        assert!(log.removed, "marked reverted");
        // Transfers between strangers are not for the feed.
        assert!(
            d.decode(transfer(addr(0xee), addr(2), addr(3), 1, 1), &w)
                .is_none()
        );
        // The token's transfers are subscribed to where they name a watched
        // address: as sender, or as recipient.
        let f = d.filters().expect("filters");
        assert_eq!(f.contracts(), None);
        let mine = w.addresses();
        let holders = json!([topic(addr(1))]);
        assert_eq!(
            f.all(&mine),
            vec![
                json!({ "address": [addr(0xee)], "topics": [[TRANSFER_TOPIC], holders] }),
                json!({ "address": [addr(0xee)], "topics": [[TRANSFER_TOPIC], null, holders] }),
            ]
        );
        // Nothing watched: no transfer would be shown, none is subscribed to.
        assert!(f.all(&[]).is_empty());
        // Past a provider's filter length, all of them (strangers' dropped here).
        let many: Vec<(Address, String)> = (0..=NARROW_MAX as u64)
            .map(|i| (Address::left_padding_from(&i.to_be_bytes()), String::new()))
            .collect();
        assert_eq!(f.tokens(&many)[0]["topics"], json!([[TRANSFER_TOPIC]]));
        // A contract with views only adds nothing to the subscription.
        let views_only = ContractConfig {
            address: addr(0xcc),
            label: "feed".into(),
            events: Vec::new(),
            views: Vec::new(),
        };
        assert_eq!(
            LogDecoder::new(std::slice::from_ref(&views_only), &[]).filters(),
            None
        );
        // A token that is also a contract watched for its views: still only the
        // transfers that name a watched address.
        let mut token_contract = ContractConfig {
            address: addr(0xee),
            label: "TT".into(),
            events: Vec::new(),
            views: Vec::new(),
        };
        let views = LogDecoder::new(std::slice::from_ref(&token_contract), &[addr(0xee)]);
        assert_eq!(views.filters().expect("filters").all(&mine), f.all(&mine));
        // One watched for its events: all of them, in one filter.
        token_contract.events = vec![transfer_event()];
        let both = LogDecoder::new(&[views_only, token_contract], &[addr(0xee)])
            .filters()
            .expect("filters");
        assert_eq!(
            both.all(&mine),
            vec![json!({ "address": [addr(0xee)], "topics": [[TRANSFER_TOPIC]] })]
        );
    }

    #[test]
    fn undecodable_logs_of_contracts_are_kept_raw() {
        let c = ContractConfig {
            address: addr(0xcc),
            label: "pool".into(),
            events: vec![transfer_event()],
            views: Vec::new(),
        };
        let d = LogDecoder::new(&[c], &[]);
        let mut l = transfer(addr(0xcc), addr(2), addr(3), 1, 0);
        l.data = Bytes::from_static(&[1, 2, 3]); // too short for a uint256
        let (log, activity) = d
            .decode(l.clone(), &watched())
            .expect("contract logs are shown");
        assert_eq!(log.event, None);
        assert!(log.args.is_empty());
        assert_eq!(log.topics, l.topics);
        assert_eq!(log.data, l.data);
        assert_eq!(log.source.as_deref(), Some("pool"));
        assert!(activity.is_empty());
    }

    /// A node that refuses `eth_getLogs` over more than 4 blocks, with a provider's
    /// "too many results" wording, and answers one log per block otherwise.
    async fn narrow_node() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        crate::network::test_server::json_rpc_server(|req| {
            let n = |k: &str| {
                req["params"][0][k]
                    .as_str()
                    .and_then(|h| u64::from_str_radix(h.trim_start_matches("0x"), 16).ok())
                    .unwrap_or(0)
            };
            let (from, to) = (n("fromBlock"), n("toBlock"));
            if to - from + 1 > 4 {
                json!({"jsonrpc": "2.0", "id": req["id"], "error": {"code": -32005, "message": "query returned more than 10000 results"}})
            } else {
                let logs: Vec<WireLog> = (from..=to)
                    .map(|b| {
                        let mut l = transfer(addr(0xee), addr(2), addr(1), b, 0);
                        l.block_number = Some(U64::from(b));
                        l.block_hash = Some(B256::with_last_byte(b as u8));
                        l
                    })
                    .collect();
                json!({"jsonrpc": "2.0", "id": req["id"], "result": logs})
            }
        })
        .await
    }

    #[tokio::test]
    async fn refill_splits_ranges_the_provider_refuses() {
        let (url, requests) = narrow_node().await;
        let http = HttpClient::new(&url, Arc::default(), 1 << 20).expect("client");
        let filter = LogDecoder::new(&[], &[addr(0xee)])
            .filters()
            .map(|f| f.all(&[(addr(1), String::new())]).remove(0))
            .expect("filter");
        let logs = get_logs(&http, &filter, 10, 29).await.expect("logs");
        let blocks: Vec<u64> = logs
            .iter()
            .filter_map(|l| l.block_number.map(|n| n.to::<u64>()))
            .collect();
        assert_eq!(
            blocks,
            (10..=29).collect::<Vec<_>>(),
            "every block once, in order"
        );
        // 20 blocks → halves of 10 → 5 → 3+2: 1 + 2 + 4 + 8 requests.
        assert_eq!(requests.load(std::sync::atomic::Ordering::Relaxed), 15);
    }

    #[test]
    fn each_log_is_delivered_once_and_its_retraction_once() {
        let mut s = Seen::default();
        let mut l = transfer(addr(1), addr(2), addr(3), 1, 0);
        assert!(s.first(&l));
        assert!(!s.first(&l));
        l.removed = true;
        assert!(s.first(&l));
        assert!(!s.first(&l));
        for i in 0..(SEEN_KEPT as u64 + 10) {
            s.first(&transfer(addr(1), addr(2), addr(3), 1, i + 100));
        }
        assert!(s.set.len() <= SEEN_KEPT, "bounded");
    }
}
