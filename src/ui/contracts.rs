//! The selected network's watched contracts and what their views answered: a value
//! that changed in the latest head highlighted, the one before it dim, errors per view.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Theme, format, scroll_offset, side_block};
use crate::event::{Subject, ViewValue};
use crate::state::{AppState, Focus, NetworkState, Page, Target, ViewRow};
use crate::text::sanitize;

/// Indent of a view under its contract.
const INDENT: &str = "  ";

pub(super) fn draw(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme, tabs: bool) {
    let focused = state.focus == Focus::Contracts;
    let block = side_block(Focus::Contracts, state, theme, tabs);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    super::target(state, area, Target::Pane(Focus::Contracts));
    let Some(net) = state.selected_network() else {
        return;
    };
    if net.contracts.is_empty() {
        let hint = Line::styled("no contracts configured on this network", theme.dim());
        frame.render_widget(Paragraph::new(hint), inner);
        return;
    }
    let latest = net.latest().map(|h| h.number);
    // Calls line up in one column, at most 2/5 of the pane, so values start together;
    // output types go first when the calls are too long for that.
    let views = || net.contracts.iter().flat_map(|c| &c.views);
    let longest = |short: bool| {
        views()
            .map(|v| call_text(&v.call, short).chars().count())
            .max()
            .unwrap_or(0)
    };
    let max_call = usize::from(inner.width) * 2 / 5;
    let short = longest(false) > max_call;
    let call_width = longest(short).min(max_call);
    let width = usize::from(inner.width);
    let rows = usize::from(inner.height);
    let total = net.contract_lines();
    let cursor = state.cursors.contracts.get(total);
    let offset = scroll_offset(cursor, rows);
    // An alert about a view flashes its line (after its contract's header line).
    let flash_line = match net.flashing(state.now) {
        Some(Subject::View { contract, index }) => {
            let mut line = 0;
            net.contracts.iter().find_map(|c| {
                let here =
                    (c.address == contract && index < c.views.len()).then_some(line + 1 + index);
                line += 1 + c.views.len();
                here
            })
        }
        _ => None,
    };
    let lines = net
        .contracts
        .iter()
        .flat_map(|c| {
            let short_address = format::short_address(&c.address);
            let head = Line::from(vec![
                Span::styled(sanitize(&c.label).into_owned(), theme.title(false)),
                Span::styled(format!("  {short_address}"), theme.dim()),
            ]);
            std::iter::once((head, Some((short_address, c.address)))).chain(
                c.views
                    .iter()
                    .map(|v| (view_line(net, v, short, call_width, latest, theme), None)),
            )
        })
        .enumerate()
        .skip(offset)
        .take(rows);
    for (y, (i, (line, address))) in (inner.y..).zip(lines) {
        let line = fit_line(line, width);
        let line = if flash_line == Some(i) {
            line.patch_style(theme.flash())
        } else if focused && i == cursor {
            line.patch_style(theme.selected())
        } else {
            line
        };
        let at = super::row_at(inner, y);
        frame.render_widget(line, at);
        super::target(state, at, Target::Row(Focus::Contracts, i));
        if let Some((text, a)) = address {
            super::link(state, net, at, &text, Page::Address(a));
        }
    }
}

/// A view's call as configured, or without its output types (`balanceOf(address)`).
fn call_text(call: &str, short: bool) -> &str {
    if !short {
        return call;
    }
    let mut depth = 0usize;
    for (i, c) in call.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 1 => return &call[..=i],
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    call
}

/// Cut a line to `width` characters, ending in `…` when cut.
fn fit_line(line: Line<'static>, width: usize) -> Line<'static> {
    if line.width() <= width {
        return line;
    }
    let mut room = width;
    let mut spans = Vec::with_capacity(line.spans.len());
    for span in line.spans {
        if room == 0 {
            break;
        }
        let n = span.content.chars().count();
        if n < room {
            room -= n;
            spans.push(span);
        } else {
            let text = format::truncate(&span.content, room).into_owned();
            spans.push(Span::styled(text, span.style));
            room = 0;
        }
    }
    Line::from(spans)
}

fn view_line(
    net: &NetworkState,
    v: &ViewRow,
    short: bool,
    call_width: usize,
    latest: Option<u64>,
    theme: &Theme,
) -> Line<'static> {
    let call = format::truncate(&sanitize(call_text(&v.call, short)), call_width).into_owned();
    let mut spans = vec![
        Span::raw(INDENT),
        Span::styled(format!("{call:<call_width$}  "), theme.dim()),
    ];
    // Highlighted while the change is in the newest head (or the one before, so a
    // change does not vanish the instant the next head lands before a refresh).
    let fresh = match (v.last_change_block, latest) {
        (Some(c), Some(l)) => c + 1 >= l,
        _ => false,
    };
    match &v.value {
        None => spans.push(Span::styled("…", theme.dim())),
        Some(value) => {
            let style = if fresh { theme.up() } else { theme.text() };
            spans.push(answer(net, value, style, theme));
        }
    }
    if let Some(prev) = &v.previous {
        let prev = match prev {
            Ok(p) => shown(net, p),
            Err(e) => format!("✗ {}", sanitize(e)),
        };
        spans.push(Span::styled(format!("  was {prev}"), theme.dim()));
    }
    Line::from(spans)
}

/// A view's value, watched addresses by their label.
fn shown(net: &NetworkState, v: &ViewValue) -> String {
    format::abi(v, &|a| format::labelled(a, net.watch_label(*a)))
}

fn answer(
    net: &NetworkState,
    value: &Result<ViewValue, String>,
    style: Style,
    theme: &Theme,
) -> Span<'static> {
    match value {
        Ok(v) => Span::styled(shown(net, v), style),
        Err(e) => Span::styled(format!("✗ {}", sanitize(e)), theme.error()),
    }
}
