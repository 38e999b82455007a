//! JSON-RPC wire types shared by the client and the embedded devnet.
//!
//! Field names and hex encodings follow geth/anvil. Decoding ignores fields chaintop
//! does not use, so full geth headers and anvil's extra fields both decode.

use alloy_primitives::{Address, B256, Bytes, U64, U256};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RpcErrorObj {
    pub code: i64,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

/// An outgoing JSON-RPC request.
#[derive(Debug, Clone, Serialize)]
pub struct RpcRequest<'a> {
    pub jsonrpc: &'static str,
    pub id: u64,
    pub method: &'a str,
    pub params: &'a serde_json::Value,
}

impl<'a> RpcRequest<'a> {
    pub fn new(id: u64, method: &'a str, params: &'a serde_json::Value) -> Self {
        Self {
            jsonrpc: "2.0",
            id,
            method,
            params,
        }
    }
}

/// A JSON-RPC response as sent by a server (devnet) — `result` xor `error`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RpcResponse {
    pub jsonrpc: String,
    pub id: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RpcErrorObj>,
}

/// `eth_subscription` notification params.
#[derive(Debug, Serialize, Deserialize)]
pub struct SubscriptionParams<'a> {
    #[serde(borrow)]
    pub subscription: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    pub result: &'a RawValue,
}

/// The `transactions` field of a block: hashes, or full objects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WireTxs {
    Hashes(Vec<B256>),
    Full(Vec<WireTx>),
}

impl WireTxs {
    pub fn len(&self) -> usize {
        match self {
            WireTxs::Hashes(h) => h.len(),
            WireTxs::Full(t) => t.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A transaction object (only the fields chaintop reads are required).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireTx {
    pub hash: B256,
    pub from: Address,
    #[serde(default)]
    pub to: Option<Address>,
    #[serde(default)]
    pub value: U256,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<U64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gas: Option<U64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_hash: Option<B256>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_number: Option<U64>,
}

/// A block header as sent by `newHeads`, or a block from `eth_getBlockBy*`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireBlock {
    pub hash: B256,
    pub parent_hash: B256,
    pub number: U64,
    pub timestamp: U64,
    pub gas_used: U64,
    pub gas_limit: U64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_fee_per_gas: Option<U256>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub miner: Option<Address>,
    /// geth's newHeads omits it; anvil's carries hashes; `eth_getBlockBy*` always has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transactions: Option<WireTxs>,
}

/// A log, as in `logs` notifications and `eth_getLogs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireLog {
    pub address: Address,
    pub topics: Vec<B256>,
    pub data: Bytes,
    #[serde(default)]
    pub block_hash: Option<B256>,
    #[serde(default)]
    pub block_number: Option<U64>,
    #[serde(default)]
    pub transaction_hash: Option<B256>,
    #[serde(default)]
    pub transaction_index: Option<U64>,
    #[serde(default)]
    pub log_index: Option<U64>,
    #[serde(default)]
    pub removed: bool,
}
