//! The selected network's event feed, newest first: block, source, event, decoded
//! arguments and tx; retracted logs marked reverted, undecodable ones shown raw.

use std::borrow::Cow;

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use super::{Column, Theme, fit_column_list, format, scroll_offset, side_block, table_row};
use crate::event::{Arg, EventLog, SubStatus, Subject};
use crate::state::{AppState, Focus, NetworkState, Page, Target};
use crate::text::sanitize;

const REVERTED: &str = "reverted";
/// A longer source label (a hostile token symbol, say) is cut.
const MAX_SOURCE: usize = 16;
/// Raw data longer than this many bytes is shortened to its ends and its length.
const DATA_SHOWN: usize = 8;

/// Text and own style of a row's cells: block, tag, source, event, args, tx.
type Cells = [(String, Style); 6];

pub(super) fn draw(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme, tabs: bool) {
    let focused = state.focus == Focus::Events;
    let block = side_block(Focus::Events, state, theme, tabs);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    super::target(state, area, Target::Pane(Focus::Events));
    let Some(net) = state.selected_network() else {
        return;
    };
    if net.events.is_empty() {
        let hint = Line::styled(empty_hint(net), theme.dim());
        frame.render_widget(Paragraph::new(hint), inner);
        return;
    }

    let rows_fit = usize::from(inner.height);
    let shown = state.shown_events();
    let cursor = state.cursors.events.get(shown.len());
    let offset = scroll_offset(cursor, rows_fit);
    // An alert about a contract's event flashes that contract's newest event.
    let flash_row = match net.flashing(state.now) {
        Some(Subject::Contract(c)) => shown.iter().position(|e| e.address == c && !e.removed),
        _ => None,
    };
    let visible: Vec<(usize, &EventLog)> = shown
        .into_iter()
        .enumerate()
        .skip(offset)
        .take(rows_fit)
        .collect();
    let any_removed = visible.iter().any(|(_, e)| e.removed);
    let rows: Vec<Cells> = visible.iter().map(|(_, e)| cells(net, e, theme)).collect();
    let layout = Layout::fit(&rows, any_removed, inner.width);

    let buf = frame.buffer_mut();
    for (y, ((i, e), row)) in (inner.y..).zip(visible.iter().zip(&rows)) {
        let mut row_style = if flash_row == Some(*i) {
            theme.flash()
        } else if focused && *i == cursor {
            theme.selected()
        } else if e.removed {
            theme.dim()
        } else {
            theme.text()
        };
        if e.removed {
            row_style = row_style.add_modifier(Modifier::CROSSED_OUT);
        }
        layout.draw_row(buf, inner, y, row, row_style);
        let at = super::row_at(inner, y);
        super::target(state, at, Target::Row(Focus::Events, *i));
        link_row(state, net, at, e, row);
    }
}

/// The block, the contract, the addresses among the arguments and the transaction
/// of a row link to the explorer.
fn link_row(state: &AppState, net: &NetworkState, at: Rect, e: &EventLog, row: &Cells) {
    if let Some(b) = e.block {
        super::link(
            state,
            net,
            at,
            row[0].0.trim_start_matches('#'),
            Page::Block(b),
        );
    }
    super::link(state, net, at, &row[2].0, Page::Address(e.address));
    for a in &e.args {
        if let crate::event::AbiValue::Address(addr) = &a.value {
            super::link(
                state,
                net,
                at,
                &arg_address(net, addr),
                Page::Address(*addr),
            );
        }
    }
    if let Some(tx) = e.tx {
        super::link(state, net, at, &row[5].0, Page::Tx(tx));
    }
}

/// Why the feed is empty.
fn empty_hint(net: &NetworkState) -> &'static str {
    if let Some(SubStatus::Unsupported(_)) = net.subs_logs {
        "no event feed: logs unsupported by endpoint"
    } else if net.contracts.is_empty() && net.tokens.is_empty() {
        "no contracts or tokens to follow on this network"
    } else {
        "no events yet"
    }
}

/// The six columns' widths, which of them are shown, and the shown ones.
struct Layout {
    widths: [u16; 6],
    keep: Vec<bool>,
    cols: Vec<Column>,
}

