//! Watched addresses, an ERC-20, its events and views, end to end against anvil:
//! `chaintop --config FILE --headless` as a user runs it. The token is
//! `tests/contracts/TestToken.sol`, deployed from its committed bytecode.

use crate::headless_child;
use crate::support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy_dyn_abi::DynSolValue;
use alloy_primitives::{Address, U256};
use headless_child::Headless;
use serde_json::{Value, json};
use support::{Anvil, DEV_ACCOUNTS, addr, call_data, contract_file, deploy_token, hex, send};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const T: Duration = Duration::from_secs(30);
const HOSTILE_SYMBOL: &str = "\u{1b}[31mEVIL\u{1b}]0;owned\u{7}";

fn network_toml(name: &str, ws: &str, http: &str, token: Address) -> String {
    format!(
        "[[networks]]\nname = \"{name}\"\nws = \"{ws}\"\nhttp = \"{http}\"\nping_interval_secs = 2\ntokens = [\"{token}\"]\n"
    )
}

fn is(v: &Value, ty: &str) -> bool {
    v["type"] == ty
}

/// `chaintop --config FILE --headless` with a private (empty) runtime watch list,
/// so a developer's own `watchlist.toml` cannot change what the test sees.
pub(crate) fn start(config: &str) -> Headless {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, config).expect("write config");
    let mut cmd = std::process::Command::new(support::chaintop_bin());
    cmd.arg("--config")
        .arg(&path)
        .arg("--headless")
        .env("CHAINTOP_WATCHLIST", dir.path().join("watchlist.toml"));
    Headless::spawn(cmd, dir)
}

/// A line already printed, or the next one to match (lines of one block may come in
/// any order across the log and watch tasks).
fn find(h: &mut Headless, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    match h.seen.iter().find(|v| pred(v)) {
        Some(v) => v.clone(),
        None => h.wait_for(what, T, pred),
    }
}

#[test]
fn token_balances_decoded_transfers_and_views_stream_live() {
    let node = Anvil::spawn();
    let url = node.http_url();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let token = rt.block_on(deploy_token(&url, HOSTILE_SYMBOL, 1_000_000_000));
    let (sender, holder) = (DEV_ACCOUNTS[0], DEV_ACCOUNTS[1]);
    let config = format!(
        "{}\n[[watch]]\naddress = \"{}\"\nlabel = \"holder\"\n\n\
         [[contracts]]\nnetwork = \"local\"\naddress = \"{token}\"\nlabel = \"test token\"\n\
         abi = {:?}\nviews = [\n  {{ call = \"totalSupply()(uint256)\" }},\n  \
         {{ call = \"flag()(uint256)\" }},\n  {{ call = \"mustRevert()(uint256)\" }},\n  \
         {{ call = \"balanceOf(address)(uint256)\", args = [\"{holder}\"] }},\n]\n",
        network_toml("local", &node.ws_url(), &url, token),
        holder.to_lowercase(),
        contract_file("TestToken.abi.json").display().to_string(),
    );
    let mut h = start(&config);
    h.wait_for("logs subscription", T, |v| {
        is(v, "subscription") && v["kind"] == "logs" && v["status"] == "active"
    });

    // Metadata is read once; the hostile symbol arrives escaped.
    let meta = h.wait_for("token metadata", T, |v| is(v, "token"));
    let symbol = meta["symbol"].as_str().expect("symbol");
    assert!(!symbol.chars().any(char::is_control), "{symbol:?}");
    assert_eq!(symbol, "\\x1b[31mEVIL\\x1b]0;owned\\x07");
    assert_eq!(meta["decimals"], 6);
    assert_eq!(meta["name"], "Test Token");

    // Views: first values, and the reverting one reported as an error of its own.
    let revert = h.wait_for("mustRevert error", T, |v| is(v, "view") && v["index"] == 2);
    assert!(
        revert["error"]
            .as_str()
            .is_some_and(|e| e.contains("always reverts")),
        "{revert}"
    );

    // A transfer to the watched holder: decoded log, token balance, activity.
    let value = 1_234_567u64;
    let r = rt.block_on(send(
        &url,
        sender,
        Some(token),
        call_data(
            "transfer(address,uint256)",
            vec![
                DynSolValue::Address(addr(holder)),
                DynSolValue::Uint(U256::from(value), 256),
            ],
        ),
    ));
    let value_s = value.to_string();
    let tx = r["transactionHash"].as_str().expect("tx hash").to_string();
    let log = find(&mut h, "decoded Transfer", |v| {
        is(v, "log") && v["event"] == "Transfer" && v["tx"] == tx.as_str()
    });
    assert_eq!(log["args"]["from"], sender);
    assert_eq!(log["args"]["to"], holder);
    assert_eq!(log["args"]["value"], value.to_string());
    assert_eq!(log["removed"], false);
    assert_eq!(log["source"], "test token");
    let shown: Vec<&str> = log["display"]
        .as_array()
        .expect("display")
        .iter()
        .filter_map(|a| a["value"].as_str())
        .collect();
    assert_eq!(
        shown,
        vec![
            sender.to_string(),
            format!("holder ({holder})"),
            "1.234567".into()
        ],
        "labelled and formatted with the token's decimals"
    );
    let bal = find(&mut h, "holder token balance", |v| {
        is(v, "token_balance") && v["holder"] == holder && v["amount"] == value_s.as_str()
    });
    assert_eq!(bal["token"], token.to_checksum(None));
    find(&mut h, "holder activity", |v| {
        is(v, "activity") && v["address"] == holder && v["tx"] == tx.as_str()
    });
    find(&mut h, "balanceOf view", |v| {
        is(v, "view") && v["index"] == 3 && v["value"] == value_s.as_str()
    });

    // A state change shows in its view; the reverting view does not stop the others.
    rt.block_on(send(
        &url,
        sender,
        Some(token),
        call_data(
            "setFlag(uint256)",
            vec![DynSolValue::Uint(U256::from(42), 256)],
        ),
    ));
    find(&mut h, "flag view after setFlag", |v| {
        is(v, "view") && v["index"] == 1 && v["value"] == "42"
    });
    let flag_log = find(&mut h, "FlagSet log", |v| {
        is(v, "log") && v["event"] == "FlagSet"
    });
    assert_eq!(flag_log["args"]["flag"], "42");
    assert_eq!(flag_log["args"]["note"], "flag changed");
    assert!(
        h.seen
            .iter()
            .filter(|v| is(v, "view") && v["index"] == 2)
            .all(|v| v["error"].is_string()),
        "the reverting view only ever reports an error"
    );
}

