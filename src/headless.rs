//! Headless mode: the same backend, printed as one JSON object per line: `"type"`
//! first, then `"ts"` (RFC 3339, UTC, milliseconds) and `"v"` (the schema version),
//! then the type's fields. Every type is documented in `docs/headless.md`, with a
//! JSON Schema in `schemas/headless.schema.json`.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256, U256};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::cost::{CostSnapshot, Meter};
use crate::event::{
    AbiValue, ConnState, ConnStats, EventLog, Head, HttpHealth, Reorg, SubKind, SubStatus,
    TokenMeta, Update, ViewValue,
};
use crate::fmt;

mod race;

/// One network as headless output names it, and the labels of its watched addresses
/// (shown in the `display` forms of logs and views).
#[derive(Debug, Clone, Default)]
pub struct NetworkNames {
    pub name: String,
    pub labels: HashMap<Address, String>,
    /// The network's meter, read for the `cost` lines (else its last report is).
    pub cost: Option<Arc<Meter>>,
    /// Each contract view's signature, by contract and position.
    pub views: HashMap<(Address, usize), String>,
}

/// The version of the line schema (`"v"`): raised when a field changes meaning or
/// goes away; new fields and new types do not raise it.
pub const SCHEMA_VERSION: u32 = 1;

/// Turns updates into JSON lines; remembers the last error per network (an `error`
/// line is printed when it changes).
#[derive(Debug)]
pub struct Printer {
    networks: Vec<NetworkNames>,
    last_errors: Vec<Option<String>>,
    /// The meter's last report per network, for the `cost` lines.
    costs: Vec<Option<CostSnapshot>>,
    groups: race::Groups,
}

/// How often the `cost` lines are written (and once more at the end).
pub const COST_EVERY: Duration = Duration::from_secs(10);

impl Printer {
    pub fn new(networks: Vec<NetworkNames>) -> Self {
        let last_errors = vec![None; networks.len()];
        let costs = vec![None; networks.len()];
        Self {
            networks,
            last_errors,
            costs,
            groups: race::Groups::default(),
        }
    }

    /// The JSON line of one update (without the newline); `None` for updates that
    /// headless output does not show (periodic stats, unless the last error changed).
    pub fn line(&mut self, update: &Update) -> Option<Value> {
        if let Update::Stats { net, stats } = update
            && let Some(slot) = self.costs.get_mut(*net)
        {
            *slot = Some(stats.cost.clone());
        }
        if let Some(v) = self.groups.line(update, &self.networks) {
            return Some(v);
        }
        to_json(update, &self.networks, &mut self.last_errors)
    }

    /// A `cost` line per network: as its meter has it now, or as it last reported.
    pub fn cost_lines(&self) -> Vec<Value> {
        let now = std::time::SystemTime::now();
        self.networks
            .iter()
            .zip(&self.costs)
            .filter_map(|(n, reported)| {
                let c = n.cost.as_ref().map(|m| m.snapshot(now));
                c.or_else(|| reported.clone())
                    .map(|c| cost_line(&n.name, &c))
            })
            .collect()
    }
}

fn cost_line(network: &str, c: &CostSnapshot) -> Value {
    let by_method: serde_json::Map<String, Value> = c
        .by_method
        .iter()
        .map(|(m, l)| (m.clone(), json!({"count": l.count, "cost": l.cost})))
        .collect();
    json!({
        "type": "cost",
        "network": network,
        "provider": c.provider,
        "unit": c.unit,
        "total": c.total,
        "per_hour": c.per_hour(),
        "calls": c.calls,
        "events": c.events,
        "event_bytes": c.event_bytes,
        "by_method": by_method,
    })
}

/// A decoded value for machines: addresses checksummed, integers as decimal
/// strings, bytes as hex, lists and tuples as arrays.
fn abi_json(v: &AbiValue) -> Value {
    match v {
        AbiValue::Address(a) => json!(checksum(a)),
        AbiValue::Uint { value, .. } => json!(value.to_string()),
        AbiValue::Int(i) => json!(i.to_string()),
        AbiValue::Bool(b) => json!(b),
        AbiValue::Str(s) => json!(s),
        AbiValue::Bytes(b) => json!(b),
        AbiValue::Array(items) | AbiValue::Tuple(items) => {
            Value::Array(items.iter().map(abi_json).collect())
        }
    }
}

