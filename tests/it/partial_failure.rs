//! Partial failures real providers produce every day, injected into a devnet and
//! driven through the real client: rate-limited, hung and failing HTTP must never
//! hold pushed heads back, and must show as the endpoint's HTTP state; a stalled
//! subscription settles into polling; a node that is back is reconnected at once;
//! invented heads, fresh chains and deep reorgs are told apart from ordinary reorgs.
//!
//! Each test runs its own devnet(s) on ephemeral ports, so they run in parallel.

use crate::client_support;

use std::time::{Duration, Instant};

use chaintop::devnet::{Devnet, DevnetConfig, Fault, Malformed};
use chaintop::event::{ConnState, HeadSource, HttpHealth, Update};
use chaintop::network::chain::TRACKED;

use client_support::{Client, config, devnet, is_live, network};

/// Generous: the test machine is small and shared.
const T: Duration = Duration::from_secs(30);
/// How late a pushed head may be shown while HTTP misbehaves. Far below the
/// faults' waits (10 s and more), so waiting on HTTP cannot pass; the product's
/// own bound is 0.5 s (see `network::HOLD`).
const LATE: Duration = Duration::from_secs(3);

async fn start(cfg: DevnetConfig) -> Devnet {
    match Devnet::start(cfg).await {
        Ok(d) => d,
        Err(e) => panic!("devnet did not start: {e}"),
    }
}

fn cfg(name: &str, chain_id: u64, block_ms: u64, seed: u64) -> DevnetConfig {
    client_support::devnet_config(name, chain_id, block_ms, seed)
}

