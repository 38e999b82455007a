//! The chain task of one network: heads from the WebSocket go through the tracker at
//! once; the HTTP it needs (the node's head, gap fills, reorg walks) runs as one job
//! at a time beside the loop, never in front of it. A pushed head that needs blocks
//! fetched first waits at most [`HOLD`] for them, then is shown anyway and the blocks
//! before it follow when they arrive.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use alloy_primitives::{B256, U64};
use serde_json::json;
use tokio::sync::mpsc;

use super::Shared;
use super::backoff::Pacer;
use super::chain::{ChainTracker, Step, to_head};
use super::feed::{ChainInput, HeadFeed, Unconfirmed};
use super::logs::LogInput;
use super::watched::Watched;
use crate::event::{Head, HeadSource, NetIdx, Update};
use crate::rpc::http::HttpClient;
use crate::rpc::types::WireBlock;

/// Blocks fetched per `eth_getBlockByNumber` batch.
pub const BACKFILL_CHUNK: u64 = 50;
/// Longest a pushed head waits for the blocks before it before it is shown anyway.
pub const HOLD: Duration = Duration::from_millis(500);
/// Pushed heads waiting to be linked, at most (more are dropped: the gap fill
/// fetches them).
const HELD_MAX: usize = 1024;
/// First wait after a failed or short fetch; doubles up to [`RETRY_CAP`].
const RETRY_BASE: Duration = Duration::from_millis(250);
const RETRY_CAP: Duration = Duration::from_secs(30);

enum JobOut {
    Tip {
        current: u64,
        genesis: Option<B256>,
        connected: bool,
    },
    Blocks(Vec<Option<Head>>, usize),
}

type Job = Pin<Box<dyn Future<Output = Result<JobOut, String>> + Send>>;

/// Everything the chain task owns but its input channel and its running job.
pub(crate) struct Follower {
    net: NetIdx,
    http: Option<HttpClient>,
    updates: mpsc::Sender<Update>,
    feed: Arc<HeadFeed>,
    shared: Arc<Shared>,
    /// Where log refills and retractions go, and the watched set (is the `logs`
    /// subscription live?).
    logs: Option<(mpsc::Sender<LogInput>, Arc<Watched>)>,
    tracker: ChainTracker,
    /// Pushed heads waiting for the blocks before them, in arrival order.
    held: VecDeque<Head>,
    hold_until: Option<Instant>,
    retry_at: Option<Instant>,
    /// A backfill waits for the provider's throughput (its table's `per_second`).
    paced_until: Option<Instant>,
    pacer: Pacer,
    failures: u32,
    /// A catch-up asked for: (source of the heads it fills, new connection).
    want_tip: Option<(HeadSource, bool)>,
    /// The catch-up being asked now (asked again if it fails).
    tip_in_flight: Option<(HeadSource, bool)>,
    fill_source: HeadSource,
    genesis: Option<B256>,
    /// The last head shown before a reconnect: its logs are refilled.
    refill_before: Option<u64>,
    /// Number and timestamp of the last head, for the block time.
    prev: Option<(u64, u64)>,
    out: Vec<Step>,
    log_out: Vec<LogInput>,
    tip_sent: Option<(u64, B256)>,
}

impl Follower {
    pub(crate) fn new(
        net: NetIdx,
        http: Option<HttpClient>,
        updates: mpsc::Sender<Update>,
        feed: Arc<HeadFeed>,
        shared: Arc<Shared>,
        logs: Option<(mpsc::Sender<LogInput>, Arc<Watched>)>,
    ) -> Self {
        Self {
            net,
            http,
            updates,
            feed,
            shared,
            logs,
            tracker: ChainTracker::default(),
            held: VecDeque::new(),
            hold_until: None,
            retry_at: None,
            paced_until: None,
            pacer: Pacer::default(),
            failures: 0,
            want_tip: None,
            tip_in_flight: None,
            fill_source: HeadSource::Backfill,
            genesis: None,
            refill_before: None,
            prev: None,
            out: Vec::new(),
            log_out: Vec::new(),
            tip_sent: None,
        }
    }

