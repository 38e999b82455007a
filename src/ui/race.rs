//! The race between the endpoints of one chain: a line on each racing network's
//! card (how often it is first, how late it is, how far behind), and the
//! comparison view (`v`): per endpoint its delays, misses and distance behind over
//! the last 100 heads and the last hour, its round-trips, errors, spend and
//! finality, where endpoints disagree, and a chart of the delays of the last
//! minutes.

use std::time::Duration;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, Paragraph};

use super::{Column, Theme, fit_column_list, format, label, table_row};
use crate::event::{Delivery, Dispute, FinalityTag};
use crate::state::{AppState, Fresh, GroupState, Racer, Window};
use crate::text::sanitize;

/// What the chart spans.
const CHART_SPAN: Duration = Duration::from_secs(300);
/// A group whose last race is older than this says how old it is, in colour.
const QUIET: Duration = Duration::from_secs(60);

/// A delay: `0ms`, `312ms`, `1.24s`.
fn delay(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else {
        format!("{:.2}s", ms as f64 / 1000.0)
    }
}

fn share(part: usize, of: usize) -> String {
    (part * 100)
        .checked_div(of)
        .map_or_else(|| "—".into(), |p| format!("{p}%"))
}

/// The member most often first over the last 100 heads.
fn leader(state: &AppState, g: &GroupState) -> Option<usize> {
    g.info
        .members
        .iter()
        .copied()
        .filter(|&i| {
            state
                .networks
                .get(i)
                .is_some_and(|n| n.racer.recent.heads > 0)
        })
        .max_by_key(|&i| state.networks[i].racer.recent.first)
}

/// `race 1st 87% +312ms 2 behind ⚠ fork` on a racing network's card, cut to
/// `width` by whole parts (the share first, the rest as it fits).
pub(super) fn card_line(
    state: &AppState,
    idx: usize,
    theme: &Theme,
    width: u16,
) -> Option<Line<'static>> {
    let (_, g) = state.group_of(idx)?;
    let r = &state.networks[idx].racer;
    let mut spans = vec![label("race ", theme)];
    if r.recent.heads == 0 {
        spans.push(Span::styled(
            format!("{} · waiting", sanitize(&g.info.name)),
            theme.dim(),
        ));
        return Some(Line::from(spans));
    }
    let lead = leader(state, g) == Some(idx);
    let first_style = if lead { theme.up() } else { theme.text() };
    spans.push(Span::styled(
        format!("1st {}", share(r.recent.first, r.recent.heads)),
        first_style,
    ));
    if let Some([p50, ..]) = r.recent.delay
        && !lead
    {
        let style = if p50 > 0 { theme.warn() } else { theme.text() };
        spans.push(Span::styled(format!(" +{}", delay(p50)), style));
    }
    if let Some((behind, _, _)) = r.behind
        && behind > 0
    {
        let style = if behind > 2 {
            theme.error()
        } else {
            theme.warn()
        };
        spans.push(Span::styled(format!(" {behind} behind"), style));
    }
    if let Some((d, at)) = g.disputes.back()
        && state.now.saturating_duration_since(*at) < QUIET * 5
    {
        let what = match d {
            Dispute::Fork { .. } => " ⚠ fork",
            Dispute::Unconfirmed { .. } => " ⚠ unconfirmed",
        };
        spans.push(Span::styled(what, theme.error()));
    }
    let mut used = 0;
    let fits = spans
        .into_iter()
        .take_while(|s| {
            used += s.width();
            used <= usize::from(width)
        })
        .collect::<Vec<_>>();
    Some(Line::from(fits))
}