/// Follows the devnet's head for `blocks` blocks and checks each one is shown within
/// [`LATE`] of being produced. Returns the numbers followed.
async fn heads_keep_up(c: &mut Client, d: &Devnet, blocks: u64) -> Vec<u64> {
    let mut followed = Vec::new();
    let mut last = d.head();
    while followed.len() < blocks as usize {
        let deadline = Instant::now() + T;
        while d.head() == last {
            assert!(Instant::now() < deadline, "the devnet stopped producing");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        last = d.head();
        let produced = Instant::now();
        c.wait(&format!("head {last} shown within {LATE:?}"), LATE, |l| {
            l.heads(0).iter().any(|h| h.number >= last).then_some(())
        })
        .await;
        eprintln!("head {last} shown after {:?}", produced.elapsed());
        followed.push(last);
    }
    followed
}

fn http_states(c: &Client) -> Vec<HttpHealth> {
    c.log()
        .for_net(0)
        .filter_map(|(_, u)| match u {
            Update::Http { health, .. } => Some(health.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_http_never_holds_pushed_heads_back() {
    // Reorgs now and then: walking them back needs HTTP, which is rate-limited.
    let d = start(DevnetConfig {
        reorg_probability: 0.1,
        ..cfg("sim", 7301, 250, 31)
    })
    .await;
    let mut c = Client::start(&config(vec![network(&d, 1)]));
    c.more_heads(0, 3, T).await;
    // The devnet counts limited requests, not time: the gate lets a few through
    // every 10 s, so 6 last about 20 s.
    d.handle().inject(Fault::RateLimit {
        retry_after_secs: 10,
        requests: 6,
    });
    heads_keep_up(&mut c, &d, 16).await;
    let limited = c
        .wait("the rate limit shown", T, |l| {
            let h = &l.state.networks[0].http;
            matches!(h, HttpHealth::RateLimited { .. }).then(|| h.clone())
        })
        .await;
    assert!(
        limited.reason().is_some_and(|r| r.contains("429")),
        "{limited:?}"
    );
    {
        let l = c.log();
        assert!(l.stats(0).errors > 0, "the 429s are counted");
        assert!(
            matches!(l.state.networks[0].conn, ConnState::Live { .. }),
            "the WebSocket itself is fine: {:?}",
            l.state.networks[0].conn
        );
    }
    // Once the limit is spent, HTTP is ok again and the chain settles on the node's.
    c.wait("http ok again", Duration::from_secs(90), |l| {
        (l.state.networks[0].http == HttpHealth::Ok).then_some(())
    })
    .await;
    let m = d.head();
    c.matches_canonical(0, &d, m, Duration::from_secs(60)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_http_shows_geth_style_heads_at_once_and_fills_tx_counts_later() {
    let d = start(DevnetConfig {
        heads_without_txs: true,
        ..cfg("geth", 7302, 500, 32)
    })
    .await;
    let mut c = Client::start(&config(vec![network(&d, 1)]));
    c.more_heads(0, 3, T).await;
    // Before the fault, the counts come in over HTTP after the heads.
    c.wait("a tx count filled in", T, |l| {
        l.for_net(0)
            .any(|(_, u)| matches!(u, Update::HeadTxCount { .. }))
            .then_some(())
    })
    .await;
    let hang = Duration::from_secs(15);
    d.handle().inject(Fault::HttpHang(hang));
    let hung_at = Instant::now();
    let followed = heads_keep_up(&mut c, &d, 6).await;
    {
        let l = c.log();
        let shown: Vec<_> = l
            .heads(0)
            .into_iter()
            .filter(|h| followed.contains(&h.number))
            .collect();
        assert!(
            shown
                .iter()
                .all(|h| h.tx_count.is_none() && h.source == HeadSource::Ws),
            "pushed without a tx list, shown before HTTP could say: {shown:?}"
        );
    }
    // The hung requests time out (10 s): the pane says HTTP is failing.
    let failing = c
        .wait("http failing", T, |l| {
            let h = &l.state.networks[0].http;
            matches!(h, HttpHealth::Failing { .. }).then(|| h.clone())
        })
        .await;
    assert!(
        failing
            .reason()
            .is_some_and(|r| r.contains("timed out after 10s")),
        "{failing:?}"
    );
    // After the hang, the counts of the heads shown meanwhile are filled in.
    tokio::time::sleep(hang.saturating_sub(hung_at.elapsed())).await;
    let last = *followed.last().unwrap_or(&0);
    c.wait("the last head's tx count filled in", T, |l| {
        l.state.networks[0]
            .heads
            .iter()
            .any(|r| r.head.number == last && r.head.tx_count.is_some())
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_exceeded_and_5xx_are_shown_and_counted() {
    let d = devnet("sim", 7303, 200, 33).await;
    let mut c = Client::start(&config(vec![network(&d, 1)]));
    c.more_heads(0, 3, T).await;
    d.handle().inject(Fault::LimitExceeded {
        backoff_secs: 3,
        requests: 10,
    });
    let backing = c
        .wait("backing off shown", T, |l| {
            let h = &l.state.networks[0].http;
            matches!(h, HttpHealth::BackingOff { .. }).then(|| h.clone())
        })
        .await;
    assert!(
        backing.reason().is_some_and(|r| r.contains("-32005")),
        "{backing:?}"
    );
    let errors = c.log().stats(0).errors;
    assert!(errors > 0, "counted");
    c.wait("ok again", T, |l| {
        (l.state.networks[0].http == HttpHealth::Ok).then_some(())
    })
    .await;
    d.handle().inject(Fault::HttpStatus {
        status: 502,
        requests: 3,
    });
    let failing = c
        .wait("502 shown", T, |l| match &l.state.networks[0].http {
            HttpHealth::Failing { reason, in_a_row } if reason.contains("502") => Some(*in_a_row),
            _ => None,
        })
        .await;
    assert!(failing >= 1);
    c.wait("ok after the 502s", T, |l| {
        (l.state.networks[0].http == HttpHealth::Ok).then_some(())
    })
    .await;
    {
        let l = c.log();
        assert!(l.stats(0).errors >= errors + 3, "each 502 is an error");
        assert!(
            l.stats(0).last_error_at.is_some(),
            "the last error has a time"
        );
    }
    let states = http_states(&c);
    assert!(
        states
            .iter()
            .any(|h| matches!(h, HttpHealth::BackingOff { .. }))
            && states
                .iter()
                .any(|h| matches!(h, HttpHealth::Failing { .. })),
        "{states:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_that_stalls_twice_settles_into_polling() {
    let d = devnet("sim", 7304, 250, 34).await;
    let mut c = Client::start(&config(vec![network(&d, 1)]));
    c.more_heads(0, 10, T).await;
    d.handle().inject(Fault::StopHeads(Duration::from_secs(25)));
    let polling_at = c
        .wait("polling after the second stall", T, |l| {
            l.position(|u| {
                matches!(u, Update::Connection { state: ConnState::Polling { reason, .. }, .. } if reason.contains("stalled"))
            })
        })
        .await;
    // Heads keep coming, polled, every one of them.
    let before = c.log().heads(0).len();
    c.more_heads(0, 8, T).await;
    {
        let l = c.log();
        let polled = l.heads(0)[before..]
            .iter()
            .filter(|h| h.source == HeadSource::Poll)
            .count();
        assert!(polled >= 4, "polled heads: {polled}");
        let stalled = l.updates[..polling_at]
            .iter()
            .filter(|(_, u)| {
                matches!(
                    u,
                    Update::Connection {
                        state: ConnState::Stalled { .. },
                        ..
                    }
                )
            })
            .count();
        assert_eq!(stalled, 1, "one stall, then the second settles it");
        // Numbers are spelled as the panes spell them.
        let reason = l
            .states(0)
            .into_iter()
            .find_map(|s| match s {
                ConnState::Stalled { reason } => Some(reason),
                _ => None,
            })
            .unwrap_or_default();
        let at = reason
            .split("node is at ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_default();
        let n: u64 = at.replace(',', "").parse().unwrap_or(0);
        assert!(n >= 1_000 && at == chaintop::fmt::thousands(n), "{reason}");
        assert_eq!(
            l.reconnects(0),
            0,
            "the connection is kept for the other streams"
        );
    }
    let m = d.head();
    c.matches_canonical(0, &d, m, T).await;
    // Once the node pushes again, the resubscription picks it up: live.
    c.wait("live again", Duration::from_secs(60), |l| {
        l.updates[polling_at..]
            .iter()
            .any(|(_, u)| matches!(u, Update::Connection { state, .. } if is_live(state)))
            .then_some(())
    })
    .await;
    let before = c.log().heads(0).len();
    c.more_heads(0, 3, T).await;
    assert!(
        c.log().heads(0)[before..]
            .iter()
            .any(|h| h.source == HeadSource::Ws),
        "pushed again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_is_back_is_reconnected_at_once() {
    let d = devnet("sim", 7305, 250, 35).await;
    let mut c = Client::start(&config(vec![network(&d, 1)]));
    c.more_heads(0, 3, T).await;
    // Long enough for the backoff to reach its cap (attempts at 1, 2, 4, 8, 16 s).
    let down = Duration::from_secs(24);
    d.handle().inject(Fault::Down(down));
    let back = Instant::now() + down;
    c.wait("down", T, |l| l.dropped(0)).await;
    tokio::time::sleep_until(back.into()).await;
    c.wait("live again", Duration::from_secs(40), |l| {
        (l.reconnects(0) >= 1).then_some(())
    })
    .await;
    let after = back.elapsed();
    eprintln!("live {after:?} after the node came back");
    // The HTTP probe runs every 2 s; the backoff alone could wait up to 30 s more.
    assert!(
        after < Duration::from_secs(8),
        "reconnected {after:?} after the node was back"
    );
    let states = c.log().states(0);
    let attempts = states
        .iter()
        .filter_map(|s| match s {
            ConnState::BackingOff { attempt, .. } => Some(*attempt),
            _ => None,
        })
        .max();
    eprintln!("attempts while down: {attempts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invented_head_is_taken_back_as_a_bad_frame_not_a_reorg() {
    let d = devnet("sim", 7306, 1500, 36).await;
    // Watched addresses: their refresh "at" an invented head must not fail by the
    // dozen (the HTTP node does not know that block).
    let mut cfg = config(vec![network(&d, 1)]);
    cfg.watch = chaintop::devnet::demo_watch()
        .into_iter()
        .map(|(address, label)| chaintop::config::WatchConfig {
            address,
            label: label.into(),
            networks: None,
        })
        .collect();
    let mut c = Client::start(&cfg);
    c.more_heads(0, 2, T).await;
    for i in 1..=3 {
        c.more_heads(0, 1, T).await;
        d.handle().inject(Fault::InventHead);
        c.wait(&format!("invented head {i} taken back"), T, |l| {
            (l.state.networks[0].retracted >= i).then_some(())
        })
        .await;
    }
    let m = d.head();
    c.matches_canonical(0, &d, m + 1, T).await;
    let l = c.log();
    assert_eq!(l.reorgs(0).len(), 0, "{:?}", l.reorgs(0));
    let stats = l.stats(0);
    assert!(stats.bad_frames >= 3, "{stats:?}");
    assert!(
        stats.errors <= stats.bad_frames + 3,
        "one error per invented head, not one per refreshed balance: {stats:?}"
    );
    let retracted = l
        .for_net(0)
        .filter(|(_, u)| matches!(u, Update::HeadRetracted { .. }))
        .count();
    assert_eq!(retracted, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_on_a_fresh_chain_is_a_chain_reset() {
    let d = devnet("sim", 7307, 200, 37).await;
    let mut c = Client::start(&config(vec![network(&d, 1)]));
    c.more_heads(0, 20, T).await;
    d.handle().inject(Fault::NewChain);
    c.wait("chain reset", T, |l| {
        l.for_net(0)
            .any(|(_, u)| matches!(u, Update::ChainReset { .. }))
            .then_some(())
    })
    .await;
    let m = d.head();
    c.matches_canonical(0, &d, m + 2, T).await;
    let l = c.log();
    assert!(l.reorgs(0).is_empty(), "not a reorg: {:?}", l.reorgs(0));
    assert_eq!(l.state.networks[0].chain_resets, 1);
}

/// A reorg during an outage, deeper than the old 64-block walk and then deeper than
/// everything tracked: found, reported with its depth (or as deeper than tracked),
/// and the chain resynchronised.
async fn reorg_while_down(depth: u64, deeper_than_tracked: bool) {
    let d = devnet("sim", 7308, 20, 38).await;
    let mut c = Client::start(&config(vec![network(&d, 1)]));
    // More blocks than are tracked, and than the deepest reorg below.
    c.more_heads(0, TRACKED + 60, Duration::from_secs(90)).await;
    c.caught_up(0, &d, T).await;
    d.handle().inject(Fault::Down(Duration::from_secs(2)));
    c.wait("down", T, |l| l.dropped(0)).await;
    d.handle().inject(Fault::Reorg { depth });
    c.wait("reconnected", T, |l| (l.reconnects(0) >= 1).then_some(()))
        .await;
    let r = c
        .wait("the reorg reported", T, |l| l.reorgs(0).first().cloned())
        .await;
    assert_eq!(r.deeper_than_tracked, deeper_than_tracked, "{r:?}");
    if deeper_than_tracked {
        // Everything tracked was orphaned; older heads are beyond what is kept.
        assert_eq!(r.orphaned.len(), TRACKED, "{r:?}");
    } else {
        assert_eq!(r.depth, depth, "{r:?}");
        assert_eq!(r.orphaned.len() as u64, depth);
    }
    // From the first number it replaced, what is shown is the node's chain.
    let m = d.head();
    let canonical = d.canonical_chain();
    c.wait("the node's chain shown from the reorg up", T, |l| {
        let bad = l.mismatches(0, &canonical).ok()?;
        (l.tip(0)? >= m && bad.iter().all(|n| *n < r.from_number)).then_some(())
    })
    .await;
    assert_eq!(c.log().reorgs(0).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_deep_reorg_during_an_outage_is_walked_back_exactly() {
    reorg_while_down(100, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorg_deeper_than_tracked_during_an_outage_resynchronises() {
    reorg_while_down(TRACKED as u64 + 40, true).await;
}

/// Frames tungstenite cannot read past: counted, explained, reconnected and
/// backfilled; the other network notices nothing.
async fn unreadable_frame(kind: Malformed, says: &str) {
    let a = devnet("a", 7310, 100, 40).await;
    let b = devnet("b", 7311, 100, 41).await;
    let mut c = Client::start(&config(vec![network(&a, 1), network(&b, 1)]));
    c.more_heads(0, 3, T).await;
    c.more_heads(1, 3, T).await;
    a.handle().inject(Fault::Malformed(kind));
    let why = c
        .wait("the bad frame ends the connection", T, |l| {
            l.states(0).into_iter().find_map(|s| match s {
                ConnState::BackingOff { reason, .. } if reason.contains("bad frame") => {
                    Some(reason)
                }
                _ => None,
            })
        })
        .await;
    assert!(why.contains(says), "{why}");
    c.wait("reconnected", T, |l| (l.reconnects(0) >= 1).then_some(()))
        .await;
    let m = a.head();
    c.matches_canonical(0, &a, m, T).await;
    let l = c.log();
    assert_eq!(l.stats(0).bad_frames, 1, "{:?}", l.stats(0));
    assert_eq!((l.reconnects(1), l.stats(1).bad_frames), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_40_mib_frame_is_a_bad_frame_and_a_reconnect() {
    unreadable_frame(Malformed::Huge, "too long").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_frame_that_is_not_utf8_is_a_bad_frame_and_a_reconnect() {
    unreadable_frame(Malformed::BadUtf8, "UTF-8").await;
}

/// A half-open socket on a busy chain is caught by the watchdog before the heartbeat:
/// not even the new subscription is answered, so it is a dead connection (reconnect),
/// not a stalled subscription (polling).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_open_socket_is_reconnected_not_settled_into_polling() {
    let d = devnet("sim", 7312, 250, 42).await;
    // The default heartbeat: 15 s, so a ping alone would take 30 s to tell.
    let mut c = Client::start(&config(vec![network(&d, 15)]));
    c.more_heads(0, 10, T).await;
    d.handle().inject(Fault::HalfOpen(Duration::from_secs(120)));
    let why = c
        .wait("the dead connection ended", T, |l| {
            l.states(0).into_iter().find_map(|s| match s {
                ConnState::BackingOff { reason, .. } => Some(reason),
                _ => None,
            })
        })
        .await;
    assert!(why.contains("no answer to eth_subscribe"), "{why}");
    c.wait("reconnected", T, |l| (l.reconnects(0) >= 1).then_some(()))
        .await;
    let m = d.head();
    c.matches_canonical(0, &d, m, T).await;
    let polled = c
        .log()
        .states(0)
        .into_iter()
        .any(|s| matches!(s, ConnState::Polling { .. }));
    assert!(!polled, "a dead socket is not a stalled subscription");
}
