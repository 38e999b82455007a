//! Drawing: `draw(frame, &AppState, &Theme)`, pure (clocks come from the state).
//!
//! Tall layout (body of 36 rows or more, e.g. 120x40; columns widen to fill the width):
//!
//! ```text
//!  chaintop · 3 networks · mainnet                                              ? help  title bar
//! ┌ 1 mainnet ● ─────────────┐┌ 2 base ● ────────────────┐┌ 3 sepolia ● ─────────────┐
//! │chain 1                   ││chain 8453                ││chain 5 ≠ 11155111        │ network row:
//! │head 19,234,567  3s       ││head 22,000,000  40s      ││head waiting…             │ one column per
//! │12.0s/blk  12.55 gwei     ││12.45 gwei                ││                          │ network (>= 26
//! │gas 48.0%  txs 117        ││gas 20.0%  txs 100        ││                          │ cols), a window
//! │▄█▅█▆█▆█▇██████████▅█▅█▆█▇││▃                         ││                          │ around the
//! │pending 187/s             ││                          ││                          │ selected one,
//! └ ◀ 1 more ────────────────┘└──────────────────────────┘└─────────────── 2 more ▶ ┘ hidden counts
//! ┌ health ──────────────────┐┌ health ──────────────────┐┌ health ──────────────────┐ in the borders
//! │● live  up 1h02m          ││● reconnecting in 4s #3   ││● failed                  │
//! │err ws read: connection r…││connection refused        ││chain id mismatch:        │ health: same
//! │last msg 2s  reconn 2     ││last msg —  reconn 5      ││expected 11155111, got 5  │ column widths
//! │ping 12ms  http 41ms      ││ping —  http —            ││last msg —  reconn 0      │
//! │msgs 42.5/s  reqs 1,234   ││msgs 42.5/s  reqs 0       ││...                       │
//! │bad 1  errors 3           ││bad 0  errors 0           ││                          │
//! │pending dropped 17        ││wss://base.example/ws     ││                          │
//! │reorgs 1  deepest 2       ││                          ││                          │
//! │wss://eth.example/ws/***  ││                          ││                          │
//! └──────────────────────────┘└──────────────────────────┘└──────────────────────────┘
//! ┌ heads · mainnet ──────────────────┐┌ watches · mainnet ─────────────────────────────────┐
//! │       number hash       gas%    age││label     balance ETH   change nonce  SIMUSD activity│ selected
//! │   19,234,567 0x7a81…9c03 48.0    3s││vitalik    1,200.5000 -34.0679 1,234 1,000.25 block 19…│ network's
//! └───────────────────────────────────┘└─────────────────────────── activity from blocks only ┘ lists: a
//! ┌ events · mainnet ───────────────────────────────────┐┌ contracts · mainnet ───────────────┐ grid when
//! │#19,234,567          SIMUSD Transfer from=vitalik …  ││pool  0x2222…2222                   │ 24 rows or
//! │#19,234,566 reverted SIMUSD Transfer from=0x7099…79C8││  totalSupply()  1,000,500  was 1,0…│ more are
//! │#19,234,566          pool   raw      t0=0x9789…6af4 …││  balanceOf(…)   ✗ execution revert…│ left (200x60)
//! └─────────────────────────────────────────────────────┘└────────────────────────────────────┘
//!  q quit  ? help  Tab focus  ←→/hl network  ↑↓/jk scroll  1-9 select  r reconnect       key hints
//! ```
//!
//! With fewer rows left (120x40) the lists take the short layout's arrangement below.
//!
//! Short layout (body under 36 rows): state, reason, summary and health merge into one
//! block per network, at most half the body high; lines are ordered by importance so
//! the cut drops the least useful. Table columns are dropped by priority when narrow.
//! At 80x24:
//!
//! ```text
//!  chaintop · 3 networks · mainnet                                         ? help
//! ┌ 1 mainnet ● ────────────┐┌ 2 base ● ───────────────┐┌ 3 sepolia ● ───────────┐
//! │● live  up 1h02m         ││● reconnecting in 4s #3  ││● failed                │
//! │chain 1                  ││connection refused       ││chain id mismatch:      │
//! │head 19,234,567  3s      ││chain 8453               ││expected 11155111, got 5│
//! │12.0s/blk  12.55 gwei    ││head 22,000,000  40s     ││chain 5 ≠ 11155111      │
//! │gas 48.0%  txs 117       ││12.45 gwei               ││head waiting…           │
//! │▇▄▇▄▇▅▂▅▂▅▃▆▃▆▃▆▄▇▄▇▄▄▄▃▃││gas 20.0%  txs 100       ││last msg —  reconn 0    │
//! │pending 187/s            ││▁                        ││ping —  http —          │
//! │err ws read: connection …││last msg —  reconn 5     ││msgs 42.5/s  reqs 0     │
//! │last msg 2s  reconn 2    ││ping —  http —           ││bad 0  errors 0         │
//! └─────────────────────────┘└─────────────────────────┘└────────────────────────┘
//! ┌ heads · mainnet ─────────┐┌ watches │ events │ contracts · mainnet ──────────┐
//! │       number  gas%    age││label       balance ETH   change     SIMUSD   WETH│ heads beside
//! │   19,234,567  48.0     3s││vitalik      1,200.5000 -34.0679 1,000.2500 3.5000│ one place
//! │   19,234,566  48.0    15s││treasury        10.5000  +0.5000    12.0000 0.0000│ shared by
//! │⤳  19,234,565  55.0    27s││new                   …        —          …      …│ watches, events
//! │⤳  19,234,564  55.0    39s││                                                  │ and contracts:
//! │   19,234,563  61.0    51s││                                                  │ the tab shown is
//! │   19,234,562  94.0  1m03s││                                                  │ the last focused
//! │   19,234,561  57.0  1m15s││                                                  │ (`side_tab`)
//! │   19,234,560  90.0  1m27s││                                                  │
//! └──────────────────────────┘└─────────────────────── activity from blocks only ┘
//!  q quit  ? help  Tab focus  ←→/hl network  ↑↓/jk scroll  1-9 select  r reconnect
//! ```
//!
//! Below 100 columns a focused watches, events or contracts pane takes the whole width
//! of the lists (Tab moves on to the next; heads come back with the network row or the
//! heads focused). Many tokens fold into one compact column when narrow. Below 60
//! columns one network column is shown (with both "more" counts) and only the focused
//! list. Every size down to 1x1 draws without panicking.

