//! `[[sinks]]` and `[[alerts]]`: each checked against the others and the networks.

use std::collections::HashMap;
use std::time::Duration;

use toml::Spanned;

use super::diagnostics::{Ctx, closest, quote_list};
use super::networks::parse_address;
use super::raw::{RawAlert, RawSink};
use crate::config::alerts::{AlertKind, AlertRule, SinkConfig, SinkKind, TUI_SINK};
use crate::config::{ConfigError, NetworkConfig};

const SINK_KINDS: [&str; 4] = ["webhook", "command", "desktop", "tui"];
const ALERT_KINDS: [&str; 9] = [
    "head_stalled",
    "connection_down",
    "reorg",
    "balance_change",
    "balance_below",
    "transfer",
    "view",
    "credits",
    "provider_lag",
];
const WEBHOOK_TIMEOUT: u64 = 10;
const COMMAND_TIMEOUT: u64 = 10;
const DESKTOP_TIMEOUT: u64 = 5;
const COOLDOWN: u64 = 300;

pub(super) fn sink(cx: &mut Ctx<'_>, i: usize, s: &RawSink) -> Result<SinkConfig, ConfigError> {
    let key = |k: &str| format!("sinks[{i}].{k}");
    let name = cx.interpolate(&s.name, &key("name"))?;
    if name.trim().is_empty() {
        return Err(cx.err(s.name.span(), &key("name"), "expected a non-empty name"));
    }
    if name == TUI_SINK && s.kind.get_ref() != TUI_SINK {
        return Err(cx.err(
            s.name.span(),
            &key("name"),
            format_args!("{TUI_SINK:?} is the dashboard's own sink: its kind is \"tui\""),
        ));
    }
    let timeout =
        |d: u64| Duration::from_secs(s.timeout_secs.as_ref().map_or(d, |t| *t.get_ref()).max(1));
    let kind = match s.kind.get_ref().as_str() {
        "webhook" => {
            let Some(url) = &s.url else {
                return Err(cx.err(s.kind.span(), &key("url"), "a webhook needs a `url`"));
            };
            let text = cx.interpolate(url, &key("url"))?;
            if !(text.starts_with("https://") || text.starts_with("http://")) {
                return Err(cx.err(
                    url.span(),
                    &key("url"),
                    "expected an http:// or https:// URL",
                ));
            }
            let secret = match &s.secret {
                Some(sec) => Some(cx.interpolate(sec, &key("secret"))?),
                None => None,
            };
            SinkKind::Webhook {
                url: text,
                secret,
                timeout: timeout(WEBHOOK_TIMEOUT),
            }
        }
        "command" => {
            let Some(program) = &s.program else {
                return Err(cx.err(
                    s.kind.span(),
                    &key("program"),
                    "a command sink needs a `program` (run without a shell, with `args`)",
                ));
            };
            let program = cx.interpolate(program, &key("program"))?;
            let mut args = Vec::with_capacity(s.args.len());
            for a in &s.args {
                args.push(cx.interpolate(a, &key("args"))?);
            }
            SinkKind::Command {
                program,
                args,
                timeout: timeout(COMMAND_TIMEOUT),
            }
        }
        "tui" => SinkKind::Tui {
            bell: s.bell.unwrap_or(false),
        },
        "desktop" => SinkKind::Desktop {
            timeout: timeout(DESKTOP_TIMEOUT),
        },
        other => return Err(unknown(cx, &s.kind, &key("kind"), other, &SINK_KINDS)),
    };
    Ok(SinkConfig { name, kind })
}

/// The value of an optional key.
fn value<T: Copy>(v: &Option<Spanned<T>>) -> Option<T> {
    v.as_ref().map(|x| *x.get_ref())
}

fn unknown(
    cx: &Ctx<'_>,
    at: &Spanned<String>,
    key: &str,
    found: &str,
    valid: &[&str],
) -> ConfigError {
    let hint = closest(found, valid)
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default();
    cx.err(
        at.span(),
        key,
        format_args!(
            "unknown kind {found:?}{hint}; expected one of {}",
            quote_list(valid)
        ),
    )
}

