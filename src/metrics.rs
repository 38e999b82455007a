//! Prometheus metrics (`--metrics ADDR:PORT`): what the dashboard knows, as
//! `/metrics` in the Prometheus text format (prometheus-client's encoder).
//!
//! The updates stream through [`tap`] on their way to the screen (or headless) and
//! are folded into plain per-network figures; every scrape encodes them afresh
//! through a [`Collector`], so the labels (`network`, `chain_id`, `endpoint` host,
//! `provider`) are always the current ones and an age is computed when asked, never
//! left behind. The request-duration histogram and the credits come from each
//! network's meter.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use alloy_primitives::{Address, U256};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::config::Config;
use crate::cost::{DURATION_BUCKETS, Meter, Timing};
use crate::event::{ConnState, HeadSource, HttpHealth, Update};

/// Upper bounds of the reorg-depth histogram's buckets (blocks).
const DEPTH_BUCKETS: [f64; 8] = [1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 64.0];
/// Upper bounds of the first-seen delay histogram's buckets (seconds).
const DELAY_BUCKETS: [f64; 11] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
/// A pending rate older than this is not exported (pending is off, or gone quiet).
const PENDING_FRESH: Duration = Duration::from_secs(5);

/// One network's figures, as the updates left them.
#[derive(Debug, Clone, Default)]
struct Net {
    name: String,
    chain_id: Option<u64>,
    /// Host of the endpoint in use.
    endpoint: String,
    /// Number and (unix seconds) timestamp of the newest head.
    head: Option<(u64, u64)>,
    connected: bool,
    reconnects: u64,
    ping_rtt: Option<f64>,
    /// Errors by kind: HTTP states entered, connections lost.
    errors: BTreeMap<&'static str, u64>,
    http: &'static str,
    reorgs: u64,
    depths: [u64; DEPTH_BUCKETS.len()],
    depth_sum: f64,
    backfilled: u64,
    bad_frames: u64,
    pending: Option<(f64, SystemTime)>,
    /// Watched balances: by (holder, token; `None` for the native coin).
    balances: BTreeMap<(Address, Option<Address>), U256>,
    /// Token symbol and decimals, once read.
    tokens: HashMap<Address, (String, Option<u8>)>,
    labels: HashMap<Address, String>,
    /// Fired alerts sent, by rule.
    alerts_fired: BTreeMap<String, u64>,
    /// The chain group it races in (by the race's index, and its name), while it
    /// does.
    group: Option<String>,
    group_idx: Option<usize>,
    /// How much later than the group's first it delivered each head.
    delays: [u64; DELAY_BUCKETS.len()],
    delay_sum: f64,
    delay_count: u64,
    /// Heads of its group it never delivered, or only by a gap fill.
    missed: u64,
    backfilled_in_race: u64,
    /// Blocks behind the group's best head.
    lag: Option<u64>,
}

/// The figures of every network, fed by [`tap`], encoded by [`Metrics::render`].
pub struct Metrics {
    nets: Mutex<Vec<Net>>,
    meters: Vec<Arc<Meter>>,
}

fn host(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default()
}

impl Metrics {
    /// The networks of `config`, and the meter of each (same order).
    pub fn new(config: &Config, meters: Vec<Arc<Meter>>) -> Arc<Self> {
        let nets = config
            .networks
            .iter()
            .map(|n| Net {
                name: n.name.clone(),
                chain_id: n.chain_id,
                endpoint: n
                    .ws
                    .as_deref()
                    .or(n.http.as_deref())
                    .map(host)
                    .unwrap_or_default(),
                http: "ok",
                labels: config.watches_on(&n.name).collect(),
                ..Net::default()
            })
            .collect();
        Arc::new(Self {
            nets: Mutex::new(nets),
            meters,
        })
    }

