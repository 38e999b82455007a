//! The config file as TOML gives it: every value with its span, nothing checked yet.

use serde::Deserialize;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) theme: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) networks: Vec<Spanned<RawNetwork>>,
    #[serde(default)]
    pub(super) watch: Vec<Spanned<RawWatch>>,
    #[serde(default)]
    pub(super) contracts: Vec<Spanned<RawContract>>,
    /// `[pricing.NAME]` tables, checked against `cost::PriceTable` once merged.
    #[serde(default)]
    pub(super) pricing: std::collections::BTreeMap<String, Spanned<toml::Table>>,
    #[serde(default)]
    pub(super) sinks: Vec<Spanned<RawSink>>,
    #[serde(default)]
    pub(super) alerts: Vec<Spanned<RawAlert>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSink {
    pub(super) name: Spanned<String>,
    pub(super) kind: Spanned<String>,
    pub(super) url: Option<Spanned<String>>,
    pub(super) secret: Option<Spanned<String>>,
    pub(super) program: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) args: Vec<Spanned<String>>,
    pub(super) timeout_secs: Option<Spanned<u64>>,
    pub(super) bell: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAlert {
    pub(super) name: Spanned<String>,
    pub(super) kind: Spanned<String>,
    pub(super) networks: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) cooldown_secs: Option<Spanned<u64>>,
    pub(super) sinks: Spanned<Vec<Spanned<String>>>,
    pub(super) secs: Option<Spanned<u64>>,
    pub(super) min_depth: Option<Spanned<u64>>,
    pub(super) blocks: Option<Spanned<u64>>,
    pub(super) min_delta: Option<Spanned<f64>>,
    pub(super) threshold: Option<Spanned<f64>>,
    pub(super) min_value: Option<Spanned<f64>>,
    pub(super) above: Option<Spanned<f64>>,
    pub(super) below: Option<Spanned<f64>>,
    pub(super) percent: Option<Spanned<f64>>,
    pub(super) address: Option<Spanned<String>>,
    pub(super) token: Option<Spanned<String>>,
    pub(super) contract: Option<Spanned<String>>,
    pub(super) view: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawContract {
    pub(super) network: Spanned<String>,
    pub(super) address: Spanned<String>,
    pub(super) label: Spanned<String>,
    pub(super) events: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) abi: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) views: Vec<Spanned<RawView>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawView {
    pub(super) call: Spanned<String>,
    #[serde(default)]
    pub(super) args: Vec<Spanned<String>>,
    pub(super) every: Option<Spanned<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNetwork {
    pub(super) name: Spanned<String>,
    pub(super) ws: Option<Spanned<String>>,
    pub(super) http: Option<Spanned<String>>,
    pub(super) chain_id: Option<Spanned<u64>>,
    pub(super) explorer: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) allow_insecure: bool,
    #[serde(default)]
    pub(super) show_url_path: bool,
    pub(super) provider: Option<Spanned<String>>,
    pub(super) pending: Option<Spanned<String>>,
    pub(super) pending_drop_secs: Option<Spanned<u64>>,
    pub(super) multicall: Option<bool>,
    pub(super) refresh: Option<Spanned<String>>,
    pub(super) group: Option<Spanned<String>>,
    pub(super) finality_every: Option<Spanned<u64>>,
    pub(super) ping_interval_secs: Option<Spanned<u64>>,
    pub(super) max_message_bytes: Option<Spanned<u64>>,
    #[serde(default)]
    pub(super) fallback: Vec<Spanned<RawEndpoint>>,
    pub(super) tokens: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEndpoint {
    pub(super) ws: Option<Spanned<String>>,
    pub(super) http: Option<Spanned<String>>,
    pub(super) provider: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWatch {
    pub(super) address: Spanned<String>,
    pub(super) label: Spanned<String>,
    pub(super) networks: Option<Spanned<Vec<Spanned<String>>>>,
}
