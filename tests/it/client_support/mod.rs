//! In-process client harness for fault tests: devnets on ephemeral ports, the real
//! backend started on a config built in code, and every `Update` recorded (and folded
//! into an `AppState`) so tests can wait on conditions with deadlines.
//! Include with `mod client_support;`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use alloy_primitives::B256;
use tokio::sync::watch;

use chaintop::backend;
use chaintop::config::{Config, NetworkConfig};
use chaintop::devnet::{Devnet, DevnetConfig};
use chaintop::event::{
    Command, ConnState, ConnStats, Head, HeadSource, NetIdx, Reorg, SubKind, SubStatus, Update,
};
use chaintop::network::NetworkHandle;
use chaintop::state::AppState;

/// A devnet with test-friendly defaults: fast blocks, no spontaneous reorgs.
pub async fn devnet(name: &str, chain_id: u64, block_ms: u64, seed: u64) -> Devnet {
    let cfg = devnet_config(name, chain_id, block_ms, seed);
    match Devnet::start(cfg).await {
        Ok(d) => d,
        Err(e) => panic!("devnet {name} did not start: {e}"),
    }
}

/// The config of [`devnet`], for tests that change a field before starting it.
pub fn devnet_config(name: &str, chain_id: u64, block_ms: u64, seed: u64) -> DevnetConfig {
    DevnetConfig {
        name: name.into(),
        chain_id,
        block_time: Duration::from_millis(block_ms),
        seed,
        pending_rate: 20,
        reorg_probability: 0.0,
        port: 0,
        start_block: 1_000,
        heads_without_txs: false,
    }
}

/// A network config pointing at `d` over WebSocket and HTTP.
pub fn network(d: &Devnet, ping_secs: u64) -> NetworkConfig {
    let mut n = NetworkConfig::new(d.name(), Some(d.ws_url()), Some(d.http_url()));
    n.chain_id = Some(d.chain_id());
    n.ping_interval_secs = ping_secs;
    n
}

pub fn config(networks: Vec<NetworkConfig>) -> Config {
    Config {
        theme: "default".into(),
        ..Config::with_networks(networks)
    }
}

/// Everything the client told the app so far.
pub struct Log {
    pub updates: Vec<(Instant, Update)>,
    pub state: AppState,
}

impl Log {
    pub fn for_net(&self, net: NetIdx) -> impl Iterator<Item = &(Instant, Update)> {
        self.updates.iter().filter(move |(_, u)| u.net() == net)
    }

