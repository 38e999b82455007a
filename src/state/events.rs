//! A network's event feed: logs of watched contracts and tokens, struck when
//! retracted.

use super::NetworkState;
use crate::event::EventLog;

/// How many recent logs each network's event feed keeps.
pub const EVENTS_KEPT: usize = 512;

impl NetworkState {
    pub(super) fn apply_log(&mut self, log: EventLog) {
        // A retraction marks the log already shown (same block hash and index); one
        // never shown is still listed, as reverted.
        if log.removed
            && let Some(shown) = self
                .events
                .iter_mut()
                .rev()
                .find(|e| e.block_hash == log.block_hash && e.log_index == log.log_index)
        {
            // Marked already when its block was orphaned, or now.
            shown.removed = true;
            return;
        }
        self.events.push(log);
    }
}
