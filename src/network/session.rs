//! The WebSocket of one network: [`Supervisor`] owns what outlives a connection
//! (backoff, endpoints, the stall watchdog, counters) and decides what to do when one
//! ends; [`Conn`] is one connection, an actor whose `select!` arms each call one
//! handler. Requests in flight are a map from id to purpose; subscriptions are kept
//! by kind, with the server's ids mapped to them.
//!
//! Heads come from one of two places, never neither: pushed by `newHeads`, or
//! polled over HTTP ([`Heads::Polling`]) when the subscription is refused, stalls
//! twice in a row, or no WebSocket works at all.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};

use super::backoff::Backoff;
use super::logs::LogInput;
use super::watch::Watched;
use super::watchdog::Watchdog;
use super::{ChainInput, Shared};
use crate::config::{Endpoint, NetworkConfig};
use crate::event::{Command, ConnState, HeadSource, NetIdx, SubKind, SubStatus, Update};
use crate::rpc::frame::{self, Incoming};
use crate::rpc::http::{HttpClient, rate_limit_hint};
use crate::rpc::types::RpcRequest;
use crate::text::{Redactor, sanitize};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The node must answer `eth_chainId` and the subscriptions within this time.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pending-hash counts are reported once per window; the watchdog runs per window.
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
/// Stalls in a row after which heads are polled instead of waited for.
const STALLS_TO_POLL: u32 = 2;
/// Pushed heads in a row after which earlier stalls are forgiven.
const HEADS_TO_FORGIVE: u32 = 10;
/// While polling because `newHeads` stalled, how often it is subscribed again.
const RESUBSCRIBE_EVERY: Duration = Duration::from_secs(30);
/// While waiting to reconnect, how often the node's HTTP side is asked whether it
/// is back (an answer after failures means: reconnect now).
const PROBE_EVERY: Duration = Duration::from_secs(2);
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The app (or a task the connection feeds) has gone away: stop.
#[derive(Debug)]
pub(crate) struct AppGone;

type Flow = Result<ControlFlow<End>, AppGone>;

/// Why a connection ended.
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

fn stop(end: End) -> Flow {
    Ok(ControlFlow::Break(end))
}

const GO: Flow = Ok(ControlFlow::Continue(()));

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

/// Heads over HTTP at about half the block time.
struct Poller {
    next: Instant,
}

impl Poller {
    fn new() -> Self {
        Self {
            next: Instant::now(),
        }
    }