    pub fn heads(&self, net: NetIdx) -> Vec<Head> {
        self.for_net(net)
            .filter_map(|(_, u)| match u {
                Update::Head { head, .. } => Some(head.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn reorgs(&self, net: NetIdx) -> Vec<Reorg> {
        self.for_net(net)
            .filter_map(|(_, u)| match u {
                Update::Reorg { reorg, .. } => Some(reorg.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn states(&self, net: NetIdx) -> Vec<ConnState> {
        self.for_net(net)
            .filter_map(|(_, u)| match u {
                Update::Connection { state, .. } => Some(state.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn tip(&self, net: NetIdx) -> Option<u64> {
        self.heads(net).last().map(|h| h.number)
    }

    /// Latest stats the network reported.
    pub fn stats(&self, net: NetIdx) -> ConnStats {
        self.state.networks[net].stats.clone()
    }

    pub fn reconnects(&self, net: NetIdx) -> u64 {
        self.state.networks[net].reconnects
    }

    pub fn sub_status(&self, net: NetIdx, kind: SubKind) -> Option<SubStatus> {
        let n = &self.state.networks[net];
        match kind {
            SubKind::NewHeads => n.subs_heads.clone(),
            SubKind::NewPendingTransactions => n.subs_pending.clone(),
            SubKind::Logs => None,
        }
    }

    /// Index into `updates` of the first update matching `f` (for "nothing after X").
    pub fn position(&self, f: impl Fn(&Update) -> bool) -> Option<usize> {
        self.updates.iter().position(|(_, u)| f(u))
    }

    /// Index of the first update at or after `start` matching `f`.
    pub fn position_from(&self, start: usize, f: impl Fn(&Update) -> bool) -> Option<usize> {
        let rest = self.updates.get(start..)?;
        rest.iter().position(|(_, u)| f(u)).map(|i| start + i)
    }

    /// Index of the first non-live connection state of `net` after it showed heads:
    /// where a fault became visible.
    pub fn dropped(&self, net: NetIdx) -> Option<usize> {
        let first = self.position(|u| matches!(u, Update::Head { net: n, .. } if *n == net))?;
        self.position_from(
            first,
            |u| matches!(u, Update::Connection { net: n, state } if *n == net && !is_live(state)),
        )
    }

    /// The head stream of `net` checked against its contract, and the chain shown at
    /// the end (number → hash):
    /// - every head is shown once (again only after a reorg or retraction removed it);
    /// - in order, each the child of the one before, except: after a `Reorg` the
    ///   heads restart at its first replaced number; a head below the newest one
    ///   only fills a hole (a head pushed before the blocks under it arrived) and
    ///   then comes from HTTP (backfill or poll); a `HeadRetracted` takes one back;
    /// - (checked by [`Log::mismatches`]) what is shown settles into one linked
    ///   chain without holes.
    pub fn linked_chain(&self, net: NetIdx) -> Result<BTreeMap<u64, B256>, String> {
        self.replay(net).map(|(shown, _)| shown)
    }

    /// [`Log::linked_chain`], and the heads a pushed head pushed aside that no reorg
    /// or retraction has accounted for yet.
    fn replay(&self, net: NetIdx) -> Result<(BTreeMap<u64, B256>, Vec<u64>), String> {
        let mut shown: BTreeMap<u64, (B256, B256)> = BTreeMap::new();
        let mut displaced: std::collections::HashSet<(u64, B256)> = Default::default();
        let mut reorg: Option<Reorg> = None;
        let mut ever: std::collections::HashSet<(u64, B256)> = Default::default();
        for (_, u) in self.for_net(net) {
            match u {
                Update::Reorg { reorg: r, .. } => {
                    for (n, h) in &r.orphaned {
                        if shown.get(n).is_some_and(|(x, _)| x == h) {
                            shown.remove(n);
                        }
                        ever.remove(&(*n, *h));
                        displaced.remove(&(*n, *h));
                    }
                    reorg = Some(r.clone());
                }
                Update::HeadRetracted { number, hash, .. } => {
                    if shown.get(number).is_some_and(|(x, _)| x == hash) {
                        shown.remove(number);
                    }
                    ever.remove(&(*number, *hash));
                    displaced.remove(&(*number, *hash));
                }
                Update::ChainReset { .. } => {
                    shown.clear();
                    ever.clear();
                    displaced.clear();
                    reorg = None;
                }
                Update::Head { head, .. } => {
                    if !ever.insert((head.number, head.hash)) {
                        return Err(format!("head {} {} shown twice", head.number, head.hash));
                    }
                    let top = shown.last_key_value().map(|(n, (h, _))| (*n, *h));
                    match (top, reorg.take()) {
                        (None, _) => {}
                        (Some(_), Some(r)) => {
                            if head.number != r.from_number {
                                return Err(format!(
                                    "head {} after a reorg from {}",
                                    head.number, r.from_number
                                ));
                            }
                        }
                        (Some((n, h)), None) if head.number == n + 1 && head.parent_hash == h => {}
                        // Pushed and shown before HTTP could link it (a gap, a reorg
                        // announced by its tip): what it pushes aside must be
                        // accounted for by a later reorg, and the chain must settle.
                        (Some(_), None) if head.source == HeadSource::Ws => {
                            for (n, (h, _)) in shown.range(head.number..) {
                                displaced.insert((*n, *h));
                            }
                        }
                        // From HTTP: only to fill a hole under a pushed head.
                        (Some((n, _)), None) => {
                            if head.number > n || shown.contains_key(&head.number) {
                                return Err(format!(
                                    "{:?} head {} does not follow {n} and fills no hole",
                                    head.source, head.number
                                ));
                            }
                        }
                    }
                    if head.source == HeadSource::Ws {
                        // A pushed head is the node's newest: above it is gone.
                        shown.retain(|n, _| *n <= head.number);
                    }
                    shown.insert(head.number, (head.hash, head.parent_hash));
                }
                _ => {}
            }
        }
        let mut unsettled: Vec<u64> = displaced.into_iter().map(|(n, _)| n).collect();
        // A reorg whose first replacement head has not arrived is not settled yet.
        unsettled.extend(reorg.map(|r| r.from_number));
        unsettled.sort_unstable();
        Ok((
            shown.into_iter().map(|(n, (h, _))| (n, h)).collect(),
            unsettled,
        ))
    }

    /// Numbers shown whose hash differs from the devnet's canonical chain (only over
    /// the range both cover), or an error from [`Log::linked_chain`].
    pub fn mismatches(&self, net: NetIdx, canonical: &[(u64, B256)]) -> Result<Vec<u64>, String> {
        let (shown, mut unsettled) = self.replay(net)?;
        let canon: BTreeMap<u64, B256> = canonical.iter().copied().collect();
        let mut bad: Vec<u64> = shown
            .iter()
            .filter(|(n, h)| canon.get(n).is_some_and(|c| c != *h))
            .map(|(n, _)| *n)
            .collect();
        // Holes not filled yet count as mismatches (they are filled, or it fails).
        let mut prev: Option<u64> = None;
        for n in shown.keys() {
            if let Some(p) = prev {
                bad.extend(p + 1..*n);
            }
            prev = Some(*n);
        }
        bad.append(&mut unsettled);
        bad.sort_unstable();
        bad.dedup();
        Ok(bad)
    }

    pub fn sources_after(&self, net: NetIdx, number: u64) -> Vec<HeadSource> {
        self.heads(net)
            .iter()
            .filter(|h| h.number > number)
            .map(|h| h.source)
            .collect()
    }

    /// The first few and the last few updates other than stats and pending counts,
    /// for failure messages.
    pub fn summary(&self, n: usize) -> String {
        let interesting: Vec<&Update> = self
            .updates
            .iter()
            .map(|(_, u)| u)
            .filter(|u| !matches!(u, Update::Stats { .. } | Update::Pending { .. }))
            .collect();
        let head: Vec<Update> = interesting.iter().take(n).map(|u| (*u).clone()).collect();
        let skip = interesting.len().saturating_sub(n).max(n);
        let tail: Vec<Update> = interesting
            .iter()
            .skip(skip)
            .map(|u| (*u).clone())
            .collect();
        let stats = self
            .state
            .networks
            .iter()
            .map(|s| format!("  {}: {:?}", s.name, s.stats))
            .collect::<Vec<_>>()
            .join("\n");
        format!(
            "{}\n  …\n{}\n{stats}",
            Self::render(&head),
            Self::render(&tail)
        )
    }

    /// The last few updates, for failure messages.
    pub fn tail(&self, n: usize) -> String {
        let start = self.updates.len().saturating_sub(n);
        let last: Vec<Update> = self.updates[start..]
            .iter()
            .map(|(_, u)| u.clone())
            .collect();
        Self::render(&last)
    }

    fn render(updates: &[Update]) -> String {
        updates
            .iter()
            .map(|u| match u {
                Update::Head { net, head } => format!(
                    "  net {net} head {} {:?} {:.10} parent {:.10}",
                    head.number,
                    head.source,
                    head.hash.to_string(),
                    head.parent_hash.to_string()
                ),
                Update::Stats { net, stats } => format!(
                    "  net {net} stats bad {} errors {} last {:?}",
                    stats.bad_frames, stats.errors, stats.last_error
                ),
                other => format!("  {other:?}"),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// A running backend whose updates are recorded.
pub struct Client {
    log: Arc<Mutex<Log>>,
    changed: watch::Receiver<u64>,
    pub networks: Vec<NetworkHandle>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Client {
    fn drop(&mut self) {
        // Dropping the receiver ends every supervisor.
        self.task.abort();
    }
}

impl Client {
    /// Starts the real backend on `config`. Must run inside a tokio runtime.
    pub fn start(config: &Config) -> Client {
        Self::start_with(config, false)
    }

    /// `start`, its updates passed through the race between the endpoints of each
    /// chain group (as the binary does), whose facts are recorded too.
    pub fn start_racing(config: &Config) -> Client {
        Self::start_with(config, true)
    }

    fn start_with(config: &Config, racing: bool) -> Client {
        let redactor = Arc::new(config.redactor());
        let state = backend::initial_state(config, &redactor);
        let mut backend = backend::start(config, &redactor);
        let networks = std::mem::take(&mut backend.networks);
        if racing {
            let race = chaintop::tap::Racing::new(config, &networks);
            backend.updates = chaintop::tap::tap(backend.updates, race, None, None);
        }
        let log = Arc::new(Mutex::new(Log {
            updates: Vec::new(),
            state,
        }));
        let (tx, changed) = watch::channel(0u64);
        let task = tokio::spawn({
            let log = log.clone();
            async move {
                let mut buf = Vec::with_capacity(256);
                while backend.updates.recv_many(&mut buf, 256).await > 0 {
                    let now = Instant::now();
                    if let Ok(mut l) = log.lock() {
                        for u in buf.drain(..) {
                            l.state.apply(u.clone(), std::time::Instant::now());
                            l.updates.push((now, u));
                        }
                    }
                    tx.send_modify(|n| *n += 1);
                }
            }
        });
        Client {
            log,
            changed,
            networks,
            task,
        }
    }

    pub fn log(&self) -> MutexGuard<'_, Log> {
        match self.log.lock() {
            Ok(l) => l,
            Err(p) => p.into_inner(),
        }
    }

    /// Waits until `check` returns `Some` (re-checked on every batch of updates and
    /// at least every 50 ms), panicking with `what` and the latest updates after
    /// `timeout`.
    pub async fn wait<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut(&Log) -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(v) = check(&self.log()) {
                return v;
            }
            if tokio::time::Instant::now() >= deadline {
                let tail = self.log().summary(25);
                panic!("timed out after {timeout:?} waiting for {what}; last updates:\n{tail}");
            }
            let _ = tokio::time::timeout(Duration::from_millis(50), self.changed.changed()).await;
        }
    }

    /// Waits until `net` has shown at least `count` more heads than now.
    pub async fn more_heads(&mut self, net: NetIdx, count: usize, timeout: Duration) -> u64 {
        let start = self.log().heads(net).len();
        self.wait(
            &format!("{count} more heads on network {net}"),
            timeout,
            |l| {
                let h = l.heads(net);
                (h.len() >= start + count).then(|| h.last().map_or(0, |h| h.number))
            },
        )
        .await
    }

    /// Waits until `net` is live and has shown a head at or above the devnet's head.
    pub async fn caught_up(&mut self, net: NetIdx, d: &Devnet, timeout: Duration) -> u64 {
        let target = d.head();
        self.wait(&format!("network {net} at head {target}"), timeout, |l| {
            l.tip(net).filter(|t| *t >= target)
        })
        .await
    }

    /// Waits until the shown chain of `net` matches the devnet's canonical chain up
    /// to at least `at_least`, and returns how many heads that covers.
    pub async fn matches_canonical(
        &mut self,
        net: NetIdx,
        d: &Devnet,
        at_least: u64,
        timeout: Duration,
    ) -> usize {
        let handle = d.handle();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let canonical = handle.canonical_chain();
            let verdict = {
                let l = self.log();
                match l.mismatches(net, &canonical) {
                    Err(e) => panic!("network {net}: head stream broken: {e}\n{}", l.tail(25)),
                    Ok(m) if m.is_empty() && l.tip(net).is_some_and(|t| t >= at_least) => {
                        Ok(l.linked_chain(net).map_or(0, |c| c.len()))
                    }
                    Ok(m) => Err(format!("tip {:?}, mismatched numbers {m:?}", l.tip(net))),
                }
            };
            let last = match verdict {
                Ok(n) => return n,
                Err(e) => e,
            };
            if tokio::time::Instant::now() >= deadline {
                panic!("network {net} never matched the canonical chain up to {at_least}: {last}");
            }
            let _ = tokio::time::timeout(Duration::from_millis(50), self.changed.changed()).await;
        }
    }

    pub async fn reconnect(&self, net: NetIdx) {
        let _ = self.networks[net].commands.send(Command::Reconnect).await;
    }
}

pub fn is_live(s: &ConnState) -> bool {
    matches!(s, ConnState::Live { .. })
}

/// Watches a counter from a sampler thread (an OS thread, so a busy runtime does not
/// delay it) and records when it changed: the test's view of "when did the devnet
/// see request k".
pub struct CounterTimes {
    times: Arc<Mutex<Vec<(Instant, u64)>>>,
    read: Arc<dyn Fn() -> u64 + Send + Sync>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl CounterTimes {
    pub fn start(read: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        let read: Arc<dyn Fn() -> u64 + Send + Sync> = Arc::new(read);
        let times = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        // Read before starting: the thread may first run after the next change.
        let mut last = read();
        std::thread::spawn({
            let (times, stop, read) = (times.clone(), stop.clone(), read.clone());
            move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_micros(500));
                    let now = read();
                    if now != last {
                        if let Ok(mut t) = times.lock() {
                            t.push((Instant::now(), now));
                        }
                        last = now;
                    }
                }
            }
        });
        Self { times, read, stop }
    }

    /// (when, counter value) for every change seen so far, in order, once the
    /// sampler has seen the counter's current value.
    pub async fn changes(&self) -> Vec<(Instant, u64)> {
        let current = (self.read)();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let t = self.times.lock().map(|t| t.clone()).unwrap_or_default();
            let caught_up = t.last().is_some_and(|(_, v)| *v >= current);
            if caught_up || tokio::time::Instant::now() >= deadline {
                return t;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

impl Drop for CounterTimes {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

#[test]
fn a_reorg_whose_replacements_have_not_arrived_is_not_settled() {
    let h = |n: u64, f: u8| {
        let mut b = [0u8; 32];
        b[..8].copy_from_slice(&n.to_be_bytes());
        b[31] = f;
        B256::from(b)
    };
    let head = |n: u64, f: u8| Head {
        number: n,
        hash: h(n, f),
        parent_hash: h(n - 1, 0),
        timestamp: n,
        gas_used: 0,
        gas_limit: 1,
        base_fee: None,
        tx_count: Some(0),
        source: HeadSource::Ws,
        seen: None,
    };
    let mut log = Log {
        updates: Vec::new(),
        state: AppState::new(vec![chaintop::state::NetworkState::new("a", "ws://x")]),
    };
    let push = |log: &mut Log, u: Update| {
        log.state.apply(u.clone(), Instant::now());
        log.updates.push((Instant::now(), u));
    };
    for n in 1..=10 {
        push(
            &mut log,
            Update::Head {
                net: 0,
                head: head(n, 0),
            },
        );
    }
    // The chain task sent the Reorg; its replacement heads are still in the channel.
    push(
        &mut log,
        Update::Reorg {
            net: 0,
            reorg: Reorg {
                depth: 2,
                from_number: 9,
                old_hash: h(10, 0),
                new_hash: h(9, 1),
                orphaned: vec![(9, h(9, 0)), (10, h(10, 0))],
                deeper_than_tracked: false,
            },
        },
    );
    let canonical: Vec<(u64, B256)> = (1..=8)
        .map(|n| (n, h(n, 0)))
        .chain([(9, h(9, 1)), (10, h(10, 1))])
        .collect();
    // What matches_canonical(0, &d, 10, T) sees: the tip is still the orphaned 10.
    assert_eq!(log.tip(0), Some(10));
    let marked = log.state.networks[0]
        .heads
        .iter()
        .filter(|r| r.reorged)
        .count();
    assert_eq!(marked, 0, "no replacement shown yet");
    assert_eq!(
        log.mismatches(0, &canonical).unwrap(),
        vec![9],
        "a reorg whose first replacement has not arrived is unsettled"
    );
    push(
        &mut log,
        Update::Head {
            net: 0,
            head: head(9, 1),
        },
    );
    let mut ten = head(10, 1);
    ten.parent_hash = h(9, 1);
    push(&mut log, Update::Head { net: 0, head: ten });
    assert_eq!(log.mismatches(0, &canonical).unwrap(), Vec::<u64>::new());
}
