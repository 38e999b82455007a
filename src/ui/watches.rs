//! Watched addresses of the selected network: balance, changes, nonce, token balances
//! and last activity.

use alloy_primitives::U256;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use super::{Column, Theme, fit_column_list, format, scroll_offset, side_block, table_row};
use crate::event::{Subject, TokenMeta};
use crate::state::{AppState, Focus, NetworkState, Page, Target, WatchRow};
use crate::text::sanitize;

/// The label column keeps at least this many characters.
const MIN_LABEL: u16 = 8;
const MAX_LABEL: u16 = 16;
/// A longer (hostile or odd) symbol is cut so it cannot push the other columns out.
const MAX_SYMBOL: usize = 20;
/// Widest the activity column grows (a pending transaction's line says the most),
/// and the width it needs to be kept at all; longer cells are cut with `…`.
const MAX_ACTIVITY: u16 = 56;
const MIN_ACTIVITY: u16 = 18;
/// Widest cell of the compact all-tokens column.
const MAX_COMPACT_TOKENS: usize = 28;

/// Drop priorities (highest dropped first; 0 never).
const PRIO_TOKENS: u8 = 2;
const PRIO_ACTIVITY: u8 = 3;

/// A column: header, drop priority, right-aligned.
struct Spec {
    header: String,
    prio: u8,
    right: bool,
}

fn spec(header: &str, prio: u8, right: bool) -> Spec {
    Spec {
        header: header.to_string(),
        prio,
        right,
    }
}

/// A cell's text and its own style (patched over the row's).
type Value = (String, Style);

pub(super) fn draw(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme, tabs: bool) {
    let focused = state.focus == Focus::Watches;
    let mut block = side_block(Focus::Watches, state, theme, tabs);
    let Some(net) = state.selected_network() else {
        frame.render_widget(block, area);
        return;
    };
    if let Some(note) = Some(super::mempool::note(net)).filter(|_| !net.watches.is_empty()) {
        block = block.title_bottom(Line::styled(format!(" {note} "), theme.dim()).right_aligned());
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    super::target(state, area, Target::Pane(Focus::Watches));
    if net.watches.is_empty() {
        let hint = Line::styled("no watched addresses (a: add one)", theme.dim());
        frame.render_widget(Paragraph::new(hint), inner);
        return;
    }

    let rows_fit = usize::from(inner.height.saturating_sub(1));
    let shown = state.shown_watches();
    let cursor = state.cursors.watches.get(shown.len());
    let offset = scroll_offset(cursor, rows_fit);
    let visible: Vec<(usize, &WatchRow)> = shown
        .into_iter()
        .enumerate()
        .skip(offset)
        .take(rows_fit)
        .collect();
    let latest = net.latest().map(|h| h.number);

    // A column per token when they all fit, else one compact column for all of them.
    let sorted = state.watch_sort.column();
    let now = state.wall_now;
    let mut table = build(net, &visible, (latest, now), theme, false, sorted);
    if net.tokens.len() > 1 && !table.keeps_all_tokens(inner.width) {
        table = build(net, &visible, (latest, now), theme, true, sorted);
    }
    // The activity column asks for little to be kept (a pending transaction's line
    // is long), and gets back what the label does not need.
    let activity = table.specs.len() - 2;
    let wanted = table.widths[activity].min(MAX_ACTIVITY);
    table.widths[activity] = wanted.min(MIN_ACTIVITY);
    let keep = fit_column_list(&table.widths_and_prios(), inner.width);
    // The label and the activity share what the other kept columns leave: the
    // label its length (up to MAX_LABEL), then the activity up to its own, then the
    // label the rest.
    let others: u16 = (1..table.specs.len())
        .filter(|c| keep[*c] && *c != activity)
        .map(|c| table.widths[c] + 1)
        .sum();
    let mut left = inner.width.saturating_sub(others);
    if keep[activity] {
        left = left.saturating_sub(1);
        let label_wants = table.widths[0];
        let act = left
            .saturating_sub(label_wants)
            .clamp(table.widths[activity], wanted.max(table.widths[activity]));
        table.widths[activity] = act;
        left = left.saturating_sub(act);
    }
    table.widths[0] = left.max(MIN_LABEL);
    let cols: Vec<Column> = (0..table.specs.len())
        .filter(|c| keep[*c])
        .map(|c| Column {
            width: table.widths[c],
            right: table.specs[c].right,
        })
        .collect();

    let buf = frame.buffer_mut();
    let header = table
        .specs
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(s, _)| (s.header.as_str(), Style::new()));
    table_row(buf, inner, inner.y, &cols, header, theme.dim());
    let label_width = usize::from(table.widths[0]);
    let activity_width = usize::from(table.widths[activity]);
    for (y, ((i, w), row)) in (inner.y + 1..).zip(visible.iter().zip(&table.rows)) {
        let label = format::truncate(&row[0].0, label_width);
        let did = format::truncate(&row[activity].0, activity_width);
        let cells = std::iter::once((label.as_ref(), row[0].1)).chain(
            row.iter()
                .enumerate()
                .zip(&keep)
                .skip(1)
                .filter(|(_, k)| **k)
                .map(|((c, (text, style)), _)| {
                    let text = if c == activity {
                        did.as_ref()
                    } else {
                        text.as_str()
                    };
                    (text, *style)
                }),
        );
        let address = w.address;
        let flashing = matches!(
            net.flashing(state.now),
            Some(Subject::Balance { holder, .. }) if holder == address
        );
        let style = if flashing {
            theme.flash()
        } else if focused && *i == cursor {
            theme.selected()
        } else {
            theme.text()
        };
        table_row(buf, inner, y, &cols, cells, style);
        let at = super::row_at(inner, y);
        super::target(state, at, Target::Row(Focus::Watches, *i));
        super::link(state, net, at, label.trim_end(), Page::Address(address));
        super::link(
            state,
            net,
            at,
            &format::short_address(&address),
            Page::Address(address),
        );
    }
}