    /// Ask the chain task for a poll; the next one is due half a block later.
    async fn poll(&mut self, sup: &Supervisor) -> Result<(), AppGone> {
        self.next = Instant::now() + sup.shared.poll_interval();
        sup.chain(ChainInput::CatchUp {
            source: HeadSource::Poll,
            connected: false,
        })
        .await
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
    endpoints: Vec<Endpoint>,
    /// Index into `endpoints` of the one in use.
    current: usize,
    /// Consecutive failed connects on the current endpoint.
    endpoint_failures: u32,
    /// Outlives sessions: a subscription that is silent right after a reconnect
    /// is judged against the last head seen before it.
    watchdog: Watchdog,
    /// Stalls of `newHeads` in a row (across reconnects).
    stalls: u32,
    /// Pushed heads since the last stall.
    heads_since_stall: u32,
    /// The HTTP side failed the last probe: its next answer means the node is back.
    http_down: bool,
    watched: Arc<Watched>,
    /// The `logs` filter and where notifications go (None: nothing to subscribe).
    logs: Option<(serde_json::Value, mpsc::Sender<LogInput>)>,
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
            endpoints: cfg.endpoints(),
            current: 0,
            endpoint_failures: 0,
            watchdog: Watchdog::default(),
            stalls: 0,
            heads_since_stall: 0,
            http_down: false,
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

    /// Send a fact to the app.
    async fn emit(&self, update: Update) -> Result<(), AppGone> {
        self.updates.send(update).await.map_err(|_| AppGone)
    }

    async fn chain(&self, input: ChainInput) -> Result<(), AppGone> {
        self.chain_tx.send(input).await.map_err(|_| AppGone)
    }

    async fn set_state(&self, state: ConnState) -> Result<(), AppGone> {
        tracing::info!(network = %self.cfg.name, state = state.name(), reason = ?state.reason());
        self.emit(Update::Connection {
            net: self.net,
            state,
        })
        .await
    }

    /// The endpoint as shown: without its path and query (keys live there) unless
    /// the network asked for them.
    fn shown(&self, url: &str) -> String {
        self.cfg.shown_url(url, &self.redactor)
    }

    fn http_endpoint(&self) -> String {
        self.http
            .as_ref()
            .map(|h| self.shown(&h.url()))
            .unwrap_or_default()
    }

    pub(crate) async fn run(mut self) {
        let _ = self.supervise().await;
    }

    async fn supervise(&mut self) -> Result<(), AppGone> {
        loop {
            let end = match self.endpoints[self.current].ws.clone() {
                Some(url) => Conn::open(self, &url).await?,
                None => return self.poll_only().await,
            };
            self.watched.logs_live.store(false, Ordering::Relaxed);
            if self.updates.is_closed() {
                return Err(AppGone);
            }
            self.after(end).await?;
        }
    }

    /// A connection ended: count it, pick the endpoint and wait before the next.
    async fn after(&mut self, end: End) -> Result<(), AppGone> {
        if end.live_for.is_some_and(|d| d >= STABLE_AFTER) {
            self.backoff.reset();
        }
        // Reasons can quote the node (close frames, errors) or a URL: mask and
        // escape them once, here, before they reach any screen or log.
        let reason = sanitize(&self.redactor.text(&end.reason)).into_owned();
        if !end.refused && !end.immediate {
            self.shared.error(&reason);
        }
        if end.to_primary {
            self.use_endpoint(0);
        }
        if end.immediate {
            return Ok(());
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
        if end.refused {
            self.set_state(ConnState::Failed { reason, until }).await?;
            return self.wait(until, None).await;
        }
        // No WebSocket works for a while: follow the chain over HTTP meanwhile, and
        // keep retrying the WebSocket at the backoff times.
        let poll_after = POLL_AFTER_FAILURES * self.endpoints.len() as u32;
        if self.failures >= poll_after && self.http_answers().await {
            self.set_state(ConnState::Polling {
                endpoint: self.http_endpoint(),
                reason: format!("WebSocket down, polling HTTP: {reason}"),
                retry_at: Some(until),
            })
            .await?;
            return self.wait(until, Some(Poller::new())).await;
        }
        self.set_state(ConnState::BackingOff {
            until,
            attempt: self.backoff.attempt(),
            reason,
        })
        .await?;
        self.wait(until, None).await
    }

    /// Wait until `until` (polling heads meanwhile if `poller`), or less: a command,
    /// or the node's HTTP side answering again after it failed (the node is back).
    async fn wait(&mut self, until: Instant, mut poller: Option<Poller>) -> Result<(), AppGone> {
        let mut probe = Instant::now() + PROBE_EVERY;
        loop {
            let poll_at = poller.as_ref().map(|p| p.next);
            let next = [Some(until), poll_at, Some(probe)]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(until);
            tokio::select! {
                _ = tokio::time::sleep_until(next.into()) => {}
                cmd = recv_command(&mut self.cmd_rx, &self.watched) => match cmd {
                    Some(_) => return Ok(()),
                    None => return Err(AppGone),
                },
            }
            let now = Instant::now();
            if now >= until {
                return Ok(());
            }
            if let Some(p) = poller.as_mut()
                && now >= p.next
            {
                p.poll(self).await?;
            }
            if now >= probe {
                probe = now + PROBE_EVERY;
                if poller.is_none() && self.probe_back().await {
                    self.shared
                        .error("the node answers over HTTP again: reconnecting now");
                    return Ok(());
                }
            }
        }
    }

    /// Did the node's HTTP side just come back after failing?
    async fn probe_back(&mut self) -> bool {
        let Some(http) = &self.http else {
            return false;
        };
        let ok = tokio::time::timeout(PROBE_TIMEOUT, on_chain(http, self.cfg.chain_id))
            .await
            .unwrap_or(false);
        let back = ok && self.http_down;
        self.http_down = !ok;
        back
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

    /// No WebSocket configured: follow the chain by polling HTTP.
    async fn poll_only(&mut self) -> Result<(), AppGone> {
        self.set_state(ConnState::Polling {
            endpoint: self.http_endpoint(),
            reason: "HTTP only (no WebSocket configured)".into(),
            retry_at: None,
        })
        .await?;
        let mut poller = Poller::new();
        self.chain(ChainInput::CatchUp {
            source: HeadSource::Poll,
            connected: true,
        })
        .await?;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(poller.next.into()) => poller.poll(self).await?,
                cmd = recv_command(&mut self.cmd_rx, &self.watched) => if cmd.is_none() { return Err(AppGone) },
            }
        }
    }
}

/// What an in-flight request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    ChainId,
    Subscribe(SubKind),
    /// The watchdog's new `newHeads` subscription.
    Resubscribe,
    Unsubscribe,
}

