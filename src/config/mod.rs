//! Configuration: serde types, file discovery, `${VAR}` interpolation and validation
//! with `file:line: key` errors. No ratatui here.
//!
//! File shape and rules are documented for users in [`TEMPLATE`] and
//! `assets/config.example.toml`. In short: any string value may contain `${NAME}`
//! (environment variable; unset or empty is an error; `$${` is a literal `${`), and
//! every substituted value lands in [`Config::secrets`]. Error messages quote the
//! file's own text (`${NAME}`), never substituted values. A watch entry needs a
//! non-empty `label`: the address alone is not a useful name on screen.

use std::io::Write;
use std::path::{Path, PathBuf};

use alloy_primitives::Address;

pub mod alerts;
pub use alerts::{AlertKind, AlertRule, SinkConfig, SinkKind};
mod parse;
pub mod theme;
pub mod watchlist;

pub use parse::parse;
pub(crate) use parse::parse_address;

/// Environment variable naming the config file (after `--config`, before the
/// platform default).
pub const CONFIG_ENV: &str = "CHAINTOP_CONFIG";

/// The commented config written by `chaintop config init`; also what chaintop runs
/// with when no config file exists (see [`builtin_default`]).
pub const TEMPLATE: &str = include_str!("template.toml");

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
    /// `file:line` where the theme was set, for errors about it (None: the default).
    pub theme_at: Option<String>,
    pub networks: Vec<NetworkConfig>,
    pub watch: Vec<WatchConfig>,
    pub source: ConfigSource,
    /// Values substituted for `${VAR}`: secrets to redact wherever text is shown.
    pub secrets: Vec<String>,
    /// `[pricing.NAME]` tables: built-in prices overridden, and providers added.
    pub pricing: Vec<crate::cost::PriceTable>,
    /// `[[alerts]]` rules and the `[[sinks]]` they notify.
    pub alerts: Vec<AlertRule>,
    pub sinks: Vec<SinkConfig>,
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
    /// ERC-20 tokens whose balance is shown for every watched address here.
    pub tokens: Vec<Address>,
    /// `[[contracts]]` entries for this network (in file order).
    pub contracts: Vec<ContractConfig>,
    /// Show the endpoints' paths (keys written literally in a path included);
    /// otherwise only `scheme://host[:port]` is shown.
    pub show_url_path: bool,
    /// The provider whose prices apply (`provider = "…"`); otherwise recognised
    /// from the endpoint's host.
    pub provider: Option<String>,
    /// `pending = "count" | "off"`; `None`: off where the provider bills each
    /// pending event, counted elsewhere.
    pub pending: Option<PendingMode>,
    /// With `pending = "watched"`: seconds after which a transaction neither mined
    /// nor replaced counts as dropped.
    pub pending_drop_secs: u64,
    /// Refresh through Multicall3 where it is deployed (`multicall = false`: always
    /// one batch entry per read).
    pub multicall: bool,
    /// `refresh = "every_head" | "on_activity"`; `None`: on activity where the
    /// provider is metered, every head elsewhere.
    pub refresh: Option<RefreshMode>,
    /// Names the chain group this network races in (`group = "…"`); otherwise
    /// networks whose endpoints report the same chain id form one.
    pub group: Option<String>,
    /// In a group: read the `safe` and `finalized` blocks every this many heads
    /// (0: never).
    pub finality_every: u64,
}

/// In a group, `safe` and `finalized` are read every this many heads.
pub const DEFAULT_FINALITY_EVERY: u64 = 10;

/// When watched addresses' balances are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshMode {
    /// At every head.
    EveryHead,
    /// When the address appears in a block or a watched token's `Transfer`, and
    /// all of them every 50 blocks (internal transfers leave no trace).
    OnActivity,
}

/// What to do with the mempool's pending transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingMode {
    /// Subscribe to `newPendingTransactions` and show the rate.
    Count,
    /// Do not subscribe.
    Off,
    /// Full pending transactions: those that touch a watched address are followed
    /// (pending, mined, replaced, dropped); the others are counted.
    Watched,
}

/// A watched pending transaction not seen mined after this long is dropped.
pub const DEFAULT_PENDING_DROP_SECS: u64 = 600;

