//! The devnet answers in the shapes real nodes use: the same calls against anvil and
//! the devnet decode through chaintop's own client types, and every field chaintop
//! reads has the same JSON kind on both (checked field by field).

use crate::support;

use std::time::Duration;

use alloy_dyn_abi::DynSolValue;
use alloy_primitives::{Address, Bytes, U64, U256, keccak256};
use chaintop::devnet::{DEMO_TOKEN, Devnet, DevnetConfig, demo_watch};
use chaintop::rpc::frame::{self, Incoming};
use chaintop::rpc::types::{WireBlock, WireLog, WireTxs};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use support::{Anvil, DEV_ACCOUNTS, rpc};
use tokio_tungstenite::tungstenite::Message;

/// What kind of JSON a field holds, in the terms that matter for decoding.
fn kind(v: Option<&Value>) -> &'static str {
    match v {
        None => "missing",
        Some(Value::Null) => "null",
        Some(Value::Bool(_)) => "bool",
        Some(Value::Number(_)) => "number",
        Some(Value::Array(_)) => "array",
        Some(Value::Object(_)) => "object",
        Some(Value::String(s)) => match s.strip_prefix("0x") {
            Some(h) if h.len() == 64 => "hash",
            Some(h) if h.len() == 40 => "address",
            Some(_) => "hex",
            None => "string",
        },
    }
}

fn assert_same_kinds(what: &str, anvil: &Value, devnet: &Value, fields: &[&str]) {
    for f in fields {
        let (a, d) = (kind(anvil.get(f)), kind(devnet.get(f)));
        // A quantity that happens to be 64 or 40 hex digits long is still a quantity.
        let norm = |k: &'static str| {
            if matches!(k, "hash" | "address") && f.contains("Fee") {
                "hex"
            } else {
                k
            }
        };
        assert_eq!(
            norm(a),
            norm(d),
            "{what}.{f}: anvil {:?} vs devnet {:?}",
            anvil.get(f),
            devnet.get(f)
        );
        assert_ne!(a, "missing", "{what}.{f} missing from anvil");
    }
}

const BLOCK_FIELDS: &[&str] = &[
    "hash",
    "parentHash",
    "number",
    "timestamp",
    "gasUsed",
    "gasLimit",
    "baseFeePerGas",
    "miner",
    "transactions",
];
const TX_FIELDS: &[&str] = &[
    "hash",
    "from",
    "to",
    "value",
    "nonce",
    "blockHash",
    "blockNumber",
];
const LOG_FIELDS: &[&str] = &[
    "address",
    "topics",
    "data",
    "blockHash",
    "blockNumber",
    "transactionHash",
    "transactionIndex",
    "logIndex",
    "removed",
];

async fn devnet() -> Devnet {
    let cfg = DevnetConfig {
        name: "shape".into(),
        chain_id: 4242,
        block_time: Duration::from_millis(100),
        seed: 3,
        pending_rate: 50,
        reorg_probability: 0.0,
        port: 0,
        start_block: 1_000,
        heads_without_txs: false,
    };
    Devnet::start(cfg).await.expect("devnet")
}

