//! One WebSocket connection: an actor whose `select!` arms each call one handler.
//! Frames, pings and the pending window are here; the handshake (chain id,
//! subscriptions) is in `handshake.rs`, where heads come from (pushed, stalled,
//! polled) in `stall.rs`.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::mpsc::error::TrySendError;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};

use super::{
    AppGone, CONNECT_TIMEOUT, End, Flow, GO, HANDSHAKE_TIMEOUT, PENDING_WINDOW,
    PRIMARY_PROBE_PINGS, Poller, Supervisor, recv_command, stop,
};
use crate::event::{Command, ConnState, PendingFeed, SubKind, Update};
use crate::network::ChainInput;
use crate::network::logs::LogInput;
use crate::network::mempool;
use crate::rpc::frame::{self, Incoming};
use crate::rpc::types::RpcRequest;
use crate::text::sanitize;

/// Where heads come from on this connection.
#[derive(Debug)]
pub(super) enum Heads {
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
    pub(super) fn poller(&mut self) -> Option<&mut Poller> {
        match self {
            Heads::Stalled { poller } | Heads::Polling { poller, .. } => Some(poller),
            Heads::Pending | Heads::Pushed => None,
        }
    }
}

/// A join handle as a future that never resolves when there is none.
pub(super) async fn join_opt<T>(
    h: &mut Option<JoinHandle<T>>,
) -> Result<T, tokio::task::JoinError> {
    match h.as_mut() {
        Some(h) => h.await,
        None => std::future::pending().await,
    }
}

/// What an in-flight request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    ChainId,
    Subscribe(SubKind),
    /// A `logs` subscription of the tokens' transfers (they name the watched
    /// addresses, so it is renewed when the watch list changes), of the filters'
    /// generation: an answer for an older one is unsubscribed at once.
    TokenLogs(u32),
    /// The watchdog's new `newHeads` subscription.
    Resubscribe,
    /// Whole pending transactions (`pending = "watched"`): Alchemy's filtered
    /// subscription, or `newPendingTransactions` with `true`. Refused, the next
    /// one down is asked for, and hashes last.
    /// `generation` counts Alchemy's renewals (the watch list changed): an answer
    /// for an older one is unsubscribed at once.
    PendingFull {
        filtered: bool,
        generation: u32,
    },
    Unsubscribe,
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One WebSocket connection.
pub(super) struct Conn<'a> {
    pub(super) sup: &'a mut Supervisor,
    pub(super) ws: Ws,
    pub(super) endpoint: String,
    pub(super) started: Instant,
    pub(super) live_since: Option<Instant>,
    pub(super) next_id: u64,
    pub(super) inflight: HashMap<u64, Purpose>,
    /// Server subscription id → kind.
    pub(super) subs: HashMap<String, SubKind>,
    /// The tokens' `logs` filters subscribed to, and their subscriptions' ids.
    pub(super) token_filters: Vec<serde_json::Value>,
    pub(super) token_subs: Vec<String>,
    /// Bumped each time the tokens' filters are renewed.
    pub(super) token_generation: u32,
    /// A `logs` subscription was refused on this connection: logs are then fetched
    /// per head, whatever the others answered.
    pub(super) logs_refused: bool,
    pub(super) awaiting_subs: usize,
    pub(super) heads: Heads,
    pub(super) ping_every: Duration,
    pub(super) ping_seq: u64,
    pub(super) ping_out: Option<(u64, Instant)>,
    pub(super) pending: u64,
    pub(super) pending_reported_nonzero: bool,
    /// What the pending subscription gives (`pending = "watched"`), once answered.
    pub(super) pending_feed: Option<PendingFeed>,
    /// The pending subscription is Alchemy's, filtered to the watched addresses.
    pub(super) pending_filtered: bool,
    /// The addresses Alchemy's filter names now, and its renewals so far.
    pub(super) pending_filter: Vec<alloy_primitives::Address>,
    pub(super) pending_generation: u32,
    /// What a pending transaction is checked against.
    pub(super) watchlist: mempool::Watchlist,
    /// Recent priority fees (a ring of `mempool::TIPS_KEPT`).
    pub(super) tips: Vec<u128>,
    pub(super) tips_at: usize,
    pub(super) window_start: Instant,
    /// The watchdog's `eth_blockNumber`, asked beside the loop.
    pub(super) stall_check: Option<JoinHandle<Result<u64, String>>>,
}

