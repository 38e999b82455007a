//! The detail view on top of the stack, in place of the panes: a block and its
//! transactions, a receipt and its logs, a watched address, a log in full, a
//! connection's history. Fetched values show "…" while loading and why they are
//! missing when the fetch failed. Every text from a chain or a node is sanitised.

use alloy_primitives::{Address, B256, U256};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::{Theme, format, kv_styled, name_of, scroll_offset, short};
use crate::event::{BlockDetail, Detail, DetailKey, EventLog, ReceiptDetail, TxSummary};
use crate::state::{AppState, DetailView, Fetched, NetworkState, Page, Target};
use crate::text::sanitize;

/// Bytes of a log's data shown in full before it is cut.
const DATA_SHOWN: usize = 256;

pub(super) fn draw(
    frame: &mut Frame,
    area: Rect,
    state: &AppState,
    view: &DetailView,
    theme: &Theme,
) {
    if let DetailView::Race { net } = view {
        // Of a group, not of one network; and a chart, not lines.
        super::race::draw(frame, area, state, *net, theme);
        return;
    }
    let Some(net) = state.networks.get(view.net()) else {
        return;
    };
    let (title, lines, list) = match view {
        DetailView::Block {
            hash,
            number,
            cursor,
            ..
        } => {
            let title = format!(
                " block {} · {} ",
                format::thousands(*number),
                sanitize(&net.name)
            );
            match fetched(net, DetailKey::Block(*hash)) {
                Ok(Detail::Block(b)) => {
                    let (lines, list) = block_lines(state, net, b, theme);
                    let selected = cursor.get(b.txs.len());
                    (title, lines, Some((list, selected)))
                }
                Ok(Detail::Receipt(_)) => (title, Vec::new(), None),
                Err(l) => (title, vec![kv("hash", hash.to_string(), theme), l], None),
            }
        }
        DetailView::Receipt { tx, .. } => {
            let title = format!(" transaction · {} ", sanitize(&net.name));
            let lines = match fetched(net, DetailKey::Receipt(*tx)) {
                Ok(Detail::Receipt(r)) => receipt_lines(net, r, theme),
                Ok(Detail::Block(_)) => Vec::new(),
                Err(l) => vec![kv("hash", tx.to_string(), theme), l],
            };
            (title, lines, None)
        }
        DetailView::Watch { address, .. } => (
            format!(" watch · {} ", sanitize(&net.name)),
            watch_lines(net, *address, theme),
            None,
        ),
        DetailView::Event { log, .. } => {
            // The log as the feed has it now: a reorg may have retracted it since.
            let live = net
                .events
                .iter()
                .rev()
                .find(|e| {
                    (e.block_hash, e.log_index, e.tx) == (log.block_hash, log.log_index, log.tx)
                })
                .unwrap_or(log);
            (
                format!(" event · {} ", sanitize(&net.name)),
                log_lines(net, live, theme, true),
                None,
            )
        }
        DetailView::Health { .. } => (
            format!(" connection history · {} ", sanitize(&net.name)),
            history_lines(state, net, theme),
            None,
        ),
        DetailView::Race { .. } => return,
        DetailView::Mempool { .. } => (
            format!(
                " pending transactions of the watches · {} ",
                sanitize(&net.name)
            ),
            super::mempool::lines(state, net, theme, area.width),
            None,
        ),
    };
    let block = Block::bordered()
        .border_style(theme.block(true))
        .title(Line::styled(title, theme.title(true)))
        .title(Line::styled(" Esc back ", theme.dim()).right_aligned());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    links(state, net, view, inner);
    let Some((rows, selected)) = list else {
        // Errors and data in full: long lines wrap rather than being cut.
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
        return;
    };
    let (top, bottom) = super::cut_top(inner, (lines.len() as u16).min(inner.height));
    frame.render_widget(Paragraph::new(lines), top);
    // The transactions take the rest, scrolled to the selected one; those shown
    // link, each in its own row.
    let txs = match view {
        DetailView::Block { hash, .. } => match fetched(net, DetailKey::Block(*hash)) {
            Ok(Detail::Block(b)) => b.txs.as_slice(),
            _ => &[],
        },
        _ => &[],
    };
    {
        let fit = usize::from(bottom.height);
        let offset = scroll_offset(selected, fit);
        let shown: Vec<Line> = rows
            .into_iter()
            .enumerate()
            .skip(offset)
            .take(fit)
            .map(|(i, l)| {
                let y = bottom.y + (i - offset) as u16;
                let at = super::row_at(bottom, y);
                super::target(state, at, Target::ViewRow(i));
                if let Some(t) = txs.get(i) {
                    tx_links(state, net, at, t);
                }
                if i == selected {
                    l.patch_style(theme.selected())
                } else {
                    l
                }
            })
            .collect();
        frame.render_widget(Paragraph::new(shown), bottom);
    }
}

