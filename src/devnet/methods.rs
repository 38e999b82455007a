//! JSON-RPC method handling against the simulated chain, shared by HTTP and WS.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use alloy_primitives::{Address, B256, Bytes, U256};
use serde_json::{Value, json};

use super::DEMO_TOKEN;
use super::calls;
use super::chain::{Block, Chain, Log, State, Tx};
use super::fault::LogsRangeStyle;
use super::node::Shared;
use crate::rpc::multicall3::MULTICALL3;
use crate::rpc::types::{RpcErrorObj, RpcResponse};

pub(crate) fn q(n: u64) -> String {
    format!("{n:#x}")
}

fn err(code: i64, message: impl Into<String>) -> RpcErrorObj {
    RpcErrorObj {
        code,
        message: message.into(),
        data: None,
    }
}

fn invalid_params(msg: impl Into<String>) -> RpcErrorObj {
    err(-32602, msg)
}

/// What a WebSocket subscription delivers.
#[derive(Debug, Clone)]
pub(crate) enum SubKind {
    NewHeads,
    /// `only`: Alchemy's `alchemy_pendingTransactions`, whole transactions from or
    /// to these addresses.
    Pending {
        full: bool,
        only: Option<Vec<alloy_primitives::Address>>,
    },
    Logs(LogFilter),
}

#[derive(Debug, Clone)]
pub(crate) struct Sub {
    pub id: String,
    pub kind: SubKind,
}

/// Address and topic filter of `eth_getLogs` and `logs` subscriptions.
#[derive(Debug, Clone, Default)]
pub(crate) struct LogFilter {
    addresses: Vec<Address>,
    /// Per position: `None` matches anything, otherwise any of the listed topics.
    topics: Vec<Option<Vec<B256>>>,
}

impl LogFilter {
    fn parse(obj: &Value) -> Result<Self, RpcErrorObj> {
        let bad = |what: &str| invalid_params(format!("invalid filter: {what}"));
        let addresses = match obj.get("address") {
            None | Some(Value::Null) => Vec::new(),
            Some(v @ Value::String(_)) => {
                vec![serde_json::from_value(v.clone()).map_err(|_| bad("address"))?]
            }
            Some(v @ Value::Array(_)) => {
                serde_json::from_value(v.clone()).map_err(|_| bad("address"))?
            }
            Some(_) => return Err(bad("address")),
        };
        let mut topics = Vec::new();
        match obj.get("topics") {
            None | Some(Value::Null) => {}
            Some(Value::Array(ts)) => {
                if ts.len() > 4 {
                    return Err(bad("more than 4 topics"));
                }
                for t in ts {
                    topics.push(match t {
                        Value::Null => None,
                        Value::String(_) => Some(vec![
                            serde_json::from_value(t.clone()).map_err(|_| bad("topic"))?,
                        ]),
                        Value::Array(alts) if alts.is_empty() => None,
                        Value::Array(_) => {
                            Some(serde_json::from_value(t.clone()).map_err(|_| bad("topic"))?)
                        }
                        _ => return Err(bad("topic")),
                    });
                }
            }
            Some(_) => return Err(bad("topics")),
        }
        Ok(Self { addresses, topics })
    }

    pub fn matches(&self, log: &Log) -> bool {
        if !self.addresses.is_empty() && !self.addresses.contains(&log.address) {
            return false;
        }
        self.topics.iter().enumerate().all(|(i, want)| match want {
            None => true,
            Some(alts) => log.topics.get(i).is_some_and(|t| alts.contains(t)),
        })
    }
}

pub(crate) fn log_json(
    block: &Block,
    tx_index: usize,
    log_index: usize,
    tx: &Tx,
    log: &Log,
    removed: bool,
) -> Value {
    json!({
        "address": log.address,
        "topics": log.topics,
        "data": log.data,
        "blockHash": block.hash,
        "blockNumber": q(block.number),
        "blockTimestamp": q(block.timestamp),
        "transactionHash": tx.hash,
        "transactionIndex": q(tx_index as u64),
        "logIndex": q(log_index as u64),
        "removed": removed,
    })
}

