//! `chaintop cost`: what a config would cost per day before it runs, from the
//! price tables and the chain's block time, with the settings that would cut it
//! most. An estimate from what chaintop asks per head, not a measurement: the
//! meter (health pane, headless `cost` lines) shows what a run really spends.

use std::fmt::Write as _;

use crate::config::{Config, NetworkConfig, PendingMode, RefreshMode};
use crate::cost::{PriceTable, table_in, with_overrides};

/// Block times of well-known chains, by chain id (seconds).
const BLOCK_TIMES: &[(u64, f64)] = &[
    (1, 12.0),
    (10, 2.0),
    (56, 3.0),
    (100, 5.0),
    (137, 2.0),
    (8453, 2.0),
    (42161, 0.25),
    (43114, 2.0),
    (59144, 2.0),
    (534352, 3.0),
    (11155111, 12.0),
    (17000, 12.0),
    (84532, 2.0),
];
/// When the chain is not known.
const DEFAULT_BLOCK_SECS: f64 = 12.0;
/// Reads per `aggregate3` call (as the refresh sends them).
const MULTICALL_CHUNK: f64 = 1000.0;
/// Blocks between nonce sweeps in Multicall3 mode (and after each catch-up).
const NONCE_SWEEP: f64 = 10_000.0;
/// Blocks between balance sweeps with `refresh = "on_activity"`.
const BALANCE_SWEEP: f64 = 50.0;
/// The share of watched addresses assumed to move in a block (on activity): each
/// about once in 1,000 blocks (three hours at 12 s).
const ACTIVE_SHARE: f64 = 0.001;
/// A `newHeads` notification, a pending hash notification (bytes).
const HEAD_BYTES: f64 = 1_100.0;
const PENDING_BYTES: f64 = 150.0;
/// Bytes of a whole pending transaction's notification (`pending = "watched"`).
const FULL_PENDING_BYTES: f64 = 1_000.0;
/// Pending transactions per second assumed for a busy chain (for per-byte and
/// per-notification prices).
const PENDING_PER_SEC: f64 = 100.0;

/// One network's estimate.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    pub network: String,
    /// `None`: not priced (counted in requests).
    pub provider: Option<String>,
    pub unit: String,
    pub block_secs: f64,
    /// Whether the block time was a guess.
    pub block_guessed: bool,
    /// Per day, by part (`heads`, `balances`, `nonces`, `tokens`, `views`, `logs`,
    /// `pending`, `finality`), largest first.
    pub parts: Vec<(&'static str, f64)>,
    /// The same without Multicall3 (when it would differ).
    pub without_multicall: Option<f64>,
    /// The config lets the refresh use Multicall3 (`multicall`).
    pub multicall: bool,
    pub daily_budget: Option<f64>,
    /// Settings that would cut it, biggest saving first.
    pub cuts: Vec<String>,
    /// What the figures assume beyond the config.
    pub assumptions: Vec<String>,
}

impl Estimate {
    pub fn per_day(&self) -> f64 {
        self.parts.iter().map(|(_, c)| c).sum()
    }
}

/// Every network of `config`.
pub fn estimate(config: &Config) -> Vec<Estimate> {
    let tables = with_overrides(&config.pricing);
    // The groups the config already makes (a `group`, configured chain ids): their
    // networks race, and read their finality.
    let mut race = crate::race::Race::new(config);
    if let Some(r) = race.as_mut() {
        r.start();
    }
    config
        .networks
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let watched = config.watches_on(&n.name).count();
            let racing = race.as_ref().is_some_and(|r| r.races(i));
            let table = table_in(
                &tables,
                n.provider.as_deref(),
                n.ws.as_deref().or(n.http.as_deref()),
            );
            network(n, watched, table.as_ref(), racing)
        })
        .collect()
}

/// What one call of `method` costs (one unit when unpriced).
fn call(t: Option<&PriceTable>, method: &str) -> f64 {
    t.map_or(1.0, |t| t.call(method))
}

