//! Watched-address refresh: all balances of one network in ONE JSON-RPC batch per
//! new head, coalesced (a head arriving during a refresh only triggers one more).

use std::collections::HashMap;

use alloy_primitives::{Address, U256};
use serde_json::json;
use tokio::sync::{mpsc, watch};

use crate::event::{NetIdx, Update};
use crate::rpc::http::HttpClient;

use super::Shared;

pub(crate) async fn run(
    net: NetIdx,
    http: HttpClient,
    addresses: Vec<Address>,
    mut heads: watch::Receiver<Option<u64>>,
    updates: mpsc::Sender<Update>,
    shared: std::sync::Arc<Shared>,
) {
    if addresses.is_empty() {
        return;
    }
    let mut last: HashMap<Address, U256> = HashMap::new();
    while heads.changed().await.is_ok() {
        let Some(block) = *heads.borrow_and_update() else {
            continue;
        };
        let tag = format!("{block:#x}");
        let calls: Vec<(&str, serde_json::Value)> = addresses
            .iter()
            .map(|a| ("eth_getBalance", json!([a, tag])))
            .collect();
        let results = match http.batch(&calls).await {
            Ok(r) => r,
            Err(e) => {
                shared.error(format!("balance refresh at block {block}: {e}"));
                continue;
            }
        };
        for (addr, res) in addresses.iter().zip(results) {
            let wei = match res.map(|raw| serde_json::from_str::<U256>(raw.get())) {
                Ok(Ok(wei)) => wei,
                Ok(Err(e)) => {
                    shared.error(format!("balance of {addr}: bad answer: {e}"));
                    continue;
                }
                Err(e) => {
                    shared.error(format!("balance of {addr}: {} {}", e.code, e.message));
                    continue;
                }
            };
            if last.insert(*addr, wei) != Some(wei)
                && updates
                    .send(Update::Balance {
                        net,
                        address: *addr,
                        wei,
                        block,
                    })
                    .await
                    .is_err()
            {
                return;
            }
        }
    }
}
