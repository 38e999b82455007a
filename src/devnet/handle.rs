//! `DevnetHandle`: how a test or the demo drives faults into a running devnet and
//! reads its counters.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::chain::{Chain, random_b256};
use super::fault::Fault;
use super::methods;
use super::node::{Ctl, Shared, unix_now};

/// Cheap, cloneable control and inspection of a running [`Devnet`].
#[derive(Clone)]
pub struct DevnetHandle {
    pub(super) shared: Arc<Shared>,
}

impl std::fmt::Debug for DevnetHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevnetHandle")
            .field("chain_id", &self.chain_id())
            .field("head", &self.head())
            .finish()
    }
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
