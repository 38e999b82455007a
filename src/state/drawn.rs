//! What the last frame put where: the panes, rows and network columns a mouse click
//! lands on, and the explorer links (OSC 8) the screen writes over their text.
//!
//! Drawing fills it (through `AppState::drawn`, so no drawing function needs another
//! argument); the mouse and the terminal read it after the frame.

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};

use super::Focus;

/// Most links one frame carries (a very tall terminal full of hashes).
const LINKS_KEPT: usize = 512;

/// Something on the screen a click can land on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A network's column (card, health).
    Network(usize),
    /// A list pane, outside its rows.
    Pane(Focus),
    /// Row `n` of a list pane, as its cursor counts rows.
    Row(Focus, usize),
    /// Row `n` of the list in the open detail view (a block's transactions).
    ViewRow(usize),
}

/// A text that links to `url` where it is drawn inside `within`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Wanted {
    within: Rect,
    text: String,
    url: String,
}

/// The frame's targets and links.
#[derive(Debug, Clone, Default)]
pub struct Drawn {
    /// Later entries lie on top of earlier ones (a row inside its pane).
    targets: Vec<(Rect, Target)>,
    wanted: Vec<Wanted>,
    /// Cells that link, found in the frame: one row each, with the URL.
    pub links: Vec<(Rect, String)>,
}

impl Drawn {
    /// Forget the last frame (a new one is being drawn).
    pub fn clear(&mut self) {
        self.targets.clear();
        self.wanted.clear();
        self.links.clear();
    }

    pub fn target(&mut self, area: Rect, t: Target) {
        if !area.is_empty() {
            self.targets.push((area, t));
        }
    }

    /// What is at column `x`, row `y`: the topmost target there.
    pub fn at(&self, x: u16, y: u16) -> Option<Target> {
        let p = Position { x, y };
        self.targets
            .iter()
            .rev()
            .find(|(r, _)| r.contains(p))
            .map(|(_, t)| *t)
    }

    /// Ask for `text`, wherever it is drawn inside `within`, to link to `url`. A URL
    /// with anything but printable ASCII is not used (it would end the sequence).
    pub fn link(&mut self, within: Rect, text: impl Into<String>, url: String) {
        let text = text.into();
        if text.is_empty()
            || within.is_empty()
            || self.wanted.len() >= LINKS_KEPT
            || !url.bytes().all(|b| b.is_ascii_graphic())
        {
            return;
        }
        self.wanted.push(Wanted { within, text, url });
    }

    /// Find the wanted texts in the finished frame: each whole occurrence (not part of
    /// a longer word) becomes a link. Text a popup covers is not found, so it does
    /// not link.
    pub fn resolve(&mut self, buf: &Buffer) {
        if self.wanted.is_empty() {
            return;
        }
        let area = buf.area;
        // The frame's characters, read once (a cell shows one, or a space).
        let grid: Vec<char> = buf
            .content()
            .iter()
            .map(|c| c.symbol().chars().next().unwrap_or(' '))
            .collect();
        let width = usize::from(area.width);
        for w in &self.wanted {
            let within = w.within.intersection(area);
            // Wholly outside the frame: an empty rect, possibly past its edge.
            if within.is_empty() {
                continue;
            }
            let want: Vec<char> = w.text.chars().collect();
            let Ok(n) = u16::try_from(want.len()) else {
                continue;
            };
            for y in within.top()..within.bottom() {
                let start = usize::from(y - area.y) * width + usize::from(within.x - area.x);
                let row = &grid[start..start + usize::from(within.width)];
                let mut x = 0usize;
                while x + want.len() <= row.len() {
                    let whole = row[x..x + want.len()] == want[..]
                        && (x == 0 || !word(row[x - 1]))
                        && row.get(x + want.len()).is_none_or(|c| !word(*c));
                    if whole {
                        let at = Rect::new(within.x + x as u16, y, n, 1);
                        if !self.links.iter().any(|(r, _)| r.intersects(at)) {
                            self.links.push((at, w.url.clone()));
                        }
                        x += want.len();
                    } else {
                        x += 1;
                    }
                }
            }
        }
    }
}

/// Characters that continue a number, hash or name: a match next to one is part of
/// something longer.
fn word(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, ',' | '.' | '_' | '…')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buf(lines: &[&str]) -> Buffer {
        Buffer::with_lines(lines.iter().copied())
    }

    #[test]
    fn a_text_links_where_it_stands_whole() {
        let b = buf(&["#1,234 and 11,234", "x 1,234."]);
        let mut d = Drawn::default();
        d.link(b.area, "1,234", "https://e.example/block/1234".into());
        d.resolve(&b);
        assert_eq!(
            d.links,
            vec![(Rect::new(1, 0, 5, 1), "https://e.example/block/1234".into())],
            "found after `#`, not inside 11,234 nor before a dot"
        );
    }

    #[test]
    fn only_inside_its_area_and_only_printable_urls() {
        let b = buf(&["0xab 0xab", "0xab"]);
        let mut d = Drawn::default();
        d.link(Rect::new(0, 1, 9, 1), "0xab", "https://e.example/a".into());
        d.link(b.area, "0xab", "https://e.example/\x07a".into());
        d.resolve(&b);
        assert_eq!(
            d.links,
            vec![(Rect::new(0, 1, 4, 1), "https://e.example/a".into())]
        );
    }

    #[test]
    fn an_area_outside_the_frame_finds_nothing() {
        let b = buf(&["0xab", "0xab"]);
        let mut d = Drawn::default();
        d.link(Rect::new(10, 1, 5, 3), "0xab", "https://e.example/a".into());
        d.resolve(&b);
        assert!(d.links.is_empty());
    }

    #[test]
    fn the_topmost_target_answers() {
        let mut d = Drawn::default();
        d.target(Rect::new(0, 0, 10, 10), Target::Pane(Focus::Heads));
        d.target(Rect::new(1, 2, 8, 1), Target::Row(Focus::Heads, 0));
        assert_eq!(d.at(3, 2), Some(Target::Row(Focus::Heads, 0)));
        assert_eq!(d.at(3, 3), Some(Target::Pane(Focus::Heads)));
        assert_eq!(d.at(30, 3), None);
        d.clear();
        assert_eq!(d.at(3, 2), None);
    }
}
