//! The WebSocket of one network: [`Supervisor`] owns what outlives a connection
//! (backoff, endpoints, the stall watchdog, counters) and decides what to do when one
//! ends; [`Conn`] is one connection, an actor whose `select!` arms each call one
//! handler. Requests in flight are a map from id to purpose; subscriptions are kept
//! by kind, with the server's ids mapped to them.
//!
//! Heads come from one of two places, never neither: pushed by `newHeads`, or
//! polled over HTTP ([`Heads::Polling`]) when the subscription is refused, stalls
//! twice in a row, or no WebSocket works at all.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::mpsc;

mod conn;
mod handshake;
mod stall;

use super::backoff::Backoff;
use super::logs::{LogFilters, LogInput};
use super::watchdog::Watchdog;
use super::watched::Watched;
use super::{AppGone, ChainInput, Shared};
use crate::config::{Endpoint, NetworkConfig};
use crate::event::{Command, ConnState, HeadSource, NetIdx, Update};
use crate::rpc::http::HttpClient;
use crate::text::{Redactor, sanitize};
use conn::Conn;

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

impl std::fmt::Debug for Poller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poller").finish_non_exhaustive()
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
    /// The `logs` filters and where notifications go (None: nothing to subscribe).
    logs: Option<(LogFilters, mpsc::Sender<LogInput>)>,
    /// Where watched pending transactions go (`pending = "watched"`).
    mempool: Option<mpsc::Sender<super::mempool::Input>>,
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
            mempool: None,
            cfg,
        }
    }

    /// The watched addresses to update on commands, and the `logs` subscription.
    pub(crate) fn with_watch(
        mut self,
        watched: Arc<Watched>,
        logs: Option<(LogFilters, mpsc::Sender<LogInput>)>,
    ) -> Self {
        self.watched = watched;
        self.logs = logs;
        self
    }

    /// Where watched pending transactions go.
    pub(crate) fn with_mempool(
        mut self,
        mempool: Option<mpsc::Sender<super::mempool::Input>>,
    ) -> Self {
        self.mempool = mempool;
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
        let e = &self.endpoints[i];
        self.shared.cost.set_table(crate::cost::table_in(
            &self.shared.pricing,
            e.provider.as_deref(),
            e.ws.as_deref().or(e.http.as_deref()),
        ));
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
        assert!(watched.contains(a) && !watched.contains(b));
        // The watch task is woken to read the new address at once.
        tokio::time::timeout(Duration::from_secs(5), watched.changed.notified())
            .await
            .expect("notified");
        drop(tx);
        assert_eq!(recv_command(&mut rx, &watched).await, None);
    }
}
