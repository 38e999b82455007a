//! Connection health of one network: state, countdowns, traffic and error counters.

use std::time::Duration;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Block;

use super::{Item, Theme, format, label, render_items};
use crate::event::ConnState;
use crate::state::{AppState, NetworkState};
use crate::text::sanitize;

pub(super) fn draw(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme, idx: usize) {
    let Some(net) = state.networks.get(idx) else {
        return;
    };
    let border = if idx == state.selected {
        theme.block_selected(false)
    } else {
        theme.block(false)
    };
    let block = Block::bordered()
        .border_style(border)
        .title(Line::styled(" health ", theme.title(false)));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let mut items = vec![Item::Line(state_line(net, state, theme))];
    items.extend(
        reason_lines(net, theme, inner.width)
            .into_iter()
            .map(Item::Line),
    );
    items.extend(
        detail_lines(net, state, theme, inner.width)
            .into_iter()
            .map(Item::Line),
    );
    render_items(frame, inner, items, theme);
}

/// `● live  up 1h02m`, `● reconnecting in 4s #3`, `● failed`, ...
pub(super) fn state_line(net: &NetworkState, state: &AppState, theme: &Theme) -> Line<'static> {
    let style = theme.state(&net.conn);
    let mut spans = vec![
        Span::styled("● ", style),
        Span::styled(net.conn.name(), style),
    ];
    match &net.conn {
        ConnState::Live { .. } => {
            if let Some(since) = net.live_since {
                let up = state.now.saturating_duration_since(since).as_secs();
                spans.push(label("  up ", theme));
                spans.push(Span::styled(format::age(up), theme.text()));
            }
        }
        ConnState::BackingOff { until, attempt, .. } => {
            let left = until.saturating_duration_since(state.now);
            spans.push(label(" in ", theme));
            spans.push(Span::styled(format::countdown(left), theme.text()));
            spans.push(Span::styled(format!(" #{attempt}"), theme.dim()));
        }
        ConnState::Connecting { .. }
        | ConnState::Stalled { .. }
        | ConnState::Polling { .. }
        | ConnState::Failed { .. } => {}
    }
    Line::from(spans)
}

/// Why the connection is not live (up to two lines).
pub(super) fn reason_lines(net: &NetworkState, theme: &Theme, width: u16) -> Vec<Line<'static>> {
    let Some(reason) = net.conn.reason() else {
        return Vec::new();
    };
    let style = if matches!(net.conn, ConnState::Failed { .. }) {
        theme.error()
    } else {
        theme.warn()
    };
    format::wrap(&sanitize(reason), usize::from(width), 2)
        .into_iter()
        .map(|piece| Line::styled(piece, style))
        .collect()
}

/// Errors and traffic counters, most important first (the short layout cuts from the
/// end).
pub(super) fn detail_lines(
    net: &NetworkState,
    state: &AppState,
    theme: &Theme,
    width: u16,
) -> Vec<Line<'static>> {
    let width = usize::from(width);
    let mut lines = Vec::with_capacity(10);
    let reason = net.conn.reason().map(sanitize);
    let endpoint = || {
        Line::styled(
            format::truncate(&sanitize(&net.endpoint), width).into_owned(),
            theme.dim(),
        )
    };
    let endpoint_first = matches!(
        net.conn,
        ConnState::Connecting { .. } | ConnState::Polling { .. }
    );
    if endpoint_first {
        lines.push(endpoint());
    }
    if let Some(err) = &net.stats.last_error {
        let err = sanitize(err);
        // The backend often reports the same text as the state's reason.
        if reason.as_deref() != Some(&*err) {
            let text = format::truncate(&err, width.saturating_sub(4)).into_owned();
            lines.push(Line::from(vec![
                label("err ", theme),
                Span::styled(text, theme.error()),
            ]));
        }
    }

    let stats = &net.stats;
    let last_msg = stats.last_message.map(|t| {
        format::age(
            state
                .wall_now
                .duration_since(t)
                .unwrap_or(Duration::ZERO)
                .as_secs(),
        )
    });
    lines.push(Line::from(vec![
        label("last msg ", theme),
        opt(last_msg, theme),
        label("  reconn ", theme),
        count(net.reconnects, theme),
    ]));
    lines.push(Line::from(vec![
        label("ping ", theme),
        opt(stats.ping_rtt.map(format::millis), theme),
        label("  http ", theme),
        opt(stats.http_latency.map(format::millis), theme),
    ]));
    lines.push(Line::from(vec![
        label("msgs ", theme),
        Span::styled(format::rate(net.msgs_per_sec), theme.text()),
        label("  reqs ", theme),
        Span::styled(format::thousands(stats.http_requests), theme.text()),
    ]));
    lines.push(Line::from(vec![
        label("bad ", theme),
        count(stats.bad_frames, theme),
        label("  errors ", theme),
        count(stats.errors, theme),
    ]));
    if stats.pending_coalesced > 0 {
        lines.push(Line::from(vec![
            label("pending coalesced ", theme),
            count(stats.pending_coalesced, theme),
        ]));
    }
    if net.reorgs > 0 {
        lines.push(Line::from(vec![
            label("reorgs ", theme),
            count(net.reorgs, theme),
            label("  deepest ", theme),
            count(net.deepest_reorg, theme),
        ]));
    }
    if !endpoint_first {
        lines.push(endpoint());
    }
    lines
}

fn opt(value: Option<String>, theme: &Theme) -> Span<'static> {
    match value {
        Some(v) => Span::styled(v, theme.text()),
        None => Span::styled("—", theme.dim()),
    }
}

/// A counter of bad things: warn-coloured once non-zero.
fn count(n: u64, theme: &Theme) -> Span<'static> {
    let style = if n > 0 { theme.warn() } else { theme.text() };
    Span::styled(format::thousands(n), style)
}
