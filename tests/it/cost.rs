//! The meter against what the node received: every call the devnet counted (each
//! batch entry, each WebSocket request) is counted by the client, and priced by the
//! same table an outside counter would use.

use crate::client_support;

use std::time::Duration;

use chaintop::config::PendingMode;
use chaintop::config::WatchConfig;
use chaintop::cost::{Line, table_for};
use chaintop::devnet::{Fault, demo_watch};
use chaintop::event::{SubKind, SubStatus};

use client_support::{Client, config, devnet, network};

const T: Duration = Duration::from_secs(30);

#[tokio::test]
async fn the_meter_agrees_with_the_calls_the_node_counted() {
    let d = devnet("metered", 31_101, 200, 11).await;
    let mut net = network(&d, 15);
    // An explicit provider prices a loopback node (which no host would).
    net.provider = Some("infura".into());
    let mut cfg = config(vec![net]);
    cfg.watch = demo_watch()
        .into_iter()
        .map(|(address, label)| WatchConfig {
            address,
            label: label.into(),
            networks: None,
        })
        .collect();
    let mut c = Client::start(&cfg);
    c.more_heads(0, 10, T).await;

    // Quiet the chain's pushes: with no new head there is no refresh and no
    // backfill, so once the last one settles nothing more is asked.
    d.handle().inject(Fault::StopHeads(Duration::from_secs(20)));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let node = d.handle().method_counts();
    // The meter's figures arrive with the next report (once a second).
    let seen = c
        .wait("a cost report with every call the node counted", T, |l| {
            let cost = l.stats(0).cost;
            node.iter()
                .all(|(m, n)| cost.by_method.get(m).map(|l| l.count) == Some(*n))
                .then_some(cost)
        })
        .await;

    let infura = table_for(Some("infura"), None).expect("infura table");
    assert_eq!(seen.provider.as_deref(), Some("infura"));
    assert_eq!(seen.unit, "credits");
    let calls: Vec<(&String, &Line)> = seen
        .by_method
        .iter()
        .filter(|(m, _)| !m.starts_with("event:"))
        .collect();
    // Nothing the client counted went unseen by the node.
    for (m, line) in &calls {
        assert_eq!(node.get(*m), Some(&line.count), "{m}");
    }
    let priced_by_node: f64 = node.iter().map(|(m, n)| infura.call(m) * *n as f64).sum();
    let priced_by_meter: f64 = calls.iter().map(|(_, l)| l.cost).sum();
    assert_eq!(priced_by_meter, priced_by_node);
    // The devnet has Multicall3: its code was asked for once, and after the first
    // refresh the balances went in aggregate3 calls, not an entry per address.
    let n = |m: &str| node.get(m).copied().unwrap_or(0);
    assert_eq!(n("eth_getCode"), 1, "{node:?}");
    assert!(n("eth_getBalance") <= demo_watch().len() as u64, "{node:?}");
    assert!(n("eth_call") >= 5, "{node:?}");
    assert!(seen.by_method.contains_key("event:newHeads"), "{seen:?}");
    assert!(seen.total > priced_by_meter, "events are billed too");
}

#[tokio::test]
async fn pending_events_are_off_where_each_one_is_billed_unless_asked_for() {
    let d = devnet("billed-pending", 31_102, 200, 12).await;
    let mut net = network(&d, 15);
    net.provider = Some("infura".into());
    let mut asked = net.clone();
    asked.name = "asked".into();
    asked.pending = Some(PendingMode::Count);
    let mut c = Client::start(&config(vec![net, asked]));
    c.more_heads(0, 5, T).await;
    c.more_heads(1, 5, T).await;
    let log = c.log();
    match log.sub_status(0, SubKind::NewPendingTransactions) {
        Some(SubStatus::Off(why)) => assert!(why.contains("infura bills"), "{why}"),
        other => panic!("pending on a billed provider by default: {other:?}"),
    }
    let off = log.stats(0).cost;
    assert!(
        !off.by_method.contains_key("event:newPendingTransactions"),
        "{off:?}"
    );
    // The devnet pushes 20 pending transactions a second to whoever subscribes.
    assert_eq!(
        log.sub_status(1, SubKind::NewPendingTransactions),
        Some(SubStatus::Active)
    );
    let on = log.stats(1).cost;
    let pending = on.by_method.get("event:newPendingTransactions");
    assert!(pending.is_some_and(|l| l.count > 0), "{on:?}");
}