mod alerts;
mod contracts;
mod detail;
mod events;
mod heads;
mod health;
mod help;
mod input;
mod mempool;
mod networks;
mod picker;
mod race;
mod theme;
mod watches;

use crate::fmt as format;

pub use theme::Theme;

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Sparkline};

use crate::state::{AppState, Focus, NetworkState, Page, Target};

/// How long a notice (copied, removed) stays in the title bar.
const NOTICE_FOR: std::time::Duration = std::time::Duration::from_secs(5);
/// A card this wide or more has room beside it (one network: card and health side
/// by side).
const WIDE_CARD: u16 = 50;
/// Narrowest useful network column.
const MIN_COLUMN: u16 = 26;
/// Below this width only one network column is shown.
const NARROW: u16 = 60;
/// Body rows needed for separate summary and health blocks.
const TALL_BODY: u16 = 36;
const SUMMARY_HEIGHT: u16 = 11;
const HEALTH_HEIGHT: u16 = 12;
/// Rows below the network row from which all four lists get their own pane.
const GRID_ROWS: u16 = 24;
/// Below this width (and `GRID_ROWS`), a focused watches, events or contracts pane
/// takes the whole bottom area: beside the heads it would be too narrow to read.
const ZOOM_BELOW: u16 = 100;

/// Draw the whole screen from `state`.
pub fn draw(frame: &mut Frame, state: &AppState, theme: &Theme) {
    let area = frame.area();
    state.drawn.borrow_mut().clear();
    if area.is_empty() {
        return;
    }
    let with_footer = area.height >= 3;
    let (title, rest) = cut_top(area, 1);
    let (body, footer) = cut_top(rest, rest.height.saturating_sub(u16::from(with_footer)));
    title_bar(frame, title, state, theme);
    if with_footer {
        key_hints(frame, footer, state, theme);
    }
    if state.networks.is_empty() {
        let msg = Line::styled("no networks configured", theme.dim());
        frame.render_widget(Paragraph::new(msg), body);
    } else if let Some(view) = state.view().filter(|_| !body.is_empty()) {
        detail::draw(frame, body, state, view, theme);
    } else if !body.is_empty() {
        draw_body(frame, body, state, theme);
    }
    if let Some(input) = &state.input {
        input::draw(frame, area, input, theme);
    }
    if state.picker.is_some() {
        picker::draw(frame, area, state, theme);
    }
    if state.show_alerts {
        alerts::draw(frame, area, state, theme);
    }
    if state.show_help {
        help::draw(frame, area, theme);
    }
    // Links are found in the finished frame, so what a popup covers does not link.
    state.drawn.borrow_mut().resolve(frame.buffer_mut());
}

