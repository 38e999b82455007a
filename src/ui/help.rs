//! The centred help popup listing every key (from `crate::keymap`).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::Theme;
use crate::keymap;

const KEY_WIDTH: usize = 16;

pub(super) fn draw(frame: &mut Frame, area: Rect, theme: &Theme) {
    let mut lines: Vec<Line> = keymap::NORMAL
        .iter()
        .map(|b| {
            Line::from(vec![
                Span::styled(format!(" {:<KEY_WIDTH$}", b.shown), theme.key()),
                Span::styled(b.help, theme.text()),
            ])
        })
        .collect();
    lines.push(Line::default());
    lines.push(Line::styled(" Esc or ? closes", theme.dim()));

    let want_w = 1 + KEY_WIDTH as u16 + 32 + 2;
    let want_h = lines.len() as u16 + 2;
    super::draw_popup(frame, area, (want_w, want_h), " help ", lines, theme);
}
