//! Turning config text into a validated [`Config`]: TOML → raw spanned types →
//! `${VAR}` interpolation → validation. Every error is `path:line: key `k`: message`.
//!
//! Error messages quote what the file says (with `${VAR}` names), never an
//! interpolated value, so they cannot leak secrets.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use alloy_primitives::Address;
use serde::Deserialize;
use toml::Spanned;

use alloy_dyn_abi::{DynSolEvent, JsonAbiExt, Specifier};
use alloy_json_abi::{Event, Function, JsonAbi};

use super::{
    Config, ConfigError, ConfigSource, ContractConfig, DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_PING_INTERVAL_SECS, Endpoint, NetworkConfig, ViewConfig, WatchConfig,
};
use crate::text::redact_url;

/// Smallest accepted `max_message_bytes`; anything less is surely a unit mistake.
const MIN_MESSAGE_BYTES: u64 = 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    theme: Option<Spanned<String>>,
    #[serde(default)]
    networks: Vec<Spanned<RawNetwork>>,
    #[serde(default)]
    watch: Vec<Spanned<RawWatch>>,
    #[serde(default)]
    contracts: Vec<Spanned<RawContract>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContract {
    network: Spanned<String>,
    address: Spanned<String>,
    label: Spanned<String>,
    events: Option<Spanned<Vec<Spanned<String>>>>,
    abi: Option<Spanned<String>>,
    #[serde(default)]
    views: Vec<Spanned<RawView>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawView {
    call: Spanned<String>,
    #[serde(default)]
    args: Vec<Spanned<String>>,
    every: Option<Spanned<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNetwork {
    name: Spanned<String>,
    ws: Option<Spanned<String>>,
    http: Option<Spanned<String>>,
    chain_id: Option<Spanned<u64>>,
    explorer: Option<Spanned<String>>,
    #[serde(default)]
    allow_insecure: bool,
    #[serde(default)]
    show_url_path: bool,
    ping_interval_secs: Option<Spanned<u64>>,
    max_message_bytes: Option<Spanned<u64>>,
    #[serde(default)]
    fallback: Vec<Spanned<RawEndpoint>>,
    tokens: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEndpoint {
    ws: Option<Spanned<String>>,
    http: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWatch {
    address: Spanned<String>,
    label: Spanned<String>,
    networks: Option<Spanned<Vec<Spanned<String>>>>,
}

/// Builds errors located in one file.
struct Ctx<'a> {
    text: &'a str,
    path: &'a Path,
    env: &'a dyn Fn(&str) -> Option<String>,
    secrets: Vec<String>,
}

impl Ctx<'_> {
    fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn err(&self, span: Range<usize>, key: &str, msg: impl std::fmt::Display) -> ConfigError {
        let line = self.line(span.start);
        ConfigError(format!(
            "{}:{line}: key `{key}`: {msg}",
            self.path.display()
        ))
    }

    /// Substitutes `${VAR}`s in a string value; `$${` is a literal `${`.
    fn interpolate(&mut self, s: &Spanned<String>, key: &str) -> Result<String, ConfigError> {
        let raw = s.get_ref();
        let mut out = String::with_capacity(raw.len());
        let mut rest = raw.as_str();
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let tail = &rest[i..];
            if let Some(after) = tail.strip_prefix("$${") {
                out.push_str("${");
                rest = after;
            } else if let Some(after) = tail.strip_prefix("${") {
                let Some(end) = after.find('}') else {
                    return Err(self.err(
                        s.span(),
                        key,
                        "unterminated `${` (write `$${` for a literal `${`)",
                    ));
                };
                let name = &after[..end];
                if !is_var_name(name) {
                    return Err(self.err(
                        s.span(),
                        key,
                        format_args!(
                            "`${{{name}}}`: expected an environment variable name \
                             (letters, digits, `_`)"
                        ),
                    ));
                }
                match (self.env)(name) {
                    None => {
                        return Err(self.err(
                            s.span(),
                            key,
                            format_args!(
                                "environment variable `{name}` (from `${{{name}}}`) is not set"
                            ),
                        ));
                    }
                    Some(v) if v.is_empty() => {
                        return Err(self.err(
                            s.span(),
                            key,
                            format_args!(
                                "environment variable `{name}` (from `${{{name}}}`) is empty"
                            ),
                        ));
                    }
                    Some(v) => {
                        out.push_str(&v);
                        if !self.secrets.contains(&v) {
                            self.secrets.push(v);
                        }
                    }
                }
                rest = &after[end + 1..];
            } else {
                out.push('$');
                rest = &tail[1..];
            }
        }
        out.push_str(rest);
        Ok(out)
    }
}

fn is_var_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parse a config file's text. `path` is only used in error messages.
/// `env` looks up `${VAR}` values.
pub fn parse(
    text: &str,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let mut cx = Ctx {
        text,
        path,
        env,
        secrets: Vec::new(),
    };
    // Syntax first, so that "invalid TOML" is told apart from schema mistakes.
    if let Err(e) = toml::from_str::<toml::Table>(text) {
        return Err(toml_error(&cx, &e, "invalid TOML: "));
    }
    let raw: RawConfig = toml::from_str(text).map_err(|e| toml_error(&cx, &e, ""))?;

    let theme_at = raw
        .theme
        .as_ref()
        .map(|t| format!("{}:{}", path.display(), cx.line(t.span().start)));
    let theme = match &raw.theme {
        Some(t) => {
            let v = cx.interpolate(t, "theme")?;
            if v.trim().is_empty() {
                return Err(cx.err(
                    t.span(),
                    "theme",
                    "expected a theme name, found an empty string",
                ));
            }
            v
        }
        None => "dark".to_string(),
    };

    if raw.networks.is_empty() {
        return Err(cx.err(
            0..0,
            "networks",
            "expected at least one [[networks]] table (with `name` and `ws` or `http`)",
        ));
    }
    let mut networks = Vec::with_capacity(raw.networks.len());
    let mut names: HashMap<String, usize> = HashMap::new();
    for (i, n) in raw.networks.iter().enumerate() {
        let net = network(&mut cx, i, n)?;
        if let Some(first) = names.insert(net.name.clone(), cx.line(n.get_ref().name.span().start))
        {
            return Err(cx.err(
                n.get_ref().name.span(),
                &format!("networks[{i}].name"),
                format_args!(
                    "duplicate network name {:?} (first used on line {first}); names must be unique",
                    n.get_ref().name.get_ref()
                ),
            ));
        }
        networks.push(net);
    }

    // For messages: what the file says, not interpolated values.
    let mut raw_names: Vec<&str> = raw
        .networks
        .iter()
        .map(|n| n.get_ref().name.get_ref().as_str())
        .collect();
    raw_names.sort_unstable();
    let mut watch = Vec::with_capacity(raw.watch.len());
    for (i, w) in raw.watch.iter().enumerate() {
        watch.push(watch_entry(&mut cx, i, w.get_ref(), &names, &raw_names)?);
    }

    for (i, c) in raw.contracts.iter().enumerate() {
        let (net, contract) = contract_entry(&mut cx, i, c, &names, &raw_names)?;
        let Some(net) = networks.iter_mut().find(|n| n.name == net) else {
            continue; // contract_entry checked the name
        };
        if let Some(dup) = net.contracts.iter().find(|x| x.address == contract.address) {
            return Err(cx.err(
                c.get_ref().address.span(),
                &format!("contracts[{i}].address"),
                format_args!(
                    "contract {} is already watched on network {:?} as {:?}; merge the two entries",
                    contract.address, net.name, dup.label
                ),
            ));
        }
        net.contracts.push(contract);
    }

    Ok(Config {
        theme,
        theme_at,
        networks,
        watch,
        source: ConfigSource::File(path.to_path_buf()),
        secrets: cx.secrets,
    })
}

fn network(
    cx: &mut Ctx<'_>,
    i: usize,
    n: &Spanned<RawNetwork>,
) -> Result<NetworkConfig, ConfigError> {
    let key = |k: &str| format!("networks[{i}].{k}");
    let r = n.get_ref();
    let name = cx.interpolate(&r.name, &key("name"))?;
    check_name(cx, &r.name, &name, &key("name"))?;

    let (ws, http) = endpoint_urls(cx, &r.ws, &r.http, &key(""), r.allow_insecure)?;
    if ws.is_none() && http.is_none() {
        return Err(cx.err(
            n.span(),
            &format!("networks[{i}]"),
            format_args!(
                "network {:?}: expected a `ws` or an `http` URL (or both)",
                r.name.get_ref()
            ),
        ));
    }
    let explorer = match &r.explorer {
        Some(s) => {
            let url = check_url(cx, s, &key("explorer"), UrlKind::Explorer, true)?;
            Some(url.trim_end_matches('/').to_string())
        }
        None => None,
    };
    let chain_id = match &r.chain_id {
        Some(c) if *c.get_ref() == 0 => {
            return Err(cx.err(
                c.span(),
                &key("chain_id"),
                "expected a chain id of at least 1, found 0",
            ));
        }
        Some(c) => Some(*c.get_ref()),
        None => None,
    };
    let ping_interval_secs = match &r.ping_interval_secs {
        Some(p) if *p.get_ref() == 0 => {
            return Err(cx.err(
                p.span(),
                &key("ping_interval_secs"),
                "expected at least 1 (seconds), found 0",
            ));
        }
        Some(p) => *p.get_ref(),
        None => DEFAULT_PING_INTERVAL_SECS,
    };
    let max_message_bytes = match &r.max_message_bytes {
        Some(m) => {
            let v = *m.get_ref();
            match usize::try_from(v) {
                Ok(b) if v >= MIN_MESSAGE_BYTES => b,
                _ => {
                    return Err(cx.err(
                        m.span(),
                        &key("max_message_bytes"),
                        format_args!(
                            "expected a size in bytes of at least {MIN_MESSAGE_BYTES}, found {v}"
                        ),
                    ));
                }
            }
        }
        None => DEFAULT_MAX_MESSAGE_BYTES,
    };
    let mut fallbacks = Vec::with_capacity(r.fallback.len());
    for (j, f) in r.fallback.iter().enumerate() {
        let fkey = |k: &str| format!("networks[{i}].fallback[{j}].{k}");
        let e = f.get_ref();
        let (ws, http) = endpoint_urls(cx, &e.ws, &e.http, &fkey(""), r.allow_insecure)?;
        if ws.is_none() && http.is_none() {
            return Err(cx.err(
                f.span(),
                &format!("networks[{i}].fallback[{j}]"),
                "expected a `ws` or an `http` URL (or both)",
            ));
        }
        fallbacks.push(Endpoint { ws, http });
    }
    let mut tokens = Vec::new();
    for t in r.tokens.iter().flat_map(|l| l.get_ref()) {
        let text = cx.interpolate(t, &key("tokens"))?;
        let a = parse_address(&text).map_err(|m| {
            cx.err(
                t.span(),
                &key("tokens"),
                format_args!("{m}, found {:?}", t.get_ref()),
            )
        })?;
        if !tokens.contains(&a) {
            tokens.push(a);
        }
    }
    Ok(NetworkConfig {
        name,
        ws,
        http,
        chain_id,
        explorer,
        allow_insecure: r.allow_insecure,
        ping_interval_secs,
        max_message_bytes,
        fallbacks,
        tokens,
        contracts: Vec::new(),
        show_url_path: r.show_url_path,
    })
}

/// Checked `ws` and `http` URLs of one endpoint; `prefix` is the key path ending in `.`.
fn endpoint_urls(
    cx: &mut Ctx<'_>,
    ws: &Option<Spanned<String>>,
    http: &Option<Spanned<String>>,
    prefix: &str,
    allow_insecure: bool,
) -> Result<(Option<String>, Option<String>), ConfigError> {
    let ws = match ws {
        Some(s) => Some(check_url(
            cx,
            s,
            &format!("{prefix}ws"),
            UrlKind::Ws,
            allow_insecure,
        )?),
        None => None,
    };
    let http = match http {
        Some(s) => Some(check_url(
            cx,
            s,
            &format!("{prefix}http"),
            UrlKind::Http,
            allow_insecure,
        )?),
        None => None,
    };
    Ok((ws, http))
}

fn check_name(
    cx: &Ctx<'_>,
    s: &Spanned<String>,
    value: &str,
    key: &str,
) -> Result<(), ConfigError> {
    if value.trim().is_empty() {
        return Err(cx.err(s.span(), key, "expected a non-empty name"));
    }
    if value.chars().any(char::is_control) {
        return Err(cx.err(s.span(), key, "expected a name without control characters"));
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum UrlKind {
    Ws,
    Http,
    Explorer,
}

/// A URL as written in the file, for an error message: `scheme://host[:port]`, its
/// `${VAR}` references, and `…` for any other text after the host.
fn shown_in_errors(raw: &str) -> String {
    let host = redact_url(raw);
    let Some(base) = host.strip_suffix("/…") else {
        return host;
    };
    let Some(after) = raw.find("://").and_then(|i| {
        raw[i + 3..]
            .find(['/', '?', '#'])
            .map(|j| &raw[i + 3 + j..])
    }) else {
        return host;
    };
    let mut out = base.to_string();
    let mut rest = after;
    while !rest.is_empty() {
        let (text, var) = match rest.find("${") {
            Some(i) => {
                let end = rest[i..].find('}').map_or(rest.len(), |e| i + e + 1);
                (&rest[..i], &rest[i..end])
            }
            None => (rest, ""),
        };
        if text.chars().any(|c| c.is_ascii_alphanumeric()) {
            let lead = text.chars().next().filter(|c| matches!(c, '/' | '?'));
            let trail = text.chars().last().filter(|c| matches!(c, '/' | '='));
            out.extend(lead);
            out.push('…');
            out.extend(trail);
        } else {
            out.push_str(text);
        }
        out.push_str(var);
        rest = &rest[text.len() + var.len()..];
    }
    out
}

/// Interpolates and checks a URL; returns the interpolated text unchanged.
fn check_url(
    cx: &mut Ctx<'_>,
    s: &Spanned<String>,
    key: &str,
    kind: UrlKind,
    allow_insecure: bool,
) -> Result<String, ConfigError> {
    let value = cx.interpolate(s, key)?;
    // The raw text holds `${VAR}` names, not their values: those are shown, and
    // everything else after the host is masked (a key may be pasted in literally).
    let shown = shown_in_errors(s.get_ref());
    let url = url::Url::parse(&value).map_err(|e| {
        cx.err(
            s.span(),
            key,
            format_args!("expected a URL, found {shown:?} ({e})"),
        )
    })?;
    let (secure, insecure) = match kind {
        UrlKind::Ws => ("wss", "ws"),
        UrlKind::Http | UrlKind::Explorer => ("https", "http"),
    };
    let scheme = url.scheme();
    if scheme != secure && scheme != insecure {
        return Err(cx.err(
            s.span(),
            key,
            format_args!(
                "expected a {secure}:// or {insecure}:// URL, found scheme `{scheme}` in {shown:?}"
            ),
        ));
    }
    let Some(host) = url.host() else {
        return Err(cx.err(
            s.span(),
            key,
            format_args!("expected a URL with a host, found {shown:?}"),
        ));
    };
    if scheme == insecure && !allow_insecure && !is_loopback(&host) {
        return Err(cx.err(
            s.span(),
            key,
            format_args!(
                "refusing unencrypted {insecure}:// to non-loopback host in {shown:?}: \
                 use {secure}://, or set `allow_insecure = true` for this network"
            ),
        ));
    }
    Ok(value)
}

fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

fn watch_entry(
    cx: &mut Ctx<'_>,
    i: usize,
    w: &RawWatch,
    names: &HashMap<String, usize>,
    raw_names: &[&str],
) -> Result<WatchConfig, ConfigError> {
    let key = |k: &str| format!("watch[{i}].{k}");
    let text = cx.interpolate(&w.address, &key("address"))?;
    let address = parse_address(&text).map_err(|m| {
        cx.err(
            w.address.span(),
            &key("address"),
            format_args!("{m}, found {:?}", w.address.get_ref()),
        )
    })?;
    let label = cx.interpolate(&w.label, &key("label"))?;
    if label.trim().is_empty() {
        return Err(cx.err(w.label.span(), &key("label"), "expected a non-empty label"));
    }
    if label.chars().any(char::is_control) {
        return Err(cx.err(
            w.label.span(),
            &key("label"),
            "expected a label without control characters",
        ));
    }
    let networks = match &w.networks {
        None => None,
        Some(list) if list.get_ref().is_empty() => {
            return Err(cx.err(
                list.span(),
                &key("networks"),
                "expected at least one network name (leave `networks` out to watch on every network)",
            ));
        }
        Some(list) => {
            let mut out = Vec::with_capacity(list.get_ref().len());
            for n in list.get_ref() {
                let name = cx.interpolate(n, &key("networks"))?;
                if !names.contains_key(&name) {
                    return Err(cx.err(
                        n.span(),
                        &key("networks"),
                        format_args!(
                            "unknown network {:?}; expected one of {}",
                            n.get_ref(),
                            quote_list(raw_names)
                        ),
                    ));
                }
                if !out.contains(&name) {
                    out.push(name);
                }
            }
            Some(out)
        }
    };
    Ok(WatchConfig {
        address,
        label,
        networks,
    })
}

/// A 20-byte hex address; mixed case must carry a valid EIP-55 checksum, since a
/// wrong one almost always means a typo.
pub(crate) fn parse_address(s: &str) -> Result<Address, &'static str> {
    let s = s.trim();
    let hex = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .filter(|h| h.len() == 40 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or("expected a 20-byte hex address (0x followed by 40 hex digits)")?;
    let mixed =
        hex.bytes().any(|b| b.is_ascii_lowercase()) && hex.bytes().any(|b| b.is_ascii_uppercase());
    if mixed {
        Address::parse_checksummed(format!("0x{hex}"), None).map_err(|_| {
            "mixed-case address fails its EIP-55 checksum, which usually means a typo \
             (check it, or write it all in lowercase to skip the check)"
        })
    } else {
        hex.parse()
            .map_err(|_| "expected a 20-byte hex address (0x followed by 40 hex digits)")
    }
}

/// A `[[contracts]]` entry; returns the name of its network and the contract.
fn contract_entry(
    cx: &mut Ctx<'_>,
    i: usize,
    c: &Spanned<RawContract>,
    names: &HashMap<String, usize>,
    raw_names: &[&str],
) -> Result<(String, ContractConfig), ConfigError> {
    let key = |k: &str| format!("contracts[{i}].{k}");
    let r = c.get_ref();
    let network = cx.interpolate(&r.network, &key("network"))?;
    if !names.contains_key(&network) {
        return Err(cx.err(
            r.network.span(),
            &key("network"),
            format_args!(
                "unknown network {:?}; expected one of {}",
                r.network.get_ref(),
                quote_list(raw_names)
            ),
        ));
    }
    let text = cx.interpolate(&r.address, &key("address"))?;
    let address = parse_address(&text).map_err(|m| {
        cx.err(
            r.address.span(),
            &key("address"),
            format_args!("{m}, found {:?}", r.address.get_ref()),
        )
    })?;
    let label = cx.interpolate(&r.label, &key("label"))?;
    if label.trim().is_empty() || label.chars().any(char::is_control) {
        return Err(cx.err(
            r.label.span(),
            &key("label"),
            "expected a non-empty label without control characters",
        ));
    }
    let mut events: Vec<Event> = Vec::new();
    let mut add = |e: Event, cx: &Ctx<'_>, span: Range<usize>, k: &str| {
        let topics = e.inputs.iter().filter(|p| p.indexed).count() + usize::from(!e.anonymous);
        if topics > 4 {
            return Err(cx.err(
                span,
                k,
                format_args!(
                    "event `{}` has {topics} topics; a log carries at most 4 (at most 3 indexed parameters)",
                    e.name
                ),
            ));
        }
        if !events
            .iter()
            .any(|x| x.selector() == e.selector() && x.anonymous == e.anonymous)
        {
            events.push(e);
        }
        Ok(())
    };
    for s in r.events.iter().flat_map(|l| l.get_ref()) {
        let k = key("events");
        let text = cx.interpolate(s, &k)?;
        let e = Event::parse(text.trim())
            .map_err(|e| e.to_string())
            .and_then(|e| {
                Specifier::<DynSolEvent>::resolve(&e)
                    .map(|_| e)
                    .map_err(|err| err.to_string())
            })
            .map_err(|e| {
                cx.err(
                    s.span(),
                    &k,
                    format_args!(
                        "expected an event signature like \
                     `Transfer(address indexed from, address indexed to, uint256 value)`, \
                     found {:?} ({})",
                        s.get_ref(),
                        first_line(&e)
                    ),
                )
            })?;
        add(e, cx, s.span(), &k)?;
    }
    if let Some(a) = &r.abi {
        let k = key("abi");
        let rel = cx.interpolate(a, &k)?;
        let file = cx.path.parent().unwrap_or(Path::new("")).join(&rel);
        let text = std::fs::read_to_string(&file).map_err(|e| {
            cx.err(
                a.span(),
                &k,
                format_args!("cannot read ABI file {}: {e}", file.display()),
            )
        })?;
        let abi = parse_abi(&text).map_err(|e| {
            cx.err(
                a.span(),
                &k,
                format_args!(
                    "{}: expected a JSON ABI (an array, or an object with an `abi` array): {e}",
                    file.display()
                ),
            )
        })?;
        for e in abi.events() {
            add(e.clone(), cx, a.span(), &k)?;
        }
    }
    if r.events.is_none() && r.abi.is_none() && r.views.is_empty() {
        return Err(cx.err(
            c.span(),
            &format!("contracts[{i}]"),
            "expected `events`, `abi` or `views`: a contract with none of them shows nothing",
        ));
    }
    let mut views = Vec::with_capacity(r.views.len());
    for (j, v) in r.views.iter().enumerate() {
        views.push(view_entry(
            cx,
            &format!("contracts[{i}].views[{j}]"),
            v.get_ref(),
        )?);
    }
    Ok((
        network,
        ContractConfig {
            address,
            label,
            events,
            views,
        },
    ))
}

/// A JSON ABI: a bare array, or a compiler artifact with an `abi` field.
fn parse_abi(text: &str) -> Result<JsonAbi, String> {
    #[derive(Deserialize)]
    struct Artifact {
        abi: JsonAbi,
    }
    serde_json::from_str::<JsonAbi>(text)
        .or_else(|e| {
            serde_json::from_str::<Artifact>(text)
                .map(|a| a.abi)
                .map_err(|_| e)
        })
        .map_err(|e| e.to_string())
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s).trim()
}

fn view_entry(cx: &mut Ctx<'_>, base: &str, v: &RawView) -> Result<ViewConfig, ConfigError> {
    let key = |k: &str| format!("{base}.{k}");
    let call = cx.interpolate(&v.call, &key("call"))?;
    let bad = |cx: &Ctx<'_>, why: &str| {
        cx.err(
            v.call.span(),
            &key("call"),
            format_args!(
                "expected a view signature with output types like \
                 `balanceOf(address)(uint256)`, found {:?}{why}",
                v.call.get_ref()
            ),
        )
    };
    let function = Function::parse(call.trim())
        .map_err(|e| bad(cx, &format!(" ({})", first_line(&e.to_string()))))?;
    if function.outputs.is_empty() {
        return Err(bad(cx, " (no output types)"));
    }
    for p in function.inputs.iter().chain(&function.outputs) {
        if let Err(e) = p.resolve() {
            return Err(bad(cx, &format!(" ({})", first_line(&e.to_string()))));
        }
    }
    if v.args.len() != function.inputs.len() {
        return Err(cx.err(
            v.call.span(),
            &key("args"),
            format_args!(
                "`{}` takes {} argument(s), `args` gives {}",
                function.name,
                function.inputs.len(),
                v.args.len()
            ),
        ));
    }
    let mut values = Vec::with_capacity(v.args.len());
    for (a, p) in v.args.iter().zip(&function.inputs) {
        let text = cx.interpolate(a, &key("args"))?;
        let ty = p.resolve().map_err(|e| cx.err(a.span(), &key("args"), e))?;
        let value = ty.coerce_str(text.trim()).map_err(|e| {
            cx.err(
                a.span(),
                &key("args"),
                format_args!(
                    "expected a {} value, found {:?} ({})",
                    p.ty,
                    a.get_ref(),
                    first_line(&e.to_string())
                ),
            )
        })?;
        values.push(value);
    }
    let calldata = function
        .abi_encode_input(&values)
        .map_err(|e| cx.err(v.call.span(), &key("args"), e))?;
    let every = match &v.every {
        Some(e) if *e.get_ref() == 0 => {
            return Err(cx.err(
                e.span(),
                &key("every"),
                "expected at least 1 (blocks), found 0",
            ));
        }
        Some(e) => *e.get_ref(),
        None => 1,
    };
    Ok(ViewConfig {
        call: call.trim().to_string(),
        function,
        calldata: calldata.into(),
        every,
    })
}

