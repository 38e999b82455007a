//! Alerts: `[[alerts]]` rules evaluated against the updates (and a clock, for
//! conditions made of silence), each notice sent to its rule's sinks.
//!
//! The engine is pure: [`Engine::observe`] and [`Engine::tick`] return the notices,
//! which [`crate::tap`] puts into the update stream (headless prints them, the
//! dashboard lists them) and hands to [`sinks::Dispatcher`]. A condition that can
//! end (a stalled head, a connection down, a balance under its threshold, a view
//! outside its range, the budget) fires once and resolves once; one that cannot (a
//! reorg, a balance change, a transfer) fires each time. Within a rule's cooldown,
//! fired notices of the same subject are counted, not sent; the next one sent says
//! how many were held back, and a resolve of an episode never sent is not sent
//! either.

pub mod desktop;
pub mod sinks;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use alloy_primitives::{Address, U256};

use crate::config::{AlertKind, AlertRule, Config};
use crate::event::{AbiValue, AlertNotice, AlertState, ConnState, NetIdx, Subject, Update};
use crate::fmt;

/// One rule's state for one subject (network, address, contract…).
#[derive(Debug, Default)]
struct Episode {
    /// The condition holds now (for rules that can resolve).
    firing: bool,
    /// The fired notice of this episode was sent (so its resolve is too).
    sent: bool,
    last_sent: Option<Instant>,
    held: u64,
}

#[derive(Debug, Default)]
struct NetSeen {
    name: String,
    /// The rules that apply to this network.
    rules: Arc<[usize]>,
    /// Configured with a WebSocket (an HTTP-only network is never "live").
    has_ws: bool,
    last_head: Option<(Instant, u64)>,
    /// Since when the connection has not been live (`None`: live).
    down_since: Option<Instant>,
    balances: HashMap<(Address, Option<Address>), U256>,
    decimals: HashMap<Address, u8>,
    /// The calls of this network's views, by (contract, index).
    views: HashMap<(Address, usize), String>,
    /// Blocks behind its chain group's best head, and that best.
    behind: Option<(u64, u64)>,
    /// Since when it has been more than each `provider_lag` rule's `blocks` behind.
    lagging: HashMap<usize, Instant>,
    /// The chain group it races in.
    group: Option<usize>,
}

pub struct Engine {
    rules: Vec<AlertRule>,
    nets: Vec<NetSeen>,
    episodes: HashMap<(usize, NetIdx, Subject), Episode>,
}

fn amount(v: U256, decimals: u8) -> f64 {
    let raw: f64 = v.to_string().parse().unwrap_or(f64::NAN);
    raw / 10f64.powi(i32::from(decimals))
}

fn abi_number(v: &AbiValue) -> Option<f64> {
    match v {
        AbiValue::Uint { value, decimals } => Some(amount(*value, decimals.unwrap_or(0))),
        AbiValue::Int(i) => i.to_string().parse().ok(),
        _ => None,
    }
}

impl Engine {
    /// `None` when the config has no rules.
    pub fn new(config: &Config, now: Instant) -> Option<Self> {
        if config.alerts.is_empty() {
            return None;
        }
        let nets = config
            .networks
            .iter()
            .map(|n| NetSeen {
                name: n.name.clone(),
                rules: (0..config.alerts.len())
                    .filter(|&i| config.alerts[i].applies_to(&n.name))
                    .collect(),
                has_ws: n.ws.is_some(),
                // Counting from the start: a node that never sends a head, or never
                // connects, is what these rules are for.
                last_head: Some((now, 0)),
                down_since: Some(now),
                views: n.view_calls(),
                ..NetSeen::default()
            })
            .collect();
        Some(Self {
            rules: config.alerts.clone(),
            nets,
            episodes: HashMap::new(),
        })
    }

    /// The rules of network `net` (fixed for the run: a reference count to clone).
    fn rules_for(&self, net: NetIdx) -> Arc<[usize]> {
        self.nets
            .get(net)
            .map_or_else(|| Arc::from([]), |n| n.rules.clone())
    }