/// The receipt of transaction `i` of `block`: every devnet transaction succeeds
/// and uses its gas limit.
fn receipt_json(block: &Block, i: usize) -> Value {
    let tx = &block.txs[i];
    let cumulative: u64 = block.txs[..=i].iter().map(|t| t.gas).sum();
    let logs: Vec<Value> = block
        .logs()
        .filter(|(ti, ..)| *ti == i)
        .map(|(ti, li, tx, log)| log_json(block, ti, li, tx, log, false))
        .collect();
    json!({
        "type": "0x2",
        "transactionHash": tx.hash,
        "transactionIndex": q(i as u64),
        "blockHash": block.hash,
        "blockNumber": q(block.number),
        "from": tx.from,
        "to": tx.to,
        "cumulativeGasUsed": q(cumulative),
        "gasUsed": q(tx.gas),
        "effectiveGasPrice": q(block.base_fee.saturating_add(tx.tip).min(tx.max_fee)),
        "contractAddress": Value::Null,
        "logs": logs,
        "logsBloom": block.bloom,
        "status": "0x1",
    })
}

pub(crate) fn tx_json(
    tx: &Tx,
    chain_id: u64,
    base_fee: u64,
    block: Option<(&Block, usize)>,
) -> Value {
    let mut v = json!({
        "type": "0x2",
        "hash": tx.hash,
        "from": tx.from,
        "to": tx.to,
        "value": tx.value,
        "nonce": q(tx.nonce),
        "gas": q(tx.gas),
        "gasPrice": q(base_fee.saturating_add(tx.tip).min(tx.max_fee)),
        "maxFeePerGas": q(tx.max_fee),
        "maxPriorityFeePerGas": q(tx.tip),
        "input": tx.input,
        "chainId": q(chain_id),
        "accessList": [],
        "v": "0x1",
        "yParity": "0x1",
        "r": tx.hash,
        "s": tx.hash,
        "blockHash": Value::Null,
        "blockNumber": Value::Null,
        "transactionIndex": Value::Null,
    });
    if let (Some((b, i)), Value::Object(m)) = (block, &mut v) {
        m.insert("blockHash".into(), json!(b.hash));
        m.insert("blockNumber".into(), json!(q(b.number)));
        m.insert("transactionIndex".into(), json!(q(i as u64)));
    }
    v
}

const EMPTY_UNCLES: &str = "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347";

pub(crate) fn block_json(b: &Block, full: bool, chain_id: u64) -> Value {
    let txs: Value = if full {
        b.txs
            .iter()
            .enumerate()
            .map(|(i, tx)| tx_json(tx, chain_id, b.base_fee, Some((b, i))))
            .collect()
    } else {
        b.txs.iter().map(|tx| json!(tx.hash)).collect()
    };
    let size = 540
        + b.txs
            .iter()
            .map(|t| 110 + t.input.len() as u64)
            .sum::<u64>();
    json!({
        "hash": b.hash,
        "parentHash": b.parent_hash,
        "sha3Uncles": EMPTY_UNCLES,
        "miner": b.miner,
        "stateRoot": b.state_root,
        "transactionsRoot": B256::from(U256::from_be_bytes(b.hash.0).wrapping_add(U256::from(1))),
        "receiptsRoot": B256::from(U256::from_be_bytes(b.hash.0).wrapping_add(U256::from(2))),
        "logsBloom": b.bloom,
        "difficulty": "0x0",
        "number": q(b.number),
        "gasLimit": q(b.gas_limit),
        "gasUsed": q(b.gas_used),
        "timestamp": q(b.timestamp),
        "extraData": "0x636861696e746f70",
        "mixHash": b.state_root,
        "nonce": "0x0000000000000000",
        "baseFeePerGas": q(b.base_fee),
        "size": q(size),
        "uncles": [],
        "transactions": txs,
    })
}

/// Block 0, which the devnet does not keep but answers for: only its hash matters.
fn genesis_json(hash: B256) -> Value {
    json!({
        "hash": hash,
        "parentHash": B256::ZERO,
        "number": "0x0",
        "timestamp": "0x0",
        "gasLimit": q(super::chain::GAS_LIMIT),
        "gasUsed": "0x0",
        "miner": Address::ZERO,
        "transactions": [],
    })
}

/// A header for a block that does not exist: the next number, child of `parent`.
pub(crate) fn invented_header(parent: &Block, hash: B256) -> String {
    let mut v = block_json(parent, false, 0);
    if let Some(o) = v.as_object_mut() {
        o.insert("hash".into(), json!(hash));
        o.insert("parentHash".into(), json!(parent.hash));
        o.insert("number".into(), json!(q(parent.number + 1)));
        o.insert("transactions".into(), json!([]));
    }
    v.to_string()
}

/// The header without its transaction list, as geth, reth and Erigon push it.
pub(crate) fn geth_header_json(b: &Block, chain_id: u64) -> String {
    let mut v = block_json(b, false, chain_id);
    if let Some(o) = v.as_object_mut() {
        o.remove("transactions");
    }
    v.to_string()
}

