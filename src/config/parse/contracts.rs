//! Validating watched contracts: their events, their ABI and their views.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use alloy_dyn_abi::{DynSolEvent, JsonAbiExt, Specifier};
use alloy_json_abi::{Event, Function, JsonAbi};
use serde::Deserialize;
use toml::Spanned;

use super::diagnostics::{Ctx, quote_list};
use super::networks::parse_address;
use super::raw::{RawContract, RawView};
use crate::config::{ConfigError, ContractConfig, ViewConfig};

/// A `[[contracts]]` entry; returns the name of its network and the contract.
pub(super) fn contract_entry(
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
    let events = contract_events(cx, r, &key)?;
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

/// The events of a contract: its `events` signatures, then its ABI file's events
/// (each once; one with more than 4 topics is an error).
fn contract_events(
    cx: &mut Ctx<'_>,
    r: &RawContract,
    key: &dyn Fn(&str) -> String,
) -> Result<Vec<Event>, ConfigError> {
    let mut events: Vec<Event> = Vec::new();
    for s in r.events.iter().flat_map(|l| l.get_ref()) {
        let k = key("events");
        let e = event_signature(cx, s, &k)?;
        add_event(&mut events, e, cx, s.span(), &k)?;
    }
    if let Some(a) = &r.abi {
        let k = key("abi");
        for e in abi_file(cx, a, &k)?.events() {
            add_event(&mut events, e.clone(), cx, a.span(), &k)?;
        }
    }
    Ok(events)
}

fn add_event(
    events: &mut Vec<Event>,
    e: Event,
    cx: &Ctx<'_>,
    span: Range<usize>,
    k: &str,
) -> Result<(), ConfigError> {
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
}

/// One `events` entry: a Solidity event signature whose types resolve.
fn event_signature(cx: &mut Ctx<'_>, s: &Spanned<String>, k: &str) -> Result<Event, ConfigError> {
    let text = cx.interpolate(s, k)?;
    Event::parse(text.trim())
        .map_err(|e| e.to_string())
        .and_then(|e| {
            Specifier::<DynSolEvent>::resolve(&e)
                .map(|_| e)
                .map_err(|err| err.to_string())
        })
        .map_err(|e| {
            cx.err(
                s.span(),
                k,
                format_args!(
                    "expected an event signature like \
                 `Transfer(address indexed from, address indexed to, uint256 value)`, \
                 found {:?} ({})",
                    s.get_ref(),
                    first_line(&e)
                ),
            )
        })
}

/// The `abi` file, relative to the config file.
fn abi_file(cx: &mut Ctx<'_>, a: &Spanned<String>, k: &str) -> Result<JsonAbi, ConfigError> {
    let rel = cx.interpolate(a, k)?;
    let file = cx.path.parent().unwrap_or(Path::new("")).join(&rel);
    let text = std::fs::read_to_string(&file).map_err(|e| {
        cx.err(
            a.span(),
            k,
            format_args!("cannot read ABI file {}: {e}", file.display()),
        )
    })?;
    parse_abi(&text).map_err(|e| {
        cx.err(
            a.span(),
            k,
            format_args!(
                "{}: expected a JSON ABI (an array, or an object with an `abi` array): {e}",
                file.display()
            ),
        )
    })
}

/// A JSON ABI: a bare array, or a compiler artifact with an `abi` field.
pub(super) fn parse_abi(text: &str) -> Result<JsonAbi, String> {
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

pub(super) fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s).trim()
}

pub(super) fn view_entry(
    cx: &mut Ctx<'_>,
    base: &str,
    v: &RawView,
) -> Result<ViewConfig, ConfigError> {
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
