//! The centred help popup listing every key.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

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
    ("d", "remove the selected watch (watches)"),
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
    let width = want_w.min(area.width);
    let height = want_h.min(area.height);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let block = Block::bordered()
        .border_style(theme.block(true))
        .title(Line::styled(" help ", theme.title(true)));
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}