/// The comparison view of the group of network `net`.
pub(super) fn draw(frame: &mut Frame, area: Rect, state: &AppState, net: usize, theme: &Theme) {
    let name = member_name(state, net);
    let Some((_, g)) = state.group_of(net) else {
        let block = view_block(format!(" race · {name} "), theme);
        let text = vec![
            Line::styled(format!("{name} races no other endpoint."), theme.text()),
            Line::styled(
                "Networks race when their endpoints report the same chain id, or when they \
                 set the same group = \"…\" in the config.",
                theme.dim(),
            ),
        ];
        frame.render_widget(
            Paragraph::new(text)
                .wrap(ratatui::widgets::Wrap { trim: false })
                .block(block),
            area,
        );
        return;
    };
    let title = format!(
        " race · {} · {} endpoints ",
        sanitize(&g.info.name),
        g.info.members.len()
    );
    let block = view_block(title, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let mut y = inner.y;
    let line = |frame: &mut Frame, l: Line<'static>, y: &mut u16| {
        if *y < inner.bottom() {
            frame.render_widget(Paragraph::new(l), super::row_at(inner, *y));
            *y += 1;
        }
    };
    line(frame, summary_line(state, g, theme), &mut y);
    line(frame, dispute_line(state, g, theme, inner.width), &mut y);
    y += 1;
    y = race_table(frame, inner, y, state, g, theme);
    y += 1;
    y = connection_table(frame, inner, y, state, g, theme);
    y += 1;
    if y + 6 <= inner.bottom() {
        let rest = Rect {
            y,
            height: inner.bottom() - y,
            ..inner
        };
        chart(frame, rest, state, g, theme);
    }
}

fn view_block(title: String, theme: &Theme) -> Block<'static> {
    Block::bordered()
        .border_style(theme.block(true))
        .title(Line::styled(title, theme.title(true)))
        .title(Line::styled(" Esc back ", theme.dim()).right_aligned())
}

/// `chain 1 · 1,234 heads raced · last #19,234,567 3s ago`.
fn summary_line(state: &AppState, g: &GroupState, theme: &Theme) -> Line<'static> {
    let mut spans = Vec::new();
    if let Some(id) = g.info.chain_id {
        spans.push(label("chain ", theme));
        spans.push(Span::styled(format!("{id}  "), theme.text()));
    }
    let Some(last) = g.races.back() else {
        spans.push(Span::styled(
            "no head raced yet (each is settled once every endpoint had it, or moved on)",
            theme.dim(),
        ));
        return Line::from(spans);
    };
    let age = state.now.saturating_duration_since(last.at);
    let age_style = if age > QUIET {
        theme.warn()
    } else {
        theme.text()
    };
    spans.push(Span::styled(
        format!("{} heads raced", format::thousands(g.races_total)),
        theme.text(),
    ));
    spans.push(label(" · last ", theme));
    spans.push(Span::styled(
        format!("#{}", format::thousands(last.number)),
        theme.text(),
    ));
    spans.push(Span::styled(
        format!(" {} ago", format::age(age.as_secs())),
        age_style,
    ));
    Line::from(spans)
}

/// Where the endpoints disagreed last, or that they never did.
fn dispute_line(state: &AppState, g: &GroupState, theme: &Theme, width: u16) -> Line<'static> {
    let Some((d, at)) = g.disputes.back() else {
        return Line::styled("no disagreement seen", theme.up());
    };
    let name = |i: usize| member_name(state, i);
    let what = match d {
        Dispute::Fork { number, hashes } => {
            let with_hashes = format!(
                "fork at #{}: {}",
                format::thousands(*number),
                hashes
                    .iter()
                    .map(|(i, h)| format!("{} {}", name(*i), format::short_hash(h)))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            // Narrow: who disagrees, without the hashes (the headless line has them).
            if with_hashes.chars().count() + 40 > usize::from(width) {
                format!(
                    "fork at #{}: {}",
                    format::thousands(*number),
                    hashes
                        .iter()
                        .map(|(i, _)| name(*i))
                        .collect::<Vec<_>>()
                        .join(" ≠ ")
                )
            } else {
                with_hashes
            }
        }
        Dispute::Unconfirmed { number, net, hash } => format!(
            "#{} {} from {} alone: no other endpoint has it",
            format::thousands(*number),
            format::short_hash(hash),
            name(*net)
        ),
    };
    Line::from(vec![
        Span::styled(
            format!(
                "⚠ {} disagreement{} · ",
                g.disputes_total,
                plural(g.disputes_total)
            ),
            theme.error(),
        ),
        Span::styled(what, theme.text()),
        Span::styled(
            format!(
                " ({} ago)",
                format::age(state.now.saturating_duration_since(*at).as_secs())
            ),
            theme.dim(),
        ),
    ])
}

