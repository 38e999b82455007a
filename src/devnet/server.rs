//! The loopback server: hand-rolled HTTP/1.1 for JSON-RPC POSTs, WebSocket upgrade on
//! the same port, block and pending-transaction producers, and fault injection.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alloy_primitives::U256;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{CloseFrame, Frame};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use super::DevnetConfig;
use super::chain::{Chain, ChainEvent, Tx, random_address, random_b256};
use super::fault::{Fault, LogsRangeStyle, Malformed};
use super::methods::{self, Sub, SubKind, handle_body, header_json, log_json, tx_json};

const MAX_HEAD: usize = 16 * 1024;
const MAX_BODY: usize = 16 * 1024 * 1024;
const PENDING_TICK: Duration = Duration::from_millis(10);
/// Events a slow subscriber may fall behind before it silently skips some, as a node
/// drops notifications for a client that does not keep up.
const EVENT_BACKLOG: usize = 4096;

/// Modes set by faults that outlive a single event.
#[derive(Debug, Default)]
pub(crate) struct Modes {
    /// (Retry-After seconds, requests left).
    pub rate_limit: Option<(u64, u32)>,
    /// (backoff seconds, calls left).
    pub limit_exceeded: Option<(u64, u32)>,
    pub refused: HashSet<String>,
    pub heads_stopped_until: Option<Instant>,
    pub logs_range: Option<LogsRangeStyle>,
    /// HTTP requests go unanswered until then.
    pub http_hang_until: Option<Instant>,
    /// (status, requests left) answered instead of the JSON-RPC reply.
    pub http_status: Option<(u16, u32)>,
}

#[derive(Debug)]
enum Ctl {
    Close(u16, &'static str),
    Reset,
    HalfOpen(Duration),
    Malformed(Malformed),
    /// A `newHeads` notification with this header (for a block that does not exist).
    Invented(Arc<str>),
}

struct Conn {
    ws: bool,
    ctl: mpsc::UnboundedSender<Ctl>,
}

pub(crate) struct PendingBatch {
    base_fee: u64,
    txs: Vec<Tx>,
}

pub(crate) struct Shared {
    pub chain: Mutex<Chain>,
    pub chain_id: AtomicU64,
    pub modes: Mutex<Modes>,
    pub method_counts: Mutex<HashMap<String, u64>>,
    http_requests: AtomicU64,
    conns: Mutex<HashMap<u64, Conn>>,
    next_conn: AtomicU64,
    heads_tx: broadcast::Sender<Arc<ChainEvent>>,
    pending_tx: broadcast::Sender<Arc<PendingBatch>>,
    down_tx: mpsc::UnboundedSender<Duration>,
    /// From the config: how a fresh chain is made, and how heads are pushed.
    cfg: DevnetConfig,
    fresh_chains: AtomicU64,
}

impl Shared {
    fn register(&self) -> (u64, mpsc::UnboundedReceiver<Ctl>) {
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        if let Ok(mut conns) = self.conns.lock() {
            conns.insert(id, Conn { ws: false, ctl: tx });
        }
        (id, rx)
    }

    fn send_ctl(&self, ws_only: bool, make: impl Fn() -> Ctl) {
        if let Ok(conns) = self.conns.lock() {
            for c in conns.values().filter(|c| c.ws || !ws_only) {
                let _ = c.ctl.send(make());
            }
        }
    }

    fn take_http_status(&self) -> Option<u16> {
        let mut modes = self.modes.lock().ok()?;
        let (status, left) = modes.http_status.as_mut()?;
        let status = *status;
        *left = left.saturating_sub(1);
        if *left == 0 {
            modes.http_status = None;
        }
        Some(status)
    }

    fn hang_until(&self) -> Option<Instant> {
        self.modes
            .lock()
            .ok()?
            .http_hang_until
            .filter(|t| *t > Instant::now())
    }

    fn take_rate_limit(&self) -> Option<u64> {
        let mut modes = self.modes.lock().ok()?;
        let (secs, left) = modes.rate_limit.as_mut()?;
        let secs = *secs;
        *left = left.saturating_sub(1);
        if *left == 0 {
            modes.rate_limit = None;
        }
        Some(secs)
    }
}

/// Removes a connection from the registry however its task ends.
struct ConnGuard<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Drop for ConnGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut conns) = self.shared.conns.lock() {
            conns.remove(&self.id);
        }
    }
}

