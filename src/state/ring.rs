//! A fixed-capacity ring buffer: pushing past capacity drops the oldest item.

use std::collections::VecDeque;

#[derive(Debug, Clone)]
pub struct Ring<T> {
    items: VecDeque<T>,
    cap: usize,
}

impl<T> Ring<T> {
    /// Room for `cap` items, taken as they come: a large ring that stays empty (a
    /// network that never races, a list never filled) costs next to nothing.
    pub fn new(cap: usize) -> Self {
        assert!(cap > 0, "ring capacity must be positive");
        Self {
            items: VecDeque::with_capacity(cap.min(64)),
            cap,
        }
    }

    /// Push to the back; returns the item dropped from the front, if any.
    pub fn push(&mut self, item: T) -> Option<T> {
        let dropped = if self.items.len() == self.cap {
            self.items.pop_front()
        } else {
            None
        };
        self.items.push_back(item);
        dropped
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + ExactSizeIterator {
        self.items.iter()
    }

    pub fn iter_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut T> + ExactSizeIterator {
        self.items.iter_mut()
    }

    pub fn back(&self) -> Option<&T> {
        self.items.back()
    }

    pub fn back_mut(&mut self) -> Option<&mut T> {
        self.items.back_mut()
    }

    pub fn pop_back(&mut self) -> Option<T> {
        self.items.pop_back()
    }

    pub fn clear(&mut self) {
        self.items.clear();
    }

    pub fn get(&self, i: usize) -> Option<&T> {
        self.items.get(i)
    }

    /// Replace the item at `i` (nothing when out of range).
    pub fn replace(&mut self, i: usize, item: T) {
        if let Some(slot) = self.items.get_mut(i) {
            *slot = item;
        }
    }

    /// Insert before position `i` (at the back when past the end); when full, the
    /// oldest item is dropped first.
    pub fn insert(&mut self, i: usize, item: T) {
        let mut i = i.min(self.items.len());
        if self.items.len() == self.cap {
            self.items.pop_front();
            i = i.saturating_sub(1);
        }
        self.items.insert(i, item);
    }

    pub fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        self.items.retain(keep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_oldest_past_capacity() {
        let mut r = Ring::new(3);
        assert_eq!(r.push(1), None);
        r.push(2);
        r.push(3);
        assert_eq!(r.push(4), Some(1));
        assert_eq!(r.iter().copied().collect::<Vec<_>>(), vec![2, 3, 4]);
        assert_eq!(r.len(), 3);
    }

    #[test]
    fn inserts_in_place_and_stays_bounded() {
        let mut r = Ring::new(3);
        r.push(1);
        r.push(3);
        r.insert(1, 2);
        assert_eq!(r.iter().copied().collect::<Vec<_>>(), vec![1, 2, 3]);
        r.insert(2, 9);
        assert_eq!(r.iter().copied().collect::<Vec<_>>(), vec![2, 9, 3]);
        r.replace(1, 7);
        r.retain(|x| *x != 3);
        assert_eq!(r.iter().copied().collect::<Vec<_>>(), vec![2, 7]);
        assert_eq!(r.get(5), None);
    }
}
