//! Turning config text into a validated [`Config`]: TOML → raw spanned types →
//! `${VAR}` interpolation → validation. Every error is `path:line: key `k`: message`.
//!
//! Error messages quote what the file says (with `${VAR}` names), never an
//! interpolated value, so they cannot leak secrets.

//!
//! `raw` holds the spanned TOML types, `interpolate` the `${VAR}` substitution and
//! the error context, `networks` and `contracts` the validation of each table, and
//! `diagnostics` the rewriting of TOML's own errors.

mod alerts;
mod contracts;
mod diagnostics;
mod interpolate;
mod networks;
mod raw;

use std::collections::HashMap;
use std::path::Path;

pub(super) use diagnostics::line_of;
pub(crate) use networks::parse_address;

use super::{Config, ConfigError, ConfigSource, NetworkConfig};
use contracts::contract_entry;
use diagnostics::{Ctx, closest, quote_list, toml_error};
use networks::{network, watch_entry};
use raw::RawConfig;

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
    let theme = theme_name(&mut cx, &raw)?;

    if raw.networks.is_empty() {
        return Err(cx.err(
            0..0,
            "networks",
            "expected at least one [[networks]] table (with `name` and `ws` or `http`)",
        ));
    }
    let pricing = pricing(&cx, &raw)?;
    let tables = crate::cost::with_overrides(&pricing);
    let providers: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    let mut networks = Vec::with_capacity(raw.networks.len());
    let mut names: HashMap<String, usize> = HashMap::new();
    for (i, n) in raw.networks.iter().enumerate() {
        let net = network(&mut cx, i, n, &providers)?;
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

    attach_contracts(&mut cx, &raw, &mut networks, &names, &raw_names)?;

    let mut sinks: Vec<crate::config::SinkConfig> = Vec::new();
    for (i, s) in raw.sinks.iter().enumerate() {
        let sink = alerts::sink(&mut cx, i, s.get_ref())?;
        if sinks.iter().any(|x| x.name == sink.name) {
            return Err(cx.err(
                s.get_ref().name.span(),
                &format!("sinks[{i}].name"),
                format_args!("duplicate sink name {:?}", sink.name),
            ));
        }
        sinks.push(sink);
    }
    let mut rules = Vec::with_capacity(raw.alerts.len());
    for (i, a) in raw.alerts.iter().enumerate() {
        rules.push(alerts::alert(
            &mut cx,
            i,
            a.get_ref(),
            &sinks,
            &networks,
            &names,
        )?);
    }

    Ok(Config {
        alerts: rules,
        sinks,
        theme,
        theme_at,
        networks,
        watch,
        source: ConfigSource::File(path.to_path_buf()),
        secrets: cx.secrets,
        pricing,
    })
}

/// The `theme` key (default `dark`).
fn theme_name(cx: &mut Ctx<'_>, raw: &RawConfig) -> Result<String, ConfigError> {
    Ok(match &raw.theme {
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
    })
}

/// Each `[[contracts]]` entry, checked and given to its network.
fn attach_contracts(
    cx: &mut Ctx<'_>,
    raw: &RawConfig,
    networks: &mut [NetworkConfig],
    names: &HashMap<String, usize>,
    raw_names: &[&str],
) -> Result<(), ConfigError> {
    for (i, c) in raw.contracts.iter().enumerate() {
        let (net, contract) = contract_entry(cx, i, c, names, raw_names)?;
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

    Ok(())
}

/// Each `[pricing.NAME]` table over the built-in one of that name.
fn pricing(cx: &Ctx<'_>, raw: &RawConfig) -> Result<Vec<crate::cost::PriceTable>, ConfigError> {
    raw.pricing
        .iter()
        .map(|(name, t)| {
            crate::cost::override_table(name, t.get_ref())
                .map_err(|e| pricing_error(cx, name, t, &e))
        })
        .collect()
}

/// Point at the misspelt key itself when serde names one (the table's span covers
/// its header only).
fn pricing_error(cx: &Ctx<'_>, name: &str, t: &toml::Spanned<toml::Table>, e: &str) -> ConfigError {
    let key = format!("pricing.{name}");
    let Some(rest) = e.strip_prefix("unknown field `") else {
        return cx.err(t.span(), &key, e);
    };
    let (field, valid) = rest.split_once('`').unwrap_or((rest, ""));
    let valid: Vec<&str> = valid.split('`').skip(1).step_by(2).collect();
    let hint = closest(field, &valid)
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default();
    let at = cx.text[t.span().start..]
        .find(&format!("{field} "))
        .or_else(|| cx.text[t.span().start..].find(field))
        .map_or(t.span(), |i| {
            let start = t.span().start + i;
            start..start + field.len()
        });
    cx.err(
        at,
        &format!("{key}.{field}"),
        format_args!("unknown key{hint}; valid keys here: {}", quote_list(&valid)),
    )
}
