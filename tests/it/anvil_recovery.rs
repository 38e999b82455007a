//! Recovery against a real node (anvil), through the real client in-process:
//! a restart from saved state mid-run, and `anvil_reorg`.

use crate::client_support;
use crate::support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy_primitives::B256;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use chaintop::config::NetworkConfig;
use chaintop::event::{HeadSource, SubKind, SubStatus, Update};

use client_support::{Client, config, is_live};
use support::{Anvil, DEV_ACCOUNTS};

const T: Duration = Duration::from_secs(30);

/// A TCP relay to the node that the test can cut and reopen, so the client is away
/// exactly while the test makes blocks (without it, whether blocks land before or
/// after the client reconnects would be a race).
struct Relay {
    port: u16,
    open: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
    task: JoinHandle<()>,
}

impl Relay {
    async fn start(target: u16) -> Relay {
        let listener = match TcpListener::bind(("127.0.0.1", 0)).await {
            Ok(l) => l,
            Err(e) => panic!("relay bind: {e}"),
        };
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let open = Arc::new(AtomicBool::new(true));
        let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let task = tokio::spawn({
            let (open, conns) = (open.clone(), conns.clone());
            async move {
                while let Ok((mut down, _)) = listener.accept().await {
                    if !open.load(Ordering::SeqCst) {
                        continue; // dropped: the client sees the connection fail
                    }
                    let h = tokio::spawn(async move {
                        if let Ok(mut up) = TcpStream::connect(("127.0.0.1", target)).await {
                            let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
                        }
                    });
                    if let Ok(mut c) = conns.lock() {
                        c.push(h);
                    }
                }
            }
        });
        Relay {
            port,
            open,
            conns,
            task,
        }
    }

    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        if let Ok(mut c) = self.conns.lock() {
            for h in c.drain(..) {
                h.abort();
            }
        }
    }

    fn reopen(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut();
        self.task.abort();
    }
}

fn node_network(port: u16, chain_id: u64) -> NetworkConfig {
    let mut n = NetworkConfig::new(
        "anvil",
        Some(format!("ws://127.0.0.1:{port}")),
        Some(format!("http://127.0.0.1:{port}")),
    );
    n.chain_id = Some(chain_id);
    n.ping_interval_secs = 1;
    n
}

async fn block_hash(url: &str, n: u64) -> B256 {
    let b = support::rpc(
        url,
        "eth_getBlockByNumber",
        json!([format!("{n:#x}"), false]),
    )
    .await;
    match serde_json::from_value(b["hash"].clone()) {
        Ok(h) => h,
        Err(e) => panic!("block {n} from the node: {b}: {e}"),
    }
}

/// Mines one block and waits until the client shows it.
async fn mine_and_see(c: &mut Client, url: &str) -> u64 {
    support::mine(url, 1).await;
    let n = support::block_number(url).await;
    c.wait(&format!("head {n}"), T, |l| l.tip(0).filter(|t| *t >= n))
        .await
}

