//! The handshake of a connection: its chain id checked, then its subscriptions;
//! live once every one is answered.

use std::ops::ControlFlow;
use std::sync::atomic::Ordering;
use std::time::Instant;

use serde_json::json;
use serde_json::value::RawValue;

use super::conn::Heads;
use super::conn::{Conn, Purpose};
use super::{AppGone, End, Flow, GO, Poller, stop};
use crate::config::PendingMode;
use crate::event::{ConnState, HeadSource, PendingFeed, SubKind, SubStatus, Update};
use crate::network::ChainInput;
use crate::rpc::http::rate_limit_hint;
use crate::rpc::types::RpcErrorObj;
use crate::text::sanitize;

impl Conn<'_> {
    pub(super) async fn on_response(
        &mut self,
        purpose: Purpose,
        result: Result<&RawValue, RpcErrorObj>,
    ) -> Flow {
        match purpose {
            Purpose::ChainId => self.on_chain_id(result).await,
            Purpose::Subscribe(kind) => self.on_subscribed(kind, result).await,
            Purpose::PendingFull {
                filtered,
                generation,
            } => self.on_pending_full(filtered, generation, result).await,
            Purpose::TokenLogs(generation) => {
                if let Ok(Ok(id)) = result
                    .as_ref()
                    .map(|r| serde_json::from_str::<String>(r.get()))
                {
                    if generation != self.token_generation {
                        // Renewed again before this answer came: not wanted.
                        return self
                            .request(Purpose::Unsubscribe, "eth_unsubscribe", json!([id]))
                            .await;
                    }
                    self.token_subs.push(id);
                }
                self.on_subscribed(SubKind::Logs, result).await
            }
            Purpose::Resubscribe => {
                match result.map(|r| serde_json::from_str::<String>(r.get())) {
                    Ok(Ok(id)) => {
                        self.subs.retain(|_, k| *k != SubKind::NewHeads);
                        self.subs.insert(id, SubKind::NewHeads);
                    }
                    _ => self.sup.shared.error("re-subscribing newHeads failed"),
                }
                GO
            }
            Purpose::Unsubscribe => GO,
        }
    }

    async fn on_chain_id(&mut self, result: Result<&RawValue, RpcErrorObj>) -> Flow {
        if let Err(e) = &result
            && let Some(hint) = rate_limit_hint(e)
        {
            let _ = self.ws.close(None).await;
            return stop(End {
                wait_at_least: hint,
                ..End::failed(format!(
                    "rate limited: eth_chainId: {} {}",
                    e.code, e.message
                ))
            });
        }
        let got = result
            .map_err(|e| format!("eth_chainId failed: {} {}", e.code, e.message))
            .and_then(|r| {
                serde_json::from_str::<alloy_primitives::U64>(r.get())
                    .map_err(|e| format!("eth_chainId: {e}"))
            });
        let chain_id: u64 = match got {
            Ok(c) => c.to(),
            Err(e) => return stop(End::failed(e)),
        };
        if let Some(expected) = self.sup.cfg.chain_id
            && expected != chain_id
        {
            let _ = self.ws.close(None).await;
            return stop(End {
                refused: true,
                ..End::failed(format!(
                    "chain id mismatch: expected {expected}, endpoint is on {chain_id}; refusing its data"
                ))
            });
        }
        self.sup
            .emit(Update::ChainId {
                net: self.sup.net,
                chain_id,
            })
            .await?;
        let pending = self.pending_off();
        if let Some(why) = &pending {
            self.sup
                .emit(Update::Subscription {
                    net: self.sup.net,
                    kind: SubKind::NewPendingTransactions,
                    status: SubStatus::Off(why.clone()),
                })
                .await?;
        }
        let kinds: &[SubKind] = match pending {
            Some(_) => &[SubKind::NewHeads],
            None => &[SubKind::NewHeads, SubKind::NewPendingTransactions],
        };
        for &kind in kinds {
            let watched = kind == SubKind::NewPendingTransactions
                && self.sup.cfg.pending == Some(PendingMode::Watched);
            let flow = if watched {
                let filtered = self.sup.shared.cost.provider().as_deref() == Some("alchemy");
                self.subscribe_full_pending(filtered).await?
            } else {
                self.request(
                    Purpose::Subscribe(kind),
                    "eth_subscribe",
                    json!([kind.wire_name()]),
                )
                .await?
            };
            if let ControlFlow::Break(end) = flow {
                return stop(end);
            }
            self.awaiting_subs += 1;
        }
        let (contracts, tokens) = match &self.sup.logs {
            Some((filters, _)) => {
                let watched = self.sup.watched.addresses();
                (filters.contracts().cloned(), filters.tokens(&watched))
            }
            None => (None, Vec::new()),
        };
        let all = contracts.map(|f| (f, Purpose::Subscribe(SubKind::Logs)));
        let tokens_at = tokens.clone();
        for (filter, purpose) in all
            .into_iter()
            .chain(tokens.into_iter().map(|f| (f, Purpose::TokenLogs(0))))
        {
            let params = json!(["logs", filter]);
            if let ControlFlow::Break(end) = self.request(purpose, "eth_subscribe", params).await? {
                return stop(end);
            }
            self.awaiting_subs += 1;
        }
        self.token_filters = tokens_at;
        GO
    }

    /// The watch list changed: the tokens' filters name other addresses. The new
    /// ones are subscribed before the old ones go (a log pushed by both is
    /// delivered once).
    pub(super) async fn on_watch_changed(&mut self) -> Flow {
        self.refresh_watchlist();
        // Alchemy's pending filter names the addresses: renewed when they changed;
        // the old one goes once the new one is answered.
        if self.pending_filtered && self.alchemy_filter() != self.pending_filter {
            self.pending_generation = self.pending_generation.wrapping_add(1);
            if let ControlFlow::Break(end) = self.subscribe_full_pending(true).await? {
                return stop(end);
            }
        }
        let Some((filters, _)) = &self.sup.logs else {
            return GO;
        };
        let now = filters.tokens(&self.sup.watched.addresses());
        if now == self.token_filters {
            return GO;
        }
        let old = std::mem::take(&mut self.token_subs);
        self.token_filters = now.clone();
        self.token_generation = self.token_generation.wrapping_add(1);
        let generation = Purpose::TokenLogs(self.token_generation);
        for filter in now {
            if let ControlFlow::Break(end) = self
                .request(generation, "eth_subscribe", json!(["logs", filter]))
                .await?
            {
                return stop(end);
            }
        }
        self.unsubscribe(old).await
    }

    /// Drop these subscriptions: forgotten here (a notification for one that comes
    /// late is ignored), and unsubscribed at the node.
    async fn unsubscribe(&mut self, ids: Vec<String>) -> Flow {
        for id in ids {
            self.subs.remove(&id);
            if let ControlFlow::Break(end) = self
                .request(Purpose::Unsubscribe, "eth_unsubscribe", json!([id]))
                .await?
            {
                return stop(end);
            }
        }
        GO
    }

    /// What Alchemy's filter names: the watched addresses, and the tokens (a
    /// transfer to a watched holder is a call to the token), sorted.
    fn alchemy_filter(&self) -> Vec<alloy_primitives::Address> {
        let mut a: Vec<_> = self
            .sup
            .watched
            .addresses()
            .into_iter()
            .map(|(a, _)| a)
            .chain(self.sup.cfg.tokens.iter().copied())
            .collect();
        a.sort_unstable();
        a.dedup();
        a
    }

    /// Ask for whole pending transactions: Alchemy's, filtered to the watched
    /// addresses (`filtered`), or everyone's.
    async fn subscribe_full_pending(&mut self, filtered: bool) -> Flow {
        let params = if filtered {
            self.pending_filter = self.alchemy_filter();
            let names: Vec<String> = self.pending_filter.iter().map(|a| a.to_string()).collect();
            alchemy_params(&names)
        } else {
            json!(["newPendingTransactions", true])
        };
        let purpose = Purpose::PendingFull {
            filtered,
            generation: self.pending_generation,
        };
        self.request(purpose, "eth_subscribe", params).await
    }

    /// The answer to a request for whole pending transactions. Refused: the next
    /// one down (everyone's, then hashes), said on screen.
    async fn on_pending_full(
        &mut self,
        filtered: bool,
        generation: u32,
        result: Result<&RawValue, RpcErrorObj>,
    ) -> Flow {
        let id = result
            .as_ref()
            .ok()
            .and_then(|r| serde_json::from_str::<String>(r.get()).ok());
        // A renewal overtaken by a newer one: not wanted.
        if generation != self.pending_generation {
            return match id {
                Some(id) => self.unsubscribe(vec![id]).await,
                None => GO,
            };
        }
        let refused = match &result {
            Ok(r) => serde_json::from_str::<String>(r.get())
                .err()
                .map(|e| e.to_string()),
            Err(e) if rate_limit_hint(e).is_some() => None,
            Err(e) => Some(format!("{} {}", e.code, e.message)),
        };
        let Some(why) = refused else {
            let feed = if filtered {
                PendingFeed::Filtered
            } else {
                PendingFeed::Full
            };
            self.pending_feed = Some(feed);
            self.pending_filtered = filtered;
            // A renewal answered: the subscriptions it replaces go now, not before
            // (no transaction is missed between the two).
            let old: Vec<String> = self
                .subs
                .iter()
                .filter(|(_, k)| **k == SubKind::NewPendingTransactions)
                .map(|(id, _)| id.clone())
                .collect();
            if let ControlFlow::Break(end) = self
                .on_subscribed(SubKind::NewPendingTransactions, result)
                .await?
            {
                return stop(end);
            }
            return self.unsubscribe(old).await;
        };
        let why = sanitize(&self.sup.redactor.text(&why)).into_owned();
        // A renewal refused: the filter in place stays.
        if generation > 0 {
            tracing::warn!(network = %self.sup.cfg.name, "renewing alchemy_pendingTransactions refused ({why}); the old filter stays");
            return GO;
        }
        if filtered {
            tracing::info!(network = %self.sup.cfg.name, "alchemy_pendingTransactions refused ({why}); asking for newPendingTransactions");
            return self.subscribe_full_pending(false).await;
        }
        self.pending_feed = Some(PendingFeed::HashesOnly(format!(
            "whole pending transactions refused: {why}"
        )));
        self.report_mempool(true).await?;
        self.request(
            Purpose::Subscribe(SubKind::NewPendingTransactions),
            "eth_subscribe",
            json!(["newPendingTransactions"]),
        )
        .await
    }

    /// Why pending transactions are not subscribed to, if they are not: the
    /// config says so, or (by default) the provider bills every event.
    fn pending_off(&self) -> Option<String> {
        match self.sup.cfg.pending {
            Some(PendingMode::Count | PendingMode::Watched) => None,
            Some(PendingMode::Off) => Some("pending = \"off\" in the config".into()),
            None => self.sup.shared.cost.bills_pending().map(|p| {
                format!("{p} bills each pending event; set pending = \"count\" to show them")
            }),
        }
    }

    async fn on_subscribed(
        &mut self,
        kind: SubKind,
        result: Result<&RawValue, RpcErrorObj>,
    ) -> Flow {
        // A rate limit is not "unsupported": back off (at least the hint) and
        // subscribe again on the next connection.
        if let Err(e) = &result
            && let Some(hint) = rate_limit_hint(e)
        {
            let _ = self.ws.close(None).await;
            return stop(End {
                wait_at_least: hint,
                ..End::lost(
                    format!("rate limited while subscribing: {} {}", e.code, e.message),
                    self.live_for(),
                )
            });
        }
        let status = match result.map(|r| serde_json::from_str::<String>(r.get())) {
            Ok(Ok(id)) => {
                self.subs.insert(id, kind);
                SubStatus::Active
            }
            Ok(Err(e)) => SubStatus::Unsupported(format!("bad subscription id: {e}")),
            Err(e) => SubStatus::Unsupported(
                sanitize(&self.sup.redactor.text(&format!("{} {}", e.code, e.message)))
                    .into_owned(),
            ),
        };
        let active = status == SubStatus::Active;
        if kind == SubKind::NewHeads {
            self.heads = if active {
                Heads::Pushed
            } else {
                Heads::Polling {
                    poller: Poller::new(),
                    resubscribe_at: None,
                    retries: 0,
                }
            };
        }
        if kind == SubKind::Logs {
            // Live only while every logs subscription of this connection is.
            self.logs_refused |= !active;
            let live = active && !self.logs_refused;
            self.sup.watched.logs_live.store(live, Ordering::Relaxed);
        }
        self.sup
            .emit(Update::Subscription {
                net: self.sup.net,
                kind,
                status,
            })
            .await?;
        self.awaiting_subs = self.awaiting_subs.saturating_sub(1);
        if self.awaiting_subs == 0 && self.live_since.is_none() {
            self.went_live().await?;
        }
        GO
    }

    /// Every subscription answered: the connection is up.
    async fn went_live(&mut self) -> Result<(), AppGone> {
        let now = Instant::now();
        self.live_since = Some(now);
        self.sup.watchdog.session_started(now);
        let state = match &self.heads {
            Heads::Polling { .. } => ConnState::Polling {
                endpoint: self.sup.http_endpoint(),
                reason: "newHeads refused by the endpoint: polling HTTP".into(),
                retry_at: None,
            },
            _ => ConnState::Live {
                endpoint: self.endpoint.clone(),
            },
        };
        self.sup.set_state(state).await?;
        if self.sup.ever_live {
            self.sup.reconnects += 1;
            self.sup
                .emit(Update::Reconnected {
                    net: self.sup.net,
                    count: self.sup.reconnects,
                })
                .await?;
        }
        self.sup.ever_live = true;
        self.sup.failures = 0;
        // Fill what was missed while we were away (and show the current head at
        // once on first connect).
        self.sup
            .chain(ChainInput::CatchUp {
                source: HeadSource::Backfill,
                connected: true,
            })
            .await
    }
}