fn to_json(
    update: &Update,
    networks: &[NetworkNames],
    last_errors: &mut [Option<String>],
) -> Option<Value> {
    let net = update.net();
    let names = networks.get(net);
    let network = names.map_or("?", |n| n.name.as_str());
    Some(match update {
        Update::Head { head, .. } => head_line(network, head),
        Update::Reorg { reorg, .. } => reorg_line(network, reorg),
        Update::HeadRetracted { number, hash, .. } => head_retracted_line(network, *number, hash),
        Update::ChainReset {
            genesis, previous, ..
        } => chain_reset_line(network, genesis, previous),
        Update::HeadTxCount {
            number,
            hash,
            tx_count,
            ..
        } => head_tx_count_line(network, *number, hash, *tx_count),
        Update::Http { health, .. } => http_line(network, health),
        Update::Balance {
            address,
            wei,
            block,
            ..
        } => balance_line(network, address, wei, *block),
        Update::Pending {
            count, window_ms, ..
        } => pending_line(network, *count, *window_ms),
        Update::PendingTx { event, .. } => pending_tx_line(network, event),
        Update::Mempool {
            feed,
            tips,
            evicted,
            ..
        } => mempool_line(network, feed, tips.as_ref(), *evicted),
        Update::Connection { state, .. } => connection_line(network, state),
        Update::ChainId { chain_id, .. } => chain_id_line(network, *chain_id),
        Update::Subscription { kind, status, .. } => subscription_line(network, kind, status),
        Update::Reconnected { count, .. } => reconnected_line(network, *count),
        Update::Token { meta, .. } => token_line(network, meta),
        Update::TokenBalance {
            holder,
            token,
            amount,
            block,
            ..
        } => token_balance_line(network, holder, token, amount, *block),
        Update::Nonce {
            address,
            nonce,
            block,
            ..
        } => nonce_line(network, address, *nonce, *block),
        Update::Activity {
            address,
            block,
            block_hash,
            tx,
            ..
        } => activity_line(network, address, *block, *block_hash, tx),
        Update::Log { log, .. } => log_line(network, log, names),
        Update::View {
            contract,
            index,
            block,
            value,
            ..
        } => view_line(network, contract, *index, *block, value, names),
        Update::Stats { stats, .. } => error_line(network, stats, last_errors.get_mut(net)?)?,
        Update::Alert { alert, .. } => alert_line(alert),
        Update::SinkFailed { failure, .. } => sink_failed_line(network, failure),
        // Only the dashboard's keys change the watch list and open detail views.
        Update::Watching { .. } | Update::Detail { .. } => return None,
        // `race::Groups` writes these.
        Update::Group { .. }
        | Update::Race { .. }
        | Update::Behind { .. }
        | Update::Disputed { .. }
        | Update::Finality { .. } => return None,
    })
}

// The chain itself: heads, heads taken back, pending transactions.

fn head_line(network: &str, head: &Head) -> Value {
    json!({
        "type": "head",
        "network": network,
        "number": head.number,
        "hash": head.hash,
        "parent_hash": head.parent_hash,
        "timestamp": head.timestamp,
        "tx_count": head.tx_count,
        "gas_used": head.gas_used,
        "gas_limit": head.gas_limit,
        "base_fee": head.base_fee.map(|f| f.to_string()),
        "source": head.source,
    })
}

fn reorg_line(network: &str, reorg: &Reorg) -> Value {
    json!({
        "type": "reorg",
        "network": network,
        "depth": reorg.depth,
        "from_number": reorg.from_number,
        "old_hash": reorg.old_hash,
        "new_hash": reorg.new_hash,
        "orphaned": reorg.orphaned.iter().map(|(n, h)| json!({"number": n, "hash": h})).collect::<Vec<_>>(),
        "deeper_than_tracked": reorg.deeper_than_tracked,
    })
}

