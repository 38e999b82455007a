//! The mouse: the wheel scrolls the list under it, a click focuses what it lands on
//! and selects the row, and a click on the selected row opens it (as Enter does).
//! Where things are comes from the last frame drawn (`Drawn`).

use super::{AppState, DetailView, Focus, ListCursor, Target};
use crate::event::{Action, Command, Mouse, MouseKind, NetIdx};

/// Rows one notch of the wheel moves.
const WHEEL_ROWS: usize = 3;

impl AppState {
    pub(super) fn on_mouse(&mut self, m: Mouse) -> Option<(NetIdx, Command)> {
        if !self.mouse {
            return None;
        }
        let at = self.drawn.borrow().at(m.x, m.y)?;
        match (m.kind, at) {
            (MouseKind::Click, Target::Network(i)) => {
                self.select(i);
                self.set_focus(Focus::Networks);
            }
            (MouseKind::Click, Target::Pane(f)) => self.set_focus(f),
            (MouseKind::Click, Target::Row(f, n)) => {
                let len = self.len_of(f);
                let again = self.focus == f && self.cursors.of(f).is_some_and(|c| c.get(len) == n);
                if again {
                    return self.open();
                }
                self.set_focus(f);
                if let Some(c) = self.cursors.of(f) {
                    *c = ListCursor::at(n.min(len.saturating_sub(1)));
                }
            }
            (MouseKind::Click, Target::ViewRow(n)) => {
                let Some(DetailView::Block { cursor, .. }) = self.views.last_mut() else {
                    return None;
                };
                if cursor.get(usize::MAX) == n {
                    return self.open();
                }
                *cursor = ListCursor::at(n);
            }
            (MouseKind::WheelUp | MouseKind::WheelDown, t) => {
                let down = m.kind == MouseKind::WheelDown;
                match t {
                    Target::Pane(f) | Target::Row(f, _) => self.set_focus(f),
                    Target::Network(_) => return None,
                    Target::ViewRow(_) => {}
                }
                // As the arrow keys would, in the pane or view now focused.
                let step = if down { Action::Down } else { Action::Up };
                for _ in 0..WHEEL_ROWS {
                    self.on_action(step);
                }
            }
        }
        None
    }
}
