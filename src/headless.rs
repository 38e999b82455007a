//! Headless mode: the same backend, printed as one JSON object per line.
//! Line types are documented in the README ("Headless output").

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

/// One network as headless output names it, and the labels of its watched addresses
/// (shown in the `display` forms of logs and views).
#[derive(Debug, Clone, Default)]
pub struct NetworkNames {
    pub name: String,
    pub labels: HashMap<Address, String>,
    /// The network's meter, read for the `cost` lines (else its last report is).
    pub cost: Option<Arc<Meter>>,
}

/// Turns updates into JSON lines; remembers the last error per network (an `error`
/// line is printed when it changes).
#[derive(Debug)]
pub struct Printer {
    networks: Vec<NetworkNames>,
    last_errors: Vec<Option<String>>,
    /// The meter's last report per network, for the `cost` lines.
    costs: Vec<Option<CostSnapshot>>,
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

/// Write one JSON line (through the reused buffer `line`); `Ok(true)`: the
/// reader went away.
fn write_line<W: Write>(out: &mut W, line: &mut Vec<u8>, v: &Value) -> std::io::Result<bool> {
    line.clear();
    serde_json::to_writer(&mut *line, v)?;
    line.push(b'\n');
    quiet_on_pipe(out.write_all(line))
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
