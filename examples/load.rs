//! Load benchmark: the embedded devnet in load mode feeding chaintop's real backend.
//!
//! ```text
//! cargo run --release --example load                      # pending + heads ramps, TUI drawn
//! cargo run --release --example load -- --headless        # the same, headless JSON lines
//! cargo run --release --example load -- memory --minutes 10   # child process, RSS over time
//! ```
//!
//! `pending` ramps the pending-hash rate on one network (heads every 100 ms ride along
//! to measure lag); `heads` ramps block production across 10 networks. Each step starts
//! fresh devnets (on their own runtime, threads named `devnet*`) and a fresh backend
//! (on a runtime like the binary's), warms up, then measures.
//!
//! Stamps: the session stamps when each `newHeads` frame was read off the socket (the
//! probe passed in with `backend::Options`); the app's own loop (`app::Loop`, drawing
//! on `tui::Offscreen`, a `TestBackend`: CI has no TTY) stamps "applied" after
//! `AppState::apply` and "drawn" when the draw returns, through an `app::Observer`; in
//! headless mode the writer stamps when `headless::run` writes the line. A sampler
//! thread polls the devnets' heads every 2 ms, so "produced → received" (lag in the
//! socket and the session) is known to about 2 ms.
//!
//! `memory` runs the real binary as a child (TUI under `script`, or `--headless`) on 10
//! networks with 1,000 watched addresses each and a 10,000/s pending flood on one, and
//! samples its RSS; it also counts HTTP requests per head.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use chaintop::config::{Config, NetworkConfig};
use chaintop::devnet::{Devnet, DevnetConfig, DevnetHandle};
use chaintop::event::Update;
use chaintop::state::AppState;
use chaintop::text::Redactor;
use chaintop::tui::Offscreen;
use chaintop::ui::Theme;
use chaintop::{app, backend, headless};
use clap::{Parser, Subcommand};
use common::{fmt_dur, summary, threads_cpu};
use tokio::sync::mpsc;

#[derive(Parser)]
struct Args {
    /// Headless mode (JSON lines) instead of the drawn TUI loop.
    #[arg(long, global = true)]
    headless: bool,
    /// Seconds measured per step (after the warm-up).
    #[arg(long, default_value_t = 10.0, global = true)]
    secs: f64,
    /// Seconds of warm-up per step (connect, first backfill).
    #[arg(long, default_value_t = 3.0, global = true)]
    warmup: f64,
    /// Terminal size of the drawn loop, COLSxROWS.
    #[arg(long, default_value = "200x60", global = true)]
    size: String,
    #[command(subcommand)]
    scenario: Option<Scenario>,
}

#[derive(Subcommand, Clone)]
enum Scenario {
    /// Pending-hash flood on one network, ramped.
    Pending {
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "10000,25000,50000,75000,100000,150000"
        )]
        rates: Vec<u32>,
    },
    /// Whole pending transactions (`pending = "watched"`) on one network, checked
    /// against `watches` watched addresses, ramped.
    Watched {
        #[arg(long, value_delimiter = ',', default_value = "20000,40000")]
        rates: Vec<u32>,
        #[arg(long, default_value_t = 1000)]
        watches: usize,
    },
    /// Heads across 10 networks, ramped by block time.
    Heads {
        #[arg(long, value_delimiter = ',', default_value = "10,5,2")]
        block_ms: Vec<u64>,
        #[arg(long, default_value_t = 10)]
        networks: usize,
    },
    /// Both ramps (the default).
    All,
    /// The real binary as a child: RSS over time under a pending flood.
    Memory {
        #[arg(long, default_value_t = 10.0)]
        minutes: f64,
        #[arg(long, default_value_t = 1000)]
        watches: usize,
        #[arg(long, default_value_t = 10_000)]
        pending: u32,
        /// Block time of the 10 networks, milliseconds.
        #[arg(long, default_value_t = 2000)]
        block_ms: u64,
    },
}