/// The blocks, transactions and addresses of a view link to the explorer, wherever
/// their text stands in it.
fn links(state: &AppState, net: &NetworkState, view: &DetailView, inner: Rect) {
    if !state.links || net.explorer.is_none() {
        return;
    }
    let link = |text: String, page| super::link(state, net, inner, &text, page);
    let number = |n: u64| format::thousands(n);
    let log = |e: &EventLog, standalone: bool| {
        if standalone {
            link(e.address.to_string(), Page::Address(e.address));
            if let Some(h) = e.block_hash {
                link(h.to_string(), Page::BlockHash(h));
            }
            if let Some(t) = e.tx {
                link(t.to_string(), Page::Tx(t));
            }
            if let Some(b) = e.block {
                link(number(b), Page::Block(b));
            }
        } else if e.source.is_none() {
            link(format::short_address(&e.address), Page::Address(e.address));
        }
        for a in &e.args {
            if let crate::event::AbiValue::Address(addr) = a.value {
                link(addr.to_string(), Page::Address(addr));
            }
        }
    };
    match view {
        DetailView::Block { hash, .. } => {
            if let Ok(Detail::Block(b)) = fetched(net, DetailKey::Block(*hash)) {
                link(b.head.hash.to_string(), Page::BlockHash(b.head.hash));
                link(
                    b.head.parent_hash.to_string(),
                    Page::BlockHash(b.head.parent_hash),
                );
                if let Some(m) = b.miner {
                    link(m.to_string(), Page::Address(m));
                }
                // The transactions link where their rows are drawn (`tx_links`).
            }
        }
        DetailView::Receipt { tx, .. } => {
            link(tx.to_string(), Page::Tx(*tx));
            if let Ok(Detail::Receipt(r)) = fetched(net, DetailKey::Receipt(*tx)) {
                if let Some(b) = r.block {
                    link(number(b), Page::Block(b));
                }
                for a in [Some(r.from), r.to, r.contract_created]
                    .into_iter()
                    .flatten()
                {
                    link(a.to_string(), Page::Address(a));
                }
                for l in &r.logs {
                    log(l, false);
                }
            }
        }
        DetailView::Watch { address, .. } => {
            link(address.to_string(), Page::Address(*address));
            if let Some(a) = net
                .watches
                .iter()
                .find(|w| w.address == *address)
                .and_then(|w| w.last_activity.as_ref())
            {
                link(a.tx.to_string(), Page::Tx(a.tx));
                if let Some(b) = a.block {
                    link(number(b), Page::Block(b));
                }
            }
        }
        DetailView::Event { log: e, .. } => log(e, true),
        DetailView::Health { .. } | DetailView::Race { .. } => {}
        DetailView::Mempool { .. } => {
            for e in &net.mempool.txs {
                link(format::short_hash(&e.tx.hash), Page::Tx(e.tx.hash));
            }
        }
    }
}

/// A block's transaction row: its hash, sender and recipient link.
fn tx_links(state: &AppState, net: &NetworkState, at: Rect, t: &TxSummary) {
    if !state.links || net.explorer.is_none() {
        return;
    }
    super::link(
        state,
        net,
        at,
        &format::short_hash(&t.hash),
        Page::Tx(t.hash),
    );
    super::link(state, net, at, &short(net, &t.from), Page::Address(t.from));
    if let Some(to) = t.to {
        super::link(state, net, at, &short(net, &to), Page::Address(to));
    }
}

/// The answer for `key`, or the line that says why there is none (yet).
fn fetched(net: &NetworkState, key: DetailKey) -> Result<&Detail, Line<'static>> {
    match net.details.get(&key) {
        Some(Fetched::Ready(d)) => Ok(d.as_ref()),
        Some(Fetched::Failed(why)) => Err(Line::styled(
            format!(
                "could not fetch it: {} (Esc, then Enter asks again)",
                sanitize(why)
            ),
            Style::default(),
        )),
        Some(Fetched::Loading) | None => Err(Line::raw("…")),
    }
}

