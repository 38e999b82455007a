//! What the reference config costs per hour at Infura and Alchemy prices, before
//! the cost work (no Multicall3, every head, pending transactions counted) and with today's
//! defaults, from the meter's own counts:
//!
//!     cargo run --release --example cost [-- SECONDS]
//!
//! Reference config: 3 networks (12 s, 2 s and 0.25 s blocks), 100 watched
//! addresses, 2 tokens, 1 contract with 2 views, against the devnet (which has
//! Multicall3, and 20 pending transactions a second). Twice: busy (10 of the
//! addresses are the devnet's demo accounts, which send in nearly every block) and
//! quiet (none of them moves).
//!
//! What a head costs does not depend on the block time, so every devnet makes a
//! block a second for the measured window (default 30 s: slow enough that every
//! head has a refresh of its own, none coalesced); per hour at a
//! reference block time is then the measured spend per head times the heads of an
//! hour, plus what is billed per second (pending transactions) times 3,600. The
//! meter counts every call and notification by method; Alchemy's figure prices the
//! same counts (and notification bytes) with Alchemy's table.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use chaintop::cost::{CostSnapshot, Line, table_for};
use chaintop::devnet::{DEMO_TOKEN, Devnet, DevnetConfig, demo_watch};
use chaintop::event::Update;
use chaintop::{backend, config};

/// The reference networks' block times (seconds).
const BLOCK_TIMES: [f64; 3] = [12.0, 2.0, 0.25];
const WATCHED: usize = 100;

fn devnet_cfg(i: usize) -> DevnetConfig {
    DevnetConfig {
        name: format!("ref{i}"),
        chain_id: 71_000 + i as u64,
        block_time: Duration::from_secs(1),
        seed: 40 + i as u64,
        pending_rate: 20,
        reorg_probability: 0.0,
        port: 0,
        start_block: 1_000,
        heads_without_txs: false,
    }
}

/// Which addresses are watched: `busy`, the devnet's 10 demo accounts (which send
/// in nearly every block) and 90 strangers; else 100 strangers, quiet as most
/// watched addresses on a real chain are.
fn config_text(devnets: &[Devnet], before: bool, busy: bool) -> String {
    let mut t = String::new();
    for d in devnets {
        t += &format!(
            "[[networks]]\nname = \"{}\"\nws = \"{}\"\nhttp = \"{}\"\nprovider = \"infura\"\n\
             tokens = [\"{DEMO_TOKEN:#x}\", \"0x7070707070707070707070707070707070707070\"]\n",
            d.name(),
            d.ws_url(),
            d.http_url()
        );
        if before {
            t += "multicall = false\npending = \"count\"\nrefresh = \"every_head\"\n";
        }
        t += &format!(
            "[[contracts]]\nnetwork = \"{}\"\naddress = \"{DEMO_TOKEN:#x}\"\nlabel = \"SIMUSD\"\n\
             views = [{{ call = \"totalSupply()(uint256)\" }}, \
             {{ call = \"balanceOf(address)(uint256)\", args = [\"{:#x}\"] }}]\n",
            d.name(),
            demo_watch()[0].0
        );
    }
    let demo = demo_watch();
    for i in 0..WATCHED {
        let a = match demo.get(i).filter(|_| busy) {
            Some((a, _)) => format!("{a:#x}"),
            None => format!("0x{:040x}", 0xee00_0000 + i),
        };
        t += &format!("[[watch]]\naddress = \"{a}\"\nlabel = \"w{i}\"\n");
    }
    t
}

/// What changed between two snapshots, by method.
fn delta(a: &CostSnapshot, b: &CostSnapshot) -> BTreeMap<String, Line> {
    b.by_method
        .iter()
        .map(|(m, l)| {
            let before = a.by_method.get(m).copied().unwrap_or_default();
            let d = Line {
                count: l.count - before.count,
                cost: l.cost - before.cost,
                bytes: l.bytes - before.bytes,
            };
            (m.clone(), d)
        })
        .collect()
}

struct Measured {
    /// Per network: spend by method over the window, and heads in it.
    nets: Vec<(BTreeMap<String, Line>, u64)>,
    secs: f64,
}