/// Where `text` is drawn inside `within`, link it to `page` on the network's
/// explorer (when one is configured and links are on).
fn link(state: &AppState, net: &NetworkState, within: Rect, text: &str, page: Page) {
    if !state.links {
        return;
    }
    if let Some(url) = net.explorer_url(page) {
        state.drawn.borrow_mut().link(within, text, url);
    }
}

/// `key   value`, the key dim and padded, the value in `style` (the detail views'
/// lines).
fn kv_styled(key: &str, value: String, style: Style, theme: &Theme) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{key:<11}"), theme.dim()),
        Span::styled(value, style),
    ])
}

/// A watched address's or contract's label, or a token's symbol.
fn name_of<'a>(net: &'a NetworkState, a: &alloy_primitives::Address) -> Option<&'a str> {
    net.label_of(*a).or_else(|| {
        net.tokens
            .iter()
            .find(|t| t.address == *a)
            .and_then(|t| t.symbol.as_deref())
    })
}

/// An address shortened, or its label.
fn short(net: &NetworkState, a: &alloy_primitives::Address) -> String {
    name_of(net, a).map_or_else(
        || format::short_address(a),
        |l| format::truncate(&crate::text::sanitize(l), 12).into_owned(),
    )
}

/// A network's column: a click selects it, and its newest head links.
fn network_target(state: &AppState, col: Rect, idx: usize) {
    target(state, col, Target::Network(idx));
    if let Some(net) = state.networks.get(idx)
        && let Some(h) = net.latest()
    {
        link(
            state,
            net,
            col,
            &format::thousands(h.number),
            Page::Block(h.number),
        );
    }
}

/// A click on `area` lands on `t`.
fn target(state: &AppState, area: Rect, t: Target) {
    state.drawn.borrow_mut().target(area, t);
}

/// Row `y` of `area`.
fn row_at(area: Rect, y: u16) -> Rect {
    Rect {
        y,
        height: 1,
        ..area
    }
}

fn draw_body(frame: &mut Frame, body: Rect, state: &AppState, theme: &Theme) {
    let tall = body.height >= TALL_BODY;
    // One network on a wide, tall screen: its card and its health side by side, so
    // the width is used and the lists below get the rows.
    if tall && state.networks.len() == 1 && body.width >= 2 * WIDE_CARD {
        let (row, bottom) = cut_top(body, SUMMARY_HEIGHT.max(HEALTH_HEIGHT));
        let half = row.width / 2;
        let card = Rect { width: half, ..row };
        let health_area = Rect {
            x: row.x + half,
            width: row.width - half,
            ..row
        };
        let more = networks::More { left: 0, right: 0 };
        network_target(state, row, 0);
        networks::draw_summary(frame, card, state, theme, 0, more);
        health::draw(frame, health_area, state, theme, 0);
        if !bottom.is_empty() {
            draw_bottom(frame, bottom, state, theme);
        }
        return;
    }
    let net_rows = if tall {
        SUMMARY_HEIGHT + HEALTH_HEIGHT
    } else if body.height < 8 {
        body.height
    } else {
        (body.height / 2).min(networks::COMPACT_MAX_LINES + 2)
    };
    let (row, bottom) = cut_top(body, net_rows);

    let n = state.networks.len();
    let fit = if body.width < NARROW {
        1
    } else {
        usize::from(body.width / MIN_COLUMN)
    };
    let (start, shown) = window(n, state.selected, fit);
    // `shown` is at least 1 and at most the width / MIN_COLUMN (or 1).
    let (base, extra) = (row.width / shown as u16, row.width % shown as u16);
    let mut x = row.x;
    for i in 0..shown {
        let width = base + u16::from((i as u16) < extra);
        let col = Rect { x, width, ..row };
        x += width;
        let idx = start + i;
        network_target(state, col, idx);
        let more = networks::More {
            left: if i == 0 { start } else { 0 },
            right: if i + 1 == shown { n - start - shown } else { 0 },
        };
        if tall {
            let (summary, health) = cut_top(col, SUMMARY_HEIGHT);
            networks::draw_summary(frame, summary, state, theme, idx, more);
            health::draw(frame, health, state, theme, idx);
        } else {
            networks::draw_compact(frame, col, state, theme, idx, more);
        }
    }

    if !bottom.is_empty() {
        draw_bottom(frame, bottom, state, theme);
    }
}

