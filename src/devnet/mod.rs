//! Embedded simulated devnet: a fake EVM chain served over real JSON-RPC (HTTP and
//! WebSocket on one loopback port), for `chaintop demo`, fault-injection tests and
//! load benchmarks.
//!
//! It simulates what a dashboard observes — heads, base fees, pending hashes, balances,
//! ERC-20 transfer logs and reorgs — and executes nothing. Faults are described in
//! `src/devnet/FAULTS.md` and injected through [`DevnetHandle::inject`] or scheduled
//! from CLI specs with [`schedule`].

mod calls;
mod chain;
mod fault;
mod handle;
mod http;
mod methods;
mod node;
mod server;
mod ws;

use std::time::Duration;

use alloy_primitives::{Address, address};

pub use chain::next_base_fee;
pub use fault::{
    Fault, FaultSpec, FaultSpecError, LogsRangeStyle, Malformed, UnknownTarget, check_targets,
    schedule,
};
pub use handle::DevnetHandle;
pub use server::Devnet;

/// The demo ERC-20 token every devnet simulates (`eth_call` answers, `Transfer` logs).
pub const DEMO_TOKEN: Address = address!("ac2f86702824c1c099724caf4941d4072014b3ce");
pub const DEMO_TOKEN_SYMBOL: &str = "SIMUSD";
pub const DEMO_TOKEN_NAME: &str = "Simulated Dollar";
pub const DEMO_TOKEN_DECIMALS: u8 = 18;

/// One simulated network.
#[derive(Debug, Clone, PartialEq)]
pub struct DevnetConfig {
    /// Short label, also the `/NETWORK` part of fault specs.
    pub name: String,
    pub chain_id: u64,
    /// Time between blocks; values below 1 ms work (several blocks per timer tick).
    pub block_time: Duration,
    /// Seeds the chain: the same seed gives the same block hashes.
    pub seed: u64,
    /// Pending transaction hashes per second for `newPendingTransactions`.
    pub pending_rate: u32,
    /// Chance per block of a spontaneous reorg of depth 1–3.
    pub reorg_probability: f64,
    /// 0 picks an ephemeral port.
    pub port: u16,
    /// Number of the first block, produced at start.
    pub start_block: u64,
    /// Push `newHeads` without a transaction list, as geth, reth and Erigon do.
    pub heads_without_txs: bool,
}

impl Default for DevnetConfig {
    fn default() -> Self {
        Self {
            name: "sim".into(),
            chain_id: 31_337,
            block_time: Duration::from_secs(2),
            seed: 1,
            pending_rate: 20,
            reorg_probability: 0.0,
            port: 0,
            start_block: 19_000_000,
            heads_without_txs: false,
        }
    }
}

/// The three networks `chaintop demo` shows: mainnet-like, L2-like and fast.
pub fn demo_networks() -> Vec<DevnetConfig> {
    vec![
        DevnetConfig {
            name: "sim-l1".into(),
            chain_id: 1_337_001,
            block_time: Duration::from_secs(12),
            seed: 0x11,
            pending_rate: 40,
            reorg_probability: 0.02,
            port: 0,
            start_block: 19_000_000,
            heads_without_txs: false,
        },
        DevnetConfig {
            name: "sim-l2".into(),
            chain_id: 1_337_002,
            block_time: Duration::from_secs(2),
            seed: 0x22,
            pending_rate: 15,
            reorg_probability: 0.0,
            port: 0,
            start_block: 7_250_000,
            heads_without_txs: false,
        },
        DevnetConfig {
            name: "sim-fast".into(),
            chain_id: 1_337_003,
            block_time: Duration::from_millis(250),
            seed: 0x33,
            pending_rate: 150,
            reorg_probability: 0.01,
            port: 0,
            start_block: 120_000_000,
            heads_without_txs: false,
        },
    ]
}

/// The demo shows `sim-l1` through a second, slower provider too (`sim-l1-slow`,
/// this many ms behind): a chain group, raced on its cards and in `v`.
pub const DEMO_SLOW_MS: u64 = 350;

/// Labelled demo addresses whose ETH and token balances move in every devnet.
pub fn demo_watch() -> Vec<(Address, &'static str)> {
    chain::ACCOUNTS[..chain::TREASURY].to_vec()
}
