//! Watched addresses of the selected network: balance and change since start.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph};

use super::{Column, Theme, fit_columns, format, pane_title, scroll_offset, table_row};
use crate::state::{AppState, Focus, WatchRow};
use crate::text::sanitize;

/// Header, drop priority and whether right-aligned, for: label (grows), address,
/// balance, change, block of the last change.
const COLUMNS: [(&str, u8, bool); 5] = [
    ("label", 0, false),
    ("address", 2, false),
    ("balance ETH", 0, true),
    ("change", 1, true),
    ("changed at", 3, true),
];
/// The label column keeps at least this many characters.
const MIN_LABEL: u16 = 8;

pub(super) fn draw(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let focused = state.focus == Focus::Watches;
    let block = Block::bordered()
        .border_style(theme.block(focused))
        .title(pane_title("watches", state, focused, theme));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(net) = state.selected_network() else {
        return;
    };
    if net.watches.is_empty() {
        let hint = Line::styled("no watched addresses", theme.dim());
        frame.render_widget(Paragraph::new(hint), inner);
        return;
    }

    let rows_fit = usize::from(inner.height.saturating_sub(1));
    let cursor = state.watch_cursor.min(net.watches.len() - 1);
    let offset = scroll_offset(cursor, rows_fit);
    let visible: Vec<(usize, [Value; 5])> = net
        .watches
        .iter()
        .enumerate()
        .skip(offset)
        .take(rows_fit)
        .map(|(i, w)| (i, values(w, theme)))
        .collect();
    // Columns as wide as their widest visible value, so big balances never get cut.
    let mut widths = COLUMNS.map(|(h, _, _)| h.chars().count() as u16);
    widths[0] = MIN_LABEL;
    for (_, row) in &visible {
        for (w, v) in widths.iter_mut().zip(row).skip(1) {
            *w = (*w).max(v.0.chars().count() as u16);
        }
    }
    let specs: [(u16, u8); 5] = std::array::from_fn(|c| (widths[c], COLUMNS[c].1));
    let keep = fit_columns(specs, inner.width);

    // The label takes whatever the other kept columns leave.
    let others: u16 = (1..5).filter(|c| keep[*c]).map(|c| widths[c] + 1).sum();
    widths[0] = inner.width.saturating_sub(others).max(MIN_LABEL);
    let cols: Vec<Column> = (0..5)
        .filter(|c| keep[*c])
        .map(|c| Column {
            width: widths[c],
            right: COLUMNS[c].2,
        })
        .collect();
    let buf = frame.buffer_mut();
    let header = COLUMNS
        .iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|((h, _, _), _)| (*h, Style::new()));
    table_row(buf, inner, inner.y, &cols, header, theme.dim());
    for (y, (i, row)) in (inner.y + 1..).zip(&visible) {
        let cells = row
            .iter()
            .zip(keep)
            .filter(|(_, k)| *k)
            .map(|((text, style), _)| (text.as_str(), *style));
        let style = if focused && *i == cursor {
            theme.selected()
        } else {
            theme.text()
        };
        table_row(buf, inner, y, &cols, cells, style);
    }
}

/// A cell's text and its own style (patched over the row's).
type Value = (String, Style);

fn values(w: &WatchRow, theme: &Theme) -> [Value; 5] {
    let none = || ("—".to_string(), theme.dim());
    let balance = match w.balance {
        Some(b) => (format::eth(b), Style::new()),
        None => ("…".to_string(), theme.dim()),
    };
    let change = match w.change() {
        Some((_, d)) if d.is_zero() => ("0".to_string(), Style::new()),
        Some((negative, d)) => {
            let (sign, style) = if negative {
                ('-', theme.down())
            } else {
                ('+', theme.up())
            };
            (format!("{sign}{}", format::eth(d)), style)
        }
        None => none(),
    };
    let block = match w.last_change_block {
        Some(b) => (format!("#{}", format::thousands(b)), Style::new()),
        None => none(),
    };
    [
        (sanitize(&w.label).into_owned(), Style::new()),
        (format::short_address(&w.address), Style::new()),
        balance,
        change,
        block,
    ]
}