/// The header with transaction hashes, serialized once per block.
pub(crate) fn header_json(b: &Block, chain_id: u64) -> Arc<str> {
    b.header_json
        .get_or_init(|| Arc::from(block_json(b, false, chain_id).to_string()))
        .clone()
}

fn parse_quantity(s: &str) -> Option<u64> {
    let hex = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))?;
    if hex.is_empty() || hex.len() > 16 {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

/// A block selector resolved to a number; `Err` for malformed input.
fn block_number(chain: &Chain, v: Option<&Value>) -> Result<u64, RpcErrorObj> {
    let head = chain.head().number;
    match v {
        None | Some(Value::Null) => Ok(head),
        Some(Value::String(s)) => match s.as_str() {
            "latest" | "pending" => Ok(head),
            "earliest" => Ok(chain.oldest().number),
            // Post-merge distances; clamped to what this node still holds.
            "safe" => Ok(head.saturating_sub(32).max(chain.oldest().number)),
            "finalized" => Ok(head.saturating_sub(64).max(chain.oldest().number)),
            other => parse_quantity(other)
                .ok_or_else(|| invalid_params(format!("invalid block number or tag: {other}"))),
        },
        Some(Value::Object(o)) => {
            if let Some(h) = o.get("blockHash") {
                let h: B256 = serde_json::from_value(h.clone())
                    .map_err(|_| invalid_params("invalid blockHash"))?;
                chain
                    .by_hash(&h)
                    .map(|b| b.number)
                    .ok_or_else(|| err(-32000, "header for hash not found"))
            } else {
                block_number(chain, o.get("blockNumber"))
            }
        }
        Some(_) => Err(invalid_params("invalid block number or tag")),
    }
}

/// State at a block, with geth's errors for the future and for pruned history.
fn state_at<'a>(chain: &'a Chain, v: Option<&Value>) -> Result<&'a State, RpcErrorObj> {
    let n = block_number(chain, v)?;
    if n > chain.head().number {
        return Err(err(-32000, "header not found"));
    }
    chain.by_number(n).map(|b| &b.state).ok_or_else(|| {
        err(
            -32000,
            format!(
                "missing trie node {} (path ) state is not available",
                B256::with_last_byte(1)
            ),
        )
    })
}

fn param<T: serde::de::DeserializeOwned>(
    params: &[Value],
    i: usize,
    what: &str,
) -> Result<T, RpcErrorObj> {
    let v = params.get(i).cloned().unwrap_or(Value::Null);
    serde_json::from_value(v)
        .map_err(|e| invalid_params(format!("invalid argument {i} ({what}): {e}")))
}

fn eth_call(chain: &Chain, params: &[Value]) -> Result<Value, RpcErrorObj> {
    let call = params
        .first()
        .and_then(Value::as_object)
        .ok_or_else(|| invalid_params("missing call object"))?;
    let to: Option<Address> = match call.get("to") {
        None | Some(Value::Null) => None,
        Some(v) => {
            Some(serde_json::from_value(v.clone()).map_err(|_| invalid_params("invalid to"))?)
        }
    };
    let data: Bytes = match call.get("input").or_else(|| call.get("data")) {
        None | Some(Value::Null) => Bytes::new(),
        Some(v) => {
            serde_json::from_value(v.clone()).map_err(|_| invalid_params("invalid input"))?
        }
    };
    let state = state_at(chain, params.get(1))?;
    let out = calls::run_call(state, to, &data)
        .map_err(|calls::Reverted| err(-32000, "execution reverted"))?;
    Ok(json!(out))
}

/// What has code here: the demo token and Multicall3 (the bytes are a stand-in;
/// nothing runs them).
fn get_code(params: &[Value]) -> Result<Value, RpcErrorObj> {
    let who: Address = param(params, 0, "address")?;
    Ok(json!(if who == DEMO_TOKEN || who == MULTICALL3 {
        "0xfe"
    } else {
        "0x"
    }))
}

