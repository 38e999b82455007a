//! The detail views' fetches against anvil, through the real backend: a block with
//! its transaction (the method named), that transaction's receipt (its Transfer
//! decoded), a block the node does not have (said why), each call counted by the
//! meter; and the state's Enter opening the block the fetch answers.

use crate::client_support;
use crate::support;

use std::time::{Duration, SystemTime};

use alloy_primitives::B256;
use chaintop::config::NetworkConfig;
use chaintop::event::{Action, Command, Detail, DetailKey, Update};
use chaintop::state::{DetailView, Focus, ListCursor};
use client_support::Client;

const T: Duration = Duration::from_secs(30);

/// The answer to `key` in the stream.
async fn answer(c: &mut Client, key: DetailKey) -> Result<Box<Detail>, String> {
    let tx = c.networks[0].details.clone().expect("an HTTP endpoint");
    tx.send(key).await.expect("the fetch task runs");
    c.wait("the fetch's answer", T, |l| {
        l.for_net(0).find_map(|(_, u)| match u {
            Update::Detail { key: k, result, .. } if *k == key => Some(result.clone()),
            _ => None,
        })
    })
    .await
}

#[tokio::test]
async fn a_block_its_transaction_and_its_receipt_are_fetched_named_and_counted() {
    // Automine: the transfer is alone in its block.
    let node = support::Anvil::builder().spawn();
    let url = node.http_url();
    let (token, receipt) = support::token_and_transfer(&url).await;
    let tx: B256 = serde_json::from_value(receipt["transactionHash"].clone()).expect("tx");
    let block: B256 = serde_json::from_value(receipt["blockHash"].clone()).expect("block");
    let mut n = NetworkConfig::new("anvil", Some(node.ws_url()), Some(url.clone()));
    n.tokens = vec![token];
    let mut c = Client::start(&client_support::config(vec![n]));
    c.more_heads(0, 1, T).await;

    let b = match *answer(&mut c, DetailKey::Block(block))
        .await
        .expect("the block")
    {
        Detail::Block(b) => b,
        other => panic!("{other:?}"),
    };
    assert_eq!(b.head.hash, block);
    assert_eq!(b.txs.len(), 1);
    assert_eq!(b.txs[0].hash, tx);
    assert_eq!(b.txs[0].to, Some(token));
    assert_eq!(
        b.txs[0].method.as_deref(),
        Some("transfer(address,uint256)")
    );

    let r = match *answer(&mut c, DetailKey::Receipt(tx))
        .await
        .expect("the receipt")
    {
        Detail::Receipt(r) => r,
        other => panic!("{other:?}"),
    };
    assert_eq!(r.success, Some(true));
    assert_eq!(r.logs.len(), 1);
    assert_eq!(r.logs[0].event.as_deref(), Some("Transfer"));
    assert_eq!(r.logs[0].address, token);

    let gone = answer(&mut c, DetailKey::Block(B256::repeat_byte(0xee))).await;
    let why = gone.expect_err("no such block");
    assert!(why.contains("does not have this block"), "{why}");

    // Billed and counted like every other call.
    let spent = c.networks[0].cost.snapshot(SystemTime::now());
    let count = |m: &str| spent.by_method.get(m).map_or(0, |l| l.count);
    assert_eq!(count("eth_getBlockByHash"), 2, "{:?}", spent.by_method);
    assert_eq!(count("eth_getTransactionReceipt"), 1);
}

#[tokio::test]
async fn enter_on_the_newest_head_opens_its_block_with_the_fetch_answered() {
    let node = support::Anvil::builder().spawn();
    let url = node.http_url();
    support::send_eth(&url, support::DEV_ACCOUNTS[0], support::DEV_ACCOUNTS[1], 1).await;
    let n = NetworkConfig::new("anvil", Some(node.ws_url()), Some(url.clone()));
    let mut c = Client::start(&client_support::config(vec![n]));
    c.more_heads(0, 1, T).await;
    let (net, cmd) = {
        let mut l = c.log();
        l.state.focus = Focus::Heads;
        l.state.cursors.heads = ListCursor::default();
        l.state.on_action(Action::Open).expect("a fetch")
    };
    let Command::Fetch(key) = cmd else {
        panic!("{cmd:?}")
    };
    assert_eq!(net, 0);
    answer(&mut c, key).await.expect("the block");
    let l = c.log();
    let Some(DetailView::Block { number, .. }) = l.state.view() else {
        panic!("{:?}", l.state.view())
    };
    assert_eq!(*number, 1);
    assert!(matches!(
        l.state.networks[0].details.get(&key),
        Some(chaintop::state::Fetched::Ready(_))
    ));
}