async fn measure(before: bool, busy: bool, secs: f64) -> anyhow::Result<Measured> {
    let mut devnets = Vec::new();
    for i in 0..BLOCK_TIMES.len() {
        devnets.push(Devnet::start(devnet_cfg(i)).await.context("devnet")?);
    }
    let text = config_text(&devnets, before, busy);
    let cfg = config::parse(&text, Path::new("reference.toml"), &|_| None)
        .map_err(|e| anyhow::anyhow!(e))?;
    let redactor = Arc::new(cfg.redactor());
    let be = backend::start(&cfg, &redactor);
    let heads = Arc::new(Mutex::new(vec![0u64; devnets.len()]));
    let counted = heads.clone();
    let mut updates = be.updates;
    tokio::spawn(async move {
        while let Some(u) = updates.recv().await {
            if let Update::Head { net, .. } = u
                && let Ok(mut h) = counted.lock()
                && let Some(n) = h.get_mut(net)
            {
                *n += 1;
            }
        }
    });
    let networks = be.networks;
    let snap = || -> Vec<CostSnapshot> {
        networks
            .iter()
            .map(|n| n.cost.snapshot(SystemTime::now()))
            .collect()
    };
    let heads_now = || heads.lock().map(|h| h.clone()).unwrap_or_default();
    // Warm up: connected, token metadata read, Multicall3 known.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (s0, h0) = (snap(), heads_now());
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    let (s1, h1) = (snap(), heads_now());
    let nets = s0
        .iter()
        .zip(&s1)
        .zip(h0.iter().zip(&h1))
        .map(|((a, b), (x, y))| (delta(a, b), y - x))
        .collect();
    Ok(Measured { nets, secs })
}

const PENDING: &str = "event:newPendingTransactions";

/// Per hour at `block_secs`: what is billed per head, scaled to the heads of an
/// hour, and what is billed per second (pending), scaled to 3,600 s.
fn per_hour(
    by: &BTreeMap<String, Line>,
    heads: u64,
    secs: f64,
    block_secs: f64,
    price: &dyn Fn(&str, &Line) -> f64,
) -> (f64, BTreeMap<String, f64>) {
    let heads_per_hour = 3_600.0 / block_secs;
    let parts: BTreeMap<String, f64> = by
        .iter()
        .map(|(m, l)| {
            let cost = price(m, l);
            let hourly = if m == PENDING {
                cost / secs * 3_600.0
            } else {
                cost / heads.max(1) as f64 * heads_per_hour
            };
            (m.clone(), hourly)
        })
        .filter(|(_, c)| *c > 0.0)
        .collect();
    (parts.values().sum(), parts)
}

fn top(parts: &BTreeMap<String, f64>) -> String {
    let mut v: Vec<(&String, &f64)> = parts.iter().collect();
    v.sort_by(|a, b| b.1.total_cmp(a.1));
    v.iter()
        .take(4)
        .map(|(m, c)| format!("{m} {}", chaintop::fmt::compact(**c)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn main() -> anyhow::Result<()> {
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(30.0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let alchemy = table_for(Some("alchemy"), None).context("alchemy table")?;
    let infura_price = |_: &str, l: &Line| l.cost;
    let alchemy_price = |m: &str, l: &Line| match m.strip_prefix("event:") {
        Some(_) => l.bytes as f64 * alchemy.per_event_byte,
        None => l.count as f64 * alchemy.call(m),
    };
    for busy in [true, false] {
        println!(
            "\n{}\n",
            if busy {
                "Busy: 10 of the 100 watched addresses send in nearly every block"
            } else {
                "Quiet: none of the 100 watched addresses moves"
            }
        );
        let mut totals = [[0.0f64; 2]; 2];
        println!(
            "| block time | config | heads measured | Infura credits/h | largest (Infura) | Alchemy CU/h |"
        );
        println!("|---|---|---|---|---|---|");
        for (w, before) in [(0, true), (1, false)] {
            let m = rt.block_on(measure(before, busy, secs))?;
            for ((by, heads), block) in m.nets.iter().zip(BLOCK_TIMES) {
                let (inf, parts) = per_hour(by, *heads, m.secs, block, &infura_price);
                let (alc, _) = per_hour(by, *heads, m.secs, block, &alchemy_price);
                totals[w][0] += inf;
                totals[w][1] += alc;
                println!(
                    "| {block} s | {} | {heads} in {secs} s | {} | {} | {} |",
                    if before { "before" } else { "after" },
                    chaintop::fmt::compact(inf),
                    top(&parts),
                    chaintop::fmt::compact(alc)
                );
            }
        }
        println!(
            "\ntotal per hour: Infura {} → {} credits ({:.0}× fewer); Alchemy {} → {} CU ({:.0}× fewer)",
            chaintop::fmt::compact(totals[0][0]),
            chaintop::fmt::compact(totals[1][0]),
            totals[0][0] / totals[1][0],
            chaintop::fmt::compact(totals[0][1]),
            chaintop::fmt::compact(totals[1][1]),
            totals[0][1] / totals[1][1],
        );
    }
    Ok(())
}