    pub(crate) async fn run(mut self, mut rx: mpsc::Receiver<ChainInput>) {
        let mut job: Option<Job> = None;
        loop {
            if job.is_none() {
                job = self.next_job();
            }
            let hold = self.hold_until;
            let retry = [self.retry_at, self.paced_until]
                .into_iter()
                .flatten()
                .min()
                .filter(|_| job.is_none());
            tokio::select! {
                biased;
                input = rx.recv() => match input {
                    Some(i) => self.on_input(i),
                    None => return,
                },
                res = async {
                    match job.as_mut() {
                        Some(j) => j.await,
                        None => std::future::pending().await,
                    }
                }, if job.is_some() => {
                    job = None;
                    self.on_job(res);
                }
                _ = tokio::time::sleep_until(hold.unwrap_or_else(Instant::now).into()), if hold.is_some() => {
                    self.release_held(true);
                }
                _ = tokio::time::sleep_until(retry.unwrap_or_else(Instant::now).into()), if retry.is_some() => {
                    let now = Instant::now();
                    self.retry_at = self.retry_at.filter(|t| *t > now);
                    self.paced_until = self.paced_until.filter(|t| *t > now);
                }
            }
            if !self.emit().await {
                return;
            }
        }
    }

    fn on_input(&mut self, input: ChainInput) {
        match input {
            ChainInput::Head(block, arrived) => {
                let head = Head {
                    seen: Some(arrived),
                    ..to_head(&block, HeadSource::Ws)
                };
                if !self.held.is_empty() {
                    // Behind a head that waits: keep the order.
                    if self.held.len() == HELD_MAX {
                        self.held.pop_front();
                    }
                    self.held.push_back(head);
                    return;
                }
                if self
                    .tracker
                    .offer(head.clone(), false, false, &mut self.out)
                    == super::chain::Offer::Unlinked
                {
                    self.held.push_back(head);
                    self.hold_until = Some(Instant::now() + HOLD);
                }
            }
            ChainInput::CatchUp { source, connected } => {
                self.fill_source = source;
                let was = self.want_tip.map(|(_, c)| c).unwrap_or(false);
                self.want_tip = Some((source, connected || was));
                if connected {
                    self.refill_before = self.tracker.tip().map(|(n, _)| n);
                    // A new connection is a new chance: retry at once.
                    self.retry_at = None;
                    self.failures = 0;
                }
            }
            ChainInput::Missing(hash) => self.tracker.suspect(hash),
            ChainInput::Retract(hash) => {
                self.held.retain(|h| h.hash != hash);
                self.tracker.retract(hash, &mut self.out);
            }
        }
    }

    /// Retry held heads in order; `force` shows them even if they do not link.
    fn release_held(&mut self, force: bool) {
        while let Some(h) = self.held.front() {
            let r = self.tracker.offer(h.clone(), false, force, &mut self.out);
            if r == super::chain::Offer::Unlinked {
                break;
            }
            self.held.pop_front();
        }
        if self.held.is_empty() {
            self.hold_until = None;
        }
    }

    fn need(&self) -> Option<super::chain::Need> {
        self.tracker
            .need_chunk(self.held.front().map(|h| h.number), BACKFILL_CHUNK)
    }

    fn next_job(&mut self) -> Option<Job> {
        let http = self.http.clone()?;
        if self.retry_at.is_some_and(|t| Instant::now() < t) {
            return None;
        }
        if let Some(want) = self.want_tip.take() {
            self.tip_in_flight = Some(want);
            return Some(Box::pin(tip_job(http, want.1)));
        }
        if self.paced_until.is_some_and(|t| Instant::now() < t) {
            return None;
        }
        let (from, to) = self.need()?;
        // Half the plan's throughput: the live traffic keeps the rest.
        let count = usize::try_from(to - from + 1).unwrap_or(usize::MAX);
        if let Some((cost, per_second)) = self.shared.cost.pace("eth_getBlockByNumber", count)
            && let Some(wait) = self.pacer.take(cost, per_second / 2.0, Instant::now())
        {
            self.paced_until = Some(Instant::now() + wait);
            return None;
        }
        self.paced_until = None;
        let source = self.fill_source;
        Some(Box::pin(range_job(http, from, to, source)))
    }

    fn retry_later(&mut self) {
        self.failures = self.failures.saturating_add(1);
        let wait = RETRY_BASE
            .saturating_mul(1 << self.failures.min(8))
            .min(RETRY_CAP);
        self.retry_at = Some(Instant::now() + wait);
    }