fn head_retracted_line(network: &str, number: u64, hash: &B256) -> Value {
    json!({
        "type": "head_retracted",
        "network": network,
        "number": number,
        "hash": hash,
    })
}

fn chain_reset_line(network: &str, genesis: &B256, previous: &B256) -> Value {
    json!({
        "type": "chain_reset",
        "network": network,
        "genesis": genesis,
        "previous_genesis": previous,
    })
}

fn head_tx_count_line(network: &str, number: u64, hash: &B256, tx_count: u32) -> Value {
    json!({
        "type": "head_tx_count",
        "network": network,
        "number": number,
        "hash": hash,
        "tx_count": tx_count,
    })
}

fn pending_line(network: &str, count: u64, window_ms: u64) -> Value {
    json!({
        "type": "pending",
        "network": network,
        "count": count,
        "window_ms": window_ms,
    })
}

fn pending_tx_line(network: &str, e: &crate::event::PendingTxEvent) -> Value {
    use crate::event::TxState;
    let t = &e.tx;
    let (block, replaced_by, cancel) = match e.state {
        TxState::Mined { block } => (Some(block), None, None),
        TxState::Replaced { by, cancel } => (None, Some(by.to_string()), Some(cancel)),
        TxState::Pending | TxState::Dropped => (None, None, None),
    };
    json!({
        "type": "pending_tx",
        "network": network,
        "hash": t.hash.to_string(),
        "from": t.from.to_string(),
        "to": t.to.map(|a| a.to_string()),
        "value": t.value.to_string(),
        "nonce": t.nonce,
        "tip_wei": t.tip.map(|w| w.to_string()),
        "token": t.token.map(|m| json!({
            "address": m.token.to_string(),
            "from": m.from.to_string(),
            "to": m.to.to_string(),
            "amount": m.amount.to_string(),
        })),
        "state": e.state.name(),
        "block": block,
        "replaced_by": replaced_by,
        "cancel": cancel,
        "first_seen": crate::fmt::rfc3339_ms(e.first_seen),
        "latency_ms": e.latency_ms,
    })
}

fn mempool_line(
    network: &str,
    feed: &crate::event::PendingFeed,
    tips: Option<&[u128; 3]>,
    evicted: u64,
) -> Value {
    use crate::event::PendingFeed;
    let (name, reason) = match feed {
        PendingFeed::Full => ("full", None),
        PendingFeed::Filtered => ("filtered", None),
        PendingFeed::HashesOnly(why) => ("hashes_only", Some(why.as_str())),
    };
    json!({
        "type": "mempool",
        "network": network,
        "feed": name,
        "reason": reason,
        "tips_wei": tips.map(|[p10, p50, p90]| json!({
            "p10": p10.to_string(),
            "p50": p50.to_string(),
            "p90": p90.to_string(),
        })),
        "evicted": evicted,
    })
}

// The endpoint: connection, HTTP side, subscriptions, errors.

fn connection_line(network: &str, state: &ConnState) -> Value {
    let mut v = json!({
        "type": "connection",
        "network": network,
        "state": state.name(),
        "reason": state.reason(),
    });
    match state {
        ConnState::Connecting { endpoint }
        | ConnState::Live { endpoint }
        | ConnState::Polling { endpoint, .. } => v["endpoint"] = json!(endpoint),
        ConnState::BackingOff { attempt, .. } => v["attempt"] = json!(attempt),
        ConnState::Stalled { .. } | ConnState::Failed { .. } => {}
    }
    if let Some(at) = state.retry_at() {
        v["retry_in_ms"] = json!(at.saturating_duration_since(Instant::now()).as_millis() as u64);
    }
    v
}

fn http_line(network: &str, health: &HttpHealth) -> Value {
    let mut v = json!({
        "type": "http",
        "network": network,
        "state": health.name(),
        "retry_in_s": health.until().map(secs_until),
        "reason": health.reason(),
    });
    if let HttpHealth::Failing { in_a_row, .. } = health {
        v["in_a_row"] = json!(in_a_row);
    }
    v
}

