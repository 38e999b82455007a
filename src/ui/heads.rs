//! Recent heads of the selected network, newest first.

use std::borrow::Cow;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph};

use super::{Column, Theme, fit_columns, format, pane_title, scroll_offset, table_row};
use crate::event::HeadSource;
use crate::state::{AppState, Focus, HeadRow, Page, Target, age_secs};

/// Width and drop priority of: reorg mark, number, hash, txs, gas, age, source.
const COLUMNS: [(u16, u8); 7] = [(1, 0), (11, 0), (13, 3), (5, 2), (5, 1), (6, 1), (8, 4)];
const HEADERS: [&str; 7] = ["", "number", "hash", "txs", "gas%", "age", "source"];
/// Columns whose values are numbers, aligned right.
const RIGHT: [bool; 7] = [false, true, false, true, true, true, false];

pub(super) fn draw(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let focused = state.focus == Focus::Heads;
    let mut block = Block::bordered()
        .border_style(theme.block(focused))
        .title(pane_title("heads", state, focused, theme));
    if let Some(status) = super::list_status(state, Focus::Heads, theme) {
        block = block.title(status.right_aligned());
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    super::target(state, area, Target::Pane(Focus::Heads));
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
    let shown = state.shown_heads();

    let keep = fit_columns(COLUMNS, inner.width);
    let rows_fit = usize::from(inner.height.saturating_sub(1));
    let cursor = state.cursors.heads.get(shown.len());
    let offset = scroll_offset(cursor, rows_fit);
    let cols = columns(keep);
    let buf = frame.buffer_mut();
    // The column the list is sorted by is marked.
    let sorted = state.head_sort.column();
    let headers: Vec<String> = HEADERS
        .iter()
        .map(|h| match sorted {
            Some(c) if c == *h => format!("{h}▼"),
            _ => h.to_string(),
        })
        .collect();
    let header = headers
        .iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(h, _)| (h.as_str(), Style::new()));
    table_row(buf, inner, inner.y, &cols, header, theme.dim());
    let rows = shown
        .iter()
        .copied()
        .enumerate()
        .skip(offset)
        .take(rows_fit);
    for (y, (i, row)) in (inner.y + 1..).zip(rows) {
        let values = values(row, state, theme);
        let cells = values
            .iter()
            .zip(keep)
            .filter(|(_, k)| *k)
            .map(|((text, style), _)| (text.as_ref(), *style));
        let style = if focused && i == cursor {
            theme.selected()
        } else {
            theme.text()
        };
        table_row(buf, inner, y, &cols, cells, style);
        let at = super::row_at(inner, y);
        super::target(state, at, Target::Row(Focus::Heads, i));
        let h = &row.head;
        super::link(state, net, at, &values[1].0, Page::Block(h.number));
        super::link(state, net, at, &values[2].0, Page::BlockHash(h.hash));
    }
}

/// The kept columns.
fn columns(keep: [bool; 7]) -> Vec<Column> {
    COLUMNS
        .iter()
        .zip(RIGHT)
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(((width, _), right), _)| Column {
            width: *width,
            right,
        })
        .collect()
}

/// A row's cells, in the order of [`COLUMNS`]: text and own style.
fn values(row: &HeadRow, state: &AppState, theme: &Theme) -> [(Cow<'static, str>, Style); 7] {
    let h = &row.head;
    let gas = if h.gas_limit == 0 {
        "—".to_string()
    } else {
        format!("{:.1}", h.gas_used as f64 * 100.0 / h.gas_limit as f64)
    };
    [
        ((if row.reorged { "⤳" } else { "" }).into(), theme.warn()),
        (format::thousands(h.number).into(), Style::new()),
        (format::short_hash(&h.hash).into(), Style::new()),
        (
            // "…": pushed without a list, looked up over HTTP.
            h.tx_count
                .map_or_else(|| "…".into(), |n| n.to_string().into()),
            Style::new(),
        ),
        (gas.into(), Style::new()),
        (
            format::age(age_secs(h.timestamp, state.wall_now)).into(),
            Style::new(),
        ),
        (
            match h.source {
                HeadSource::Ws => "ws",
                HeadSource::Backfill => "backfill",
                HeadSource::Poll => "poll",
            }
            .into(),
            Style::new(),
        ),
    ]
}