/// Cheap, cloneable control and inspection of a running [`Devnet`].
#[derive(Clone)]
pub struct DevnetHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for DevnetHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevnetHandle")
            .field("chain_id", &self.chain_id())
            .field("head", &self.head())
            .finish()
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl DevnetHandle {
    /// Applies a fault now; see [`Fault`] for which ones are modes.
    pub fn inject(&self, fault: Fault) {
        let s = &self.shared;
        match fault {
            Fault::Close => s.send_ctl(true, || Ctl::Close(1000, "")),
            Fault::Reset => s.send_ctl(false, || Ctl::Reset),
            Fault::HalfOpen(d) => s.send_ctl(true, || Ctl::HalfOpen(d)),
            Fault::Malformed(kind) => s.send_ctl(true, || Ctl::Malformed(kind)),
            Fault::StopHeads(d) => {
                if let Ok(mut m) = s.modes.lock() {
                    m.heads_stopped_until = Some(Instant::now() + d);
                }
            }
            Fault::RateLimit {
                retry_after_secs,
                requests,
            } => {
                if let Ok(mut m) = s.modes.lock() {
                    m.rate_limit = (requests > 0).then_some((retry_after_secs, requests));
                }
            }
            Fault::LimitExceeded {
                backoff_secs,
                requests,
            } => {
                if let Ok(mut m) = s.modes.lock() {
                    m.limit_exceeded = (requests > 0).then_some((backoff_secs, requests));
                }
            }
            Fault::Refuse(kind) => {
                if let Ok(mut m) = s.modes.lock() {
                    m.refused.insert(kind);
                }
            }
            Fault::LogsRange(style) => {
                if let Ok(mut m) = s.modes.lock() {
                    m.logs_range = style;
                }
            }
            Fault::ChainId(id) => {
                s.chain_id.store(id, Ordering::Relaxed);
                s.send_ctl(false, || Ctl::Close(1012, "chain id changed"));
            }
            Fault::Down(d) => {
                let _ = s.down_tx.send(d);
            }
            Fault::HttpHang(d) => {
                if let Ok(mut m) = s.modes.lock() {
                    m.http_hang_until = Some(Instant::now() + d);
                }
            }
            Fault::HttpStatus { status, requests } => {
                if let Ok(mut m) = s.modes.lock() {
                    m.http_status = (requests > 0).then_some((status, requests));
                }
            }
            Fault::InventHead => {
                let header = s.chain.lock().ok().map(|c| {
                    let mut rng = fastrand::Rng::new();
                    Arc::<str>::from(methods::invented_header(c.head(), random_b256(&mut rng)))
                });
                if let Some(h) = header {
                    s.send_ctl(true, || Ctl::Invented(h.clone()));
                }
            }
            Fault::NewChain => {
                let n = s.fresh_chains.fetch_add(1, Ordering::Relaxed) + 1;
                if let Ok(mut chain) = s.chain.lock() {
                    *chain = Chain::new(
                        s.cfg.seed.wrapping_add(n.wrapping_mul(0x9e37_79b9)),
                        s.cfg.start_block,
                        s.cfg.reorg_probability,
                        unix_now(),
                    );
                }
                s.send_ctl(false, || Ctl::Close(1012, "node restarted"));
            }
            Fault::Reorg { depth } => {
                if let Ok(mut chain) = s.chain.lock()
                    && let Some(ev) = chain.reorg(depth, unix_now())
                {
                    // Sent under the lock so producer blocks cannot overtake it.
                    let _ = s.heads_tx.send(Arc::new(ev));
                }
            }
        }
    }

    pub fn chain_id(&self) -> u64 {
        self.shared.chain_id.load(Ordering::Relaxed)
    }

    /// Number of the canonical head.
    pub fn head(&self) -> u64 {
        self.shared.chain.lock().map_or(0, |c| c.head().number)
    }

    /// (number, hash) of every canonical block since start, oldest first.
    pub fn canonical_chain(&self) -> Vec<(u64, alloy_primitives::B256)> {
        self.shared
            .chain
            .lock()
            .map_or_else(|_| Vec::new(), |c| c.canonical_hashes())
    }

    /// HTTP requests received (a batch counts once; WS upgrades are not counted).
    pub fn http_requests(&self) -> u64 {
        self.shared.http_requests.load(Ordering::Relaxed)
    }

    /// JSON-RPC calls of `method` over both transports (batch entries count singly).
    pub fn calls(&self, method: &str) -> u64 {
        self.shared
            .method_counts
            .lock()
            .map_or(0, |m| m.get(method).copied().unwrap_or(0))
    }

    /// All per-method call counts.
    pub fn method_counts(&self) -> HashMap<String, u64> {
        self.shared
            .method_counts
            .lock()
            .map_or_else(|_| HashMap::new(), |m| m.clone())
    }

    /// Open WebSocket connections.
    pub fn ws_connections(&self) -> usize {
        self.shared
            .conns
            .lock()
            .map_or(0, |c| c.values().filter(|c| c.ws).count())
    }
}

