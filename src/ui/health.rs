//! Connection health of one network: state, countdowns, traffic and error counters.

use std::time::{Duration, SystemTime};

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Block;

use super::{Item, Theme, format, label, render_items};
use crate::event::{ConnState, HttpHealth};
use crate::state::{AppState, Fresh, NetworkState};
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
    let mut items = vec![Item::Line(state_line(net, state, theme, inner.width))];
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

/// `● live  up 1h02m`, `● reconnecting in 4s · try 3`, `● failed · retry in 30s`, ...
pub(super) fn state_line(
    net: &NetworkState,
    state: &AppState,
    theme: &Theme,
    width: u16,
) -> Line<'static> {
    if net.reconnect_requested.is_some() {
        // `r` was pressed: say so until the backend answers with a state.
        return Line::from(vec![
            Span::styled("● ", theme.warn()),
            Span::styled(
                format!("reconnecting {}…", sanitize(&net.name)),
                theme.warn(),
            ),
        ]);
    }
    let late = net.heads_late(state.now);
    let style = if late.is_some() {
        theme.warn()
    } else {
        theme.state(&net.conn)
    };
    let mut spans = vec![
        Span::styled("● ", style),
        Span::styled(net.conn.name(), style),
    ];
    let retry_in = |spans: &mut Vec<Span<'static>>, what: &'static str| {
        if let Some(at) = net.conn.retry_at() {
            spans.push(label(what, theme));
            spans.push(Span::styled(
                format::countdown(at.saturating_duration_since(state.now)),
                theme.text(),
            ));
        }
    };
    match &net.conn {
        ConnState::Live { .. } => {
            if let Some(late) = late {
                // Live, and yet no head: the worst thing to hide.
                spans.push(Span::styled(
                    format!(" · no head for {}", format::age(late.as_secs())),
                    theme.warn(),
                ));
            } else if let Some(since) = net.live_since {
                let up = state.now.saturating_duration_since(since).as_secs();
                spans.push(label("  up ", theme));
                spans.push(Span::styled(format::age(up), theme.text()));
            }
        }
        ConnState::BackingOff { attempt, .. } => {
            retry_in(&mut spans, " in ");
            let attempt = format!(" · try {attempt}");
            // The attempt is the first thing to go when narrow.
            if span_width(&spans) + attempt.chars().count() <= usize::from(width) {
                spans.push(Span::styled(attempt, theme.dim()));
            }
        }
        ConnState::Failed { .. } => retry_in(&mut spans, " · retry in "),
        ConnState::Polling { .. } => retry_in(&mut spans, " · ws in "),
        ConnState::Connecting { .. } | ConnState::Stalled { .. } => {}
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

/// The HTTP side when it is not fine: `http rate-limited, retry in 8s`,
/// `http failing: HTTP 502 Bad Gateway (3 in a row)`.
fn http_lines(
    net: &NetworkState,
    state: &AppState,
    theme: &Theme,
    width: usize,
) -> Vec<Line<'static>> {
    let countdown = |until: std::time::Instant| {
        let left = until.saturating_duration_since(state.now);
        if left.is_zero() {
            "retrying".to_string()
        } else {
            format!("retry in {}", format::countdown(left))
        }
    };
    let (text, style) = match &net.http {
        HttpHealth::Ok => return Vec::new(),
        HttpHealth::RateLimited { until, .. } => (
            format!("http rate-limited, {}", countdown(*until)),
            theme.warn(),
        ),
        HttpHealth::BackingOff { until, .. } => (
            format!("http backing off, {}", countdown(*until)),
            theme.warn(),
        ),
        HttpHealth::Failing { reason, in_a_row } => (
            format!(
                "http failing: {} ({} in a row)",
                sanitize(reason),
                format::thousands(u64::from(*in_a_row))
            ),
            theme.error(),
        ),
    };
    format::wrap(&text, width, 2)
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
    let mut lines = Vec::with_capacity(12);
    let endpoint_first = matches!(
        net.conn,
        ConnState::Connecting { .. } | ConnState::Polling { .. }
    );
    if endpoint_first {
        lines.push(endpoint_line(net, theme, width));
    }
    lines.extend(http_lines(net, state, theme, width));
    lines.extend(error_line(net, state, theme, width));
    lines.extend(traffic_lines(net, state, theme, width));
    lines.extend(trouble_lines(net, theme));
    if !endpoint_first {
        lines.push(endpoint_line(net, theme, width));
    }
    lines
}

fn endpoint_line(net: &NetworkState, theme: &Theme, width: usize) -> Line<'static> {
    Line::styled(
        format::truncate(&sanitize(&net.endpoint), width).into_owned(),
        theme.dim(),
    )
}

/// `err 12s ago connection reset`: the backend's last error, unless the state's
/// reason already says it.
fn error_line(
    net: &NetworkState,
    state: &AppState,
    theme: &Theme,
    width: usize,
) -> Option<Line<'static>> {
    let reason = net.conn.reason().map(sanitize);
    let err = sanitize(net.stats.last_error.as_deref()?);
    // The backend often reports the same text as the state's reason.
    if reason.as_deref() == Some(&*err) {
        return None;
    }
    let ago = net
        .stats
        .last_error_at
        .map(|t| format!("{} ago ", format::age(secs_since(state, t))))
        .unwrap_or_default();
    let room = width.saturating_sub(4 + ago.chars().count());
    Some(Line::from(vec![
        label("err ", theme),
        Span::styled(ago, theme.dim()),
        Span::styled(format::truncate(&err, room).into_owned(), theme.error()),
    ]))
}