/// What one notification of `kind` costs.
fn event(t: Option<&PriceTable>, kind: &str, bytes: f64) -> f64 {
    t.map_or(1.0, |t| {
        t.events.get(kind).copied().unwrap_or(0.0) + t.per_event_byte * bytes
    })
}

/// One network's spend per day, by part.
struct Daily {
    heads: f64,
    balances: f64,
    nonces: f64,
    tokens: f64,
    views: f64,
    logs: f64,
    pending: f64,
    /// Pending transactions would be subscribed to.
    pending_on: bool,
    /// Balances are read only when they move (and at sweeps).
    on_activity: bool,
    /// What the refresh costs with Multicall3, and with an entry per read.
    refresh_multicall: f64,
    refresh_batch: f64,
    finality: f64,
}

fn daily(
    n: &NetworkConfig,
    watched: usize,
    t: Option<&PriceTable>,
    heads_per_day: f64,
    racing: bool,
) -> Daily {
    let w = watched as f64;
    let tokens = n.tokens.len() as f64;
    let views: f64 = n
        .contracts
        .iter()
        .flat_map(|c| &c.views)
        .map(|v| 1.0 / v.every as f64)
        .sum();
    // On activity (the default where calls are priced) an address is read when it
    // moves, and all of them every `BALANCE_SWEEP` blocks.
    let on_activity = n
        .refresh
        .map_or(t.is_some(), |m| m == RefreshMode::OnActivity);
    let due = if on_activity {
        (1.0 / BALANCE_SWEEP + ACTIVE_SHARE).min(1.0)
    } else {
        1.0
    };
    // Multicall3: the due reads in aggregate3 calls (fewer than one read a head on
    // average is fewer than one call), their cost shared by the reads; nonces at
    // sweeps (a sender's comes with its transaction in the block).
    let account_reads = w * (1.0 + tokens) * due;
    let reads = account_reads + views;
    let calls = if reads >= 1.0 {
        (reads / MULTICALL_CHUNK).ceil()
    } else {
        reads
    };
    let aggregate = calls * call(t, "eth_call");
    let share = |part: f64| {
        if reads > 0.0 {
            aggregate * part / reads
        } else {
            0.0
        }
    };
    let nonces = w / NONCE_SWEEP * call(t, "eth_getTransactionCount");
    // Without: an entry each (nonces every head unless on activity).
    let nonces_batch = if on_activity {
        nonces
    } else {
        w * call(t, "eth_getTransactionCount")
    };
    let batch = w * due * (call(t, "eth_getBalance") + tokens * call(t, "eth_call"))
        + views * call(t, "eth_call")
        + nonces_batch;
    // Contracts' events: a billed notification in every block. Tokens' transfers
    // only where they name a watched address: in the share of blocks where one of
    // the watched addresses moves a token.
    let contract_logs = n.contracts.iter().any(|c| !c.events.is_empty());
    let token_moves = 1.0 - (1.0 - ACTIVE_SHARE).powf(w * tokens);
    let logs_share = if contract_logs { 1.0 } else { token_moves };
    let pending_on = match n.pending {
        Some(PendingMode::Count | PendingMode::Watched) => true,
        Some(PendingMode::Off) => false,
        None => !t.is_some_and(|t| {
            t.events
                .get("newPendingTransactions")
                .is_some_and(|c| *c > 0.0)
                || t.per_event_byte > 0.0
        }),
    };
    Daily {
        // The newHeads event and the head's confirmation.
        heads: (event(t, "newHeads", HEAD_BYTES) + call(t, "eth_getBlockByHash")) * heads_per_day,
        balances: if n.multicall {
            share(w * due)
        } else {
            w * due * call(t, "eth_getBalance")
        } * heads_per_day,
        nonces: if n.multicall { nonces } else { nonces_batch } * heads_per_day,
        tokens: if n.multicall {
            share(w * tokens * due)
        } else {
            w * tokens * due * call(t, "eth_call")
        } * heads_per_day,
        views: if n.multicall {
            share(views)
        } else {
            views * call(t, "eth_call")
        } * heads_per_day,
        // At most one billed logs event per block (Infura), or one per log.
        logs: event(t, "logs", 600.0) * logs_share * heads_per_day,
        pending: if pending_on {
            pending_cost(t, n.pending == Some(PendingMode::Watched)) * 86_400.0
        } else {
            0.0
        },
        // In a group: `safe` and `finalized` every `finality_every` heads.
        finality: if racing && n.finality_every > 0 {
            2.0 * call(t, "eth_getBlockByNumber") / n.finality_every as f64 * heads_per_day
        } else {
            0.0
        },
        pending_on,
        on_activity,
        // With `multicall = false` the batch is the estimate itself.
        refresh_multicall: if n.multicall {
            aggregate + nonces
        } else {
            batch
        } * heads_per_day,
        refresh_batch: batch * heads_per_day,
    }
}

