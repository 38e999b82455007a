//! The network picker (`n`): type part of a name, ↑↓ to choose, Enter to select.
//! It reaches every network, however many (the digits stop at 9).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::Theme;
use crate::state::AppState;
use crate::text::sanitize;

/// Networks listed at once (the list scrolls to the selected one).
const SHOWN: usize = 15;

pub(super) fn draw(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let Some((typed, cursor)) = &state.picker else {
        return;
    };
    let picked = state.picked();
    let at = cursor.get(picked.len());
    let offset = super::scroll_offset(at, SHOWN);
    let mut lines = vec![
        Line::from(vec![
            Span::styled(" network: ", theme.dim()),
            Span::styled(format!("{}▏", sanitize(typed)), theme.key()),
        ]),
        Line::default(),
    ];
    if picked.is_empty() {
        lines.push(Line::styled(
            " no network has that in its name",
            theme.dim(),
        ));
    }
    for (row, &i) in picked.iter().enumerate().skip(offset).take(SHOWN) {
        let n = &state.networks[i];
        let mut line = Line::from(vec![
            Span::styled(format!(" {:>3} ", i + 1), theme.dim()),
            Span::styled("● ", theme.state(&n.conn)),
            Span::styled(sanitize(&n.name).into_owned(), theme.text()),
        ]);
        if row == at {
            line = line.patch_style(theme.selected());
        }
        lines.push(line);
    }
    lines.push(Line::default());
    lines.push(Line::styled(
        format!(
            " {} of {} · Enter selects · Esc closes",
            picked.len(),
            state.networks.len()
        ),
        theme.dim(),
    ));
    let want_w = area.width.saturating_sub(4).min(60);
    let want_h = lines.len() as u16 + 2;
    super::draw_popup(
        frame,
        area,
        (want_w, want_h),
        " pick a network ",
        lines,
        theme,
    );
}