/// Heads, watches, events and contracts. A grid of four when there is room; else heads
/// beside one shared place whose tabs follow focus (the focused one alone when
/// narrow); below `NARROW`, the focused pane.
fn draw_bottom(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    if area.width < NARROW {
        let pane = match state.focus {
            Focus::Networks => Focus::Heads,
            f => f,
        };
        draw_pane(frame, area, state, theme, pane, pane != Focus::Heads);
        return;
    }
    let (top, low) = if area.height >= GRID_ROWS {
        cut_top(area, area.height / 2)
    } else {
        (area, Rect::default())
    };
    let side_focused = matches!(
        state.focus,
        Focus::Watches | Focus::Events | Focus::Contracts
    );
    if low.is_empty() && side_focused && area.width < ZOOM_BELOW {
        draw_pane(frame, area, state, theme, state.focus, true);
        return;
    }
    // Heads need few columns (number, gas, age at the least); the side pane more.
    let heads_share = if low.is_empty() { 35 } else { 40 };
    let heads_width = (u32::from(top.width) * heads_share / 100) as u16;
    let (heads_area, side) = cut_left(top, heads_width);
    heads::draw(frame, heads_area, state, theme);
    if low.is_empty() {
        draw_pane(frame, side, state, theme, state.side_tab, true);
        return;
    }
    watches::draw(frame, side, state, theme, false);
    let (events_area, contracts_area) = cut_left(low, low.width * 3 / 5);
    events::draw(frame, events_area, state, theme, false);
    contracts::draw(frame, contracts_area, state, theme, false);
}

fn draw_pane(
    frame: &mut Frame,
    area: Rect,
    state: &AppState,
    theme: &Theme,
    pane: Focus,
    tabs: bool,
) {
    match pane {
        Focus::Networks | Focus::Heads => heads::draw(frame, area, state, theme),
        Focus::Watches => watches::draw(frame, area, state, theme, tabs),
        Focus::Events => events::draw(frame, area, state, theme, tabs),
        Focus::Contracts => contracts::draw(frame, area, state, theme, tabs),
    }
}

/// Split `area` into its left `cols` columns and the rest.
fn cut_left(area: Rect, cols: u16) -> (Rect, Rect) {
    let cols = cols.min(area.width);
    let left = Rect {
        width: cols,
        ..area
    };
    let rest = Rect {
        x: area.x + cols,
        width: area.width - cols,
        ..area
    };
    (left, rest)
}

/// Split `area` into its top `rows` rows and the rest. Plain arithmetic rather than
/// `Layout`: the constraint solver costs more than the whole frame's text.
fn cut_top(area: Rect, rows: u16) -> (Rect, Rect) {
    let rows = rows.min(area.height);
    let top = Rect {
        height: rows,
        ..area
    };
    let rest = Rect {
        y: area.y + rows,
        height: area.height - rows,
        ..area
    };
    (top, rest)
}

/// First index and count of the network columns shown: as many as `fit`, centred on the
/// selected one where possible (the selection scrolls the window).
fn window(n: usize, selected: usize, fit: usize) -> (usize, usize) {
    let shown = fit.clamp(1, n.max(1)).min(n);
    let selected = selected.min(n.saturating_sub(1));
    let start = selected
        .saturating_sub((shown.saturating_sub(1)) / 2)
        .min(n - shown);
    (start, shown)
}

