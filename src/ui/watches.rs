//! Watched addresses of the selected network: balance and change since start.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table};

use super::{Theme, fit_columns, format, pane_title, scroll_offset};
use crate::state::{AppState, Focus, WatchRow};
use crate::text::sanitize;

/// Width and drop priority of: label (grows), address, balance, change, last change block.
const COLUMNS: [(u16, u8); 5] = [(8, 0), (13, 2), (14, 0), (12, 1), (11, 3)];
const HEADERS: [&str; 5] = ["label", "address", "balance ETH", "change", "changed at"];

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
        let hint = Line::styled(
            "no watched addresses ([[watch]] in the config)",
            theme.dim(),
        );
        frame.render_widget(Paragraph::new(hint), inner);
        return;
    }

    let keep = fit_columns(COLUMNS, inner.width);
    let rows_fit = usize::from(inner.height.saturating_sub(1));
    let cursor = state.watch_cursor.min(net.watches.len() - 1);
    let offset = scroll_offset(cursor, rows_fit);
    let rows = net
        .watches
        .iter()
        .enumerate()
        .skip(offset)
        .take(rows_fit)
        .map(|(i, w)| {
            let cells = row_cells(w, theme)
                .into_iter()
                .enumerate()
                .filter(|(c, _)| keep[*c]);
            let style = if focused && i == cursor {
                theme.selected()
            } else {
                theme.text()
            };
            Row::new(cells.map(|(_, cell)| cell)).style(style)
        });
    let header = HEADERS
        .iter()
        .enumerate()
        .filter(|(c, _)| keep[*c])
        .map(|(c, h)| {
            if c >= 2 {
                Line::from(*h).right_aligned()
            } else {
                Line::from(*h)
            }
        });
    let widths = COLUMNS
        .iter()
        .zip(keep)
        .enumerate()
        .filter(|(_, (_, k))| *k)
        .map(|(c, ((w, _), _))| {
            if c == 0 {
                Constraint::Min(*w)
            } else {
                Constraint::Length(*w)
            }
        });
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.dim()))
        .column_spacing(1);
    frame.render_widget(table, inner);
}

fn row_cells(w: &WatchRow, theme: &Theme) -> [Cell<'static>; 5] {
    let balance = match w.balance {
        Some(b) => Cell::from(Line::from(format::eth(b)).right_aligned()),
        None => Cell::from(Line::from("…").right_aligned()).style(theme.dim()),
    };
    let change = match w.change() {
        Some((_, d)) if d.is_zero() => Cell::from(Line::from("0").right_aligned()),
        Some((negative, d)) => {
            let (sign, style) = if negative {
                ('-', theme.down())
            } else {
                ('+', theme.up())
            };
            Cell::from(Line::from(format!("{sign}{}", format::eth(d))).right_aligned()).style(style)
        }
        None => Cell::from(Line::from("—").right_aligned()).style(theme.dim()),
    };
    let block = match w.last_change_block {
        Some(b) => Cell::from(Line::from(format!("#{}", format::thousands(b))).right_aligned()),
        None => Cell::from(Line::from("—").right_aligned()).style(theme.dim()),
    };
    [
        Cell::from(sanitize(&w.label).into_owned()),
        Cell::from(format::short_address(&w.address)),
        balance,
        change,
        block,
    ]
}