    fn on_job(&mut self, res: Result<JobOut, String>) {
        let tip = self.tip_in_flight.take();
        match res {
            Err(e) => {
                self.shared.error(e);
                // A failed catch-up is asked again, not forgotten (a genesis check
                // on reconnect depends on it).
                if let Some((source, connected)) = tip {
                    let was = self.want_tip.is_some_and(|(_, c)| c);
                    self.want_tip = Some((source, connected || was));
                }
                self.retry_later();
            }
            Ok(JobOut::Tip {
                current,
                genesis,
                connected,
            }) => {
                self.failures = 0;
                if let Some(g) = genesis {
                    if self.genesis.is_some_and(|old| old != g) {
                        self.chain_reset(g);
                    }
                    self.genesis = Some(g);
                }
                if connected {
                    if let Some(n) = self.refill_before.take() {
                        self.refill(&[n]);
                    }
                    // What was shown before the outage may have been replaced at the
                    // same height while away: check it against the node.
                    self.tracker.recheck(current);
                }
                self.tracker.set_target(current, &mut self.out);
            }
            Ok(JobOut::Blocks(blocks, asked)) => {
                let complete = blocks.iter().take_while(|b| b.is_some()).count() == asked;
                let blocks = blocks
                    .into_iter()
                    .map(|b| {
                        // A block the WebSocket already pushed keeps its source.
                        b.map(|mut h| {
                            if let Some(pushed) = self.held.iter().find(|p| p.hash == h.hash) {
                                let tx_count = h.tx_count;
                                h = pushed.clone();
                                h.tx_count = h.tx_count.or(tx_count);
                            }
                            h
                        })
                    })
                    .collect();
                let before = self.need();
                self.tracker.apply_fetched(blocks, &mut self.out);
                self.release_held(false);
                if complete && self.need() == before && before.is_some() {
                    // Nothing changed: the node's answers do not settle it (yet).
                    self.retry_later();
                } else if complete {
                    self.failures = 0;
                } else {
                    // The HTTP node is behind the WebSocket's: ask again shortly.
                    self.retry_later();
                }
            }
        }
    }

    fn chain_reset(&mut self, genesis: B256) {
        let previous = self.genesis.unwrap_or(B256::ZERO);
        let orphaned = self.tracker.reset();
        self.held.clear();
        self.hold_until = None;
        self.prev = None;
        self.tip_sent = None;
        self.feed.epoch.fetch_add(1, Ordering::SeqCst);
        self.shared.error(format!(
            "the node is on a new chain (genesis {} was {}): starting over",
            crate::fmt::short_hash(&genesis),
            crate::fmt::short_hash(&previous)
        ));
        self.out.push(Step::Reset {
            genesis,
            previous,
            orphaned,
        });
    }

    /// Refill the logs of these block numbers (they were not pushed to us).
    fn refill(&mut self, numbers: &[u64]) {
        for range in ranges(numbers) {
            self.log_out.push(LogInput::Range {
                from: range.0,
                to: range.1,
            });
        }
    }

    /// Send what the last step decided. False when the app has gone away.
    async fn emit(&mut self) -> bool {
        if self.out.is_empty() && self.log_out.is_empty() {
            return true;
        }
        let logs_live = self
            .logs
            .as_ref()
            .is_some_and(|(_, w)| w.logs_live.load(Ordering::Relaxed));
        let mut refill = Vec::new();
        for step in std::mem::take(&mut self.out) {
            let Some(update) = self.update_for(step, logs_live, &mut refill) else {
                continue;
            };
            if self.updates.send(update).await.is_err() {
                return false;
            }
        }
        let tip = self.tracker.tip();
        if tip != self.tip_sent {
            self.tip_sent = tip;
            self.feed.latest.send_replace(tip);
        }
        self.refill(&refill);
        self.send_log_inputs().await
    }

    /// What the app is told of one step (a gap is an error only), and what the log
    /// stream must take back or fill in.
    fn update_for(&mut self, step: Step, logs_live: bool, refill: &mut Vec<u64>) -> Option<Update> {
        let net = self.net;
        Some(match step {
            Step::Head(head) => {
                self.on_new_head(&head, logs_live, refill);
                Update::Head { net, head }
            }
            Step::Reorg(reorg) => {
                let hashes: Vec<B256> = reorg.orphaned.iter().map(|(_, h)| *h).collect();
                self.feed.forget(&hashes);
                self.log_out.push(LogInput::Orphaned(hashes));
                if reorg.deeper_than_tracked {
                    self.shared.error(format!(
                        "reorg deeper than the {} tracked heads (from below {}); resynchronised from the node",
                        crate::fmt::thousands(reorg.orphaned.len() as u64),
                        crate::fmt::thousands(reorg.from_number)
                    ));
                }
                Update::Reorg { net, reorg }
            }
            Step::Gap { from, to, reason } => {
                self.shared.error(format!(
                    "heads {}..={} could not be fetched: {reason}",
                    crate::fmt::thousands(from),
                    crate::fmt::thousands(to)
                ));
                return None;
            }
            Step::Retracted { number, hash } => {
                self.shared.bad_frame(format!(
                    "newHeads announced block {} ({}) that the node does not have (asked twice); taken back",
                    crate::fmt::thousands(number),
                    crate::fmt::short_hash(&hash)
                ));
                self.log_out.push(LogInput::Orphaned(vec![hash]));
                Update::HeadRetracted { net, number, hash }
            }
            Step::Reset {
                genesis,
                previous,
                orphaned,
            } => {
                self.log_out.push(LogInput::Orphaned(
                    orphaned.into_iter().map(|(_, h)| h).collect(),
                ));
                Update::ChainReset {
                    net,
                    genesis,
                    previous,
                }
            }
        })
    }