/// Where heads come from on this connection.
#[derive(Debug)]
enum Heads {
    /// Waiting for the subscription's answer.
    Pending,
    /// Pushed by `newHeads`.
    Pushed,
    /// `newHeads` went quiet while the chain moved on: resubscribed, and polled over
    /// HTTP until a pushed head arrives again.
    Stalled { poller: Poller },
    /// Polled over HTTP; `resubscribe_at` tries `newHeads` again (None: refused),
    /// `retries` so far (every third is a reconnect instead).
    Polling {
        poller: Poller,
        resubscribe_at: Option<Instant>,
        retries: u32,
    },
}

impl Heads {
    fn poller(&mut self) -> Option<&mut Poller> {
        match self {
            Heads::Stalled { poller } | Heads::Polling { poller, .. } => Some(poller),
            Heads::Pending | Heads::Pushed => None,
        }
    }
}

/// A join handle as a future that never resolves when there is none.
async fn join_opt<T>(h: &mut Option<JoinHandle<T>>) -> Result<T, tokio::task::JoinError> {
    match h.as_mut() {
        Some(h) => h.await,
        None => std::future::pending().await,
    }
}

impl std::fmt::Debug for Poller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poller").finish_non_exhaustive()
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One WebSocket connection.
struct Conn<'a> {
    sup: &'a mut Supervisor,
    ws: Ws,
    endpoint: String,
    started: Instant,
    live_since: Option<Instant>,
    next_id: u64,
    inflight: HashMap<u64, Purpose>,
    /// Server subscription id → kind.
    subs: HashMap<String, SubKind>,
    awaiting_subs: usize,
    heads: Heads,
    ping_every: Duration,
    ping_seq: u64,
    ping_out: Option<(u64, Instant)>,
    pending: u64,
    pending_reported_nonzero: bool,
    window_start: Instant,
    /// The watchdog's `eth_blockNumber`, asked beside the loop.
    stall_check: Option<JoinHandle<Result<u64, String>>>,
}