/// A running simulated network on 127.0.0.1. Dropping it stops everything.
pub struct Devnet {
    handle: DevnetHandle,
    name: String,
    addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Devnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Devnet")
            .field("name", &self.name)
            .field("addr", &self.addr)
            .finish()
    }
}

impl Devnet {
    /// Binds the port, produces the first block and starts serving. Must be called
    /// inside a tokio runtime.
    pub async fn start(cfg: DevnetConfig) -> io::Result<Devnet> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, cfg.port)).await?;
        let addr = listener.local_addr()?;
        let (heads_tx, _) = broadcast::channel(EVENT_BACKLOG);
        let (pending_tx, _) = broadcast::channel(EVENT_BACKLOG);
        let (down_tx, down_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            chain: Mutex::new(Chain::new(
                cfg.seed,
                cfg.start_block,
                cfg.reorg_probability,
                unix_now(),
            )),
            chain_id: AtomicU64::new(cfg.chain_id),
            modes: Mutex::new(Modes::default()),
            method_counts: Mutex::new(HashMap::new()),
            http_requests: AtomicU64::new(0),
            conns: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(0),
            heads_tx,
            pending_tx,
            down_tx,
            cfg: cfg.clone(),
            fresh_chains: AtomicU64::new(0),
        });
        let block_time = cfg.block_time.max(Duration::from_micros(1));
        let tasks = vec![
            tokio::spawn(accept_loop(shared.clone(), listener, addr, down_rx)),
            tokio::spawn(produce_blocks(shared.clone(), block_time)),
            tokio::spawn(produce_pending(shared.clone(), cfg.pending_rate, cfg.seed)),
        ];
        Ok(Devnet {
            handle: DevnetHandle { shared },
            name: cfg.name,
            addr,
            tasks,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn chain_id(&self) -> u64 {
        self.handle.chain_id()
    }

    pub fn head(&self) -> u64 {
        self.handle.head()
    }

    pub fn canonical_chain(&self) -> Vec<(u64, alloy_primitives::B256)> {
        self.handle.canonical_chain()
    }

    pub fn handle(&self) -> DevnetHandle {
        self.handle.clone()
    }

    /// Stops producing and serving; open sockets are dropped. Dropping does the same.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
        // Dropping the control senders ends every connection task.
        if let Ok(mut conns) = self.handle.shared.conns.lock() {
            conns.clear();
        }
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    addr: SocketAddr,
    mut down_rx: mpsc::UnboundedReceiver<Duration>,
) {
    let mut listener = Some(listener);
    loop {
        let Some(l) = listener.as_ref() else {
            return;
        };
        tokio::select! {
            acc = l.accept() => match acc {
                Ok((stream, _)) => {
                    tokio::spawn(serve_conn(shared.clone(), stream));
                }
                // Out of descriptors and the like: back off rather than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            },
            d = down_rx.recv() => {
                let Some(d) = d else { return };
                listener = None;
                shared.send_ctl(false, || Ctl::Reset);
                tokio::time::sleep(d).await;
                // Later down requests during the outage are folded into it.
                while down_rx.try_recv().is_ok() {}
                while listener.is_none() {
                    match TcpListener::bind(addr).await {
                        Ok(l) => listener = Some(l),
                        Err(e) => {
                            tracing::debug!(%addr, error = %e, "devnet rebind failed, retrying");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
            }
        }
    }
}

async fn produce_blocks(shared: Arc<Shared>, block_time: Duration) {
    let mut next = Instant::now() + block_time;
    loop {
        tokio::time::sleep_until(next.into()).await;
        let now = Instant::now();
        // Timers tick at about 1 ms, so sub-millisecond block times catch up in bursts.
        let mut made = 0u32;
        while next <= now && made < 10_000 {
            if let Ok(mut chain) = shared.chain.lock() {
                let ev = chain.advance(unix_now());
                let _ = shared.heads_tx.send(Arc::new(ev));
            }
            next += block_time;
            made += 1;
            // Subscribers woken by the send sit in this worker's LIFO slot, which
            // other workers cannot steal: without yielding they starve.
            if made.is_multiple_of(8) {
                tokio::task::yield_now().await;
            }
        }
        if next + Duration::from_secs(1) < now {
            next = now + block_time;
        }
    }
}

async fn produce_pending(shared: Arc<Shared>, rate: u32, seed: u64) {
    if rate == 0 {
        return;
    }
    let mut rng = fastrand::Rng::with_seed(seed ^ 0x9e37_79b9_7f4a_7c15);
    let mut tick = tokio::time::interval(PENDING_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = Instant::now();
    let mut carry = 0.0;
    loop {
        tick.tick().await;
        let now = Instant::now();
        let dt = now - last;
        last = now;
        if shared.pending_tx.receiver_count() == 0 {
            carry = 0.0;
            continue;
        }
        carry += f64::from(rate) * dt.as_secs_f64();
        // A stalled runtime must not turn into one giant catch-up batch.
        let n = (carry as usize).min(rate as usize / 5 + 1);
        carry = (carry - n as f64).min(f64::from(rate));
        if n == 0 {
            continue;
        }
        let base_fee = shared.chain.lock().map_or(0, |c| c.head().base_fee);
        let txs = (0..n)
            .map(|_| {
                let tip = rng.u64(10_000_000..=3_000_000_000);
                Tx {
                    hash: random_b256(&mut rng),
                    from: random_address(&mut rng),
                    to: random_address(&mut rng),
                    value: U256::from(rng.u64(0..=2_000_000_000_000_000_000)),
                    nonce: rng.u64(0..5000),
                    gas: 21_000,
                    max_fee: base_fee * 2 + tip,
                    tip,
                    input: Default::default(),
                    log: None,
                }
            })
            .collect();
        let _ = shared
            .pending_tx
            .send(Arc::new(PendingBatch { base_fee, txs }));
    }
}

async fn serve_conn(shared: Arc<Shared>, mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let (id, mut ctl) = shared.register();
    let _guard = ConnGuard {
        shared: &shared,
        id,
    };
    let leftover = tokio::select! {
        up = http_phase(&shared, &mut stream) => up,
        c = ctl.recv() => {
            if matches!(c, Some(Ctl::Reset) | None) {
                let _ = stream.set_zero_linger();
            }
            None
        }
    };
    let Some(leftover) = leftover else {
        return;
    };
    if let Ok(mut conns) = shared.conns.lock()
        && let Some(c) = conns.get_mut(&id)
    {
        c.ws = true;
    }
    let ws = WebSocketStream::from_partially_read(
        stream,
        leftover,
        Role::Server,
        Some(WebSocketConfig::default()),
    )
    .await;
    ws_session(&shared, ws, ctl).await;
}

struct Head {
    method: String,
    keep_alive: bool,
    content_length: Option<usize>,
    ws_key: Option<String>,
}

fn parse_head(raw: &[u8]) -> Option<Head> {
    let text = std::str::from_utf8(raw).ok()?;
    let mut lines = text.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_string();
    let _path = request_line.next()?;
    let version = request_line.next()?;
    let mut head = Head {
        method,
        keep_alive: version == "HTTP/1.1",
        content_length: None,
        ws_key: None,
    };
    let mut upgrade = false;
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => head.content_length = Some(value.parse().ok()?),
            "connection" => {
                let v = value.to_ascii_lowercase();
                if v.contains("close") {
                    head.keep_alive = false;
                } else if v.contains("keep-alive") {
                    head.keep_alive = true;
                }
            }
            "upgrade" => upgrade = value.eq_ignore_ascii_case("websocket"),
            "sec-websocket-key" => head.ws_key = Some(value.to_string()),
            _ => {}
        }
    }
    if !upgrade {
        head.ws_key = None;
    }
    Some(head)
}

async fn write_response(
    stream: &mut TcpStream,
    status: &str,
    extra: &str,
    body: &str,
    keep_alive: bool,
) -> io::Result<()> {
    let conn = if keep_alive { "keep-alive" } else { "close" };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: {conn}\r\n{extra}\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await
}

/// Serves HTTP requests until the connection ends (`None`) or upgrades to WebSocket
/// (`Some(bytes already read past the handshake)`).
async fn http_phase(shared: &Shared, stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    loop {
        let head_end = loop {
            if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break pos + 4;
            }
            if buf.len() > MAX_HEAD {
                let _ =
                    write_response(stream, "431 Request Header Fields Too Large", "", "", false)
                        .await;
                return None;
            }
            if stream.read_buf(&mut buf).await.ok()? == 0 {
                return None;
            }
        };
        let Some(head) = parse_head(&buf[..head_end]) else {
            let _ = write_response(stream, "400 Bad Request", "", "", false).await;
            return None;
        };
        buf.drain(..head_end);
        if let Some(key) = &head.ws_key {
            if let Some(secs) = shared.take_rate_limit() {
                let _ = write_response(
                    stream,
                    "429 Too Many Requests",
                    &format!("Retry-After: {secs}\r\n"),
                    "",
                    false,
                )
                .await;
                return None;
            }
            let accept = derive_accept_key(key.as_bytes());
            let resp = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
            );
            stream.write_all(resp.as_bytes()).await.ok()?;
            return Some(buf);
        }
        if head.method != "POST" {
            let _ = write_response(
                stream,
                "405 Method Not Allowed",
                "Allow: POST\r\n",
                "",
                false,
            )
            .await;
            return None;
        }
        let Some(len) = head.content_length else {
            let _ = write_response(stream, "411 Length Required", "", "", false).await;
            return None;
        };
        if len > MAX_BODY {
            let _ = write_response(stream, "413 Payload Too Large", "", "", false).await;
            return None;
        }
        buf.reserve(len.saturating_sub(buf.len()));
        while buf.len() < len {
            if stream.read_buf(&mut buf).await.ok()? == 0 {
                return None;
            }
        }
        let body: Vec<u8> = buf.drain(..len).collect();
        shared.http_requests.fetch_add(1, Ordering::Relaxed);
        if let Some(until) = shared.hang_until() {
            // A hung endpoint: the request is read and never answered in time.
            tokio::time::sleep_until(until.into()).await;
        }
        let written = if let Some(status) = shared.take_http_status() {
            let reason = match status {
                500 => "Internal Server Error",
                502 => "Bad Gateway",
                503 => "Service Unavailable",
                504 => "Gateway Timeout",
                _ => "Error",
            };
            write_response(
                stream,
                &format!("{status} {reason}"),
                "",
                "<html>upstream error</html>",
                head.keep_alive,
            )
            .await
        } else if let Some(secs) = shared.take_rate_limit() {
            let body =
                r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32005,"message":"rate limited"}}"#;
            write_response(
                stream,
                "429 Too Many Requests",
                &format!("Retry-After: {secs}\r\n"),
                body,
                head.keep_alive,
            )
            .await
        } else {
            let reply = handle_body(shared, &body, None);
            write_response(stream, "200 OK", "", &reply, head.keep_alive).await
        };
        if written.is_err() || !head.keep_alive {
            return None;
        }
    }
}