fn title_bar(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let n = state.networks.len();
    let mut spans = vec![
        Span::styled(" chaintop", theme.title_bar()),
        Span::styled(" · ", theme.dim()),
        Span::styled(
            format!("{n} network{}", if n == 1 { "" } else { "s" }),
            theme.text(),
        ),
    ];
    if let Some(net) = state.selected_network() {
        spans.push(Span::styled(" · ", theme.dim()));
        spans.push(Span::styled(
            crate::text::sanitize(&net.name).into_owned(),
            theme.title(true),
        ));
    }
    let firing: usize = state.networks.iter().map(|n| n.alerts_firing.len()).sum();
    if firing > 0 {
        spans.push(Span::styled(" · ", theme.dim()));
        spans.push(Span::styled(
            format!(
                "{firing} alert{} firing",
                if firing == 1 { "" } else { "s" }
            ),
            theme.warn(),
        ));
        spans.push(Span::styled(" (!)", theme.dim()));
    }
    if let Some((text, at)) = &state.notice
        && state.now.saturating_duration_since(*at) < NOTICE_FOR
    {
        spans.push(Span::styled(" · ", theme.dim()));
        spans.push(Span::styled(
            crate::text::sanitize(text).into_owned(),
            theme.key(),
        ));
    }
    let off = state
        .networks
        .iter()
        .flat_map(|n| n.sink_failures.iter())
        .filter(|f| f.off)
        .map(|f| f.sink.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    if off > 0 {
        spans.push(Span::styled(" · ", theme.dim()));
        spans.push(Span::styled(
            format!("{off} sink{} off", if off == 1 { "" } else { "s" }),
            theme.error(),
        ));
        spans.push(Span::styled(" (!)", theme.dim()));
    }
    frame.render_widget(Line::from(spans), area);
    let help = Line::from(vec![
        Span::styled("?", theme.key()),
        Span::styled(" help ", theme.dim()),
    ])
    .right_aligned();
    // A narrow terminal keeps the product name rather than the hint.
    if area.width >= 40 {
        frame.render_widget(help, area);
    }
}

fn key_hints(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let mut spans = Vec::new();
    // In a detail view, the keys that work there.
    let in_view: &[(&str, &str)] = match state.view() {
        Some(crate::state::DetailView::Block { .. }) => &[
            ("Esc", "back"),
            ("↑↓", "select"),
            ("Enter", "receipt"),
            ("q", "quit"),
        ],
        Some(_) => &[("Esc", "back"), ("q", "quit")],
        None => &[],
    };
    let hints: Vec<(&str, &str)> = if in_view.is_empty() {
        crate::keymap::hints().collect()
    } else {
        in_view.to_vec()
    };
    for (key, what) in hints {
        spans.push(Span::raw(" "));
        spans.push(Span::styled(key, theme.key()));
        spans.push(Span::styled(format!(" {what} "), theme.dim()));
    }
    frame.render_widget(Line::from(spans), area);
}

/// One row (or a few, for a sparkline) of a network's block.
enum Item {
    Line(Line<'static>),
    Spark { data: Vec<u64>, height: u16 },
}

/// Draw items top to bottom, dropping whatever does not fit.
fn render_items(frame: &mut Frame, area: Rect, items: Vec<Item>, theme: &Theme) {
    let mut y = area.y;
    for item in items {
        if y >= area.bottom() {
            break;
        }
        match item {
            Item::Line(line) => {
                frame.render_widget(
                    line,
                    Rect {
                        y,
                        height: 1,
                        ..area
                    },
                );
                y += 1;
            }
            Item::Spark { data, height } => {
                let height = height.min(area.bottom() - y);
                let spark = Sparkline::default()
                    .data(&data)
                    .max(100)
                    .style(theme.sparkline());
                frame.render_widget(spark, Rect { y, height, ..area });
                y += height;
            }
        }
    }
}

/// `label value` with the label dimmed.
fn label(text: &'static str, theme: &Theme) -> Span<'static> {
    Span::styled(text, theme.dim())
}

/// Which columns of a table fit in `width` (one space between columns): the highest
/// `priority` numbers are dropped first, priority 0 never.
fn fit_columns<const N: usize>(cols: [(u16, u8); N], width: u16) -> [bool; N] {
    let keep = fit_column_list(&cols, width);
    std::array::from_fn(|i| keep[i])
}

/// [`fit_columns`] for a table whose columns are only known at run time.
fn fit_column_list(cols: &[(u16, u8)], width: u16) -> Vec<bool> {
    let mut keep = vec![true; cols.len()];
    let total = |keep: &[bool]| -> u16 {
        let (sum, n) = cols
            .iter()
            .zip(keep)
            .filter(|(_, k)| **k)
            .fold((0u16, 0u16), |(s, n), ((w, _), _)| {
                (s.saturating_add(*w), n + 1)
            });
        sum.saturating_add(n.saturating_sub(1))
    };
    let max_prio = cols.iter().map(|c| c.1).max().unwrap_or(0);
    for prio in (1..=max_prio).rev() {
        if total(&keep) <= width {
            break;
        }
        for (k, (_, p)) in keep.iter_mut().zip(cols.iter()) {
            if *p == prio {
                *k = false;
            }
        }
    }
    keep
}

/// A column of a hand-drawn table (ratatui's `Table` runs the layout solver each frame).
#[derive(Debug, Clone, Copy)]
struct Column {
    width: u16,
    right: bool,
}

/// Draw one table row at `y`: `row_style` over the whole row, then each cell's text
/// (clipped to its column, one space between columns) patched with its own style.
fn table_row<'a>(
    buf: &mut Buffer,
    area: Rect,
    y: u16,
    cols: &[Column],
    cells: impl IntoIterator<Item = (&'a str, Style)>,
    row_style: Style,
) {
    if y >= area.bottom() {
        return;
    }
    buf.set_style(
        Rect {
            y,
            height: 1,
            ..area
        },
        row_style,
    );
    let mut x = area.x;
    for (col, (text, style)) in cols.iter().zip(cells) {
        if x >= area.right() {
            break;
        }
        let width = col.width.min(area.right() - x);
        let text_width = u16::try_from(Span::raw(text).width()).unwrap_or(u16::MAX);
        let start = if col.right {
            x + width.saturating_sub(text_width)
        } else {
            x
        };
        buf.set_stringn(start, y, text, usize::from(width - (start - x)), style);
        x = x.saturating_add(col.width).saturating_add(1);
    }
}

/// First visible row of a list so that `cursor` stays on screen.
fn scroll_offset(cursor: usize, rows: usize) -> usize {
    cursor.saturating_sub(rows.saturating_sub(1))
}

/// The title of a list pane, e.g. ` heads · mainnet `.
fn pane_title(name: &'static str, state: &AppState, focused: bool, theme: &Theme) -> Line<'static> {
    let net = state
        .selected_network()
        .map(|n| crate::text::sanitize(&n.name).into_owned());
    let text = match net {
        Some(net) => format!(" {name} · {net} "),
        None => format!(" {name} "),
    };
    Line::styled(text, theme.title(focused))
}

/// The freeze and the filter of a list pane, for its title (right).
fn list_status(state: &AppState, pane: Focus, theme: &Theme) -> Option<Line<'static>> {
    let mut spans = Vec::new();
    if let Some(f) = state.filter.as_ref().filter(|f| f.pane == pane) {
        let cursor = if f.typing { "▏" } else { "" };
        spans.push(Span::styled(
            format!(" /{}{cursor} ", crate::text::sanitize(&f.text)),
            theme.key(),
        ));
    }
    if let Some(by) = state.event_sort.column().filter(|_| pane == Focus::Events) {
        spans.push(Span::styled(format!(" by {by} ▼ "), theme.key()));
    }
    if let Some(new) = state.frozen_new(pane) {
        spans.push(Span::styled(format!(" frozen · {new} new "), theme.warn()));
    }
    (!spans.is_empty()).then(|| Line::from(spans))
}

/// The block of the watches, events or contracts pane. With `tabs` (they share one
/// place) the title names all three, the shown one highlighted.
fn side_block(pane: Focus, state: &AppState, theme: &Theme, tabs: bool) -> Block<'static> {
    const TABS: [(Focus, &str); 3] = [
        (Focus::Watches, "watches"),
        (Focus::Events, "events"),
        (Focus::Contracts, "contracts"),
    ];
    let focused = state.focus == pane;
    let mut block = Block::bordered().border_style(theme.block(focused));
    if let Some(status) = list_status(state, pane, theme) {
        block = block.title(status.right_aligned());
    }
    let name = TABS.iter().find(|(f, _)| *f == pane).map_or("", |t| t.1);
    if !tabs {
        return block.title(pane_title(name, state, focused, theme));
    }
    let mut spans = vec![Span::raw(" ")];
    for (i, (f, name)) in TABS.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" │ ", theme.dim()));
        }
        let style = if *f == pane {
            theme.title(focused).add_modifier(Modifier::UNDERLINED)
        } else {
            theme.dim()
        };
        spans.push(Span::styled(*name, style));
    }
    if let Some(net) = state.selected_network() {
        spans.push(Span::styled(
            format!(" · {} ", crate::text::sanitize(&net.name)),
            theme.title(focused),
        ));
    }
    block.title(Line::from(spans))
}