/// A member's name as the screen may show it.
fn member_name(state: &AppState, i: usize) -> String {
    state
        .networks
        .get(i)
        .map_or_else(|| "?".to_string(), |n| sanitize(&n.name).into_owned())
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Width of the endpoint column: the longest member name, within reason.
fn name_width(state: &AppState, g: &GroupState) -> u16 {
    let longest = g
        .info
        .members
        .iter()
        .map(|&i| member_name(state, i).chars().count())
        .max()
        .unwrap_or(8);
    (longest.clamp(8, 18) + 2) as u16
}

/// Draw a table of the members from `y`, each row's first two cells its
/// connection's dot and its name (`name_w` wide), then `cols`; returns the row
/// after it.
fn table(
    frame: &mut Frame,
    inner: Rect,
    mut y: u16,
    name_w: u16,
    cols: &[(u16, u8, bool, &str)],
    rows: Vec<Vec<(String, Style)>>,
    theme: &Theme,
) -> u16 {
    let cols: Vec<(u16, u8, bool, &str)> = [(1, 0, false, ""), (name_w, 0, false, "endpoint")]
        .into_iter()
        .chain(cols.iter().copied())
        .collect();
    let keep = fit_column_list(
        &cols.iter().map(|c| (c.0, c.1)).collect::<Vec<_>>(),
        inner.width,
    );
    let shown: Vec<Column> = cols
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(c, _)| Column {
            width: c.0,
            right: c.2,
        })
        .collect();
    let pick = |cells: Vec<(String, Style)>| -> Vec<(String, Style)> {
        cells
            .into_iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(c, _)| c)
            .collect()
    };
    let header = pick(
        cols.iter()
            .map(|c| (c.3.to_string(), theme.dim()))
            .collect(),
    );
    let buf = frame.buffer_mut();
    table_row(
        buf,
        inner,
        y,
        &shown,
        header.iter().map(|(t, s)| (t.as_str(), *s)),
        Style::default(),
    );
    y += 1;
    for cells in rows {
        let cells = pick(cells);
        table_row(
            buf,
            inner,
            y,
            &shown,
            cells.iter().map(|(t, s)| (t.as_str(), *s)),
            Style::default(),
        );
        y += 1;
    }
    y
}

/// Per endpoint, a row for the last 100 heads and one for the hour.
fn race_table(
    frame: &mut Frame,
    inner: Rect,
    y: u16,
    state: &AppState,
    g: &GroupState,
    theme: &Theme,
) -> u16 {
    let cols = [
        (10, 0, false, "heads"),
        (5, 0, true, "first"),
        (7, 0, true, "p50"),
        (7, 1, true, "p95"),
        (7, 2, true, "p99"),
        (6, 0, true, "behind"),
        (4, 3, true, "max"),
        (6, 1, true, "missed"),
        (6, 3, true, "filled"),
    ];
    let lead = leader(state, g);
    let mut rows = Vec::new();
    for &i in &g.info.members {
        let Some(n) = state.networks.get(i) else {
            continue;
        };
        let r = &n.racer;
        let name_style = if lead == Some(i) {
            theme.up()
        } else {
            theme.text()
        };
        let (behind, max) = behind_cells(r, state, theme);
        rows.push(window_row(
            ("●".to_string(), theme.state(&n.conn)),
            (member_name(state, i), name_style),
            "last",
            &r.recent,
            theme,
            [behind, max],
        ));
        rows.push(window_row(
            (String::new(), theme.dim()),
            (String::new(), theme.dim()),
            "hour",
            &r.hour(state.now),
            theme,
            [(String::new(), theme.dim()), (String::new(), theme.dim())],
        ));
    }
    table(frame, inner, y, name_width(state, g), &cols, rows, theme)
}

