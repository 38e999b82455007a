//! The watched addresses' pending transactions: one line per transaction in the
//! watches pane's activity column, and the mempool view (`p`): the feed, the fees
//! bid, and each transaction with where it stands.

use std::time::SystemTime;

use alloy_primitives::Address;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::{Theme, format, kv_styled, short};
use crate::event::{PendingFeed, PendingTxEvent, SubStatus, TxState};
use crate::state::{AppState, MEMPOOL_KEPT, NetworkState};
use crate::text::sanitize;

/// Seconds since `t`, as an age.
fn since(t: SystemTime, now: SystemTime) -> String {
    format::age(now.duration_since(t).map_or(0, |d| d.as_secs()))
}

/// What a pending transaction does, seen from `a` when given: `incoming 1.5 ETH
/// from 0xab…cd` or `outgoing 12 SIMUSD to bob`; without `a`, `from → to`.
pub(super) fn describe(net: &NetworkState, e: &PendingTxEvent, a: Option<Address>) -> String {
    let t = &e.tx;
    // A token move on a configured token speaks of the token, not the call's ETH.
    let (from, to, amount) = match t.token {
        Some(m) => {
            let meta = net.token(m.token);
            let symbol = meta.and_then(|t| t.symbol.as_deref()).map_or_else(
                || format::short_address(&m.token),
                |s| sanitize(s).into_owned(),
            );
            let value = match meta.and_then(|t| t.decimals) {
                Some(d) => format::token_amount(m.amount, d),
                None => format!("{} raw", m.amount),
            };
            (m.from, Some(m.to), format!("{value} {symbol}"))
        }
        None => (t.from, t.to, format!("{} ETH", format::eth(t.value))),
    };
    let to_text = to.map_or_else(|| "(create)".to_string(), |t| short(net, &t));
    match a {
        Some(a) if to == Some(a) && from != a => {
            format!("incoming {amount} from {}", short(net, &from))
        }
        Some(_) => format!("outgoing {amount} to {to_text}"),
        None => format!("{} → {to_text}  {amount}", short(net, &from)),
    }
}

/// The watches pane's activity cell of a watch with a transaction pending:
/// `pending 3s · incoming 1.5 ETH from 0xab…cd`, the age first so that a narrow
/// column cuts the rest, never the age.
pub(super) fn activity(now: SystemTime, net: &NetworkState, a: Address) -> Option<String> {
    let e = net.mempool.pending_for(a)?;
    Some(format!(
        "pending {} · {}",
        since(e.first_seen, now),
        describe(net, e, Some(a))
    ))
}

/// Where the watches' activity comes from, for the pane's bottom border.
pub(super) fn note(net: &NetworkState) -> &'static str {
    match (&net.mempool.feed, &net.subs_pending) {
        (Some(PendingFeed::Full | PendingFeed::Filtered), _) => {
            "activity from blocks and the mempool"
        }
        (Some(PendingFeed::HashesOnly(_)), _) => "pending: hashes only · activity from blocks",
        (None, Some(SubStatus::Unsupported(_))) if net.wants_mempool => {
            "pending: unsupported · activity from blocks"
        }
        _ => "activity from blocks only",
    }
}

fn gwei(wei: u128) -> String {
    format::gwei(alloy_primitives::U256::from(wei))
}

