//! Recent heads of the selected network, newest first.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table};

use super::{Theme, fit_columns, format, pane_title, scroll_offset};
use crate::event::HeadSource;
use crate::state::{AppState, Focus, age_secs};

/// Width and drop priority of: reorg mark, number, hash, txs, gas, age, source.
const COLUMNS: [(u16, u8); 7] = [(1, 0), (11, 0), (13, 3), (5, 2), (5, 1), (6, 1), (8, 4)];
const HEADERS: [&str; 7] = ["", "number", "hash", "txs", "gas%", "age", "source"];
/// Columns whose values are numbers, aligned right.
const RIGHT: [bool; 7] = [false, true, false, true, true, true, false];

pub(super) fn draw(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let focused = state.focus == Focus::Heads;
    let block = Block::bordered()
        .border_style(theme.block(focused))
        .title(pane_title("heads", state, focused, theme));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(net) = state.selected_network() else {
        return;
    };
    if net.heads.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled("waiting for heads…", theme.dim())),
            inner,
        );
        return;
    }

    let keep = fit_columns(COLUMNS, inner.width);
    let rows_fit = usize::from(inner.height.saturating_sub(1));
    let cursor = state.heads_cursor.min(net.heads.len() - 1);
    let offset = scroll_offset(cursor, rows_fit);
    let rows = net
        .heads
        .iter()
        .rev()
        .enumerate()
        .skip(offset)
        .take(rows_fit)
        .map(|(i, row)| {
            let h = &row.head;
            let values: [String; 7] = [
                if row.reorged {
                    "⤳".into()
                } else {
                    String::new()
                },
                format::thousands(h.number),
                format::short_hash(&h.hash),
                h.tx_count.map_or_else(|| "—".into(), |n| n.to_string()),
                if h.gas_limit == 0 {
                    "—".into()
                } else {
                    format!("{:.1}", h.gas_used as f64 * 100.0 / h.gas_limit as f64)
                },
                format::age(age_secs(h.timestamp, state.wall_now)),
                match h.source {
                    HeadSource::Ws => "ws",
                    HeadSource::Backfill => "backfill",
                    HeadSource::Poll => "poll",
                }
                .into(),
            ];
            let cells = values
                .into_iter()
                .enumerate()
                .filter(|(c, _)| keep[*c])
                .map(|(c, v)| {
                    let line = if RIGHT[c] {
                        Line::from(v).right_aligned()
                    } else {
                        Line::from(v)
                    };
                    let cell = Cell::from(line);
                    if c == 0 {
                        cell.style(theme.warn())
                    } else {
                        cell
                    }
                });
            let style = if focused && i == cursor {
                theme.selected()
            } else {
                theme.text()
            };
            Row::new(cells).style(style)
        });
    let header = HEADERS
        .iter()
        .enumerate()
        .filter(|(c, _)| keep[*c])
        .map(|(c, h)| {
            if RIGHT[c] {
                Line::from(*h).right_aligned()
            } else {
                Line::from(*h)
            }
        });
    let widths = COLUMNS
        .iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|((w, _), _)| Constraint::Length(*w));
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.dim()))
        .column_spacing(1);
    frame.render_widget(table, inner);
}