/// A centred, bordered popup of at most `size` (width, height), drawn over what is below.
fn draw_popup(
    frame: &mut Frame,
    area: Rect,
    size: (u16, u16),
    title: &str,
    lines: Vec<Line<'_>>,
    theme: &Theme,
) {
    let (width, height) = (size.0.min(area.width), size.1.min(area.height));
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let block = ratatui::widgets::Block::bordered()
        .border_style(theme.block(true))
        .title(Line::styled(title.to_string(), theme.title(true)));
    frame.render_widget(ratatui::widgets::Clear, popup);
    frame.render_widget(ratatui::widgets::Paragraph::new(lines).block(block), popup);
}

#[cfg(test)]
mod tests {
    use super::{fit_columns, scroll_offset, window};

    mod mouse_and_links {
        use std::time::{Instant, SystemTime};

        use alloy_primitives::{Address, B256, U256};
        use ratatui::Terminal;
        use ratatui::backend::TestBackend;

        use crate::event::{Action, Head, HeadSource, Mouse, MouseKind, Update};
        use crate::state::{AppState, DetailView, Focus, NetworkState, WatchRow};
        use crate::ui::{Theme, draw};

        fn state(explorer: Option<&str>) -> AppState {
            let mut net = NetworkState::new("main", "ws://x");
            net.explorer = explorer.map(str::to_string);
            net.watches
                .push(WatchRow::new("alice", Address::repeat_byte(0xa1)));
            let mut s = AppState::new(vec![net]);
            for n in 1..=5u64 {
                let head = Head {
                    number: 1_000 + n,
                    hash: B256::from(U256::from(n)),
                    parent_hash: B256::from(U256::from(n - 1)),
                    timestamp: 1,
                    gas_used: 1,
                    gas_limit: 2,
                    base_fee: None,
                    tx_count: Some(0),
                    source: HeadSource::Ws,
                    seen: None,
                };
                s.apply(Update::Head { net: 0, head }, Instant::now());
            }
            s.wall_now = SystemTime::UNIX_EPOCH;
            s
        }