    /// Fold one update in.
    pub fn observe(&self, u: &Update) {
        let Ok(mut nets) = self.nets.lock() else {
            return;
        };
        match u {
            Update::Group { group, info, .. } => {
                let racing = info.members.len() >= 2;
                for (i, n) in nets.iter_mut().enumerate() {
                    if racing && info.members.contains(&i) {
                        n.group = Some(info.name.clone());
                        n.group_idx = Some(*group);
                    } else if info.members.contains(&i) || n.group_idx == Some(*group) {
                        n.group = None;
                        n.group_idx = None;
                        n.lag = None;
                    }
                }
                return;
            }
            Update::Race { race, .. } => {
                for (i, d) in &race.deliveries {
                    let Some(n) = nets.get_mut(*i) else { continue };
                    match d {
                        crate::event::Delivery::After { ms, .. } => {
                            let s = *ms as f64 / 1000.0;
                            if let Some(b) = DELAY_BUCKETS.iter().position(|b| s <= *b) {
                                n.delays[b] += 1;
                            }
                            n.delay_sum += s;
                            n.delay_count += 1;
                        }
                        crate::event::Delivery::Backfilled => n.backfilled_in_race += 1,
                        crate::event::Delivery::Missed => n.missed += 1,
                    }
                }
                return;
            }
            _ => {}
        }
        let Some(n) = nets.get_mut(u.net()) else {
            return;
        };
        match u {
            Update::Behind { behind, .. } => n.lag = Some(*behind),
            Update::Connection { state, .. } => {
                let live = matches!(state, ConnState::Live { .. });
                if n.connected && !live {
                    *n.errors.entry("connection_lost").or_default() += 1;
                }
                n.connected = live;
                if let ConnState::Connecting { endpoint }
                | ConnState::Live { endpoint, .. }
                | ConnState::Polling { endpoint, .. } = state
                {
                    let h = host(endpoint);
                    if !h.is_empty() {
                        n.endpoint = h;
                    }
                }
            }
            Update::ChainId { chain_id, .. } => n.chain_id = Some(*chain_id),
            Update::Head { head, .. } => {
                if n.head.is_none_or(|(num, _)| head.number >= num) {
                    n.head = Some((head.number, head.timestamp));
                }
                if head.source == HeadSource::Backfill {
                    n.backfilled += 1;
                }
            }
            Update::Reorg { reorg, .. } => {
                n.reorgs += 1;
                let depth = reorg.depth as f64;
                if let Some(i) = DEPTH_BUCKETS.iter().position(|b| depth <= *b) {
                    n.depths[i] += 1;
                }
                n.depth_sum += depth;
            }
            Update::Http { health, .. } => {
                let name = health.name();
                if name != n.http && *health != HttpHealth::Ok {
                    *n.errors.entry(name).or_default() += 1;
                }
                n.http = name;
            }
            Update::Stats { stats, .. } => {
                n.bad_frames = stats.bad_frames;
                n.ping_rtt = stats.ping_rtt.map(|d| d.as_secs_f64());
            }
            Update::Reconnected { count, .. } => n.reconnects = *count,
            Update::Pending {
                count, window_ms, ..
            } if *window_ms > 0 => {
                let rate = *count as f64 * 1000.0 / *window_ms as f64;
                n.pending = Some((rate, SystemTime::now()));
            }
            Update::Balance { address, wei, .. } => {
                n.balances.insert((*address, None), *wei);
            }
            // An address watched from now on is exported with its label; one no
            // longer watched is not exported at all.
            Update::Watching { address, label, .. } => match label {
                Some(l) => {
                    n.labels.insert(*address, l.clone());
                }
                None => {
                    n.labels.remove(address);
                    n.balances.retain(|(holder, _), _| holder != address);
                }
            },
            Update::TokenBalance {
                holder,
                token,
                amount,
                ..
            } => {
                n.balances.insert((*holder, Some(*token)), *amount);
            }
            Update::Token { meta, .. } => {
                let symbol = meta
                    .symbol
                    .clone()
                    .unwrap_or_else(|| meta.address.to_string());
                n.tokens.insert(meta.address, (symbol, meta.decimals));
            }
            Update::ChainReset { .. } => {
                n.head = None;
                n.balances.clear();
            }
            // A head taken back is not the newest any more (the next one is).
            Update::HeadRetracted { number, .. }
                if n.head.is_some_and(|(num, _)| num == *number) =>
            {
                n.head = None;
            }
            Update::Alert { alert, .. } if alert.state == crate::event::AlertState::Fired => {
                *n.alerts_fired.entry(alert.rule.clone()).or_default() += 1;
            }
            _ => {}
        }
    }