impl<'a> Conn<'a> {
    /// Connect to `url` and run the connection until it ends.
    async fn open(sup: &'a mut Supervisor, url: &str) -> Result<End, AppGone> {
        let endpoint = sup.shown(url);
        sup.set_state(ConnState::Connecting {
            endpoint: endpoint.clone(),
        })
        .await?;
        let limit = sup.cfg.max_message_bytes;
        // tungstenite's own cap is a safety net well above ours: a message over our
        // limit is counted and skipped without losing the connection; one over the
        // cap cannot be skipped (see `on_frame`).
        let hard_cap = limit.saturating_mul(2).max(limit + (1 << 20));
        let ws_cfg = WebSocketConfig::default()
            .max_message_size(Some(hard_cap))
            .max_frame_size(Some(hard_cap));
        let connect = tokio_tungstenite::connect_async_with_config(url, Some(ws_cfg), true);
        let ws = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
            Ok(Ok((ws, _))) => ws,
            Ok(Err(e)) => return Ok(End::failed(format!("connect failed: {e}"))),
            Err(_) => return Ok(End::failed("connect timed out")),
        };
        sup.http_down = false;
        let ping_every = Duration::from_secs(sup.cfg.ping_interval_secs.max(1));
        let mut conn = Conn {
            sup,
            ws,
            endpoint,
            started: Instant::now(),
            live_since: None,
            next_id: 1,
            inflight: HashMap::new(),
            subs: HashMap::new(),
            awaiting_subs: 0,
            heads: Heads::Pending,
            ping_every,
            ping_seq: 0,
            ping_out: None,
            pending: 0,
            pending_reported_nonzero: false,
            window_start: Instant::now(),
            stall_check: None,
        };
        let end = conn.run().await;
        if let Some(check) = conn.stall_check.take() {
            check.abort();
        }
        end
    }

    fn live_for(&self) -> Option<Duration> {
        self.live_since.map(|s| s.elapsed())
    }

    fn lost(&self, reason: impl Into<String>) -> Flow {
        stop(End::lost(reason, self.live_for()))
    }

    async fn run(&mut self) -> Result<End, AppGone> {
        if let ControlFlow::Break(end) = self
            .request(Purpose::ChainId, "eth_chainId", json!([]))
            .await?
        {
            return Ok(end);
        }
        // The first tick is immediate: RTT is known right after connecting.
        let mut ping = tokio::time::interval(self.ping_every);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut window =
            tokio::time::interval_at((Instant::now() + PENDING_WINDOW).into(), PENDING_WINDOW);
        window.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let probe_every = self.ping_every * PRIMARY_PROBE_PINGS;
        let mut primary_probe =
            tokio::time::interval_at((Instant::now() + probe_every).into(), probe_every);
        loop {
            let poll_at = self.heads.poller().map(|p| p.next);
            let on_fallback = self.sup.current != 0;
            let flow = tokio::select! {
                biased;
                cmd = recv_command(&mut self.sup.cmd_rx, &self.sup.watched) => self.on_command(cmd).await,
                msg = self.ws.next() => self.on_frame(msg).await,
                _ = ping.tick() => self.on_ping_due().await,
                _ = window.tick() => self.on_window().await,
                res = join_opt(&mut self.stall_check), if self.stall_check.is_some() => {
                    self.stall_check = None;
                    let res = res.unwrap_or_else(|e| Err(e.to_string()));
                    self.on_stall_checked(res).await
                }
                _ = tokio::time::sleep_until(poll_at.unwrap_or_else(Instant::now).into()), if poll_at.is_some() => self.on_poll_due().await,
                _ = primary_probe.tick(), if on_fallback => self.on_primary_probe().await,
            };
            if let ControlFlow::Break(end) = flow? {
                return Ok(end);
            }
        }
    }

    /// Send one request and remember what it is for.
    async fn request(&mut self, purpose: Purpose, method: &str, params: serde_json::Value) -> Flow {
        let id = self.next_id;
        self.next_id += 1;
        let text = match serde_json::to_string(&RpcRequest::new(id, method, &params)) {
            Ok(t) => t,
            Err(e) => return self.lost(format!("cannot encode {method}: {e}")),
        };
        self.inflight.insert(id, purpose);
        match self.ws.send(Message::Text(text.into())).await {
            Ok(()) => GO,
            Err(e) => self.lost(format!("send failed: {e}")),
        }
    }

    async fn on_command(&mut self, cmd: Option<Command>) -> Flow {
        match cmd {
            Some(_) => {
                let _ = self.ws.close(None).await;
                stop(End {
                    immediate: true,
                    ..End::lost("reconnect requested", self.live_for())
                })
            }
            None => Err(AppGone),
        }
    }

    async fn on_frame(&mut self, msg: Option<Result<Message, tungstenite::Error>>) -> Flow {
        let msg = match msg {
            Some(Ok(m)) => m,
            Some(Err(e)) => return self.on_socket_error(e),
            None => return self.lost("connection closed"),
        };
        let probe = frame::head_probe().map(|p| (p, Instant::now()));
        let now_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let shared = &self.sup.shared;
        shared.messages.fetch_add(1, Ordering::Relaxed);
        shared.last_message_ms.store(now_ms, Ordering::Relaxed);
        let text = match msg {
            Message::Text(t) => t,
            Message::Binary(b) => {
                shared.bad_frame(format!("unexpected binary frame of {} bytes", b.len()));
                return GO;
            }
            Message::Pong(p) => {
                if let Some((seq, at)) = self.ping_out
                    && p.as_ref() == seq.to_be_bytes()
                {
                    shared
                        .ping_rtt_us
                        .store(at.elapsed().as_micros().max(1) as u64, Ordering::Relaxed);
                    shared.ping_at_ms.store(now_ms, Ordering::Relaxed);
                    self.ping_out = None;
                }
                return GO;
            }
            Message::Ping(_) | Message::Frame(_) => return GO,
            Message::Close(frame) => {
                let why = match frame {
                    Some(f) => format!(
                        "closed by server (code {}{}{})",
                        u16::from(f.code),
                        if f.reason.is_empty() { "" } else { ": " },
                        sanitize(&f.reason)
                    ),
                    None => "closed by server".to_string(),
                };
                return self.lost(why);
            }
        };
        let limit = self.sup.cfg.max_message_bytes;
        if text.len() > limit {
            shared.bad_frame(format!(
                "message of {} bytes exceeds the {}-byte limit",
                crate::fmt::thousands(text.len() as u64),
                crate::fmt::thousands(limit as u64)
            ));
            return GO;
        }
        let incoming = match frame::decode(text.as_str()) {
            Ok(i) => i,
            Err(e) => {
                shared.bad_frame(e.to_string());
                return GO;
            }
        };
        match incoming {
            Incoming::Notification {
                subscription,
                result,
            } => {
                let kind = self.subs.get(subscription.as_ref()).copied();
                self.on_notification(kind, result, probe).await
            }
            Incoming::Response { id, result } => match self.inflight.remove(&id) {
                Some(purpose) => self.on_response(purpose, result).await,
                None => {
                    self.sup
                        .shared
                        .bad_frame(format!("answer to request {id}, which was never sent"));
                    GO
                }
            },
        }
    }

    /// The socket failed. Frames it cannot read past (over tungstenite's cap, text
    /// that is not UTF-8, protocol violations) are hostile input: counted as bad
    /// frames, and since the stream cannot be trusted after them, reconnected.
    fn on_socket_error(&mut self, e: tungstenite::Error) -> Flow {
        use tungstenite::error::ProtocolError as P;
        let bad = match &e {
            tungstenite::Error::Capacity(c) => Some(format!("{c}")),
            tungstenite::Error::Utf8(_) => Some("a text frame that is not UTF-8".to_string()),
            // Frames that break the protocol (a reset or a close is not one).
            tungstenite::Error::Protocol(
                p @ (P::NonZeroReservedBits
                | P::MaskedFrameFromServer
                | P::FragmentedControlFrame
                | P::ControlFrameTooBig
                | P::UnknownControlFrameType(_)
                | P::UnknownDataFrameType(_)
                | P::UnexpectedContinueFrame
                | P::ExpectedFragment(_)
                | P::InvalidOpcode(_)
                | P::InvalidCloseSequence),
            ) => Some(format!("protocol violation: {p}")),
            _ => None,
        };
        match bad {
            Some(what) => {
                let why = format!(
                    "bad frame: {what}; the connection cannot be read past it: reconnecting"
                );
                self.sup.shared.bad_frames.fetch_add(1, Ordering::Relaxed);
                self.lost(why)
            }
            None => self.lost(format!("connection error: {e}")),
        }
    }

    async fn on_notification(
        &mut self,
        kind: Option<SubKind>,
        result: &serde_json::value::RawValue,
        probe: Option<(frame::HeadProbe, Instant)>,
    ) -> Flow {
        let shared = &self.sup.shared;
        match kind {
            Some(SubKind::NewPendingTransactions) => match frame::decode_pending(result) {
                Ok(()) => self.pending += 1,
                Err(e) => shared.bad_frame(e.to_string()),
            },
            Some(SubKind::NewHeads) => match frame::decode_head(result) {
                Ok(b) => {
                    if let Some((p, at)) = probe {
                        p(self.sup.net, b.number.to(), at);
                    }
                    let n: u64 = b.number.to();
                    self.sup.chain(ChainInput::Head(Box::new(b))).await?;
                    return self.on_pushed_head(n).await;
                }
                Err(e) => shared.bad_frame(format!("newHeads: {e}")),
            },
            Some(SubKind::Logs) => {
                match serde_json::from_str::<crate::rpc::types::WireLog>(result.get()) {
                    Ok(log) => {
                        if let Some((_, tx)) = &self.sup.logs {
                            tx.send(LogInput::Log(Box::new(log)))
                                .await
                                .map_err(|_| AppGone)?;
                        }
                    }
                    Err(e) => shared.bad_frame(format!("logs: {e}")),
                }
            }
            // A subscription we dropped (the old one after a resubscribe).
            None => {}
        }
        GO
    }

    /// A head arrived on `newHeads`: a stall (or polling because of one) ends.
    async fn on_pushed_head(&mut self, number: u64) -> Flow {
        let ended_stall = self.sup.watchdog.on_head(number, Instant::now());
        self.sup.heads_since_stall = self.sup.heads_since_stall.saturating_add(1);
        if self.sup.heads_since_stall >= HEADS_TO_FORGIVE {
            self.sup.stalls = 0;
        }
        let was_polling = matches!(
            self.heads,
            Heads::Stalled { .. }
                | Heads::Polling {
                    resubscribe_at: Some(_),
                    ..
                }
        );
        if ended_stall || was_polling {
            self.heads = Heads::Pushed;
            self.sup
                .set_state(ConnState::Live {
                    endpoint: self.endpoint.clone(),
                })
                .await?;
        }
        GO
    }

    async fn on_response(
        &mut self,
        purpose: Purpose,
        result: Result<&serde_json::value::RawValue, crate::rpc::types::RpcErrorObj>,
    ) -> Flow {
        match purpose {
            Purpose::ChainId => self.on_chain_id(result).await,
            Purpose::Subscribe(kind) => self.on_subscribed(kind, result).await,
            Purpose::Resubscribe => {
                match result.map(|r| serde_json::from_str::<String>(r.get())) {
                    Ok(Ok(id)) => {
                        self.subs.retain(|_, k| *k != SubKind::NewHeads);
                        self.subs.insert(id, SubKind::NewHeads);
                    }
                    _ => self.sup.shared.error("re-subscribing newHeads failed"),
                }
                GO
            }
            Purpose::Unsubscribe => GO,
        }
    }

    async fn on_chain_id(
        &mut self,
        result: Result<&serde_json::value::RawValue, crate::rpc::types::RpcErrorObj>,
    ) -> Flow {
        if let Err(e) = &result
            && let Some(hint) = rate_limit_hint(e)
        {
            let _ = self.ws.close(None).await;
            return stop(End {
                wait_at_least: hint,
                ..End::failed(format!(
                    "rate limited: eth_chainId: {} {}",
                    e.code, e.message
                ))
            });
        }
        let got = result
            .map_err(|e| format!("eth_chainId failed: {} {}", e.code, e.message))
            .and_then(|r| {
                serde_json::from_str::<alloy_primitives::U64>(r.get())
                    .map_err(|e| format!("eth_chainId: {e}"))
            });
        let chain_id: u64 = match got {
            Ok(c) => c.to(),
            Err(e) => return stop(End::failed(e)),
        };
        if let Some(expected) = self.sup.cfg.chain_id
            && expected != chain_id
        {
            let _ = self.ws.close(None).await;
            return stop(End {
                refused: true,
                ..End::failed(format!(
                    "chain id mismatch: expected {expected}, endpoint is on {chain_id}; refusing its data"
                ))
            });
        }
        self.sup
            .emit(Update::ChainId {
                net: self.sup.net,
                chain_id,
            })
            .await?;
        for kind in [SubKind::NewHeads, SubKind::NewPendingTransactions] {
            if let ControlFlow::Break(end) = self
                .request(
                    Purpose::Subscribe(kind),
                    "eth_subscribe",
                    json!([kind.wire_name()]),
                )
                .await?
            {
                return stop(end);
            }
            self.awaiting_subs += 1;
        }
        if let Some((filter, _)) = &self.sup.logs {
            let params = json!(["logs", filter]);
            if let ControlFlow::Break(end) = self
                .request(Purpose::Subscribe(SubKind::Logs), "eth_subscribe", params)
                .await?
            {
                return stop(end);
            }
            self.awaiting_subs += 1;
        }
        GO
    }

    async fn on_subscribed(
        &mut self,
        kind: SubKind,
        result: Result<&serde_json::value::RawValue, crate::rpc::types::RpcErrorObj>,
    ) -> Flow {
        // A rate limit is not "unsupported": back off (at least the hint) and
        // subscribe again on the next connection.
        if let Err(e) = &result
            && let Some(hint) = rate_limit_hint(e)
        {
            let _ = self.ws.close(None).await;
            return stop(End {
                wait_at_least: hint,
                ..End::lost(
                    format!("rate limited while subscribing: {} {}", e.code, e.message),
                    self.live_for(),
                )
            });
        }
        let status = match result.map(|r| serde_json::from_str::<String>(r.get())) {
            Ok(Ok(id)) => {
                self.subs.insert(id, kind);
                SubStatus::Active
            }
            Ok(Err(e)) => SubStatus::Unsupported(format!("bad subscription id: {e}")),
            Err(e) => SubStatus::Unsupported(
                sanitize(&self.sup.redactor.text(&format!("{} {}", e.code, e.message)))
                    .into_owned(),
            ),
        };
        let active = status == SubStatus::Active;
        if kind == SubKind::NewHeads {
            self.heads = if active {
                Heads::Pushed
            } else {
                Heads::Polling {
                    poller: Poller::new(),
                    resubscribe_at: None,
                    retries: 0,
                }
            };
        }
        if kind == SubKind::Logs {
            self.sup.watched.logs_live.store(active, Ordering::Relaxed);
        }
        self.sup
            .emit(Update::Subscription {
                net: self.sup.net,
                kind,
                status,
            })
            .await?;
        self.awaiting_subs = self.awaiting_subs.saturating_sub(1);
        if self.awaiting_subs == 0 && self.live_since.is_none() {
            self.went_live().await?;
        }
        GO
    }

    /// Every subscription answered: the connection is up.
    async fn went_live(&mut self) -> Result<(), AppGone> {
        let now = Instant::now();
        self.live_since = Some(now);
        self.sup.watchdog.session_started(now);
        let state = match &self.heads {
            Heads::Polling { .. } => ConnState::Polling {
                endpoint: self.sup.http_endpoint(),
                reason: "newHeads refused by the endpoint: polling HTTP".into(),
                retry_at: None,
            },
            _ => ConnState::Live {
                endpoint: self.endpoint.clone(),
            },
        };
        self.sup.set_state(state).await?;
        if self.sup.ever_live {
            self.sup.reconnects += 1;
            self.sup
                .emit(Update::Reconnected {
                    net: self.sup.net,
                    count: self.sup.reconnects,
                })
                .await?;
        }
        self.sup.ever_live = true;
        self.sup.failures = 0;
        // Fill what was missed while we were away (and show the current head at
        // once on first connect).
        self.sup
            .chain(ChainInput::CatchUp {
                source: HeadSource::Backfill,
                connected: true,
            })
            .await
    }

    async fn on_ping_due(&mut self) -> Flow {
        // The ping went out at the previous tick, one interval ago (ticks are
        // delayed, never bunched). Comparing its elapsed time with the interval
        // instead lost to timer jitter by microseconds and let a dead connection
        // live a whole extra interval (45 s, not 30 s).
        if self.ping_out.is_some() {
            return self.lost(format!(
                "no pong within {}s: connection dead",
                self.ping_every.as_secs()
            ));
        }
        self.ping_seq += 1;
        self.ping_out = Some((self.ping_seq, Instant::now()));
        let payload = self.ping_seq.to_be_bytes().to_vec();
        match self.ws.send(Message::Ping(payload.into())).await {
            Ok(()) => GO,
            Err(e) => self.lost(format!("ping failed: {e}")),
        }
    }

    async fn on_window(&mut self) -> Flow {
        if self.live_since.is_none() && self.started.elapsed() > HANDSHAKE_TIMEOUT {
            return stop(End::failed(
                "endpoint did not answer eth_chainId / eth_subscribe in time",
            ));
        }
        if self.pending > 0 || self.pending_reported_nonzero {
            let window_ms = self.window_start.elapsed().as_millis() as u64;
            // Coalesced: a full channel carries the count to the next window rather
            // than delaying heads behind pending counts.
            match self.sup.updates.try_send(Update::Pending {
                net: self.sup.net,
                count: self.pending,
                window_ms,
            }) {
                Ok(()) => {
                    self.pending_reported_nonzero = self.pending > 0;
                    self.pending = 0;
                    self.window_start = Instant::now();
                }
                Err(TrySendError::Full(_)) => {
                    self.sup
                        .shared
                        .pending_coalesced
                        .fetch_add(1, Ordering::Relaxed);
                }
                Err(TrySendError::Closed(_)) => return Err(AppGone),
            }
        }
        self.watch_heads().await
    }

    /// The stall watchdog, once per window while heads are pushed (or should be).
    async fn watch_heads(&mut self) -> Flow {
        let now = Instant::now();
        if let Heads::Polling {
            resubscribe_at: Some(at),
            retries,
            ..
        } = &mut self.heads
            && now >= *at
        {
            *at = now + RESUBSCRIBE_EVERY;
            *retries += 1;
            if retries.is_multiple_of(3) {
                return self.lost("newHeads still silent after resubscribing; reconnecting");
            }
            return self.resubscribe().await;
        }
        if !matches!(self.heads, Heads::Pushed | Heads::Stalled { .. }) {
            return GO;
        }
        let watchdog = &mut self.sup.watchdog;
        watchdog.hint_block_time(self.sup.shared.block_time());
        if watchdog.resubscribe_failed(now) {
            // Not even the new subscription was answered: the socket is dead (a
            // half-open connection caught before the heartbeat does).
            let waited = watchdog.threshold().as_secs();
            if self.inflight.values().any(|p| *p == Purpose::Resubscribe) {
                return self.lost(format!(
                    "no answer to eth_subscribe for {waited}s: connection dead"
                ));
            }
            // The second stall in a row: stop waiting for pushes.
            return self.settle_into_polling().await;
        }
        if self.stall_check.is_some() || !watchdog.check_due(now) {
            return GO;
        }
        let Some(http) = self.sup.http.clone() else {
            return GO;
        };
        // Asked beside the loop: a slow or rate-limited HTTP never holds pongs back.
        self.stall_check = Some(tokio::spawn(async move {
            http.call::<alloy_primitives::U64>("eth_blockNumber", json!([]))
                .await
                .map(|n| n.to::<u64>())
                .map_err(|e| e.to_string())
        }));
        GO
    }

    async fn on_stall_checked(&mut self, current: Result<u64, String>) -> Flow {
        let current = match current {
            Ok(n) => n,
            Err(e) => {
                self.sup
                    .shared
                    .error(format!("stall check: eth_blockNumber: {e}"));
                return GO;
            }
        };
        let watchdog = &mut self.sup.watchdog;
        let Some(last) = watchdog.last_head_number() else {
            return GO;
        };
        if current <= last
            || watchdog.resubscribed_at.is_some()
            || !matches!(self.heads, Heads::Pushed)
        {
            return GO; // the chain is quiet, not us
        }
        self.sup.stalls += 1;
        self.sup.heads_since_stall = 0;
        if self.sup.stalls >= STALLS_TO_POLL {
            return self.settle_into_polling().await;
        }
        let reason = format!(
            "no head pushed for {}s while the node is at {} (last pushed {}); resubscribing, polling meanwhile",
            watchdog.threshold().as_secs(),
            crate::fmt::thousands(current),
            crate::fmt::thousands(last)
        );
        watchdog.resubscribed_at = Some(Instant::now());
        self.sup
            .set_state(ConnState::Stalled {
                reason: reason.clone(),
            })
            .await?;
        self.sup.shared.error(&reason);
        // Meanwhile heads are polled over HTTP (the first poll at once).
        self.heads = Heads::Stalled {
            poller: Poller::new(),
        };
        self.resubscribe().await
    }

    /// `newHeads` stalled twice in a row: follow heads over HTTP on this connection
    /// (pending and logs keep streaming) and try the subscription again now and then.
    async fn settle_into_polling(&mut self) -> Flow {
        let reason = format!(
            "newHeads stalled {} times in a row: polling HTTP every {}, resubscribing every {}s",
            self.sup.stalls.max(STALLS_TO_POLL),
            crate::fmt::interval(self.sup.shared.poll_interval()),
            RESUBSCRIBE_EVERY.as_secs()
        );
        self.sup.shared.error(&reason);
        self.sup.stalls = self.sup.stalls.max(STALLS_TO_POLL);
        self.sup.watchdog.resubscribed_at = None;
        self.heads = Heads::Polling {
            poller: Poller::new(),
            resubscribe_at: Some(Instant::now() + RESUBSCRIBE_EVERY),
            retries: 0,
        };
        self.sup
            .set_state(ConnState::Polling {
                endpoint: self.sup.http_endpoint(),
                reason,
                retry_at: None,
            })
            .await?;
        GO
    }

    /// Drop the current `newHeads` subscription and ask for a new one.
    async fn resubscribe(&mut self) -> Flow {
        let old: Vec<String> = self
            .subs
            .iter()
            .filter(|(_, k)| **k == SubKind::NewHeads)
            .map(|(id, _)| id.clone())
            .collect();
        for id in old {
            if let ControlFlow::Break(end) = self
                .request(Purpose::Unsubscribe, "eth_unsubscribe", json!([id]))
                .await?
            {
                return stop(end);
            }
        }
        self.request(Purpose::Resubscribe, "eth_subscribe", json!(["newHeads"]))
            .await
    }

    async fn on_poll_due(&mut self) -> Flow {
        let every = self.sup.shared.poll_interval();
        if let Some(poller) = self.heads.poller() {
            poller.next = Instant::now() + every;
        }
        self.sup
            .chain(ChainInput::CatchUp {
                source: HeadSource::Poll,
                connected: false,
            })
            .await?;
        GO
    }

    async fn on_primary_probe(&mut self) -> Flow {
        if self.sup.primary_healthy().await {
            let _ = self.ws.close(None).await;
            return stop(End {
                to_primary: true,
                immediate: true,
                ..End::lost(
                    "primary endpoint healthy again; switching back",
                    self.live_for(),
                )
            });
        }
        GO
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
