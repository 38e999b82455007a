//! Idle cost and start-up time of the real `chaintop` binary, run under a
//! pseudo-terminal (util-linux `script`), so the measured loop is the shipped one.
//!
//! ```text
//! cargo build --release && cargo run --release --example idle
//! ```
//!
//! Idle: three devnets in this process with 12 s blocks and no pending transactions;
//! chaintop's TUI (120x40) watches them. After a warm-up, its CPU time
//! (`/proc/PID/stat` utime+stime) and context switches of all its threads
//! (`/proc/PID/task/*/status`, voluntary = wakeups after sleeping) are read over the
//! window. Start-up: `chaintop demo` with its screen piped back here; the first frame
//! is the first title bar seen, the first head the first block number of a demo chain; also the first
//! `"type":"head"` line of `chaintop demo --headless`.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use chaintop::devnet::{Devnet, DevnetConfig};
use clap::Parser;
use common::{cpu_of_stat, ctxt_switches};

#[derive(Parser)]
struct Args {
    /// Seconds measured.
    #[arg(long, default_value_t = 60.0)]
    secs: f64,
    /// Seconds of warm-up (connect, first heads) before measuring.
    #[arg(long, default_value_t = 5.0)]
    warmup: f64,
    /// Pending transactions per second on each devnet (0 = quiet chains).
    #[arg(long, default_value_t = 0)]
    pending: u32,
    /// Block time of the three networks, seconds.
    #[arg(long, default_value_t = 12)]
    block_secs: u64,
    /// Start-up runs (each a fresh `chaintop demo`).
    #[arg(long, default_value_t = 5)]
    startups: usize,
    /// Run with `--metrics ADDR:PORT`, scraped every 15 s (Prometheus' default
    /// interval) through the window.
    #[arg(long, value_name = "ADDR:PORT")]
    metrics: Option<String>,
}

/// One `GET /metrics`; the body's length.
fn scrape(addr: &str) -> anyhow::Result<usize> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr)?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n")?;
    let mut body = Vec::new();
    s.read_to_end(&mut body)?;
    Ok(body.len())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bin = common::chaintop_binary()?;
    startup(&bin, args.startups)?;
    idle(&bin, &args)
}

fn idle(bin: &std::path::Path, args: &Args) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let devnets = (0..3)
        .map(|i| {
            rt.block_on(Devnet::start(DevnetConfig {
                name: format!("slow-{i}"),
                chain_id: 5_000 + i,
                block_time: Duration::from_secs(args.block_secs),
                seed: 3 + i,
                pending_rate: args.pending,
                reorg_probability: 0.0,
                port: 0,
                start_block: 19_000_000,
                heads_without_txs: false,
            }))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let dir = tempfile::tempdir()?;
    let cfg = dir.path().join("idle.toml");
    let nets: Vec<_> = devnets
        .iter()
        .map(|d| (d.name().to_string(), d.ws_url(), d.http_url(), d.chain_id()))
        .collect();
    common::write_config(&cfg, &nets, 3)?;
    let mut cmd_args = vec!["--config".to_string(), cfg.display().to_string()];
    if let Some(addr) = &args.metrics {
        cmd_args.extend(["--metrics".to_string(), addr.clone()]);
    }
    let (mut child, pid) = common::spawn_tui(bin, &cmd_args, 120, 40, None)?;
    std::thread::sleep(Duration::from_secs_f64(args.warmup));
    let stat = std::path::PathBuf::from(format!("/proc/{pid}/stat"));
    let cpu0 = cpu_of_stat(&stat).context("reading chaintop's CPU time")?;
    let (vol0, invol0) = ctxt_switches(pid);
    let t0 = Instant::now();
    let end = t0 + Duration::from_secs_f64(args.secs);
    let mut scrapes = Vec::new();
    while let Some(addr) = &args.metrics {
        scrapes.push(scrape(addr).context("scraping /metrics")?);
        let next = Instant::now() + Duration::from_secs(15);
        if next >= end {
            break;
        }
        std::thread::sleep(next - Instant::now());
    }
    std::thread::sleep(end.saturating_duration_since(Instant::now()));
    let cpu1 = cpu_of_stat(&stat).context("chaintop exited during the idle window")?;
    let (vol1, invol1) = ctxt_switches(pid);
    let window = t0.elapsed().as_secs_f64();
    let threads = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.count())
        .unwrap_or(0);
    let rss = common::status_field(Some(pid), "VmRSS").unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();
    let cpu = cpu1.saturating_sub(cpu0);
    println!(
        "== idle: TUI 120x40 under script, 3 networks with {} s blocks, {} pending/s each, {window:.1} s",
        args.block_secs, args.pending
    );
    if !scrapes.is_empty() {
        println!(
            "  metrics on: {} scrapes of /metrics, {} bytes each at most",
            scrapes.len(),
            scrapes.iter().max().unwrap_or(&0)
        );
    }
    println!(
        "  CPU {} ms = {:.3}% of one core (10 ms tick resolution)",
        cpu.as_millis(),
        cpu.as_secs_f64() * 100.0 / window
    );
    println!(
        "  wakeups (voluntary context switches, {threads} threads) {} = {:.1}/s; involuntary {}",
        vol1 - vol0,
        (vol1 - vol0) as f64 / window,
        invol1 - invol0
    );
    println!("  RSS {rss} kB");
    drop(devnets);
    Ok(())
}

/// Time from spawning `chaintop demo` to its first frame and first head, TUI and headless.
fn startup(bin: &std::path::Path, runs: usize) -> anyhow::Result<()> {
    let mut frame = Vec::new();
    let mut tui_head = Vec::new();
    let mut headless_head = Vec::new();
    for _ in 0..runs {
        let t0 = Instant::now();
        let (tx, rx) = std::sync::mpsc::channel();
        let (mut child, _) = common::spawn_tui(bin, &["demo".to_string()], 120, 40, Some(tx))?;
        let mut seen = Vec::new();
        let (mut first_frame, mut first_head) = (None, None);
        while first_head.is_none() && t0.elapsed() < Duration::from_secs(15) {
            let Ok((at, bytes)) = rx.recv_timeout(Duration::from_secs(10)) else {
                break;
            };
            seen.extend_from_slice(&bytes);
            let text = String::from_utf8_lossy(&seen);
            if first_frame.is_none() && text.contains("chaintop") {
                first_frame = Some(at - t0);
            }
            // Only changed cells are redrawn, so "head " and the number need not be
            // adjacent in the stream; the demo chains' start numbers are.
            if ["19,000,0", "7,250,0", "120,000,0"]
                .iter()
                .any(|n| text.contains(n))
            {
                first_head = Some(at - t0);
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        frame.extend(first_frame);
        tui_head.extend(first_head);

        let t0 = Instant::now();
        let mut child = Command::new(bin)
            .args(["demo", "--headless", "--duration", "5"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let out = child.stdout.take().context("no stdout pipe")?;
        for line in BufReader::new(out).lines() {
            if line?.contains("\"type\":\"head\"") {
                headless_head.push(t0.elapsed());
                break;
            }
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    let ms = |v: &[Duration]| {
        v.iter()
            .map(|d| format!("{:.0}", d.as_secs_f64() * 1000.0))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!("== start-up of `chaintop demo` ({runs} runs, ms from spawn; includes `script`)");
    println!("  first frame (TUI):   {}", ms(&frame));
    println!("  first head (TUI):    {}", ms(&tui_head));
    println!("  first head line (headless): {}", ms(&headless_head));
    Ok(())
}