type Ws = WebSocketStream<TcpStream>;

async fn recv<T: Clone>(rx: &mut Option<broadcast::Receiver<T>>) -> T {
    let Some(r) = rx else {
        return std::future::pending().await;
    };
    loop {
        match r.recv().await {
            Ok(v) => return v,
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => return std::future::pending().await,
        }
    }
}

fn notification(id: &str, result: &str) -> Message {
    Message::text(format!(
        r#"{{"jsonrpc":"2.0","method":"eth_subscription","params":{{"subscription":"{id}","result":{result}}}}}"#
    ))
}

async fn ws_session(shared: &Shared, mut ws: Ws, mut ctl: mpsc::UnboundedReceiver<Ctl>) {
    let mut subs: Vec<Sub> = Vec::new();
    let mut heads: Option<broadcast::Receiver<Arc<ChainEvent>>> = None;
    let mut pending: Option<broadcast::Receiver<Arc<PendingBatch>>> = None;
    loop {
        // Unbiased on purpose: a busy head stream must not starve pending hashes.
        let ok = tokio::select! {
            c = ctl.recv() => match c {
                None => return,
                Some(Ctl::Reset) => {
                    let _ = ws.get_ref().set_zero_linger();
                    return;
                }
                Some(Ctl::Close(code, reason)) => {
                    close_gracefully(&mut ws, code, reason).await;
                    return;
                }
                Some(Ctl::HalfOpen(d)) => stall(&ws, &mut ctl, d).await,
                Some(Ctl::Malformed(kind)) => send_malformed(shared, &mut ws, kind, &subs).await.is_ok(),
                Some(Ctl::Invented(header)) => send_invented(&mut ws, &subs, &header).await.is_ok(),
            },
            m = ws.next() => match m {
                None | Some(Err(_)) => return,
                Some(Ok(Message::Text(t))) => {
                    let reply = handle_body(shared, t.as_bytes(), Some(&mut subs));
                    sync_receivers(shared, &subs, &mut heads, &mut pending);
                    ws.send(Message::text(reply)).await.is_ok()
                }
                Some(Ok(Message::Binary(b))) => {
                    let reply = handle_body(shared, &b, Some(&mut subs));
                    sync_receivers(shared, &subs, &mut heads, &mut pending);
                    ws.send(Message::text(reply)).await.is_ok()
                }
                // Pings are answered by tungstenite as long as we keep reading.
                Some(Ok(_)) => true,
            },
            ev = recv(&mut heads) => send_chain_event(shared, &mut ws, &subs, &ev).await.is_ok(),
            batch = recv(&mut pending) => send_pending(shared, &mut ws, &subs, &batch).await.is_ok(),
        };
        if !ok {
            return;
        }
    }
}