        fn frame(s: &AppState) -> String {
            let mut t = Terminal::new(TestBackend::new(100, 30)).expect("in memory");
            t.draw(|f| draw(f, s, &Theme::no_color()))
                .expect("in memory");
            let buf = t.backend().buffer();
            (0..buf.area.height)
                .map(|y| {
                    (0..buf.area.width)
                        .map(|x| buf[(x, y)].symbol().to_string())
                        .collect::<String>()
                })
                .collect::<Vec<_>>()
                .join("\n")
        }

        /// Column and row of `text` on the screen.
        fn find(screen: &str, text: &str) -> (u16, u16) {
            screen
                .lines()
                .enumerate()
                .find_map(|(y, l)| {
                    l.find(text)
                        .map(|b| (l[..b].chars().count() as u16, y as u16))
                })
                .unwrap_or_else(|| panic!("{text} not on the screen:\n{screen}"))
        }

        fn click(s: &mut AppState, (x, y): (u16, u16)) {
            let kind = MouseKind::Click;
            s.on_action(Action::Mouse(Mouse { kind, x, y }));
        }

        #[test]
        fn a_click_focuses_selects_and_a_second_opens() {
            let mut s = state(None);
            let screen = frame(&s);
            let at = find(&screen, "1,003");
            click(&mut s, at);
            assert_eq!(s.focus, Focus::Heads);
            assert_eq!(s.cursors.heads.get(5), 2, "the third newest row: 1,003");
            assert!(s.views.is_empty());
            frame(&s);
            click(&mut s, at);
            assert!(
                matches!(
                    s.views.last(),
                    Some(DetailView::Block { number: 1_003, .. })
                ),
                "{:?}",
                s.views
            );
        }

        #[test]
        fn the_wheel_scrolls_what_is_under_it_and_m_lets_the_mouse_go() {
            let mut s = state(None);
            let screen = frame(&s);
            let (x, y) = find(&screen, "1,004");
            s.on_action(Action::Mouse(Mouse {
                kind: MouseKind::WheelDown,
                x,
                y,
            }));
            assert_eq!((s.focus, s.cursors.heads.get(5)), (Focus::Heads, 3));
            s.on_action(Action::Mouse(Mouse {
                kind: MouseKind::WheelUp,
                x,
                y,
            }));
            assert_eq!(s.cursors.heads.get(5), 0);
            // A click on the watches pane focuses it and selects alice.
            let alice = find(&screen, "alice");
            s.on_action(Action::ToggleMouse);
            click(&mut s, alice);
            assert_eq!(s.focus, Focus::Heads, "the mouse is the terminal's now");
            s.on_action(Action::ToggleMouse);
            click(&mut s, alice);
            assert_eq!(s.focus, Focus::Watches);
        }

