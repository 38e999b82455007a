//! What a network's connection costs on a metered provider: the price tables
//! (`pricing.toml`, data a config can override later), which table an endpoint
//! uses, and the meter that prices every call (each batch entry), every
//! WebSocket request and every pushed notification as it happens.
//!
//! An endpoint with no table (not recognised, no `provider`) is still counted:
//! its unit is `requests`, one per call and per notification.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use serde::Deserialize;

/// One provider's prices.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceTable {
    #[serde(skip)]
    pub name: String,
    pub unit: String,
    #[serde(default)]
    pub hosts: Vec<String>,
    /// A call of a method not in `methods`.
    pub default: f64,
    /// A call answered with an HTTP 4xx other than 429.
    #[serde(default)]
    pub error_4xx: f64,
    #[serde(default)]
    pub methods: BTreeMap<String, f64>,
    #[serde(default)]
    pub events: BTreeMap<String, f64>,
    /// `logs` notifications are billed once per block that has any.
    #[serde(default)]
    pub logs_per_block: bool,
    /// `newPendingTransactions` is billed once per second with any.
    #[serde(default)]
    pub pending_per_second: bool,
    /// Added to each notification, per byte.
    #[serde(default)]
    pub per_event_byte: f64,
    /// The plan's allowance per day, in `unit`s (the pane shows the projected
    /// day's spend as a share of it).
    #[serde(default)]
    pub daily_budget: Option<f64>,
    /// The most entries the provider takes in one HTTP batch: bigger ones are split.
    #[serde(default)]
    pub max_batch: Option<usize>,
    /// The plan's throughput, in `unit`s per second: a backfill after an outage is
    /// paced to half of it (the live traffic keeps the other half), not sent as a
    /// storm of 429s.
    #[serde(default)]
    pub per_second: Option<f64>,
}

impl PriceTable {
    /// A call of `method`.
    pub fn call(&self, method: &str) -> f64 {
        self.methods.get(method).copied().unwrap_or(self.default)
    }

    fn recognises(&self, host: &str) -> bool {
        self.hosts
            .iter()
            .any(|h| host == h || host.ends_with(&format!(".{h}")))
    }
}

const BUILTIN: &str = include_str!("pricing.toml");

/// The tables built in (`pricing.toml`), checked by a unit test.
pub fn builtin_tables() -> &'static [PriceTable] {
    static TABLES: OnceLock<Vec<PriceTable>> = OnceLock::new();
    TABLES.get_or_init(|| parse_tables(BUILTIN).unwrap_or_default())
}

/// A config's `[pricing.NAME]` table laid over the built-in one of that name (if
/// any): keys it sets win, `methods` and `events` are merged entry by entry. The
/// error is serde's (an unknown key, a missing `unit` or `default`, a wrong type).
pub fn override_table(name: &str, user: &toml::Table) -> Result<PriceTable, String> {
    let mut base = toml::from_str::<toml::Table>(BUILTIN)
        .ok()
        .and_then(|mut t| t.remove(name))
        .and_then(|v| match v {
            toml::Value::Table(t) => Some(t),
            _ => None,
        })
        .unwrap_or_default();
    for (k, v) in user {
        match (base.get_mut(k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(u)) => {
                b.extend(u.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
    let table: PriceTable = toml::Value::Table(base)
        .try_into()
        .map_err(|e: toml::de::Error| e.message().trim().to_string())?;
    Ok(PriceTable {
        name: name.to_string(),
        ..table
    })
}

/// The built-in tables with a config's overrides and additions.
pub fn with_overrides(overrides: &[PriceTable]) -> Vec<PriceTable> {
    let mut all: Vec<PriceTable> = builtin_tables()
        .iter()
        .filter(|t| !overrides.iter().any(|o| o.name == t.name))
        .cloned()
        .collect();
    all.extend(overrides.iter().cloned());
    all.sort_by(|a, b| a.name.cmp(&b.name));
    all
}

fn parse_tables(text: &str) -> Result<Vec<PriceTable>, toml::de::Error> {
    let map: BTreeMap<String, PriceTable> = toml::from_str(text)?;
    Ok(map
        .into_iter()
        .map(|(name, t)| PriceTable { name, ..t })
        .collect())
}

/// Names of the built-in providers, for `provider = "…"` and its error message.
pub fn provider_names() -> Vec<&'static str> {
    builtin_tables().iter().map(|t| t.name.as_str()).collect()
}

/// The built-in table an endpoint is billed by (see [`table_in`]).
pub fn table_for(provider: Option<&str>, url: Option<&str>) -> Option<PriceTable> {
    table_in(builtin_tables(), provider, url)
}

/// The table of `tables` an endpoint is billed by: the configured `provider`
/// (always, also on loopback), else the provider its host belongs to, else none.
pub fn table_in(
    tables: &[PriceTable],
    provider: Option<&str>,
    url: Option<&str>,
) -> Option<PriceTable> {
    if let Some(p) = provider {
        return tables.iter().find(|t| t.name == p).cloned();
    }
    let host = url
        .and_then(|u| url::Url::parse(u).ok())
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))?;
    tables.iter().find(|t| t.recognises(&host)).cloned()
}

/// How an HTTP call was answered, as far as billing goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Answered (with a result or a JSON-RPC error): billed in full.
    Billed,
    /// An HTTP 4xx other than 429.
    ClientError,
    /// 429, 402 and 5xx: not billed, still counted.
    Free,
}