fn chain_id_line(network: &str, chain_id: u64) -> Value {
    json!({
        "type": "chain_id",
        "network": network,
        "chain_id": chain_id,
    })
}

fn subscription_line(network: &str, kind: &SubKind, status: &SubStatus) -> Value {
    json!({
        "type": "subscription",
        "network": network,
        "kind": kind,
        "status": match status {
            SubStatus::Active => "active",
            SubStatus::Unsupported(_) => "unsupported",
            SubStatus::Off(_) => "off",
        },
        "reason": match status {
            SubStatus::Active => None,
            SubStatus::Unsupported(r) | SubStatus::Off(r) => Some(r),
        },
    })
}

fn reconnected_line(network: &str, count: u64) -> Value {
    json!({
        "type": "reconnected",
        "network": network,
        "count": count,
    })
}

/// An `error` line when the network's last error changed (`slot` holds the one
/// printed before); `None` otherwise.
fn error_line(network: &str, stats: &ConnStats, slot: &mut Option<String>) -> Option<Value> {
    if stats.last_error.is_none() || *slot == stats.last_error {
        return None;
    }
    slot.clone_from(&stats.last_error);
    Some(json!({
        "type": "error",
        "network": network,
        "errors": stats.errors,
        "bad_frames": stats.bad_frames,
        "message": stats.last_error,
    }))
}

// Watched addresses, tokens and contracts.

/// A fired or resolved alert, as its sinks get it.
pub fn alert_line(a: &crate::event::AlertNotice) -> Value {
    json!({
        "type": "alert",
        "network": a.network,
        "alert": a.rule,
        "kind": a.kind,
        "state": a.state,
        "message": a.message,
        "subject": a.about.key(),
        "repeats": a.repeats,
    })
}

/// A sink that could not deliver a notice (`off`: it stays off).
fn sink_failed_line(network: &str, f: &crate::event::SinkFailure) -> Value {
    json!({
        "type": "sink_failed",
        "network": network,
        "sink": f.sink,
        "alert": f.alert,
        "reason": crate::text::sanitize(&f.reason),
        "off": f.off,
    })
}

fn balance_line(network: &str, address: &Address, wei: &U256, block: u64) -> Value {
    json!({
        "type": "balance",
        "network": network,
        "address": checksum(address),
        "wei": wei.to_string(),
        "block": block,
    })
}

fn token_line(network: &str, meta: &TokenMeta) -> Value {
    json!({
        "type": "token",
        "network": network,
        "token": checksum(&meta.address),
        "symbol": meta.symbol,
        "name": meta.name,
        "decimals": meta.decimals,
    })
}

fn token_balance_line(
    network: &str,
    holder: &Address,
    token: &Address,
    amount: &U256,
    block: u64,
) -> Value {
    json!({
        "type": "token_balance",
        "network": network,
        "holder": checksum(holder),
        "token": checksum(token),
        "amount": amount.to_string(),
        "block": block,
    })
}

fn nonce_line(network: &str, address: &Address, nonce: u64, block: u64) -> Value {
    json!({
        "type": "nonce",
        "network": network,
        "address": checksum(address),
        "nonce": nonce,
        "block": block,
    })
}

fn activity_line(
    network: &str,
    address: &Address,
    block: Option<u64>,
    block_hash: Option<B256>,
    tx: &B256,
) -> Value {
    json!({
        "type": "activity",
        "network": network,
        "address": checksum(address),
        "block": block,
        "block_hash": block_hash,
        "tx": tx,
        "pending": false,
    })
}

fn log_line(network: &str, log: &EventLog, names: Option<&NetworkNames>) -> Value {
    json!({
        "type": "log",
        "network": network,
        "address": checksum(&log.address),
        "source": log.source,
        "event": log.event,
        "args": log_args(log),
        "display": log.args.iter().map(|a| json!({"name": a.name, "type": a.ty, "value": display(&a.value, names)})).collect::<Vec<_>>(),
        "topics": log.topics,
        "data": log.data,
        "block": log.block,
        "block_hash": log.block_hash,
        "tx": log.tx,
        "log_index": log.log_index,
        "removed": log.removed,
    })
}

