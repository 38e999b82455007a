//! `[[alerts]]` rules and the `[[sinks]]` they notify, as validated from the file.

use std::time::Duration;

use alloy_primitives::Address;

/// Where notices go. `tui` needs no `[[sinks]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkConfig {
    pub name: String,
    pub kind: SinkKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SinkKind {
    /// An HTTP POST of the notice as JSON; signed with HMAC-SHA256 when `secret` is
    /// set (header `X-Chaintop-Signature: sha256=HEX`).
    Webhook {
        url: String,
        secret: Option<String>,
        timeout: Duration,
    },
    /// A program run with `args` (no shell) and `CHAINTOP_ALERT_*` in its
    /// environment; killed after `timeout`.
    Command {
        program: String,
        args: Vec<String>,
        timeout: Duration,
    },
    /// A desktop notification over D-Bus (`org.freedesktop.Notifications`).
    Desktop { timeout: Duration },
    /// The dashboard: the triggering row flashed, and the terminal bell if asked.
    Tui { bell: bool },
}

/// The name that needs no `[[sinks]]` entry (one may set its `bell`).
pub const TUI_SINK: &str = "tui";

/// One `[[alerts]]` rule.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    pub name: String,
    pub kind: AlertKind,
    /// Network names; `None`: every network.
    pub networks: Option<Vec<String>>,
    /// Within it, repeats are counted, not sent.
    pub cooldown: Duration,
    pub sinks: Vec<String>,
}

impl AlertRule {
    pub fn applies_to(&self, network: &str) -> bool {
        self.networks
            .as_ref()
            .is_none_or(|n| n.iter().any(|x| x == network))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum AlertKind {
    /// No new head for `secs` (resolved when one comes).
    HeadStalled { secs: u64 },
    /// The connection not live for `secs` (resolved when it is).
    ConnectionDown { secs: u64 },
    /// A reorg at least `min_depth` deep.
    Reorg { min_depth: u64 },
    /// A watched balance moved by at least `min_delta` whole units.
    BalanceChange {
        min_delta: f64,
        address: Option<Address>,
        token: Option<Option<Address>>,
    },
    /// A watched balance under `threshold` whole units (resolved above it).
    BalanceBelow {
        threshold: f64,
        address: Option<Address>,
        token: Option<Option<Address>>,
    },
    /// A decoded event of a watched token or contract with a value of at least
    /// `min_value` (whole units when the token's decimals are known).
    Transfer {
        min_value: f64,
        contract: Option<Address>,
    },
    /// A view's value above `above` or below `below` (resolved back inside).
    /// The view is named by its call as in the contract's `views`; each network
    /// finds it among its own.
    View {
        contract: Address,
        call: String,
        above: Option<f64>,
        below: Option<f64>,
    },
    /// The projected day's spend past `percent` of the budget.
    Credits { percent: f64 },
    /// More than `blocks` behind the best head of its chain group for `secs`
    /// (resolved when it is back within `blocks`).
    ProviderLag { blocks: u64, secs: u64 },
}

impl AlertKind {
    pub fn name(&self) -> &'static str {
        match self {
            AlertKind::HeadStalled { .. } => "head_stalled",
            AlertKind::ConnectionDown { .. } => "connection_down",
            AlertKind::Reorg { .. } => "reorg",
            AlertKind::BalanceChange { .. } => "balance_change",
            AlertKind::BalanceBelow { .. } => "balance_below",
            AlertKind::Transfer { .. } => "transfer",
            AlertKind::View { .. } => "view",
            AlertKind::Credits { .. } => "credits",
            AlertKind::ProviderLag { .. } => "provider_lag",
        }
    }
}