/// The mempool view's lines.
pub(super) fn lines(
    state: &AppState,
    net: &NetworkState,
    theme: &Theme,
    width: u16,
) -> Vec<Line<'static>> {
    // Nonce and tip where there is room for them and the parties.
    let wide = width >= 100;
    let m = &net.mempool;
    let kv = |k: &str, v: String, style: Style| kv_styled(k, v, style, theme);
    let feed = match (&m.feed, &net.subs_pending) {
        (Some(PendingFeed::Full), _) => ("whole transactions".to_string(), theme.text()),
        (Some(PendingFeed::Filtered), _) => (
            "whole transactions of the watched addresses (alchemy_pendingTransactions)".into(),
            theme.text(),
        ),
        (Some(PendingFeed::HashesOnly(why)), _) => {
            (format!("hashes only: {}", sanitize(why)), theme.warn())
        }
        (None, Some(SubStatus::Unsupported(why))) => (
            format!("unsupported by the endpoint: {}", sanitize(why)),
            theme.error(),
        ),
        (None, Some(SubStatus::Off(why))) => (format!("off: {}", sanitize(why)), theme.dim()),
        (None, _) if !net.wants_mempool => (
            "not followed: set pending = \"watched\" for this network".into(),
            theme.dim(),
        ),
        (None, _) => ("…".into(), theme.dim()),
    };
    let mut out = vec![kv("feed", feed.0, feed.1)];
    // The fees are as old as their last report: stale ones say so.
    let fees = match m.tips {
        Some(([p10, p50, p90], at)) => {
            let age = state.now.saturating_duration_since(at).as_secs();
            let stale = if age > 5 {
                format!(" (as of {} ago)", format::age(age))
            } else {
                String::new()
            };
            format!(
                "p10 {} · p50 {} · p90 {} gwei{stale}",
                gwei(p10),
                gwei(p50),
                gwei(p90)
            )
        }
        None => "—".into(),
    };
    out.push(kv("tip", fees, theme.text()));
    let pending = m.pending();
    let mut counts = format!(
        "{pending} pending · {} listed (at most {MEMPOOL_KEPT})",
        m.txs.len()
    );
    if m.evicted > 0 {
        counts.push_str(&format!(
            " · {} forgotten for room",
            format::thousands(m.evicted)
        ));
    }
    out.push(kv("watched", counts, theme.text()));
    out.push(Line::default());
    if m.txs.is_empty() {
        out.push(Line::styled(
            "no pending transaction of a watched address seen yet",
            theme.dim(),
        ));
        return out;
    }
    let extra = |nonce: &str, tip: &str| {
        if wide {
            format!("{nonce:>5} {tip:>9} ")
        } else {
            String::new()
        }
    };
    out.push(Line::styled(
        format!(
            "{:<12} {:>6} {:<13} {}what",
            "state",
            "age",
            "hash",
            extra("nonce", "tip gwei")
        ),
        theme.dim(),
    ));
    // The pending ones first, then the rest; the newest first in each.
    let (pending, done): (Vec<_>, Vec<_>) = m
        .txs
        .iter()
        .rev()
        .partition(|e| e.state == TxState::Pending);
    for e in pending.into_iter().chain(done) {
        let (state_text, style) = match e.state {
            TxState::Pending => ("pending".to_string(), theme.warn()),
            TxState::Mined { block } => (format!("#{}", format::thousands(block)), theme.up()),
            TxState::Replaced { cancel: true, .. } => ("cancelled".into(), theme.error()),
            TxState::Replaced { cancel: false, .. } => ("sped up".into(), theme.dim()),
            TxState::Dropped => ("dropped".into(), theme.error()),
        };
        // Pending: how long so far; else how long it took.
        let age = match (e.state, e.latency_ms) {
            (TxState::Pending, _) | (_, None) => since(e.first_seen, state.wall_now),
            (_, Some(ms)) if ms < 60_000 => format!("{:.1}s", ms as f64 / 1000.0),
            (_, Some(ms)) => format::age(ms / 1000),
        };
        let tip = e.tx.tip.map_or_else(|| "—".to_string(), gwei);
        out.push(Line::from(vec![
            Span::styled(format!("{state_text:<12} "), style),
            Span::styled(
                format!(
                    "{age:>6} {:<13} {}",
                    format::short_hash(&e.tx.hash),
                    extra(&e.tx.nonce.to_string(), &tip)
                ),
                theme.text(),
            ),
            Span::styled(describe(net, e, None), theme.text()),
        ]));
    }
    out
}
