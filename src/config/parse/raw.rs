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
    pub(super) multicall: Option<bool>,
    pub(super) refresh: Option<Spanned<String>>,
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