fn get_logs(shared: &Shared, chain: &Chain, params: &[Value]) -> Result<Value, RpcErrorObj> {
    let obj = params
        .first()
        .filter(|v| v.is_object())
        .ok_or_else(|| invalid_params("missing filter object"))?;
    let filter = LogFilter::parse(obj)?;
    let blocks: Vec<&Arc<Block>> = if let Some(h) = obj.get("blockHash") {
        if obj.get("fromBlock").is_some() || obj.get("toBlock").is_some() {
            return Err(invalid_params(
                "cannot specify both BlockHash and FromBlock/ToBlock, choose one or the other",
            ));
        }
        let h: B256 =
            serde_json::from_value(h.clone()).map_err(|_| invalid_params("invalid blockHash"))?;
        vec![
            chain
                .by_hash(&h)
                .ok_or_else(|| err(-32000, "unknown block"))?,
        ]
    } else {
        let from = block_number(chain, obj.get("fromBlock"))?;
        let to = block_number(chain, obj.get("toBlock"))?;
        if from > to {
            return Err(err(-32000, "invalid block range params"));
        }
        let style = shared.modes.lock().ok().and_then(|m| m.logs_range);
        if let Some(style) = style
            && to - from + 1 > style.max_range()
        {
            return Err(match style {
                LogsRangeStyle::Infura => RpcErrorObj {
                    code: -32005,
                    message: format!(
                        "query returned more than 10000 results. Try with this block range [{}, {}].",
                        q(from),
                        q(from + 1999)
                    ),
                    data: Some(json!({"from": q(from), "limit": 10000, "to": q(from + 1999)})),
                },
                LogsRangeStyle::Alchemy => err(-32000, "exceed maximum block range: 5000"),
                LogsRangeStyle::QuickNode => err(-32000, "Block range limit exceeded"),
            });
        }
        let to = to.min(chain.head().number);
        let from = from.max(chain.oldest().number);
        (from..=to).filter_map(|n| chain.by_number(n)).collect()
    };
    let mut out = Vec::new();
    for b in blocks {
        for (ti, li, tx, log) in b.logs() {
            if filter.matches(log) {
                out.push(log_json(b, ti, li, tx, log, false));
            }
        }
    }
    Ok(Value::Array(out))
}

fn new_sub_id() -> String {
    format!("0x{:032x}", fastrand::u128(..))
}

/// One call. `subs` is `None` over HTTP, where subscriptions are not supported.
fn call(
    shared: &Shared,
    method: &str,
    params: &[Value],
    subs: Option<&mut Vec<Sub>>,
) -> Result<Value, RpcErrorObj> {
    // Bounded: method names come from the client.
    if let Ok(mut counts) = shared.method_counts.lock()
        && (counts.len() < 1024 || counts.contains_key(method))
    {
        *counts.entry(method.to_string()).or_default() += 1;
    }
    if let Ok(mut modes) = shared.modes.lock()
        && let Some((backoff, left)) = modes.limit_exceeded.as_mut()
        && *left > 0
    {
        *left -= 1;
        let backoff = *backoff;
        if *left == 0 {
            modes.limit_exceeded = None;
        }
        return Err(RpcErrorObj {
            code: -32005,
            message: "limit exceeded".into(),
            data: Some(json!({"backoff_seconds": backoff})),
        });
    }
    let chain_id = shared.chain_id.load(Ordering::Relaxed);
    match method {
        "eth_chainId" => return Ok(json!(q(chain_id))),
        "net_version" => return Ok(json!(chain_id.to_string())),
        "eth_subscribe" => return subscribe(shared, params, subs),
        "eth_unsubscribe" => {
            let Some(subs) = subs else {
                return Err(err(-32601, "notifications not supported"));
            };
            let id: String = param(params, 0, "subscription id")?;
            let before = subs.len();
            subs.retain(|s| s.id != id);
            return Ok(json!(subs.len() != before));
        }
        _ => {}
    }
    let chain = shared
        .chain
        .lock()
        .map_err(|_| err(-32603, "internal error"))?;
    match method {
        "eth_blockNumber" => Ok(json!(q(chain.head().number))),
        "eth_getBlockByNumber" => {
            let n = block_number(&chain, Some(params.first().unwrap_or(&Value::Null)))?;
            let full: bool = params.get(1).and_then(Value::as_bool).unwrap_or(false);
            if n == 0 && chain.by_number(0).is_none() {
                return Ok(genesis_json(chain.genesis));
            }
            Ok(chain
                .by_number(n)
                .map_or(Value::Null, |b| block_json(b, full, chain_id)))
        }
        "eth_getBlockByHash" => {
            let h: B256 = param(params, 0, "block hash")?;
            let full: bool = params.get(1).and_then(Value::as_bool).unwrap_or(false);
            Ok(chain
                .by_hash(&h)
                .map_or(Value::Null, |b| block_json(b, full, chain_id)))
        }
        "eth_getBalance" | "eth_getTransactionCount" => {
            let who: Address = param(params, 0, "address")?;
            let state = state_at(&chain, params.get(1))?;
            let idx = State::account(&who);
            Ok(if method == "eth_getBalance" {
                json!(idx.map_or(U256::ZERO, |i| state.eth[i]))
            } else {
                json!(q(idx.map_or(0, |i| state.nonce[i])))
            })
        }
        "eth_gasPrice" => Ok(json!(q(chain.head().base_fee + 1_000_000_000))),
        "eth_call" => eth_call(&chain, params),
        "eth_getCode" => get_code(params),
        "eth_getLogs" => get_logs(shared, &chain, params),
        "eth_getTransactionReceipt" => {
            let h: B256 = param(params, 0, "transaction hash")?;
            Ok(chain
                .tx(&h)
                .map_or(Value::Null, |(b, i)| receipt_json(b, i)))
        }
        _ => Err(err(-32601, "Method not found")),
    }
}

