//! The backend of one network: a session that owns its single WebSocket
//! (subscriptions, heartbeat, reconnect with backoff), a chain task (heads through
//! the tracker; backfill and reorgs over HTTP beside it), a refresh task (balances,
//! views and head confirmations in one batch per head), a log task and a reporter.
//! Everything they learn goes out as `Update`s on the shared bounded channel.

pub mod backoff;
pub mod chain;
mod decode;
mod detail;
mod feed;
mod heads;
mod logs;
pub mod mempool;
mod refresh;
mod report;
mod session;
mod shared;
#[cfg(test)]
pub(crate) mod test_server;
pub mod watchdog;
mod watched;

use std::sync::Arc;

use alloy_primitives::Address;
use tokio::sync::mpsc;

use crate::config::NetworkConfig;
use crate::event::{Command, NetIdx, Update};
use crate::rpc::http::{HttpClient, Lane};
use crate::text::Redactor;
pub(crate) use feed::ChainInput;
pub use heads::{BACKFILL_CHUNK, HOLD};
pub use report::REPORT_EVERY;
pub(crate) use shared::Shared;

/// The app (or a task a network's task feeds) has gone away: stop.
#[derive(Debug)]
pub(crate) struct AppGone;

/// Capacity of the channel from the WebSocket reader to the chain task.
const CHAIN_QUEUE: usize = 256;

/// Handle to a running network supervisor.
#[derive(Debug, Clone)]
pub struct NetworkHandle {
    pub commands: mpsc::Sender<Command>,
    /// Where the detail views' fetches go (`None`: no HTTP endpoint to ask).
    pub details: Option<mpsc::Sender<crate::event::DetailKey>>,
    /// What this network's traffic has cost so far.
    pub cost: Arc<crate::cost::Meter>,
    /// Every how many heads its `safe` and `finalized` blocks are read (0: never);
    /// the race turns it on while the network is in a chain group.
    pub finality: Arc<std::sync::atomic::AtomicU64>,
}

/// The network's cost meter, priced for its primary endpoint; says once when
/// pending transactions stay off because the provider bills each one.
fn meter(cfg: &NetworkConfig, pricing: &[crate::cost::PriceTable]) -> Arc<crate::cost::Meter> {
    let cost = crate::cost::Meter::new(crate::cost::table_in(
        pricing,
        cfg.provider.as_deref(),
        cfg.ws.as_deref().or(cfg.http.as_deref()),
    ));
    if cfg.pending.is_none()
        && let Some(p) = cost.bills_pending()
    {
        tracing::info!(
            network = %cfg.name,
            "pending transactions not subscribed: {p} bills each event (pending = \"count\" turns them on)"
        );
    }
    // One meter, one unit: an HTTP endpoint of another provider than the WebSocket's
    // is priced by the WebSocket's table (said once, not guessed at).
    if cfg.provider.is_none() {
        let name = |url: Option<&str>| {
            url.and_then(|u| crate::cost::table_in(pricing, None, Some(u)))
                .map(|t| t.name)
        };
        let (ws, http) = (name(cfg.ws.as_deref()), name(cfg.http.as_deref()));
        if cfg.ws.is_some() && cfg.http.is_some() && ws != http {
            tracing::warn!(
                network = %cfg.name,
                "the WebSocket is on {} and HTTP on {}: every call is priced as the WebSocket's (set provider = \"…\" to choose)",
                ws.as_deref().unwrap_or("no known provider"),
                http.as_deref().unwrap_or("no known provider"),
            );
        }
    }
    cost
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
    head_probe: Option<crate::rpc::frame::HeadProbe>,
    pricing: Arc<[crate::cost::PriceTable]>,
) -> NetworkHandle {
    let (cmd_tx, cmd_rx) = mpsc::channel(8);
    let cost = meter(&cfg, &pricing);
    let http = cfg.http.as_deref().and_then(|url| {
        HttpClient::new(url, redactor.clone(), cfg.max_message_bytes)
            .map(|h| h.metered(cost.clone()))
            .map_err(|e| tracing::error!(network = %cfg.name, "HTTP client: {e}"))
            .ok()
    });
    let mut shared = Shared::new(
        cfg.name.clone(),
        redactor.clone(),
        http.as_ref().map(|h| h.meter.clone()),
    );
    shared.head_probe = head_probe;
    shared.cost = cost.clone();
    shared.pricing = pricing;
    let finality = shared.finality_every.clone();
    let shared = Arc::new(shared);
    let (chain_tx, chain_rx) = mpsc::channel(CHAIN_QUEUE);
    let (feed, head_rx) = feed::HeadFeed::new();
    let watched = Arc::new(watched::Watched::new(watches));
    let decoder = logs::LogDecoder::new(&cfg.contracts, &cfg.tokens);
    let log_filters = decoder.filters();
    let (log_tx, log_rx) = mpsc::channel(LOG_QUEUE);
    let log_tx = log_filters.is_some().then_some(log_tx);
    tokio::spawn(logs::run(
        net,
        http.as_ref().map(|h| h.on(Lane::Refresh)),
        decoder,
        watched.clone(),
        log_rx,
        updates.clone(),
        shared.clone(),
    ));
    let follower = heads::Follower::new(
        net,
        http.clone(),
        updates.clone(),
        feed.clone(),
        shared.clone(),
        log_tx.clone().map(|tx| (tx, watched.clone())),
    );
    tokio::spawn(follower.run(chain_rx));
    // The mempool of the watched addresses: its tracker, fed by the session
    // (pending transactions) and the refresh task (the blocks' transactions).
    let mempool = (cfg.pending == Some(crate::config::PendingMode::Watched)).then(|| {
        let (tx, rx) = mpsc::channel(mempool::QUEUE);
        tokio::spawn(mempool::run(
            net,
            rx,
            updates.clone(),
            std::time::Duration::from_secs(cfg.pending_drop_secs),
            shared.clone(),
            http.as_ref().map(|h| h.on(Lane::Refresh)),
        ));
        tx
    });
    if let Some(http) = &http {
        let refresher = refresh::Refresher {
            net,
            http: http.on(Lane::Refresh),
            tokens: cfg.tokens.clone(),
            contracts: cfg.contracts.clone(),
            multicall: cfg.multicall,
            // Metered providers bill every read: there, only what moved.
            on_activity: match cfg.refresh {
                Some(m) => m == crate::config::RefreshMode::OnActivity,
                None => cost.is_priced(),
            },
            watched: watched.clone(),
            updates: updates.clone(),
            shared: shared.clone(),
            feed,
            chain_tx: chain_tx.clone(),
            mempool: mempool.clone(),
        };
        tokio::spawn(refresher.run(head_rx));
    }
    let details = http.as_ref().map(|http| {
        let (tx, rx) = mpsc::channel(detail::QUEUE);
        let fetcher = detail::Fetcher {
            net,
            http: http.on(Lane::Refresh),
            decoder: logs::LogDecoder::new(&cfg.contracts, &cfg.tokens),
            watched: watched.clone(),
            updates: updates.clone(),
            redactor: redactor.clone(),
            methods: detail::methods(&cfg),
        };
        tokio::spawn(fetcher.run(rx));
        tx
    });
    tokio::spawn(report::run(net, shared.clone(), updates.clone()));
    let sup = session::Supervisor::new(net, cfg, updates, redactor, shared, http, chain_tx, cmd_rx)
        .with_watch(watched, log_filters.zip(log_tx))
        .with_mempool(mempool);
    tokio::spawn(sup.run());
    NetworkHandle {
        commands: cmd_tx,
        details,
        cost,
        finality,
    }
}
