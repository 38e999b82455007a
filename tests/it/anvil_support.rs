//! Proves the anvil test harness in `tests/it/support` works.

use crate::support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use support::{Anvil, DEV_ACCOUNTS};

#[test]
fn concurrent_callers_get_one_anvil_binary() {
    let paths: Vec<_> = (0..8)
        .map(|_| std::thread::spawn(support::anvil_bin))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().expect("anvil_bin panicked"))
        .collect();
    assert!(paths[0].is_file(), "{} is not a file", paths[0].display());
    assert!(paths.iter().all(|p| p == &paths[0]), "{paths:?}");
    assert!(support::chaintop_bin().is_file());
}

#[test]
fn install_lock_admits_one_holder_at_a_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lock = dir.path().join("sub").join("x.lock");
    let inside = Arc::new(AtomicUsize::new(0));
    let max_inside = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let (lock, inside, max_inside) = (lock.clone(), inside.clone(), max_inside.clone());
            std::thread::spawn(move || {
                for _ in 0..5 {
                    let _held = support::lock_file(&lock);
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    max_inside.fetch_max(now, Ordering::SeqCst);
                    std::thread::yield_now();
                    inside.fetch_sub(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("locking thread panicked");
    }
    assert_eq!(max_inside.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn two_nodes_in_parallel_with_different_chain_ids() {
    let a = std::thread::spawn(|| Anvil::builder().chain_id(1001).spawn());
    let b = std::thread::spawn(|| Anvil::builder().chain_id(1002).spawn());
    let (a, b) = (a.join().expect("spawn a"), b.join().expect("spawn b"));
    assert_ne!(a.port(), b.port());
    assert_eq!(support::chain_id(&a.http_url()).await, 1001);
    assert_eq!(support::chain_id(&b.http_url()).await, 1002);
}

#[tokio::test]
async fn restart_keeps_port_and_state_file() {
    let state_dir = tempfile::tempdir().expect("tempdir");
    let state = state_dir.path().join("state.json");
    let mut node = Anvil::builder()
        .arg("--state")
        .arg(state.to_string_lossy())
        .spawn();
    let port = node.port();
    support::mine(&node.http_url(), 5).await;
    assert_eq!(support::block_number(&node.http_url()).await, 5);

    node.restart();
    assert_eq!(node.port(), port);
    // stop() sent SIGINT, so anvil dumped its state and loaded it again.
    assert!(
        state.is_file(),
        "no state dump; anvil said:\n{}",
        node.output()
    );
    assert_eq!(support::block_number(&node.http_url()).await, 5);
}

#[tokio::test]
async fn kill_makes_node_unreachable_until_restart() {
    let mut node = Anvil::spawn();
    let url = node.http_url();
    let pid = node.pid().expect("running");
    node.kill();
    assert!(node.pid().is_none());
    let refused = reqwest::Client::new()
        .post(&url)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}))
        .send()
        .await;
    assert!(refused.is_err(), "killed node {pid} still answers");
    node.restart();
    assert_eq!(support::chain_id(&url).await, 31337);
}

#[tokio::test]
async fn send_eth_moves_value_and_automines() {
    let node = Anvil::spawn();
    let url = node.http_url();
    let to = "0x000000000000000000000000000000000000dEaD";
    let before = support::balance(&url, to, "latest").await;
    let hash = support::send_eth(&url, DEV_ACCOUNTS[0], to, 12345).await;
    let receipt = support::receipt(&url, hash).await;
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    let after = support::balance(&url, to, "latest").await;
    assert_eq!(after - before, alloy_primitives::U256::from(12345));
}

#[tokio::test]
async fn no_mining_node_only_mines_on_request() {
    let node = Anvil::builder().no_mining().spawn();
    let url = node.http_url();
    support::send_eth(&url, DEV_ACCOUNTS[1], DEV_ACCOUNTS[2], 1).await;
    assert_eq!(support::block_number(&url).await, 0);
    support::mine(&url, 3).await;
    assert_eq!(support::block_number(&url).await, 3);
}

#[tokio::test]
async fn fractional_block_time_produces_blocks() {
    let node = Anvil::builder().block_time(0.1).spawn();
    let url = node.http_url();
    support::eventually(
        "two interval-mined blocks",
        Duration::from_secs(10),
        || async { (support::block_number(&url).await >= 2).then_some(()) },
    )
    .await;
}

#[tokio::test]
async fn unknown_method_is_an_error_answer() {
    let node = Anvil::spawn();
    let err = support::try_rpc(&node.http_url(), "eth_noSuchMethod", json!([]))
        .await
        .expect_err("unknown method must fail");
    assert_eq!(err["code"], -32601, "{err}");
}
