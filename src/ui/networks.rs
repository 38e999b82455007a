//! The network row: one bordered column per network with chain, head, fees, gas and
//! pending rate (and, in the short layout, its health merged in).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Block;

use super::{Item, Theme, format, health, label, render_items};
use crate::event::{Head, SubStatus, Subject};
use crate::state::{AppState, Chart, Focus, NetworkState, age_secs};
use crate::text::sanitize;

/// Most lines a merged (short layout) network block can use.
pub(super) const COMPACT_MAX_LINES: u16 = 16;

/// Networks hidden to the left of this column / to the right of it.
#[derive(Debug, Clone, Copy)]
pub(super) struct More {
    pub left: usize,
    pub right: usize,
}

pub(super) fn draw_summary(
    frame: &mut Frame,
    area: Rect,
    state: &AppState,
    theme: &Theme,
    idx: usize,
    more: More,
) {
    let Some(net) = state.networks.get(idx) else {
        return;
    };
    let block = column_block(net, state, theme, idx, more);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let items = summary_items(idx, net, state, theme, inner.width, 2);
    render_items(frame, inner, items, theme);
}

pub(super) fn draw_compact(
    frame: &mut Frame,
    area: Rect,
    state: &AppState,
    theme: &Theme,
    idx: usize,
    more: More,
) {
    let Some(net) = state.networks.get(idx) else {
        return;
    };
    let block = column_block(net, state, theme, idx, more);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let mut items = Vec::with_capacity(COMPACT_MAX_LINES as usize);
    items.push(Item::Line(health::state_line(
        net,
        state,
        theme,
        inner.width,
    )));
    items.extend(
        health::reason_lines(net, theme, inner.width)
            .into_iter()
            .map(Item::Line),
    );
    items.extend(summary_items(idx, net, state, theme, inner.width, 1));
    items.extend(
        health::detail_lines(net, state, theme, inner.width)
            .into_iter()
            .map(Item::Line),
    );
    render_items(frame, inner, items, theme);
}

fn column_block(
    net: &NetworkState,
    state: &AppState,
    theme: &Theme,
    idx: usize,
    more: More,
) -> Block<'static> {
    let selected = idx == state.selected;
    let focused = selected && state.focus == Focus::Networks;
    let border = if selected {
        theme.block_selected(focused)
    } else {
        theme.block(false)
    };
    let mut title = vec![Span::raw(" ")];
    if idx < 9 {
        title.push(Span::styled(format!("{} ", idx + 1), theme.key()));
    }
    let name_style = if net.flashing(state.now) == Some(Subject::Network) {
        theme.flash()
    } else {
        theme.title(selected)
    };
    title.push(Span::styled(sanitize(&net.name).into_owned(), name_style));
    let glyph = if net.heads_late(state.now).is_some() {
        theme.warn()
    } else {
        theme.state(&net.conn)
    };
    title.push(Span::styled(" ● ", glyph));
    let mut block = Block::bordered()
        .border_style(border)
        .title(Line::from(title));
    if more.left > 0 {
        block = block.title_bottom(Line::styled(format!(" ◀ {} more ", more.left), theme.key()));
    }
    if more.right > 0 {
        block = block.title_bottom(
            Line::styled(format!(" {} more ▶ ", more.right), theme.key()).right_aligned(),
        );
    }
    block
}

/// Chain, head, race, fee, gas, sparkline, pending and logs lines, most important
/// first.
fn summary_items(
    idx: usize,
    net: &NetworkState,
    state: &AppState,
    theme: &Theme,
    width: u16,
    spark_height: u16,
) -> Vec<Item> {
    let mut items = Vec::with_capacity(8);
    items.push(Item::Line(chain_line(net, theme, width)));

    let avg = net.avg_block_time();
    let Some(latest) = net.latest() else {
        // Nothing below the head line means anything before the first head.
        let waiting = vec![label("head ", theme), Span::styled("waiting…", theme.dim())];
        items.push(Item::Line(Line::from(waiting)));
        subscription_items(net, state, theme, width, &mut items);
        return items;
    };
    items.push(Item::Line(head_line(latest, avg, state, theme)));
    // Beside the head: whether another endpoint of the chain has it sooner.
    if let Some(race) = super::race::card_line(state, idx, theme, width) {
        items.push(Item::Line(race));
    }
    if let Some(fee) = fee_line(latest, avg, theme) {
        items.push(Item::Line(fee));
    }
    items.push(Item::Line(gas_line(net, latest, theme)));

    let series = net.series(state.chart, usize::from(width));
    if !series.is_empty() {
        // A one-row chart of a short card is the gas line's own, unlabelled there.
        if spark_height > 1 || state.chart != Chart::GasUsed {
            items.push(Item::Line(chart_title(state.chart, &series, theme)));
        }
        // Gas is a share of the limit; the others fill the height with their maximum.
        let top = match state.chart {
            Chart::GasUsed => 100.0,
            _ => series.iter().copied().fold(0.0, f64::max),
        };
        let data = series
            .iter()
            .map(|v| {
                if top > 0.0 {
                    (v / top * 100.0).round() as u64
                } else {
                    0
                }
            })
            .collect();
        items.push(Item::Spark {
            data,
            height: spark_height,
        });
    }

    subscription_items(net, state, theme, width, &mut items);
    items
}