fn sync_receivers(
    shared: &Shared,
    subs: &[Sub],
    heads: &mut Option<broadcast::Receiver<Arc<ChainEvent>>>,
    pending: &mut Option<broadcast::Receiver<Arc<PendingBatch>>>,
) {
    let wants_chain = subs
        .iter()
        .any(|s| matches!(s.kind, SubKind::NewHeads | SubKind::Logs(_)));
    let wants_pending = subs
        .iter()
        .any(|s| matches!(s.kind, SubKind::Pending { .. }));
    match (wants_chain, heads.is_some()) {
        (true, false) => *heads = Some(shared.heads_tx.subscribe()),
        (false, true) => *heads = None,
        _ => {}
    }
    match (wants_pending, pending.is_some()) {
        (true, false) => *pending = Some(shared.pending_tx.subscribe()),
        (false, true) => *pending = None,
        _ => {}
    }
}

/// Goes silent for `d`: nothing read (so no pongs), nothing written. Returns false
/// when the connection must end.
async fn stall(ws: &Ws, ctl: &mut mpsc::UnboundedReceiver<Ctl>, d: Duration) -> bool {
    let mut until = tokio::time::Instant::now() + d;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(until) => return true,
            c = ctl.recv() => match c {
                None | Some(Ctl::Close(..)) => return false,
                Some(Ctl::Reset) => {
                    let _ = ws.get_ref().set_zero_linger();
                    return false;
                }
                Some(Ctl::HalfOpen(more)) => until = until.max(tokio::time::Instant::now() + more),
                Some(Ctl::Malformed(_) | Ctl::Invented(_)) => {}
            }
        }
    }
}