/// The first notification of a fresh subscription, through the client's decoder.
async fn first_notification(ws_url: &str, params: Value) -> Value {
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url)
        .await
        .expect("ws connect");
    let req = json!({"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":params});
    ws.send(Message::Text(req.to_string().into()))
        .await
        .expect("send");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("a notification in time");
        let Some(Ok(Message::Text(t))) = msg else {
            continue;
        };
        if let Ok(Incoming::Notification { result, .. }) = frame::decode(t.as_str()) {
            return serde_json::from_str(result.get()).expect("notification json");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_answers_decode_like_anvil_answers() {
    let node = Anvil::builder().block_time(1.0).spawn();
    let dev = devnet().await;
    let (a, d) = (node.http_url(), dev.http_url());

    // A token with a Transfer on anvil, so blocks carry a transaction and there is a log.
    let bin = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/contracts/TestToken.bin"
    ))
    .expect("TestToken.bin");
    let mut code = alloy_primitives::hex::decode(bin.trim()).expect("hex");
    code.extend(
        DynSolValue::Tuple(vec![
            DynSolValue::String("Shape".into()),
            DynSolValue::String("SHP".into()),
            DynSolValue::Uint(U256::from(1_000_000u64), 256),
        ])
        .abi_encode_params(),
    );
    let deploy =
        json!([{"from": DEV_ACCOUNTS[0], "data": alloy_primitives::hex::encode_prefixed(&code)}]);
    let hash = serde_json::from_value(rpc(&a, "eth_sendTransaction", deploy).await).expect("hash");
    let receipt = support::receipt(&a, hash).await;
    let token: Address = receipt["contractAddress"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("token");
    let mut transfer = keccak256("transfer(address,uint256)")[..4].to_vec();
    transfer.extend(
        DynSolValue::Tuple(vec![
            DynSolValue::Address(DEV_ACCOUNTS[1].parse().expect("a")),
            DynSolValue::Uint(U256::from(7u8), 256),
        ])
        .abi_encode_params(),
    );
    let tx = json!([{"from": DEV_ACCOUNTS[0], "to": token, "data": alloy_primitives::hex::encode_prefixed(&transfer)}]);
    let hash = serde_json::from_value(rpc(&a, "eth_sendTransaction", tx).await).expect("hash");
    let receipt = support::receipt(&a, hash).await;
    let tx_block = receipt["blockNumber"].clone();

    // Scalars decode with the client's types.
    for url in [&a, &d] {
        serde_json::from_value::<U64>(rpc(url, "eth_chainId", json!([])).await).expect("chain id");
        serde_json::from_value::<U64>(rpc(url, "eth_blockNumber", json!([])).await)
            .expect("block number");
        serde_json::from_value::<U256>(
            rpc(url, "eth_getBalance", json!([DEV_ACCOUNTS[0], "latest"])).await,
        )
        .expect("balance");
        serde_json::from_value::<U64>(
            rpc(
                url,
                "eth_getTransactionCount",
                json!([DEV_ACCOUNTS[0], "latest"]),
            )
            .await,
        )
        .expect("nonce");
        let _ = rpc(url, "net_version", json!([])).await;
    }

    // Blocks, with hashes and with full transactions.
    let dev_tip =
        serde_json::from_value::<U64>(rpc(&d, "eth_blockNumber", json!([])).await).expect("n");
    for full in [false, true] {
        let ab = rpc(&a, "eth_getBlockByNumber", json!([tx_block, full])).await;
        let db = rpc(&d, "eth_getBlockByNumber", json!([dev_tip, full])).await;
        assert_same_kinds("block", &ab, &db, BLOCK_FIELDS);
        for b in [&ab, &db] {
            let wb: WireBlock = serde_json::from_value(b.clone()).expect("block decodes");
            match (full, wb.transactions) {
                (false, Some(WireTxs::Hashes(_))) => {}
                (true, Some(WireTxs::Full(t))) => {
                    assert!(t.iter().all(|t| t.from != Address::ZERO))
                }
                (_, other) => panic!("full={full}: {other:?}"),
            }
        }
        if full {
            let (at, dt) = (&ab["transactions"][0], &db["transactions"][0]);
            assert!(
                at.is_object() && dt.is_object(),
                "both blocks carry a transaction"
            );
            assert_same_kinds("transaction", at, dt, TX_FIELDS);
        }
    }

    // Logs: eth_getLogs and the ERC-20 reads the watch list uses.
    let al = rpc(
        &a,
        "eth_getLogs",
        json!([{"fromBlock": tx_block, "toBlock": tx_block, "address": token}]),
    )
    .await;
    let from = U64::from(dev_tip.to::<u64>().saturating_sub(20));
    let dl = rpc(
        &d,
        "eth_getLogs",
        json!([{"fromBlock": from, "toBlock": dev_tip, "address": DEMO_TOKEN}]),
    )
    .await;
    let (al, dl) = (&al[0], &dl[0]);
    assert!(
        al.is_object() && dl.is_object(),
        "logs on both: {al} / {dl}"
    );
    assert_same_kinds("log", al, dl, LOG_FIELDS);
    for l in [al, dl] {
        let wl: WireLog = serde_json::from_value(l.clone()).expect("log decodes");
        assert_eq!(wl.topics.len(), 3, "Transfer has three topics");
    }
    let holder = demo_watch()[0].0;
    for (url, t, who) in [
        (&a, token, DEV_ACCOUNTS[1].parse::<Address>().expect("a")),
        (&d, DEMO_TOKEN, holder),
    ] {
        let mut data = keccak256("balanceOf(address)")[..4].to_vec();
        data.extend(DynSolValue::Tuple(vec![DynSolValue::Address(who)]).abi_encode_params());
        let call =
            json!([{"to": t, "data": alloy_primitives::hex::encode_prefixed(&data)}, "latest"]);
        let out: Bytes = serde_json::from_value(rpc(url, "eth_call", call).await).expect("bytes");
        assert_eq!(out.len(), 32, "balanceOf answers one word");
    }

    // Pushed notifications: newHeads through the client's frame decoder.
    let ah = first_notification(&node.ws_url(), json!(["newHeads"])).await;
    let dh = first_notification(&dev.ws_url(), json!(["newHeads"])).await;
    assert_same_kinds("newHeads", &ah, &dh, &BLOCK_FIELDS[..8]);
    for h in [&ah, &dh] {
        let raw = serde_json::value::to_raw_value(h).expect("raw");
        frame::decode_head(&raw).expect("newHeads decodes");
    }
}
