//! Configuration: serde types, file discovery, `${VAR}` interpolation and validation
//! with `file:line: key` errors. No ratatui here.

use std::path::{Path, PathBuf};

use alloy_primitives::Address;

/// Default WebSocket heartbeat interval.
pub const DEFAULT_PING_INTERVAL_SECS: u64 = 15;
/// Default maximum size of one WebSocket message.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Where the configuration came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    File(PathBuf),
    /// No file existed: the built-in public endpoints.
    BuiltinDefault,
    /// Built in code (demo, tests).
    Generated,
}

/// A loaded, validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Theme name (a built-in in `themes/` or a user theme file name).
    pub theme: String,
    pub networks: Vec<NetworkConfig>,
    pub watch: Vec<WatchConfig>,
    pub source: ConfigSource,
    /// Values substituted for `${VAR}`: secrets to redact wherever text is shown.
    pub secrets: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NetworkConfig {
    pub name: String,
    /// WebSocket URL (after interpolation). `None`: HTTP polling only.
    pub ws: Option<String>,
    /// HTTP URL (after interpolation).
    pub http: Option<String>,
    /// Expected chain id, checked on every connect.
    pub chain_id: Option<u64>,
    /// Block explorer base URL.
    pub explorer: Option<String>,
    /// Allow `ws://` / `http://` to non-loopback hosts.
    pub allow_insecure: bool,
    /// WebSocket ping interval in seconds.
    pub ping_interval_secs: u64,
    /// Largest accepted WebSocket message.
    pub max_message_bytes: usize,
    /// Further endpoints, tried in order when the current one keeps failing.
    pub fallbacks: Vec<Endpoint>,
}

/// One endpoint of a network (the primary is `NetworkConfig::ws`/`http`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub ws: Option<String>,
    pub http: Option<String>,
}

impl NetworkConfig {
    /// A network with defaults for everything but the name and URLs.
    pub fn new(name: impl Into<String>, ws: Option<String>, http: Option<String>) -> Self {
        Self {
            name: name.into(),
            ws,
            http,
            chain_id: None,
            explorer: None,
            allow_insecure: false,
            ping_interval_secs: DEFAULT_PING_INTERVAL_SECS,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            fallbacks: Vec::new(),
        }
    }

    /// The primary endpoint followed by the fallbacks.
    pub fn endpoints(&self) -> Vec<Endpoint> {
        let primary = Endpoint {
            ws: self.ws.clone(),
            http: self.http.clone(),
        };
        std::iter::once(primary)
            .chain(self.fallbacks.iter().cloned())
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct WatchConfig {
    pub address: Address,
    pub label: String,
    /// Network names; `None` = every network.
    pub networks: Option<Vec<String>>,
}

impl WatchConfig {
    pub fn applies_to(&self, network: &str) -> bool {
        self.networks
            .as_ref()
            .is_none_or(|n| n.iter().any(|x| x == network))
    }
}

/// A configuration error, already formatted for the user
/// (`path:line: key `k`: what was expected`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Platform default path of the config file (`…/chaintop/config.toml`).
pub fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "chaintop").map(|d| d.config_dir().join("config.toml"))
}

/// Platform data dir (logs, watch list).
pub fn data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "chaintop").map(|d| d.data_dir().to_path_buf())
}

/// Parse a config file's text. `path` is only used in error messages.
/// `env` looks up `${VAR}` values.
pub fn parse(
    _text: &str,
    _path: &Path,
    _env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    todo!("config parsing")
}
