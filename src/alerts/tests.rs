//! The engine's judgements, on a clock the tests move.

use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256, U256};

use super::Engine;
use crate::config::{AlertKind, AlertRule, Config, NetworkConfig};
use crate::event::{
    AbiValue, AlertState, Arg, ConnState, ConnStats, EventLog, Head, HeadSource, Reorg, TokenMeta,
    Update,
};

fn rule(name: &str, kind: AlertKind, cooldown: u64) -> AlertRule {
    AlertRule {
        name: name.into(),
        kind,
        networks: None,
        cooldown: Duration::from_secs(cooldown),
        sinks: vec!["tui".into()],
    }
}

fn engine(rules: Vec<AlertRule>, t0: Instant) -> Engine {
    engine_on(
        rules,
        vec![NetworkConfig::new("main", Some("ws://x".into()), None)],
        t0,
    )
}

fn engine_on(rules: Vec<AlertRule>, networks: Vec<NetworkConfig>, t0: Instant) -> Engine {
    let config = Config {
        alerts: rules,
        ..Config::with_networks(networks)
    };
    Engine::new(&config, t0).expect("rules")
}

/// A network with contract `c` and these views.
fn with_views(name: &str, c: Address, calls: &[&str]) -> NetworkConfig {
    let mut n = NetworkConfig::new(name, Some("ws://x".into()), None);
    n.contracts = vec![crate::config::ContractConfig {
        address: c,
        label: "c".into(),
        events: Vec::new(),
        views: calls
            .iter()
            .map(|call| crate::config::ViewConfig {
                call: call.to_string(),
                function: alloy_json_abi::Function::parse(call).expect("signature"),
                calldata: Default::default(),
                every: 1,
            })
            .collect(),
    }];
    n
}

fn head(number: u64) -> Update {
    Update::Head {
        net: 0,
        head: Head {
            number,
            hash: B256::with_last_byte(number as u8),
            parent_hash: B256::ZERO,
            timestamp: 0,
            gas_used: 0,
            gas_limit: 0,
            base_fee: None,
            tx_count: None,
            source: HeadSource::Ws,
            seen: None,
        },
    }
}

fn states(v: &[(usize, crate::event::AlertNotice)]) -> Vec<(AlertState, u64)> {
    v.iter().map(|(_, a)| (a.state, a.repeats)).collect()
}

const S: fn(u64) -> Duration = Duration::from_secs;

#[test]
fn a_stalled_head_fires_once_resolves_once_and_repeats_are_held_in_the_cooldown() {
    let t0 = Instant::now();
    let mut e = engine(
        vec![rule("stall", AlertKind::HeadStalled { secs: 10 }, 60)],
        t0,
    );
    assert!(e.observe(&head(1), t0).is_empty());
    assert!(e.tick(t0 + S(9)).is_empty(), "not yet");
    let fired = e.tick(t0 + S(10));
    assert_eq!(states(&fired), vec![(AlertState::Fired, 0)]);
    assert!(
        fired[0].1.message.contains("no new head for 10s"),
        "{}",
        fired[0].1.message
    );
    assert!(e.tick(t0 + S(11)).is_empty(), "once per episode");
    let back = e.observe(&head(2), t0 + S(12));
    assert_eq!(states(&back), vec![(AlertState::Resolved, 0)]);
    // Stalled again within the cooldown: counted, not sent; nor is its end.
    assert!(e.tick(t0 + S(30)).is_empty());
    assert!(e.observe(&head(3), t0 + S(31)).is_empty());
    // After the cooldown the next one goes out, saying one was held back.
    let again = e.tick(t0 + S(80));
    assert_eq!(states(&again), vec![(AlertState::Fired, 1)]);
    let sent = [&fired, &again]
        .iter()
        .flat_map(|v| v.iter())
        .filter(|(_, a)| a.state == AlertState::Fired)
        .count();
    assert_eq!(sent, 2, "two sent, one held");
}