/// The settings that would cut `d` most, with what each saves, biggest first.
fn cuts(d: &Daily, watched: usize) -> Vec<String> {
    let mut cuts = Vec::new();
    if d.pending_on && d.pending > 0.0 {
        cuts.push((d.pending, "pending = \"off\"".to_string()));
    }
    if !d.on_activity && d.balances + d.tokens > 0.0 {
        let saved = (d.balances + d.tokens) * (1.0 - (1.0 / BALANCE_SWEEP + ACTIVE_SHARE));
        cuts.push((saved, "refresh = \"on_activity\"".to_string()));
    }
    if d.views > 0.0 {
        cuts.push((
            d.views / 2.0,
            "views read half as often (`every` doubled)".to_string(),
        ));
    }
    if watched >= 10 {
        cuts.push((
            (d.balances + d.tokens + d.nonces) / 2.0,
            format!("half of the {watched} watched addresses"),
        ));
    }
    if d.finality > 0.0 {
        cuts.push((d.finality, "finality_every = 0".to_string()));
    }
    if d.logs > 0.0 {
        cuts.push((
            d.logs,
            "no contract events or tokens (no logs subscription)".into(),
        ));
    }
    cuts.retain(|(saved, _)| *saved > 0.0);
    cuts.sort_by(|a, b| b.0.total_cmp(&a.0));
    cuts.into_iter()
        .map(|(saved, what)| format!("{what}: saves ~{}/day", crate::fmt::compact(saved)))
        .collect()
}

/// What the figures of `d` assume beyond the config.
fn assumptions(d: &Daily, t: Option<&PriceTable>) -> Vec<String> {
    let mut a = Vec::new();
    if d.logs > 0.0 {
        a.push(
            "logs: one billed notification per block with a matching log (Infura bills per \
             block; providers that bill each log charge more on busy contracts): every \
             block for contracts' events, a token transfer of a watched address otherwise"
                .to_string(),
        );
    }
    if d.on_activity && d.balances + d.tokens > 0.0 {
        a.push(format!(
            "refresh on activity: 1 in {:.0} watched addresses moves in a block; all are read every {BALANCE_SWEEP:.0} blocks",
            1.0 / ACTIVE_SHARE
        ));
    }
    if d.pending > 0.0 && !t.is_some_and(|t| t.pending_per_second) {
        a.push(format!(
            "pending: {PENDING_PER_SEC:.0} pending transactions a second"
        ));
    }
    a
}