/// Whole seconds from `t` to the state's wall-clock time (0 if `t` is later).
fn secs_since(state: &AppState, t: SystemTime) -> u64 {
    state
        .wall_now
        .duration_since(t)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

/// Last message and reconnects; ping and HTTP round trips; message rate and requests.
fn traffic_lines(
    net: &NetworkState,
    state: &AppState,
    theme: &Theme,
    width: usize,
) -> Vec<Line<'static>> {
    let stats = &net.stats;
    let last_msg = stats
        .last_message
        .map(|t| format::age(secs_since(state, t)));
    let mut lines = vec![Line::from(vec![
        label("last msg ", theme),
        opt(last_msg, theme),
        // Connections that came back (attempts are in the state line).
        label("  recovered ", theme),
        count(net.reconnects, theme),
    ])];
    lines.extend(latency_lines(net, state, theme, width));
    let mut msgs = vec![label("msgs ", theme)];
    msgs.extend(fresh(net.msgs_now(state.now), format::rate, theme));
    msgs.push(label("  reqs ", theme));
    msgs.push(Span::styled(
        format::thousands(stats.http_requests),
        theme.text(),
    ));
    lines.push(Line::from(msgs));
    lines.push(spend_line(net, state, theme, width));
    lines
}

/// `spend 240 cr/min ~346k/day 12%`: the meter's rate, the day it projects and
/// that day's share of the plan's budget (warning-coloured above 80 %). The share
/// matters more than the day: when only one fits, it is the share.
fn spend_line(net: &NetworkState, state: &AppState, theme: &Theme, width: usize) -> Line<'static> {
    let cost = &net.stats.cost;
    let unit = format::cost_unit(&cost.unit).to_string();
    let mut spans = vec![label("spend ", theme)];
    let rate = net.spend_now(state.now);
    spans.extend(fresh(
        rate,
        |m| format!("{} {unit}/min", format::compact(m)),
        theme,
    ));
    let Fresh::Now(m) = rate else {
        return Line::from(spans);
    };
    let day = Span::styled(
        format!(" ~{}/day", format::compact(m * 1440.0)),
        theme.dim(),
    );
    let share = cost.budget_share().map(|s| {
        let style = if s > 0.8 { theme.warn() } else { theme.dim() };
        Span::styled(format!(" {:.0}%", s * 100.0), style)
    });
    let used = span_width(&spans);
    let len = |s: &Span<'_>| s.content.chars().count();
    let share_len = share.as_ref().map_or(0, len);
    if used + len(&day) + share_len <= width {
        spans.push(day);
    }
    if let Some(s) = share
        && span_width(&spans) + len(&s) <= width
    {
        spans.push(s);
    }
    Line::from(spans)
}

/// `ping 42ms  http 120ms`, on two lines when that does not fit.
fn latency_lines(
    net: &NetworkState,
    state: &AppState,
    theme: &Theme,
    width: usize,
) -> Vec<Line<'static>> {
    let ping = fresh(net.ping_now(state.wall_now), format::millis, theme);
    let http = fresh(net.http_now(state.wall_now), format::millis, theme);
    let together = 5 + span_width(&ping) + 7 + span_width(&http);
    if together <= width {
        let mut l = vec![label("ping ", theme)];
        l.extend(ping);
        l.push(label("  http ", theme));
        l.extend(http);
        vec![Line::from(l)]
    } else {
        let mut p = vec![label("ping ", theme)];
        p.extend(ping);
        let mut h = vec![label("http ", theme)];
        h.extend(http);
        vec![Line::from(p), Line::from(h)]
    }
}

/// Counters of things that went wrong: bad frames and errors always, coalesced
/// pending windows, reorgs and heads taken back once there were any.
fn trouble_lines(net: &NetworkState, theme: &Theme) -> Vec<Line<'static>> {
    let stats = &net.stats;
    let mut lines = vec![Line::from(vec![
        label("bad ", theme),
        count(stats.bad_frames, theme),
        label("  errors ", theme),
        count(stats.errors, theme),
    ])];
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
    if net.retracted > 0 || net.chain_resets > 0 {
        lines.push(Line::from(vec![
            label("taken back ", theme),
            count(net.retracted, theme),
            label("  resets ", theme),
            count(net.chain_resets, theme),
        ]));
    }
    lines
}

/// A figure: current as is, stale dimmed with its age, unknown as `—`.
pub(super) fn fresh<T: Copy>(
    value: Fresh<T>,
    show: impl Fn(T) -> String,
    theme: &Theme,
) -> Vec<Span<'static>> {
    match value {
        Fresh::Now(v) => vec![Span::styled(show(v), theme.text())],
        Fresh::Stale(v, age) => vec![Span::styled(
            format!("{} {} ago", show(v), format::age(age.as_secs())),
            theme.dim(),
        )],
        Fresh::Unknown => vec![Span::styled("—", theme.dim())],
    }
}

fn span_width(spans: &[Span<'_>]) -> usize {
    spans.iter().map(|s| s.content.chars().count()).sum()
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