#[test]
fn an_episode_held_by_the_cooldown_that_goes_on_is_sent_when_it_ends() {
    let t0 = Instant::now();
    let mut e = engine(
        vec![rule("stall", AlertKind::HeadStalled { secs: 10 }, 60)],
        t0,
    );
    e.observe(&head(1), t0);
    assert_eq!(states(&e.tick(t0 + S(10))), vec![(AlertState::Fired, 0)]);
    e.observe(&head(2), t0 + S(11));
    // Stalled again inside the cooldown, and it stays stalled: held, then sent as
    // soon as the cooldown is over (not never).
    assert!(e.tick(t0 + S(25)).is_empty());
    assert!(e.tick(t0 + S(60)).is_empty());
    assert_eq!(states(&e.tick(t0 + S(71))), vec![(AlertState::Fired, 1)]);
    assert!(e.tick(t0 + S(72)).is_empty(), "once");
    assert_eq!(
        states(&e.observe(&head(3), t0 + S(80))),
        vec![(AlertState::Resolved, 0)]
    );
}

#[test]
fn a_connection_down_counts_from_when_it_went_down() {
    let t0 = Instant::now();
    let mut e = engine(
        vec![rule("down", AlertKind::ConnectionDown { secs: 30 }, 0)],
        t0,
    );
    let live = Update::Connection {
        net: 0,
        state: ConnState::Live {
            endpoint: "ws://x".into(),
        },
    };
    let lost = Update::Connection {
        net: 0,
        state: ConnState::Stalled {
            reason: "quiet".into(),
        },
    };
    e.observe(&live, t0 + S(1));
    e.observe(&lost, t0 + S(100));
    assert!(e.tick(t0 + S(129)).is_empty());
    assert_eq!(states(&e.tick(t0 + S(130))), vec![(AlertState::Fired, 0)]);
    let back = e.observe(&live, t0 + S(140));
    assert_eq!(states(&back), vec![(AlertState::Resolved, 0)]);
    assert!(
        back[0].1.message.contains("after 40s"),
        "{}",
        back[0].1.message
    );
}

#[test]
fn reorgs_fire_from_their_depth_on_and_every_time() {
    let t0 = Instant::now();
    let mut e = engine(vec![rule("deep", AlertKind::Reorg { min_depth: 3 }, 0)], t0);
    let reorg = |depth| Update::Reorg {
        net: 0,
        reorg: Reorg {
            depth,
            from_number: 100,
            old_hash: B256::ZERO,
            new_hash: B256::ZERO,
            orphaned: Vec::new(),
            deeper_than_tracked: false,
        },
    };
    assert!(e.observe(&reorg(2), t0).is_empty());
    assert_eq!(
        states(&e.observe(&reorg(3), t0)),
        vec![(AlertState::Fired, 0)]
    );
    assert_eq!(
        states(&e.observe(&reorg(5), t0)),
        vec![(AlertState::Fired, 0)]
    );
}

#[test]
fn balances_are_judged_in_whole_units_of_their_token() {
    let t0 = Instant::now();
    let (holder, token) = (Address::repeat_byte(0xaa), Address::repeat_byte(0x70));
    let mut e = engine(
        vec![
            rule(
                "moved",
                AlertKind::BalanceChange {
                    min_delta: 10.0,
                    address: None,
                    token: Some(Some(token)),
                },
                0,
            ),
            rule(
                "low",
                AlertKind::BalanceBelow {
                    threshold: 1.0,
                    address: Some(holder),
                    token: Some(None),
                },
                0,
            ),
        ],
        t0,
    );
    let usdc = |units: u64| Update::TokenBalance {
        net: 0,
        holder,
        token,
        amount: U256::from(units * 1_000_000),
        block: 1,
    };
    // Decimals not known yet: no judgement in whole units.
    assert!(e.observe(&usdc(5), t0).is_empty());
    e.observe(
        &Update::Token {
            net: 0,
            meta: TokenMeta {
                address: token,
                symbol: Some("USDC".into()),
                name: None,
                decimals: Some(6),
            },
        },
        t0,
    );
    assert!(e.observe(&usdc(5), t0).is_empty(), "the first known value");
    assert!(e.observe(&usdc(14), t0).is_empty(), "moved by 9");
    assert_eq!(
        states(&e.observe(&usdc(2), t0)),
        vec![(AlertState::Fired, 0)]
    );
    let wei = |milli: u64| Update::Balance {
        net: 0,
        address: holder,
        wei: U256::from(milli) * U256::from(1_000_000_000_000_000u64),
        block: 1,
    };
    assert_eq!(
        states(&e.observe(&wei(500), t0)),
        vec![(AlertState::Fired, 0)]
    );
    assert!(e.observe(&wei(400), t0).is_empty(), "still below");
    assert_eq!(
        states(&e.observe(&wei(1_500), t0)),
        vec![(AlertState::Resolved, 0)]
    );
    // Removed from the watch list (`d`) and added again later: its first balance
    // then is where it is, not a move from before.
    e.observe(
        &Update::Watching {
            net: 0,
            address: holder,
            label: None,
        },
        t0,
    );
    assert!(e.observe(&usdc(500), t0).is_empty(), "watched anew");
    assert_eq!(
        states(&e.observe(&usdc(480), t0)),
        vec![(AlertState::Fired, 0)],
        "and judged from there"
    );
}

