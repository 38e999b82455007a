//! One supervisor per network: owns the network's single WebSocket (subscriptions,
//! heartbeat, reconnect with backoff), a chain task (ordering, backfill, reorgs over
//! HTTP) and a watch task (balances in one batch per head). Everything it learns goes
//! out as `Update`s on the shared bounded channel.

pub mod backoff;
pub mod chain;
mod logs;
mod session;
#[cfg(test)]
mod test_server;
mod watch;
pub mod watchdog;

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use alloy_primitives::{Address, B256, U64};
use serde_json::json;
use tokio::sync::mpsc;

use crate::config::NetworkConfig;
use crate::event::{Command, ConnStats, HeadSource, NetIdx, Update};
use crate::rpc::http::{HttpClient, HttpMeter};
use crate::rpc::types::WireBlock;
use crate::text::{Redactor, sanitize};
use chain::{BlockSource, ChainTracker, Step};

/// Blocks fetched per `eth_getBlockByNumber` batch during backfill.
pub const BACKFILL_CHUNK: u64 = 50;
/// Capacity of the channel from the WebSocket reader to the chain task.
const CHAIN_QUEUE: usize = 256;

/// Counters and the last error of one network, shared by its tasks.
#[derive(Debug)]
pub(crate) struct Shared {
    name: String,
    redactor: Arc<Redactor>,
    pub messages: AtomicU64,
    pub bad_frames: AtomicU64,
    pub errors: AtomicU64,
    pub last_message_ms: AtomicU64,
    pub ping_rtt_us: AtomicU64,
    pub pending_coalesced: AtomicU64,
    /// Smoothed block time in milliseconds (0 = unknown), from head timestamps.
    pub block_time_ms: AtomicU64,
    last_error: Mutex<Option<String>>,
    http: Option<Arc<HttpMeter>>,
}

impl Shared {
    fn new(name: String, redactor: Arc<Redactor>, http: Option<Arc<HttpMeter>>) -> Self {
        Self {
            name,
            redactor,
            messages: AtomicU64::new(0),
            bad_frames: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            last_message_ms: AtomicU64::new(0),
            ping_rtt_us: AtomicU64::new(0),
            pending_coalesced: AtomicU64::new(0),
            block_time_ms: AtomicU64::new(0),
            last_error: Mutex::new(None),
            http,
        }
    }

    /// Record an error: counted, redacted, sanitised, logged.
    pub fn error(&self, msg: impl AsRef<str>) {
        let clean = sanitize(&self.redactor.text(msg.as_ref())).into_owned();
        tracing::warn!(network = %self.name, "{clean}");
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut l) = self.last_error.lock() {
            *l = Some(clean);
        }
    }

    /// A frame that could not be used: counted as bad and as an error.
    pub fn bad_frame(&self, msg: impl AsRef<str>) {
        self.bad_frames.fetch_add(1, Ordering::Relaxed);
        self.error(format!("bad frame: {}", msg.as_ref()));
    }

    /// The smoothed block time, once two consecutive heads have been seen.
    pub fn block_time(&self) -> Option<Duration> {
        match self.block_time_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }

    /// HTTP polling interval: about half the block time, within sane bounds.
    pub fn poll_interval(&self) -> Duration {
        match self.block_time_ms.load(Ordering::Relaxed) {
            0 => Duration::from_secs(2),
            ms => Duration::from_millis(ms / 2)
                .clamp(Duration::from_millis(250), Duration::from_secs(10)),
        }
    }

    /// Fold the interval between two consecutive heads into the block-time estimate.
    fn observe_block_time(&self, secs: u64) {
        let sample = secs.saturating_mul(1000).min(600_000);
        let old = self.block_time_ms.load(Ordering::Relaxed);
        let new = if old == 0 {
            sample.max(1)
        } else {
            ((old * 7 + sample) / 8).max(1)
        };
        self.block_time_ms.store(new, Ordering::Relaxed);
    }

    pub fn stats(&self) -> ConnStats {
        let ms = self.last_message_ms.load(Ordering::Relaxed);
        let rtt = self.ping_rtt_us.load(Ordering::Relaxed);
        let http_errors = self
            .http
            .as_ref()
            .map_or(0, |m| m.errors.load(Ordering::Relaxed));
        ConnStats {
            messages: self.messages.load(Ordering::Relaxed),
            bad_frames: self.bad_frames.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed) + http_errors,
            last_message: (ms > 0).then(|| SystemTime::UNIX_EPOCH + Duration::from_millis(ms)),
            http_latency: self.http.as_ref().and_then(|m| m.latency()),
            ping_rtt: (rtt > 0).then(|| Duration::from_micros(rtt)),
            http_requests: self
                .http
                .as_ref()
                .map_or(0, |m| m.requests.load(Ordering::Relaxed)),
            pending_coalesced: self.pending_coalesced.load(Ordering::Relaxed),
            last_error: self.last_error.lock().ok().and_then(|l| l.clone()),
        }
    }
}