async fn close_gracefully(ws: &mut Ws, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code: code.into(),
        reason: reason.into(),
    };
    if ws.close(Some(frame)).await.is_err() {
        return;
    }
    // Give the peer a moment to answer the close, as a real server would.
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

async fn send_malformed(
    shared: &Shared,
    ws: &mut Ws,
    kind: Malformed,
    subs: &[Sub],
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    let head_sub = subs
        .iter()
        .find(|s| matches!(s.kind, SubKind::NewHeads))
        .map_or("0x0", |s| s.id.as_str());
    let msg = match kind {
        Malformed::InvalidJson => Message::text(
            r#"{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"#,
        ),
        Malformed::Binary => Message::binary(vec![0xde, 0xad, 0xbe, 0xef, 0x00, 0xff]),
        Malformed::NoIdError => {
            Message::text(r#"{"jsonrpc":"2.0","error":{"code":-32603,"message":"internal error"}}"#)
        }
        Malformed::Oversize => {
            let filler = "a".repeat(17 * 1024 * 1024);
            notification(head_sub, &format!("\"{filler}\""))
        }
        Malformed::Deep => Message::text(format!("{}{}", "[".repeat(10_000), "]".repeat(10_000))),
        Malformed::Huge => {
            let filler = "a".repeat(40 * 1024 * 1024);
            notification(head_sub, &format!("\"{filler}\""))
        }
        Malformed::BadUtf8 => Message::Frame(Frame::message(
            vec![b'{', 0xff, 0xfe, b'}'],
            OpCode::Data(Data::Text),
            true,
        )),
        Malformed::BigHex => {
            let header = shared.chain.lock().ok().map(|c| {
                let mut v = methods::block_json(c.head(), false, 0);
                if let Some(o) = v.as_object_mut() {
                    o.insert("number".into(), format!("0x1{}", "0".repeat(99)).into());
                }
                v.to_string()
            });
            notification(head_sub, &header.unwrap_or_else(|| "null".into()))
        }
    };
    ws.send(msg).await
}

async fn send_invented(
    ws: &mut Ws,
    subs: &[Sub],
    header: &str,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    for sub in subs.iter().filter(|s| matches!(s.kind, SubKind::NewHeads)) {
        ws.send(notification(&sub.id, header)).await?;
    }
    Ok(())
}

async fn send_chain_event(
    shared: &Shared,
    ws: &mut Ws,
    subs: &[Sub],
    ev: &ChainEvent,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    let heads_stopped = shared
        .modes
        .lock()
        .is_ok_and(|m| m.heads_stopped_until.is_some_and(|t| Instant::now() < t));
    let chain_id = shared.chain_id.load(Ordering::Relaxed);
    let mut sent = false;
    for sub in subs {
        match &sub.kind {
            SubKind::NewHeads if !heads_stopped => {
                // Like geth, a reorg announces only the new tip.
                if let Some(tip) = ev.added.last() {
                    let header = if shared.cfg.heads_without_txs {
                        Arc::from(methods::geth_header_json(tip, chain_id))
                    } else {
                        header_json(tip, chain_id)
                    };
                    ws.feed(notification(&sub.id, &header)).await?;
                    sent = true;
                }
            }
            SubKind::Logs(filter) => {
                let blocks = ev
                    .removed
                    .iter()
                    .map(|b| (b, true))
                    .chain(ev.added.iter().map(|b| (b, false)));
                for (b, removed) in blocks {
                    for (ti, li, tx, log) in b.logs() {
                        if filter.matches(log) {
                            let json = log_json(b, ti, li, tx, log, removed).to_string();
                            ws.feed(notification(&sub.id, &json)).await?;
                            sent = true;
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if sent {
        ws.flush().await?;
    }
    Ok(())
}

async fn send_pending(
    shared: &Shared,
    ws: &mut Ws,
    subs: &[Sub],
    batch: &PendingBatch,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    let chain_id = shared.chain_id.load(Ordering::Relaxed);
    let mut sent = false;
    for sub in subs {
        if let SubKind::Pending { full } = sub.kind {
            for tx in &batch.txs {
                let result = if full {
                    tx_json(tx, chain_id, batch.base_fee, None).to_string()
                } else {
                    format!("\"{}\"", tx.hash)
                };
                ws.feed(notification(&sub.id, &result)).await?;
                sent = true;
            }
        }
    }
    if sent {
        ws.flush().await?;
    }
    Ok(())
}