#[test]
fn a_transfer_fires_on_its_value_and_a_view_on_leaving_its_range() {
    let t0 = Instant::now();
    let c = Address::repeat_byte(0xcc);
    let mut e = engine_on(
        vec![
            rule(
                "big",
                AlertKind::Transfer {
                    min_value: 1_000.0,
                    contract: Some(c),
                },
                0,
            ),
            rule(
                "supply",
                AlertKind::View {
                    contract: c,
                    call: "totalSupply()(uint256)".into(),
                    above: Some(100.0),
                    below: Some(10.0),
                },
                0,
            ),
        ],
        // The view is the second of the contract on one network, the first on the
        // other: each network's own index is judged.
        vec![
            with_views("main", c, &["decimals()(uint8)", "totalSupply()(uint256)"]),
            with_views("side", c, &["totalSupply()(uint256)"]),
        ],
        t0,
    );
    let transfer = |value: u64, removed: bool| Update::Log {
        net: 0,
        log: Box::new(EventLog {
            address: c,
            source: Some("USDC".into()),
            event: Some("Transfer".into()),
            args: vec![Arg {
                name: "value".into(),
                ty: "uint256".into(),
                indexed: false,
                value: AbiValue::Uint {
                    value: U256::from(value * 100),
                    decimals: Some(2),
                },
            }],
            topics: Vec::new(),
            data: Default::default(),
            block: Some(1),
            block_hash: None,
            tx: None,
            log_index: None,
            removed,
        }),
    };
    assert!(e.observe(&transfer(999, false), t0).is_empty());
    assert_eq!(
        states(&e.observe(&transfer(1_000, false), t0)),
        vec![(AlertState::Fired, 0)]
    );
    assert!(
        e.observe(&transfer(5_000, true), t0).is_empty(),
        "a retraction is no transfer"
    );
    let view_at = |net: usize, index: usize, x: u64| Update::View {
        net,
        contract: c,
        index,
        block: 1,
        value: Ok(AbiValue::Uint {
            value: U256::from(x),
            decimals: None,
        }),
    };
    let view = |x: u64| view_at(0, 1, x);
    assert!(
        e.observe(&view_at(0, 0, 1_000), t0).is_empty(),
        "another view of the contract"
    );
    let side = e.observe(&view_at(1, 0, 1_000), t0);
    assert_eq!(states(&side), vec![(AlertState::Fired, 0)]);
    assert!(
        side[0].1.message.starts_with("totalSupply()(uint256) of "),
        "{}",
        side[0].1.message
    );
    assert!(e.observe(&view(50), t0).is_empty());
    assert_eq!(
        states(&e.observe(&view(101), t0)),
        vec![(AlertState::Fired, 0)]
    );
    assert_eq!(
        states(&e.observe(&view(60), t0)),
        vec![(AlertState::Resolved, 0)]
    );
    assert_eq!(
        states(&e.observe(&view(5), t0)),
        vec![(AlertState::Fired, 0)]
    );
}