        #[test]
        fn numbers_hashes_and_addresses_link_to_the_explorer() {
            let mut s = state(Some("https://scan.example"));
            frame(&s);
            let links = s.drawn.borrow().links.clone();
            let urls: Vec<&str> = links.iter().map(|(_, u)| u.as_str()).collect();
            assert!(
                urls.contains(&"https://scan.example/block/1005"),
                "{urls:?}"
            );
            let alice = format!(
                "https://scan.example/address/{}",
                Address::repeat_byte(0xa1)
            );
            assert!(urls.contains(&alice.as_str()), "{urls:?}");
            // Each link covers its text on the screen, one row.
            let screen = frame(&s);
            for (r, _) in &links {
                assert_eq!(r.height, 1);
                let row: String = screen
                    .lines()
                    .nth(usize::from(r.y))
                    .unwrap_or_default()
                    .chars()
                    .skip(usize::from(r.x))
                    .take(usize::from(r.width))
                    .collect();
                assert!(!row.trim().is_empty(), "{r:?}");
            }
            s.links = false;
            frame(&s);
            assert!(s.drawn.borrow().links.is_empty(), "--no-links");
            let none = state(None);
            frame(&none);
            assert!(
                none.drawn.borrow().links.is_empty(),
                "no explorer, no links"
            );
        }

        #[test]
        fn a_block_views_transactions_link_in_their_rows() {
            use crate::event::{BlockDetail, Detail, DetailKey, TxSummary};
            let mut s = state(Some("https://scan.example"));
            s.focus = Focus::Heads;
            let Some((_, crate::event::Command::Fetch(key))) = s.on_action(Action::Open) else {
                panic!("a block view asks for its block");
            };
            let DetailKey::Block(hash) = key else {
                panic!("{key:?}");
            };
            let head = s.networks[0].latest().cloned().expect("a head");
            let tx = B256::repeat_byte(0x77);
            let block = BlockDetail {
                head,
                miner: None,
                txs: vec![TxSummary {
                    hash: tx,
                    from: Address::repeat_byte(0xa1),
                    to: None,
                    value: U256::ZERO,
                    selector: None,
                    method: None,
                }],
            };
            s.apply(
                Update::Detail {
                    net: 0,
                    key,
                    result: Ok(Box::new(Detail::Block(block))),
                },
                Instant::now(),
            );
            frame(&s);
            let urls: Vec<String> = s
                .drawn
                .borrow()
                .links
                .iter()
                .map(|(_, u)| u.clone())
                .collect();
            for want in [
                format!("https://scan.example/tx/{tx}"),
                format!("https://scan.example/block/{hash}"),
                format!(
                    "https://scan.example/address/{}",
                    Address::repeat_byte(0xa1)
                ),
            ] {
                assert!(urls.contains(&want), "{want} not in {urls:?}");
            }
        }
    }

    #[test]
    fn columns_drop_by_priority() {
        let cols = [(10, 0), (5, 2), (5, 1)];
        assert_eq!(fit_columns(cols, 22), [true, true, true]);
        assert_eq!(fit_columns(cols, 21), [true, false, true]);
        assert_eq!(fit_columns(cols, 15), [true, false, false]);
        assert_eq!(fit_columns(cols, 0), [true, false, false]);
        assert_eq!(scroll_offset(0, 5), 0);
        assert_eq!(scroll_offset(7, 5), 3);
        assert_eq!(scroll_offset(7, 0), 7);
    }

    #[test]
    fn window_contains_selected_and_stays_in_bounds() {
        assert_eq!(window(5, 0, 3), (0, 3));
        assert_eq!(window(5, 2, 3), (1, 3));
        assert_eq!(window(5, 4, 3), (2, 3));
        assert_eq!(window(2, 1, 7), (0, 2));
        assert_eq!(window(5, 3, 1), (3, 1));
        assert_eq!(window(5, 3, 0), (3, 1));
        for n in 1..8 {
            for sel in 0..n {
                for fit in 0..9 {
                    let (start, shown) = window(n, sel, fit);
                    assert!(start <= sel && sel < start + shown && start + shown <= n);
                }
            }
        }
    }
}