fn quote_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rewrites a toml/serde error as `path:line: key `k`: message`. The key is found from
/// the error's position: the enclosing `[[table]]` and the `key =` it falls under.
fn toml_error(cx: &Ctx<'_>, e: &toml::de::Error, prefix: &str) -> ConfigError {
    let offset = e.span().map_or(0, |s| s.start);
    let line = cx.line(offset);
    let msg = e.message().trim();
    let (section, key_on_line, on_header) = locate(cx.text, offset);
    let join = |k: &str| match &section {
        Some(s) => format!("{s}.{k}"),
        None => k.to_string(),
    };
    let (key, what) = if let Some(rest) = msg.strip_prefix("unknown field `") {
        let (field, valid) = rest.split_once('`').unwrap_or((rest, ""));
        let valid: Vec<&str> = valid.split('`').skip(1).step_by(2).collect();
        let hint = closest(field, &valid)
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        // On a `[table]` header line the unknown key is that table itself.
        let key = if on_header {
            field.to_string()
        } else {
            join(field)
        };
        (
            Some(key),
            format!("unknown key{hint}; valid keys here: {}", quote_list(&valid)),
        )
    } else if let Some(rest) = msg.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        (Some(join(field)), "missing required key".to_string())
    } else if let Some(rest) = msg
        .strip_prefix("invalid type: ")
        .or_else(|| msg.strip_prefix("invalid value: "))
    {
        let what = match rest.rsplit_once(", expected ") {
            Some((found, expected)) => {
                let article = if found.starts_with(['a', 'e', 'i', 'o', 'u']) {
                    "an"
                } else {
                    "a"
                };
                format!("expected {}, found {article} {found}", friendly(expected))
            }
            None => rest.to_string(),
        };
        (key_on_line.map(|k| join(&k)), what)
    } else {
        (key_on_line.map(|k| join(&k)).or(section), msg.to_string())
    };
    let path = cx.path.display();
    match key {
        Some(k) => ConfigError(format!("{path}:{line}: key `{k}`: {prefix}{what}")),
        None => ConfigError(format!("{path}:{line}: {prefix}{what}")),
    }
}

