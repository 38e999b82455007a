//! The integration tests, in one binary so the crate is linked once. Each module
//! was a test binary of its own; `support`, `client_support`, `proxy`, `pty` and
//! `headless_child` are shared helpers.

mod client_support;
mod headless_child;
mod proxy;
mod pty;
mod support;

mod alerts;
mod anvil_recovery;
mod anvil_support;
mod cli;
mod client_faults;
mod config_fixtures;
mod cost;
mod desktop;
mod detail;
mod devnet_server;
mod flood;
mod headless_anvil;
mod headless_watch;
mod mempool;
mod metrics;
mod multicall;
mod partial_failure;
mod race;
mod redaction;
mod shape_compat;
mod soak;
mod terminal;
mod ui_snapshots;