    /// A head joins the chain: block time, log refill, confirmation.
    fn on_new_head(&mut self, head: &Head, logs_live: bool, refill: &mut Vec<u64>) {
        if let Some((n, ts)) = self.prev
            && n + 1 == head.number
        {
            self.shared
                .observe_block_time(head.timestamp.saturating_sub(ts));
        }
        self.prev = Some((head.number, head.timestamp));
        // Logs were pushed only for pushed heads, and only while the subscription
        // is live.
        if head.source != HeadSource::Ws || !logs_live {
            refill.push(head.number);
        }
        if head.source == HeadSource::Ws {
            self.feed.push_unconfirmed(Unconfirmed {
                number: head.number,
                hash: head.hash,
                needs_tx_count: head.tx_count.is_none(),
            });
        }
    }

    /// Pass reorg, retraction and refill inputs to the log stream (dropped when no
    /// log stream runs). False when it is gone.
    async fn send_log_inputs(&mut self) -> bool {
        if let Some((tx, _)) = &self.logs {
            for input in self.log_out.drain(..) {
                if tx.send(input).await.is_err() {
                    return false;
                }
            }
        } else {
            self.log_out.clear();
        }
        true
    }
}

/// Sorted, deduplicated numbers as inclusive ranges.
fn ranges(numbers: &[u64]) -> Vec<(u64, u64)> {
    let mut sorted = numbers.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out: Vec<(u64, u64)> = Vec::new();
    for n in sorted {
        match out.last_mut() {
            Some((_, to)) if *to + 1 == n => *to = n,
            _ => out.push((n, n)),
        }
    }
    out
}

/// The node's head (and, on a new connection, its genesis block).
async fn tip_job(http: HttpClient, connected: bool) -> Result<JobOut, String> {
    let mut calls = vec![("eth_blockNumber", json!([]))];
    if connected {
        calls.push(("eth_getBlockByNumber", json!(["0x0", false])));
    }
    let results = http
        .batch(&calls)
        .await
        .map_err(|e| format!("eth_blockNumber: {e}"))?;
    let mut results = results.into_iter();
    let current = match results.next() {
        Some(Ok(raw)) => serde_json::from_str::<U64>(raw.get())
            .map_err(|e| format!("eth_blockNumber: {e}"))?
            .to::<u64>(),
        Some(Err(e)) => return Err(format!("eth_blockNumber: {} {}", e.code, e.message)),
        None => return Err("eth_blockNumber: no answer".into()),
    };
    // A node without block 0 (pruned) simply has no genesis check.
    let genesis = match results.next() {
        Some(Ok(raw)) => serde_json::from_str::<Option<WireBlock>>(raw.get())
            .ok()
            .flatten()
            .map(|b| b.hash),
        _ => None,
    };
    Ok(JobOut::Tip {
        current,
        genesis,
        connected,
    })
}

/// Canonical blocks `from..=to` (`None` from the first the node does not have).
async fn range_job(
    http: HttpClient,
    from: u64,
    to: u64,
    source: HeadSource,
) -> Result<JobOut, String> {
    let calls: Vec<(&str, serde_json::Value)> = (from..=to)
        .map(|n| ("eth_getBlockByNumber", json!([U64::from(n), false])))
        .collect();
    let results = http.batch(&calls).await.map_err(|e| {
        format!(
            "blocks {}..={}: {e}",
            crate::fmt::thousands(from),
            crate::fmt::thousands(to)
        )
    })?;
    let asked = calls.len();
    let blocks = results
        .into_iter()
        .map(|r| {
            r.ok()
                .and_then(|raw| serde_json::from_str::<Option<WireBlock>>(raw.get()).ok())
                .flatten()
                .map(|b| to_head(&b, source))
        })
        .collect();
    Ok(JobOut::Blocks(blocks, asked))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_coalesce_into_ranges() {
        assert_eq!(ranges(&[5, 3, 4, 9, 9, 11, 10]), vec![(3, 5), (9, 11)]);
        assert!(ranges(&[]).is_empty());
    }
}
