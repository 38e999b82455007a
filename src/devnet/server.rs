//! The devnet on its port: accepts connections (HTTP first, WebSocket after an
//! upgrade), produces blocks and pending transactions, and plays outages.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_primitives::U256;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use super::DevnetConfig;
use super::chain::{Tx, random_address, random_b256};
use super::handle::DevnetHandle;
use super::http::http_phase;
use super::node::{ConnGuard, Ctl, PendingBatch, Shared, unix_now};
use super::ws::ws_session;

const PENDING_TICK: Duration = Duration::from_millis(10);

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
        let (down_tx, down_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::new(cfg.clone(), down_tx));
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

    /// The same chain through a provider `ms` slower: its notifications and HTTP
    /// answers come that much later (WebSocket and HTTP URLs).
    pub fn delayed_urls(&self, ms: u64) -> (String, String) {
        (
            format!("ws://{}/delay/{ms}", self.addr),
            format!("http://{}/delay/{ms}", self.addr),
        )
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
                // The next block's payments between the demo accounts are pending
                // until it is made.
                if let Some((base_fee, txs)) = chain.upcoming()
                    && !txs.is_empty()
                {
                    let txs = txs.to_vec();
                    let _ = shared
                        .pending_tx
                        .send(Arc::new(PendingBatch { base_fee, txs }));
                }
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
    let Some((leftover, delay)) = leftover else {
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
    ws_session(&shared, ws, ctl, delay).await;
}
