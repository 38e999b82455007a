//! The WebSocket session loop of one network and its reconnect policy.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::backoff::Backoff;
use super::logs::LogInput;
use super::watch::Watched;
use super::watchdog::Watchdog;
use super::{ChainInput, Shared};
use crate::config::{Endpoint, NetworkConfig};
use crate::event::{Command, ConnState, ConnStats, HeadSource, NetIdx, SubKind, SubStatus, Update};
use crate::rpc::frame::{self, Incoming};
use crate::rpc::http::{HttpClient, rate_limit_hint};
use crate::rpc::types::RpcRequest;
use crate::text::{Redactor, sanitize};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The node must answer `eth_chainId` and the subscriptions within this time.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pending-hash counts and stats are reported once per window.
pub const PENDING_WINDOW: Duration = Duration::from_secs(1);
/// A connection live this long resets the backoff.
const STABLE_AFTER: Duration = Duration::from_secs(60);
const BACKOFF_BASE: Duration = Duration::from_secs(1);
const BACKOFF_CAP: Duration = Duration::from_secs(30);
/// Consecutive failed connects before heads are polled over HTTP meanwhile.
const POLL_AFTER_FAILURES: u32 = 3;
/// Consecutive failed connects before moving to the next endpoint.
const FAILOVER_AFTER: u32 = 3;
/// How often a fallback connection checks whether the primary is healthy again, in
/// heartbeat intervals (60 s with the default 15 s ping).
const PRIMARY_PROBE_PINGS: u32 = 4;

const ID_CHAIN: u64 = 1;
const ID_SUB_HEADS: u64 = 2;
const ID_SUB_PENDING: u64 = 3;
/// Re-subscription of `newHeads` by the stall watchdog.
const ID_RESUB_HEADS: u64 = 4;
const ID_UNSUB: u64 = 5;
const ID_SUB_LOGS: u64 = 6;

/// Why a session ended.
struct End {
    reason: String,
    /// Go back to the primary endpoint now (it answered a health probe).
    to_primary: bool,
    /// The node asked us to wait this long (rate limit hint).
    wait_at_least: Duration,
    /// Connected and subscribed for this long (None: never got there).
    live_for: Option<Duration>,
    /// The endpoint is wrong for this network (chain id): wait long, say "failed".
    refused: bool,
    /// The user asked for a reconnect: no backoff.
    immediate: bool,
}

impl End {
    fn failed(reason: impl Into<String>) -> Self {
        Self::lost(reason, None)
    }

    /// The connection was lost after `live_for` (None: never went live).
    fn lost(reason: impl Into<String>, live_for: Option<Duration>) -> Self {
        Self {
            reason: reason.into(),
            to_primary: false,
            wait_at_least: Duration::ZERO,
            live_for,
            refused: false,
            immediate: false,
        }
    }
}

pub(crate) struct Supervisor {
    net: NetIdx,
    cfg: NetworkConfig,
    updates: mpsc::Sender<Update>,
    redactor: Arc<Redactor>,
    shared: Arc<Shared>,
    http: Option<HttpClient>,
    chain_tx: mpsc::Sender<ChainInput>,
    cmd_rx: mpsc::Receiver<Command>,
    backoff: Backoff,
    reconnects: u64,
    ever_live: bool,
    /// Consecutive sessions that never went live.
    failures: u32,
    polling_fallback: bool,
    endpoints: Vec<Endpoint>,
    /// Index into `endpoints` of the one in use.
    current: usize,
    /// Consecutive failed connects on the current endpoint.
    endpoint_failures: u32,
    /// Outlives sessions: a subscription that is silent right after a reconnect
    /// is judged against the last head seen before it.
    watchdog: Watchdog,
    last_stats: ConnStats,
    watched: Arc<Watched>,
    /// The `logs` filter and where notifications go (None: nothing to subscribe).
    logs: Option<(serde_json::Value, mpsc::Sender<LogInput>)>,
}

/// Next command that is not a watch-list change; those are applied on the way.
async fn recv_command(rx: &mut mpsc::Receiver<Command>, watched: &Watched) -> Option<Command> {
    loop {
        match rx.recv().await? {
            Command::AddWatch { address, label } => watched.add(address, label),
            Command::RemoveWatch { address } => watched.remove(address),
            other => return Some(other),
        }
    }
}

