//! Hot paths, one criterion group each: decoding the frames that arrive at line rate,
//! folding updates into the state, and drawing the whole screen.
//!
//! Run: `cargo bench --bench hot_paths` (figures in BENCHMARKS.md).

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use alloy_primitives::{Address, B256, U256, keccak256};
use chaintop::event::{ConnState, ConnStats, Head, HeadSource, SubKind, SubStatus, Update};
use chaintop::rpc::frame::{self, Incoming};
use chaintop::state::{AppState, NetworkState, WatchRow};
use chaintop::ui::{Theme, draw};
use criterion::{Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn hash(n: u64) -> B256 {
    keccak256(n.to_be_bytes())
}

/// A `newHeads` notification as the devnet and anvil send it (header plus tx hashes).
fn new_heads_frame(txs: usize) -> String {
    let tx_hashes: Vec<String> = (0..txs as u64)
        .map(|i| format!("\"{}\"", hash(i)))
        .collect();
    format!(
        r#"{{"jsonrpc":"2.0","method":"eth_subscription","params":{{"subscription":"0x8b3f1a2c9d","result":{{"hash":"{}","parentHash":"{}","number":"0x1220a7f","timestamp":"0x6553f100","gasUsed":"0xe4e1c0","gasLimit":"0x1c9c380","baseFeePerGas":"0x2dfd1f0b5","miner":"0x95222290dd7278aa3ddd389cc1e1d165cc4bafe5","extraData":"0x636861696e746f70","logsBloom":"0x{}","stateRoot":"{}","transactions":[{}]}}}}}}"#,
        hash(1),
        hash(0),
        "00".repeat(256),
        hash(2),
        tx_hashes.join(",")
    )
}

fn pending_frame() -> String {
    format!(
        r#"{{"jsonrpc":"2.0","method":"eth_subscription","params":{{"subscription":"0x4c1d","result":"{}"}}}}"#,
        hash(42)
    )
}

/// A whole pending transaction (an EIP-1559 transfer, ~600 bytes, as geth sends it).
fn full_pending_frame() -> String {
    let tx = format!(
        r#"{{"blockHash":null,"blockNumber":null,"from":"0x{a}","gas":"0x5208","gasPrice":"0x77359400","maxFeePerGas":"0x77359400","maxPriorityFeePerGas":"0x3b9aca00","hash":"{h}","input":"0x","nonce":"0x2a","to":"0x{b}","transactionIndex":null,"value":"0xde0b6b3a7640000","type":"0x2","accessList":[],"chainId":"0x1","v":"0x1","r":"{h}","s":"{h}","yParity":"0x1"}}"#,
        a = "a1".repeat(20),
        b = "b2".repeat(20),
        h = hash(7)
    );
    format!(
        r#"{{"jsonrpc":"2.0","method":"eth_subscription","params":{{"subscription":"0x4c1d","result":{tx}}}}}"#
    )
}

fn balance_batch(n: u64) -> String {
    let entries: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"jsonrpc":"2.0","id":{},"result":"0x{:x}"}}"#,
                1000 + i,
                1_234_567_890_123_456_789u128 * u128::from(i + 1)
            )
        })
        .collect();
    format!("[{}]", entries.join(","))
}