/// A log's decoded arguments by name (by position when unnamed).
fn log_args(log: &EventLog) -> serde_json::Map<String, Value> {
    log.args
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let key = if a.name.is_empty() {
                i.to_string()
            } else {
                a.name.clone()
            };
            (key, abi_json(&a.value))
        })
        .collect()
}

fn view_line(
    network: &str,
    contract: &Address,
    index: usize,
    block: u64,
    value: &Result<ViewValue, String>,
    names: Option<&NetworkNames>,
) -> Value {
    let mut v = json!({
        "type": "view",
        "network": network,
        "contract": checksum(contract),
        "index": index,
        "call": names.and_then(|n| n.views.get(&(*contract, index))),
        "block": block,
    });
    match value {
        Ok(val) => {
            v["value"] = abi_json(val);
            v["display"] = json!(display(val, names));
        }
        Err(e) => v["error"] = json!(e),
    }
    v
}

/// A decoded value for people: watched addresses with their label.
fn display(v: &AbiValue, names: Option<&NetworkNames>) -> String {
    fmt::abi(v, &|a| {
        fmt::labelled(a, names.and_then(|n| n.labels.get(a)).map(String::as_str))
    })
}

/// Whole seconds until `at`, rounded up (0 once passed).
fn secs_until(at: Instant) -> u64 {
    let d = at.saturating_duration_since(Instant::now());
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

fn checksum(a: &Address) -> String {
    a.to_checksum(None)
}

/// Print updates until `duration` elapses, a termination signal arrives, or every
/// sender is gone. Output is flushed after each batch and at the end.
pub async fn run<W: Write>(
    mut rx: mpsc::Receiver<Update>,
    networks: Vec<NetworkNames>,
    duration: Option<Duration>,
    mut out: W,
) -> std::io::Result<()> {
    let deadline = duration.map(|d| tokio::time::Instant::now() + d);
    let mut printer = Printer::new(networks);
    let mut buf = Vec::with_capacity(256);
    let mut line = Vec::with_capacity(512);
    let stop = shutdown_signal();
    tokio::pin!(stop);
    let mut cost_tick =
        tokio::time::interval_at(tokio::time::Instant::now() + COST_EVERY, COST_EVERY);
    cost_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => break,
            _ = cost_tick.tick() => {
                if write_lines(&mut out, &mut line, &printer.cost_lines())? {
                    return Ok(());
                }
            }
            _ = async { tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)).await }, if deadline.is_some() => break,
            n = rx.recv_many(&mut buf, 256) => {
                if n == 0 { break; }
                for u in buf.drain(..) {
                    if let Some(v) = printer.line(&u)
                        && write_line(&mut out, &mut line, &v)?
                    {
                        return Ok(());
                    }
                }
                if quiet_on_pipe(out.flush())? {
                    return Ok(());
                }
            }
        }
    }
    // The spend of the whole run, as of the meter's last report.
    if write_lines(&mut out, &mut line, &printer.cost_lines())? {
        return Ok(());
    }
    quiet_on_pipe(out.flush()).map(|_| ())
}

/// Write one JSON line (through the reused buffer `line`): `type`, `ts` (now) and
/// `v` first, then the rest; `Ok(true)`: the reader went away.
fn write_line<W: Write>(out: &mut W, line: &mut Vec<u8>, v: &Value) -> std::io::Result<bool> {
    line.clear();
    stamp(line, v, std::time::SystemTime::now())?;
    line.push(b'\n');
    quiet_on_pipe(out.write_all(line))
}