impl Layout {
    /// Columns as wide as their widest visible value; the arguments take the rest.
    fn fit(rows: &[Cells], any_removed: bool, width: u16) -> Self {
        // Block, tag, source, event, args (takes the rest), tx.
        let mut widths = [0u16, 0, 0, 0, 0, 11];
        for row in rows {
            for c in [0, 2, 3] {
                widths[c] = widths[c].max(text_width(&row[c].0));
            }
        }
        widths[1] = if any_removed { text_width(REVERTED) } else { 0 };
        // Source and tx go before the arguments get shorter than this.
        let min_args = 40;
        let specs = [
            (widths[0], 0),
            (widths[1], 0),
            (widths[2], 2),
            (widths[3], 0),
            (min_args, 0),
            (widths[5], 1),
        ];
        let mut keep = fit_column_list(&specs, width);
        keep[1] = any_removed;
        let others: u16 = [0, 1, 2, 3, 5]
            .iter()
            .filter(|c| keep[**c])
            .map(|c| widths[*c] + 1)
            .sum();
        widths[4] = width.saturating_sub(others).max(1);
        let cols: Vec<Column> = (0..6)
            .filter(|c| keep[*c])
            .map(|c| Column {
                width: widths[c],
                right: c == 0,
            })
            .collect();
        Self { widths, keep, cols }
    }

    /// One row's shown cells, the arguments cut to their column.
    fn draw_row(&self, buf: &mut Buffer, area: Rect, y: u16, row: &Cells, row_style: Style) {
        let args = format::truncate(&row[4].0, usize::from(self.widths[4]));
        let texts = [
            row[0].0.as_str(),
            row[1].0.as_str(),
            row[2].0.as_str(),
            row[3].0.as_str(),
            &args,
            row[5].0.as_str(),
        ];
        let cells = texts
            .into_iter()
            .zip(row.iter().map(|c| c.1))
            .zip(&self.keep)
            .filter(|(_, k)| **k)
            .map(|(c, _)| c);
        table_row(buf, area, y, &self.cols, cells, row_style);
    }
}

fn text_width(s: &str) -> u16 {
    u16::try_from(s.chars().count()).unwrap_or(u16::MAX)
}

/// Block, reverted tag, source, event, arguments, tx: text and own style.
fn cells(net: &NetworkState, e: &EventLog, theme: &Theme) -> Cells {
    let block = e
        .block
        .map_or_else(|| "—".to_string(), |b| format!("#{}", format::thousands(b)));
    let tag = if e.removed {
        // The tag stays legible on a struck-through row.
        (
            REVERTED.to_string(),
            theme.error().remove_modifier(Modifier::CROSSED_OUT),
        )
    } else {
        (String::new(), Style::new())
    };
    let source = e
        .source
        .as_deref()
        .map(sanitize)
        .unwrap_or_else(|| Cow::Owned(format::short_address(&e.address)));
    let source = format::truncate(&source, MAX_SOURCE).into_owned();
    let (event, args) = match &e.event {
        Some(name) => (
            (sanitize(name).into_owned(), theme.title(false)),
            decoded_args(net, &e.args),
        ),
        None => (("raw".to_string(), theme.warn()), raw_args(e)),
    };
    let tx =
        e.tx.map_or_else(|| "—".to_string(), |t| format::short_hash(&t));
    [
        (block, Style::new()),
        tag,
        (source, theme.dim()),
        event,
        (args, Style::new()),
        (tx, theme.dim()),
    ]
}

/// An address among the arguments: a watched account or contract by its label,
/// another shortened.
fn arg_address(net: &NetworkState, a: &alloy_primitives::Address) -> String {
    net.label_of(*a)
        .map_or_else(|| format::short_address(a), |l| sanitize(l).into_owned())
}

/// `name=value` pairs; addresses of watched accounts and contracts by their label.
fn decoded_args(net: &NetworkState, args: &[Arg]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let value = format::abi(&a.value, &|addr| arg_address(net, addr));
        if a.name.is_empty() {
            out.push_str(&format!("{i}={value}"));
        } else {
            out.push_str(&format!("{}={value}", sanitize(&a.name)));
        }
    }
    out
}

/// Topics and data of a log that could not be decoded, shortened.
fn raw_args(e: &EventLog) -> String {
    let mut out = String::new();
    for (i, t) in e.topics.iter().enumerate() {
        out.push_str(&format!("t{i}={} ", format::short_hash(t)));
    }
    let data = e.data.as_ref();
    if data.len() <= DATA_SHOWN {
        out.push_str(&format!("data={}", e.data));
    } else {
        let hex = e.data.to_string();
        out.push_str(&format!(
            "data={}…{} ({} B)",
            &hex[..6],
            &hex[hex.len() - 4..],
            data.len()
        ));
    }
    out
}