fn network(n: &NetworkConfig, watched: usize, t: Option<&PriceTable>, racing: bool) -> Estimate {
    let known = n
        .chain_id
        .and_then(|id| BLOCK_TIMES.iter().find(|(c, _)| *c == id).map(|(_, s)| *s));
    let block_secs = known.unwrap_or(DEFAULT_BLOCK_SECS);
    let d = daily(n, watched, t, 86_400.0 / block_secs, racing);
    let mut parts = vec![
        ("heads", d.heads),
        ("balances", d.balances),
        ("nonces", d.nonces),
        ("tokens", d.tokens),
        ("views", d.views),
        ("logs", d.logs),
        ("pending", d.pending),
        ("finality", d.finality),
    ];
    parts.retain(|(_, c)| *c > 0.0);
    parts.sort_by(|a, b| b.1.total_cmp(&a.1));
    let with_mc: f64 = parts.iter().map(|(_, c)| c).sum();
    let without = with_mc - d.refresh_multicall + d.refresh_batch;
    Estimate {
        network: n.name.clone(),
        provider: t.map(|t| t.name.clone()),
        unit: t.map_or_else(|| "requests".to_string(), |t| t.unit.clone()),
        block_secs,
        block_guessed: known.is_none(),
        parts,
        without_multicall: (without - with_mc).abs().gt(&0.5).then_some(without),
        multicall: n.multicall,
        daily_budget: t.and_then(|t| t.daily_budget),
        cuts: cuts(&d, watched),
        assumptions: assumptions(&d, t),
    }
}

/// Pending events per second of a subscription, priced: hashes, or (`full`) whole
/// transactions, which weigh more where bytes are billed.
fn pending_cost(t: Option<&PriceTable>, full: bool) -> f64 {
    let bytes = if full {
        FULL_PENDING_BYTES
    } else {
        PENDING_BYTES
    };
    match t {
        Some(t) if t.pending_per_second => event(Some(t), "newPendingTransactions", 0.0),
        t => PENDING_PER_SEC * event(t, "newPendingTransactions", bytes),
    }
}

