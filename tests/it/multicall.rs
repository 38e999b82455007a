//! Multicall3 against a real node: anvil, with `tests/contracts/MiniMulticall3`
//! (Multicall3's ABI for `aggregate3` and `getEthBalance`) installed at the
//! canonical address with `anvil_setCode`, and without it.

use crate::client_support;
use crate::support;

use std::time::{Duration, SystemTime};

use alloy_primitives::{Address, U256};
use chaintop::config::{Config, NetworkConfig, RefreshMode, WatchConfig};
use chaintop::cost::CostSnapshot;
use chaintop::event::Update;
use serde_json::json;

use crate::proxy::CountingProxy;
use chaintop::cost::table_for;
use client_support::{Client, config};
use support::{Anvil, DEV_ACCOUNTS};

const T: Duration = Duration::from_secs(60);
const MULTICALL3: &str = "0xcA11bde05977b3631167028862bE2a173976CA11";
/// Watched addresses: the dev accounts and strangers.
const WATCHED: usize = 200;

pub(crate) async fn install_multicall(url: &str) {
    let file = support::contract_file("MiniMulticall3.bin-runtime");
    let code = std::fs::read_to_string(&file).expect("MiniMulticall3.bin-runtime");
    support::rpc(
        url,
        "anvil_setCode",
        json!([MULTICALL3, format!("0x{}", code.trim())]),
    )
    .await;
}

pub(crate) fn watched() -> Vec<Address> {
    watched_n(WATCHED)
}

fn watched_n(n: usize) -> Vec<Address> {
    let dev = DEV_ACCOUNTS.iter().map(|a| support::addr(a));
    let strangers = (1..=n - DEV_ACCOUNTS.len()).map(|i| {
        let mut b = [0u8; 20];
        b[0] = 0xee;
        b[12..].copy_from_slice(&(i as u64).to_be_bytes());
        Address::from(b)
    });
    dev.chain(strangers).collect()
}

fn setup(node: &Anvil, token: Address) -> Config {
    setup_at(node.ws_url(), node.http_url(), token)
}

/// 200 watched addresses and a token on Infura's prices, every head, at these URLs.
pub(crate) fn setup_at(ws: String, http: String, token: Address) -> Config {
    setup_n(ws, http, token, WATCHED)
}

fn setup_n(ws: String, http: String, token: Address, watched: usize) -> Config {
    let mut n = NetworkConfig::new("anvil", Some(ws), Some(http));
    n.chain_id = Some(31337);
    n.provider = Some("infura".into());
    // Every head, so the reads are there to count (on activity has its own test).
    n.refresh = Some(RefreshMode::EveryHead);
    n.tokens = vec![token];
    let mut cfg = config(vec![n]);
    cfg.watch = watched_n(watched)
        .into_iter()
        .enumerate()
        .map(|(i, address)| WatchConfig {
            address,
            label: format!("w{i}"),
            networks: None,
        })
        .collect();
    cfg
}

pub(crate) fn meter(c: &Client) -> CostSnapshot {
    c.networks[0].cost.snapshot(SystemTime::now())
}

fn count(s: &CostSnapshot, method: &str) -> u64 {
    s.by_method.get(method).map_or(0, |l| l.count)
}

/// Sends `wei` and waits until it is mined; the block it is in.
pub(crate) async fn transfer(url: &str, from: &str, to: Address, wei: u128) -> u64 {
    let hash = support::send_eth(url, from, &to.to_string(), wei).await;
    support::hex_u64(&support::receipt(url, hash).await["blockNumber"])
}

/// Waits for a balance update of `who` equal to what the node says it has.
async fn balance_shown(c: &mut Client, url: &str, who: Address) -> U256 {
    let want = support::balance(url, &who.to_string(), "latest").await;
    c.wait(&format!("balance {want} of {who}"), T, |l| {
        l.for_net(0).find_map(|(_, u)| match u {
            Update::Balance { address, wei, .. } if *address == who && *wei == want => Some(*wei),
            _ => None,
        })
    })
    .await
}