    /// The condition of (rule, net, subject) now holds (`true`) or not; a notice if
    /// that is news worth sending. `once`: a condition that cannot end.
    #[allow(clippy::too_many_arguments)]
    fn judge(
        &mut self,
        rule: usize,
        net: NetIdx,
        about: Subject,
        holds: bool,
        once: bool,
        message: String,
        now: Instant,
    ) -> Option<AlertNotice> {
        let key = (rule, net, about);
        let cooldown = self.rules[rule].cooldown;
        let e = self.episodes.entry(key).or_default();
        // A new episode, or one held back by the cooldown that still goes on (it
        // is sent once the cooldown is over).
        let fresh = once || !e.firing;
        let held_on = !once && e.firing && !e.sent;
        let state = if holds && (fresh || held_on) {
            e.firing = !once;
            let cooling = e
                .last_sent
                .is_some_and(|t| now.duration_since(t) < cooldown);
            if cooling {
                if fresh {
                    e.held += 1;
                }
                e.sent = false;
                return None;
            }
            e.sent = true;
            e.last_sent = Some(now);
            AlertState::Fired
        } else if !holds && e.firing {
            e.firing = false;
            if !e.sent {
                return None;
            }
            AlertState::Resolved
        } else {
            return None;
        };
        let repeats = if state == AlertState::Fired {
            std::mem::take(&mut e.held)
        } else {
            0
        };
        let r = &self.rules[rule];
        Some(AlertNotice {
            rule: r.name.clone(),
            kind: r.kind.name(),
            network: self.nets[net].name.clone(),
            state,
            message,
            about,
            repeats,
            resolves: !once,
            at: SystemTime::now(),
            sinks: r.sinks.clone(),
        })
    }

    /// Conditions made of time passing: a head that does not come, a connection
    /// that stays down.
    pub fn tick(&mut self, now: Instant) -> Vec<(NetIdx, AlertNotice)> {
        let mut out = Vec::new();
        for net in 0..self.nets.len() {
            for &rule in self.rules_for(net).iter() {
                let n = &self.nets[net];
                let (holds, message) = match self.rules[rule].kind {
                    AlertKind::HeadStalled { secs } => {
                        let Some((at, number)) = n.last_head else {
                            continue;
                        };
                        let quiet = now.duration_since(at);
                        let last = if number == 0 {
                            "none yet".to_string()
                        } else {
                            fmt::thousands(number)
                        };
                        (
                            quiet >= Duration::from_secs(secs),
                            format!("no new head for {}s (last: {last})", quiet.as_secs()),
                        )
                    }
                    AlertKind::ProviderLag { blocks, secs } => {
                        let (Some(since), Some((behind, best))) = (n.lagging.get(&rule), n.behind)
                        else {
                            continue;
                        };
                        let long = now.duration_since(*since);
                        (
                            long >= Duration::from_secs(secs),
                            format!(
                                "{behind} blocks behind its group's best head for {}s (more than {blocks}; best {} when last told)",
                                long.as_secs(),
                                fmt::thousands(best),
                            ),
                        )
                    }
                    AlertKind::ConnectionDown { .. } if !n.has_ws => continue,
                    AlertKind::ConnectionDown { secs } => match n.down_since {
                        Some(t) => (
                            now.duration_since(t) >= Duration::from_secs(secs),
                            format!("not live for {}s", now.duration_since(t).as_secs()),
                        ),
                        None => continue,
                    },
                    _ => continue,
                };
                if holds
                    && let Some(a) =
                        self.judge(rule, net, Subject::Network, true, false, message, now)
                {
                    out.push((net, a));
                }
            }
        }
        out
    }