/// What the WebSocket side asks of the chain task.
#[derive(Debug)]
pub(crate) enum ChainInput {
    /// A `newHeads` notification.
    Head(Box<WireBlock>),
    /// (Re)connected or polling: bring the chain up to the node's current head.
    CatchUp(HeadSource),
}

/// Handle to a running network supervisor.
#[derive(Debug, Clone)]
pub struct NetworkHandle {
    pub commands: mpsc::Sender<Command>,
}

/// Capacity of the channel into the log task.
const LOG_QUEUE: usize = 1024;

/// Start the supervisor (and its chain, watch and log tasks) for one network.
/// `watches` are (address, label); tokens and contracts come from `cfg`.
pub fn spawn(
    net: NetIdx,
    cfg: NetworkConfig,
    watches: Vec<(Address, String)>,
    updates: mpsc::Sender<Update>,
    redactor: Arc<Redactor>,
) -> NetworkHandle {
    let (cmd_tx, cmd_rx) = mpsc::channel(8);
    let http = cfg.http.as_deref().and_then(|url| {
        HttpClient::new(url, redactor.clone(), cfg.max_message_bytes)
            .map_err(|e| tracing::error!(network = %cfg.name, "HTTP client: {e}"))
            .ok()
    });
    let shared = Arc::new(Shared::new(
        cfg.name.clone(),
        redactor.clone(),
        http.as_ref().map(|h| h.meter.clone()),
    ));
    let (chain_tx, chain_rx) = mpsc::channel(CHAIN_QUEUE);
    let (head_tx, head_rx) = tokio::sync::watch::channel(None);
    let watched = Arc::new(watch::Watched::new(watches));
    let decoder = logs::LogDecoder::new(&cfg.contracts, &cfg.tokens);
    let log_filter = decoder.filter();
    let (log_tx, log_rx) = mpsc::channel(LOG_QUEUE);
    let log_tx = log_filter.is_some().then_some(log_tx);
    tokio::spawn(logs::run(
        net,
        http.clone(),
        decoder,
        watched.clone(),
        log_rx,
        updates.clone(),
        shared.clone(),
    ));
    tokio::spawn(chain_task(
        net,
        http.clone(),
        chain_rx,
        updates.clone(),
        head_tx,
        shared.clone(),
        log_tx.clone().map(|tx| (tx, watched.clone())),
    ));
    if let Some(http) = http.clone() {
        tokio::spawn(watch::run(
            net,
            http,
            cfg.tokens.clone(),
            cfg.contracts.clone(),
            watched.clone(),
            head_rx,
            updates.clone(),
            shared.clone(),
        ));
    }
    let sup = session::Supervisor::new(net, cfg, updates, redactor, shared, http, chain_tx, cmd_rx)
        .with_watch(watched, log_filter.zip(log_tx));
    tokio::spawn(sup.run());
    NetworkHandle { commands: cmd_tx }
}

/// Blocks over HTTP, for backfill and reorg walk-back.
struct HttpBlocks<'a>(Option<&'a HttpClient>);