fn friendly(expected: &str) -> &str {
    match expected {
        "u64" | "usize" | "u32" | "u16" => "a non-negative integer",
        "a boolean" => "a boolean (true or false)",
        "a sequence" => "an array",
        other => other,
    }
}

/// Section (`networks[1]`; None at top level) and key of the assignment containing
/// `offset`, read from the source lines, and whether `offset` is on a table header.
fn locate(text: &str, offset: usize) -> (Option<String>, Option<String>, bool) {
    let mut on_header = false;
    let mut section = None;
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut key = None;
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        if start > offset {
            break;
        }
        start += line.len();
        let t = line.trim_start();
        on_header = t.starts_with('[');
        if let Some(name) = t
            .strip_prefix("[[")
            .and_then(|r| r.split_once("]]"))
            .map(|(n, _)| n.trim())
        {
            let n = counts.entry(name.to_string()).or_insert(0);
            section = Some(format!("{name}[{n}]"));
            *n += 1;
            key = None;
        } else if let Some(name) = t
            .strip_prefix('[')
            .and_then(|r| r.split_once(']'))
            .map(|(n, _)| n.trim())
        {
            section = Some(name.to_string());
            key = None;
        } else if let Some((k, _)) = t.split_once('=') {
            let k = k.trim();
            if !k.is_empty()
                && !k.starts_with('#')
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.\"'".contains(c))
            {
                key = Some(k.trim_matches(['"', '\'']).to_string());
            }
        }
    }
    (section, key, on_header)
}

/// The valid key nearest to a misspelt one, if it is close.
fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_in_errors_keep_their_variable_names_and_nothing_else() {
        assert_eq!(
            shown_in_errors("ws://rpc.example.invalid/${PROVIDER_KEY}"),
            "ws://rpc.example.invalid/${PROVIDER_KEY}"
        );
        assert_eq!(
            shown_in_errors("wss://x.example/ws/v3/${KEY}?apikey=${K2}"),
            "wss://x.example/…/${KEY}?…=${K2}"
        );
        assert_eq!(
            shown_in_errors("wss://x.example/v3/9aa3d95b3bc440fa88ea12eaa4456161"),
            "wss://x.example/…"
        );
        assert_eq!(
            shown_in_errors("ws://127.0.0.1:8545"),
            "ws://127.0.0.1:8545"
        );
    }
}