    /// What an update makes news of.
    pub fn observe(&mut self, u: &Update, now: Instant) -> Vec<(NetIdx, AlertNotice)> {
        let net = u.net();
        if net >= self.nets.len() {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut push = |o: Option<AlertNotice>| {
            if let Some(a) = o {
                out.push((net, a));
            }
        };
        match u {
            Update::Head { head, .. } => {
                let before = self.nets[net].last_head;
                self.nets[net].last_head = Some((now, head.number));
                for &rule in self.rules_for(net).iter() {
                    if matches!(self.rules[rule].kind, AlertKind::HeadStalled { .. }) {
                        let quiet = before.map_or(0, |(t, _)| now.duration_since(t).as_secs());
                        let msg = format!(
                            "heads again: {} after {quiet}s",
                            fmt::thousands(head.number)
                        );
                        push(self.judge(rule, net, Subject::Network, false, false, msg, now));
                    }
                }
            }
            Update::Connection { state, .. } => {
                let live = matches!(state, ConnState::Live { .. });
                let n = &mut self.nets[net];
                let was = n.down_since;
                n.down_since = match (live, was) {
                    (true, _) => None,
                    (false, Some(t)) => Some(t),
                    (false, None) => Some(now),
                };
                if live {
                    for &rule in self.rules_for(net).iter() {
                        if matches!(self.rules[rule].kind, AlertKind::ConnectionDown { .. }) {
                            let down = was.map_or(0, |t| now.duration_since(t).as_secs());
                            let msg = format!("live again after {down}s");
                            push(self.judge(rule, net, Subject::Network, false, false, msg, now));
                        }
                    }
                }
            }
            Update::Reorg { reorg, .. } => {
                for &rule in self.rules_for(net).iter() {
                    if let AlertKind::Reorg { min_depth } = self.rules[rule].kind
                        && reorg.depth >= min_depth
                    {
                        let msg = format!(
                            "reorg {} deep from block {}",
                            reorg.depth,
                            fmt::thousands(reorg.from_number)
                        );
                        push(self.judge(rule, net, Subject::Network, true, true, msg, now));
                    }
                }
            }
            // Out of its group (a group of one, or one without it): no best to lag
            // behind; an episode under way ends.
            Update::Group { group, info, .. } => {
                for i in 0..self.nets.len() {
                    let member = info.members.len() >= 2 && info.members.contains(&i);
                    let n = &mut self.nets[i];
                    if member {
                        n.group = Some(*group);
                        continue;
                    }
                    if n.group != Some(*group) {
                        continue;
                    }
                    n.group = None;
                    n.behind = None;
                    let ended: Vec<usize> = n.lagging.drain().map(|(r, _)| r).collect();
                    for rule in ended {
                        let msg = "no longer in a chain group".to_string();
                        if let Some(a) =
                            self.judge(rule, i, Subject::Network, false, false, msg, now)
                        {
                            out.push((i, a));
                        }
                    }
                }
            }
            Update::Behind { behind, best, .. } => {
                self.nets[net].behind = Some((*behind, *best));
                for &rule in self.rules_for(net).iter() {
                    let AlertKind::ProviderLag { blocks, .. } = self.rules[rule].kind else {
                        continue;
                    };
                    let n = &mut self.nets[net];
                    if *behind > blocks {
                        n.lagging.entry(rule).or_insert(now);
                    } else if n.lagging.remove(&rule).is_some() {
                        let msg = format!("back within {blocks} blocks of its group's best head");
                        push(self.judge(rule, net, Subject::Network, false, false, msg, now));
                    }
                }
            }
            // A new chain: its balances are not moves from the old one's.
            Update::ChainReset { .. } => self.nets[net].balances.clear(),
            Update::Token { meta, .. } => {
                if let Some(d) = meta.decimals {
                    self.nets[net].decimals.insert(meta.address, d);
                }
            }
            // No longer watched: its episodes end unsaid, and watched again later,
            // its first balance is no move.
            Update::Watching {
                address,
                label: None,
                ..
            } => {
                self.nets[net].balances.retain(|(h, _), _| h != address);
                self.episodes.retain(|(_, n, about), _| {
                    *n != net
                        || !matches!(about, Subject::Balance { holder, .. } if holder == address)
                });
            }
            Update::Balance { address, wei, .. } => {
                for a in self.balance(net, *address, None, *wei, now) {
                    push(Some(a));
                }
            }
            Update::TokenBalance {
                holder,
                token,
                amount,
                ..
            } => {
                for a in self.balance(net, *holder, Some(*token), *amount, now) {
                    push(Some(a));
                }
            }
            Update::Log { log, .. } if !log.removed => {
                for &rule in self.rules_for(net).iter() {
                    let AlertKind::Transfer {
                        min_value,
                        contract,
                    } = self.rules[rule].kind
                    else {
                        continue;
                    };
                    if contract.is_some_and(|c| c != log.address) {
                        continue;
                    }
                    // The event's value: its first unsigned amount that is not indexed.
                    let value = log
                        .args
                        .iter()
                        .filter(|a| !a.indexed)
                        .find_map(|a| abi_number(&a.value));
                    if let Some(v) = value.filter(|v| *v >= min_value) {
                        let what = log.event.as_deref().unwrap_or("event");
                        let source = log
                            .source
                            .clone()
                            .unwrap_or_else(|| log.address.to_string());
                        let msg = format!("{source} {what} of {v} (at least {min_value})");
                        let about = Subject::Contract(log.address);
                        push(self.judge(rule, net, about, true, true, msg, now));
                    }
                }
            }
            Update::View {
                contract,
                index,
                value: Ok(v),
                ..
            } => {
                let Some(x) = abi_number(v) else {
                    return out;
                };
                for &rule in self.rules_for(net).iter() {
                    let AlertKind::View {
                        contract: c,
                        call,
                        above,
                        below,
                    } = &self.rules[rule].kind
                    else {
                        continue;
                    };
                    let (above, below) = (*above, *below);
                    if c != contract || self.nets[net].views.get(&(*c, *index)) != Some(call) {
                        continue;
                    }
                    let over = above.is_some_and(|a| x > a);
                    let under = below.is_some_and(|b| x < b);
                    let msg = match (over, under) {
                        (true, _) => format!(
                            "{call} of {contract} is {x}, above {}",
                            above.unwrap_or_default()
                        ),
                        (_, true) => format!(
                            "{call} of {contract} is {x}, below {}",
                            below.unwrap_or_default()
                        ),
                        _ => format!("{call} of {contract} is {x}, back in range"),
                    };
                    let about = Subject::View {
                        contract: *contract,
                        index: *index,
                    };
                    push(self.judge(rule, net, about, over || under, false, msg, now));
                }
            }
            Update::Stats { stats, .. } => {
                let Some(share) = stats.cost.budget_share() else {
                    return out;
                };
                for &rule in self.rules_for(net).iter() {
                    if let AlertKind::Credits { percent } = self.rules[rule].kind {
                        let msg = format!(
                            "spend projects to {:.0}% of the daily budget (alert at {percent}%)",
                            share * 100.0
                        );
                        let holds = share * 100.0 >= percent;
                        push(self.judge(rule, net, Subject::Network, holds, false, msg, now));
                    }
                }
            }
            _ => {}
        }
        out
    }

    fn balance(
        &mut self,
        net: NetIdx,
        holder: Address,
        token: Option<Address>,
        value: U256,
        now: Instant,
    ) -> Vec<AlertNotice> {
        let n = &mut self.nets[net];
        let before = n.balances.insert((holder, token), value);
        let decimals = match token {
            None => Some(18),
            Some(t) => n.decimals.get(&t).copied(),
        };
        // Without its decimals a token amount is not in whole units: no judgement.
        let Some(decimals) = decimals else {
            return Vec::new();
        };
        let unit = match token {
            None => "native".to_string(),
            Some(t) => t.to_string(),
        };
        let (now_v, before_v) = (amount(value, decimals), before.map(|b| amount(b, decimals)));
        let mut out = Vec::new();
        for &rule in self.rules_for(net).iter() {
            let about = Subject::Balance { holder, token };
            let notice = match &self.rules[rule].kind {
                AlertKind::BalanceChange {
                    min_delta,
                    address,
                    token: t,
                } if address.is_none_or(|a| a == holder) && t.is_none_or(|t| t == token) => {
                    let Some(b) = before_v else { continue };
                    let delta = now_v - b;
                    if delta.abs() < *min_delta {
                        continue;
                    }
                    let msg = format!("{holder} {unit} balance moved by {delta:+} to {now_v}");
                    self.judge(rule, net, about, true, true, msg, now)
                }
                AlertKind::BalanceBelow {
                    threshold,
                    address,
                    token: t,
                } if address.is_none_or(|a| a == holder) && t.is_none_or(|t| t == token) => {
                    let below = now_v < *threshold;
                    let msg = if below {
                        format!("{holder} {unit} balance {now_v} is below {threshold}")
                    } else {
                        format!("{holder} {unit} balance {now_v} is back above {threshold}")
                    };
                    self.judge(rule, net, about, below, false, msg, now)
                }
                _ => continue,
            };
            out.extend(notice);
        }
        out
    }
}

#[cfg(test)]
mod tests;