fn behind_cells(r: &Racer, state: &AppState, theme: &Theme) -> ((String, Style), (String, Style)) {
    let behind = match r.behind {
        Some((0, _, _)) => ("0".to_string(), theme.up()),
        Some((b, _, _)) if b <= 2 => (b.to_string(), theme.warn()),
        Some((b, _, _)) => (b.to_string(), theme.error()),
        None => ("—".to_string(), theme.dim()),
    };
    let max = r
        .max_behind(state.now)
        .map_or_else(|| "—".to_string(), |m| m.to_string());
    (behind, (max, theme.text()))
}

fn window_row(
    dot: (String, Style),
    name: (String, Style),
    span: &str,
    w: &Window,
    theme: &Theme,
    [behind, max]: [(String, Style); 2],
) -> Vec<(String, Style)> {
    let text = |s: String| (s, theme.text());
    let d = |i: usize| match w.delay {
        Some(p) => text(delay(p[i])),
        None => ("—".to_string(), theme.dim()),
    };
    let count = |n: usize, bad: Style| {
        if n == 0 {
            ("0".to_string(), theme.text())
        } else {
            (n.to_string(), bad)
        }
    };
    let heads = if w.heads == 0 {
        ("—".to_string(), theme.dim())
    } else {
        (
            format!("{span} {}", format::thousands(w.heads as u64)),
            theme.dim(),
        )
    };
    vec![
        dot,
        name,
        heads,
        text(share(w.first, w.heads)),
        d(0),
        d(1),
        d(2),
        behind,
        max,
        count(w.missed, theme.error()),
        count(w.backfilled, theme.warn()),
    ]
}

/// Per endpoint: round-trips, errors, spend and finality.
fn connection_table(
    frame: &mut Frame,
    inner: Rect,
    y: u16,
    state: &AppState,
    g: &GroupState,
    theme: &Theme,
) -> u16 {
    let cols = [
        (8, 0, true, "ping p50"),
        (6, 2, true, "p95"),
        (8, 0, true, "http p50"),
        (6, 2, true, "p95"),
        (6, 1, true, "err/h"),
        (10, 2, true, "cost/h"),
        (11, 1, true, "safe"),
        (11, 1, true, "finalized"),
    ];
    // The best head as the members' panes show it now (a `behind` is only told
    // when it changes, its `best` with it).
    let best = g
        .info
        .members
        .iter()
        .filter_map(|&i| state.networks.get(i)?.latest().map(|h| h.number))
        .max();
    let mut rows = Vec::new();
    for &i in &g.info.members {
        let Some(n) = state.networks.get(i) else {
            continue;
        };
        let r = &n.racer;
        let dash = || ("—".to_string(), theme.dim());
        let rtt = |p: Option<[Duration; 2]>, k: usize| {
            p.map_or_else(dash, |p| (format::millis(p[k]), theme.text()))
        };
        let (ping, http) = (r.ping(state.now), r.http(state.now));
        let errors = r
            .errors_per_hour(n.stats.errors, state.now)
            .map_or_else(dash, |e| {
                let style = if e > 0.0 { theme.warn() } else { theme.text() };
                (format::compact(e), style)
            });
        // As the health pane has it: a meter that stopped reporting is not current.
        let unit = format::cost_unit(&n.stats.cost.unit);
        let cost = match n.spend_now(state.now) {
            Fresh::Now(m) => (
                format!("{} {unit}", format::compact(m * 60.0)),
                theme.text(),
            ),
            Fresh::Stale(m, _) => (
                format!("{} {unit}*", format::compact(m * 60.0)),
                theme.warn(),
            ),
            Fresh::Unknown => dash(),
        };
        let head = n.latest().map(|h| h.number);
        let (safe, finalized) = match r.finality_at(head) {
            Some((f, old)) => {
                let cell = |t| {
                    let behind = best.zip(head).map_or(0, |(b, h)| b.saturating_sub(h));
                    let (text, style) = finality_cell(t, f.head, behind, theme);
                    // Not read again for two rounds: as of an older head.
                    if old {
                        (format!("{text}*"), theme.warn())
                    } else {
                        (text, style)
                    }
                };
                (cell(&f.safe), cell(&f.finalized))
            }
            None => (dash(), dash()),
        };
        rows.push(vec![
            ("●".to_string(), theme.state(&n.conn)),
            (member_name(state, i), theme.text()),
            rtt(ping, 0),
            rtt(ping, 1),
            rtt(http, 0),
            rtt(http, 1),
            errors,
            cost,
            safe,
            finalized,
        ]);
    }
    let y = table(frame, inner, y, name_width(state, g), &cols, rows, theme);
    let note = Line::styled(
        "safe/finalized: below its head (below the best) · *: not current",
        theme.dim(),
    );
    if y < inner.bottom() {
        frame.render_widget(Paragraph::new(note), super::row_at(inner, y));
    }
    y + 1
}