fn subscribe(
    shared: &Shared,
    params: &[Value],
    subs: Option<&mut Vec<Sub>>,
) -> Result<Value, RpcErrorObj> {
    let Some(subs) = subs else {
        return Err(err(-32601, "notifications not supported"));
    };
    let kind: String = param(params, 0, "subscription type")?;
    if shared.modes.lock().is_ok_and(|m| m.refused.contains(&kind)) {
        return Err(err(-32601, "Method not found"));
    }
    let kind = match kind.as_str() {
        "newHeads" => SubKind::NewHeads,
        "newPendingTransactions" => SubKind::Pending {
            full: params.get(1).and_then(Value::as_bool).unwrap_or(false),
            only: None,
        },
        // Alchemy's: `{toAddress, fromAddress, hashesOnly}`, either list matching.
        "alchemy_pendingTransactions" => {
            let f = params.get(1).cloned().unwrap_or(Value::Null);
            let list = |k: &str| -> Result<Vec<alloy_primitives::Address>, RpcErrorObj> {
                match f.get(k) {
                    None | Some(Value::Null) => Ok(Vec::new()),
                    Some(v) => serde_json::from_value(v.clone())
                        .map_err(|e| invalid_params(format!("{k}: {e}"))),
                }
            };
            let mut only = list("toAddress")?;
            only.extend(list("fromAddress")?);
            SubKind::Pending {
                full: !f
                    .get("hashesOnly")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                only: Some(only),
            }
        }
        "logs" => SubKind::Logs(match params.get(1) {
            None | Some(Value::Null) => LogFilter::default(),
            Some(v) if v.is_object() => LogFilter::parse(v)?,
            Some(_) => return Err(invalid_params("invalid logs filter")),
        }),
        other => {
            return Err(err(
                -32601,
                format!("no \"{other}\" subscription in eth namespace"),
            ));
        }
    };
    let id = new_sub_id();
    subs.push(Sub {
        id: id.clone(),
        kind,
    });
    Ok(json!(id))
}

fn respond(id: Value, r: Result<Value, RpcErrorObj>) -> RpcResponse {
    let (result, error) = match r {
        Ok(v) => (Some(v), None),
        Err(e) => (None, Some(e)),
    };
    RpcResponse {
        jsonrpc: "2.0".into(),
        id,
        result,
        error,
    }
}

fn one(shared: &Shared, req: &Value, subs: Option<&mut Vec<Sub>>) -> RpcResponse {
    let id = req.get("id").cloned().unwrap_or(Value::Null);
    let Some(method) = req.get("method").and_then(Value::as_str) else {
        return respond(id, Err(err(-32600, "invalid request")));
    };
    let params: &[Value] = match req.get("params") {
        None | Some(Value::Null) => &[],
        Some(Value::Array(a)) => a,
        Some(_) => return respond(id, Err(invalid_params("non-array args"))),
    };
    respond(id, call(shared, method, params, subs))
}

/// Answers a request body (single or batch). Always produces a reply.
pub(crate) fn handle_body(shared: &Shared, body: &[u8], mut subs: Option<&mut Vec<Sub>>) -> String {
    let reply = match serde_json::from_slice::<Value>(body) {
        Err(_) => serde_json::to_value(respond(Value::Null, Err(err(-32700, "Parse error")))),
        Ok(Value::Array(reqs)) if reqs.is_empty() => {
            serde_json::to_value(respond(Value::Null, Err(err(-32600, "empty batch"))))
        }
        Ok(Value::Array(reqs)) => {
            let out: Vec<RpcResponse> = reqs
                .iter()
                .map(|r| one(shared, r, subs.as_deref_mut()))
                .collect();
            serde_json::to_value(out)
        }
        Ok(req) => serde_json::to_value(one(shared, &req, subs)),
    };
    reply.map_or_else(
        |_| {
            r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"internal error"}}"#
                .to_string()
        },
        |v| v.to_string(),
    )
}
