//! Fetches for the detail views, on demand: a block with its transactions, a
//! transaction's receipt with its logs (decoded where an ABI is known). One at a
//! time, over the network's metered HTTP client (each is billed and counted like
//! every other call); the answer, or why there is none, goes into the stream.

use std::collections::HashMap;
use std::sync::Arc;

use alloy_primitives::{Address, B256, U64, U256};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;

use super::logs::LogDecoder;
use super::watched::Watched;
use crate::config::NetworkConfig;
use crate::event::{
    BlockDetail, Detail, DetailKey, Head, HeadSource, NetIdx, ReceiptDetail, TxSummary, Update,
};
use crate::rpc::http::HttpClient;
use crate::rpc::types::{WireBlock, WireLog, WireTxs};
use crate::text::Redactor;

/// Requests waiting at most (more are refused: the view says so).
pub const QUEUE: usize = 16;

/// ERC-20's methods, known for every contract (explorers do the same).
const ERC20: [&str; 3] = [
    "transfer(address,uint256)",
    "transferFrom(address,address,uint256)",
    "approve(address,uint256)",
];

/// A receipt, with the fields the view reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireReceipt {
    transaction_hash: B256,
    from: Address,
    #[serde(default)]
    to: Option<Address>,
    #[serde(default)]
    status: Option<U64>,
    #[serde(default)]
    block_number: Option<U64>,
    #[serde(default)]
    block_hash: Option<B256>,
    gas_used: U64,
    #[serde(default)]
    effective_gas_price: Option<U256>,
    #[serde(default)]
    contract_address: Option<Address>,
    #[serde(default)]
    logs: Vec<WireLog>,
}

/// What the task needs to name and decode.
pub(crate) struct Fetcher {
    pub net: NetIdx,
    pub http: HttpClient,
    pub decoder: LogDecoder,
    pub watched: Arc<Watched>,
    pub updates: mpsc::Sender<Update>,
    pub redactor: Arc<Redactor>,
    /// Method signatures by selector: the configured views' and ERC-20's.
    pub methods: HashMap<[u8; 4], String>,
}

/// Signatures by selector, from the network's contracts and ERC-20.
pub(crate) fn methods(cfg: &NetworkConfig) -> HashMap<[u8; 4], String> {
    let mut out = HashMap::new();
    for sig in ERC20 {
        if let Ok(f) = alloy_json_abi::Function::parse(sig) {
            out.insert(f.selector().0, f.signature());
        }
    }
    for v in cfg.contracts.iter().flat_map(|c| &c.views) {
        out.insert(v.function.selector().0, v.function.signature());
    }
    out
}

impl Fetcher {
    pub(crate) async fn run(self, mut rx: mpsc::Receiver<DetailKey>) {
        while let Some(key) = rx.recv().await {
            let result = self
                .fetch(key)
                .await
                .map(Box::new)
                .map_err(|e| self.redactor.text(&e));
            let u = Update::Detail {
                net: self.net,
                key,
                result,
            };
            if self.updates.send(u).await.is_err() {
                return;
            }
        }
    }

    async fn fetch(&self, key: DetailKey) -> Result<Detail, String> {
        match key {
            DetailKey::Block(hash) => self.block(hash).await.map(Detail::Block),
            DetailKey::Receipt(tx) => self.receipt(tx).await.map(Detail::Receipt),
        }
    }

    async fn block(&self, hash: B256) -> Result<BlockDetail, String> {
        let b: Option<WireBlock> = self
            .http
            .call("eth_getBlockByHash", json!([hash, true]))
            .await
            .map_err(|e| e.to_string())?;
        let b = b.ok_or("the node does not have this block (a reorg may have replaced it)")?;
        let txs = match &b.transactions {
            Some(WireTxs::Full(txs)) => txs
                .iter()
                .map(|t| {
                    let selector = t
                        .input
                        .as_ref()
                        .and_then(|i| i.get(..4))
                        .and_then(|s| <[u8; 4]>::try_from(s).ok());
                    TxSummary {
                        hash: t.hash,
                        from: t.from,
                        to: t.to,
                        value: t.value,
                        selector,
                        method: selector.and_then(|s| self.methods.get(&s).cloned()),
                    }
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok(BlockDetail {
            head: Head {
                number: b.number.to(),
                hash: b.hash,
                parent_hash: b.parent_hash,
                timestamp: b.timestamp.to(),
                gas_used: b.gas_used.to(),
                gas_limit: b.gas_limit.to(),
                base_fee: b.base_fee_per_gas,
                tx_count: Some(txs.len() as u32),
                source: HeadSource::Backfill,
                seen: None,
            },
            miner: b.miner,
            txs,
        })
    }

    async fn receipt(&self, tx: B256) -> Result<ReceiptDetail, String> {
        let r: Option<WireReceipt> = self
            .http
            .call("eth_getTransactionReceipt", json!([tx]))
            .await
            .map_err(|e| e.to_string())?;
        let r = r.ok_or("no receipt: the transaction is not mined (or was dropped by a reorg)")?;
        Ok(ReceiptDetail {
            tx: r.transaction_hash,
            from: r.from,
            to: r.to,
            success: r.status.map(|s| s.to::<u64>() == 1),
            block: r.block_number.map(|n| n.to()),
            block_hash: r.block_hash,
            gas_used: r.gas_used.to(),
            effective_gas_price: r.effective_gas_price,
            contract_created: r.contract_address,
            logs: r
                .logs
                .into_iter()
                .map(|l| self.decoder.decode_any(l, &self.watched))
                .collect(),
        })
    }
}
