//! The centred help popup listing every key.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::Theme;

const KEYS: &[(&str, &str)] = &[
    ("q  Ctrl-c", "quit"),
    ("?", "show / hide this help"),
    ("Esc", "close this help"),
    ("Tab  Shift-Tab", "focus next / previous pane"),
    ("← →  h l", "previous / next network"),
    ("↑ ↓  j k", "scroll the focused list"),
    ("1-9", "select network 1-9"),
    ("r", "reconnect the selected network"),
    ("a", "add a watch address"),
    ("d", "remove the selected watch"),
];
const KEY_WIDTH: usize = 16;

pub(super) fn draw(frame: &mut Frame, area: Rect, theme: &Theme) {
    let mut lines: Vec<Line> = KEYS
        .iter()
        .map(|(key, what)| {
            Line::from(vec![
                Span::styled(format!(" {key:<KEY_WIDTH$}"), theme.key()),
                Span::styled(*what, theme.text()),
            ])
        })
        .collect();
    lines.push(Line::default());
    lines.push(Line::styled(" Esc or ? closes", theme.dim()));

    let want_w = 1 + KEY_WIDTH as u16 + 32 + 2;
    let want_h = lines.len() as u16 + 2;
    super::draw_popup(frame, area, (want_w, want_h), " help ", lines, theme);
}