/// Calls the meter counted over `blocks` heads once the refresh has settled.
async fn calls_per_head(c: &mut Client, blocks: usize) -> (f64, CostSnapshot, CostSnapshot) {
    c.more_heads(0, 2, T).await;
    // Both ends are taken after the refresh of the head just shown has run.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (before, h0) = (meter(c), c.log().heads(0).len());
    c.more_heads(0, blocks, T).await;
    // The refresh of the last head runs after it is shown.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (after, h1) = (meter(c), c.log().heads(0).len());
    let per = (after.calls - before.calls) as f64 / (h1 - h0) as f64;
    let credits = (after.total - before.total) / (h1 - h0) as f64;
    eprintln!("{per:.2} calls and {credits:.0} Infura credits per head");
    (per, before, after)
}

/// JSON-RPC calls (batch entries and WebSocket requests) the proxy passed.
fn proxied_calls(p: &CountingProxy) -> u64 {
    let c = p.counted();
    c.by_method
        .iter()
        .filter(|(m, _)| !m.starts_with("event:"))
        .map(|(_, (n, _))| *n)
        .sum()
}

#[tokio::test]
async fn with_multicall3_a_head_costs_at_most_three_calls_and_values_stay_right() {
    let node = Anvil::builder().block_time(1.0).spawn();
    let url = node.http_url();
    install_multicall(&url).await;
    let token = support::deploy_token(&url, "MCT", 1_000_000).await;
    let infura = table_for(Some("infura"), None).expect("infura table");
    let proxy = CountingProxy::start(node.http_url(), node.ws_url(), infura).await;
    // 1,000 watched addresses, read at every head: 2,000 reads.
    let cfg = setup_n(proxy.ws_url.clone(), proxy.http_url.clone(), token, 1_000);
    let mut c = Client::start(&cfg);

    // A transfer between watched addresses shows with the node's figures.
    let to = watched()[3];
    transfer(&url, DEV_ACCOUNTS[0], to, 12_345).await;
    balance_shown(&mut c, &url, to).await;
    let holder = support::addr(DEV_ACCOUNTS[0]);
    c.wait("the token balance of its holder", T, |l| {
        l.for_net(0).find_map(|(_, u)| match u {
            Update::TokenBalance {
                holder: h, amount, ..
            } if *h == holder => Some(*amount),
            _ => None,
        })
    })
    .await;

    c.more_heads(0, 1, T).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (proxied, h0) = (proxied_calls(&proxy), c.log().heads(0).len());
    let (per_head, before, after) = calls_per_head(&mut c, 8).await;
    let at_proxy = (proxied_calls(&proxy) - proxied) as f64 / (c.log().heads(0).len() - h0) as f64;
    // 1,000 balances and 1,000 token balances: two aggregate3 calls of 1,000 reads
    // and the head's confirmation, counted at the proxy as batch entries.
    assert!(
        per_head <= 3.0,
        "{per_head} calls per head; {before:?} {after:?}"
    );
    assert!(at_proxy <= 3.0, "{at_proxy} calls per head at the proxy");
    assert!(
        count(&after, "eth_call") - count(&before, "eth_call") >= 16,
        "two a head"
    );
    assert_eq!(
        count(&after, "eth_getBalance"),
        count(&before, "eth_getBalance"),
        "no balance read outside Multicall3"
    );
    assert!(count(&after, "eth_call") > count(&before, "eth_call"));
    // The nonce of an address that sends follows from its transaction in the
    // block: no eth_getTransactionCount for it.
    let sender = support::addr(DEV_ACCOUNTS[1]);
    let reads = count(&meter(&c), "eth_getTransactionCount");
    transfer(&url, DEV_ACCOUNTS[1], to, 1).await;
    let want = support::rpc(&url, "eth_getTransactionCount", json!([sender, "latest"])).await;
    let want = support::hex_u64(&want);
    c.wait("the sender's new nonce", T, |l| {
        l.for_net(0).find_map(|(_, u)| match u {
            Update::Nonce { address, nonce, .. } if *address == sender && *nonce == want => {
                Some(())
            }
            _ => None,
        })
    })
    .await;
    assert_eq!(
        count(&meter(&c), "eth_getTransactionCount"),
        reads,
        "the nonce was read, not taken from the block"
    );
}

