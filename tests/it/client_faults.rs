//! Every devnet fault driven through the real client (`backend::start`), asserting
//! what the user would see: heads shown once, in order and linked; reorgs reported;
//! errors counted; connection states that tell the truth.
//!
//! Each test runs its own devnet(s) on ephemeral ports, so they run in parallel.

use crate::client_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chaintop::config::NetworkConfig;
use chaintop::devnet::{Devnet, Fault, Malformed};
use chaintop::event::{ConnState, HeadSource, SubKind, SubStatus, Update};
use chaintop::rpc::http::HttpClient;
use chaintop::text::Redactor;

use client_support::{Client, CounterTimes, config, devnet, is_live, network};

/// Generous: the test machine is small and shared.
const T: Duration = Duration::from_secs(30);

/// Waits until the devnet has produced `blocks` more blocks (a window measured in
/// heads, not in wall-clock sleeps).
async fn blocks_pass(d: &Devnet, blocks: u64) {
    let target = d.head() + blocks;
    let deadline = tokio::time::Instant::now() + T;
    while d.head() < target {
        assert!(
            tokio::time::Instant::now() < deadline,
            "devnet stopped producing blocks"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Close or reset at head N while the chain moves on: reconnect, then N+1..M are
/// backfilled, every head shown once and linked.
async fn disconnect_and_backfill(fault: Fault, reason: &str) {
    let d = devnet("sim", 7001, 50, 1).await;
    let mut c = Client::start(&config(vec![network(&d, 1)]));
    c.more_heads(0, 5, T).await;
    d.handle().inject(fault);
    let (down_at, n) = c
        .wait("the connection to drop", T, |l| {
            let i = l.dropped(0)?;
            let n = l.updates[..i].iter().rev().find_map(|(_, u)| match u {
                Update::Head { head, .. } => Some(head.number),
                _ => None,
            })?;
            Some((i, n))
        })
        .await;
    c.wait("reconnected", T, |l| (l.reconnects(0) >= 1).then_some(()))
        .await;
    let m = d.head();
    c.matches_canonical(0, &d, m + 2, T).await;

    let l = c.log();
    let states = l.states(0);
    assert!(
        states
            .iter()
            .any(|s| matches!(s, ConnState::BackingOff { reason: r, .. } if r.contains(reason))),
        "the drop is explained ({reason}): {states:?}"
    );
    let after: Vec<_> = l.updates[down_at..]
        .iter()
        .filter_map(|(_, u)| match u {
            Update::Head { head, .. } if head.number > n => Some(head.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(after.first().map(|h| h.number), Some(n + 1));
    assert_eq!(
        after[0].source,
        HeadSource::Backfill,
        "head {} was produced while disconnected, so it is backfilled",
        n + 1
    );
    let filled = after
        .iter()
        .take_while(|h| h.source == HeadSource::Backfill)
        .count();
    assert!(
        filled >= 1 && after.len() > filled,
        "backfill then live heads"
    );
    assert!(
        l.stats(0).errors >= 1,
        "the disconnect is counted as an error"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_1000_reconnects_and_backfills_the_gap() {
    disconnect_and_backfill(Fault::Close, "code 1000").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_reset_reconnects_and_backfills_the_gap() {
    disconnect_and_backfill(Fault::Reset, "connection").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_is_detected_by_missing_pong_and_recovered() {
    let d = devnet("sim", 7002, 100, 2).await;
    let mut c = Client::start(&config(vec![network(&d, 1)]));
    c.more_heads(0, 3, T).await;
    let injected = Instant::now();
    // Longer than the test: only a new connection can bring heads back.
    d.handle().inject(Fault::HalfOpen(Duration::from_secs(120)));
    let detected = c
        .wait("half-open detected", T, |l| {
            l.for_net(0).find_map(|(at, u)| match u {
                Update::Connection {
                    state: ConnState::BackingOff { reason, .. },
                    ..
                } if reason.contains("no pong") => Some(*at),
                _ => None,
            })
        })
        .await;
    eprintln!(
        "half-open detected after {:?} (ping interval 1 s)",
        detected - injected
    );
    c.wait("reconnected", T, |l| (l.reconnects(0) >= 1).then_some(()))
        .await;
    let m = d.head();
    c.matches_canonical(0, &d, m + 3, T).await;
    assert!(matches!(
        c.log().state.networks[0].conn,
        ConnState::Live { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heads_stopping_while_pongs_continue_is_marked_stalled_and_healed() {
    let d = devnet("sim", 7003, 100, 3).await;
    let mut c = Client::start(&config(vec![network(&d, 1)]));
    c.more_heads(0, 10, T).await;
    d.handle().inject(Fault::StopHeads(Duration::from_secs(8)));
    let stalled_at = c
        .wait("stalled", T, |l| {
            l.position(|u| {
                matches!(
                    u,
                    Update::Connection {
                        state: ConnState::Stalled { .. },
                        ..
                    }
                )
            })
        })
        .await;
    // Live again once heads flow (after the resubscription or a reconnect).
    c.wait("live after the stall", T, |l| {
        l.updates[stalled_at..]
            .iter()
            .any(|(_, u)| {
                matches!(
                    u,
                    Update::Connection {
                        state: ConnState::Live { .. },
                        ..
                    }
                )
            })
            .then_some(())
    })
    .await;
    let m = d.head();
    c.matches_canonical(0, &d, m + 3, T).await;
    let l = c.log();
    let ws_after = l.updates[stalled_at..]
        .iter()
        .filter(|(_, u)| matches!(u, Update::Head { head, .. } if head.source == HeadSource::Ws))
        .count();
    assert!(ws_after > 0, "the WebSocket delivers heads again");
    let reason = l.states(0).iter().find_map(|s| match s {
        ConnState::Stalled { reason } => Some(reason.clone()),
        _ => None,
    });
    assert!(
        reason.as_deref().is_some_and(|r| r.contains("no head")),
        "{reason:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn depth_2_reorg_announced_as_new_tip_is_walked_back() {
    // Slow blocks, so the client holds the devnet's tip when the reorg happens.
    let d = devnet("sim", 7004, 300, 4).await;
    let mut c = Client::start(&config(vec![network(&d, 1)]));
    // The devnet can only replace blocks it produced: have a few.
    c.more_heads(0, 5, T).await;
    let (old_tip, old_hash) = loop {
        c.caught_up(0, &d, T).await;
        let tip = c.log().heads(0).last().map(|h| (h.number, h.hash));
        if let Some((n, h)) = tip
            && d.head() == n
        {
            d.handle().inject(Fault::Reorg { depth: 2 });
            break (n, h);
        }
    };
    let reorg = c
        .wait("reorg reported", T, |l| l.reorgs(0).first().cloned())
        .await;
    assert_eq!(reorg.depth, 2, "{reorg:?}");
    assert_eq!(reorg.from_number, old_tip - 1);
    assert_eq!(reorg.old_hash, old_hash);
    let m = d.head();
    c.matches_canonical(0, &d, m, T).await;
    let l = c.log();
    let net = &l.state.networks[0];
    assert_eq!((net.reorgs, net.deepest_reorg), (1, 2));
    // The replacement heads are marked as such in the heads list.
    let marked: Vec<u64> = net
        .heads
        .iter()
        .filter(|r| r.reorged)
        .map(|r| r.head.number)
        .collect();
    assert!(
        marked.contains(&(old_tip - 1)) && marked.contains(&old_tip),
        "{marked:?}"
    );
}

/// One malformed frame on network 0: counted as a bad frame, the connection stays
/// up, heads and pending hashes keep coming, and network 1 notices nothing.
async fn malformed(kind: Malformed, error_says: &str) {
    let a = devnet("a", 7010, 100, 10).await;
    let b = devnet("b", 7011, 100, 11).await;
    let mut c = Client::start(&config(vec![network(&a, 1), network(&b, 1)]));
    c.more_heads(0, 3, T).await;
    c.more_heads(1, 3, T).await;
    let (pending_before, states_before) = {
        let l = c.log();
        (
            l.state.networks[0].pending_total,
            (l.states(0).len(), l.states(1).len()),
        )
    };
    a.handle().inject(Fault::Malformed(kind));
    let err = c
        .wait("the bad frame counted", T, |l| {
            let s = l.stats(0);
            (s.bad_frames >= 1).then(|| s.last_error.unwrap_or_default())
        })
        .await;
    assert!(err.contains(error_says), "last error: {err}");
    c.more_heads(0, 5, T).await;
    c.more_heads(1, 5, T).await;
    c.wait("pending hashes still counted", T, |l| {
        (l.state.networks[0].pending_total > pending_before).then_some(())
    })
    .await;
    c.matches_canonical(0, &a, 0, T).await;
    c.matches_canonical(1, &b, 0, T).await;
    let l = c.log();
    assert_eq!(
        (l.states(0).len(), l.states(1).len()),
        states_before,
        "no connection state changed: {:?}",
        l.states(0)
    );
    assert_eq!((l.reconnects(0), l.reconnects(1)), (0, 0));
    assert_eq!(a.handle().ws_connections(), 1);
    assert_eq!(l.stats(1).bad_frames, 0);
    assert_eq!(l.stats(0).bad_frames, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_invalid_json_is_counted_and_skipped() {
    malformed(Malformed::InvalidJson, "invalid JSON-RPC frame").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_binary_frame_is_counted_and_skipped() {
    malformed(Malformed::Binary, "binary frame").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_error_without_id_is_counted_and_skipped() {
    malformed(Malformed::NoIdError, "without a request id").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_frame_is_rejected_and_counted() {
    malformed(Malformed::Oversize, "exceeds the 16,777,216-byte limit").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_nested_frame_is_rejected_and_counted() {
    malformed(Malformed::Deep, "nested deeper").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_digit_hex_quantity_is_rejected_and_counted() {
    malformed(Malformed::BigHex, "newHeads").await;
}

/// A network that only has HTTP: every head comes from polling, one call at a time,
/// so the devnet's request counter shows exactly when the client retried.
fn poll_only(d: &Devnet) -> NetworkConfig {
    let mut n = NetworkConfig::new(d.name(), None, Some(d.http_url()));
    n.chain_id = Some(d.chain_id());
    n
}

/// Injects a rate-limit fault that answers `limited` requests with a `hint`-second
/// hint, and checks the client's next requests are at least `hint` apart.
async fn waits_for_the_hint(fault: Fault, hint: Duration, limited: usize) {
    let d = devnet("sim", 7020, 200, 20).await;
    let mut c = Client::start(&config(vec![poll_only(&d)]));
    c.more_heads(0, 3, T).await;
    let h = d.handle();
    let times = CounterTimes::start({
        let h = h.clone();
        move || h.http_requests()
    });
    let injected = Instant::now();
    h.inject(fault);
    // The limited requests and the first one let through.
    let deadline = tokio::time::Instant::now() + T;
    let seen: Vec<Instant> = loop {
        let seen: Vec<Instant> = times
            .changes()
            .await
            .into_iter()
            .map(|(t, _)| t)
            .filter(|t| *t > injected)
            .collect();
        if seen.len() > limited {
            break seen;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "requests after the fault: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // Polling goes on once the limit is lifted.
    c.more_heads(0, 3, T).await;
    let m = d.head();
    c.matches_canonical(0, &d, m.saturating_sub(2), T).await;
    // The sampler sees a request up to about a millisecond late (more on a busy
    // machine): allow for it.
    let slack = Duration::from_millis(50);
    for w in seen[..=limited].windows(2) {
        assert!(
            w[1] - w[0] + slack >= hint,
            "a request followed a rate-limited one after {:?} (hint {hint:?})",
            w[1] - w[0]
        );
    }
    let l = c.log();
    assert!(
        l.heads(0).iter().all(|h| h.source == HeadSource::Poll),
        "HTTP-only network: polled heads"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_429_waits_at_least_retry_after() {
    waits_for_the_hint(
        Fault::RateLimit {
            retry_after_secs: 2,
            requests: 2,
        },
        Duration::from_secs(2),
        2,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_32005_waits_at_least_backoff_seconds() {
    waits_for_the_hint(
        Fault::LimitExceeded {
            backoff_secs: 2,
            requests: 2,
        },
        Duration::from_secs(2),
        2,
    )
    .await;
}

/// Providers count batch entries singly: a backfill batch can come back with some
/// entries refused by the rate limit. Those are sent again after the hint, not
/// reported as missing blocks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_batch_entries_are_retried_after_the_hint() {
    let d = devnet("sim", 7022, 1000, 22).await;
    let h = d.handle();
    let http = match HttpClient::new(&d.http_url(), Arc::new(Redactor::new([])), 1 << 20) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    let times = CounterTimes::start({
        let h = h.clone();
        move || h.http_requests()
    });
    h.inject(Fault::LimitExceeded {
        backoff_secs: 1,
        requests: 3,
    });
    let calls: Vec<(&str, serde_json::Value)> = (0..5)
        .map(|_| ("eth_chainId", serde_json::json!([])))
        .collect();
    let results = match http.batch(&calls).await {
        Ok(r) => r,
        Err(e) => panic!("batch failed: {e}"),
    };
    let errors: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let seen = times.changes().await;
    assert_eq!(seen.len(), 2, "one retry for the refused entries");
    assert!(
        seen[1].0 - seen[0].0 + Duration::from_millis(50) >= Duration::from_secs(1),
        "retried after {:?}",
        seen[1].0 - seen[0].0
    );
    assert_eq!(h.calls("eth_chainId"), 5 + 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_pending_subscription_is_unsupported_without_reconnect_loop() {
    let d = devnet("sim", 7030, 100, 30).await;
    d.handle()
        .inject(Fault::Refuse("newPendingTransactions".into()));
    let mut c = Client::start(&config(vec![network(&d, 1)]));
    let status = c
        .wait("pending subscription answered", T, |l| {
            l.sub_status(0, SubKind::NewPendingTransactions)
        })
        .await;
    assert!(
        matches!(&status, SubStatus::Unsupported(m) if m.contains("-32601")),
        "{status:?}"
    );
    assert_eq!(
        c.log().sub_status(0, SubKind::NewHeads),
        Some(SubStatus::Active)
    );
    // Over a window of 20 heads the one connection stays, and nothing reconnects.
    let mut conns = Vec::new();
    for _ in 0..20 {
        c.more_heads(0, 1, T).await;
        conns.push(d.handle().ws_connections());
    }
    assert!(conns.iter().all(|n| *n == 1), "{conns:?}");
    let l = c.log();
    assert_eq!(l.reconnects(0), 0);
    assert!(
        l.states(0)
            .iter()
            .all(|s| matches!(s, ConnState::Connecting { .. } | ConnState::Live { .. }))
    );
    assert!(is_live(&l.state.networks[0].conn));
    assert_eq!(l.state.networks[0].pending_total, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_id_changed_after_reconnect_is_refused() {
    let d = devnet("sim", 7040, 100, 40).await;
    let mut c = Client::start(&config(vec![network(&d, 1)]));
    c.more_heads(0, 3, T).await;
    d.handle().inject(Fault::ChainId(999));
    let failed = c
        .wait("failed", T, |l| {
            l.position(|u| {
                matches!(
                    u,
                    Update::Connection {
                        state: ConnState::Failed { .. },
                        ..
                    }
                )
            })
        })
        .await;
    // A window of 20 blocks on the wrong chain: none of them may be shown.
    blocks_pass(&d, 20).await;
    let l = c.log();
    match &l.state.networks[0].conn {
        ConnState::Failed { reason, .. } => {
            assert!(reason.contains("chain id mismatch"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    let late: Vec<_> = l.updates[failed..]
        .iter()
        .filter(|(_, u)| matches!(u, Update::Head { .. }))
        .collect();
    assert!(late.is_empty(), "heads after the refusal: {late:?}");
}

/// Down for `secs`: the client reconnects (or polls) when the node is back and fills
/// every missed head, over HTTP in batches of at most 50.
async fn down_and_back(secs: u64, block_ms: u64) {
    let d = devnet("sim", 7050, block_ms, 50).await;
    let mut c = Client::start(&config(vec![network(&d, 1)]));
    c.more_heads(0, 5, T).await;
    let h = d.handle();
    let (blocks0, requests0) = (h.calls("eth_getBlockByNumber"), h.http_requests());
    let before = d.head();
    h.inject(Fault::Down(Duration::from_secs(secs)));
    c.wait("the outage noticed", T, |l| {
        (!is_live(&l.state.networks[0].conn)).then_some(())
    })
    .await;
    let back = Duration::from_secs(secs) + T;
    c.wait("live again", back, |l| {
        (l.reconnects(0) >= 1 && is_live(&l.state.networks[0].conn)).then_some(())
    })
    .await;
    let m = d.head();
    assert!(
        m > before + 60,
        "the chain advanced during the outage ({before}..{m})"
    );
    c.matches_canonical(0, &d, m, T).await;
    let (blocks, requests) = (
        h.calls("eth_getBlockByNumber") - blocks0,
        h.http_requests() - requests0,
    );
    let l = c.log();
    let filled = l
        .sources_after(0, before)
        .iter()
        .filter(|s| matches!(s, HeadSource::Backfill | HeadSource::Poll))
        .count() as u64;
    eprintln!(
        "down {secs}s: {filled} heads filled over HTTP with {blocks} eth_getBlockByNumber in {requests} requests"
    );
    assert!(filled > 50, "most of the outage came over HTTP: {filled}");
    assert!(
        blocks >= filled,
        "{blocks} blocks fetched for {filled} heads"
    );
    assert!(
        blocks <= 50 * requests,
        "{blocks} eth_getBlockByNumber in {requests} HTTP requests: more than 50 per batch"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_5s_recovers_and_backfills_in_chunks() {
    down_and_back(5, 50).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "takes over a minute; run by hand"]
async fn down_60s_recovers_and_backfills_in_chunks() {
    // Slower blocks: the devnet keeps only its last 1024 blocks, and what it no
    // longer has cannot be backfilled (the client then reports the gap).
    down_and_back(60, 100).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_on_one_network_leaves_the_other_live() {
    let a = devnet("a", 7060, 100, 60).await;
    let b = devnet("b", 7061, 100, 61).await;
    let mut c = Client::start(&config(vec![network(&a, 1), network(&b, 1)]));
    c.more_heads(0, 3, T).await;
    c.more_heads(1, 3, T).await;
    let b_states = c.log().states(1).len();
    a.handle().inject(Fault::Down(Duration::from_secs(3)));
    let down_at = c.wait("network 0 down", T, |l| l.dropped(0)).await;
    // Network 1 keeps streaming while network 0 is away.
    c.wait("network 1 heads during the outage", T, |l| {
        let back = l.updates[down_at..]
            .iter()
            .position(|(_, u)| matches!(u, Update::Connection { net: 0, state } if is_live(state)))
            .map_or(l.updates.len(), |i| down_at + i);
        let during = l.updates[down_at..back]
            .iter()
            .filter(|(_, u)| matches!(u, Update::Head { net: 1, .. }))
            .count();
        (during >= 5).then_some(())
    })
    .await;
    c.wait("network 0 back", T, |l| {
        (l.reconnects(0) >= 1).then_some(())
    })
    .await;
    let (ma, mb) = (a.head(), b.head());
    c.matches_canonical(0, &a, ma, T).await;
    c.matches_canonical(1, &b, mb, T).await;
    let l = c.log();
    assert_eq!(l.states(1).len(), b_states, "{:?}", l.states(1));
    assert_eq!(l.reconnects(1), 0);
    assert_eq!(l.stats(1).errors, 0);
}

// ---------------------------------------------------------------------------------
// Measurements for docs/recovery.md (ignored: they take a while and only print).
// cargo test --test it client_faults::measure_ -- --ignored --nocapture
// ---------------------------------------------------------------------------------

/// Half-open detection with the default 15 s ping interval. The stall starts at
/// three points of the ping cycle (5 s apart), one devnet each. With `block_ms`
/// small the stall watchdog (HTTP shows the chain moving on) may act first; with a
/// quiet chain only the heartbeat can notice.
async fn measure_half_open(block_ms: u64, label: &str) {
    let mut nets = Vec::new();
    for i in 0..3u64 {
        nets.push(devnet(&format!("n{i}"), 7100 + i, block_ms, 100 + i).await);
    }
    let cfgs = nets
        .iter()
        .map(|d| network(d, chaintop::config::DEFAULT_PING_INTERVAL_SECS))
        .collect();
    let mut c = Client::start(&config(cfgs));
    for i in 0..3 {
        c.wait("a head", T, |l| l.tip(i)).await;
    }
    let mut injected = Vec::new();
    for (i, d) in nets.iter().enumerate() {
        if i > 0 {
            // A measurement, not a wait for a condition: spread the starts.
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        injected.push((c.log().updates.len(), Instant::now()));
        d.handle().inject(Fault::HalfOpen(Duration::from_secs(120)));
    }
    for (i, (from, at)) in injected.iter().enumerate() {
        let (t, reason) = c
            .wait("half-open detected", Duration::from_secs(60), |l| {
                l.updates[*from..].iter().find_map(|(t, u)| match u {
                    Update::Connection { net, state } if *net == i && !is_live(state) => {
                        Some((*t, state.reason().unwrap_or_default().to_string()))
                    }
                    _ => None,
                })
            })
            .await;
        eprintln!(
            "MEASURE half-open detection ({label}), ping 15 s, network {i}: {:.1} s ({reason})",
            (t - *at).as_secs_f64()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement: about 45 s"]
async fn measure_half_open_detection_quiet_chain() {
    measure_half_open(3_600_000, "quiet chain: heartbeat only").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement: about 45 s"]
async fn measure_half_open_detection_busy_chain() {
    measure_half_open(500, "500 ms blocks: watchdog or heartbeat").await;
}

/// Backfill of about 100 missed heads: the devnet is down while 100 blocks are
/// produced (50 ms blocks, 5 s), then back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement: about 15 s"]
async fn measure_backfill_of_100_missed_heads() {
    let d = devnet("sim", 7110, 50, 110).await;
    let mut c = Client::start(&config(vec![network(&d, 1)]));
    c.more_heads(0, 5, T).await;
    let h = d.handle();
    let requests0 = h.http_requests();
    let tip = c.log().tip(0).unwrap_or(0);
    let injected = Instant::now();
    h.inject(Fault::Down(Duration::from_secs(5)));
    let back = injected + Duration::from_secs(5);
    let live_at = c
        .wait("live again", Duration::from_secs(60), |l| {
            (l.reconnects(0) >= 1).then(|| {
                l.for_net(0)
                    .filter(|(_, u)| matches!(u, Update::Reconnected { .. }))
                    .map(|(t, _)| *t)
                    .next()
            })?
        })
        .await;
    let target = d.head();
    let done = c
        .wait("caught up", T, |l| {
            l.for_net(0).find_map(|(t, u)| match u {
                Update::Head { head, .. } if head.number >= target => Some(*t),
                _ => None,
            })
        })
        .await;
    c.matches_canonical(0, &d, target, T).await;
    let filled = c
        .log()
        .heads(0)
        .iter()
        .filter(|x| x.number > tip && x.number <= target && x.source != HeadSource::Ws)
        .count();
    eprintln!(
        "MEASURE backfill: {} heads missed, {filled} filled over HTTP in {} requests; \
         reconnected {:.2} s after the node was back, caught up {:.3} s after reconnecting \
         ({:.2} s after the node was back)",
        target - tip,
        h.http_requests() - requests0,
        live_at.saturating_duration_since(back).as_secs_f64(),
        (done - live_at).as_secs_f64(),
        done.saturating_duration_since(back).as_secs_f64(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_handshake_backs_off_and_never_says_unsupported() {
    let d = devnet("sim", 7090, 100, 90).await;
    let mut c = Client::start(&config(vec![network(&d, 1)]));
    c.more_heads(0, 3, T).await;
    // The next four JSON-RPC calls are refused with -32005 and a 1 s hint; the close
    // makes the handshake of the reconnect meet them.
    d.handle().inject(Fault::LimitExceeded {
        backoff_secs: 1,
        requests: 4,
    });
    d.handle().inject(Fault::Close);
    c.wait("live again after the rate limit", T, |l| {
        (l.reconnects(0) >= 1 && is_live(&l.state.networks[0].conn)).then_some(())
    })
    .await;
    let l = c.log();
    let unsupported = l.for_net(0).any(|(_, u)| {
        matches!(
            u,
            Update::Subscription {
                status: SubStatus::Unsupported(_),
                ..
            }
        )
    });
    assert!(
        !unsupported,
        "a rate limit is not an unsupported stream:\n{}",
        l.tail(30)
    );
    let limited: Vec<Instant> = l
        .for_net(0)
        .filter(|(_, u)| {
            matches!(u, Update::Connection { state: ConnState::BackingOff { reason, .. }, .. } if reason.contains("rate limited"))
        })
        .map(|(t, _)| *t)
        .collect();
    assert!(
        !limited.is_empty(),
        "the rate limit is shown as the reason:\n{}",
        l.tail(30)
    );
    // After each rate-limited attempt the next one waits at least the hint.
    let connects: Vec<Instant> = l
        .for_net(0)
        .filter(|(_, u)| {
            matches!(
                u,
                Update::Connection {
                    state: ConnState::Connecting { .. },
                    ..
                }
            )
        })
        .map(|(t, _)| *t)
        .collect();
    for t in &limited {
        if let Some(next) = connects.iter().find(|c| *c > t) {
            assert!(
                next.duration_since(*t) >= Duration::from_millis(950),
                "retried after {:?}",
                next.duration_since(*t)
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_to_the_fallback_endpoint_and_back_to_the_primary() {
    let primary = devnet("primary", 7100, 200, 100).await;
    let fallback = devnet("fallback", 7100, 200, 101).await;
    let mut net = network(&primary, 1);
    net.fallbacks = vec![chaintop::config::Endpoint {
        ws: Some(fallback.ws_url()),
        http: Some(fallback.http_url()),
        provider: None,
    }];
    let mut c = Client::start(&config(vec![net]));
    let live_on = |l: &client_support::Log, url: &str| matches!(&l.state.networks[0].conn, ConnState::Live { endpoint } if endpoint == url);
    c.wait("live on the primary", T, |l| {
        live_on(l, &primary.ws_url()).then_some(())
    })
    .await;
    c.more_heads(0, 2, T).await;

    // The primary goes away: after repeated failures the fallback takes over, and
    // heads keep coming from it.
    primary
        .handle()
        .inject(Fault::Down(Duration::from_secs(20)));
    c.wait("live on the fallback", Duration::from_secs(30), |l| {
        live_on(l, &fallback.ws_url()).then_some(())
    })
    .await;
    c.more_heads(0, 3, T).await;
    assert!(primary.handle().ws_connections() == 0);

    // Back again: the primary answers its health probe and is taken back, with only
    // one WebSocket open at a time.
    c.wait("back on the primary", Duration::from_secs(45), |l| {
        live_on(l, &primary.ws_url()).then_some(())
    })
    .await;
    c.more_heads(0, 2, T).await;
    assert_eq!(
        (
            primary.handle().ws_connections(),
            fallback.handle().ws_connections()
        ),
        (1, 0),
        "exactly one WebSocket per network"
    );
}
