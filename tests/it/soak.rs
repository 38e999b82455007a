//! Soak: the real client against a devnet that keeps misbehaving (a seeded random
//! sequence of faults plus spontaneous reorgs), then a check that the heads shown —
//! the last one per number after reorgs — are exactly the devnet's canonical chain
//! over the range the client covered, and that a second, untouched network never
//! noticed anything.
//!
//! The short variant runs with the normal suite. The long one, by hand:
//!
//! ```text
//! SOAK_SECS=600 cargo test --release --test it soak:: -- --ignored --nocapture
//! ```
//!
//! `SOAK_SEED=N` replays a fault sequence.

use crate::client_support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chaintop::devnet::{Devnet, DevnetConfig, Fault, Malformed};
use chaintop::event::ConnState;

use client_support::{Client, config, network};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn random_fault(rng: &mut fastrand::Rng) -> Fault {
    let secs = |rng: &mut fastrand::Rng, lo: u64, hi: u64| Duration::from_secs(rng.u64(lo..=hi));
    match rng.u8(0..13) {
        0 => Fault::Close,
        1 => Fault::Reset,
        2 => Fault::HalfOpen(secs(rng, 2, 5)),
        3 => Fault::StopHeads(secs(rng, 3, 8)),
        4 => Fault::Malformed(
            *rng.choice(&[
                Malformed::InvalidJson,
                Malformed::Binary,
                Malformed::NoIdError,
                Malformed::Oversize,
                Malformed::Deep,
                Malformed::BigHex,
                Malformed::BadUtf8,
            ])
            .unwrap_or(&Malformed::InvalidJson),
        ),
        5 => Fault::Reorg {
            depth: rng.u64(1..=3),
        },
        6 => Fault::Down(secs(rng, 1, 4)),
        7 => Fault::RateLimit {
            retry_after_secs: 1,
            requests: rng.u32(1..=3),
        },
        8 => Fault::LimitExceeded {
            backoff_secs: 1,
            requests: rng.u32(1..=3),
        },
        9 => Fault::HttpHang(secs(rng, 1, 3)),
        10 => Fault::HttpStatus {
            status: 502,
            requests: rng.u32(1..=3),
        },
        11 => Fault::InventHead,
        _ => Fault::Reorg { depth: 2 },
    }
}

fn fault_name(f: &Fault) -> &'static str {
    match f {
        Fault::Close => "close",
        Fault::Reset => "reset",
        Fault::HalfOpen(_) => "half-open",
        Fault::StopHeads(_) => "stop-heads",
        Fault::Malformed(_) => "malformed",
        Fault::RateLimit { .. } => "rate-limit",
        Fault::LimitExceeded { .. } => "limit-exceeded",
        Fault::Refuse(_) => "refuse",
        Fault::ChainId(_) => "chain-id",
        Fault::Down(_) => "down",
        Fault::LogsRange(_) => "logs-range",
        Fault::Reorg { .. } => "reorg",
        Fault::HttpHang(_) => "http-hang",
        Fault::HttpStatus { .. } => "http-status",
        Fault::InventHead => "invent-head",
        Fault::NewChain => "new-chain",
    }
}

async fn start(name: &str, chain_id: u64, seed: u64, reorg_probability: f64) -> Devnet {
    let cfg = DevnetConfig {
        name: name.into(),
        chain_id,
        block_time: Duration::from_millis(100),
        seed,
        pending_rate: 50,
        reorg_probability,
        port: 0,
        start_block: 5_000,
        heads_without_txs: false,
    };
    match Devnet::start(cfg).await {
        Ok(d) => d,
        Err(e) => panic!("devnet {name}: {e}"),
    }
}

async fn soak(duration: Duration) {
    let seed = env_u64("SOAK_SEED", 0x50a4);
    eprintln!("soak: {duration:?}, SOAK_SEED={seed}");
    let mut rng = fastrand::Rng::with_seed(seed);
    let hostile = start("hostile", 8101, seed, 0.02).await;
    let calm = start("calm", 8102, seed ^ 1, 0.0).await;
    let mut c = Client::start(&config(vec![network(&hostile, 1), network(&calm, 1)]));
    let t = Duration::from_secs(30);
    c.more_heads(0, 3, t).await;
    c.more_heads(1, 3, t).await;

    let mut injected: BTreeMap<&str, u32> = BTreeMap::new();
    let end = Instant::now() + duration;
    while Instant::now() < end {
        // Faults close together overlap on purpose (a reconnect hit by the next one).
        let gap = Duration::from_millis(rng.u64(300..=3_000));
        tokio::time::sleep(gap.min(end.saturating_duration_since(Instant::now()))).await;
        let f = random_fault(&mut rng);
        *injected.entry(fault_name(&f)).or_default() += 1;
        hostile.handle().inject(f);
    }

    // Faults are over (the longest lasts 8 s): the client must converge on the
    // devnet's chain.
    let target = hostile.head();
    let covered = c
        .matches_canonical(0, &hostile, target, Duration::from_secs(90))
        .await;
    let calm_covered = c
        .matches_canonical(1, &calm, calm.head(), Duration::from_secs(30))
        .await;
    // Recovered means live on the WebSocket again, which may take one backoff
    // period (at most 30 s) after the last fault.
    c.wait("hostile network live again", Duration::from_secs(60), |l| {
        matches!(l.state.networks[0].conn, ConnState::Live { .. }).then_some(())
    })
    .await;
    let l = c.log();
    let mut why: BTreeMap<String, u32> = BTreeMap::new();
    for s in l.states(0) {
        let reason = s.reason().unwrap_or("");
        // Numbers vary per occurrence; the kind of reason is what matters here.
        let kind: String = reason.chars().take_while(|c| !c.is_ascii_digit()).collect();
        *why.entry(format!("{}: {kind}", s.name())).or_default() += 1;
    }
    eprintln!("soak: hostile states: {why:#?}");
    let net = &l.state.networks[0];
    eprintln!(
        "soak: injected {injected:?}; hostile: {covered} heads matched, {} reorgs (deepest {}), {} reconnects, {} bad frames, {} errors; calm: {calm_covered} heads",
        net.reorgs, net.deepest_reorg, net.reconnects, net.stats.bad_frames, net.stats.errors,
    );
    let calm_net = &l.state.networks[1];
    assert!(matches!(calm_net.conn, ConnState::Live { .. }));
    assert_eq!(calm_net.reconnects, 0, "the calm network never reconnected");
    assert_eq!(calm_net.stats.errors, 0, "{:?}", calm_net.stats.last_error);
    assert_eq!(l.states(1).len(), 2, "calm: connecting, live; nothing else");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_short() {
    soak(Duration::from_secs(15)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long; run by hand with SOAK_SECS"]
async fn soak_long() {
    soak(Duration::from_secs(env_u64("SOAK_SECS", 600))).await;
}