/// Receive stamps from the session probe, keyed by (network, block number).
static STAMPS: Mutex<Option<HashMap<(usize, u64), Instant>>> = Mutex::new(None);

fn stamp(net: usize, number: u64, at: Instant) {
    if let Ok(mut m) = STAMPS.lock() {
        m.get_or_insert_with(HashMap::new).insert((net, number), at);
    }
}

fn take_stamp(net: usize, number: u64) -> Option<Instant> {
    STAMPS.lock().ok()?.as_mut()?.remove(&(net, number))
}

/// First time the sampler saw each (network, head number) at the devnet.
type Produced = Arc<Mutex<HashMap<(usize, u64), Instant>>>;

struct HeadSample {
    net: usize,
    number: u64,
    recv: Option<Instant>,
    /// Applied to the state (TUI) or written as a line (headless).
    out: Instant,
    drawn: Option<Instant>,
}

#[derive(Default)]
struct Recorder {
    warm: Option<Instant>,
    heads: Vec<HeadSample>,
    undrawn: Vec<usize>,
    pending: Vec<(Instant, u64)>,
    draws: Vec<Duration>,
    last_number: HashMap<usize, u64>,
    gaps: u64,
    repeats: u64,
    warmup_repeats: u64,
    pending_coalesced: u64,
}

impl Recorder {
    fn head(&mut self, net: usize, number: u64, out: Instant) {
        let warming = self.warm.is_some_and(|w| out < w);
        match self.last_number.insert(net, number) {
            Some(prev) if number == prev + 1 => {}
            Some(prev) if number <= prev && warming => self.warmup_repeats += 1,
            Some(prev) if number <= prev => self.repeats += 1,
            Some(_) => self.gaps += 1,
            None => {}
        }
        self.heads.push(HeadSample {
            net,
            number,
            recv: take_stamp(net, number),
            out,
            drawn: None,
        });
        self.undrawn.push(self.heads.len() - 1);
    }

    fn drawn(&mut self, took: Duration, at: Instant) {
        if self.warm.is_some_and(|w| at >= w) {
            self.draws.push(took);
        }
        for i in self.undrawn.drain(..) {
            self.heads[i].drawn = Some(at);
        }
    }
}

/// Headless output sink: stamps each line as it is written, then reads what it was.
struct StampWriter<'a> {
    rec: &'a mut Recorder,
    names: Vec<String>,
}

impl Write for StampWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let at = Instant::now();
        #[derive(serde::Deserialize)]
        struct Line<'a> {
            #[serde(rename = "type")]
            kind: &'a str,
            network: &'a str,
            number: Option<u64>,
            count: Option<u64>,
        }
        if let Ok(l) = serde_json::from_slice::<Line<'_>>(buf.trim_ascii_end())
            && let Some(net) = self.names.iter().position(|n| n == l.network)
        {
            match (l.kind, l.number, l.count) {
                ("head", Some(n), _) => self.rec.head(net, n, at),
                ("pending", _, Some(c)) => self.rec.pending.push((at, c)),
                _ => {}
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Stamps around the real TUI loop's apply and draw.
struct Stamps<'a> {
    rec: &'a mut Recorder,
    head: Option<(usize, u64)>,
}

impl app::Observer for Stamps<'_> {
    fn update(&mut self, u: &Update) {
        self.head = match u {
            Update::Head { net, head } => Some((*net, head.number)),
            Update::Pending { count, .. } => {
                self.rec.pending.push((Instant::now(), *count));
                None
            }
            _ => None,
        };
    }

    fn applied(&mut self) {
        if let Some((net, n)) = self.head.take() {
            self.rec.head(net, n, Instant::now());
        }
    }

    fn drawn(&mut self, took: Duration, at: Instant) {
        self.rec.drawn(took, at);
    }
}