/// `key   value`, the key dim.
fn kv(key: &str, value: String, theme: &Theme) -> Line<'static> {
    kv_styled(key, value, theme.text(), theme)
}

/// An address with its label, where chaintop knows one.
fn named(net: &NetworkState, a: &Address) -> String {
    match name_of(net, a) {
        Some(l) => format!("{} ({a})", sanitize(l)),
        None => a.to_string(),
    }
}

fn when(state: &AppState, timestamp: u64) -> String {
    // From the node: a timestamp past what the clock can hold is said, not added.
    let Some(at) = std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(timestamp))
    else {
        return format!("{timestamp} (not a time)");
    };
    let ts = format::rfc3339_ms(at);
    let ago = state
        .wall_now
        .duration_since(at)
        .map(|d| format!(" · {} ago", format::age(d.as_secs())))
        .unwrap_or_default();
    format!(
        "{} UTC{ago}",
        ts.get(..19).unwrap_or_default().replace('T', " ")
    )
}

fn block_lines(
    state: &AppState,
    net: &NetworkState,
    b: &BlockDetail,
    theme: &Theme,
) -> (Vec<Line<'static>>, Vec<Line<'static>>) {
    let h = &b.head;
    let pct = if h.gas_limit > 0 {
        h.gas_used as f64 * 100.0 / h.gas_limit as f64
    } else {
        0.0
    };
    let mut lines = vec![
        kv("hash", h.hash.to_string(), theme),
        kv("parent", h.parent_hash.to_string(), theme),
        kv(
            "miner",
            b.miner.map_or_else(|| "—".to_string(), |m| named(net, &m)),
            theme,
        ),
        kv("time", when(state, h.timestamp), theme),
        kv(
            "gas",
            format!(
                "{} of {} ({pct:.1}%)",
                format::thousands(h.gas_used),
                format::thousands(h.gas_limit)
            ),
            theme,
        ),
        kv(
            "base fee",
            h.base_fee
                .map_or_else(|| "—".to_string(), |f| format!("{} gwei", format::gwei(f))),
            theme,
        ),
        Line::default(),
    ];
    let count = b.txs.len();
    lines.push(Line::from(vec![
        Span::styled(
            format!("{count} transaction{}", if count == 1 { "" } else { "s" }),
            theme.title(false),
        ),
        Span::styled(
            if count > 0 {
                "  (↑↓ select, Enter: its receipt)"
            } else {
                ""
            },
            theme.dim(),
        ),
    ]));
    if count > 0 {
        lines.push(Line::styled(
            format!(
                "{:<13} {:<12}   {:<12} {:>12} {:<2} method",
                "hash", "from", "to", "value ETH", ""
            ),
            theme.dim(),
        ));
    }
    let rows = b
        .txs
        .iter()
        .map(|t| tx_line(net, b.head.hash, t, theme))
        .collect();
    (lines, rows)
}

fn tx_line(net: &NetworkState, block: B256, t: &TxSummary, theme: &Theme) -> Line<'static> {
    let to =
        t.to.map_or_else(|| "(create)".to_string(), |a| short(net, &a));
    // A receipt read before a reorg moved the transaction is not this block's.
    let status = match net.details.get(&DetailKey::Receipt(t.hash)) {
        Some(Fetched::Ready(d)) => match d.as_ref() {
            Detail::Receipt(r) if r.block_hash != Some(block) => ("", theme.dim()),
            Detail::Receipt(r) => match r.success {
                Some(true) => ("✓", theme.up()),
                Some(false) => ("✗", theme.error()),
                None => ("?", theme.dim()),
            },
            Detail::Block(_) => ("", theme.dim()),
        },
        // Asked for when the row is selected.
        Some(Fetched::Loading) => ("…", theme.dim()),
        _ => ("", theme.dim()),
    };
    let method = match (&t.method, t.selector) {
        (Some(m), _) => sanitize(m).into_owned(),
        (None, Some(s)) => format!("0x{}", alloy_primitives::hex::encode(s)),
        (None, None) => "—".to_string(),
    };
    Line::from(vec![
        Span::styled(
            format!("{:<13} ", format::short_hash(&t.hash)),
            theme.text(),
        ),
        Span::styled(
            format!("{:<12} → {:<12} ", short(net, &t.from), to),
            theme.text(),
        ),
        Span::styled(format!("{:>12} ", format::eth(t.value)), theme.text()),
        Span::styled(format!("{:<2} ", status.0), status.1),
        Span::styled(method, theme.key()),
    ])
}