/// A watched contract: its events feed the event list, its views are read per head.
#[derive(Debug, Clone, PartialEq)]
pub struct ContractConfig {
    pub address: Address,
    pub label: String,
    /// From `events = [...]` signatures and the `abi` file, without duplicates.
    pub events: Vec<alloy_json_abi::Event>,
    pub views: Vec<ViewConfig>,
}

/// One `eth_call` read of a contract, e.g. `balanceOf(address)(uint256)`.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewConfig {
    /// The signature as written (shown in the contract pane).
    pub call: String,
    /// Parsed signature; its outputs decode the answer.
    pub function: alloy_json_abi::Function,
    /// Selector and ABI-encoded arguments.
    pub calldata: alloy_primitives::Bytes,
    /// Read every this many blocks (at least 1).
    pub every: u64,
}

/// One endpoint of a network (the primary is `NetworkConfig::ws`/`http`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub ws: Option<String>,
    pub http: Option<String>,
    /// `provider = "…"` of this endpoint (see `NetworkConfig::provider`).
    pub provider: Option<String>,
}

impl NetworkConfig {
    /// Each contract view's call as written, by (contract, position in its `views`).
    pub fn view_calls(&self) -> std::collections::HashMap<(Address, usize), String> {
        self.contracts
            .iter()
            .flat_map(|c| {
                c.views
                    .iter()
                    .enumerate()
                    .map(|(i, v)| ((c.address, i), v.call.clone()))
            })
            .collect()
    }

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
            tokens: Vec::new(),
            contracts: Vec::new(),
            show_url_path: false,
            provider: None,
            pending: None,
            pending_drop_secs: DEFAULT_PENDING_DROP_SECS,
            multicall: true,
            refresh: None,
            group: None,
            finality_every: DEFAULT_FINALITY_EVERY,
        }
    }

    /// How this network's endpoint `url` is shown.
    pub fn shown_url(&self, url: &str, redactor: &crate::text::Redactor) -> String {
        if self.show_url_path {
            redactor.url_with_path(url)
        } else {
            redactor.url(url)
        }
    }

    /// The primary endpoint followed by the fallbacks.
    pub fn endpoints(&self) -> Vec<Endpoint> {
        let primary = Endpoint {
            ws: self.ws.clone(),
            http: self.http.clone(),
            provider: self.provider.clone(),
        };
        std::iter::once(primary)
            .chain(self.fallbacks.iter().cloned())
            .collect()
    }
}

impl Config {
    /// A config of `networks` and nothing else, made in code (the demo, tests).
    pub fn with_networks(networks: Vec<NetworkConfig>) -> Self {
        Self {
            theme: "dark".into(),
            theme_at: None,
            networks,
            watch: Vec::new(),
            source: ConfigSource::Generated,
            secrets: Vec::new(),
            pricing: Vec::new(),
            alerts: Vec::new(),
            sinks: Vec::new(),
        }
    }

    /// The watched addresses of network `name`, with their labels.
    pub fn watches_on<'a>(&'a self, name: &'a str) -> impl Iterator<Item = (Address, String)> + 'a {
        self.watch
            .iter()
            .filter(move |w| w.applies_to(name))
            .map(|w| (w.address, w.label.clone()))
    }

    /// The dashboard's own sinks, each with whether it rings the terminal bell:
    /// `tui` (built in, silent unless a `[[sinks]]` table named `tui` says
    /// `bell = true`) and every other sink of kind `tui`.
    pub fn tui_sinks(&self) -> Vec<(String, bool)> {
        let mut out = vec![(alerts::TUI_SINK.to_string(), false)];
        for s in &self.sinks {
            if let SinkKind::Tui { bell } = s.kind {
                match out.iter_mut().find(|(n, _)| *n == s.name) {
                    Some(e) => e.1 = bell,
                    None => out.push((s.name.clone(), bell)),
                }
            }
        }
        out
    }