impl Supervisor {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        net: NetIdx,
        cfg: NetworkConfig,
        updates: mpsc::Sender<Update>,
        redactor: Arc<Redactor>,
        shared: Arc<Shared>,
        http: Option<HttpClient>,
        chain_tx: mpsc::Sender<ChainInput>,
        cmd_rx: mpsc::Receiver<Command>,
    ) -> Self {
        Self {
            net,
            updates,
            redactor,
            shared,
            http,
            chain_tx,
            cmd_rx,
            backoff: Backoff::new(BACKOFF_BASE, BACKOFF_CAP),
            reconnects: 0,
            ever_live: false,
            failures: 0,
            polling_fallback: false,
            endpoints: cfg.endpoints(),
            current: 0,
            endpoint_failures: 0,
            watchdog: Watchdog::default(),
            last_stats: ConnStats::default(),
            watched: Arc::default(),
            logs: None,
            cfg,
        }
    }

    /// The watched addresses to update on commands, and the `logs` subscription.
    pub(crate) fn with_watch(
        mut self,
        watched: Arc<Watched>,
        logs: Option<(serde_json::Value, mpsc::Sender<LogInput>)>,
    ) -> Self {
        self.watched = watched;
        self.logs = logs;
        self
    }

    /// Send a fact to the app; false when the app has gone away.
    async fn emit(&self, update: Update) -> bool {
        self.updates.send(update).await.is_ok()
    }

    async fn set_state(&self, state: ConnState) -> bool {
        tracing::info!(network = %self.cfg.name, state = state.name(), reason = ?state.reason());
        self.emit(Update::Connection {
            net: self.net,
            state,
        })
        .await
    }

    /// Report stats if they changed (best effort: a full channel skips a sample).
    fn report_stats(&mut self) {
        let stats = self.shared.stats();
        if stats != self.last_stats {
            if let Err(TrySendError::Full(_)) = self.updates.try_send(Update::Stats {
                net: self.net,
                stats: stats.clone(),
            }) {
                return;
            }
            self.last_stats = stats;
        }
    }

    pub(crate) async fn run(mut self) {
        loop {
            let end = match self.endpoints[self.current].ws.clone() {
                Some(url) => self.session(&url).await,
                None => self.poll_only().await,
            };
            self.watched.logs_live.store(false, Ordering::Relaxed);
            if self.updates.is_closed() {
                return;
            }
            if end.live_for.is_some_and(|d| d >= STABLE_AFTER) {
                self.backoff.reset();
            }
            // Reasons can quote the node (close frames, errors) or a URL: mask and
            // escape them once, here, before they reach any screen or log.
            let end = End {
                reason: sanitize(&self.redactor.text(&end.reason)).into_owned(),
                ..end
            };
            if !end.refused && !end.immediate {
                self.shared.error(&end.reason);
            }
            self.report_stats();
            if end.to_primary {
                self.use_endpoint(0);
            }
            if end.immediate {
                continue;
            }
            self.endpoint_failures = if end.live_for.is_some() {
                0
            } else {
                self.endpoint_failures + 1
            };
            if self.endpoint_failures >= FAILOVER_AFTER && self.endpoints.len() > 1 {
                let next = (self.current + 1) % self.endpoints.len();
                self.shared.error(format!(
                    "endpoint {} keeps failing; trying endpoint {}",
                    self.current + 1,
                    next + 1
                ));
                self.use_endpoint(next);
                self.backoff.reset();
            }
            let delay = if end.refused {
                BACKOFF_CAP
            } else {
                self.backoff
                    .next_delay()
                    .max(end.wait_at_least.min(BACKOFF_CAP))
            };
            let until = Instant::now() + delay;
            self.failures = if end.live_for.is_some() {
                0
            } else {
                self.failures + 1
            };
            // No WebSocket works for a while: follow the chain over HTTP meanwhile,
            // and keep retrying the WebSocket at the backoff times.
            let poll_after = POLL_AFTER_FAILURES * self.endpoints.len() as u32;
            if !end.refused && self.failures >= poll_after && self.http_answers().await {
                if !self.polling_fallback {
                    self.polling_fallback = true;
                    let endpoint = self
                        .http
                        .as_ref()
                        .map(|h| self.redactor.url(&h.url()))
                        .unwrap_or_default();
                    if !self.set_state(ConnState::Polling { endpoint }).await {
                        return;
                    }
                }
                if !self.poll_until(until).await {
                    return;
                }
                continue;
            }
            let state = if end.refused {
                ConnState::Failed { reason: end.reason }
            } else {
                ConnState::BackingOff {
                    until,
                    attempt: self.backoff.attempt(),
                    reason: end.reason,
                }
            };
            if !self.set_state(state).await {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(until.into()) => {}
                cmd = recv_command(&mut self.cmd_rx, &self.watched) => if cmd.is_none() { return },
            }
        }
    }

    /// Does the HTTP endpoint answer, on the right chain? (Polling a dead endpoint is
    /// not "polling", and polling the wrong chain would show its data.)
    async fn http_answers(&self) -> bool {
        match &self.http {
            Some(http) => on_chain(http, self.cfg.chain_id).await,
            None => false,
        }
    }

    /// Switch to endpoint `i`: the next session connects there, HTTP follows it.
    fn use_endpoint(&mut self, i: usize) {
        self.current = i;
        self.endpoint_failures = 0;
        if let (Some(http), Some(url)) = (&self.http, self.endpoints[i].http.as_deref()) {
            http.set_url(url);
        }
    }

    /// Is the primary endpoint healthy again (answers over HTTP, right chain)?
    async fn primary_healthy(&self) -> bool {
        let Some(url) = self.endpoints.first().and_then(|e| e.http.as_deref()) else {
            return false;
        };
        match HttpClient::new(url, self.redactor.clone(), 1 << 20) {
            Ok(probe) => on_chain(&probe, self.cfg.chain_id).await,
            Err(_) => false,
        }
    }

    /// Poll over HTTP until `until` (or a reconnect command). False when the app is gone.
    async fn poll_until(&mut self, until: Instant) -> bool {
        loop {
            if self
                .chain_tx
                .send(ChainInput::CatchUp(HeadSource::Poll))
                .await
                .is_err()
            {
                return false;
            }
            self.report_stats();
            let next = (Instant::now() + self.shared.poll_interval()).min(until);
            tokio::select! {
                _ = tokio::time::sleep_until(next.into()) => if next >= until { return true },
                cmd = recv_command(&mut self.cmd_rx, &self.watched) => return cmd.is_some(),
            }
        }
    }

    /// No WebSocket configured: follow the chain by polling HTTP.
    async fn poll_only(&mut self) -> End {
        let endpoint = self
            .cfg
            .http
            .as_deref()
            .map(|u| self.redactor.url(u))
            .unwrap_or_default();
        if !self.set_state(ConnState::Polling { endpoint }).await {
            return End::failed("app closed");
        }
        loop {
            let wait = self.shared.poll_interval();
            tokio::select! {
                _ = tokio::time::sleep(wait) => {
                    if self.chain_tx.send(ChainInput::CatchUp(HeadSource::Poll)).await.is_err() {
                        return End::failed("chain task ended");
                    }
                    self.report_stats();
                }
                cmd = recv_command(&mut self.cmd_rx, &self.watched) => match cmd {
                    Some(_) => continue,
                    None => return End::failed("app closed"),
                },
            }
        }
    }

    /// The stall watchdog's check, run once per window while subscribed to heads.
    /// Returns `Some` when the session must end (resubscribing did not help).
    async fn check_stall<S>(&mut self, ws: &mut S, subs: &[(String, SubKind)]) -> Option<End>
    where
        S: futures_util::Sink<Message> + Unpin,
        S::Error: std::fmt::Display,
    {
        let now = Instant::now();
        self.watchdog.hint_block_time(self.shared.block_time());
        if self.watchdog.resubscribe_failed(now) {
            return Some(End::failed(format!(
                "stalled: no head for {}s even after resubscribing; reconnecting",
                self.watchdog.threshold().as_secs()
            )));
        }
        if !self.watchdog.check_due(now) {
            return None;
        }
        let http = self.http.as_ref()?;
        let current: u64 = match http
            .call::<alloy_primitives::U64>("eth_blockNumber", json!([]))
            .await
        {
            Ok(n) => n.to(),
            Err(e) => {
                self.shared
                    .error(format!("stall check: eth_blockNumber: {e}"));
                return None;
            }
        };
        let last = self.watchdog.last_head_number()?;
        if current <= last || self.watchdog.resubscribed_at.is_some() {
            return None; // the chain is quiet, not us
        }
        let reason = format!(
            "no head pushed for {}s while the node is at {current} (last pushed {last}); resubscribing",
            self.watchdog.threshold().as_secs()
        );
        if !self
            .set_state(ConnState::Stalled {
                reason: reason.clone(),
            })
            .await
        {
            return Some(End::failed("app closed"));
        }
        self.shared.error(&reason);
        self.watchdog.resubscribed_at = Some(now);
        let req = |id: u64, method: &str, params: serde_json::Value| {
            Message::Text(
                serde_json::to_string(&RpcRequest::new(id, method, &params))
                    .unwrap_or_default()
                    .into(),
            )
        };
        if let Some((old, _)) = subs.iter().find(|(_, k)| *k == SubKind::NewHeads) {
            let _ = ws
                .send(req(ID_UNSUB, "eth_unsubscribe", json!([old])))
                .await;
        }
        if let Err(e) = ws
            .send(req(ID_RESUB_HEADS, "eth_subscribe", json!(["newHeads"])))
            .await
        {
            return Some(End::failed(format!("resubscribe failed: {e}")));
        }
        // Meanwhile the heads it missed are fetched over HTTP.
        let _ = self
            .chain_tx
            .send(ChainInput::CatchUp(HeadSource::Backfill))
            .await;
        None
    }

    async fn session(&mut self, url: &str) -> End {
        let endpoint = self.redactor.url(url);
        if !self
            .set_state(ConnState::Connecting {
                endpoint: endpoint.clone(),
            })
            .await
        {
            return End::failed("app closed");
        }
        let limit = self.cfg.max_message_bytes;
        // tungstenite's own cap is a safety net well above ours: a message over our
        // limit is counted and skipped without losing the connection.
        let hard_cap = limit.saturating_mul(2).max(limit + (1 << 20));
        let ws_cfg = WebSocketConfig::default()
            .max_message_size(Some(hard_cap))
            .max_frame_size(Some(hard_cap));
        let connect = tokio_tungstenite::connect_async_with_config(url, Some(ws_cfg), true);
        let mut ws = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
            Ok(Ok((ws, _))) => ws,
            Ok(Err(e)) => return End::failed(format!("connect failed: {e}")),
            Err(_) => return End::failed("connect timed out"),
        };
        let send_req = |id: u64, method: &str, params: serde_json::Value| {
            let text =
                serde_json::to_string(&RpcRequest::new(id, method, &params)).unwrap_or_default();
            Message::Text(text.into())
        };
        if let Err(e) = ws.send(send_req(ID_CHAIN, "eth_chainId", json!([]))).await {
            return End::failed(format!("send failed: {e}"));
        }

        let started = Instant::now();
        let mut live_since: Option<Instant> = None;
        let mut subs: Vec<(String, SubKind)> = Vec::with_capacity(2);
        let mut awaiting_subs = 0u8;
        let mut heads_ok = false;
        let mut polling = false;

        let ping_every = Duration::from_secs(self.cfg.ping_interval_secs.max(1));
        // The first tick is immediate: RTT is known right after connecting.
        let mut ping = tokio::time::interval(ping_every);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut ping_out: Option<(u64, Instant)> = None;
        let mut ping_seq = 0u64;

        let mut window =
            tokio::time::interval_at((Instant::now() + PENDING_WINDOW).into(), PENDING_WINDOW);
        window.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut window_start = Instant::now();
        let mut pending: u64 = 0;
        let mut pending_reported_nonzero = false;
        let mut poll = tokio::time::interval(self.shared.poll_interval());
        let mut primary_probe = tokio::time::interval_at(
            (Instant::now() + ping_every * PRIMARY_PROBE_PINGS).into(),
            ping_every * PRIMARY_PROBE_PINGS,
        );

        let live_for = |since: Option<Instant>| since.map(|s| s.elapsed());

        loop {
            tokio::select! {
                biased;
                cmd = recv_command(&mut self.cmd_rx, &self.watched) => match cmd {
                    Some(_) => {
                        let _ = ws.close(None).await;
                        return End { immediate: true, ..End::lost("reconnect requested", live_for(live_since)) };
                    }
                    None => return End::failed("app closed"),
                },
                msg = ws.next() => {
                    let msg = match msg {
                        Some(Ok(m)) => m,
                        Some(Err(e)) => return End::lost(format!("connection error: {e}"), live_for(live_since)),
                        None => return End::lost("connection closed", live_for(live_since)),
                    };
                    let probe = frame::head_probe().map(|p| (p, Instant::now()));
                    let now_ms = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
                    self.shared.messages.fetch_add(1, Ordering::Relaxed);
                    self.shared.last_message_ms.store(now_ms, Ordering::Relaxed);
                    let text = match msg {
                        Message::Text(t) => t,
                        Message::Binary(b) => { self.shared.bad_frame(format!("unexpected binary frame of {} bytes", b.len())); continue; }
                        Message::Pong(p) => {
                            if let Some((seq, at)) = ping_out
                                && p.as_ref() == seq.to_be_bytes()
                            {
                                self.shared.ping_rtt_us.store(at.elapsed().as_micros().max(1) as u64, Ordering::Relaxed);
                                ping_out = None;
                            }
                            continue;
                        }
                        Message::Ping(_) | Message::Frame(_) => continue,
                        Message::Close(frame) => {
                            let why = match frame {
                                Some(f) => format!("closed by server (code {}{}{})", u16::from(f.code), if f.reason.is_empty() { "" } else { ": " }, sanitize(&f.reason)),
                                None => "closed by server".to_string(),
                            };
                            return End::lost(why, live_for(live_since));
                        }
                    };
                    if text.len() > limit {
                        self.shared.bad_frame(format!("message of {} bytes exceeds the {limit}-byte limit", text.len()));
                        continue;
                    }
                    let incoming = match frame::decode(text.as_str()) {
                        Ok(i) => i,
                        Err(e) => { self.shared.bad_frame(e.to_string()); continue; }
                    };
                    match incoming {
                        Incoming::Notification { subscription, result } => {
                            match subs.iter().find(|(id, _)| *id == subscription).map(|(_, k)| *k) {
                                Some(SubKind::NewPendingTransactions) => match frame::decode_pending(result) {
                                    Ok(()) => pending += 1,
                                    Err(e) => self.shared.bad_frame(e.to_string()),
                                },
                                Some(SubKind::NewHeads) => match frame::decode_head(result) {
                                    Ok(b) => {
                                        if let Some((p, at)) = probe {
                                            p(self.net, b.number.to(), at);
                                        }
                                        if self.watchdog.on_head(b.number.to(), Instant::now())
                                            && !self.set_state(ConnState::Live { endpoint: endpoint.clone() }).await
                                        {
                                            return End::failed("app closed");
                                        }
                                        if self.chain_tx.send(ChainInput::Head(Box::new(b))).await.is_err() {
                                            return End::failed("chain task ended");
                                        }
                                    }
                                    Err(e) => self.shared.bad_frame(format!("newHeads: {e}")),
                                },
                                Some(SubKind::Logs) => match serde_json::from_str::<crate::rpc::types::WireLog>(result.get()) {
                                    Ok(log) => {
                                        if let Some((_, tx)) = &self.logs
                                            && tx.send(LogInput::Log(Box::new(log))).await.is_err()
                                        {
                                            return End::failed("log task ended");
                                        }
                                    }
                                    Err(e) => self.shared.bad_frame(format!("logs: {e}")),
                                },
                                None => {}
                            }
                        }
                        Incoming::Response { id: ID_CHAIN, result } => {
                            if let Err(e) = &result
                                && let Some(hint) = rate_limit_hint(e)
                            {
                                let _ = ws.close(None).await;
                                return End { wait_at_least: hint, ..End::failed(format!("rate limited: eth_chainId: {} {}", e.code, e.message)) };
                            }
                            let got = result
                                .map_err(|e| format!("eth_chainId failed: {} {}", e.code, e.message))
                                .and_then(|r| serde_json::from_str::<alloy_primitives::U64>(r.get()).map_err(|e| format!("eth_chainId: {e}")));
                            let chain_id: u64 = match got {
                                Ok(c) => c.to(),
                                Err(e) => return End::failed(e),
                            };
                            if let Some(expected) = self.cfg.chain_id
                                && expected != chain_id
                            {
                                let _ = ws.close(None).await;
                                return End {
                                    refused: true,
                                    ..End::failed(format!("chain id mismatch: expected {expected}, endpoint is on {chain_id}; refusing its data"))
                                };
                            }
                            if !self.emit(Update::ChainId { net: self.net, chain_id }).await {
                                return End::failed("app closed");
                            }
                            for (id, kind) in [(ID_SUB_HEADS, SubKind::NewHeads), (ID_SUB_PENDING, SubKind::NewPendingTransactions)] {
                                if let Err(e) = ws.send(send_req(id, "eth_subscribe", json!([kind.wire_name()]))).await {
                                    return End::failed(format!("send failed: {e}"));
                                }
                                awaiting_subs += 1;
                            }
                            if let Some((filter, _)) = &self.logs {
                                if let Err(e) = ws.send(send_req(ID_SUB_LOGS, "eth_subscribe", json!(["logs", filter]))).await {
                                    return End::failed(format!("send failed: {e}"));
                                }
                                awaiting_subs += 1;
                            }
                        }
                        Incoming::Response { id: id @ (ID_SUB_HEADS | ID_SUB_PENDING | ID_SUB_LOGS), result } => {
                            let kind = match id {
                                ID_SUB_HEADS => SubKind::NewHeads,
                                ID_SUB_PENDING => SubKind::NewPendingTransactions,
                                _ => SubKind::Logs,
                            };
                            // A rate limit is not "unsupported": back off (at least the
                            // hint) and subscribe again on the next connection.
                            if let Err(e) = &result
                                && let Some(hint) = rate_limit_hint(e)
                            {
                                let _ = ws.close(None).await;
                                return End { wait_at_least: hint, ..End::lost(format!("rate limited while subscribing: {} {}", e.code, e.message), live_for(live_since)) };
                            }
                            let status = match result.map(|r| serde_json::from_str::<String>(r.get())) {
                                Ok(Ok(sub_id)) => { subs.push((sub_id, kind)); SubStatus::Active }
                                Ok(Err(e)) => SubStatus::Unsupported(format!("bad subscription id: {e}")),
                                Err(e) => SubStatus::Unsupported(sanitize(&self.redactor.text(&format!("{} {}", e.code, e.message))).into_owned()),
                            };
                            if kind == SubKind::NewHeads { heads_ok = status == SubStatus::Active; }
                            if kind == SubKind::Logs { self.watched.logs_live.store(status == SubStatus::Active, Ordering::Relaxed); }
                            if !self.emit(Update::Subscription { net: self.net, kind, status }).await {
                                return End::failed("app closed");
                            }
                            awaiting_subs = awaiting_subs.saturating_sub(1);
                            if awaiting_subs == 0 && live_since.is_none() {
                                live_since = Some(Instant::now());
                                self.watchdog.session_started(Instant::now());
                                if !heads_ok {
                                    polling = true;
                                }
                                let state = if polling {
                                    ConnState::Polling { endpoint: endpoint.clone() }
                                } else {
                                    ConnState::Live { endpoint: endpoint.clone() }
                                };
                                self.polling_fallback = false;
                                if !self.set_state(state).await { return End::failed("app closed"); }
                                if self.ever_live {
                                    self.reconnects += 1;
                                    let _ = self.emit(Update::Reconnected { net: self.net, count: self.reconnects }).await;
                                }
                                self.ever_live = true;
                                // Fill what was missed while we were away (and show the
                                // current head at once on first connect).
                                if self.chain_tx.send(ChainInput::CatchUp(HeadSource::Backfill)).await.is_err() {
                                    return End::failed("chain task ended");
                                }
                            }
                        }
                        Incoming::Response { id: ID_RESUB_HEADS, result } => {
                            match result.map(|r| serde_json::from_str::<String>(r.get())) {
                                Ok(Ok(sub_id)) => {
                                    subs.retain(|(_, k)| *k != SubKind::NewHeads);
                                    subs.push((sub_id, SubKind::NewHeads));
                                }
                                _ => self.shared.error("re-subscribing newHeads failed"),
                            }
                        }
                        Incoming::Response { .. } => {}
                    }
                }
                _ = ping.tick() => {
                    // The ping went out at the previous tick, one interval ago (ticks
                    // are delayed, never bunched). Comparing its elapsed time with the
                    // interval instead lost to timer jitter by microseconds and let a
                    // dead connection live a whole extra interval (45 s, not 30 s).
                    if ping_out.is_some() {
                        return End::lost(format!("no pong within {}s: connection dead", ping_every.as_secs()), live_for(live_since));
                    }
                    ping_seq += 1;
                    ping_out = Some((ping_seq, Instant::now()));
                    if let Err(e) = ws.send(Message::Ping(ping_seq.to_be_bytes().to_vec().into())).await {
                        return End::lost(format!("ping failed: {e}"), live_for(live_since));
                    }
                }
                _ = window.tick() => {
                    if live_since.is_none() && started.elapsed() > HANDSHAKE_TIMEOUT {
                        return End::failed("endpoint did not answer eth_chainId / eth_subscribe in time");
                    }
                    if pending > 0 || pending_reported_nonzero {
                        let window_ms = window_start.elapsed().as_millis() as u64;
                        // Coalesced: a full channel carries the count to the next window
                        // rather than delaying heads behind pending counts.
                        match self.updates.try_send(Update::Pending { net: self.net, count: pending, window_ms }) {
                            Ok(()) => {
                                pending_reported_nonzero = pending > 0;
                                pending = 0;
                                window_start = Instant::now();
                            }
                            Err(TrySendError::Full(_)) => {
                                self.shared.pending_coalesced.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(TrySendError::Closed(_)) => return End::failed("app closed"),
                        }
                    }
                    if heads_ok && !polling && let Some(end) = self.check_stall(&mut ws, &subs).await {
                        return End { live_for: live_for(live_since), ..end };
                    }
                    self.report_stats();
                }
                _ = primary_probe.tick(), if self.current != 0 => {
                    if self.primary_healthy().await {
                        let _ = ws.close(None).await;
                        return End { to_primary: true, immediate: true, ..End::lost("primary endpoint healthy again; switching back", live_for(live_since)) };
                    }
                }
                _ = poll.tick(), if polling && self.http.is_some() => {
                    if self.chain_tx.send(ChainInput::CatchUp(HeadSource::Poll)).await.is_err() {
                        return End::failed("chain task ended");
                    }
                }
            }
        }
    }
}