/// Calls and cost of one method or one kind of notification.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Line {
    pub count: u64,
    pub cost: f64,
    /// Bytes of the notifications (0 for calls).
    pub bytes: u64,
}

/// What the meter shows: totals, rates and the breakdown.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CostSnapshot {
    /// The provider whose table prices this endpoint (`None`: counted only).
    pub provider: Option<String>,
    /// `credits`, `cu`, `ru` or `requests`.
    pub unit: String,
    pub total: f64,
    /// Spend over the last minute (extrapolated after 10 s; `None` before).
    pub per_minute: Option<f64>,
    /// Calls (each batch entry, each WebSocket request) and notifications.
    pub calls: u64,
    pub events: u64,
    pub event_bytes: u64,
    /// By method; notifications as `event:newHeads` and so on.
    pub by_method: BTreeMap<String, Line>,
    /// The plan's daily allowance, from the price table.
    pub daily_budget: Option<f64>,
}

impl CostSnapshot {
    pub fn per_hour(&self) -> Option<f64> {
        self.per_minute.map(|m| m * 60.0)
    }

    pub fn per_day(&self) -> Option<f64> {
        self.per_minute.map(|m| m * 1440.0)
    }

    /// The projected day's spend as a share of the budget (1.0 = all of it).
    pub fn budget_share(&self) -> Option<f64> {
        let budget = self.daily_budget.filter(|b| *b > 0.0)?;
        Some(self.per_day()? / budget)
    }
}

/// Upper bounds (seconds) of the request-duration histogram's buckets.
pub const DURATION_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Answered HTTP requests by method (a batch of several methods is `batch`): how
/// many fell at or under each of [`DURATION_BUCKETS`] (not cumulative), their sum
/// and count.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Timing {
    pub buckets: [u64; DURATION_BUCKETS.len()],
    pub sum: f64,
    pub count: u64,
}

impl Timing {
    fn add(&mut self, secs: f64) {
        if let Some(i) = DURATION_BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i] += 1;
        }
        self.sum += secs;
        self.count += 1;
    }
}

/// Seconds of history behind the per-minute rate.
const WINDOW_SECS: u64 = 60;
/// A rate over a shorter history than this is not shown.
const MIN_RATE_SECS: u64 = 10;

#[derive(Debug, Default)]
struct Tally {
    table: Option<Arc<PriceTable>>,
    snap: CostSnapshot,
    /// Spend per unix second, the last `WINDOW_SECS`.
    window: VecDeque<(u64, f64)>,
    first_sec: Option<u64>,
    last_log_block: Option<u64>,
    last_pending_sec: Option<u64>,
    timings: BTreeMap<String, Timing>,
}

impl Tally {
    fn add(&mut self, key: &str, cost: f64, bytes: u64, now: u64) {
        // Called for every notification: allocate a key only the first time.
        let line = match self.snap.by_method.get_mut(key) {
            Some(line) => line,
            None => self.snap.by_method.entry(key.to_string()).or_default(),
        };
        line.count += 1;
        line.cost += cost;
        line.bytes += bytes;
        self.snap.total += cost;
        self.first_sec.get_or_insert(now);
        match self.window.back_mut() {
            Some((s, c)) if *s == now => *c += cost,
            _ => self.window.push_back((now, cost)),
        }
        while self
            .window
            .front()
            .is_some_and(|(s, _)| s + WINDOW_SECS <= now)
        {
            self.window.pop_front();
        }
    }
}