/// Counts the HTTP requests that carry the watch refresh, per block, and how long
/// the node took to answer each.
#[derive(Default)]
struct Counts {
    /// block tag → (requests carrying eth_getBalance for it, getBalance entries, eth_call entries, answer time)
    refresh: HashMap<String, (usize, usize, usize, Duration)>,
}

/// A tiny HTTP/1.1 proxy in front of anvil: one request per connection (answers are
/// sent with `Connection: close`), counting what each batch carries.
async fn proxy(upstream: u16, counts: Arc<Mutex<Counts>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else {
                return;
            };
            let counts = counts.clone();
            tokio::spawn(async move {
                let _ = forward(client, upstream, counts).await;
            });
        }
    });
    port
}

async fn forward(
    mut client: TcpStream,
    upstream: u16,
    counts: Arc<Mutex<Counts>>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let Some((_, body)) = support::read_http_request(&mut client, &mut buf).await else {
        return Ok(());
    };
    let started = Instant::now();
    let mut up = TcpStream::connect(("127.0.0.1", upstream)).await?;
    up.write_all(
        format!(
            "POST / HTTP/1.1\r\nHost: 127.0.0.1:{upstream}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .await?;
    up.write_all(&body).await?;
    let mut resp = Vec::new();
    up.read_to_end(&mut resp).await?;
    let took = started.elapsed();
    if let Ok(Value::Array(calls)) = serde_json::from_slice::<Value>(&body) {
        let balances: Vec<&Value> = calls
            .iter()
            .filter(|c| c["method"] == "eth_getBalance")
            .collect();
        if let Some(tag) = balances.first().and_then(|c| c["params"][1].as_str()) {
            let eth_calls = calls.iter().filter(|c| c["method"] == "eth_call").count();
            let mut c = counts.lock().expect("counts");
            let e = c.refresh.entry(tag.to_string()).or_default();
            e.0 += 1;
            e.1 += balances.len();
            e.2 += eth_calls;
            e.3 = took;
        }
    }
    client.write_all(&resp).await?;
    client.shutdown().await
}

#[test]
fn a_thousand_watched_addresses_and_a_token_cost_one_request_per_head() {
    const N: usize = 1000;
    let node = Anvil::builder().no_mining().spawn();
    let url = node.http_url();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let token = rt.block_on(async {
        let bin = std::fs::read_to_string(contract_file("TestToken.bin")).expect("bin");
        let mut code = alloy_primitives::hex::decode(bin.trim()).expect("hex");
        code.extend(
            DynSolValue::Tuple(vec![
                DynSolValue::String("T".into()),
                DynSolValue::String("T".into()),
                DynSolValue::Uint(U256::from(1u64 << 40), 256),
            ])
            .abi_encode_params(),
        );
        let v = support::rpc(
            &url,
            "eth_sendTransaction",
            json!([{"from": DEV_ACCOUNTS[0], "data": hex(&code)}]),
        )
        .await;
        support::mine(&url, 1).await;
        let hash = serde_json::from_value(v).expect("hash");
        let r = support::receipt(&url, hash).await;
        r["contractAddress"]
            .as_str()
            .and_then(|a| a.parse::<Address>().ok())
            .expect("address")
    });
    let counts = Arc::new(Mutex::new(Counts::default()));
    let proxy_port = rt.block_on(proxy(node.port(), counts.clone()));
    let watched: Vec<Address> = (1..=N as u64)
        .map(|i| Address::left_padding_from(&(0x1000_0000 + i).to_be_bytes()))
        .collect();
    let mut config = network_toml(
        "many",
        &node.ws_url(),
        &format!("http://127.0.0.1:{proxy_port}"),
        token,
    );
    for (i, a) in watched.iter().enumerate() {
        config.push_str(&format!(
            "\n[[watch]]\naddress = \"{a}\"\nlabel = \"w{i}\"\n"
        ));
    }
    let mut h = start(&config);
    h.wait_for("live", T, |v| is(v, "connection") && v["state"] == "live");

    // Each block pays one watched address; its balance line means the refresh of that
    // block is done.
    let mut blocks = Vec::new();
    for round in 0..3usize {
        let target = watched[round * 333];
        rt.block_on(support::send_eth(
            &url,
            DEV_ACCOUNTS[2],
            &target.to_string(),
            1_000 + round as u128,
        ));
        let mined = Instant::now();
        rt.block_on(support::mine(&url, 1));
        let n = rt.block_on(support::block_number(&url));
        h.wait_for("balance line of the paid address", T, |v| {
            is(v, "balance") && v["address"] == target.to_checksum(None) && v["block"] == n
        });
        eprintln!(
            "block {n}: from mining to the paid address's balance line: {:?}",
            mined.elapsed()
        );
        blocks.push(n);
    }
    let c = counts.lock().expect("counts");
    for n in &blocks {
        let tag = format!("{n:#x}");
        let Some((requests, balances, calls, took)) = c.refresh.get(&tag) else {
            panic!("no refresh request for block {n}: {:?}", c.refresh.keys());
        };
        assert_eq!(
            *requests, 1,
            "block {n}: one HTTP request for the whole refresh"
        );
        assert_eq!(*balances, N, "block {n}: every watched balance in it");
        assert!(
            *calls >= N,
            "block {n}: every token balance in it ({calls} eth_calls)"
        );
        eprintln!(
            "refresh of {N} addresses + 1 token at block {n}: 1 request, answered in {took:?}"
        );
    }
    assert!(
        c.refresh.values().all(|(requests, ..)| *requests == 1),
        "never more than one refresh request per block: {:?}",
        c.refresh.iter().map(|(k, v)| (k, v.0)).collect::<Vec<_>>()
    );
}

#[test]
fn logs_missed_while_disconnected_are_refilled_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state.json");
    let mut node = Anvil::builder()
        .arg("--state")
        .arg(state.to_string_lossy())
        .spawn();
    let url = node.http_url();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let token = rt.block_on(deploy_token(&url, "TT", 1_000_000));
    let holder = DEV_ACCOUNTS[1];
    let config = format!(
        "{}\n[[watch]]\naddress = \"{holder}\"\nlabel = \"holder\"\n",
        network_toml("local", &node.ws_url(), &url, token)
    );
    let mut h = start(&config);
    h.wait_for("logs subscription", T, |v| {
        is(v, "subscription") && v["kind"] == "logs" && v["status"] == "active"
    });
    let transfer = |amount: u64| {
        call_data(
            "transfer(address,uint256)",
            vec![
                DynSolValue::Address(addr(holder)),
                DynSolValue::Uint(U256::from(amount), 256),
            ],
        )
    };
    rt.block_on(send(&url, DEV_ACCOUNTS[0], Some(token), transfer(1)));
    find(&mut h, "first transfer", |v| {
        is(v, "log") && v["args"]["value"] == "1"
    });

    // Restart the node and transfer at once, before chaintop is back (its reconnect
    // waits out a backoff): those logs are not pushed, the refill must bring them.
    node.restart();
    let mut txs = Vec::new();
    for amount in [2u64, 3, 4] {
        let r = rt.block_on(send(&url, DEV_ACCOUNTS[0], Some(token), transfer(amount)));
        txs.push(r["transactionHash"].as_str().expect("tx").to_string());
    }
    for tx in &txs {
        find(&mut h, "transfer made while disconnected", |v| {
            is(v, "log") && v["tx"] == tx.as_str()
        });
    }
    // One more block, so anything delivered twice would have arrived by its log.
    let r = rt.block_on(send(&url, DEV_ACCOUNTS[0], Some(token), transfer(5)));
    let last = r["transactionHash"].as_str().expect("tx").to_string();
    find(&mut h, "transfer after reconnecting", |v| {
        is(v, "log") && v["tx"] == last.as_str()
    });
    for tx in &txs {
        let n = h
            .seen
            .iter()
            .filter(|v| is(v, "log") && v["tx"] == tx.as_str())
            .count();
        assert_eq!(n, 1, "log of {tx} delivered once");
    }
    let backfilled = h
        .seen
        .iter()
        .filter(|v| is(v, "head") && v["source"] == "backfill")
        .count();
    eprintln!("heads backfilled after the restart: {backfilled}");
}

/// A WebSocket proxy in front of anvil that refuses `logs` subscriptions (as some
/// providers do) and passes everything else through.
async fn logs_refusing_proxy(upstream: String) -> u16 {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let Ok(client) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                let Ok((node, _)) = tokio_tungstenite::connect_async(upstream.as_str()).await
                else {
                    return;
                };
                let (mut to_client, mut from_client) = client.split();
                let (mut to_node, mut from_node) = node.split();
                loop {
                    tokio::select! {
                        m = from_client.next() => {
                            let Some(Ok(m)) = m else { return };
                            if let Message::Text(t) = &m {
                                let v: Value = serde_json::from_str(t.as_str()).unwrap_or_default();
                                if v["method"] == "eth_subscribe" && v["params"][0] == "logs" {
                                    let refusal = json!({"jsonrpc": "2.0", "id": v["id"], "error": {"code": -32601, "message": "logs subscriptions are not available on this plan"}});
                                    if to_client.send(Message::Text(refusal.to_string().into())).await.is_err() {
                                        return;
                                    }
                                    continue;
                                }
                            }
                            if matches!(m, Message::Text(_)) && to_node.send(m).await.is_err() {
                                return;
                            }
                        }
                        m = from_node.next() => {
                            let Some(Ok(m)) = m else { return };
                            if matches!(m, Message::Text(_)) && to_client.send(m).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    port
}

#[test]
fn refused_logs_subscription_is_reported_and_logs_still_arrive() {
    let node = Anvil::spawn();
    let url = node.http_url();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let token = rt.block_on(deploy_token(&url, "TT", 1_000_000));
    let proxy_port = rt.block_on(logs_refusing_proxy(node.ws_url()));
    let holder = DEV_ACCOUNTS[1];
    let config = format!(
        "{}{}\n[[watch]]\naddress = \"{holder}\"\nlabel = \"holder\"\n",
        network_toml("pushed", &node.ws_url(), &url, token),
        network_toml(
            "refused",
            &format!("ws://127.0.0.1:{proxy_port}"),
            &url,
            token
        ),
    );
    let mut h = start(&config);
    let refused = find(&mut h, "refused logs subscription", |v| {
        is(v, "subscription") && v["network"] == "refused" && v["kind"] == "logs"
    });
    assert_eq!(refused["status"], "unsupported", "{refused}");
    assert!(
        refused["reason"]
            .as_str()
            .is_some_and(|r| r.contains("not available on this plan")),
        "{refused}"
    );
    find(&mut h, "pushed logs subscription", |v| {
        is(v, "subscription")
            && v["network"] == "pushed"
            && v["kind"] == "logs"
            && v["status"] == "active"
    });
    find(&mut h, "refused network live", |v| {
        is(v, "connection") && v["network"] == "refused" && v["state"] == "live"
    });

    let r = rt.block_on(send(
        &url,
        DEV_ACCOUNTS[0],
        Some(token),
        call_data(
            "transfer(address,uint256)",
            vec![
                DynSolValue::Address(addr(holder)),
                DynSolValue::Uint(U256::from(77u64), 256),
            ],
        ),
    ));
    let tx = r["transactionHash"].as_str().expect("tx").to_string();
    for net in ["pushed", "refused"] {
        let log = find(&mut h, &format!("Transfer on {net}"), |v| {
            is(v, "log") && v["network"] == net && v["tx"] == tx.as_str()
        });
        assert_eq!(log["args"]["value"], "77");
    }
    // Both networks keep going: the next transfer arrives on both too, and nothing
    // is delivered twice.
    let r = rt.block_on(send(
        &url,
        DEV_ACCOUNTS[0],
        Some(token),
        call_data(
            "transfer(address,uint256)",
            vec![
                DynSolValue::Address(addr(holder)),
                DynSolValue::Uint(U256::from(78u64), 256),
            ],
        ),
    ));
    let tx2 = r["transactionHash"].as_str().expect("tx").to_string();
    for net in ["pushed", "refused"] {
        find(&mut h, &format!("second Transfer on {net}"), |v| {
            is(v, "log") && v["network"] == net && v["tx"] == tx2.as_str()
        });
        let n = h
            .seen
            .iter()
            .filter(|v| is(v, "log") && v["network"] == net && v["tx"] == tx.as_str())
            .count();
        assert_eq!(n, 1, "{net}: first Transfer delivered once");
    }
}