/// `gas used 48.0%  20.0–94.0`: the chart's metric, its newest value and its range
/// over the chart.
fn chart_title(chart: Chart, series: &[f64], theme: &Theme) -> Line<'static> {
    let (name, unit) = chart.name();
    let now = series.last().copied().unwrap_or_default();
    let min = series.iter().copied().fold(f64::INFINITY, f64::min);
    let max = series.iter().copied().fold(0.0, f64::max);
    Line::from(vec![
        Span::styled(format!("{name} "), theme.dim()),
        Span::styled(format!("{}{unit}", num(now)), theme.text()),
        Span::styled(format!("  {}–{}", num(min), num(max)), theme.dim()),
    ])
}

/// A chart value with the digits that tell.
fn num(v: f64) -> String {
    if !v.is_finite() {
        "—".into()
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else if v == 0.0 {
        "0".into()
    } else {
        format!("{v:.2e}")
    }
}

/// `chain 1`, and what was expected when the endpoint is on another chain.
fn chain_line(net: &NetworkState, theme: &Theme, width: u16) -> Line<'static> {
    let mut chain = vec![label("chain ", theme)];
    match net.chain_id {
        Some(id) => chain.push(Span::styled(id.to_string(), theme.text())),
        None => chain.push(Span::styled("—", theme.dim())),
    }
    if let (Some(want), Some(got)) = (net.expected_chain_id, net.chain_id)
        && want != got
    {
        let long = format!(" ≠ expected {want}");
        let fits = 6 + digits(got) + long.chars().count() <= usize::from(width);
        let text = if fits { long } else { format!(" ≠ {want}") };
        chain.push(Span::styled(text, theme.error()));
    }
    Line::from(chain)
}

/// `head 21,000,000  12s`: the latest head's number and age.
fn head_line(h: &Head, avg: Option<f64>, state: &AppState, theme: &Theme) -> Line<'static> {
    let age = age_secs(h.timestamp, state.wall_now);
    // Late by three block times (at least 30 s) looks stuck: say so in colour.
    let late = avg.map_or(30.0, |a| (a * 3.0).max(30.0));
    let age_style = if age as f64 > late {
        theme.warn()
    } else {
        theme.text()
    };
    Line::from(vec![
        label("head ", theme),
        Span::styled(format::thousands(h.number), theme.text()),
        Span::styled(format!("  {}", format::age(age)), age_style),
    ])
}

/// `12.0s/blk  3.21 gwei`, either half when known; `None` when neither is.
fn fee_line(h: &Head, avg: Option<f64>, theme: &Theme) -> Option<Line<'static>> {
    let mut fee = Vec::with_capacity(4);
    if let Some(avg) = avg {
        fee.push(Span::styled(format!("{avg:.1}s"), theme.text()));
        fee.push(label("/blk  ", theme));
    }
    if let Some(base) = h.base_fee {
        fee.push(Span::styled(format::gwei(base), theme.text()));
        fee.push(label(" gwei", theme));
    }
    (!fee.is_empty()).then(|| Line::from(fee))
}

/// `gas 48.2%  txs 150`.
fn gas_line(net: &NetworkState, h: &Head, theme: &Theme) -> Line<'static> {
    let mut gas = vec![label("gas ", theme)];
    match net.gas_used_pct() {
        Some(pct) => gas.push(Span::styled(format!("{pct:.1}%"), theme.text())),
        None => gas.push(Span::styled("—", theme.dim())),
    }
    gas.push(label("  txs ", theme));
    match h.tx_count {
        Some(txs) => gas.push(Span::styled(
            format::thousands(u64::from(txs)),
            theme.text(),
        )),
        // Pushed without a list; looked up over HTTP.
        None => gas.push(Span::styled("…", theme.dim())),
    }
    Line::from(gas)
}

fn subscription_items(
    net: &NetworkState,
    state: &AppState,
    theme: &Theme,
    width: u16,
    items: &mut Vec<Item>,
) {
    match &net.subs_pending {
        Some(SubStatus::Unsupported(_)) if width >= 32 => {
            items.push(Item::Line(Line::styled(
                "pending: unsupported by endpoint",
                theme.dim(),
            )));
        }
        Some(SubStatus::Unsupported(_)) => {
            items.push(Item::Line(Line::styled(
                "pending: unsupported",
                theme.dim(),
            )));
            items.push(Item::Line(Line::styled("  by endpoint", theme.dim())));
        }
        Some(SubStatus::Active) | None if net.subs_pending.is_some() || net.pending_total > 0 => {
            let mut line = vec![label("pending ", theme)];
            line.extend(health::fresh(
                net.pending_now(state.now, state.wall_now),
                format::rate,
                theme,
            ));
            items.push(Item::Line(Line::from(line)))
        }
        Some(SubStatus::Off(_)) => {
            let text = if width >= 28 {
                "pending: off (billed/event)"
            } else {
                "pending: off"
            };
            items.push(Item::Line(Line::styled(text, theme.dim())));
        }
        Some(SubStatus::Active) | None => {}
    }
    if let Some(SubStatus::Unsupported(_)) = &net.subs_logs {
        let text = if width >= 29 {
            "logs: unsupported by endpoint"
        } else {
            "logs: unsupported"
        };
        items.push(Item::Line(Line::styled(text, theme.dim())));
    }
}

fn digits(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}