/// `HttpClient::batch`'s decoding (the real function) followed by the watch task's
/// `U256` parse.
fn decode_balance_batch(text: &str, first: u64, n: usize) -> Vec<Option<U256>> {
    match chaintop::rpc::http::decode_batch(text, first, n) {
        Ok(results) => results
            .into_iter()
            .map(|r| {
                r.ok()
                    .and_then(|raw| serde_json::from_str::<U256>(raw.get()).ok())
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn bench_decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    let heads = new_heads_frame(150);
    let heads_bare = new_heads_frame(0);
    let pending = pending_frame();
    let batch = balance_batch(100);
    g.bench_function("newHeads_150tx", |b| {
        b.iter(|| match frame::decode(black_box(&heads)) {
            Ok(Incoming::Notification { result, .. }) => frame::decode_head(result).ok(),
            _ => None,
        })
    });
    g.bench_function("newHeads_no_tx", |b| {
        b.iter(|| match frame::decode(black_box(&heads_bare)) {
            Ok(Incoming::Notification { result, .. }) => frame::decode_head(result).ok(),
            _ => None,
        })
    });
    g.bench_function("pending_hash", |b| {
        b.iter(|| match frame::decode(black_box(&pending)) {
            Ok(Incoming::Notification { result, .. }) => frame::decode_pending(result).is_ok(),
            _ => false,
        })
    });
    // `pending = "watched"`: the envelope, then the check against 1,000 watched
    // addresses (none of them in this transaction: the common case).
    let full = full_pending_frame();
    let watch = chaintop::network::mempool::Watchlist {
        addresses: (0..1000u64).map(address).collect(),
        tokens: Default::default(),
    };
    g.bench_function("pending_full_1000_watched", |b| {
        b.iter(|| match frame::decode(black_box(&full)) {
            Ok(Incoming::Notification { result, .. }) => {
                chaintop::network::mempool::classify(result.get(), &watch).is_ok()
            }
            _ => false,
        })
    });
    g.bench_function("balance_batch_100", |b| {
        b.iter(|| decode_balance_batch(black_box(&batch), 1000, 100))
    });
    g.finish();
}

fn head(number: u64) -> Head {
    Head {
        number,
        hash: hash(number),
        parent_hash: hash(number - 1),
        timestamp: 1_700_000_000 + number * 2,
        gas_used: 15_000_000 + (number % 13) * 1_000_000,
        gas_limit: 30_000_000,
        base_fee: Some(U256::from(12_345_678_901u64 + number % 7 * 100_000_000)),
        tx_count: Some(100 + (number % 50) as u32),
        source: HeadSource::Ws,
        seen: None,
    }
}

fn address(i: u64) -> Address {
    Address::from_word(hash(i + 1_000_000))
}

/// `networks` live networks, each with a full ring of heads, `watches` watched
/// addresses with balances, stats and a pending rate: the most the UI ever draws.
pub fn busy_state(networks: usize, watches: usize) -> AppState {
    let nets = (0..networks)
        .map(|i| {
            let mut n = NetworkState::new(format!("net-{i}"), format!("wss://node-{i}.example/ws"));
            n.watches = (0..watches as u64)
                .map(|w| WatchRow::new(format!("acct-{w}"), address(w)))
                .collect();
            n
        })
        .collect();
    let mut s = AppState::new(nets);
    for net in 0..networks {
        let endpoint = format!("wss://node-{net}.example/ws");
        s.apply(
            Update::Connection {
                net,
                state: ConnState::Live { endpoint },
            },
            std::time::Instant::now(),
        );
        s.apply(
            Update::ChainId {
                net,
                chain_id: 1 + net as u64,
            },
            std::time::Instant::now(),
        );
        for kind in [SubKind::NewHeads, SubKind::NewPendingTransactions] {
            s.apply(
                Update::Subscription {
                    net,
                    kind,
                    status: SubStatus::Active,
                },
                std::time::Instant::now(),
            );
        }
        for n in 1..=300 {
            s.apply(
                Update::Head {
                    net,
                    head: head(19_000_000 + n),
                },
                std::time::Instant::now(),
            );
        }
        for w in 0..watches as u64 {
            s.apply(
                Update::Balance {
                    net,
                    address: address(w),
                    wei: U256::from(10u128.pow(18) * u128::from(w + 1)),
                    block: 19_000_300,
                },
                std::time::Instant::now(),
            );
        }
        s.apply(
            Update::Pending {
                net,
                count: 1234,
                window_ms: 1000,
            },
            std::time::Instant::now(),
        );
        s.apply(
            Update::Stats {
                net,
                stats: ConnStats {
                    messages: 123_456,
                    errors: 3,
                    bad_frames: 1,
                    last_message: Some(SystemTime::now()),
                    http_latency: Some(Duration::from_millis(41)),
                    http_at: Some(SystemTime::now()),
                    ping_at: Some(SystemTime::now()),
                    last_error_at: Some(SystemTime::now()),
                    ping_rtt: Some(Duration::from_millis(12)),
                    http_requests: 4321,
                    pending_coalesced: 17,
                    last_error: Some("ws read: connection reset by peer".into()),
                    cost: Default::default(),
                },
            },
            std::time::Instant::now(),
        );
    }
    s.tick(Instant::now(), SystemTime::now());
    s
}

fn bench_apply(c: &mut Criterion) {
    let mut g = c.benchmark_group("apply");
    let mut s = busy_state(10, 10);
    let mut n = 19_000_301;
    g.bench_function("head", |b| {
        b.iter(|| {
            n += 1;
            s.apply(
                Update::Head {
                    net: 3,
                    head: head(n),
                },
                std::time::Instant::now(),
            )
        })
    });
    g.bench_function("pending", |b| {
        b.iter(|| {
            s.apply(
                Update::Pending {
                    net: 3,
                    count: black_box(10_000),
                    window_ms: 1000,
                },
                std::time::Instant::now(),
            )
        })
    });
    let mut wei = 0u64;
    g.bench_function("balance", |b| {
        b.iter(|| {
            wei += 1;
            s.apply(
                Update::Balance {
                    net: 3,
                    address: address(7),
                    wei: U256::from(wei),
                    block: n,
                },
                std::time::Instant::now(),
            )
        })
    });
    g.finish();
}

fn bench_draw(c: &mut Criterion) {
    let mut g = c.benchmark_group("draw");
    let theme = Theme::builtin("dark").unwrap_or_else(Theme::no_color);
    let state = busy_state(10, 10);
    let mut help = state.clone();
    help.show_help = true;
    // 50x20: narrow layout; 80x24: short; 120x40 and 200x60: tall.
    for (w, h) in [(50, 20), (80, 24), (120, 40), (200, 60)] {
        let Ok(mut term) = Terminal::new(TestBackend::new(w, h));
        g.bench_function(format!("10net_{w}x{h}"), |b| {
            b.iter(|| term.draw(|f| draw(f, &state, &theme)).map(|_| ()))
        });
    }
    let Ok(mut term) = Terminal::new(TestBackend::new(200, 60));
    g.bench_function("10net_200x60_help", |b| {
        b.iter(|| term.draw(|f| draw(f, &help, &theme)).map(|_| ()))
    });
    g.finish();
}

/// The race of one chain through three endpoints: the engine at every head (each
/// endpoint delivers it), the state's window of the last 100, and the hour's window
/// the comparison view works out when it draws.
fn bench_race(c: &mut Criterion) {
    use chaintop::config::{Config, NetworkConfig};
    use chaintop::event::Delivery;
    use chaintop::state::Racer;
    let mut g = c.benchmark_group("race");
    let nets = ["eth-a", "eth-b", "eth-c"]
        .iter()
        .map(|n| {
            let mut c = NetworkConfig::new(*n, Some("ws://127.0.0.1:1".into()), None);
            c.chain_id = Some(1);
            c
        })
        .collect();
    let Some(mut race) = chaintop::race::Race::new(&Config::with_networks(nets)) else {
        return;
    };
    race.start();
    let mut n = 19_000_000;
    g.bench_function("observe_head_3_endpoints", |b| {
        b.iter(|| {
            n += 1;
            let now = Instant::now();
            let mut out = 0;
            for net in 0..3 {
                let mut h = head(n);
                h.seen = Some(now + Duration::from_millis(net as u64 * 100));
                out += race.observe(&Update::Head { net, head: h }, now).len();
            }
            black_box(out)
        })
    });
    let mut r = Racer::default();
    let now = Instant::now();
    for i in 0..16_384u64 {
        let d = Delivery::After {
            ms: i % 500,
            source: HeadSource::Ws,
        };
        r.raced(d, false, now);
    }
    g.bench_function("raced_last_100", |b| {
        b.iter(|| {
            let d = Delivery::After {
                ms: 300,
                source: HeadSource::Ws,
            };
            r.raced(d, false, now);
        })
    });
    g.bench_function("hour_window_16384", |b| b.iter(|| black_box(r.hour(now))));
    g.finish();
}

criterion_group!(benches, bench_decode, bench_apply, bench_draw, bench_race);
criterion_main!(benches);