fn receipt_lines(net: &NetworkState, r: &ReceiptDetail, theme: &Theme) -> Vec<Line<'static>> {
    let status = match r.success {
        Some(true) => Span::styled("success", theme.up()),
        Some(false) => Span::styled("reverted", theme.error()),
        None => Span::styled("not reported by the node", theme.dim()),
    };
    let mut lines = vec![
        kv("hash", r.tx.to_string(), theme),
        Line::from(vec![
            Span::styled(format!("{:<11}", "status"), theme.dim()),
            status,
        ]),
        kv(
            "block",
            r.block
                .map_or_else(|| "—".to_string(), |b| format!("#{}", format::thousands(b))),
            theme,
        ),
        kv("from", named(net, &r.from), theme),
        kv(
            "to",
            match (r.to, r.contract_created) {
                (Some(to), _) => named(net, &to),
                (None, Some(c)) => format!("(created {c})"),
                (None, None) => "—".to_string(),
            },
            theme,
        ),
        kv(
            "gas used",
            format!(
                "{}{}",
                format::thousands(r.gas_used),
                r.effective_gas_price
                    .map(|p| format!(
                        " at {} gwei (fee {} ETH)",
                        format::gwei(p),
                        fee(r.gas_used, p)
                    ))
                    .unwrap_or_default()
            ),
            theme,
        ),
        Line::default(),
        Line::styled(
            format!(
                "{} log{}",
                r.logs.len(),
                if r.logs.len() == 1 { "" } else { "s" }
            ),
            theme.title(false),
        ),
    ];
    for l in &r.logs {
        lines.extend(log_lines(net, l, theme, false));
    }
    lines
}

fn fee(gas: u64, price: U256) -> String {
    format::eth(price.saturating_mul(U256::from(gas)))
}

/// A log: its event and arguments (or raw), then topics and data in full.
fn log_lines(
    net: &NetworkState,
    e: &EventLog,
    theme: &Theme,
    standalone: bool,
) -> Vec<Line<'static>> {
    let source = e
        .source
        .as_deref()
        .map(|s| sanitize(s).into_owned())
        .unwrap_or_else(|| format::short_address(&e.address));
    let index = e.log_index.map(|i| format!("#{i} ")).unwrap_or_default();
    let mut head = vec![
        Span::styled(index, theme.dim()),
        Span::styled(format!("{source} "), theme.text()),
    ];
    match &e.event {
        Some(name) => head.push(Span::styled(
            sanitize(name).into_owned(),
            theme.title(false),
        )),
        None => head.push(Span::styled("raw (no ABI for this event)", theme.warn())),
    }
    if e.removed {
        head.push(Span::styled("  retracted by a reorg", theme.error()));
    }
    let mut lines = vec![Line::from(head)];
    for a in &e.args {
        let value = format::abi(&a.value, &|addr| named(net, addr));
        let name = if a.name.is_empty() {
            "?".to_string()
        } else {
            sanitize(&a.name).into_owned()
        };
        lines.push(Line::from(vec![
            Span::styled(format!("  {name:<10}"), theme.dim()),
            Span::styled(value, theme.text()),
            Span::styled(format!("  {}", sanitize(&a.ty)), theme.dim()),
        ]));
    }
    if standalone {
        lines.push(kv("  contract", named(net, &e.address), theme));
        lines.push(kv(
            "  block",
            e.block.map_or_else(
                || "— (not mined)".to_string(),
                |n| format!("#{}", format::thousands(n)),
            ),
            theme,
        ));
        if let Some(h) = e.block_hash {
            lines.push(kv("  hash", h.to_string(), theme));
        }
        lines.push(kv(
            "  tx",
            e.tx.map_or_else(|| "—".to_string(), |t| t.to_string()),
            theme,
        ));
    }
    for (i, t) in e.topics.iter().enumerate() {
        lines.push(kv(&format!("  topic{i}"), t.to_string(), theme));
    }
    let data = e.data.to_string();
    let shown = if e.data.len() > DATA_SHOWN {
        format!("{}… ({} bytes)", &data[..2 + 2 * DATA_SHOWN], e.data.len())
    } else {
        data
    };
    lines.push(kv("  data", shown, theme));
    lines
}

