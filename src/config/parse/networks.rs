//! Validating networks (names, endpoint URLs, timings) and watch entries.

use std::collections::HashMap;

use alloy_primitives::Address;
use toml::Spanned;

use super::diagnostics::{Ctx, quote_list};
use super::raw::{RawNetwork, RawWatch};
use crate::config::{
    ConfigError, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_PING_INTERVAL_SECS, Endpoint, NetworkConfig,
    PendingMode, RefreshMode, WatchConfig,
};
use crate::text::redact_url;

/// Smallest accepted `max_message_bytes`; anything less is surely a unit mistake.
const MIN_MESSAGE_BYTES: u64 = 1024;

pub(super) fn network(
    cx: &mut Ctx<'_>,
    i: usize,
    n: &Spanned<RawNetwork>,
    providers: &[&str],
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
    let chain_id = chain_id(cx, r, &key)?;
    let ping_interval_secs = ping_interval(cx, r, &key)?;
    let max_message_bytes = max_message_bytes(cx, r, &key)?;
    let fallbacks = fallbacks(cx, i, r, providers)?;
    let tokens = tokens(cx, r, &key)?;
    let provider = provider(cx, &r.provider, &key("provider"), providers)?;
    let pending = pending(cx, r, &key("pending"))?;
    let pending_drop_secs = match &r.pending_drop_secs {
        Some(p) if *p.get_ref() == 0 => {
            return Err(cx.err(
                p.span(),
                &key("pending_drop_secs"),
                "expected at least 1 (seconds), found 0",
            ));
        }
        Some(p) => *p.get_ref(),
        None => crate::config::DEFAULT_PENDING_DROP_SECS,
    };
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
        provider,
        pending,
        pending_drop_secs,
        multicall: r.multicall.unwrap_or(true),
        refresh: refresh(cx, r, &key("refresh"))?,
        group: group(cx, &r.group, &key("group"))?,
        finality_every: r
            .finality_every
            .as_ref()
            .map_or(crate::config::DEFAULT_FINALITY_EVERY, |f| *f.get_ref()),
    })
}

/// `refresh = "every_head" | "on_activity"`.
fn refresh(
    cx: &mut Ctx<'_>,
    r: &RawNetwork,
    key: &str,
) -> Result<Option<RefreshMode>, ConfigError> {
    let Some(v) = &r.refresh else {
        return Ok(None);
    };
    match cx.interpolate(v, key)?.as_str() {
        "every_head" => Ok(Some(RefreshMode::EveryHead)),
        "on_activity" => Ok(Some(RefreshMode::OnActivity)),
        _ => Err(cx.err(
            v.span(),
            key,
            format_args!(
                "expected \"every_head\" or \"on_activity\", found {:?}",
                v.get_ref()
            ),
        )),
    }
}

/// `pending = "count" | "watched" | "off"`.
fn pending(
    cx: &mut Ctx<'_>,
    r: &RawNetwork,
    key: &str,
) -> Result<Option<PendingMode>, ConfigError> {
    let Some(p) = &r.pending else {
        return Ok(None);
    };
    match cx.interpolate(p, key)?.as_str() {
        "count" => Ok(Some(PendingMode::Count)),
        "off" => Ok(Some(PendingMode::Off)),
        "watched" => Ok(Some(PendingMode::Watched)),
        _ => Err(cx.err(
            p.span(),
            key,
            format_args!(
                "expected \"count\", \"watched\" or \"off\", found {:?}",
                p.get_ref()
            ),
        )),
    }
}

/// `provider = "…"`: one of the price tables (built in, or a `[pricing.NAME]`).
fn provider(
    cx: &mut Ctx<'_>,
    p: &Option<Spanned<String>>,
    key: &str,
    known: &[&str],
) -> Result<Option<String>, ConfigError> {
    let Some(p) = p else {
        return Ok(None);
    };
    let name = cx.interpolate(p, key)?;
    if !known.contains(&name.as_str()) {
        return Err(cx.err(
            p.span(),
            key,
            format_args!(
                "unknown provider {:?}; expected one of {}",
                p.get_ref(),
                quote_list(known)
            ),
        ));
    }
    Ok(Some(name))
}