impl<'a> Conn<'a> {
    /// Connect to `url` and run the connection until it ends.
    pub(super) async fn open(sup: &'a mut Supervisor, url: &str) -> Result<End, AppGone> {
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
            token_filters: Vec::new(),
            token_subs: Vec::new(),
            token_generation: 0,
            logs_refused: false,
            awaiting_subs: 0,
            heads: Heads::Pending,
            ping_every,
            ping_seq: 0,
            ping_out: None,
            pending: 0,
            pending_reported_nonzero: false,
            pending_feed: None,
            pending_filtered: false,
            pending_filter: Vec::new(),
            pending_generation: 0,
            watchlist: mempool::Watchlist::default(),
            tips: Vec::new(),
            tips_at: 0,
            window_start: Instant::now(),
            stall_check: None,
        };
        conn.refresh_watchlist();
        let end = conn.run().await;
        if let Some(check) = conn.stall_check.take() {
            check.abort();
        }
        end
    }

    pub(super) fn live_for(&self) -> Option<Duration> {
        self.live_since.map(|s| s.elapsed())
    }

    pub(super) fn lost(&self, reason: impl Into<String>) -> Flow {
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
                () = self.sup.watched.filters_changed.notified(), if self.live_since.is_some() => self.on_watch_changed().await,
            };
            if let ControlFlow::Break(end) = flow? {
                return Ok(end);
            }
        }
    }

    /// Send one request and remember what it is for.
    pub(super) async fn request(
        &mut self,
        purpose: Purpose,
        method: &str,
        params: serde_json::Value,
    ) -> Flow {
        let id = self.next_id;
        self.next_id += 1;
        let text = match serde_json::to_string(&RpcRequest::new(id, method, &params)) {
            Ok(t) => t,
            Err(e) => return self.lost(format!("cannot encode {method}: {e}")),
        };
        self.inflight.insert(id, purpose);
        self.sup
            .shared
            .cost
            .calls(&[method], crate::cost::Answer::Billed);
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
        // When the frame came off the socket: a head's arrival, for the race
        // between the endpoints of one chain (and the load benchmark's probe).
        let arrived = Instant::now();
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
                self.on_notification(kind, result, text.len(), arrived)
                    .await
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
        bytes: usize,
        arrived: Instant,
    ) -> Flow {
        let shared = &self.sup.shared;
        // Billed by kind and size; a log by its block too (Infura bills logs once
        // per block), read from the log once it is decoded below.
        match kind {
            Some(SubKind::Logs) | None => {}
            Some(k) => shared.cost.event(k.wire_name(), bytes, None),
        }
        match kind {
            Some(SubKind::NewPendingTransactions) if self.pending_feed.is_some() => {
                return self.on_full_pending(result.get()).await;
            }
            Some(SubKind::NewPendingTransactions) => match frame::decode_pending(result) {
                Ok(()) => self.pending += 1,
                Err(e) => shared.bad_frame(e.to_string()),
            },
            Some(SubKind::NewHeads) => match frame::decode_head(result) {
                Ok(b) => {
                    if let Some(p) = shared.head_probe {
                        p(self.sup.net, b.number.to(), arrived);
                    }
                    let n: u64 = b.number.to();
                    self.sup
                        .chain(ChainInput::Head(Box::new(b), arrived))
                        .await?;
                    return self.on_pushed_head(n).await;
                }
                Err(e) => shared.bad_frame(format!("newHeads: {e}")),
            },
            Some(SubKind::Logs) => {
                let log = serde_json::from_str::<crate::rpc::types::WireLog>(result.get());
                let block = log
                    .as_ref()
                    .ok()
                    .and_then(|l| l.block_number)
                    .map(|n| n.to());
                shared.cost.event(SubKind::Logs.wire_name(), bytes, block);
                match log {
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

    /// The watched addresses and the tokens, as pending transactions are checked.
    pub(super) fn refresh_watchlist(&mut self) {
        self.watchlist = mempool::Watchlist {
            addresses: self
                .sup
                .watched
                .addresses()
                .into_iter()
                .map(|(a, _)| a)
                .collect(),
            tokens: self.sup.cfg.tokens.iter().copied().collect(),
        };
    }

    /// A pending result with `pending = "watched"`: counted, its tip kept, and
    /// handed to the tracker when it touches a watched address. A hash where whole
    /// transactions were asked for says the endpoint sends hashes only.
    async fn on_full_pending(&mut self, raw: &str) -> Flow {
        match mempool::classify(raw, &self.watchlist) {
            Ok(mempool::Pending::Hash) => {
                self.pending += 1;
                if !matches!(self.pending_feed, Some(PendingFeed::HashesOnly(_))) {
                    self.pending_feed = Some(PendingFeed::HashesOnly(
                        "the endpoint sends hashes where whole transactions were asked for".into(),
                    ));
                    self.report_mempool(true).await?;
                }
            }
            Ok(mempool::Pending::Tx { tip, hit }) => {
                self.pending += 1;
                if let Some(tip) = tip {
                    if self.tips.len() < mempool::TIPS_KEPT {
                        self.tips.push(tip);
                    } else {
                        self.tips[self.tips_at] = tip;
                    }
                    self.tips_at = (self.tips_at + 1) % mempool::TIPS_KEPT;
                }
                if let (Some(tx), Some(to)) = (hit, &self.sup.mempool) {
                    match to.try_send(mempool::Input::Seen(tx)) {
                        Ok(()) => {}
                        Err(TrySendError::Full(_)) => {
                            self.sup.shared.mempool_full.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(TrySendError::Closed(_)) => return Err(AppGone),
                    }
                }
            }
            Err(e) => self
                .sup
                .shared
                .bad_frame(format!("newPendingTransactions: {e}")),
        }
        GO
    }

    /// Tell the app what the pending feed gives and what fees it bids (each
    /// window, or at once when `now`). Coalesced: a full channel waits a window.
    pub(super) async fn report_mempool(&mut self, now: bool) -> Result<(), AppGone> {
        let Some(feed) = self.pending_feed.clone() else {
            return Ok(());
        };
        let shared = &self.sup.shared;
        let evicted = shared.mempool_evicted.load(Ordering::Relaxed)
            + shared.mempool_full.load(Ordering::Relaxed);
        let u = Update::Mempool {
            net: self.sup.net,
            feed,
            tips: mempool::percentiles(&self.tips),
            evicted,
        };
        if now {
            self.sup.emit(u).await
        } else if let Err(TrySendError::Closed(_)) = self.sup.updates.try_send(u) {
            Err(AppGone)
        } else {
            Ok(())
        }
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
        self.report_mempool(false).await?;
        self.watch_heads().await
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