/// `eth_subscribe` params of Alchemy's pending transactions, to and from `addresses`.
/// No address at all would be no filter (everyone's, billed): the zero address
/// stands in, which nothing sends from and almost nothing to.
fn alchemy_params(addresses: &[String]) -> serde_json::Value {
    let zero = [alloy_primitives::Address::ZERO.to_string()];
    let addresses = if addresses.is_empty() {
        &zero[..]
    } else {
        addresses
    };
    json!([
        "alchemy_pendingTransactions",
        {"toAddress": addresses, "fromAddress": addresses, "hashesOnly": false}
    ])
}

#[cfg(test)]
mod tests {
    #[test]
    fn alchemys_filter_names_the_watched_addresses_both_ways() {
        let a = vec!["0x00000000000000000000000000000000000000a1".to_string()];
        assert_eq!(
            super::alchemy_params(&a),
            serde_json::json!([
                "alchemy_pendingTransactions",
                {"toAddress": a, "fromAddress": a, "hashesOnly": false}
            ])
        );
        // No address is no filter (everyone's): the zero address stands in.
        let zero = vec!["0x0000000000000000000000000000000000000000".to_string()];
        assert_eq!(
            super::alchemy_params(&[])[1]["toAddress"],
            serde_json::json!(zero)
        );
    }
}