impl BlockSource for HttpBlocks<'_> {
    async fn blocks(&self, from: u64, to: u64) -> Result<Vec<WireBlock>, String> {
        let http = self.0.ok_or("no HTTP endpoint configured for backfill")?;
        let calls: Vec<(&str, serde_json::Value)> = (from..=to)
            .map(|n| ("eth_getBlockByNumber", json!([U64::from(n), false])))
            .collect();
        let results = http.batch(&calls).await.map_err(|e| e.to_string())?;
        results
            .into_iter()
            .zip(from..=to)
            .map(|(r, n)| {
                let raw = r.map_err(|e| format!("block {n}: {} {}", e.code, e.message))?;
                serde_json::from_str::<Option<WireBlock>>(raw.get())
                    .map_err(|e| format!("block {n}: {e}"))?
                    .ok_or_else(|| format!("block {n} not found"))
            })
            .collect()
    }

    async fn block_by_hash(&self, hash: B256) -> Result<Option<WireBlock>, String> {
        let http = self.0.ok_or("no HTTP endpoint configured")?;
        http.call("eth_getBlockByHash", json!([hash, false]))
            .await
            .map_err(|e| e.to_string())
    }
}

async fn chain_task(
    net: NetIdx,
    http: Option<HttpClient>,
    mut rx: mpsc::Receiver<ChainInput>,
    updates: mpsc::Sender<Update>,
    head_tx: tokio::sync::watch::Sender<Option<u64>>,
    shared: Arc<Shared>,
    // Where the logs of caught-up and (without a logs subscription) pushed heads go.
    logs: Option<(mpsc::Sender<logs::LogInput>, Arc<watch::Watched>)>,
) {
    let mut tracker = ChainTracker::default();
    let src = HttpBlocks(http.as_ref());
    let mut out = Vec::new();
    let mut prev: Option<(u64, u64)> = None;
    while let Some(input) = rx.recv().await {
        match input {
            ChainInput::Head(mut block) => {
                // geth-style newHeads carry no transaction list: look the block up so
                // the tx count is shown.
                if block.transactions.is_none()
                    && let Some(http) = &http
                {
                    match http
                        .call::<Option<WireBlock>>("eth_getBlockByHash", json!([block.hash, false]))
                        .await
                    {
                        Ok(Some(full)) if full.hash == block.hash => {
                            block.transactions = full.transactions
                        }
                        Ok(_) => {}
                        Err(e) => shared.error(format!("block details for {}: {e}", block.number)),
                    }
                }
                tracker
                    .accept(*block, HeadSource::Ws, &src, BACKFILL_CHUNK, &mut out)
                    .await;
            }
            ChainInput::CatchUp(source) => {
                let Some(http) = &http else { continue };
                let before = tracker.tip().map(|(n, _)| n);
                match http.call::<U64>("eth_blockNumber", json!([])).await {
                    Ok(current) => {
                        tracker
                            .catch_up(current.to(), source, &src, BACKFILL_CHUNK, &mut out)
                            .await
                    }
                    Err(e) => shared.error(format!("eth_blockNumber: {e}")),
                }
                // Logs of the blocks caught up on (and of the last one seen before,
                // whose logs may have been cut off; on first connect, of the first
                // head) were not pushed to us: refill them. The log task drops
                // duplicates.
                let range = match (before, tracker.tip()) {
                    (Some(from), Some((to, _))) if to > from => Some((from, to)),
                    (None, Some((to, _))) => Some((to, to)),
                    _ => None,
                };
                if let (Some((from, to)), Some((tx, _))) = (range, &logs)
                    && tx.send(logs::LogInput::Range { from, to }).await.is_err()
                {
                    return;
                }
            }
        }
        for step in out.drain(..) {
            let update = match step {
                Step::Head(head) => {
                    if let Some((n, ts)) = prev
                        && n + 1 == head.number
                    {
                        shared.observe_block_time(head.timestamp.saturating_sub(ts));
                    }
                    prev = Some((head.number, head.timestamp));
                    head_tx.send_replace(Some(head.number));
                    // Pushed heads without a live `logs` subscription (refused by the
                    // endpoint): fetch their logs. Caught-up heads get theirs above.
                    if head.source == HeadSource::Ws
                        && let Some((tx, watched)) = &logs
                        && !watched.logs_live.load(Ordering::Relaxed)
                        && tx
                            .send(logs::LogInput::Range {
                                from: head.number,
                                to: head.number,
                            })
                            .await
                            .is_err()
                    {
                        return;
                    }
                    Update::Head { net, head }
                }
                Step::Reorg(reorg) => Update::Reorg { net, reorg },
                Step::Gap { from, to, reason } => {
                    shared.error(format!(
                        "heads {from}..={to} could not be fetched: {reason}"
                    ));
                    continue;
                }
            };
            if updates.send(update).await.is_err() {
                return;
            }
        }
    }
}