/// `v` as one JSON object with `type`, `ts` and `v` in front.
fn stamp(line: &mut Vec<u8>, v: &Value, now: std::time::SystemTime) -> std::io::Result<()> {
    let Value::Object(map) = v else {
        return serde_json::to_writer(&mut *line, v).map_err(Into::into);
    };
    line.extend_from_slice(b"{\"type\":");
    serde_json::to_writer(&mut *line, map.get("type").unwrap_or(&Value::Null))?;
    write!(
        line,
        ",\"ts\":\"{}\",\"v\":{SCHEMA_VERSION}",
        fmt::rfc3339_ms(now)
    )?;
    for (k, val) in map.iter().filter(|(k, _)| *k != "type") {
        line.push(b',');
        serde_json::to_writer(&mut *line, k)?;
        line.push(b':');
        serde_json::to_writer(&mut *line, val)?;
    }
    line.push(b'}');
    Ok(())
}

/// Write JSON lines and flush; `Ok(true)`: the reader went away.
fn write_lines<W: Write>(
    out: &mut W,
    line: &mut Vec<u8>,
    values: &[Value],
) -> std::io::Result<bool> {
    for v in values {
        if write_line(out, line, v)? {
            return Ok(true);
        }
    }
    quiet_on_pipe(out.flush())
}

/// A reader that went away (`chaintop --headless | head -n 1`) is the end of the
/// run, not an error: `Ok(true)` means stop.
fn quiet_on_pipe(res: std::io::Result<()>) -> std::io::Result<bool> {
    match res {
        Ok(()) => Ok(false),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(true),
        Err(e) => Err(e),
    }
}