    /// The redactor for everything this config makes chaintop print: `${VAR}`
    /// values, and the key-holding parts of every endpoint URL.
    pub fn redactor(&self) -> crate::text::Redactor {
        let urls = self.networks.iter().flat_map(|n| {
            n.endpoints()
                .into_iter()
                .flat_map(|e| [e.ws, e.http])
                .flatten()
        });
        let urls: Vec<String> = urls.collect();
        crate::text::Redactor::with_urls(self.secrets.clone(), urls.iter().map(String::as_str))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct WatchConfig {
    pub address: Address,
    /// Required and non-empty in files.
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

/// Why a config path was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `--config FILE`.
    Cli,
    /// `$CHAINTOP_CONFIG`.
    Env,
    /// The platform's config directory.
    PlatformDefault,
    /// No platform path exists (no home directory): the path is empty.
    NoHome,
}

impl Origin {
    /// Named by the user: the file must exist (no fallback to the built-in default).
    pub fn is_explicit(self) -> bool {
        matches!(self, Origin::Cli | Origin::Env)
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Origin::Cli => "--config",
            Origin::Env => CONFIG_ENV,
            Origin::PlatformDefault => "platform default",
            Origin::NoHome => "no home directory",
        })
    }
}

/// Which file to read and why: `--config FILE`, else `$CHAINTOP_CONFIG`, else the
/// platform default (or, with no home directory, an empty path: [`load`] then uses
/// the built-in default).
pub fn lookup_path(cli_path: Option<&Path>) -> (PathBuf, Origin) {
    lookup_path_with(cli_path, &|k| std::env::var_os(k), default_path())
}

fn lookup_path_with(
    cli_path: Option<&Path>,
    env: &dyn Fn(&str) -> Option<std::ffi::OsString>,
    default: Option<PathBuf>,
) -> (PathBuf, Origin) {
    if let Some(p) = cli_path {
        return (p.to_path_buf(), Origin::Cli);
    }
    if let Some(p) = env(CONFIG_ENV).filter(|p| !p.is_empty()) {
        return (PathBuf::from(p), Origin::Env);
    }
    match default {
        Some(p) => (p, Origin::PlatformDefault),
        None => (PathBuf::new(), Origin::NoHome),
    }
}

/// Finds, reads and parses the config (see [`lookup_path`]). A file named by
/// `--config` or `$CHAINTOP_CONFIG` must exist; a missing platform default file means
/// [`builtin_default`]. `${VAR}`s are taken from the process environment.
pub fn load(cli_path: Option<&Path>) -> Result<Config, ConfigError> {
    let env = |k: &str| std::env::var(k).ok();
    load_with(lookup_path(cli_path), &env)
}

fn load_with(
    (path, why): (PathBuf, Origin),
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let implicit = !why.is_explicit();
    if why == Origin::NoHome {
        return Ok(builtin_default());
    }
    match std::fs::read_to_string(&path) {
        Ok(text) => parse(&text, &path, env),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && implicit => Ok(builtin_default()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(ConfigError(format!(
            "{}: config file not found (named by {why}); `chaintop config init` writes one",
            path.display()
        ))),
        Err(e) => Err(ConfigError(format!(
            "{}: cannot read config file: {e}",
            path.display()
        ))),
    }
}

/// The configuration used when no config file exists: [`TEMPLATE`] (public no-key
/// endpoints for Ethereum, Base and Arbitrum One).
pub fn builtin_default() -> Config {
    let mut config = parse(TEMPLATE, Path::new("<built-in config>"), &|_| None)
        .expect("TEMPLATE is a constant and parses; tested in config::tests");
    config.source = ConfigSource::BuiltinDefault;
    config
}

/// Writes [`TEMPLATE`] to `path` (creating parent directories), never overwriting an
/// existing file. Returns the path written.
pub fn init(path: &Path) -> Result<PathBuf, ConfigError> {
    let fail =
        |what: &str, e: std::io::Error| ConfigError(format!("{}: {what}: {e}", path.display()));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| fail("cannot create its directory", e))?;
    }
    // create_new: the existence check and the creation are one step, so a file that
    // appears in between is not clobbered either.
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(ConfigError(format!(
                "{}: already exists; not overwriting it (edit it, or remove it first)",
                path.display()
            )));
        }
        Err(e) => return Err(fail("cannot create", e)),
    };
    file.write_all(TEMPLATE.as_bytes())
        .map_err(|e| fail("cannot write", e))?;
    Ok(path.to_path_buf())
}

#[cfg(test)]
mod tests;