/// Every head shown (last one per number) is the node's block of that number.
async fn assert_matches_node(c: &Client, url: &str) {
    let shown = {
        let l = c.log();
        match l.linked_chain(0) {
            Ok(s) => s,
            Err(e) => panic!("head stream broken: {e}\n{}", l.tail(30)),
        }
    };
    for (n, h) in &shown {
        assert_eq!(*h, block_hash(url, *n).await, "head {n} is not the node's");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_from_saved_state_keeps_heads_continuous() {
    let state = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("tempdir: {e}"),
    };
    let state_file = state.path().join("state.json");
    let mut node = Anvil::builder()
        .no_mining()
        .chain_id(4242)
        .arg("--state")
        .arg(state_file.to_string_lossy())
        .spawn();
    let url = node.http_url();
    let relay = Relay::start(node.port()).await;
    let mut c = Client::start(&config(vec![node_network(relay.port, 4242)]));
    c.wait("live", T, |l| {
        is_live(&l.state.networks[0].conn).then_some(())
    })
    .await;
    for _ in 0..4 {
        mine_and_see(&mut c, &url).await;
    }
    let before = c.log().tip(0).unwrap_or(0);

    relay.cut();
    c.wait("the client notices", T, |l| l.dropped(0)).await;
    // SIGINT: anvil dumps its state; the restart loads it on the same port.
    node.restart();
    assert_eq!(
        support::block_number(&url).await,
        before,
        "the node resumes at its saved head"
    );
    support::mine(&url, 20).await;
    relay.reopen();
    c.wait("reconnected", Duration::from_secs(60), |l| {
        (l.reconnects(0) >= 1).then_some(())
    })
    .await;
    c.wait("the gap filled", T, |l| {
        l.tip(0).filter(|t| *t >= before + 20)
    })
    .await;
    support::mine(&url, 1).await;
    c.wait("a live head after the gap", T, |l| {
        l.tip(0).filter(|t| *t > before + 20)
    })
    .await;

    assert_matches_node(&c, &url).await;
    let l = c.log();
    let after: Vec<(u64, HeadSource)> = l
        .heads(0)
        .iter()
        .filter(|h| h.number > before)
        .map(|h| (h.number, h.source))
        .collect();
    let gap: Vec<u64> = (before + 1..=before + 20).collect();
    assert_eq!(
        after.iter().take(20).map(|h| h.0).collect::<Vec<_>>(),
        gap,
        "each missed head once, in order"
    );
    assert!(
        after.iter().take(20).all(|h| h.1 == HeadSource::Backfill),
        "the gap is backfilled: {after:?}"
    );
    assert_eq!(after.last(), Some(&(before + 21, HeadSource::Ws)));
    assert!(l.reorgs(0).is_empty(), "a restart is not a reorg");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anvil_reorg_is_reported_with_depth_and_replacements() {
    // anvil_reorg needs history: no --prune-history, and few blocks.
    let node = Anvil::builder().no_mining().keep_history().spawn();
    let url = node.http_url();
    let mut c = Client::start(&config(vec![node_network(node.port(), 31337)]));
    c.wait("live", T, |l| {
        is_live(&l.state.networks[0].conn).then_some(())
    })
    .await;
    // Blocks with a transaction each, so the replacements (without) differ.
    for i in 0..4u128 {
        support::send_eth(&url, DEV_ACCOUNTS[0], DEV_ACCOUNTS[1], 1_000 + i).await;
        mine_and_see(&mut c, &url).await;
    }
    let tip = support::block_number(&url).await;
    let old = block_hash(&url, tip).await;
    c.wait("client at the tip", T, |l| l.tip(0).filter(|t| *t == tip))
        .await;

    support::rpc(&url, "anvil_reorg", json!([2, []])).await;
    let reorg = c
        .wait("reorg reported", T, |l| l.reorgs(0).first().cloned())
        .await;
    assert_eq!(reorg.depth, 2, "{reorg:?}");
    assert_eq!(reorg.from_number, tip - 1);
    assert_eq!(reorg.old_hash, old);
    let new_tip = block_hash(&url, tip).await;
    assert_ne!(new_tip, old, "anvil replaced the tip");
    c.wait("the replacement tip shown", T, |l| {
        l.heads(0).last().filter(|h| h.hash == new_tip).map(|_| ())
    })
    .await;
    // Normal service after the reorg.
    support::mine(&url, 1).await;
    c.wait("a head after the reorg", T, |l| {
        l.tip(0).filter(|t| *t == tip + 1)
    })
    .await;

    assert_matches_node(&c, &url).await;
    let l = c.log();
    let net = &l.state.networks[0];
    assert_eq!((net.reorgs, net.deepest_reorg), (1, 2));
    let replaced: Vec<u64> = l
        .for_net(0)
        .skip_while(|(_, u)| !matches!(u, Update::Reorg { .. }))
        .filter_map(|(_, u)| match u {
            Update::Head { head, .. } => Some(head.number),
            _ => None,
        })
        .collect();
    assert_eq!(replaced, vec![tip - 1, tip, tip + 1]);
}

/// A network with the test token, watching `holder`.
fn token_config(
    port: u16,
    token: alloy_primitives::Address,
    holder: &str,
) -> chaintop::config::Config {
    let mut net = node_network(port, 31337);
    net.tokens = vec![token];
    let mut c = config(vec![net]);
    c.watch = vec![chaintop::config::WatchConfig {
        address: support::addr(holder),
        label: "holder".into(),
        networks: None,
    }];
    c
}

fn transfer_data(to: &str, amount: u64) -> Vec<u8> {
    support::call_data(
        "transfer(address,uint256)",
        vec![
            alloy_dyn_abi::DynSolValue::Address(support::addr(to)),
            alloy_dyn_abi::DynSolValue::Uint(alloy_primitives::U256::from(amount), 256),
        ],
    )
}

/// Every delivery of one transaction's log: (block hash, removed).
fn deliveries(l: &client_support::Log, tx: B256) -> Vec<(Option<B256>, bool)> {
    l.for_net(0)
        .filter_map(|(_, u)| match u {
            Update::Log { log, .. } if log.tx == Some(tx) => Some((log.block_hash, log.removed)),
            _ => None,
        })
        .collect()
}

async fn logs_live(c: &mut Client) {
    c.wait("logs subscribed", T, |l| {
        l.for_net(0)
            .any(|(_, u)| {
                matches!(
                    u,
                    Update::Subscription {
                        kind: SubKind::Logs,
                        status: SubStatus::Active,
                        ..
                    }
                )
            })
            .then_some(())
    })
    .await;
}

fn tx_hash(receipt: &serde_json::Value) -> B256 {
    serde_json::from_value(receipt["transactionHash"].clone()).expect("tx hash")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_of_orphaned_blocks_are_retracted_though_anvil_never_says_so() {
    let node = Anvil::builder().keep_history().spawn();
    let url = node.http_url();
    let token = support::deploy_token(&url, "TT", 1_000_000).await;
    let holder = DEV_ACCOUNTS[1];
    let mut c = Client::start(&token_config(node.port(), token, holder));
    logs_live(&mut c).await;
    let r = support::send(
        &url,
        DEV_ACCOUNTS[0],
        Some(token),
        transfer_data(holder, 77),
    )
    .await;
    let tx = tx_hash(&r);
    c.wait("the transfer's log and activity", T, |l| {
        let shown = deliveries(l, tx)
            == vec![(r["blockHash"].as_str().and_then(|h| h.parse().ok()), false)];
        let active = l.state.networks[0].watches[0]
            .last_activity
            .as_ref()
            .is_some_and(|a| a.tx == tx);
        // The refresh of that block (which also confirms it exists) is done: a
        // reorg faster than that could not be told from a head that never existed.
        let refreshed = l.state.networks[0].watches[0]
            .tokens
            .first()
            .is_some_and(|t| t.amount == alloy_primitives::U256::from(77u8));
        (shown && active && refreshed).then_some(())
    })
    .await;
    // Replace the block with an empty one: the transfer never happened.
    support::rpc(&url, "anvil_reorg", json!([1, []])).await;
    c.wait("the log retracted", T, |l| {
        deliveries(l, tx)
            .iter()
            .any(|(_, removed)| *removed)
            .then_some(())
    })
    .await;
    let l = c.log();
    assert_eq!(l.reorgs(0).len(), 1, "{}", l.tail(30));
    let feed: Vec<bool> = l.state.networks[0]
        .events
        .iter()
        .filter(|e| e.tx == Some(tx))
        .map(|e| e.removed)
        .collect();
    assert_eq!(feed, vec![true], "struck through in the feed");
    assert!(
        l.state.networks[0].watches[0].last_activity.is_none(),
        "the activity pointed at the orphaned block"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_remined_below_the_last_shown_head_during_an_outage_is_delivered() {
    let node = Anvil::builder().keep_history().spawn();
    let url = node.http_url();
    let token = support::deploy_token(&url, "TT", 1_000_000).await;
    let holder = DEV_ACCOUNTS[1];
    let relay = Relay::start(node.port()).await;
    let mut c = Client::start(&token_config(relay.port, token, holder));
    logs_live(&mut c).await;
    let r = support::send(
        &url,
        DEV_ACCOUNTS[0],
        Some(token),
        transfer_data(holder, 77),
    )
    .await;
    let old_tx = tx_hash(&r);
    c.wait("the first transfer's log", T, |l| {
        (!deliveries(l, old_tx).is_empty()).then_some(())
    })
    .await;
    mine_and_see(&mut c, &url).await;
    let tip = support::block_number(&url).await;

    relay.cut();
    c.wait("the client notices", T, |l| l.dropped(0)).await;
    // Both shown blocks replaced; a new transfer is mined in the first of them,
    // below the last head the client showed.
    let data = support::hex(&transfer_data(holder, 88));
    let tx = json!({"from": DEV_ACCOUNTS[0], "to": token, "input": data, "data": data, "gas": "0x30000"});
    support::rpc(&url, "anvil_reorg", json!([2, [[tx, 0]]])).await;
    let remined = support::rpc(
        &url,
        "eth_getBlockByNumber",
        json!([format!("{:#x}", tip - 1), false]),
    )
    .await;
    let new_tx: B256 =
        serde_json::from_value(remined["transactions"][0].clone()).expect("the re-mined transfer");
    let receipt = support::receipt(&url, new_tx).await;
    assert_eq!(receipt["status"], "0x1", "the re-mined transfer: {receipt}");
    relay.reopen();
    c.wait("reconnected", Duration::from_secs(60), |l| {
        (l.reconnects(0) >= 1).then_some(())
    })
    .await;
    c.wait(
        "the re-mined transfer delivered and the old one retracted",
        T,
        |l| {
            let new = deliveries(l, new_tx)
                == vec![(remined["hash"].as_str().and_then(|h| h.parse().ok()), false)];
            let old = deliveries(l, old_tx).iter().any(|(_, removed)| *removed);
            (new && old).then_some(())
        },
    )
    .await;
    assert_matches_node(&c, &url).await;
    let r = c.log().reorgs(0);
    assert_eq!((r.len(), r.first().map(|r| r.depth)), (1, Some(2)), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_restarted_on_a_fresh_chain_is_a_chain_reset_not_a_reorg() {
    let mut node = Anvil::builder().no_mining().spawn();
    let url = node.http_url();
    let mut c = Client::start(&config(vec![node_network(node.port(), 31337)]));
    c.wait("live", T, |l| {
        is_live(&l.state.networks[0].conn).then_some(())
    })
    .await;
    for _ in 0..19 {
        mine_and_see(&mut c, &url).await;
    }
    // No saved state: the node comes back on a new chain from block 0. anvil's
    // genesis hash is its start time in seconds: restart in another second.
    let genesis = block_hash(&url, 0).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    node.restart();
    assert_ne!(block_hash(&url, 0).await, genesis, "a fresh chain");
    support::mine(&url, 2).await;
    c.wait("the chain reset reported", Duration::from_secs(60), |l| {
        l.for_net(0)
            .any(|(_, u)| matches!(u, Update::ChainReset { .. }))
            .then_some(())
    })
    .await;
    c.wait("the new chain followed", T, |l| {
        l.heads(0).last().filter(|h| h.number == 2).map(|_| ())
    })
    .await;
    assert_matches_node(&c, &url).await;
    let l = c.log();
    assert!(
        l.reorgs(0).is_empty(),
        "not a 19-deep reorg: {:?}",
        l.reorgs(0)
    );
    assert_eq!(l.state.networks[0].chain_resets, 1);
}