/// The `by_method` key of a notification kind (no allocation per notification).
fn event_key(kind: &str) -> &'static str {
    match kind {
        "newHeads" => "event:newHeads",
        "logs" => "event:logs",
        "newPendingTransactions" => "event:newPendingTransactions",
        _ => "event:other",
    }
}

/// Prices and counts one network's traffic. Shared by its HTTP client and its
/// WebSocket session; cheap to call on every frame (one uncontended lock).
#[derive(Debug, Default)]
pub struct Meter {
    tally: Mutex<Tally>,
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Meter {
    pub fn new(table: Option<PriceTable>) -> Arc<Self> {
        let m = Meter::default();
        m.set_table(table);
        Arc::new(m)
    }

    /// The endpoint in use changed (failover): price from now on by `table`.
    pub fn set_table(&self, table: Option<PriceTable>) {
        if let Ok(mut t) = self.tally.lock() {
            t.snap.provider = table.as_ref().map(|t| t.name.clone());
            t.snap.unit = table
                .as_ref()
                .map_or_else(|| "requests".to_string(), |t| t.unit.clone());
            t.snap.daily_budget = table.as_ref().and_then(|t| t.daily_budget);
            t.table = table.map(Arc::new);
        }
    }

    /// The most entries per HTTP batch, if the table caps it.
    pub fn max_batch(&self) -> Option<usize> {
        let t = self.tally.lock().ok()?;
        t.table.as_ref()?.max_batch.filter(|n| *n > 0)
    }

    /// What `count` calls of `method` cost, and the plan's throughput per second:
    /// for pacing. `None` without a table or a throughput.
    pub fn pace(&self, method: &str, count: usize) -> Option<(f64, f64)> {
        let t = self.tally.lock().ok()?;
        let p = t.table.as_ref()?;
        let per_second = p.per_second.filter(|r| *r > 0.0)?;
        Some((p.call(method) * count as f64, per_second))
    }

    /// The provider whose table prices the endpoint in use.
    pub fn provider(&self) -> Option<String> {
        let t = self.tally.lock().ok()?;
        t.table.as_ref().map(|p| p.name.clone())
    }

    /// The endpoint in use is priced by a provider's table.
    pub fn is_priced(&self) -> bool {
        self.tally.lock().is_ok_and(|t| t.table.is_some())
    }

    /// The provider, if the endpoint in use bills pending-transaction events.
    pub fn bills_pending(&self) -> Option<String> {
        let t = self.tally.lock().ok()?;
        let p = t.table.as_ref()?;
        let billed = p
            .events
            .get("newPendingTransactions")
            .is_some_and(|c| *c > 0.0)
            || p.per_event_byte > 0.0;
        billed.then(|| p.name.clone())
    }

    /// Calls sent in one HTTP request (a batch: each entry) or one WebSocket request.
    pub fn calls(&self, methods: &[&str], answer: Answer) {
        self.calls_at(methods, answer, SystemTime::now());
    }

    fn calls_at(&self, methods: &[&str], answer: Answer, now: SystemTime) {
        let now = unix_secs(now);
        let Ok(mut t) = self.tally.lock() else {
            return;
        };
        for m in methods {
            let cost = match (&t.table, answer) {
                (None, _) => 1.0,
                (Some(_), Answer::Free) => 0.0,
                (Some(p), Answer::ClientError) => p.error_4xx,
                (Some(p), Answer::Billed) => p.call(m),
            };
            t.snap.calls += 1;
            t.add(m, cost, 0, now);
        }
    }

    /// A pushed notification of subscription `kind` (`newHeads`, `logs`,
    /// `newPendingTransactions`), its size, and for logs the block it is from.
    pub fn event(&self, kind: &str, bytes: usize, block: Option<u64>) {
        let now = unix_secs(SystemTime::now());
        let Ok(mut t) = self.tally.lock() else {
            return;
        };
        let cost = match t.table.clone() {
            None => 1.0,
            Some(p) => {
                let once = match kind {
                    "logs" if p.logs_per_block => {
                        let fresh = block.is_none() || t.last_log_block != block;
                        t.last_log_block = block;
                        fresh
                    }
                    "newPendingTransactions" if p.pending_per_second => {
                        let fresh = t.last_pending_sec != Some(now);
                        t.last_pending_sec = Some(now);
                        fresh
                    }
                    _ => true,
                };
                let per_event = if once {
                    p.events.get(kind).copied().unwrap_or(0.0)
                } else {
                    0.0
                };
                per_event + p.per_event_byte * bytes as f64
            }
        };
        t.snap.events += 1;
        t.snap.event_bytes += bytes as u64;
        t.add(event_key(kind), cost, bytes as u64, now);
    }

    /// An HTTP request carrying `methods` was answered after `took`.
    pub fn timed(&self, methods: &[&str], took: Duration) {
        let method = match methods.split_first() {
            Some((first, rest)) if rest.iter().all(|m| m == first) => *first,
            Some(_) => "batch",
            None => return,
        };
        if let Ok(mut t) = self.tally.lock() {
            match t.timings.get_mut(method) {
                Some(timing) => timing.add(took.as_secs_f64()),
                None => {
                    let mut timing = Timing::default();
                    timing.add(took.as_secs_f64());
                    t.timings.insert(method.to_string(), timing);
                }
            }
        }
    }

    /// The request durations so far, by method.
    pub fn timings(&self) -> BTreeMap<String, Timing> {
        self.tally
            .lock()
            .map(|t| t.timings.clone())
            .unwrap_or_default()
    }

    /// Totals and the rate as of `now`.
    pub fn snapshot(&self, now: SystemTime) -> CostSnapshot {
        let Ok(t) = self.tally.lock() else {
            return CostSnapshot::default();
        };
        let now = unix_secs(now);
        let mut snap = t.snap.clone();
        snap.per_minute = t.first_sec.and_then(|first| {
            let span = now.saturating_sub(first).min(WINDOW_SECS);
            (span >= MIN_RATE_SECS).then(|| {
                let recent: f64 = t
                    .window
                    .iter()
                    .filter(|(s, _)| s + WINDOW_SECS > now)
                    .map(|(_, c)| c)
                    .sum();
                recent * WINDOW_SECS as f64 / span as f64
            })
        });
        snap
    }
}

/// How long the rate needs before it is shown (for the pane's "—" and tests).
pub const RATE_AFTER: Duration = Duration::from_secs(MIN_RATE_SECS);

#[cfg(test)]
mod tests {
    use super::*;

