//! The devnet seen from outside: raw tokio-tungstenite and reqwest clients only.

use std::collections::HashSet;
use std::time::Duration;

use alloy_primitives::{Address, B256, U256, b256};
use chaintop::devnet::{
    DEMO_TOKEN, DEMO_TOKEN_DECIMALS, DEMO_TOKEN_SYMBOL, Devnet, DevnetConfig, Fault,
    LogsRangeStyle, Malformed, demo_networks, demo_watch,
};
use chaintop::rpc::types::{WireBlock, WireLog, WireTx, WireTxs};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

const DEADLINE: Duration = Duration::from_secs(10);
const TRANSFER: B256 = b256!("ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");

fn cfg() -> DevnetConfig {
    DevnetConfig {
        block_time: Duration::from_millis(50),
        pending_rate: 0,
        ..DevnetConfig::default()
    }
}

async fn devnet(cfg: DevnetConfig) -> Devnet {
    Devnet::start(cfg).await.expect("devnet starts")
}

async fn ws(net: &Devnet) -> Ws {
    connect_async(net.ws_url()).await.expect("ws connects").0
}

/// Next text frame, skipping pongs; panics at the deadline.
async fn next_text(ws: &mut Ws) -> String {
    timeout(DEADLINE, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => return t.as_str().to_string(),
                Some(Ok(Message::Pong(_) | Message::Ping(_))) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    })
    .await
    .expect("text frame before deadline")
}

/// Sends a request and returns its response, dropping notifications in between.
async fn call(ws: &mut Ws, method: &str, params: Value) -> Value {
    let id = fastrand::u32(..);
    let req = json!({"jsonrpc":"2.0","id":id,"method":method,"params":params});
    ws.send(Message::text(req.to_string())).await.expect("send");
    loop {
        let v: Value = serde_json::from_str(&next_text(ws).await).expect("json");
        if v["id"] == json!(id) {
            return v;
        }
    }
}

async fn subscribe(ws: &mut Ws, params: Value) -> String {
    let r = call(ws, "eth_subscribe", params).await;
    r["result"]
        .as_str()
        .unwrap_or_else(|| panic!("subscribe failed: {r}"))
        .to_string()
}

/// Next notification of `sub`, ignoring other traffic.
async fn notification(ws: &mut Ws, sub: &str) -> Value {
    loop {
        let v: Value = serde_json::from_str(&next_text(ws).await).expect("json");
        if v["method"] == "eth_subscription" && v["params"]["subscription"] == sub {
            return v["params"]["result"].clone();
        }
    }
}

async fn http(net: &Devnet, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(net.http_url())
        .json(body)
        .send()
        .await
        .expect("http answers")
}

async fn rpc(net: &Devnet, method: &str, params: Value) -> Value {
    let body = json!({"jsonrpc":"2.0","id":1,"method":method,"params":params});
    http(net, &body).await.json().await.expect("json body")
}

fn hex_u64(v: &Value) -> u64 {
    let s = v.as_str().unwrap_or_else(|| panic!("not a quantity: {v}"));
    u64::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex quantity")
}