#[tokio::test]
async fn without_multicall3_the_batch_reads_every_balance() {
    let node = Anvil::builder().block_time(1.0).spawn();
    let url = node.http_url();
    let token = support::deploy_token(&url, "NMC", 1_000).await;
    let mut c = Client::start(&setup(&node, token));
    let to = watched()[4];
    transfer(&url, DEV_ACCOUNTS[0], to, 777).await;
    balance_shown(&mut c, &url, to).await;
    let (per_head, before, after) = calls_per_head(&mut c, 4).await;
    // Each address's balance, nonce and token balance: a batch entry each.
    assert!(
        per_head >= 3.0 * WATCHED as f64,
        "{per_head} calls per head"
    );
    assert!(count(&after, "eth_getBalance") > count(&before, "eth_getBalance"));
}

#[tokio::test]
async fn multicall_false_keeps_the_batch_even_where_multicall3_is_deployed() {
    let node = Anvil::builder().block_time(1.0).spawn();
    let url = node.http_url();
    install_multicall(&url).await;
    let token = support::deploy_token(&url, "OFF", 1_000).await;
    let mut cfg = setup(&node, token);
    cfg.networks[0].multicall = false;
    let mut c = Client::start(&cfg);
    let to = watched()[5];
    transfer(&url, DEV_ACCOUNTS[0], to, 555).await;
    balance_shown(&mut c, &url, to).await;
    let (per_head, _, after) = calls_per_head(&mut c, 3).await;
    assert!(
        per_head >= 3.0 * WATCHED as f64,
        "{per_head} calls per head"
    );
    assert_eq!(count(&after, "eth_getCode"), 0, "not even asked");
}

#[tokio::test]
async fn on_activity_reads_what_moved_at_once_and_nothing_else() {
    let node = Anvil::builder().block_time(1.0).spawn();
    let url = node.http_url();
    // No Multicall3: on activity alone keeps a head to its confirmation.
    let token = support::deploy_token(&url, "ACT", 1_000).await;
    let mut cfg = setup(&node, token);
    cfg.networks[0].refresh = None; // the default on a metered provider
    let mut c = Client::start(&cfg);
    // Everything is read once at start.
    balance_shown(&mut c, &url, watched()[WATCHED - 1]).await;
    let (per_head, _, after) = calls_per_head(&mut c, 6).await;
    // The head's confirmation, and the balances of a sweep (every 50 blocks) at most.
    assert!(
        per_head < 1.0 + 2.0 * WATCHED as f64 / 50.0 + 1.0,
        "{per_head} calls per head; {after:?}"
    );
    // A transfer to a watched address is read in the same refresh as its block.
    let to = watched()[7];
    let mined = transfer(&url, DEV_ACCOUNTS[0], to, 4_321).await;
    let want = support::balance(&url, &to.to_string(), "latest").await;
    let block_of = c
        .wait("the moved balance", T, |l| {
            l.for_net(0).find_map(|(_, u)| match u {
                Update::Balance {
                    address,
                    wei,
                    block,
                    ..
                } if *address == to && *wei == want => Some(*block),
                _ => None,
            })
        })
        .await;
    // Read at the block that moved it (or the next one, if the refresh of that head
    // ran before the node had it), not at a sweep up to 50 blocks later.
    assert!(
        (mined..=mined + 1).contains(&block_of),
        "read at {block_of}, mined in {mined}"
    );
}