/// The report `chaintop cost` prints.
pub fn report(estimates: &[Estimate]) -> String {
    let mut out = String::new();
    for e in estimates {
        let c = crate::fmt::compact;
        let who = e.provider.as_deref().unwrap_or("an unpriced endpoint");
        let parts: Vec<String> = e
            .parts
            .iter()
            .map(|(p, v)| format!("{p} {}", c(*v)))
            .collect();
        let _ = writeln!(
            out,
            "{} on {who}: ~{} {}/day ({})",
            e.network,
            c(e.per_day()),
            e.unit,
            parts.join(", ")
        );
        let guess = if e.block_guessed {
            ", assumed: chain not known"
        } else {
            ""
        };
        let how = if e.multicall {
            "with Multicall3 where the chain has it"
        } else {
            "multicall = false: a batch entry per read"
        };
        let _ = writeln!(out, "  at {}s blocks{guess}; {how}", e.block_secs);
        if let Some(w) = e.without_multicall {
            let _ = writeln!(out, "  without Multicall3: ~{} {}/day", c(w), e.unit);
        }
        if let Some(b) = e.daily_budget.filter(|b| *b > 0.0) {
            let _ = writeln!(
                out,
                "  {:.0}% of the daily budget of {}",
                e.per_day() / b * 100.0,
                c(b)
            );
        }
        for a in &e.assumptions {
            let _ = writeln!(out, "  assumed: {a}");
        }
        for cut in e.cuts.iter().take(3) {
            let _ = writeln!(out, "  cut: {cut}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::WatchConfig;
    use alloy_primitives::Address;

    fn config(provider: &str, watched: usize) -> Config {
        let mut n = NetworkConfig::new(
            "mainnet",
            Some("wss://mainnet.infura.io/ws/v3/k".into()),
            None,
        );
        n.chain_id = Some(1);
        n.provider = Some(provider.into());
        let mut c = crate::config::builtin_default();
        c.networks = vec![n];
        c.watch = (0..watched)
            .map(|i| WatchConfig {
                address: Address::with_last_byte(i as u8),
                label: format!("w{i}"),
                networks: None,
            })
            .collect();
        c
    }

    #[test]
    fn heads_alone_on_infura_at_12s_blocks() {
        let e = &estimate(&config("infura", 0))[0];
        // 7,200 heads a day, each a 50-credit event and an 80-credit confirmation.
        assert_eq!(e.parts, vec![("heads", 7_200.0 * 130.0)]);
        assert_eq!(e.without_multicall, None);
        assert!(
            report(std::slice::from_ref(e))
                .starts_with("mainnet on infura: ~936.0k credits/day (heads 936.0k)")
        );
    }

    #[test]
    fn two_providers_of_one_chain_read_finality_every_ten_heads() {
        let mut c = config("infura", 0);
        let mut b = c.networks[0].clone();
        b.name = "mainnet-b".into();
        c.networks.push(b);
        let per = crate::cost::table_for(Some("infura"), None)
            .map(|t| t.call("eth_getBlockByNumber"))
            .expect("infura's table");
        for e in estimate(&c) {
            let finality = e.parts.iter().find(|(p, _)| *p == "finality");
            assert_eq!(
                finality,
                Some(&("finality", 2.0 * per / 10.0 * 7_200.0)),
                "{e:?}"
            );
            assert!(
                e.cuts.iter().any(|c| c.starts_with("finality_every = 0")),
                "{e:?}"
            );
        }
        // Alone, or with finality off: nothing.
        c.networks[1].chain_id = Some(10);
        assert!(estimate(&c)[0].parts.iter().all(|(p, _)| *p != "finality"));
        c.networks[1].chain_id = Some(1);
        c.networks[0].finality_every = 0;
        assert!(estimate(&c)[0].parts.iter().all(|(p, _)| *p != "finality"));
    }

    #[test]
    fn multicall_is_what_makes_many_addresses_cheap() {
        let mut c = config("infura", 1000);
        c.networks[0].refresh = Some(RefreshMode::EveryHead);
        let e = &estimate(&c)[0];
        let with = e.per_day();
        let without = e.without_multicall.expect("differs");
        // One aggregate3 a head instead of 2,000 entries.
        assert!(without / with > 100.0, "{with} vs {without}");
        assert!(
            e.cuts.iter().any(|c| c.contains("watched addresses")),
            "{:?}",
            e.cuts
        );
        // Reading only what moves is the other big cut, with or without Multicall3.
        assert!(
            e.cuts
                .iter()
                .any(|c| c.starts_with("refresh = \"on_activity\"")),
            "{:?}",
            e.cuts
        );
        c.networks[0].refresh = None;
        let lazy = &estimate(&c)[0];
        let lazy_without = lazy.without_multicall.expect("differs");
        assert!(lazy_without * 20.0 < without, "{lazy:?}");
    }

    #[test]
    fn pending_is_off_by_default_where_billed_and_a_cut_where_asked_for() {
        let mut c = config("infura", 0);
        assert!(!estimate(&c)[0].parts.iter().any(|(p, _)| *p == "pending"));
        c.networks[0].pending = Some(PendingMode::Count);
        let e = &estimate(&c)[0];
        // Infura: 200 credits per second with pending events.
        assert!(
            e.parts.contains(&("pending", 200.0 * 86_400.0)),
            "{:?}",
            e.parts
        );
        assert!(e.cuts[0].starts_with("pending = \"off\""), "{:?}", e.cuts);
    }

    #[test]
    fn whole_pending_transactions_cost_more_where_bytes_are_billed() {
        let pending = |provider: &str, mode| {
            let mut c = config(provider, 0);
            c.networks[0].pending = Some(mode);
            estimate(&c)[0]
                .parts
                .iter()
                .find(|(p, _)| *p == "pending")
                .map(|(_, v)| *v)
                .expect("pending priced")
        };
        // Alchemy bills bytes: a whole transaction weighs more than a hash.
        let (count, watched) = (
            pending("alchemy", PendingMode::Count),
            pending("alchemy", PendingMode::Watched),
        );
        assert!(watched > count * 2.0, "{watched} vs {count}");
        // Infura bills a flat 200 a second, whatever the shape.
        assert_eq!(
            pending("infura", PendingMode::Watched),
            pending("infura", PendingMode::Count)
        );
    }
}
