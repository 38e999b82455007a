//! The meter against what the node received: every call the devnet counted (each
//! batch entry, each WebSocket request) is counted by the client, and priced by the
//! same table an outside counter would use.

use crate::client_support;
use crate::multicall;
use crate::proxy::CountingProxy;
use crate::support;

use std::collections::BTreeMap;
use std::time::Duration;

use alloy_dyn_abi::DynSolValue;
use serde_json::json;

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

/// Against anvil, through a counting proxy: what the proxy priced (each batch
/// entry, each WebSocket request, each notification, from Infura's table) is what
/// the meter says, by method and in total.
async fn the_meter_agrees_with_a_counting_proxy(multicall: bool) {
    let node = support::Anvil::builder().block_time(1.0).spawn();
    let url = node.http_url();
    if multicall {
        multicall::install_multicall(&url).await;
    }
    let token = support::deploy_token(&url, "PXY", 1_000_000).await;
    let infura = table_for(Some("infura"), None).expect("infura table");
    let proxy = CountingProxy::start(node.http_url(), node.ws_url(), infura).await;
    let mut cfg = multicall::setup_at(proxy.ws_url.clone(), proxy.http_url.clone(), token);
    // The defaults of a metered provider: on activity, pending off.
    cfg.networks[0].refresh = None;
    let mut c = Client::start(&cfg);
    c.more_heads(0, 3, T).await;
    // Activity: ether and the token between watched addresses.
    let to = multicall::watched()[9];
    multicall::transfer(&url, support::DEV_ACCOUNTS[0], to, 1_000).await;
    let data = support::call_data(
        "transfer(address,uint256)",
        vec![
            DynSolValue::Address(to),
            DynSolValue::Uint(alloy_primitives::U256::from(5u64), 256),
        ],
    );
    support::send(&url, support::DEV_ACCOUNTS[0], Some(token), data).await;
    c.more_heads(0, 4, T).await;
    // No more blocks: the traffic settles, and the two counts can be compared.
    support::rpc(&url, "evm_setIntervalMining", json!([0])).await;
    let counts = |p: &crate::proxy::Counted| -> BTreeMap<String, u64> {
        p.by_method
            .iter()
            .map(|(m, (n, _))| (m.clone(), *n))
            .collect()
    };
    let mut agreed = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (seen, at_proxy) = (multicall::meter(&c), proxy.counted());
        let metered: BTreeMap<String, u64> = seen
            .by_method
            .iter()
            .map(|(m, l)| (m.clone(), l.count))
            .collect();
        if metered == counts(&at_proxy) {
            agreed = Some((seen, at_proxy));
            break;
        }
    }
    let (seen, at_proxy) = agreed.unwrap_or_else(|| (multicall::meter(&c), proxy.counted()));
    assert!(at_proxy.total > 0.0 && at_proxy.count("event:newHeads") >= 7);
    assert!(at_proxy.count("event:logs") >= 1, "{at_proxy:?}");
    let off = (seen.total - at_proxy.total).abs() / at_proxy.total;
    assert!(
        off <= 0.02,
        "meter {} vs proxy {} ({:.1} % off)\nmeter {:?}\nproxy {:?}",
        seen.total,
        at_proxy.total,
        off * 100.0,
        seen.by_method,
        at_proxy.by_method
    );
    // With Multicall3 the balances ride in aggregate3 calls; without, one entry each.
    let balances = at_proxy.count("eth_getBalance");
    if multicall {
        assert_eq!(at_proxy.count("eth_getCode"), 1, "{at_proxy:?}");
        assert_eq!(balances, 0, "{at_proxy:?}");
    } else {
        assert!(
            balances >= multicall::watched().len() as u64,
            "{at_proxy:?}"
        );
    }
}

#[tokio::test]
async fn a_counting_proxy_agrees_with_the_meter_with_multicall3() {
    the_meter_agrees_with_a_counting_proxy(true).await;
}

#[tokio::test]
async fn a_counting_proxy_agrees_with_the_meter_without_multicall3() {
    the_meter_agrees_with_a_counting_proxy(false).await;
}

/// A token's transfers are pushed (and billed) only where they name a watched
/// address, and the filters follow the watch list as it changes.
#[tokio::test]
async fn token_logs_are_pushed_only_for_watched_addresses() {
    use chaintop::event::{Command, Update};
    let node = support::Anvil::builder().block_time(1.0).spawn();
    let url = node.http_url();
    let token = support::deploy_token(&url, "NRW", 1_000_000).await;
    let infura = table_for(Some("infura"), None).expect("infura table");
    let proxy = CountingProxy::start(node.http_url(), node.ws_url(), infura).await;
    let mut cfg = multicall::setup_at(proxy.ws_url.clone(), proxy.http_url.clone(), token);
    let (dev1, stranger) = (
        support::addr(support::DEV_ACCOUNTS[1]),
        alloy_primitives::Address::repeat_byte(0x5e),
    );
    cfg.watch.retain(|w| w.address == dev1);
    let mut c = Client::start(&cfg);
    c.more_heads(0, 2, T).await;
    let send_token = |to: alloy_primitives::Address| {
        let data = support::call_data(
            "transfer(address,uint256)",
            vec![
                DynSolValue::Address(to),
                DynSolValue::Uint(alloy_primitives::U256::from(7u64), 256),
            ],
        );
        support::send(&url, support::DEV_ACCOUNTS[0], Some(token), data)
    };
    // Between strangers: the node pushes nothing.
    send_token(stranger).await;
    c.more_heads(0, 2, T).await;
    assert_eq!(
        proxy.counted().count("event:logs"),
        0,
        "{:?}",
        proxy.counted()
    );
    // To a watched address: pushed, and shown.
    send_token(dev1).await;
    let logged = |who: alloy_primitives::Address| {
        move |l: &client_support::Log| {
            l.for_net(0).find_map(|(_, u)| match u {
                Update::Log { log, .. } if log.topics.get(2) == Some(&who.into_word()) => Some(()),
                _ => None,
            })
        }
    };
    c.wait("the transfer to the watched address", T, logged(dev1))
        .await;
    assert!(proxy.counted().count("event:logs") >= 1);
    // Watched from now on: its transfers come through new filters.
    let subscribed = proxy.counted().count("eth_subscribe");
    let _ = c.networks[0]
        .commands
        .send(Command::AddWatch {
            address: stranger,
            label: "new".into(),
        })
        .await;
    // The stream tells the metrics and the alerts.
    c.wait("the watch list change in the stream", T, |l| {
        l.for_net(0).find_map(|(_, u)| match u {
            Update::Watching {
                address,
                label: Some(label),
                ..
            } if *address == stranger && label == "new" => Some(()),
            _ => None,
        })
    })
    .await;
    support::eventually("the tokens' filters renewed", T, || async {
        let p = proxy.counted();
        (p.count("eth_subscribe") >= subscribed + 2 && p.count("eth_unsubscribe") >= 2)
            .then_some(())
    })
    .await;
    send_token(stranger).await;
    c.wait(
        "the transfer to the newly watched address",
        T,
        logged(stranger),
    )
    .await;
    let _ = c.networks[0]
        .commands
        .send(Command::RemoveWatch { address: dev1 })
        .await;
    c.wait("the removal in the stream", T, |l| {
        l.for_net(0).find_map(|(_, u)| match u {
            Update::Watching {
                address,
                label: None,
                ..
            } if *address == dev1 => Some(()),
            _ => None,
        })
    })
    .await;
}