/// `group = "…"`: a name people read, so no control characters.
fn group(
    cx: &mut Ctx<'_>,
    g: &Option<Spanned<String>>,
    key: &str,
) -> Result<Option<String>, ConfigError> {
    let Some(g) = g else {
        return Ok(None);
    };
    let name = cx.interpolate(g, key)?;
    if name.trim().is_empty() || name.chars().any(char::is_control) {
        return Err(cx.err(
            g.span(),
            key,
            "expected a group name (not empty, no control characters)",
        ));
    }
    Ok(Some(name))
}

fn chain_id(
    cx: &Ctx<'_>,
    r: &RawNetwork,
    key: &dyn Fn(&str) -> String,
) -> Result<Option<u64>, ConfigError> {
    match &r.chain_id {
        Some(c) if *c.get_ref() == 0 => Err(cx.err(
            c.span(),
            &key("chain_id"),
            "expected a chain id of at least 1, found 0",
        )),
        Some(c) => Ok(Some(*c.get_ref())),
        None => Ok(None),
    }
}

fn ping_interval(
    cx: &Ctx<'_>,
    r: &RawNetwork,
    key: &dyn Fn(&str) -> String,
) -> Result<u64, ConfigError> {
    match &r.ping_interval_secs {
        Some(p) if *p.get_ref() == 0 => Err(cx.err(
            p.span(),
            &key("ping_interval_secs"),
            "expected at least 1 (seconds), found 0",
        )),
        Some(p) => Ok(*p.get_ref()),
        None => Ok(DEFAULT_PING_INTERVAL_SECS),
    }
}

fn max_message_bytes(
    cx: &Ctx<'_>,
    r: &RawNetwork,
    key: &dyn Fn(&str) -> String,
) -> Result<usize, ConfigError> {
    let Some(m) = &r.max_message_bytes else {
        return Ok(DEFAULT_MAX_MESSAGE_BYTES);
    };
    let v = *m.get_ref();
    match usize::try_from(v) {
        Ok(b) if v >= MIN_MESSAGE_BYTES => Ok(b),
        _ => Err(cx.err(
            m.span(),
            &key("max_message_bytes"),
            format_args!("expected a size in bytes of at least {MIN_MESSAGE_BYTES}, found {v}"),
        )),
    }
}

/// The `[[networks.fallback]]` endpoints, in order.
fn fallbacks(
    cx: &mut Ctx<'_>,
    i: usize,
    r: &RawNetwork,
    providers: &[&str],
) -> Result<Vec<Endpoint>, ConfigError> {
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
        let provider = provider(cx, &e.provider, &fkey("provider"), providers)?;
        fallbacks.push(Endpoint { ws, http, provider });
    }
    Ok(fallbacks)
}

/// The `tokens` addresses, each once.
fn tokens(
    cx: &mut Ctx<'_>,
    r: &RawNetwork,
    key: &dyn Fn(&str) -> String,
) -> Result<Vec<Address>, ConfigError> {
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
    Ok(tokens)
}

/// Checked `ws` and `http` URLs of one endpoint; `prefix` is the key path ending in `.`.
pub(super) fn endpoint_urls(
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

pub(super) fn check_name(
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
pub(super) enum UrlKind {
    Ws,
    Http,
    Explorer,
}

/// A URL as written in the file, for an error message: `scheme://host[:port]`, its
/// `${VAR}` references, and `…` for any other text after the host.
pub(super) fn shown_in_errors(raw: &str) -> String {
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
pub(super) fn check_url(
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

pub(super) fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

pub(super) fn watch_entry(
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