struct Table {
    specs: Vec<Spec>,
    widths: Vec<u16>,
    rows: Vec<Vec<Value>>,
    /// Index range of the per-token columns in `specs`.
    token_cols: std::ops::Range<usize>,
}

impl Table {
    fn widths_and_prios(&self) -> Vec<(u16, u8)> {
        self.widths
            .iter()
            .zip(&self.specs)
            .map(|(w, s)| (*w, s.prio))
            .collect()
    }

    fn keeps_all_tokens(&self, width: u16) -> bool {
        let keep = fit_column_list(&self.widths_and_prios(), width);
        keep[self.token_cols.clone()].iter().all(|k| *k)
    }
}

/// Headers and cells of the visible rows; columns as wide as their widest visible
/// value, so big balances are never cut.
/// `at`: the newest head's number, and the wall clock (for pending ages).
fn build(
    net: &NetworkState,
    visible: &[(usize, &WatchRow)],
    at: (Option<u64>, std::time::SystemTime),
    theme: &Theme,
    compact_tokens: bool,
    sorted: Option<&str>,
) -> Table {
    let mut specs = vec![
        spec("label", 0, false),
        spec("address", 6, false),
        spec("balance ETH", 0, true),
        spec("change", 1, true),
        spec("Δ block", 4, true),
        spec("nonce", 5, true),
    ];
    let first_token = specs.len();
    if compact_tokens {
        specs.push(spec("tokens", PRIO_TOKENS, false));
    } else {
        for t in &net.tokens {
            specs.push(spec(&token_name(t), PRIO_TOKENS, true));
        }
    }
    let token_cols = first_token..specs.len();
    specs.push(spec("activity", PRIO_ACTIVITY, false));
    specs.push(spec("changed at", 7, true));
    // The column the list is sorted by is marked.
    if let Some(s) = specs.iter_mut().find(|s| Some(s.header.as_str()) == sorted) {
        s.header.push('▼');
    }

    let rows: Vec<Vec<Value>> = visible
        .iter()
        .map(|(_, w)| row(net, w, at, theme, compact_tokens))
        .collect();
    let mut widths: Vec<u16> = specs.iter().map(|s| text_width(&s.header)).collect();
    // Labels ask for their length up to MAX_LABEL (less important columns make room),
    // then take whatever is left.
    let longest = rows.iter().map(|r| text_width(&r[0].0)).max().unwrap_or(0);
    widths[0] = longest.clamp(MIN_LABEL, MAX_LABEL);
    for row in &rows {
        for (w, v) in widths.iter_mut().zip(row).skip(1) {
            *w = (*w).max(text_width(&v.0));
        }
    }
    Table {
        specs,
        widths,
        rows,
        token_cols,
    }
}

fn text_width(s: &str) -> u16 {
    u16::try_from(s.chars().count()).unwrap_or(u16::MAX)
}

/// The token's symbol (escaped by the backend; escaped again here in case it was not),
/// or its short address until the symbol is read.
fn token_name(t: &TokenMeta) -> String {
    match &t.symbol {
        Some(s) => format::truncate(&sanitize(s), MAX_SYMBOL).into_owned(),
        None => format::short_address(&t.address),
    }
}