#[test]
fn credits_fire_past_their_share_of_the_budget() {
    let t0 = Instant::now();
    let mut e = engine(
        vec![rule("spend", AlertKind::Credits { percent: 80.0 }, 0)],
        t0,
    );
    let spend = |per_minute: f64| Update::Stats {
        net: 0,
        stats: ConnStats {
            cost: crate::cost::CostSnapshot {
                per_minute: Some(per_minute),
                daily_budget: Some(1_440_000.0),
                ..Default::default()
            },
            ..ConnStats::default()
        },
    };
    assert!(e.observe(&spend(500.0), t0).is_empty(), "50 %");
    assert_eq!(
        states(&e.observe(&spend(900.0), t0)),
        vec![(AlertState::Fired, 0)]
    );
    assert_eq!(
        states(&e.observe(&spend(100.0), t0)),
        vec![(AlertState::Resolved, 0)]
    );
}

#[test]
fn webhook_signatures_are_hmac_sha256() {
    // RFC 4231, test case 2.
    assert_eq!(
        super::sinks::signature("Jefe", b"what do ya want for nothing?"),
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

/// A webhook receiver that answers each POST with the next status of `statuses`
/// (200 once they run out); returns its URL and the count of POSTs it got.
async fn hook(statuses: Vec<u16>) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::Ordering;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", l.local_addr().expect("addr"));
    let got = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = got.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let mut buf = vec![0u8; 64 * 1024];
            let mut read = 0;
            // The head, then as many body bytes as it says.
            while let Ok(n) = s.read(&mut buf[read..]).await {
                if n == 0 {
                    break;
                }
                read += n;
                let text = String::from_utf8_lossy(&buf[..read]).to_lowercase();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if read >= end + 4 + len {
                        break;
                    }
                }
            }
            let i = count.fetch_add(1, Ordering::SeqCst);
            let status = statuses.get(i).copied().unwrap_or(200);
            let reply =
                format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = s.write_all(reply.as_bytes()).await;
        }
    });
    (url, got)
}

fn notice(sink: &str) -> crate::event::AlertNotice {
    crate::event::AlertNotice {
        rule: "r".into(),
        kind: "reorg",
        network: "main".into(),
        state: AlertState::Fired,
        message: "deep".into(),
        about: crate::event::Subject::Network,
        repeats: 0,
        resolves: false,
        at: std::time::SystemTime::UNIX_EPOCH,
        sinks: vec![sink.into()],
    }
}

fn webhook(name: &str, url: &str) -> crate::config::SinkConfig {
    crate::config::SinkConfig {
        name: name.into(),
        kind: crate::config::SinkKind::Webhook {
            url: url.into(),
            secret: None,
            timeout: Duration::from_secs(5),
        },
    }
}