/// `-32 (-33)`: how far a finality tag lags the endpoint's head (and the best).
/// The lag is the one the endpoint said at the head it was asked at (`read_at`),
/// not that head's distance to a head that came since; under the best, by as much
/// more as the endpoint is behind now.
fn finality_cell(t: &FinalityTag, read_at: u64, behind: u64, theme: &Theme) -> (String, Style) {
    match t {
        FinalityTag::Block { number, .. } => {
            let lag = read_at.saturating_sub(*number);
            (format!("-{lag} (-{})", lag + behind), theme.text())
        }
        FinalityTag::None => ("none yet".into(), theme.dim()),
        FinalityTag::Unsupported(_) => ("unsupported".into(), theme.warn()),
    }
}

/// Each endpoint's delay (ms) per head, over the last minutes.
fn chart(frame: &mut Frame, area: Rect, state: &AppState, g: &GroupState, theme: &Theme) {
    let span = CHART_SPAN.as_secs_f64();
    let mut series: Vec<(String, Vec<(f64, f64)>)> = g
        .info
        .members
        .iter()
        .map(|&i| (member_name(state, i), Vec::new()))
        .collect();
    let mut top: u64 = 10;
    for race in g.races.iter() {
        let ago = state.now.saturating_duration_since(race.at).as_secs_f64();
        if ago > span {
            continue;
        }
        for (k, &m) in g.info.members.iter().enumerate() {
            let Some((_, Delivery::After { ms, .. })) =
                race.deliveries.iter().find(|(i, _)| *i == m)
            else {
                continue;
            };
            top = top.max(*ms);
            series[k].1.push((-ago, *ms as f64));
        }
    }
    let markers = [
        (Marker::Braille, "⣿"),
        (Marker::Dot, "•"),
        (Marker::Block, "█"),
    ];
    // The legend in the border: ratatui's own hides itself in a short chart.
    let mut legend = vec![Span::raw(" ")];
    for (k, (name, _)) in series.iter().enumerate() {
        legend.push(Span::styled(
            format!("{} {name}  ", markers[k % markers.len()].1),
            theme.series(k),
        ));
    }
    let datasets = series
        .iter()
        .enumerate()
        .map(|(k, (name, points))| {
            Dataset::default()
                .name(name.clone())
                .marker(markers[k % markers.len()].0)
                .graph_type(GraphType::Scatter)
                .style(theme.series(k))
                .data(points)
        })
        .collect();
    let top = top as f64 * 1.1;
    let block = Block::bordered()
        .border_style(theme.block(false))
        .title(Line::styled(
            " delay after the first, per head (last 5 minutes) ",
            theme.title(false),
        ))
        .title_bottom(Line::from(legend));
    let chart = Chart::new(datasets)
        .block(block)
        .legend_position(None)
        .x_axis(
            Axis::default()
                .bounds([-span, 0.0])
                .style(theme.dim())
                .labels(["-5m", "now"]),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, top])
                .style(theme.dim())
                .labels(["0".to_string(), delay(top as u64)]),
        );
    frame.render_widget(chart, area);
}
