//! Where a connection's heads come from: pushed by `newHeads`, or — once it stalls,
//! or is refused — polled over HTTP, with the stall watchdog deciding.

use std::ops::ControlFlow;
use std::time::Instant;

use serde_json::json;

use super::conn::{Conn, Heads, Purpose};
use super::{Flow, GO, HEADS_TO_FORGIVE, Poller, RESUBSCRIBE_EVERY, STALLS_TO_POLL, stop};
use crate::event::{ConnState, HeadSource, SubKind};
use crate::network::ChainInput;

impl Conn<'_> {
    /// A head arrived on `newHeads`: a stall (or polling because of one) ends.
    pub(super) async fn on_pushed_head(&mut self, number: u64) -> Flow {
        let ended_stall = self.sup.watchdog.on_head(number, Instant::now());
        self.sup.heads_since_stall = self.sup.heads_since_stall.saturating_add(1);
        if self.sup.heads_since_stall >= HEADS_TO_FORGIVE {
            self.sup.stalls = 0;
        }
        let was_polling = matches!(
            self.heads,
            Heads::Stalled { .. }
                | Heads::Polling {
                    resubscribe_at: Some(_),
                    ..
                }
        );
        if ended_stall || was_polling {
            self.heads = Heads::Pushed;
            self.sup
                .set_state(ConnState::Live {
                    endpoint: self.endpoint.clone(),
                })
                .await?;
        }
        GO
    }

    /// The stall watchdog, once per window while heads are pushed (or should be).
    pub(super) async fn watch_heads(&mut self) -> Flow {
        let now = Instant::now();
        if let Heads::Polling {
            resubscribe_at: Some(at),
            retries,
            ..
        } = &mut self.heads
            && now >= *at
        {
            *at = now + RESUBSCRIBE_EVERY;
            *retries += 1;
            if retries.is_multiple_of(3) {
                return self.lost("newHeads still silent after resubscribing; reconnecting");
            }
            return self.resubscribe().await;
        }
        if !matches!(self.heads, Heads::Pushed | Heads::Stalled { .. }) {
            return GO;
        }
        let watchdog = &mut self.sup.watchdog;
        watchdog.hint_block_time(self.sup.shared.block_time());
        if watchdog.resubscribe_failed(now) {
            // Not even the new subscription was answered: the socket is dead (a
            // half-open connection caught before the heartbeat does).
            let waited = watchdog.threshold().as_secs();
            if self.inflight.values().any(|p| *p == Purpose::Resubscribe) {
                return self.lost(format!(
                    "no answer to eth_subscribe for {waited}s: connection dead"
                ));
            }
            // The second stall in a row: stop waiting for pushes.
            return self.settle_into_polling().await;
        }
        if self.stall_check.is_some() || !watchdog.check_due(now) {
            return GO;
        }
        let Some(http) = self.sup.http.clone() else {
            return GO;
        };
        // Asked beside the loop: a slow or rate-limited HTTP never holds pongs back.
        self.stall_check = Some(tokio::spawn(async move {
            http.call::<alloy_primitives::U64>("eth_blockNumber", json!([]))
                .await
                .map(|n| n.to::<u64>())
                .map_err(|e| e.to_string())
        }));
        GO
    }

    pub(super) async fn on_stall_checked(&mut self, current: Result<u64, String>) -> Flow {
        let current = match current {
            Ok(n) => n,
            Err(e) => {
                self.sup
                    .shared
                    .error(format!("stall check: eth_blockNumber: {e}"));
                return GO;
            }
        };
        let watchdog = &mut self.sup.watchdog;
        let Some(last) = watchdog.last_head_number() else {
            return GO;
        };
        if current <= last
            || watchdog.resubscribed_at.is_some()
            || !matches!(self.heads, Heads::Pushed)
        {
            return GO; // the chain is quiet, not us
        }
        self.sup.stalls += 1;
        self.sup.heads_since_stall = 0;
        if self.sup.stalls >= STALLS_TO_POLL {
            return self.settle_into_polling().await;
        }
        let reason = format!(
            "no head pushed for {}s while the node is at {} (last pushed {}); resubscribing, polling meanwhile",
            watchdog.threshold().as_secs(),
            crate::fmt::thousands(current),
            crate::fmt::thousands(last)
        );
        watchdog.resubscribed_at = Some(Instant::now());
        self.sup
            .set_state(ConnState::Stalled {
                reason: reason.clone(),
            })
            .await?;
        self.sup.shared.error(&reason);
        // Meanwhile heads are polled over HTTP (the first poll at once).
        self.heads = Heads::Stalled {
            poller: Poller::new(),
        };
        self.resubscribe().await
    }

    /// `newHeads` stalled twice in a row: follow heads over HTTP on this connection
    /// (pending and logs keep streaming) and try the subscription again now and then.
    async fn settle_into_polling(&mut self) -> Flow {
        let reason = format!(
            "newHeads stalled {} times in a row: polling HTTP every {}, resubscribing every {}s",
            self.sup.stalls.max(STALLS_TO_POLL),
            crate::fmt::interval(self.sup.shared.poll_interval()),
            RESUBSCRIBE_EVERY.as_secs()
        );
        self.sup.shared.error(&reason);
        self.sup.stalls = self.sup.stalls.max(STALLS_TO_POLL);
        self.sup.watchdog.resubscribed_at = None;
        self.heads = Heads::Polling {
            poller: Poller::new(),
            resubscribe_at: Some(Instant::now() + RESUBSCRIBE_EVERY),
            retries: 0,
        };
        self.sup
            .set_state(ConnState::Polling {
                endpoint: self.sup.http_endpoint(),
                reason,
                retry_at: None,
            })
            .await?;
        GO
    }

    /// Drop the current `newHeads` subscription and ask for a new one.
    async fn resubscribe(&mut self) -> Flow {
        let old: Vec<String> = self
            .subs
            .iter()
            .filter(|(_, k)| **k == SubKind::NewHeads)
            .map(|(id, _)| id.clone())
            .collect();
        for id in old {
            if let ControlFlow::Break(end) = self
                .request(Purpose::Unsubscribe, "eth_unsubscribe", json!([id]))
                .await?
            {
                return stop(end);
            }
        }
        self.request(Purpose::Resubscribe, "eth_subscribe", json!(["newHeads"]))
            .await
    }

    pub(super) async fn on_poll_due(&mut self) -> Flow {
        let every = self.sup.shared.poll_interval();
        if let Some(poller) = self.heads.poller() {
            poller.next = Instant::now() + every;
        }
        self.sup
            .chain(ChainInput::CatchUp {
                source: HeadSource::Poll,
                connected: false,
            })
            .await?;
        GO
    }
}