/// A token amount with the token's decimals (raw units until they are known).
fn token_amount(amount: U256, meta: &TokenMeta) -> String {
    match meta.decimals {
        Some(d) => format::units(amount, d, d.min(4)),
        None => amount.to_string(),
    }
}

fn signed_eth((negative, d): (bool, U256), theme: &Theme) -> Value {
    if d.is_zero() {
        return ("0".to_string(), Style::new());
    }
    let (sign, style) = if negative {
        ('-', theme.down())
    } else {
        ('+', theme.up())
    };
    (format!("{sign}{}", format::eth(d)), style)
}

/// A watched address's cells: its own columns, then its tokens, activity and last
/// change.
fn row(
    net: &NetworkState,
    w: &WatchRow,
    (latest, now): (Option<u64>, std::time::SystemTime),
    theme: &Theme,
    compact_tokens: bool,
) -> Vec<Value> {
    let mut out = account_cells(w, latest, theme);
    if compact_tokens {
        out.push(compact_tokens_cell(net, w, latest, theme));
    } else {
        out.extend(net.tokens.iter().map(|t| token_cell(w, t, latest, theme)));
    }
    // A transaction pending says more than the last block it moved in.
    out.push(match super::mempool::activity(now, net, w.address) {
        Some(text) => (text, theme.warn()),
        None => activity_cell(w, theme),
    });
    out.push(match w.last_change_block {
        Some(b) => (format!("#{}", format::thousands(b)), Style::new()),
        None => none(theme),
    });
    out
}

/// An unknown value.
fn none(theme: &Theme) -> Value {
    ("—".to_string(), theme.dim())
}

/// Label, address, balance, change since start, change in the latest block, nonce.
fn account_cells(w: &WatchRow, latest: Option<u64>, theme: &Theme) -> Vec<Value> {
    let unknown = || none(theme);
    let balance = match w.balance {
        Some(b) => (format::eth(b), Style::new()),
        None => ("…".to_string(), theme.dim()),
    };
    let change = w.change().map_or_else(unknown, |c| signed_eth(c, theme));
    let in_block = latest
        .and_then(|l| w.change_in_block(l))
        .map_or_else(unknown, |c| signed_eth(c, theme));
    let nonce = w
        .nonce
        .map_or_else(unknown, |n| (format::thousands(n), Style::new()));
    vec![
        (sanitize(&w.label).into_owned(), Style::new()),
        (format::short_address(&w.address), Style::new()),
        balance,
        change,
        in_block,
        nonce,
    ]
}

/// A token balance; one that changed in the latest head is coloured by its direction
/// since start.
fn token_cell(w: &WatchRow, t: &TokenMeta, latest: Option<u64>, theme: &Theme) -> Value {
    let Some(b) = w.token(t.address) else {
        return ("…".to_string(), theme.dim());
    };
    let text = token_amount(b.amount, t);
    let style = match (b.last_change_block, latest) {
        (Some(c), Some(l)) if c == l && b.amount >= b.initial => theme.up(),
        (Some(c), Some(l)) if c == l => theme.down(),
        _ => Style::new(),
    };
    (text, style)
}

/// The one column for all tokens when a column each does not fit.
fn compact_tokens_cell(
    net: &NetworkState,
    w: &WatchRow,
    latest: Option<u64>,
    theme: &Theme,
) -> Value {
    // The first token, trailing zeros dropped, and how many more there are.
    let (mut text, style) = net.tokens.first().map_or_else(
        || (String::new(), Style::new()),
        |t| {
            let (amount, style) = token_cell(w, t, latest, theme);
            if w.token(t.address).is_none() {
                return (amount, style);
            }
            let amount = if amount.contains('.') {
                amount.trim_end_matches('0').trim_end_matches('.')
            } else {
                &amount
            };
            (format!("{amount} {}", token_name(t)), style)
        },
    );
    if net.tokens.len() > 1 {
        text.push_str(&format!(" +{}", net.tokens.len() - 1));
    }
    (
        format::truncate(&text, MAX_COMPACT_TOKENS).into_owned(),
        style,
    )
}

/// The block of the address's last activity.
fn activity_cell(w: &WatchRow, theme: &Theme) -> Value {
    match &w.last_activity {
        Some(a) => match a.block {
            Some(b) => (format!("block {}", format::thousands(b)), Style::new()),
            None => none(theme),
        },
        None => none(theme),
    }
}