fn watch_lines(net: &NetworkState, address: Address, theme: &Theme) -> Vec<Line<'static>> {
    let Some(w) = net.watches.iter().find(|w| w.address == address) else {
        return vec![Line::styled(
            format!("{address} is no longer watched on this network"),
            theme.dim(),
        )];
    };
    let mut lines = vec![
        kv("label", sanitize(&w.label).into_owned(), theme),
        kv("address", address.to_string(), theme),
        kv(
            "balance",
            w.balance.map_or_else(
                || "…".to_string(),
                |b| format!("{} ETH ({b} wei)", format::token_amount(b, 18)),
            ),
            theme,
        ),
        kv(
            "nonce",
            w.nonce.map_or_else(|| "…".to_string(), format::thousands),
            theme,
        ),
    ];
    for t in &net.tokens {
        let name = t
            .symbol
            .as_deref()
            .map(|s| sanitize(s).into_owned())
            .unwrap_or_else(|| format::short_address(&t.address));
        let value = match (w.token(t.address), t.decimals) {
            (Some(b), Some(d)) => {
                format!("{} ({} raw)", format::token_amount(b.amount, d), b.amount)
            }
            (Some(b), None) => format!("{} raw", b.amount),
            (None, _) => "…".to_string(),
        };
        lines.push(kv(&format::truncate(&name, 9), value, theme));
    }
    lines.push(Line::default());
    lines.push(Line::styled("what chaintop saw", theme.title(false)));
    if let Some(a) = &w.last_activity {
        let at = a.block.map_or_else(
            || "pending".to_string(),
            |b| format!("#{}", format::thousands(b)),
        );
        lines.push(kv("  last tx", a.tx.to_string(), theme));
        lines.push(kv("  in block", at, theme));
    }
    if let Some(b) = w.last_change_block {
        lines.push(kv(
            "  changed",
            format!("balance last moved in #{}", format::thousands(b)),
            theme,
        ));
    }
    // Its transactions in the mempool (`pending = "watched"`), newest first.
    let pending: Vec<_> = net
        .mempool
        .txs
        .iter()
        .rev()
        .filter(|e| e.tx.touches(address))
        .take(5)
        .collect();
    for e in &pending {
        let state = match e.state {
            crate::event::TxState::Mined { block } => {
                format!("mined in #{}", format::thousands(block))
            }
            s => s.name().to_string(),
        };
        lines.push(kv(
            &format!("  {}", format::short_hash(&e.tx.hash)),
            format!(
                "{} · {state}",
                super::mempool::describe(net, e, Some(address))
            ),
            theme,
        ));
    }
    let mentions: Vec<&EventLog> = net
        .events
        .iter()
        .rev()
        .filter(|e| {
            e.args
                .iter()
                .any(|a| a.value == crate::event::AbiValue::Address(address))
        })
        .take(10)
        .collect();
    if mentions.is_empty() && w.last_activity.is_none() && pending.is_empty() {
        lines.push(Line::styled("  nothing yet since start", theme.dim()));
    }
    for e in mentions {
        let block = e
            .block
            .map_or_else(|| "—".to_string(), |b| format!("#{}", format::thousands(b)));
        let what = e
            .event
            .as_deref()
            .map(|n| sanitize(n).into_owned())
            .unwrap_or_else(|| "raw".into());
        let source = e
            .source
            .as_deref()
            .map(|s| sanitize(s).into_owned())
            .unwrap_or_default();
        lines.push(Line::styled(
            format!(
                "  {block} {source} {what}{}",
                if e.removed { " (retracted)" } else { "" }
            ),
            theme.text(),
        ));
    }
    lines
}

fn history_lines(state: &AppState, net: &NetworkState, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![
        kv("endpoint", sanitize(&net.endpoint).into_owned(), theme),
        kv("reconnects", format::thousands(net.reconnects), theme),
        kv("errors", format::thousands(net.stats.errors), theme),
        Line::default(),
        Line::styled("newest first (times UTC)", theme.dim()),
    ];
    if net.history.is_empty() {
        lines.push(Line::styled("nothing yet", theme.dim()));
    }
    for h in net.history.iter().rev() {
        let ago = state.now.saturating_duration_since(h.at);
        let at = state.wall_now.checked_sub(ago).unwrap_or(state.wall_now);
        let ts = format::rfc3339_ms(at);
        lines.push(Line::from(vec![
            Span::styled(
                format!("{} ", ts.get(11..19).unwrap_or_default()),
                theme.dim(),
            ),
            Span::styled(
                sanitize(&h.what).into_owned(),
                if h.error { theme.error() } else { theme.text() },
            ),
        ]));
    }
    lines
}