/// One rule; `sinks` are the names defined, `networks` the config's.
pub(super) fn alert(
    cx: &mut Ctx<'_>,
    i: usize,
    a: &RawAlert,
    sinks: &[SinkConfig],
    networks: &[NetworkConfig],
    names: &HashMap<String, usize>,
) -> Result<AlertRule, ConfigError> {
    let key = |k: &str| format!("alerts[{i}].{k}");
    let name = cx.interpolate(&a.name, &key("name"))?;
    if name.trim().is_empty() || name.chars().any(char::is_control) {
        return Err(cx.err(a.name.span(), &key("name"), "expected a non-empty name"));
    }
    let mut sink_names = Vec::new();
    if a.sinks.get_ref().is_empty() {
        return Err(cx.err(a.sinks.span(), &key("sinks"), "expected at least one sink"));
    }
    for s in a.sinks.get_ref() {
        let n = s.get_ref();
        if n != TUI_SINK && !sinks.iter().any(|x| &x.name == n) {
            let mut known: Vec<&str> = sinks.iter().map(|x| x.name.as_str()).collect();
            if !known.contains(&TUI_SINK) {
                known.push(TUI_SINK);
            }
            return Err(cx.err(
                s.span(),
                &key("sinks"),
                format_args!(
                    "unknown sink {n:?}; expected one of {} (define it in a [[sinks]] table)",
                    quote_list(&known)
                ),
            ));
        }
        sink_names.push(n.clone());
    }
    let networks_of = match &a.networks {
        None => None,
        Some(list) => {
            let mut out = Vec::new();
            for n in list.get_ref() {
                if !names.contains_key(n.get_ref()) {
                    return Err(cx.err(
                        n.span(),
                        &key("networks"),
                        format_args!("unknown network {:?}", n.get_ref()),
                    ));
                }
                out.push(n.get_ref().clone());
            }
            Some(out)
        }
    };
    let need = |k: &str| needs(cx, a, &key(k), k);
    let address = |v: &Option<Spanned<String>>,
                   k: &str|
     -> Result<Option<alloy_primitives::Address>, ConfigError> {
        match v {
            None => Ok(None),
            Some(s) => parse_address(s.get_ref())
                .map(Some)
                .map_err(|m| cx.err(s.span(), &key(k), m)),
        }
    };
    let token = match &a.token {
        None => None,
        Some(t) if t.get_ref() == "native" => Some(None),
        Some(t) => Some(Some(parse_address(t.get_ref()).map_err(|m| {
            cx.err(t.span(), &key("token"), format_args!("{m}, or \"native\""))
        })?)),
    };
    let kind = match a.kind.get_ref().as_str() {
        "head_stalled" => AlertKind::HeadStalled {
            secs: value(&a.secs).ok_or_else(|| need("secs"))?.max(1),
        },
        "connection_down" => AlertKind::ConnectionDown {
            secs: value(&a.secs).ok_or_else(|| need("secs"))?.max(1),
        },
        "reorg" => AlertKind::Reorg {
            min_depth: value(&a.min_depth).unwrap_or(1).max(1),
        },
        "balance_change" => AlertKind::BalanceChange {
            min_delta: value(&a.min_delta).ok_or_else(|| need("min_delta"))?,
            address: address(&a.address, "address")?,
            token,
        },
        "balance_below" => AlertKind::BalanceBelow {
            threshold: value(&a.threshold).ok_or_else(|| need("threshold"))?,
            address: address(&a.address, "address")?,
            token,
        },
        "transfer" => AlertKind::Transfer {
            min_value: value(&a.min_value).ok_or_else(|| need("min_value"))?,
            contract: address(&a.contract, "contract")?,
        },
        "view" => {
            let contract = address(&a.contract, "contract")?.ok_or_else(|| {
                cx.err(
                    a.kind.span(),
                    &key("contract"),
                    "`view` needs `contract` and `view`",
                )
            })?;
            let Some(view) = &a.view else {
                return Err(cx.err(
                    a.kind.span(),
                    &key("view"),
                    "`view` needs `view` (its call)",
                ));
            };
            // The view is named by its call, as written in its contract's `views`.
            let found = networks.iter().flat_map(|n| n.contracts.iter()).any(|c| {
                c.address == contract && c.views.iter().any(|v| &v.call == view.get_ref())
            });
            if !found {
                return Err(cx.err(
                    view.span(),
                    &key("view"),
                    format_args!(
                        "no view {:?} on a watched contract {contract}",
                        view.get_ref()
                    ),
                ));
            };
            let (above, below) = (value(&a.above), value(&a.below));
            if above.is_none() && below.is_none() {
                return Err(cx.err(
                    a.kind.span(),
                    &key("above"),
                    "`view` needs `above` or `below`",
                ));
            }
            AlertKind::View {
                contract,
                call: view.get_ref().clone(),
                above,
                below,
            }
        }
        "credits" => AlertKind::Credits {
            percent: value(&a.percent).ok_or_else(|| need("percent"))?,
        },
        "provider_lag" => AlertKind::ProviderLag {
            blocks: value(&a.blocks).ok_or_else(|| need("blocks"))?,
            secs: value(&a.secs).ok_or_else(|| need("secs"))?,
        },
        other => return Err(unknown(cx, &a.kind, &key("kind"), other, &ALERT_KINDS)),
    };
    Ok(AlertRule {
        name,
        kind,
        networks: networks_of,
        cooldown: Duration::from_secs(a.cooldown_secs.as_ref().map_or(COOLDOWN, |c| *c.get_ref())),
        sinks: sink_names,
    })
}

/// "`KIND` needs `KEY`", at the rule's `kind`.
fn needs(cx: &Ctx<'_>, a: &RawAlert, key: &str, k: &str) -> ConfigError {
    cx.err(
        a.kind.span(),
        key,
        format_args!("`{}` needs `{k}`", a.kind.get_ref()),
    )
}