async fn wait_for_head(net: &Devnet, n: u64) {
    let start = Instant::now();
    while net.head() < n {
        assert!(start.elapsed() < DEADLINE, "head stuck at {}", net.head());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn http_methods_and_block_shapes() {
    let net = devnet(DevnetConfig {
        chain_id: 4242,
        ..cfg()
    })
    .await;
    assert_eq!(
        rpc(&net, "eth_chainId", json!([])).await["result"],
        "0x1092"
    );
    assert_eq!(rpc(&net, "net_version", json!([])).await["result"], "4242");
    wait_for_head(&net, 19_000_002).await;

    let latest =
        rpc(&net, "eth_getBlockByNumber", json!(["latest", false])).await["result"].clone();
    for field in [
        "logsBloom",
        "stateRoot",
        "extraData",
        "difficulty",
        "size",
        "uncles",
    ] {
        assert!(latest.get(field).is_some(), "block lacks {field}");
    }
    let block: WireBlock = serde_json::from_value(latest).expect("WireBlock");
    assert!(matches!(block.transactions, Some(WireTxs::Hashes(_))));
    assert!(block.gas_used <= block.gas_limit);

    let full = rpc(&net, "eth_getBlockByHash", json!([block.hash, true])).await["result"].clone();
    let full: WireBlock = serde_json::from_value(full).expect("full WireBlock");
    assert_eq!(full.hash, block.hash);
    match (&full.transactions, &block.transactions) {
        (Some(WireTxs::Full(txs)), Some(WireTxs::Hashes(hashes))) => {
            assert_eq!(txs.iter().map(|t| t.hash).collect::<Vec<_>>(), *hashes);
            assert!(txs.iter().all(|t| t.block_hash == Some(block.hash)));
        }
        other => panic!("unexpected transactions {other:?}"),
    }
    // Receipts: each transaction of a kept block has one, with its logs; an
    // unknown hash has none.
    if let Some(WireTxs::Hashes(hashes)) = &block.transactions {
        assert!(!hashes.is_empty(), "the devnet's blocks carry transactions");
        for (i, h) in hashes.iter().enumerate() {
            let r = rpc(&net, "eth_getTransactionReceipt", json!([h])).await["result"].clone();
            assert_eq!(r["transactionHash"], json!(h));
            assert_eq!(r["blockHash"], json!(block.hash));
            assert_eq!(hex_u64(&r["transactionIndex"]), i as u64);
            assert_eq!(r["status"], "0x1");
            for log in r["logs"].as_array().expect("logs") {
                assert_eq!(log["transactionHash"], json!(h));
            }
        }
    }
    assert_eq!(
        rpc(
            &net,
            "eth_getTransactionReceipt",
            json!([B256::repeat_byte(7)])
        )
        .await["result"],
        Value::Null
    );

    let by_number = |tag: &'static str| {
        let net = &net;
        async move {
            let b = rpc(net, "eth_getBlockByNumber", json!([tag, false])).await["result"].clone();
            serde_json::from_value::<WireBlock>(b)
                .expect(tag)
                .number
                .to::<u64>()
        }
    };
    assert_eq!(by_number("earliest").await, 19_000_000);
    assert!(by_number("finalized").await <= by_number("safe").await);
    assert!(by_number("pending").await >= block.number.to::<u64>());
    assert_eq!(by_number("0x121eac1").await, 19_000_001);
    assert_eq!(
        rpc(&net, "eth_getBlockByNumber", json!(["0xffffffff", false])).await["result"],
        Value::Null
    );

    let batch = json!([
        {"jsonrpc":"2.0","id":"a","method":"eth_chainId","params":[]},
        {"jsonrpc":"2.0","id":2,"method":"no_such_method","params":[]},
        {"jsonrpc":"2.0","id":3,"method":"eth_getBalance","params":["not an address","latest"]},
        {"jsonrpc":"2.0","id":4,"method":"eth_blockNumber"},
    ]);
    let answers: Vec<Value> = http(&net, &batch).await.json().await.expect("batch json");
    let ids: Vec<_> = answers.iter().map(|a| a["id"].clone()).collect();
    assert_eq!(ids, [json!("a"), json!(2), json!(3), json!(4)]);
    assert_eq!(answers[0]["result"], "0x1092");
    assert_eq!(answers[1]["error"]["code"], -32601);
    assert_eq!(answers[1]["error"]["message"], "Method not found");
    assert_eq!(answers[2]["error"]["code"], -32602);
    assert!(hex_u64(&answers[3]["result"]) >= 19_000_002);

    let client = reqwest::Client::new();
    let bad: Value = client
        .post(net.http_url())
        .body("{not json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(bad["error"]["code"], -32700);
    assert_eq!(bad["id"], Value::Null);
    let empty: Value = client
        .post(net.http_url())
        .body("[]")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(empty["error"]["code"], -32600);
    let sub = rpc(&net, "eth_subscribe", json!(["newHeads"])).await;
    assert!(
        sub["error"]["code"].is_i64(),
        "no subscriptions over HTTP: {sub}"
    );
    let get = client.get(net.http_url()).send().await.unwrap();
    assert_eq!(get.status(), 405);
}

#[tokio::test]
async fn counters_track_requests_methods_and_sockets() {
    let net = devnet(cfg()).await;
    let port = net.port();
    let h = net.handle();
    let batch = json!([
        {"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]},
        {"jsonrpc":"2.0","id":2,"method":"eth_blockNumber","params":[]},
    ]);
    http(&net, &batch).await;
    rpc(&net, "eth_chainId", json!([])).await;
    assert_eq!(h.http_requests(), 2);
    assert_eq!(h.calls("eth_blockNumber"), 2);
    let mut a = ws(&net).await;
    call(&mut a, "eth_chainId", json!([])).await;
    assert_eq!(h.calls("eth_chainId"), 2);
    assert_eq!(h.ws_connections(), 1);
    a.close(None).await.unwrap();
    let start = Instant::now();
    while h.ws_connections() != 0 {
        assert!(start.elapsed() < DEADLINE);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        h.http_requests(),
        2,
        "WS traffic is not counted as HTTP requests"
    );

    // Batches work over WebSocket too, answered in order.
    let mut b = ws(&net).await;
    let batch = json!([
        {"jsonrpc":"2.0","id":7,"method":"eth_blockNumber","params":[]},
        {"jsonrpc":"2.0","id":8,"method":"eth_chainId","params":[]},
    ]);
    b.send(Message::text(batch.to_string())).await.unwrap();
    let answers: Vec<Value> = serde_json::from_str(&next_text(&mut b).await).unwrap();
    assert_eq!(answers[0]["id"], 7);
    assert_eq!(answers[1]["result"], "0x7a69");

    net.shutdown();
    expect_end(&mut b).await;
    assert!(
        connect_async(format!("ws://127.0.0.1:{port}"))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn new_heads_link_and_follow_the_base_fee_rule() {
    let net = devnet(cfg()).await;
    let mut c = ws(&net).await;
    let sub = subscribe(&mut c, json!(["newHeads"])).await;
    let mut prev: WireBlock =
        serde_json::from_value(notification(&mut c, &sub).await).expect("head");
    for _ in 0..6 {
        let head: WireBlock =
            serde_json::from_value(notification(&mut c, &sub).await).expect("head");
        assert_eq!(head.parent_hash, prev.hash);
        assert_eq!(head.number.to::<u64>(), prev.number.to::<u64>() + 1);
        let (fee, used, limit) = (
            prev.base_fee_per_gas.unwrap(),
            U256::from(prev.gas_used),
            U256::from(prev.gas_limit),
        );
        // EIP-1559, written out independently of the devnet's own helper.
        let target = limit / U256::from(2);
        let expect = if used > target {
            fee + (fee * (used - target) / target / U256::from(8)).max(U256::from(1))
        } else {
            fee - fee * (target - used) / target / U256::from(8)
        };
        assert_eq!(head.base_fee_per_gas, Some(expect));
        prev = head;
    }
    let unsub = call(&mut c, "eth_unsubscribe", json!([sub])).await;
    assert_eq!(unsub["result"], true);
    let again = call(&mut c, "eth_unsubscribe", json!([sub])).await;
    assert_eq!(again["result"], false);
}

#[tokio::test]
async fn same_seed_same_chain() {
    let a = devnet(DevnetConfig { seed: 9, ..cfg() }).await;
    let b = devnet(DevnetConfig { seed: 9, ..cfg() }).await;
    let c = devnet(DevnetConfig { seed: 10, ..cfg() }).await;
    for net in [&a, &b, &c] {
        wait_for_head(net, 19_000_005).await;
    }
    let first = |net: &Devnet| net.canonical_chain()[..6].to_vec();
    assert_eq!(first(&a), first(&b));
    assert_ne!(first(&a), first(&c));
}

fn erc20(selector: &str, arg: Option<Address>) -> Value {
    let data = match arg {
        Some(a) => format!("0x{selector}{:0>64}", alloy_primitives::hex::encode(a)),
        None => format!("0x{selector}"),
    };
    json!([{"to": DEMO_TOKEN, "data": data}, "latest"])
}

fn decode_word(v: &Value) -> U256 {
    let s = v["result"]
        .as_str()
        .unwrap_or_else(|| panic!("no result: {v}"));
    U256::from_str_radix(s.trim_start_matches("0x"), 16).expect("word")
}

#[tokio::test]
async fn erc20_calls_and_balances_move() {
    let net = devnet(cfg()).await;
    assert_eq!(
        decode_word(&rpc(&net, "eth_call", erc20("313ce567", None)).await),
        U256::from(DEMO_TOKEN_DECIMALS)
    );
    let symbol = rpc(&net, "eth_call", erc20("95d89b41", None)).await;
    let raw = alloy_primitives::hex::decode(symbol["result"].as_str().unwrap()).unwrap();
    let len = U256::from_be_slice(&raw[32..64]).to::<usize>();
    assert_eq!(&raw[64..64 + len], DEMO_TOKEN_SYMBOL.as_bytes());
    let supply = decode_word(&rpc(&net, "eth_call", erc20("18160ddd", None)).await);
    let watch = demo_watch();
    let mut sum = U256::ZERO;
    for (addr, _) in &watch {
        sum += decode_word(&rpc(&net, "eth_call", erc20("70a08231", Some(*addr))).await);
    }
    assert!(sum > U256::ZERO && sum <= supply);
    let reverted = rpc(&net, "eth_call", erc20("deadbeef", None)).await;
    assert_eq!(reverted["error"]["code"], -32000);
    assert_eq!(reverted["error"]["message"], "execution reverted");

    // ETH balances and nonces move from block to block; history answers per block.
    let start = net.head();
    let balances = |tag: String| {
        let net = &net;
        let watch = watch.clone();
        async move {
            let mut out = Vec::new();
            for (a, _) in &watch {
                out.push(rpc(net, "eth_getBalance", json!([a, tag])).await["result"].clone());
            }
            out
        }
    };
    let before = balances(format!("{start:#x}")).await;
    let t0 = Instant::now();
    while balances("latest".into()).await == before {
        assert!(t0.elapsed() < DEADLINE, "balances never changed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        balances(format!("{start:#x}")).await,
        before,
        "history is stable"
    );
    let nonce = rpc(
        &net,
        "eth_getTransactionCount",
        json!([watch[0].0, "latest"]),
    )
    .await;
    assert!(nonce["result"].is_string());
    let future = rpc(&net, "eth_getBalance", json!([watch[0].0, "0xffffffff"])).await;
    assert_eq!(future["error"]["code"], -32000);
}

#[tokio::test]
async fn logs_subscriptions_and_get_logs_filter() {
    let net = devnet(cfg()).await;
    let mut c = ws(&net).await;
    let token_sub = subscribe(
        &mut c,
        json!(["logs", {"address": DEMO_TOKEN, "topics": [TRANSFER]}]),
    )
    .await;
    let watch: Vec<B256> = demo_watch()[..2]
        .iter()
        .map(|(a, _)| a.into_word())
        .collect();
    let to_sub = subscribe(&mut c, json!(["logs", {"topics": [null, null, watch]}])).await;
    let (mut token_logs, mut to_logs) = (0, 0);
    let t0 = Instant::now();
    while token_logs < 5 || to_logs < 2 {
        assert!(
            t0.elapsed() < DEADLINE * 2,
            "too few logs: {token_logs} {to_logs}"
        );
        let v: Value = serde_json::from_str(&next_text(&mut c).await).unwrap();
        let log: WireLog = serde_json::from_value(v["params"]["result"].clone()).expect("WireLog");
        assert!(!log.removed);
        if v["params"]["subscription"] == token_sub.as_str() {
            assert_eq!((log.address, log.topics[0]), (DEMO_TOKEN, TRANSFER));
            token_logs += 1;
        } else if v["params"]["subscription"] == to_sub.as_str() {
            assert!(
                watch.contains(&log.topics[2]),
                "topic OR filter leaked {log:?}"
            );
            to_logs += 1;
        }
    }
    let head = net.head();
    let all: Vec<WireLog> = serde_json::from_value(
        rpc(
            &net,
            "eth_getLogs",
            json!([{"fromBlock": "earliest", "toBlock": format!("{head:#x}")}]),
        )
        .await["result"]
            .clone(),
    )
    .unwrap();
    let token: Vec<WireLog> = serde_json::from_value(
        rpc(&net, "eth_getLogs", json!([{"fromBlock": "earliest", "toBlock": format!("{head:#x}"), "address": [DEMO_TOKEN], "topics": [[TRANSFER], null]}]))
            .await["result"]
            .clone(),
    )
    .unwrap();
    assert!(token.len() >= 5 && all.len() > token.len());
    assert_eq!(
        token,
        all.iter()
            .filter(|l| l.address == DEMO_TOKEN)
            .cloned()
            .collect::<Vec<_>>()
    );
    let one = &token[0];
    let by_hash: Vec<WireLog> = serde_json::from_value(
        rpc(&net, "eth_getLogs", json!([{"blockHash": one.block_hash}])).await["result"].clone(),
    )
    .unwrap();
    assert!(by_hash.contains(one));
}

#[tokio::test]
async fn pending_hashes_and_full_transactions() {
    let net = devnet(DevnetConfig {
        pending_rate: 5_000,
        ..cfg()
    })
    .await;
    let mut c = ws(&net).await;
    let hashes = subscribe(&mut c, json!(["newPendingTransactions"])).await;
    let mut seen = HashSet::new();
    while seen.len() < 200 {
        let h: B256 =
            serde_json::from_value(notification(&mut c, &hashes).await).expect("bare hash");
        seen.insert(h);
    }
    let mut d = ws(&net).await;
    let full = subscribe(&mut d, json!(["newPendingTransactions", true])).await;
    let tx: WireTx = serde_json::from_value(notification(&mut d, &full).await).expect("full tx");
    assert!(tx.block_hash.is_none());
}

#[tokio::test]
async fn reorg_announces_only_the_new_tip_and_resends_removed_logs() {
    let net = devnet(cfg()).await;
    wait_for_head(&net, 19_000_004).await;
    let mut c = ws(&net).await;
    let heads = subscribe(&mut c, json!(["newHeads"])).await;
    let logs = subscribe(&mut c, json!(["logs", {}])).await;
    // Wait for a head so the reorg happens against a known tip.
    let mut seen: Vec<WireBlock> = Vec::new();
    let mut log_stream: Vec<WireLog> = Vec::new();
    loop {
        let v: Value = serde_json::from_str(&next_text(&mut c).await).unwrap();
        if v["params"]["subscription"] == heads.as_str() {
            seen.push(serde_json::from_value(v["params"]["result"].clone()).unwrap());
            break;
        }
    }
    net.handle().inject(Fault::Reorg { depth: 2 });
    let reorg_tip = loop {
        let v: Value = serde_json::from_str(&next_text(&mut c).await).unwrap();
        let result = v["params"]["result"].clone();
        if v["params"]["subscription"] == logs.as_str() {
            log_stream.push(serde_json::from_value(result).unwrap());
            continue;
        }
        let head: WireBlock = serde_json::from_value(result).unwrap();
        let prev = seen.last().unwrap();
        if head.parent_hash == prev.hash {
            assert_eq!(head.number.to::<u64>(), prev.number.to::<u64>() + 1);
            seen.push(head);
        } else {
            break head;
        }
    };
    let prev = seen.last().unwrap();
    let (n, p) = (reorg_tip.number.to::<u64>(), prev.number.to::<u64>());
    assert!(
        n == p || n == p + 1,
        "geth-style: new tip at most one above the old one ({n} vs {p})"
    );
    let canonical: HashSet<B256> = net.canonical_chain().into_iter().map(|(_, h)| h).collect();
    assert!(canonical.contains(&reorg_tip.hash));
    assert!(!canonical.contains(&prev.hash), "old tip orphaned");
    // The new branch's logs follow the removed ones; read until one arrives.
    loop {
        let v: Value = serde_json::from_str(&next_text(&mut c).await).unwrap();
        if v["params"]["subscription"] == logs.as_str() {
            let log: WireLog = serde_json::from_value(v["params"]["result"].clone()).unwrap();
            let done = !log.removed;
            log_stream.push(log);
            if done {
                break;
            }
        }
    }
    let removed: Vec<&WireLog> = log_stream.iter().filter(|l| l.removed).collect();
    assert!(
        !removed.is_empty(),
        "orphaned logs re-sent with removed: true"
    );
    for l in &removed {
        assert!(
            !canonical.contains(&l.block_hash.unwrap()),
            "removed log from a canonical block"
        );
    }
    let first_removed = log_stream.iter().position(|l| l.removed).unwrap();
    let last_removed = log_stream.iter().rposition(|l| l.removed).unwrap();
    assert!(
        log_stream[first_removed..=last_removed]
            .iter()
            .all(|l| l.removed),
        "removed logs come as one run"
    );
    let after = &log_stream[last_removed + 1];
    assert!(canonical.contains(&after.block_hash.unwrap()));
}

// ---------------------------------------------------------------- faults

async fn expect_end(c: &mut Ws) -> Option<Message> {
    timeout(DEADLINE, async {
        loop {
            match c.next().await {
                Some(Ok(Message::Close(f))) => return Some(Message::Close(f)),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    })
    .await
    .expect("connection ends before deadline")
}

#[tokio::test]
async fn fault_close_sends_1000() {
    let net = devnet(cfg()).await;
    let mut c = ws(&net).await;
    call(&mut c, "eth_chainId", json!([])).await;
    net.handle().inject(Fault::Close);
    match expect_end(&mut c).await {
        Some(Message::Close(Some(f))) => assert_eq!(u16::from(f.code), 1000),
        other => panic!("expected close 1000, got {other:?}"),
    }
}

#[tokio::test]
async fn fault_reset_drops_without_close_frame() {
    let net = devnet(cfg()).await;
    let mut c = ws(&net).await;
    call(&mut c, "eth_chainId", json!([])).await;
    net.handle().inject(Fault::Reset);
    let end = timeout(DEADLINE, async {
        loop {
            match c.next().await {
                Some(Ok(Message::Close(f))) => panic!("reset sent a close frame {f:?}"),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Some(e),
                None => return None,
            }
        }
    })
    .await
    .expect("connection ends");
    // SO_LINGER 0 turns the drop into a TCP RST rather than a FIN.
    match end {
        Some(tokio_tungstenite::tungstenite::Error::Io(e)) => {
            assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset)
        }
        other => panic!("expected a connection reset, got {other:?}"),
    }
}

#[tokio::test]
async fn fault_half_open_stops_pongs() {
    let net = devnet(cfg()).await;
    let mut c = ws(&net).await;
    let sub = subscribe(&mut c, json!(["newHeads"])).await;
    c.send(Message::Ping(Bytes::from_static(b"before")))
        .await
        .unwrap();
    timeout(DEADLINE, async {
        while !matches!(c.next().await, Some(Ok(Message::Pong(p))) if &p[..] == b"before") {}
    })
    .await
    .expect("pong while healthy");
    net.handle()
        .inject(Fault::HalfOpen(Duration::from_secs(60)));
    // Let frames already in flight arrive, then ask.
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Bounded, so a socket that never goes quiet fails below instead of hanging.
    for _ in 0..20 {
        if timeout(Duration::from_millis(50), c.next()).await.is_err() {
            break;
        }
    }
    c.send(Message::Ping(Bytes::from_static(b"during")))
        .await
        .unwrap();
    let got = timeout(Duration::from_millis(700), async {
        loop {
            match c.next().await {
                Some(Ok(Message::Pong(_))) => return "pong",
                Some(Ok(Message::Text(t))) if t.contains(&sub) => return "notification",
                Some(Ok(_)) => continue,
                _ => return "end",
            }
        }
    })
    .await;
    assert!(got.is_err(), "half-open socket answered: {got:?}");
    assert_eq!(net.handle().ws_connections(), 1, "TCP stays open");
}

#[tokio::test]
async fn fault_stop_heads_keeps_pongs_and_chain() {
    let net = devnet(cfg()).await;
    let mut c = ws(&net).await;
    let sub = subscribe(&mut c, json!(["newHeads"])).await;
    notification(&mut c, &sub).await;
    net.handle()
        .inject(Fault::StopHeads(Duration::from_secs(60)));
    let frozen_at = net.head();
    wait_for_head(&net, frozen_at + 4).await;
    let http_head = hex_u64(&rpc(&net, "eth_blockNumber", json!([])).await["result"]);
    assert!(http_head >= frozen_at + 4, "chain advances over HTTP");
    c.send(Message::Ping(Bytes::from_static(b"x")))
        .await
        .unwrap();
    timeout(DEADLINE, async {
        loop {
            match c.next().await {
                Some(Ok(Message::Pong(_))) => return,
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap();
                    let n = hex_u64(&v["params"]["result"]["number"]);
                    assert!(
                        n <= frozen_at,
                        "head {n} announced while stopped at {frozen_at}"
                    );
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    })
    .await
    .expect("pong while heads are stopped");
}

#[tokio::test]
async fn fault_stop_heads_ends() {
    let net = devnet(cfg()).await;
    let mut c = ws(&net).await;
    let sub = subscribe(&mut c, json!(["newHeads"])).await;
    net.handle()
        .inject(Fault::StopHeads(Duration::from_millis(200)));
    let resume_after = net.head() + 2;
    loop {
        let head = notification(&mut c, &sub).await;
        if hex_u64(&head["number"]) >= resume_after {
            break;
        }
    }
}

#[tokio::test]
async fn fault_malformed_frames() {
    let net = devnet(cfg()).await;
    let mut c = ws(&net).await;
    let sub = subscribe(&mut c, json!(["newHeads"])).await;
    let h = net.handle();
    // Reads until a frame that is not a well-formed notification of `sub`.
    async fn odd_frame(c: &mut Ws, sub: &str) -> Message {
        timeout(DEADLINE, async {
            loop {
                let m = c.next().await.expect("open").expect("frame");
                if let Message::Text(t) = &m
                    && let Ok(v) = serde_json::from_str::<Value>(t.as_str())
                    && v["params"]["subscription"] == sub
                    && serde_json::from_value::<WireBlock>(v["params"]["result"].clone()).is_ok()
                {
                    continue;
                }
                if matches!(m, Message::Pong(_)) {
                    continue;
                }
                return m;
            }
        })
        .await
        .expect("odd frame before deadline")
    }
    h.inject(Fault::Malformed(Malformed::InvalidJson));
    let Message::Text(t) = odd_frame(&mut c, &sub).await else {
        panic!("want text")
    };
    assert!(serde_json::from_str::<Value>(t.as_str()).is_err());

    h.inject(Fault::Malformed(Malformed::Binary));
    assert!(matches!(odd_frame(&mut c, &sub).await, Message::Binary(_)));

    h.inject(Fault::Malformed(Malformed::NoIdError));
    let Message::Text(t) = odd_frame(&mut c, &sub).await else {
        panic!("want text")
    };
    let v: Value = serde_json::from_str(t.as_str()).unwrap();
    assert!(v.get("id").is_none() && v["error"]["code"].is_i64());

    h.inject(Fault::Malformed(Malformed::Deep));
    let Message::Text(t) = odd_frame(&mut c, &sub).await else {
        panic!("want text")
    };
    assert!(t.len() >= 20_000 && serde_json::from_str::<Value>(t.as_str()).is_err());

    h.inject(Fault::Malformed(Malformed::BigHex));
    let Message::Text(t) = odd_frame(&mut c, &sub).await else {
        panic!("want text")
    };
    let v: Value = serde_json::from_str(t.as_str()).unwrap();
    assert_eq!(v["params"]["result"]["number"].as_str().unwrap().len(), 102);

    // A default client refuses frames over 16 MiB.
    h.inject(Fault::Malformed(Malformed::Oversize));
    let err = timeout(DEADLINE, async {
        loop {
            match c.next().await {
                Some(Ok(_)) => continue,
                Some(Err(e)) => return e.to_string(),
                None => return "closed".to_string(),
            }
        }
    })
    .await
    .expect("oversize frame rejected");
    assert!(err.contains("size") || err.contains("Space"), "{err}");
}

#[tokio::test]
async fn fault_rate_limit_429_with_retry_after() {
    let net = devnet(cfg()).await;
    net.handle().inject(Fault::RateLimit {
        retry_after_secs: 5,
        requests: 2,
    });
    let body = json!({"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]});
    for _ in 0..2 {
        let r = http(&net, &body).await;
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "5");
    }
    assert_eq!(http(&net, &body).await.status(), 200);
    net.handle().inject(Fault::RateLimit {
        retry_after_secs: 7,
        requests: 1,
    });
    let err = connect_async(net.ws_url())
        .await
        .expect_err("upgrade refused");
    match err {
        tokio_tungstenite::tungstenite::Error::Http(resp) => {
            assert_eq!(resp.status(), 429);
            assert_eq!(resp.headers()["retry-after"], "7");
        }
        other => panic!("expected HTTP 429, got {other:?}"),
    }
    ws(&net).await;
}

#[tokio::test]
async fn fault_limit_exceeded_refuse_and_logs_range() {
    let net = devnet(cfg()).await;
    let h = net.handle();
    h.inject(Fault::LimitExceeded {
        backoff_secs: 3,
        requests: 1,
    });
    let r = rpc(&net, "eth_blockNumber", json!([])).await;
    assert_eq!(r["error"]["code"], -32005);
    assert_eq!(r["error"]["message"], "limit exceeded");
    assert_eq!(r["error"]["data"]["backoff_seconds"], 3);
    assert!(rpc(&net, "eth_blockNumber", json!([])).await["result"].is_string());

    h.inject(Fault::Refuse("newPendingTransactions".into()));
    let mut c = ws(&net).await;
    let refused = call(&mut c, "eth_subscribe", json!(["newPendingTransactions"])).await;
    assert_eq!(refused["error"]["code"], -32601);
    subscribe(&mut c, json!(["newHeads"])).await;

    let wide = json!([{"fromBlock": "0x0", "toBlock": "latest"}]);
    let cases = [
        (
            LogsRangeStyle::Infura,
            -32005,
            "query returned more than 10000 results",
        ),
        (
            LogsRangeStyle::Alchemy,
            -32000,
            "exceed maximum block range: 5000",
        ),
        (
            LogsRangeStyle::QuickNode,
            -32000,
            "Block range limit exceeded",
        ),
    ];
    for (style, code, msg) in cases {
        h.inject(Fault::LogsRange(Some(style)));
        let r = rpc(&net, "eth_getLogs", wide.clone()).await;
        assert_eq!(r["error"]["code"], code);
        assert!(
            r["error"]["message"].as_str().unwrap().starts_with(msg),
            "{r}"
        );
        let narrow = rpc(&net, "eth_getLogs", json!([{"fromBlock": "latest"}])).await;
        assert!(narrow["result"].is_array(), "{narrow}");
    }
    h.inject(Fault::LogsRange(None));
    assert!(rpc(&net, "eth_getLogs", wide).await["result"].is_array());
}

#[tokio::test]
async fn fault_chain_id_closes_sockets_and_switches() {
    let net = devnet(cfg()).await;
    let mut c = ws(&net).await;
    assert_eq!(
        call(&mut c, "eth_chainId", json!([])).await["result"],
        "0x7a69"
    );
    net.handle().inject(Fault::ChainId(999));
    assert!(matches!(
        expect_end(&mut c).await,
        Some(Message::Close(Some(_))) | None
    ));
    let mut again = ws(&net).await;
    assert_eq!(
        call(&mut again, "eth_chainId", json!([])).await["result"],
        "0x3e7"
    );
    assert_eq!(net.chain_id(), 999);
}

#[tokio::test]
async fn fault_down_then_back_on_the_same_port() {
    let net = devnet(cfg()).await;
    let mut c = ws(&net).await;
    call(&mut c, "eth_chainId", json!([])).await;
    net.handle().inject(Fault::Down(Duration::from_millis(500)));
    assert!(
        !matches!(expect_end(&mut c).await, Some(Message::Close(_))),
        "down drops without close"
    );
    let was = net.head();
    // Refused while down (the first attempt may race the listener closing).
    let t0 = Instant::now();
    loop {
        match connect_async(net.ws_url()).await {
            Err(_) => break,
            Ok(_) => {
                assert!(t0.elapsed() < DEADLINE, "listener never closed");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    let t0 = Instant::now();
    let mut back = loop {
        if let Ok((s, _)) = connect_async(net.ws_url()).await {
            break s;
        }
        assert!(t0.elapsed() < DEADLINE, "never came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let head = hex_u64(&call(&mut back, "eth_blockNumber", json!([])).await["result"]);
    assert!(head > was, "chain advanced while down");
}

#[tokio::test]
async fn demo_networks_are_distinct_and_show_a_head_at_once() {
    let nets = demo_networks();
    assert_eq!(nets.len(), 3);
    let ids: HashSet<u64> = nets.iter().map(|n| n.chain_id).collect();
    assert_eq!(ids.len(), 3);
    assert!(nets.iter().all(|n| n.name.len() <= 8));
    let slow = devnet(nets[0].clone()).await;
    let b = rpc(&slow, "eth_getBlockByNumber", json!(["latest", false])).await["result"].clone();
    let b: WireBlock = serde_json::from_value(b).expect("first block right away");
    assert_eq!(b.number.to::<u64>(), nets[0].start_block);
}

/// Throughput probe, run by hand:
/// `cargo test --test it devnet_server::load_ceiling -- --ignored --nocapture`
/// (`DEVNET_BLOCK_US` and `DEVNET_PENDING` override 1000 µs and 100,000/s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn load_ceiling() {
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let net = devnet(DevnetConfig {
        block_time: Duration::from_micros(env("DEVNET_BLOCK_US", 1000)),
        pending_rate: env("DEVNET_PENDING", 100_000) as u32,
        ..cfg()
    })
    .await;
    let mut c = ws(&net).await;
    let heads = subscribe(&mut c, json!(["newHeads"])).await;
    let pending = subscribe(&mut c, json!(["newPendingTransactions"])).await;
    let start_head = net.head();
    let t0 = Instant::now();
    let (mut h, mut p) = (0u64, 0u64);
    while t0.elapsed() < Duration::from_secs(5) {
        let t = next_text(&mut c).await;
        if t.contains(&heads) {
            h += 1;
        } else if t.contains(&pending) {
            p += 1;
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "blocks produced/s {:.0}, heads received/s {:.0}, pending received/s {:.0}",
        (net.head() - start_head) as f64 / secs,
        h as f64 / secs,
        p as f64 / secs
    );
}

#[tokio::test]
async fn scheduled_specs_hit_only_their_network() {
    let a = devnet(DevnetConfig {
        name: "a".into(),
        ..cfg()
    })
    .await;
    let b = devnet(DevnetConfig {
        name: "b".into(),
        ..cfg()
    })
    .await;
    let handles = vec![("a".to_string(), a.handle()), ("b".to_string(), b.handle())];
    let specs = ["0.05@chain-id=77/b", "logs-range=alchemy", "reorg/nowhere"];
    chaintop::devnet::schedule(&handles, specs.iter().map(|s| s.parse().unwrap()).collect());
    let t0 = Instant::now();
    while b.chain_id() != 77 {
        assert!(t0.elapsed() < DEADLINE, "scheduled fault never applied");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(a.chain_id(), 31_337);
    for net in [&a, &b] {
        let r = rpc(
            net,
            "eth_getLogs",
            json!([{"fromBlock": "0x0", "toBlock": "latest"}]),
        )
        .await;
        assert_eq!(r["error"]["message"], "exceed maximum block range: 5000");
    }
}

#[tokio::test]
async fn pruned_history_errors_like_geth() {
    let net = devnet(DevnetConfig {
        block_time: Duration::from_micros(200),
        ..cfg()
    })
    .await;
    wait_for_head(&net, 19_001_100).await;
    let alice = demo_watch()[0].0;
    let old = rpc(&net, "eth_getBalance", json!([alice, "0x121eac0"])).await;
    assert_eq!(old["error"]["code"], -32000);
    assert!(
        old["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("missing trie node")
    );
    let block = rpc(&net, "eth_getBlockByNumber", json!(["0x121eac0", false])).await;
    assert_eq!(block["result"], Value::Null);
    assert!(rpc(&net, "eth_getBalance", json!([alice, "latest"])).await["result"].is_string());
    assert!(
        net.canonical_chain().len() > 1100,
        "every canonical hash is kept"
    );
}