    /// `/metrics` as of `now`, in the Prometheus text format (0.0.4).
    pub fn render(&self, now: SystemTime) -> String {
        let nets = self.nets.lock().map(|n| n.clone()).unwrap_or_default();
        let meters = self
            .meters
            .iter()
            .map(|m| (m.snapshot(now), m.timings()))
            .collect();
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Scrape { nets, meters, now }));
        let mut out = String::new();
        if prometheus_client::encoding::prometheus_text::encode(&mut out, &registry).is_err() {
            out.clear();
        }
        out
    }
}

/// What one scrape encodes.
#[derive(Debug)]
struct Scrape {
    nets: Vec<Net>,
    meters: Vec<(crate::cost::CostSnapshot, BTreeMap<String, Timing>)>,
    now: SystemTime,
}

type Labels = Vec<(&'static str, String)>;

impl Scrape {
    fn labels(&self, i: usize) -> Labels {
        let n = &self.nets[i];
        let provider = self
            .meters
            .get(i)
            .and_then(|(c, _)| c.provider.clone())
            .unwrap_or_default();
        vec![
            ("network", n.name.clone()),
            (
                "chain_id",
                n.chain_id.map(|c| c.to_string()).unwrap_or_default(),
            ),
            ("endpoint", n.endpoint.clone()),
            ("provider", provider),
        ]
    }

    fn now_secs(&self) -> f64 {
        self.now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    }
}

/// One metric family: its name, help, type, and a value per label set.
fn family<M: EncodeMetric>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    ty: MetricType,
    series: Vec<(Labels, M)>,
) -> Result<(), std::fmt::Error> {
    if series.is_empty() {
        return Ok(());
    }
    let mut m = enc.encode_descriptor(name, help, None, ty)?;
    for (labels, metric) in series {
        metric.encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

fn gauges<F: Fn(usize, &Net) -> Option<f64>>(s: &Scrape, f: F) -> Vec<(Labels, ConstGauge<f64>)> {
    s.nets
        .iter()
        .enumerate()
        .filter_map(|(i, n)| f(i, n).map(|v| (s.labels(i), ConstGauge::new(v))))
        .collect()
}

fn counters<F: Fn(usize, &Net) -> Option<u64>>(
    s: &Scrape,
    f: F,
) -> Vec<(Labels, ConstCounter<u64>)> {
    s.nets
        .iter()
        .enumerate()
        .filter_map(|(i, n)| f(i, n).map(|v| (s.labels(i), ConstCounter::new(v))))
        .collect()
}

/// A histogram's buckets as the encoder takes them (it sums them up): the count
/// at each bound, and what is above the last as `+Inf`.
fn buckets(bounds: &[f64], counts: &[u64], total: u64) -> Vec<(f64, u64)> {
    let mut out: Vec<(f64, u64)> = bounds.iter().copied().zip(counts.iter().copied()).collect();
    let finite: u64 = counts.iter().sum();
    out.push((f64::INFINITY, total.saturating_sub(finite)));
    out
}

/// A decimal amount in whole units (lossy: a float, as Prometheus wants).
fn whole_units(amount: U256, decimals: u8) -> f64 {
    let v: f64 = amount.to_string().parse().unwrap_or(f64::NAN);
    v / 10f64.powi(i32::from(decimals))
}

impl Collector for Scrape {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let now = self.now_secs();
        let head = |_: usize, n: &Net| n.head.map(|(num, _)| num as f64);
        family(
            &mut enc,
            "chaintop_head_block_number",
            "Number of the newest head shown.",
            MetricType::Gauge,
            gauges(self, head),
        )?;
        // The ethereum-metrics-exporter name, so its dashboards show the head too.
        let compat = gauges(self, head)
            .into_iter()
            .map(|(mut l, g)| {
                l.insert(0, ("identifier", "head".to_string()));
                (l, g)
            })
            .collect();
        family(
            &mut enc,
            "eth_exe_block_most_recent_number",
            "Newest head (ethereum-metrics-exporter's name).",
            MetricType::Gauge,
            compat,
        )?;
        family(
            &mut enc,
            "chaintop_head_age_seconds",
            "Seconds since the newest head's timestamp, as of the scrape.",
            MetricType::Gauge,
            gauges(self, |_, n| {
                n.head.map(|(_, ts)| (now - ts as f64).max(0.0))
            }),
        )?;
        family(
            &mut enc,
            "chaintop_ws_connected",
            "1 while the WebSocket is live, else 0.",
            MetricType::Gauge,
            gauges(self, |_, n| Some(if n.connected { 1.0 } else { 0.0 })),
        )?;
        family(
            &mut enc,
            "chaintop_ws_reconnects",
            "WebSocket connections re-established.",
            MetricType::Counter,
            counters(self, |_, n| Some(n.reconnects)),
        )?;
        family(
            &mut enc,
            "chaintop_ws_ping_rtt_seconds",
            "Last WebSocket ping round trip.",
            MetricType::Gauge,
            // Only while live: a round trip of a connection gone is not current.
            gauges(self, |_, n| n.ping_rtt.filter(|_| n.connected)),
        )?;
        self.encode_durations(&mut enc)?;
        let errors = self
            .nets
            .iter()
            .enumerate()
            .flat_map(|(i, n)| {
                n.errors.iter().map(move |(kind, c)| {
                    let mut l = self.labels(i);
                    l.push(("kind", (*kind).to_string()));
                    (l, ConstCounter::new(*c))
                })
            })
            .collect();
        let fired = self
            .nets
            .iter()
            .enumerate()
            .flat_map(|(i, n)| {
                n.alerts_fired.iter().map(move |(rule, c)| {
                    let mut l = self.labels(i);
                    l.push(("alert", rule.clone()));
                    (l, ConstCounter::new(*c))
                })
            })
            .collect();
        family(
            &mut enc,
            "chaintop_alerts_fired",
            "Alerts fired and sent (repeats held back by the cooldown are not counted).",
            MetricType::Counter,
            fired,
        )?;
        family(
            &mut enc,
            "chaintop_rpc_errors",
            "Errors by kind: HTTP rate limits, backoffs and failures entered, connections lost.",
            MetricType::Counter,
            errors,
        )?;
        family(
            &mut enc,
            "chaintop_reorgs",
            "Reorganisations seen.",
            MetricType::Counter,
            counters(self, |_, n| Some(n.reorgs)),
        )?;
        self.encode_depths(&mut enc)?;
        family(
            &mut enc,
            "chaintop_backfilled_blocks",
            "Heads fetched over HTTP (missed by the WebSocket).",
            MetricType::Counter,
            counters(self, |_, n| Some(n.backfilled)),
        )?;
        family(
            &mut enc,
            "chaintop_bad_frames",
            "WebSocket frames refused (undecodable, too big, hostile).",
            MetricType::Counter,
            counters(self, |_, n| Some(n.bad_frames)),
        )?;
        let fresh = |t: SystemTime| self.now.duration_since(t).is_ok_and(|d| d <= PENDING_FRESH);
        family(
            &mut enc,
            "chaintop_pending_tx_per_second",
            "Pending transaction hashes a second (absent while pending is off or quiet).",
            MetricType::Gauge,
            gauges(self, |_, n| {
                n.pending.filter(|(_, t)| fresh(*t)).map(|(r, _)| r)
            }),
        )?;
        let credits = self
            .meters
            .iter()
            .enumerate()
            .filter(|(i, _)| *i < self.nets.len())
            .map(|(i, (c, _))| {
                let mut l = self.labels(i);
                l.push(("unit", c.unit.clone()));
                (l, ConstCounter::new(c.total))
            })
            .collect();
        family(
            &mut enc,
            "chaintop_credits",
            "What the traffic cost, in the provider's unit.",
            MetricType::Counter,
            credits,
        )?;
        self.encode_race(&mut enc)?;
        self.encode_balances(&mut enc)
    }
}

impl Scrape {
    fn encode_durations(&self, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        if self.meters.iter().all(|(_, t)| t.is_empty()) {
            return Ok(());
        }
        let mut m = enc.encode_descriptor(
            "chaintop_http_request_duration_seconds",
            "HTTP requests answered, by method (`batch`: several methods).",
            None,
            MetricType::Histogram,
        )?;
        for (i, (_, timings)) in self.meters.iter().enumerate().take(self.nets.len()) {
            for (method, t) in timings {
                let mut labels = self.labels(i);
                labels.push(("method", method.clone()));
                let buckets = buckets(&DURATION_BUCKETS, &t.buckets, t.count);
                m.encode_family(&labels)?
                    .encode_histogram::<NoLabelSet>(t.sum, t.count, &buckets, None)?;
            }
        }
        Ok(())
    }

    /// The race's figures, of the networks in a chain group (labelled with it).
    fn encode_race(&self, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let grouped = |i: usize, n: &Net| {
            let mut l = self.labels(i);
            l.push(("group", n.group.clone()?));
            Some(l)
        };
        let racing: Vec<(usize, &Net)> = self
            .nets
            .iter()
            .enumerate()
            .filter(|(_, n)| n.group.is_some())
            .collect();
        if racing.is_empty() {
            return Ok(());
        }
        let mut m = enc.encode_descriptor(
            "chaintop_block_first_seen_delay_seconds",
            "How much later than its chain group's first endpoint this one delivered each head.",
            None,
            MetricType::Histogram,
        )?;
        for &(i, n) in &racing {
            let Some(labels) = grouped(i, n) else {
                continue;
            };
            let buckets = buckets(&DELAY_BUCKETS, &n.delays, n.delay_count);
            m.encode_family(&labels)?.encode_histogram::<NoLabelSet>(
                n.delay_sum,
                n.delay_count,
                &buckets,
                None,
            )?;
        }
        let lags = racing
            .iter()
            .filter_map(|&(i, n)| Some((grouped(i, n)?, ConstGauge::new(n.lag? as f64))))
            .collect();
        family(
            enc,
            "chaintop_head_lag_blocks",
            "Blocks this endpoint's head is behind the best head of its chain group.",
            MetricType::Gauge,
            lags,
        )?;
        let mut missed = Vec::new();
        for &(i, n) in &racing {
            for (how, count) in [("missed", n.missed), ("backfilled", n.backfilled_in_race)] {
                let Some(mut l) = grouped(i, n) else { continue };
                l.push(("how", how.to_string()));
                missed.push((l, ConstCounter::new(count)));
            }
        }
        family(
            enc,
            "chaintop_race_heads_not_delivered",
            "Heads of its chain group this endpoint never delivered (`missed`) or only fetched to fill a gap (`backfilled`).",
            MetricType::Counter,
            missed,
        )
    }

    fn encode_depths(&self, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut m = enc.encode_descriptor(
            "chaintop_reorg_depth",
            "Depth of each reorganisation (blocks replaced).",
            None,
            MetricType::Histogram,
        )?;
        for (i, n) in self.nets.iter().enumerate() {
            let buckets = buckets(&DEPTH_BUCKETS, &n.depths, n.reorgs);
            m.encode_family(&self.labels(i))?
                .encode_histogram::<NoLabelSet>(n.depth_sum, n.reorgs, &buckets, None)?;
        }
        Ok(())
    }

    fn encode_balances(&self, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut series = Vec::new();
        for (i, n) in self.nets.iter().enumerate() {
            for ((holder, token), amount) in &n.balances {
                let (symbol, decimals) = match token {
                    None => ("native".to_string(), Some(18)),
                    Some(t) => match n.tokens.get(t) {
                        Some((s, d)) => (s.clone(), *d),
                        None => continue,
                    },
                };
                // Without its decimals a token amount is not in whole units.
                let Some(decimals) = decimals else { continue };
                let mut l = self.labels(i);
                let label = n
                    .labels
                    .get(holder)
                    .cloned()
                    .unwrap_or_else(|| holder.to_string());
                l.push(("label", label));
                l.push(("address", holder.to_string()));
                l.push(("token", symbol));
                // Two tokens may share a symbol: the contract keeps their series apart.
                let contract = token.map_or_else(|| "native".to_string(), |t| t.to_string());
                l.push(("token_address", contract));
                series.push((l, ConstGauge::new(whole_units(*amount, decimals))));
            }
        }
        family(
            enc,
            "chaintop_watch_balance",
            "A watched address's balance in whole units (native coin or token).",
            MetricType::Gauge,
            series,
        )
    }
}

/// `--metrics`' address: loopback, unless remote scrapes are allowed explicitly.
pub fn check_addr(addr: SocketAddr, allow_remote: bool) -> Result<(), String> {
    if addr.ip().is_loopback() || allow_remote {
        Ok(())
    } else {
        Err(format!(
            "--metrics {addr}: not a loopback address; add --metrics-allow-remote to serve \
             metrics to other machines"
        ))
    }
}

/// The longest request head read before answering.
const MAX_REQUEST: usize = 8192;
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Serve `GET /metrics` (and 404 for anything else) on `listener`, one short-lived
/// connection at a time per client.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>) {
    loop {
        // Out of file descriptors, a connection reset before it was accepted: the
        // server goes on.
        let mut s = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::warn!("metrics: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 1024];
            let read = tokio::time::timeout(READ_TIMEOUT, async {
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < MAX_REQUEST {
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return false,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                true
            })
            .await;
            if !matches!(read, Ok(true)) {
                return;
            }
            let line = String::from_utf8_lossy(&buf);
            let mut parts = line.split_whitespace();
            let (method, path) = (parts.next(), parts.next());
            let path = path.map(|p| p.split('?').next().unwrap_or(p));
            let (status, body) = match (method, path) {
                (Some("GET"), Some("/metrics")) => ("200 OK", metrics.render(SystemTime::now())),
                _ => (
                    "404 Not Found",
                    "only /metrics is served here\n".to_string(),
                ),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\ncontent-type: text/plain; version=0.0.4; charset=utf-8\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            // A client that does not read is let go.
            let _ = tokio::time::timeout(READ_TIMEOUT, async {
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(body.as_bytes()).await;
                let _ = s.shutdown().await;
            })
            .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{NetworkConfig, WatchConfig};
    use crate::event::{Head, Reorg, TokenMeta};
    use alloy_primitives::B256;

    fn config() -> Config {
        let mut n = NetworkConfig::new(
            "main",
            Some("wss://node.example.com/ws/SECRET".into()),
            Some("https://node.example.com/SECRET".into()),
        );
        n.chain_id = Some(1);
        Config {
            watch: vec![WatchConfig {
                address: Address::repeat_byte(0xaa),
                label: "treasury".into(),
                networks: None,
            }],
            ..Config::with_networks(vec![n])
        }
    }

    fn head(number: u64, timestamp: u64, source: HeadSource) -> Update {
        Update::Head {
            net: 0,
            head: Head {
                number,
                hash: B256::with_last_byte(number as u8),
                parent_hash: B256::ZERO,
                timestamp,
                gas_used: 0,
                gas_limit: 0,
                base_fee: None,
                tx_count: None,
                source,
                seen: None,
            },
        }
    }

    /// The value of the one sample of `name` whose labels contain `with`.
    fn sample(text: &str, name: &str, with: &str) -> Option<f64> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .find(|l| l.starts_with(&format!("{name}{{")) && l.contains(with))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    #[test]
    fn updates_become_metrics_with_current_labels_and_ages_as_of_the_scrape() {
        let m = Metrics::new(&config(), vec![Meter::new(None)]);
        m.observe(&head(100, 1_000, HeadSource::Ws));
        m.observe(&head(99, 990, HeadSource::Backfill));
        m.observe(&Update::Reorg {
            net: 0,
            reorg: Reorg {
                depth: 3,
                from_number: 98,
                old_hash: B256::ZERO,
                new_hash: B256::ZERO,
                orphaned: Vec::new(),
                deeper_than_tracked: false,
            },
        });
        m.observe(&Update::Token {
            net: 0,
            meta: TokenMeta {
                address: Address::repeat_byte(0x70),
                symbol: Some("USDC".into()),
                name: None,
                decimals: Some(6),
            },
        });
        m.observe(&Update::TokenBalance {
            net: 0,
            holder: Address::repeat_byte(0xaa),
            token: Address::repeat_byte(0x70),
            amount: U256::from(2_500_000u64),
            block: 100,
        });
        m.observe(&Update::Balance {
            net: 0,
            address: Address::repeat_byte(0xaa),
            wei: U256::from(1_500_000_000_000_000_000u128),
            block: 100,
        });
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_012);
        let text = m.render(at);
        let labels = r#"network="main",chain_id="1",endpoint="node.example.com""#;
        assert_eq!(
            sample(&text, "chaintop_head_block_number", labels),
            Some(100.0),
            "{text}"
        );
        assert_eq!(
            sample(
                &text,
                "eth_exe_block_most_recent_number",
                r#"identifier="head""#
            ),
            Some(100.0)
        );
        assert_eq!(
            sample(&text, "chaintop_head_age_seconds", labels),
            Some(12.0)
        );
        assert_eq!(
            sample(&text, "chaintop_backfilled_blocks_total", labels),
            Some(1.0)
        );
        assert_eq!(sample(&text, "chaintop_reorgs_total", labels), Some(1.0));
        assert_eq!(
            sample(&text, "chaintop_reorg_depth_bucket", r#"le="2""#),
            Some(0.0),
            "{text}"
        );
        assert_eq!(
            sample(&text, "chaintop_reorg_depth_bucket", r#"le="3""#),
            Some(1.0)
        );
        assert_eq!(
            sample(&text, "chaintop_reorg_depth_bucket", r#"le="+Inf""#),
            Some(1.0)
        );
        assert_eq!(
            sample(&text, "chaintop_reorg_depth_count", labels),
            Some(1.0)
        );
        assert_eq!(
            sample(&text, "chaintop_watch_balance", r#"token="USDC""#),
            Some(2.5)
        );
        assert_eq!(
            sample(
                &text,
                "chaintop_watch_balance",
                &format!(r#"token_address="{}""#, Address::repeat_byte(0x70))
            ),
            Some(2.5)
        );
        assert_eq!(
            sample(&text, "chaintop_watch_balance", r#"label="treasury""#),
            Some(1.5)
        );
        assert_eq!(
            sample(&text, "chaintop_credits_total", r#"unit="requests""#),
            Some(0.0)
        );
        // The key in the URL's path never becomes a label.
        assert!(!text.contains("SECRET"), "{text}");
        // Later, the same head is older: ages are computed when asked.
        let later = m.render(at + Duration::from_secs(30));
        assert_eq!(
            sample(&later, "chaintop_head_age_seconds", labels),
            Some(42.0)
        );
    }

    #[test]
    fn the_watch_list_changed_at_run_time_changes_the_balance_series() {
        let m = Metrics::new(&config(), vec![Meter::new(None)]);
        let (treasury, new) = (Address::repeat_byte(0xaa), Address::repeat_byte(0xbb));
        let balance = |address| Update::Balance {
            net: 0,
            address,
            wei: U256::from(2_000_000_000_000_000_000u128),
            block: 1,
        };
        m.observe(&Update::Watching {
            net: 0,
            address: new,
            label: Some("hot wallet".into()),
        });
        m.observe(&balance(treasury));
        m.observe(&balance(new));
        let text = m.render(SystemTime::now());
        assert_eq!(
            sample(&text, "chaintop_watch_balance", r#"label="hot wallet""#),
            Some(2.0),
            "{text}"
        );
        // No longer watched: its series goes, the others stay.
        m.observe(&Update::Watching {
            net: 0,
            address: treasury,
            label: None,
        });
        let text = m.render(SystemTime::now());
        assert_eq!(
            sample(&text, "chaintop_watch_balance", r#"label="treasury""#),
            None,
            "{text}"
        );
        assert!(!text.contains(&treasury.to_string()), "{text}");
        assert_eq!(
            sample(&text, "chaintop_watch_balance", r#"label="hot wallet""#),
            Some(2.0)
        );
    }

    /// Every series the shipped Grafana dashboard queries is one chaintop exports.
    #[test]
    fn the_grafana_dashboard_asks_only_for_exported_metrics() {
        let meter = Meter::new(None);
        meter.timed(&["eth_call"], Duration::from_millis(30));
        // Two providers of one chain, for the race's series.
        let mut cfg = config();
        let mut b = cfg.networks[0].clone();
        b.name = "backup".into();
        cfg.networks.push(b);
        let m = Metrics::new(&cfg, vec![meter, Meter::new(None)]);
        m.observe(&Update::Group {
            net: 0,
            group: 0,
            info: Box::new(crate::event::ChainGroup {
                name: "eth".into(),
                chain_id: Some(1),
                members: vec![0, 1],
            }),
        });
        m.observe(&Update::Behind {
            net: 1,
            group: 0,
            behind: 1,
            best: 100,
        });
        m.observe(&Update::Connection {
            net: 0,
            state: ConnState::Live {
                endpoint: "wss://node.example.com/ws".into(),
            },
        });
        m.observe(&head(100, 1_000, HeadSource::Ws));
        m.observe(&Update::Stats {
            net: 0,
            stats: crate::event::ConnStats {
                ping_rtt: Some(Duration::from_millis(5)),
                ..Default::default()
            },
        });
        m.observe(&Update::Pending {
            net: 0,
            count: 30,
            window_ms: 1_000,
        });
        m.observe(&Update::Http {
            net: 0,
            health: HttpHealth::Failing {
                reason: "500".into(),
                in_a_row: 1,
            },
        });
        m.observe(&Update::Balance {
            net: 0,
            address: Address::repeat_byte(0xaa),
            wei: U256::from(1u8),
            block: 100,
        });
        let text = m.render(SystemTime::now());
        let exported: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split('{').next())
            .collect();
        let dashboard = include_str!("../assets/grafana-dashboard.json");
        let mut asked = 0;
        for (i, _) in dashboard.match_indices("chaintop_") {
            let name: String = dashboard[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if name == "chaintop_" {
                continue;
            }
            asked += 1;
            assert!(
                exported.contains(&name.as_str()),
                "{name} is not exported:\n{text}"
            );
        }
        assert!(asked >= 10, "{asked}");
        assert_eq!(
            sample(&text, "chaintop_pending_tx_per_second", "main"),
            Some(30.0)
        );
        assert_eq!(
            sample(&text, "chaintop_rpc_errors_total", r#"kind="failing""#),
            Some(1.0)
        );
    }

    #[test]
    fn only_loopback_unless_remote_is_allowed() {
        let local: SocketAddr = "127.0.0.1:9000".parse().expect("addr");
        let any: SocketAddr = "0.0.0.0:9000".parse().expect("addr");
        assert!(check_addr(local, false).is_ok());
        assert!(check_addr(any, false).is_err_and(|e| e.contains("--metrics-allow-remote")));
        assert!(check_addr(any, true).is_ok());
    }

    #[test]
    fn a_group_race_exports_each_endpoints_delays_and_lag_with_its_group() {
        use crate::event::{ChainGroup, Delivery, RaceResult};
        let mut cfg = config();
        let mut b = cfg.networks[0].clone();
        b.name = "backup".into();
        cfg.networks.push(b);
        let m = Metrics::new(&cfg, vec![Meter::new(None), Meter::new(None)]);
        let text = m.render(SystemTime::now());
        assert!(!text.contains("first_seen"), "no group, no race: {text}");
        m.observe(&Update::Group {
            net: 0,
            group: 0,
            info: Box::new(ChainGroup {
                name: "eth".into(),
                chain_id: Some(1),
                members: vec![0, 1],
            }),
        });
        for ms in [0, 300, 300] {
            m.observe(&Update::Race {
                net: 0,
                race: Box::new(RaceResult {
                    group: 0,
                    number: 1,
                    hash: B256::ZERO,
                    first: 0,
                    first_at: SystemTime::now(),
                    deliveries: vec![
                        (
                            0,
                            Delivery::After {
                                ms: 0,
                                source: HeadSource::Ws,
                            },
                        ),
                        (
                            1,
                            if ms == 0 {
                                Delivery::Missed
                            } else {
                                Delivery::After {
                                    ms,
                                    source: HeadSource::Ws,
                                }
                            },
                        ),
                    ],
                }),
            });
        }
        m.observe(&Update::Behind {
            net: 1,
            group: 0,
            behind: 2,
            best: 9,
        });
        let text = m.render(SystemTime::now());
        let name = "chaintop_block_first_seen_delay_seconds";
        let with = "network=\"backup\"";
        assert_eq!(
            sample(&text, &format!("{name}_count"), with),
            Some(2.0),
            "{text}"
        );
        assert_eq!(sample(&text, &format!("{name}_sum"), with), Some(0.6));
        assert!(
            text.contains(&format!("{name}_bucket{{network=\"backup\""))
                && text.contains("group=\"eth\""),
            "{text}"
        );
        // Two at 300 ms: none up to 0.25 s, both up to 0.5 s.
        // The sample of `name` on the backup's series with these labels too.
        let find = |name: &str, with: &str| {
            text.lines()
                .find(|l| {
                    l.starts_with(&format!("{name}{{"))
                        && l.contains("network=\"backup\"")
                        && l.contains(with)
                })
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|v| v.parse::<f64>().ok())
        };
        let bucket = format!("{name}_bucket");
        assert_eq!(
            (find(&bucket, "le=\"0.25\""), find(&bucket, "le=\"0.5\"")),
            (Some(0.0), Some(2.0)),
            "{text}"
        );
        assert_eq!(find("chaintop_head_lag_blocks", "group=\"eth\""), Some(2.0));
        let lost = "chaintop_race_heads_not_delivered_total";
        assert_eq!(find(lost, "how=\"missed\""), Some(1.0));
        assert_eq!(find(lost, "how=\"backfilled\""), Some(0.0));
    }
}