/// A webhook that fails twice is delivered on the third attempt (nothing reported);
/// one that always fails is reported after three, without its URL.
#[tokio::test]
async fn webhooks_are_retried_and_a_lasting_failure_is_reported_redacted() {
    use std::sync::atomic::Ordering;
    let (flaky, flaky_got) = hook(vec![503, 502]).await;
    let (down, down_got) = hook(vec![503; 10]).await;
    let redactor = std::sync::Arc::new(crate::text::Redactor::new(vec![down.clone()]));
    let (d, mut failures) = super::sinks::Dispatcher::start(
        vec![webhook("flaky", &flaky), webhook("down", &down)],
        redactor,
    );
    d.send(0, &notice("flaky"));
    d.send(0, &notice("down"));
    let f = tokio::time::timeout(Duration::from_secs(20), failures.recv())
        .await
        .expect("a report in time")
        .expect("a report");
    assert_eq!(f.sink, "down");
    assert!(!f.off);
    assert!(
        f.reason.contains("HTTP 503 after 3 attempts"),
        "{}",
        f.reason
    );
    assert!(!f.reason.contains(&down), "{}", f.reason);
    assert_eq!(down_got.load(Ordering::SeqCst), 3);
    // The flaky one's third attempt lands about when the other gives up.
    let deadline = Instant::now() + Duration::from_secs(10);
    while flaky_got.load(Ordering::SeqCst) < 3 {
        assert!(Instant::now() < deadline, "the third attempt never came");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(flaky_got.load(Ordering::SeqCst), 3, "no fourth attempt");
    let more = tokio::time::timeout(Duration::from_millis(500), failures.recv()).await;
    assert!(more.is_err(), "the flaky one is not reported: {more:?}");
}

/// A command that outlives its timeout is killed and reported.
#[tokio::test]
async fn a_command_past_its_timeout_is_killed_and_reported() {
    let sink = crate::config::SinkConfig {
        name: "slow".into(),
        kind: crate::config::SinkKind::Command {
            program: "sleep".into(),
            args: vec!["30".into()],
            timeout: Duration::from_secs(1),
        },
    };
    let (d, mut failures) = super::sinks::Dispatcher::start(
        vec![sink],
        std::sync::Arc::new(crate::text::Redactor::new(Vec::new())),
    );
    let t0 = Instant::now();
    d.send(0, &notice("slow"));
    let f = tokio::time::timeout(Duration::from_secs(10), failures.recv())
        .await
        .expect("a report in time")
        .expect("a report");
    assert!(f.reason.contains("killed after 1s"), "{}", f.reason);
    assert!(t0.elapsed() < Duration::from_secs(5), "not waited out");
}

#[test]
fn a_provider_lagging_more_than_its_blocks_for_its_secs_fires_and_resolves_when_back() {
    let t0 = Instant::now();
    let mut e = engine(
        vec![rule(
            "lag",
            AlertKind::ProviderLag {
                blocks: 3,
                secs: 20,
            },
            0,
        )],
        t0,
    );
    let behind = |b: u64| Update::Behind {
        net: 0,
        group: 0,
        behind: b,
        best: 100,
    };
    // Behind by its threshold: not more.
    assert!(e.observe(&behind(3), t0).is_empty());
    assert!(e.tick(t0 + S(60)).is_empty());
    assert!(e.observe(&behind(4), t0 + S(60)).is_empty());
    // Back within for a moment: the clock starts again.
    e.observe(&behind(1), t0 + S(70));
    e.observe(&behind(5), t0 + S(75));
    assert!(e.tick(t0 + S(90)).is_empty(), "15 s over, not 20");
    let fired = e.tick(t0 + S(95));
    assert_eq!(states(&fired), vec![(AlertState::Fired, 0)]);
    assert!(
        fired[0].1.message.contains("5 blocks behind") && fired[0].1.message.contains("for 20s"),
        "{}",
        fired[0].1.message
    );
    let back = e.observe(&behind(0), t0 + S(96));
    assert_eq!(states(&back), vec![(AlertState::Resolved, 0)]);
}

#[test]
fn a_lagging_provider_that_leaves_its_group_resolves() {
    let t0 = Instant::now();
    let nets = vec![
        NetworkConfig::new("a", Some("ws://x".into()), None),
        NetworkConfig::new("b", Some("ws://y".into()), None),
    ];
    let mut e = engine_on(
        vec![rule(
            "lag",
            AlertKind::ProviderLag { blocks: 1, secs: 5 },
            0,
        )],
        nets,
        t0,
    );
    let group = |members: Vec<usize>| Update::Group {
        net: 0,
        group: 0,
        info: Box::new(crate::event::ChainGroup {
            name: "g".into(),
            chain_id: Some(1),
            members,
        }),
    };
    e.observe(&group(vec![0, 1]), t0);
    e.observe(
        &Update::Behind {
            net: 1,
            group: 0,
            behind: 9,
            best: 100,
        },
        t0,
    );
    let fired = e.tick(t0 + S(5));
    assert_eq!(states(&fired), vec![(AlertState::Fired, 0)]);
    assert_eq!(fired[0].0, 1);
    // b reports another chain: the group is down to a, and b's lag is over.
    let out = e.observe(&group(vec![0]), t0 + S(6));
    assert_eq!(states(&out), vec![(AlertState::Resolved, 0)], "{out:?}");
    assert!(e.tick(t0 + S(60)).is_empty(), "and it does not fire again");
}
