//! Wiring: one supervisor per configured network, all feeding one bounded channel.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::config::Config;
use crate::event::Update;
use crate::network::{self, NetworkHandle};
use crate::state::{AppState, NetworkState, WatchRow};
use crate::text::Redactor;

/// Capacity of the update channel. Heads wait for room (never dropped); pending
/// counts and stats are coalesced when it is full.
pub const UPDATE_QUEUE: usize = 4096;

pub struct Backend {
    pub updates: mpsc::Receiver<Update>,
    pub networks: Vec<NetworkHandle>,
}

/// What a measuring caller (the load benchmark) adds to a backend.
#[derive(Default, Clone, Copy)]
pub struct Options {
    /// Called as each head's frame is read off the socket.
    pub head_probe: Option<crate::rpc::frame::HeadProbe>,
}

/// Start every network of the config. Must be called inside a tokio runtime.
pub fn start(config: &Config, redactor: &Arc<Redactor>) -> Backend {
    start_with(config, redactor, Options::default())
}

/// `start`, with measuring hooks.
pub fn start_with(config: &Config, redactor: &Arc<Redactor>, opts: Options) -> Backend {
    let (tx, rx) = mpsc::channel(UPDATE_QUEUE);
    let pricing: Arc<[crate::cost::PriceTable]> =
        crate::cost::with_overrides(&config.pricing).into();
    let networks = config
        .networks
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let watches = config.watches_on(&n.name).collect();
            network::spawn(
                i,
                n.clone(),
                watches,
                tx.clone(),
                redactor.clone(),
                opts.head_probe,
                pricing.clone(),
            )
        })
        .collect();
    Backend {
        updates: rx,
        networks,
    }
}

/// The networks as headless output names them, with their watched addresses' labels
/// and (when running) their meters.
pub fn headless_names(
    config: &Config,
    running: &[NetworkHandle],
) -> Vec<crate::headless::NetworkNames> {
    config
        .networks
        .iter()
        .enumerate()
        .map(|(i, n)| crate::headless::NetworkNames {
            cost: running.get(i).map(|h| h.cost.clone()),
            name: n.name.clone(),
            views: n.view_calls(),
            labels: config.watches_on(&n.name).collect(),
        })
        .collect()
}

/// The state before any update: one entry per network with its watch list.
pub fn initial_state(config: &Config, redactor: &Redactor) -> AppState {
    let networks = config
        .networks
        .iter()
        .map(|n| {
            let endpoint =
                n.ws.as_deref()
                    .or(n.http.as_deref())
                    .map(|u| n.shown_url(u, redactor));
            let mut s = NetworkState::new(n.name.clone(), endpoint.unwrap_or_default());
            s.expected_chain_id = n.chain_id;
            s.watches = config
                .watches_on(&n.name)
                .map(|(address, label)| WatchRow::new(label, address))
                .collect();
            s.add_config(n);
            s
        })
        .collect();
    let mut state = AppState::new(networks);
    state.tui_sinks = config.tui_sinks();
    state
}