    fn infura() -> PriceTable {
        table_for(Some("infura"), None).expect("infura table")
    }

    #[test]
    fn the_builtin_tables_parse_with_their_published_prices() {
        assert_eq!(
            provider_names(),
            vec!["alchemy", "chainstack", "infura", "quicknode"]
        );
        let i = infura();
        assert_eq!(
            (i.call("eth_getBalance"), i.call("eth_getLogs")),
            (80.0, 255.0)
        );
        assert_eq!(i.events.get("newHeads"), Some(&50.0));
        let a = table_for(Some("alchemy"), None).expect("alchemy");
        assert_eq!((a.call("eth_call"), a.per_event_byte), (26.0, 0.04));
    }

    #[test]
    fn hosts_pick_the_table_and_an_explicit_provider_wins() {
        let name = |p: Option<&str>, u: &str| table_for(p, Some(u)).map(|t| t.name);
        assert_eq!(
            name(None, "wss://mainnet.infura.io/ws/v3/KEY").as_deref(),
            Some("infura")
        );
        assert_eq!(
            name(None, "https://eth-mainnet.g.alchemy.com/v2/KEY").as_deref(),
            Some("alchemy")
        );
        assert_eq!(
            name(None, "https://nd-1.p2pify.com/KEY").as_deref(),
            Some("chainstack")
        );
        assert_eq!(name(None, "ws://127.0.0.1:8545"), None);
        // Not fooled by a look-alike host.
        assert_eq!(name(None, "https://notinfura.io.example.com/"), None);
        assert_eq!(
            name(Some("chainstack"), "ws://127.0.0.1:8545").as_deref(),
            Some("chainstack")
        );
    }

