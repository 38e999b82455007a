//! The centred help popup: every key (from `crate::keymap`), and a legend of the
//! marks and colours the panes use. Side by side where the terminal is wide enough,
//! the legend below the keys where it is not.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::Theme;
use crate::event::ConnState;
use crate::keymap;

const KEY_WIDTH: usize = 16;
/// Width of the keys column (key and words) and of the legend column.
const KEYS_W: usize = 1 + KEY_WIDTH + 34;
const LEGEND_W: usize = 46;

/// (mark, its style, what it means).
fn legend(theme: &Theme) -> Vec<Line<'static>> {
    let live = theme.state(&ConnState::Live {
        endpoint: String::new(),
    });
    let down = theme.state(&ConnState::Stalled {
        reason: String::new(),
    });
    let rows = [
        ("●", live, "live: heads come, the node answers"),
        ("●", theme.warn(), "heads late, connecting, polling"),
        ("●", down, "stalled, backing off or failed"),
        ("⤳", theme.warn(), "a head that replaced an orphaned one"),
        ("Δ", theme.text(), "change in the newest block"),
        ("+1.5", theme.up(), "grew (since start, or this block)"),
        ("-1.5", theme.down(), "shrank"),
        ("—", theme.dim(), "not known (yet)"),
        ("…", theme.dim(), "being read or fetched"),
        ("12s", theme.dim(), "age: stale values say how old"),
        ("!", theme.key(), "alerts: `N alerts firing (!)`"),
    ];
    let mut out = vec![Line::styled(" legend", theme.title(false))];
    out.extend(rows.into_iter().map(|(mark, style, what)| {
        Line::from(vec![
            Span::styled(format!(" {mark:<5}"), style),
            Span::styled(what, theme.text()),
        ])
    }));
    out.push(Line::styled(
        " struck through: a log a reorg took back",
        theme.dim(),
    ));
    out
}

pub(super) fn draw(frame: &mut Frame, area: Rect, theme: &Theme) {
    let keys: Vec<Line> = keymap::NORMAL
        .iter()
        .map(|b| {
            Line::from(vec![
                Span::styled(format!(" {:<KEY_WIDTH$}", b.shown), theme.key()),
                Span::styled(b.help, theme.text()),
            ])
        })
        .collect();
    let legend = legend(theme);
    let closes = Line::styled(" Esc or ? closes", theme.dim());
    let side_by_side = usize::from(area.width) >= KEYS_W + LEGEND_W + 3;
    let lines: Vec<Line> = if side_by_side {
        let n = keys.len().max(legend.len());
        let mut keys = keys.into_iter();
        let mut legend = legend.into_iter();
        let mut l: Vec<Line> = (0..n)
            .map(|_| {
                let mut spans = keys.next().map(|l| l.spans).unwrap_or_default();
                let used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
                spans.push(Span::raw(" ".repeat(KEYS_W.saturating_sub(used) + 1)));
                spans.extend(legend.next().map(|l| l.spans).unwrap_or_default());
                Line::from(spans)
            })
            .collect();
        l.extend([Line::default(), closes]);
        l
    } else if keys.len() + legend.len() + 5 <= usize::from(area.height) {
        let mut l = keys;
        l.push(Line::default());
        l.extend(legend);
        l.extend([Line::default(), closes]);
        l
    } else {
        // Too short for both: the keys, and where the legend is.
        let mut l = keys;
        l.push(Line::styled(
            " Esc or ? closes · a wider terminal adds a legend",
            theme.dim(),
        ));
        l
    };
    let want_w = if side_by_side {
        KEYS_W + 1 + LEGEND_W + 2
    } else {
        KEYS_W + 2
    };
    let want_h = lines.len() as u16 + 2;
    super::draw_popup(frame, area, (want_w as u16, want_h), " help ", lines, theme);
}