/// Does this HTTP endpoint answer `eth_chainId`, with the expected id if one is set?
async fn on_chain(http: &HttpClient, want: Option<u64>) -> bool {
    match http
        .call::<alloy_primitives::U64>("eth_chainId", json!([]))
        .await
    {
        Ok(id) => want.is_none_or(|w| w == id.to::<u64>()),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::Address;

    #[tokio::test]
    async fn watch_commands_change_the_list_and_other_commands_come_through() {
        let (tx, mut rx) = mpsc::channel(8);
        let watched = Watched::new(vec![(Address::repeat_byte(1), "one".into())]);
        let (a, b) = (Address::repeat_byte(2), Address::repeat_byte(1));
        for cmd in [
            Command::AddWatch {
                address: a,
                label: "two".into(),
            },
            Command::RemoveWatch { address: b },
            Command::Reconnect,
        ] {
            tx.send(cmd).await.expect("send");
        }
        assert_eq!(
            recv_command(&mut rx, &watched).await,
            Some(Command::Reconnect)
        );
        assert_eq!(watched.addresses(), vec![(a, "two".to_string())]);
        assert_eq!(watched.label(a).as_deref(), Some("two"));
        // The watch task is woken to read the new address at once.
        tokio::time::timeout(Duration::from_secs(5), watched.changed.notified())
            .await
            .expect("notified");
        drop(tx);
        assert_eq!(recv_command(&mut rx, &watched).await, None);
    }
}