    #[test]
    fn every_batch_entry_is_billed_and_refusals_are_free() {
        let m = Meter::new(Some(infura()));
        m.calls(
            &["eth_getBalance", "eth_getBalance", "eth_call"],
            Answer::Billed,
        );
        m.calls(&["eth_getBalance"], Answer::Free);
        m.calls(&["eth_getBalance"], Answer::ClientError);
        let s = m.snapshot(SystemTime::now());
        assert_eq!(s.calls, 5);
        assert_eq!(s.total, 80.0 * 3.0 + 0.0 + 5.0);
        assert_eq!(
            s.by_method.get("eth_getBalance"),
            Some(&Line {
                count: 4,
                cost: 165.0,
                bytes: 0
            })
        );
        assert_eq!(s.unit, "credits");
    }

    #[test]
    fn infura_bills_logs_per_block_and_pending_per_second() {
        let m = Meter::new(Some(infura()));
        m.event("logs", 500, Some(7));
        m.event("logs", 500, Some(7));
        m.event("logs", 500, Some(8));
        m.event("newHeads", 900, None);
        let s = m.snapshot(SystemTime::now());
        assert_eq!(s.events, 4);
        assert_eq!(s.event_bytes, 2400);
        assert_eq!(s.total, 300.0 * 2.0 + 50.0);
    }

    #[test]
    fn alchemy_bills_notifications_by_the_byte() {
        let m = Meter::new(table_for(Some("alchemy"), None));
        m.event("newHeads", 1000, None);
        let s = m.snapshot(SystemTime::now());
        assert!((s.total - 40.0).abs() < 1e-9, "{}", s.total);
    }

    #[test]
    fn a_config_overrides_prices_and_adds_providers() {
        let user: toml::Table =
            toml::from_str("daily_budget = 3000000\n[methods]\neth_getBalance = 100\n")
                .expect("toml");
        let t = override_table("infura", &user).expect("merged");
        assert_eq!(
            (t.call("eth_getBalance"), t.call("eth_getLogs")),
            (100.0, 255.0)
        );
        assert_eq!(t.daily_budget, Some(3_000_000.0));
        assert_eq!(t.hosts, vec!["infura.io".to_string()], "the rest is kept");
        let mine: toml::Table = toml::from_str("unit = \"requests\"\ndefault = 2\n").expect("toml");
        let all = with_overrides(&[t, override_table("mynode", &mine).expect("new")]);
        assert_eq!(
            table_in(&all, Some("mynode"), None).map(|t| t.call("x")),
            Some(2.0)
        );
        let bad: toml::Table = toml::from_str("defualt = 1\n").expect("toml");
        let err = override_table("mynode", &bad).expect_err("unknown key");
        assert!(err.contains("defualt"), "{err}");
    }

    #[test]
    fn the_budget_share_is_of_the_projected_day() {
        let s = CostSnapshot {
            per_minute: Some(2_500.0),
            daily_budget: Some(3_000_000.0),
            ..Default::default()
        };
        assert_eq!(s.budget_share(), Some(1.2));
    }

    #[test]
    fn without_a_table_calls_and_notifications_are_counted() {
        let m = Meter::new(None);
        m.calls(&["eth_getBalance", "eth_call"], Answer::Free);
        m.event("newHeads", 10, None);
        let s = m.snapshot(SystemTime::now());
        assert_eq!(
            (s.provider, s.unit.as_str(), s.total),
            (None, "requests", 3.0)
        );
    }

    #[test]
    fn the_rate_waits_for_ten_seconds_of_history() {
        let m = Meter::new(Some(infura()));
        let now = SystemTime::now();
        m.calls_at(&["eth_blockNumber"], Answer::Billed, now);
        assert_eq!(m.snapshot(now).per_minute, None);
        // 80 credits in the first 20 s extrapolate to 240 a minute.
        let later = now + Duration::from_secs(20);
        assert_eq!(m.snapshot(later).per_minute, Some(240.0));
        // A minute after, the spend has left the window.
        let gone = now + Duration::from_secs(61);
        assert_eq!(m.snapshot(gone).per_minute, Some(0.0));
        assert_eq!(m.snapshot(gone).per_day(), Some(0.0));
    }
}
