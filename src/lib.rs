//! chaintop: a terminal dashboard for live EVM chains.
//!
//! Layout and data flow are described in `ARCHITECTURE.md`: backend tasks send
//! `event::Update`s over one bounded channel; `state::AppState::apply` folds them;
//! `ui::draw` renders the state. Nothing in `state` or `ui` does I/O.

pub mod alerts;
pub mod app;
pub mod backend;
pub mod cli;
pub mod config;
pub mod cost;
pub mod devnet;
pub mod estimate;
pub mod event;
pub mod fmt;
pub mod headless;
pub mod keymap;
pub mod logging;
pub mod metrics;
pub mod network;
pub mod race;
pub mod rpc;
pub mod state;
pub mod tap;
pub mod text;
pub mod tui;
pub mod ui;