/// Resolves on Ctrl-C / SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(mut int), Ok(mut term)) => {
                tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
            }
            _ => std::future::pending::<()>().await,
        }
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Arg, HeadSource};
    use alloy_primitives::Bytes;
    use std::collections::BTreeSet;
    use std::time::SystemTime;

    /// Every kind of line, from one update each (and a cost line), as printed.
    fn every_kind() -> Vec<Vec<u8>> {
        let h = B256::repeat_byte(0x11);
        let a = Address::repeat_byte(0xaa);
        let head = Head {
            number: 7,
            hash: h,
            parent_hash: B256::repeat_byte(0x10),
            timestamp: 1_700_000_000,
            gas_used: 21_000,
            gas_limit: 30_000_000,
            base_fee: Some(U256::from(7u8)),
            tx_count: None,
            source: HeadSource::Ws,
            seen: None,
        };
        let log = EventLog {
            address: a,
            source: Some("TT".into()),
            event: Some("Transfer".into()),
            args: vec![Arg {
                name: "value".into(),
                ty: "uint256".into(),
                indexed: false,
                value: AbiValue::Uint {
                    value: U256::from(5u8),
                    decimals: Some(6),
                },
            }],
            topics: vec![h],
            data: Bytes::from(vec![0u8; 32]),
            block: Some(7),
            block_hash: Some(h),
            tx: Some(h),
            log_index: Some(0),
            removed: false,
        };
        let later = Instant::now() + Duration::from_secs(3);
        let mut updates = vec![
            Update::Head { net: 0, head },
            Update::Reorg {
                net: 0,
                reorg: Reorg {
                    depth: 1,
                    from_number: 7,
                    old_hash: h,
                    new_hash: h,
                    orphaned: vec![(7, h)],
                    deeper_than_tracked: false,
                },
            },
            Update::HeadRetracted {
                net: 0,
                number: 7,
                hash: h,
            },
            Update::ChainReset {
                net: 0,
                genesis: h,
                previous: h,
            },
            Update::HeadTxCount {
                net: 0,
                number: 7,
                hash: h,
                tx_count: 3,
            },
            Update::Pending {
                net: 0,
                count: 4,
                window_ms: 1_000,
            },
            Update::PendingTx {
                net: 0,
                event: Box::new(crate::event::PendingTxEvent {
                    tx: crate::event::PendingTx {
                        hash: B256::repeat_byte(0xab),
                        from: Address::repeat_byte(1),
                        to: Some(Address::repeat_byte(2)),
                        value: U256::from(5u64),
                        nonce: 3,
                        tip: Some(1_000_000_000),
                        max_fee: Some(2_000_000_000),
                        token: Some(crate::event::TokenMove {
                            token: Address::repeat_byte(7),
                            from: Address::repeat_byte(1),
                            to: Address::repeat_byte(3),
                            amount: U256::from(9u64),
                        }),
                    },
                    state: crate::event::TxState::Replaced {
                        by: B256::repeat_byte(0xac),
                        cancel: false,
                    },
                    first_seen: SystemTime::UNIX_EPOCH,
                    latency_ms: Some(1_500),
                }),
            },
            Update::Mempool {
                net: 0,
                feed: crate::event::PendingFeed::HashesOnly("refused".into()),
                tips: Some([1, 2, 3]),
                evicted: 0,
            },
            Update::Connection {
                net: 0,
                state: ConnState::BackingOff {
                    until: later,
                    attempt: 2,
                    reason: "lost".into(),
                },
            },
            Update::Connection {
                net: 0,
                state: ConnState::Live {
                    endpoint: "wss://x.example/ws".into(),
                },
            },
            Update::Http {
                net: 0,
                health: HttpHealth::Failing {
                    reason: "HTTP 500".into(),
                    in_a_row: 2,
                },
            },
            Update::Http {
                net: 0,
                health: HttpHealth::RateLimited {
                    until: later,
                    reason: "429".into(),
                },
            },
            Update::ChainId {
                net: 0,
                chain_id: 1,
            },
            Update::Subscription {
                net: 0,
                kind: SubKind::NewPendingTransactions,
                status: SubStatus::Off("billed".into()),
            },
            Update::Reconnected { net: 0, count: 1 },
            Update::Stats {
                net: 0,
                stats: ConnStats {
                    last_error: Some("boom".into()),
                    errors: 1,
                    ..ConnStats::default()
                },
            },
            Update::Balance {
                net: 0,
                address: a,
                wei: U256::from(9u8),
                block: 7,
            },
            Update::Token {
                net: 0,
                meta: TokenMeta {
                    address: a,
                    symbol: Some("TT".into()),
                    name: None,
                    decimals: Some(6),
                },
            },
            Update::TokenBalance {
                net: 0,
                holder: a,
                token: a,
                amount: U256::from(1u8),
                block: 7,
            },
            Update::Nonce {
                net: 0,
                address: a,
                nonce: 3,
                block: 7,
            },
            Update::Activity {
                net: 0,
                address: a,
                block: Some(7),
                block_hash: Some(h),
                tx: h,
            },
            Update::Log {
                net: 0,
                log: Box::new(log),
            },
            Update::View {
                net: 0,
                contract: a,
                index: 0,
                block: 7,
                value: Ok(AbiValue::Uint {
                    value: U256::from(1u8),
                    decimals: None,
                }),
            },
            Update::View {
                net: 0,
                contract: a,
                index: 1,
                block: 7,
                value: Err("reverted".into()),
            },
            Update::Alert {
                net: 0,
                alert: Box::new(crate::event::AlertNotice {
                    rule: "stalled".into(),
                    kind: "head_stalled",
                    network: "main".into(),
                    state: crate::event::AlertState::Fired,
                    message: "no new head for 60s".into(),
                    about: crate::event::Subject::Network,
                    repeats: 0,
                    resolves: true,
                    at: SystemTime::now(),
                    sinks: vec!["tui".into()],
                }),
            },
            Update::SinkFailed {
                net: 0,
                failure: Box::new(crate::event::SinkFailure {
                    net: 0,
                    sink: "desk".into(),
                    alert: "stalled".into(),
                    reason: "no D-Bus session bus".into(),
                    off: true,
                    at: SystemTime::now(),
                }),
            },
        ];
        updates.extend(race_kinds(h));
        let names = NetworkNames {
            name: "main".into(),
            views: HashMap::from([((a, 0), "totalSupply()(uint256)".to_string())]),
            ..NetworkNames::default()
        };
        let backup = NetworkNames {
            name: "backup".into(),
            ..NetworkNames::default()
        };
        let mut printer = Printer::new(vec![names, backup]);
        let mut values: Vec<Value> = updates.iter().filter_map(|u| printer.line(u)).collect();
        values.push(cost_line(
            "main",
            &Meter::new(None).snapshot(SystemTime::now()),
        ));
        values
            .iter()
            .map(|v| {
                let mut line = Vec::new();
                stamp(&mut line, v, SystemTime::now()).expect("stamp");
                line
            })
            .collect()
    }

    /// One of each of the race's updates, for a group of networks 0 and 1.
    fn race_kinds(h: B256) -> Vec<Update> {
        use crate::event::{ChainGroup, Delivery, Dispute, Finality, FinalityTag, RaceResult};
        let other = B256::repeat_byte(0x22);
        vec![
            Update::Group {
                net: 0,
                group: 0,
                info: Box::new(ChainGroup {
                    name: "eth".into(),
                    chain_id: Some(1),
                    members: vec![0, 1],
                }),
            },
            Update::Race {
                net: 0,
                race: Box::new(RaceResult {
                    group: 0,
                    number: 7,
                    hash: h,
                    first: 0,
                    first_at: SystemTime::now(),
                    deliveries: vec![
                        (
                            0,
                            Delivery::After {
                                ms: 0,
                                source: HeadSource::Ws,
                            },
                        ),
                        (1, Delivery::Missed),
                    ],
                }),
            },
            Update::Behind {
                net: 1,
                group: 0,
                behind: 2,
                best: 9,
            },
            Update::Disputed {
                net: 0,
                group: 0,
                dispute: Box::new(Dispute::Fork {
                    number: 7,
                    hashes: vec![(0, h), (1, other)],
                }),
            },
            Update::Disputed {
                net: 1,
                group: 0,
                dispute: Box::new(Dispute::Unconfirmed {
                    number: 8,
                    net: 1,
                    hash: other,
                }),
            },
            Update::Finality {
                net: 0,
                finality: Box::new(Finality {
                    head: 9,
                    safe: FinalityTag::Block { number: 5, hash: h },
                    finalized: FinalityTag::Unsupported("unknown block tag".into()),
                }),
            },
            Update::Finality {
                net: 1,
                finality: Box::new(Finality {
                    head: 9,
                    safe: FinalityTag::None,
                    finalized: FinalityTag::None,
                }),
            },
        ]
    }

    #[test]
    fn every_line_type_follows_the_published_schema() {
        let text = include_str!("../schemas/headless.schema.json");
        let schema: Value = serde_json::from_str(text).expect("schema JSON");
        let id = schema["$id"].as_str().expect("$id").to_string();
        let declared: BTreeSet<String> = schema["properties"]["type"]["enum"]
            .as_array()
            .expect("type enum")
            .iter()
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect();
        let mut schemas = boon::Schemas::new();
        let mut compiler = boon::Compiler::new();
        compiler.add_resource(&id, schema).expect("resource");
        let index = compiler.compile(&id, &mut schemas).expect("compiles");
        let mut printed = BTreeSet::new();
        for raw in every_kind() {
            let text = String::from_utf8(raw).expect("utf-8");
            assert!(text.starts_with("{\"type\":\""), "{text}");
            let v: Value = serde_json::from_str(&text).expect("JSON");
            if let Err(e) = schemas.validate(&v, index) {
                panic!("{e:#}\n{text}");
            }
            assert_eq!(v["v"], SCHEMA_VERSION);
            printed.insert(v["type"].as_str().unwrap_or_default().to_string());
        }
        // Every type the schema knows is printed here, and documented.
        assert_eq!(printed, declared);
        let docs = include_str!("../docs/headless.md");
        for t in &declared {
            assert!(
                docs.contains(&format!("### `{t}`")),
                "docs/headless.md lacks `{t}`"
            );
        }
        // And a line that breaks it is caught: a head without its hash.
        let mut bad: Value = serde_json::from_slice(&every_kind()[0]).expect("JSON");
        bad.as_object_mut().map(|m| m.remove("hash"));
        assert!(schemas.validate(&bad, index).is_err());
    }
}