/// `chaintop::app`'s loop itself (frame budget, `recv_many` drain, 1 Hz tick, draw
/// only when dirty), drawing into memory instead of the terminal, with stamps
/// around apply and draw.
async fn tui_loop(
    state: AppState,
    updates: mpsc::Receiver<Update>,
    until: Instant,
    size: (u16, u16),
    rec: &mut Recorder,
) -> anyhow::Result<AppState> {
    let theme = Theme::builtin("dark").unwrap_or_else(Theme::no_color);
    let mut screen = Offscreen::new(size.0, size.1);
    let mut lp = app::Loop {
        stop_at: Some(until.into()),
        ..app::Loop::new(state, theme, updates)
    };
    // No keys and no signals: the run ends at `until` (or when the backend is gone).
    let (_, outside) = mpsc::channel(1);
    let keys = futures_util::stream::pending::<std::io::Result<crossterm::event::Event>>();
    let mut stamps = Stamps { rec, head: None };
    lp.run(&mut screen, keys, outside, &mut stamps).await?;
    Ok(lp.state)
}

struct Step {
    label: String,
    nets: Vec<DevnetConfig>,
    /// `pending = "watched"` with this many watched addresses (0: counted only).
    watched: usize,
}

fn run_step(
    args: &Args,
    devnet_rt: &tokio::runtime::Runtime,
    app_rt: &tokio::runtime::Runtime,
    step: Step,
) -> anyhow::Result<()> {
    let devnets = step
        .nets
        .into_iter()
        .map(|cfg| devnet_rt.block_on(Devnet::start(cfg)))
        .collect::<Result<Vec<_>, _>>()
        .context("starting devnets")?;
    let handles: Vec<DevnetHandle> = devnets.iter().map(Devnet::handle).collect();
    let names: Vec<String> = devnets.iter().map(|d| d.name().to_string()).collect();
    let config = Config::with_networks(
        devnets
            .iter()
            .map(|d| {
                let mut n = NetworkConfig::new(d.name(), Some(d.ws_url()), Some(d.http_url()));
                n.chain_id = Some(d.chain_id());
                if step.watched > 0 {
                    n.pending = Some(chaintop::config::PendingMode::Watched);
                }
                n
            })
            .collect(),
    );
    // The devnet's demo accounts (whose payments it announces pending), then
    // addresses nothing sends to: every transaction is checked, few are hits.
    let mut config = config;
    config.watch = chaintop::devnet::demo_watch()
        .into_iter()
        .map(|(address, label)| (address, label.to_string()))
        .chain((0u64..).map(|i| {
            let mut b = [0u8; 20];
            b[..8].copy_from_slice(&(i + 1).to_be_bytes());
            b[19] = 0xee;
            (alloy_primitives::Address::from(b), format!("w{i}"))
        }))
        .take(step.watched)
        .map(|(address, label)| chaintop::config::WatchConfig {
            address,
            label,
            networks: None,
        })
        .collect();
    let start = Instant::now();
    let warm = start + Duration::from_secs_f64(args.warmup);
    let end = warm + Duration::from_secs_f64(args.secs);

    // Sampler: when each head number first appears at the devnet; also CPU at the
    // window edges. Its thread name keeps its own CPU out of chaintop's figure.
    let produced: Produced = Arc::default();
    let sampler = {
        let produced = produced.clone();
        let handles = handles.clone();
        std::thread::Builder::new()
            .name("devnet-sampler".into())
            .spawn(move || {
                let mut last = vec![0u64; handles.len()];
                let mut cpu_warm = None;
                while Instant::now() < end {
                    let now = Instant::now();
                    if cpu_warm.is_none() && now >= warm {
                        cpu_warm =
                            Some((threads_cpu("devnet", true), threads_cpu("devnet", false)));
                    }
                    for (i, h) in handles.iter().enumerate() {
                        let head = h.head();
                        if let Ok(mut p) = produced.lock() {
                            let from = if last[i] == 0 { head } else { last[i] + 1 };
                            for n in from..=head {
                                p.entry((i, n)).or_insert(now);
                            }
                        }
                        last[i] = head;
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
                let cpu_end = (threads_cpu("devnet", true), threads_cpu("devnet", false));
                let heads_at_end: Vec<u64> = handles.iter().map(DevnetHandle::head).collect();
                (cpu_warm, cpu_end, heads_at_end)
            })?
    };

    let mut rec = Recorder {
        warm: Some(warm),
        ..Recorder::default()
    };
    let redactor = Arc::new(Redactor::new(Vec::new()));
    let size = parse_size(&args.size)?;
    let last_shown: Vec<Option<u64>> = app_rt.block_on(async {
        let be = backend::start_with(
            &config,
            &redactor,
            backend::Options {
                head_probe: Some(stamp),
            },
        );
        let state = backend::initial_state(&config, &redactor);
        if args.headless {
            let mut w = StampWriter {
                rec: &mut rec,
                names: names.clone(),
            };
            headless::run(
                be.updates,
                backend::headless_names(&config, &be.networks),
                Some(end - Instant::now()),
                &mut w,
            )
            .await?;
            Ok::<_, anyhow::Error>(Vec::new())
        } else {
            let state = tui_loop(state, be.updates, end, size, &mut rec).await?;
            rec.pending_coalesced = state
                .networks
                .iter()
                .map(|n| n.stats.pending_coalesced)
                .sum();
            Ok(state
                .networks
                .iter()
                .map(|n| n.latest().map(|h| h.number))
                .collect())
        }
    })?;
    let (cpu_warm, cpu_end, heads_at_end) = sampler
        .join()
        .map_err(|_| anyhow::anyhow!("sampler thread panicked"))?;
    drop(devnets);

    // Report.
    let window = end.duration_since(warm).as_secs_f64();
    let in_window = |t: Instant| t >= warm && t <= end;
    let heads: Vec<&HeadSample> = rec.heads.iter().filter(|h| in_window(h.out)).collect();
    let pending: u64 = rec
        .pending
        .iter()
        .filter(|(t, _)| in_window(*t))
        .map(|(_, c)| c)
        .sum();
    let produced = produced.lock().map(|p| p.clone()).unwrap_or_default();
    let mut lag = Vec::new();
    let mut to_out = Vec::new();
    let mut to_drawn = Vec::new();
    let mut unstamped = 0;
    for h in &heads {
        let Some(recv) = h.recv else {
            unstamped += 1;
            continue;
        };
        if let Some(p) = produced.get(&(h.net, h.number)) {
            lag.push(recv.saturating_duration_since(*p));
        }
        to_out.push(h.out.saturating_duration_since(recv));
        if let Some(d) = h.drawn {
            to_drawn.push(d.saturating_duration_since(recv));
        }
    }
    let behind: Vec<i64> = if args.headless {
        handles
            .iter()
            .enumerate()
            .map(|(i, _)| {
                let last = rec.last_number.get(&i).copied().unwrap_or(0);
                heads_at_end[i] as i64 - last as i64
            })
            .collect()
    } else {
        last_shown
            .iter()
            .zip(&heads_at_end)
            .map(|(s, d)| *d as i64 - s.unwrap_or(0) as i64)
            .collect()
    };
    let (app_cpu, dev_cpu) = match cpu_warm {
        Some((a, d)) => (cpu_end.0.saturating_sub(a), cpu_end.1.saturating_sub(d)),
        None => (cpu_end.0, cpu_end.1),
    };
    let mode = if args.headless { "headless" } else { "tui" };
    println!("== {} [{mode}] window {window:.1}s", step.label);
    println!(
        "  pending received {:.0}/s  heads shown {:.0}/s  gaps {}  repeats {} (warm-up {})  pending dropped {}  unstamped (backfill) heads {}",
        pending as f64 / window,
        heads.len() as f64 / window,
        rec.gaps,
        rec.repeats,
        rec.warmup_repeats,
        rec.pending_coalesced,
        unstamped
    );
    println!("  produced→received  {}", summary(&mut lag));
    if args.headless {
        println!("  received→written   {}", summary(&mut to_out));
    } else {
        println!("  received→applied   {}", summary(&mut to_out));
        println!("  received→drawn     {}", summary(&mut to_drawn));
        println!("  draw time          {}", summary(&mut rec.draws));
    }
    println!("  heads behind the devnet at the end: {:?}", behind);
    println!(
        "  CPU in window: chaintop {} ({:.0}% of one core), devnet+sampler {} ({:.0}%)",
        fmt_dur(app_cpu),
        app_cpu.as_secs_f64() * 100.0 / window,
        fmt_dur(dev_cpu),
        dev_cpu.as_secs_f64() * 100.0 / window
    );
    println!(
        "  process peak RSS (VmHWM, devnets included) {} kB",
        common::status_field(None, "VmHWM").unwrap_or(0)
    );
    std::io::stdout().flush()?;
    Ok(())
}

fn parse_size(s: &str) -> anyhow::Result<(u16, u16)> {
    let (w, h) = s
        .split_once('x')
        .context("--size is COLSxROWS, e.g. 200x60")?;
    Ok((w.parse()?, h.parse()?))
}

fn devnet_cfg(i: usize, block_time: Duration, pending_rate: u32) -> DevnetConfig {
    DevnetConfig {
        name: format!("load-{i}"),
        chain_id: 9_000 + i as u64,
        block_time,
        seed: 7 + i as u64,
        pending_rate,
        reorg_probability: 0.0,
        port: 0,
        start_block: 1_000_000,
        heads_without_txs: false,
    }
}

fn memory(
    args: &Args,
    devnet_rt: &tokio::runtime::Runtime,
    minutes: f64,
    watches: usize,
    pending: u32,
    block_ms: u64,
) -> anyhow::Result<()> {
    let bin = common::chaintop_binary()?;
    let devnets = (0..10)
        .map(|i| {
            let rate = if i == 0 { pending } else { 20 };
            devnet_rt.block_on(Devnet::start(devnet_cfg(
                i,
                Duration::from_millis(block_ms),
                rate,
            )))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let dir = tempfile::tempdir()?;
    let cfg_path = dir.path().join("chaintop.toml");
    let nets: Vec<(String, String, String, u64)> = devnets
        .iter()
        .map(|d| (d.name().to_string(), d.ws_url(), d.http_url(), d.chain_id()))
        .collect();
    common::write_config(&cfg_path, &nets, watches)?;
    let secs = minutes * 60.0;
    let mut cmd_args = vec![
        "--config".to_string(),
        cfg_path.display().to_string(),
        "--duration".to_string(),
        format!("{}", secs + 30.0),
    ];
    let (mut child, pid) = if args.headless {
        cmd_args.push("--headless".into());
        let child = std::process::Command::new(&bin)
            .args(&cmd_args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        let pid = child.id();
        (child, pid)
    } else {
        let (w, h) = parse_size(&args.size)?;
        common::spawn_tui(&bin, &cmd_args, w, h, None)?
    };
    let heads0: Vec<u64> = devnets.iter().map(Devnet::head).collect();
    let http0: Vec<u64> = devnets.iter().map(|d| d.handle().http_requests()).collect();
    let started = Instant::now();
    let mode = if args.headless { "headless" } else { "tui" };
    println!(
        "== memory [{mode}]: 10 networks ({block_ms} ms blocks), {watches} watched addresses on each, {pending}/s pending on load-0, {minutes} min"
    );
    println!("  t(s)   VmRSS(kB)  VmHWM(kB)  cpu(s)");
    let mut samples = Vec::new();
    let every = Duration::from_secs(10);
    let mut next = started;
    while started.elapsed().as_secs_f64() < secs {
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        next += every;
        let rss = common::status_field(Some(pid), "VmRSS").unwrap_or(0);
        let hwm = common::status_field(Some(pid), "VmHWM").unwrap_or(0);
        let cpu = common::cpu_of_stat(std::path::Path::new(&format!("/proc/{pid}/stat")))
            .unwrap_or_default();
        let t = started.elapsed().as_secs_f64();
        println!("  {t:5.0}  {rss:9}  {hwm:9}  {:.1}", cpu.as_secs_f64());
        samples.push((t, rss));
    }
    let _ = child.kill();
    let _ = child.wait();
    // Flatness: the head rings (HEADS_KEPT per network) fill for HEADS_KEPT block
    // times; that is the state reaching its cap, not growth. Compare the minute after
    // they are full (or minute 2 if later) with the last minute.
    let avg = |from: f64, to: f64| {
        let v: Vec<u64> = samples
            .iter()
            .filter(|(t, _)| *t >= from && *t < to)
            .map(|(_, r)| *r)
            .collect();
        v.iter().sum::<u64>() as f64 / v.len().max(1) as f64
    };
    let full = (chaintop::state::HEADS_KEPT as f64 * block_ms as f64 / 1000.0).max(60.0);
    let early = avg(full, full + 60.0);
    let late = avg(secs - 60.0, secs + 1.0);
    println!(
        "  head rings full after {full:.0} s; RSS in the minute after: avg {early:.0} kB, last minute avg {late:.0} kB: {:+.1}%",
        (late - early) * 100.0 / early.max(1.0)
    );
    for (i, d) in devnets.iter().enumerate() {
        let heads = d.head() - heads0[i];
        let http = d.handle().http_requests() - http0[i];
        println!(
            "  {}: {heads} heads, {http} HTTP requests ({:.2} per head)",
            d.name(),
            http as f64 / heads.max(1) as f64
        );
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let devnet_rt = tokio::runtime::Builder::new_multi_thread()
        .thread_name("devnet")
        .enable_all()
        .build()?;
    // Like the binary's runtime (one worker per core).
    let app_rt = tokio::runtime::Builder::new_multi_thread()
        .thread_name("chaintop")
        .enable_all()
        .build()?;
    let scenario = args.scenario.clone().unwrap_or(Scenario::All);
    let (pending_rates, heads_ms, heads_nets) = match &scenario {
        Scenario::Pending { rates } => (rates.clone(), Vec::new(), 0),
        Scenario::Watched { rates, watches } => {
            for &rate in rates {
                run_step(
                    &args,
                    &devnet_rt,
                    &app_rt,
                    Step {
                        label: format!(
                            "whole pending transactions {rate}/s on 1 network, {watches} watched, heads every 100 ms"
                        ),
                        nets: vec![devnet_cfg(0, Duration::from_millis(100), rate)],
                        watched: *watches,
                    },
                )?;
            }
            return Ok(());
        }
        Scenario::Heads { block_ms, networks } => (Vec::new(), block_ms.clone(), *networks),
        Scenario::All => (
            vec![10_000, 25_000, 50_000, 75_000, 100_000, 150_000],
            vec![10, 5, 2],
            10,
        ),
        Scenario::Memory {
            minutes,
            watches,
            pending,
            block_ms,
        } => return memory(&args, &devnet_rt, *minutes, *watches, *pending, *block_ms),
    };
    for rate in pending_rates {
        run_step(
            &args,
            &devnet_rt,
            &app_rt,
            Step {
                label: format!("pending {rate}/s on 1 network, heads every 100 ms"),
                nets: vec![devnet_cfg(0, Duration::from_millis(100), rate)],
                watched: 0,
            },
        )?;
    }
    for ms in heads_ms {
        run_step(
            &args,
            &devnet_rt,
            &app_rt,
            Step {
                label: format!(
                    "heads: {heads_nets} networks x {}/s = {}/s, 20 pending/s each",
                    1000 / ms,
                    heads_nets as u64 * 1000 / ms
                ),
                nets: (0..heads_nets)
                    .map(|i| devnet_cfg(i, Duration::from_millis(ms), 20))
                    .collect(),
                watched: 0,
            },
        )?;
    }
    Ok(())
}
