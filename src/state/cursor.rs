//! One list cursor for every list: a position kept inside the list's length.

/// The selected row of a list (0 = the first row shown: the newest for heads and
/// events).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListCursor {
    pos: usize,
}

impl ListCursor {
    pub fn at(pos: usize) -> Self {
        Self { pos }
    }

    /// The selected row of a list of `len` rows (0 when empty).
    pub fn get(self, len: usize) -> usize {
        self.pos.min(len.saturating_sub(1))
    }

    pub fn up(&mut self, by: usize) {
        self.pos = self.pos.saturating_sub(by);
    }

    pub fn down(&mut self, by: usize, len: usize) {
        self.pos = self.pos.saturating_add(by).min(len.saturating_sub(1));
    }

    /// After the list shrank: stay on its last row at most.
    pub fn clamp(&mut self, len: usize) {
        self.pos = self.get(len);
    }

    pub fn reset(&mut self) {
        self.pos = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_inside_the_list() {
        let mut c = ListCursor::default();
        c.up(1);
        assert_eq!(c.get(3), 0, "not above the first row");
        for _ in 0..5 {
            c.down(1, 3);
        }
        assert_eq!(c.get(3), 2, "not below the last row");
        c.up(1);
        assert_eq!(c.get(3), 1);
        assert_eq!(c.get(1), 0, "a shorter list reads inside it");
        c.clamp(1);
        c.down(1, 0);
        assert_eq!(c.get(0), 0, "an empty list has row 0");
        c.down(10, 100);
        c.reset();
        assert_eq!(c, ListCursor::at(0));
    }
}
