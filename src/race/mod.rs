//! The race between the endpoints of one chain: networks whose endpoints report the
//! same chain id (or name the same `group`) form a group, and every block any of
//! them delivers is raced: who had it first (by the time its frame came off the
//! socket), how much later each other one had it, who only backfilled it and who
//! never delivered it. Between races: how many blocks each endpoint's head is
//! behind the group's best, and where endpoints disagree on a block.
//!
//! Pure, like the alert engine: [`Race::observe`] and [`Race::tick`] return the
//! facts, which [`crate::tap`] puts into the update stream for the screen, headless,
//! the metrics and the alerts.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant, SystemTime};

use alloy_primitives::B256;

use crate::config::Config;
use crate::event::{
    ChainGroup, ConnState, Delivery, Dispute, Head, HeadSource, NetIdx, RaceResult, Update,
};

/// A race whose missing endpoints are all at least 2 blocks past it is settled
/// this long after the first delivery (time for a gap fill to come in).
pub const GRACE: Duration = Duration::from_secs(2);
/// Longest a race stays open: an endpoint that has not delivered the block by then
/// missed it.
pub const OPEN_FOR: Duration = Duration::from_secs(30);
/// Open races per group, at most (the oldest is settled first).
const OPEN_MAX: usize = 256;
/// Blocks settled lately, per group: one delivered again late is not raced again.
const DONE_KEPT: usize = 1024;
/// Numbers below an endpoint's head whose hashes are kept for comparison.
const HASHES_KEPT: u64 = 256;
/// Numbers compared per pair of endpoints and head, at most (after a long outage
/// only the newest are).
const COMPARE_MAX: u64 = 64;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Named(String),
    Chain(u64),
}

#[derive(Debug, Default)]
struct Member {
    name: String,
    /// `group = "…"` in the config.
    named: Option<String>,
    /// As configured, then as reported.
    chain_id: Option<u64>,
    group: Option<usize>,
    finality_every: u64,
    tip: Option<u64>,
    /// Its connection delivers heads (live, or polling): a member that is down
    /// does not hold a race open.
    up: bool,
    /// The last `behind` sent.
    behind: Option<u64>,
    /// This endpoint's hash at each recent number: its heads and their parents.
    hashes: BTreeMap<u64, B256>,
}

#[derive(Debug)]
struct Open {
    number: u64,
    /// Each member's first delivery: when, and how.
    got: Vec<(NetIdx, Instant, HeadSource)>,
}

#[derive(Debug)]
struct Group {
    key: Key,
    name: String,
    chain_id: Option<u64>,
    members: Vec<NetIdx>,
    open: HashMap<B256, Open>,
    done: HashSet<B256>,
    done_order: VecDeque<B256>,
    /// The highest number compared, per pair of members (lower index first).
    compared: HashMap<(NetIdx, NetIdx), u64>,
    /// Numbers flagged as a fork (recent ones).
    forked: BTreeSet<u64>,
}

impl Group {
    fn racing(&self) -> bool {
        self.members.len() >= 2
    }

    fn settled(&mut self, hash: B256) {
        if self.done.insert(hash) {
            self.done_order.push_back(hash);
            if self.done_order.len() > DONE_KEPT
                && let Some(old) = self.done_order.pop_front()
            {
                self.done.remove(&old);
            }
        }
    }
}

pub struct Race {
    members: Vec<Member>,
    groups: Vec<Group>,
}

/// The name a group of unnamed networks goes by: what their names share (the
/// `mainnet` of `mainnet-infura` and `mainnet-alchemy`), else `chain ID`.
fn group_name(names: &[&str], chain_id: Option<u64>) -> String {
    let mut prefix = names.first().map_or("", |n| *n);
    for n in names.iter().skip(1) {
        let common = prefix
            .char_indices()
            .zip(n.chars())
            .take_while(|((_, a), b)| a == b)
            .last()
            .map_or(0, |((i, c), _)| i + c.len_utf8());
        prefix = &prefix[..common];
    }
    let trimmed = prefix.trim_end_matches(|c: char| !c.is_alphanumeric());
    if trimmed.chars().count() >= 2 {
        trimmed.to_string()
    } else {
        match chain_id {
            Some(id) => format!("chain {id}"),
            None => "group".to_string(),
        }
    }
}

impl Race {
    /// `None` with fewer than two networks: nothing can race.
    pub fn new(config: &Config) -> Option<Self> {
        if config.networks.len() < 2 {
            return None;
        }
        let members = config
            .networks
            .iter()
            .map(|n| Member {
                name: n.name.clone(),
                named: n.group.clone(),
                chain_id: n.chain_id,
                finality_every: n.finality_every,
                ..Member::default()
            })
            .collect();
        Some(Self {
            members,
            groups: Vec::new(),
        })
    }

    /// The groups the config already makes (named ones, configured chain ids).
    pub fn start(&mut self) -> Vec<Update> {
        self.regroup()
    }

    /// How often network `net` should read its finality: its `finality_every`
    /// while it races, else never (0).
    pub fn finality_every(&self, net: NetIdx) -> u64 {
        match self.group_of(net) {
            Some(_) => self.members[net].finality_every,
            None => 0,
        }
    }

    /// Some race is open: the clock settles it.
    pub fn waiting(&self) -> bool {
        self.groups.iter().any(|g| !g.open.is_empty())
    }

    /// Whether network `net` races now (in a group of two or more).
    pub fn races(&self, net: NetIdx) -> bool {
        self.group_of(net).is_some()
    }

    /// The group a member belongs in: the one it names; else the named group
    /// whose members are on its chain (so `group` on one provider of a chain
    /// names the group of all of them); else its chain's.
    fn key_of(&self, m: &Member) -> Option<Key> {
        if let Some(n) = &m.named {
            return Some(Key::Named(n.clone()));
        }
        let id = m.chain_id?;
        let named = self
            .members
            .iter()
            .find(|o| o.chain_id == Some(id) && o.named.is_some())
            .and_then(|o| o.named.clone());
        Some(named.map_or(Key::Chain(id), Key::Named))
    }

    /// Sort the members into groups again; a `Group` update for each that changed.
    fn regroup(&mut self) -> Vec<Update> {
        let mut wanted: Vec<(Key, Vec<NetIdx>)> = Vec::new();
        for (i, m) in self.members.iter().enumerate() {
            let Some(k) = self.key_of(m) else { continue };
            match wanted.iter_mut().find(|(w, _)| *w == k) {
                Some((_, list)) => list.push(i),
                None => wanted.push((k, vec![i])),
            }
        }
        let mut out = Vec::new();
        // Groups no one belongs to any more are emptied.
        for gi in 0..self.groups.len() {
            if !wanted.iter().any(|(k, _)| *k == self.groups[gi].key)
                && !self.groups[gi].members.is_empty()
            {
                let lead = self.groups[gi].members[0];
                self.set_members(gi, Vec::new());
                out.push(self.group_update(gi, lead));
            }
        }
        for (key, list) in wanted {
            let gi = match self.groups.iter().position(|g| g.key == key) {
                Some(gi) => gi,
                None => {
                    self.groups.push(Group {
                        key: key.clone(),
                        name: String::new(),
                        chain_id: None,
                        members: Vec::new(),
                        open: HashMap::new(),
                        done: HashSet::new(),
                        done_order: VecDeque::new(),
                        compared: HashMap::new(),
                        forked: BTreeSet::new(),
                    });
                    self.groups.len() - 1
                }
            };
            let chain_id = list.iter().find_map(|&i| self.members[i].chain_id);
            let names: Vec<&str> = list
                .iter()
                .map(|&i| self.members[i].name.as_str())
                .collect();
            let name = match &key {
                Key::Named(n) => n.clone(),
                Key::Chain(_) => group_name(&names, chain_id),
            };
            let g = &self.groups[gi];
            if g.members == list && g.name == name && g.chain_id == chain_id {
                continue;
            }
            let (was_alone, is_alone) = (g.members.len() < 2, list.len() < 2);
            let lead = list[0];
            self.groups[gi].name = name;
            self.groups[gi].chain_id = chain_id;
            self.set_members(gi, list);
            // A lone network's "group" is news only when it was a real one before.
            if !(was_alone && is_alone) {
                out.push(self.group_update(gi, lead));
            }
        }
        out
    }

    fn set_members(&mut self, gi: usize, list: Vec<NetIdx>) {
        for m in &mut self.members {
            if m.group == Some(gi) {
                m.group = None;
                m.behind = None;
            }
        }
        for &i in &list {
            self.members[i].group = Some(gi);
        }
        let g = &mut self.groups[gi];
        // Races half run with other members are no comparison.
        g.open.clear();
        g.compared.clear();
        g.members = list;
    }

    fn group_update(&self, gi: usize, net: NetIdx) -> Update {
        let g = &self.groups[gi];
        Update::Group {
            net,
            group: gi,
            info: Box::new(ChainGroup {
                name: g.name.clone(),
                chain_id: g.chain_id,
                members: g.members.clone(),
            }),
        }
    }

    /// The racing group of `net`, if it has one.
    fn group_of(&self, net: NetIdx) -> Option<usize> {
        let gi = self.members.get(net)?.group?;
        self.groups[gi].racing().then_some(gi)
    }

    /// What an update makes news of. `now`: when it came (a fetched head's arrival).
    pub fn observe(&mut self, u: &Update, now: Instant) -> Vec<Update> {
        let net = u.net();
        if net >= self.members.len() {
            return Vec::new();
        }
        match u {
            Update::ChainId { chain_id, .. } => {
                if self.members[net].chain_id == Some(*chain_id) {
                    return Vec::new();
                }
                self.members[net].chain_id = Some(*chain_id);
                self.regroup()
            }
            Update::Head { head, .. } => self.on_head(net, head, now),
            Update::Connection { state, .. } => {
                self.members[net].up =
                    matches!(state, ConnState::Live { .. } | ConnState::Polling { .. });
                Vec::new()
            }
            Update::Reorg { reorg, .. } => {
                self.forget(net, &reorg.orphaned);
                Vec::new()
            }
            Update::HeadRetracted { number, hash, .. } => {
                self.forget(net, &[(*number, *hash)]);
                let mut out = Vec::new();
                if let Some(gi) = self.group_of(net) {
                    self.behind(gi, &mut out);
                }
                out
            }
            Update::ChainReset { .. } => {
                let m = &mut self.members[net];
                m.tip = None;
                m.behind = None;
                m.hashes.clear();
                if let Some(gi) = m.group {
                    let g = &mut self.groups[gi];
                    g.compared.retain(|(a, b), _| *a != net && *b != net);
                    for o in g.open.values_mut() {
                        o.got.retain(|(n, _, _)| *n != net);
                    }
                    g.open.retain(|_, o| !o.got.is_empty());
                    // Numbers start again: what was flagged at them is another chain's.
                    g.forked.clear();
                }
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// Blocks `net` took back (a reorg's orphans, a head the node does not have):
    /// gone from its hashes, their open races dropped (an orphan is raced by no
    /// one), its head the highest it still holds.
    fn forget(&mut self, net: NetIdx, blocks: &[(u64, B256)]) {
        let m = &mut self.members[net];
        for (n, h) in blocks {
            if m.hashes.get(n) == Some(h) {
                m.hashes.remove(n);
            }
        }
        if m.tip.is_some() {
            m.tip = m.hashes.keys().next_back().copied();
        }
        if let Some(gi) = m.group {
            let g = &mut self.groups[gi];
            for (_, h) in blocks {
                g.open.remove(h);
            }
        }
    }

    /// Races whose time is up.
    pub fn tick(&mut self, now: Instant) -> Vec<Update> {
        let mut out = Vec::new();
        for gi in 0..self.groups.len() {
            if self.groups[gi].racing() {
                self.settle_due(gi, now, &mut out);
            }
        }
        out
    }

    fn on_head(&mut self, net: NetIdx, head: &Head, now: Instant) -> Vec<Update> {
        let m = &mut self.members[net];
        m.tip = Some(m.tip.map_or(head.number, |t| t.max(head.number)));
        m.hashes.insert(head.number, head.hash);
        if let Some(parent) = head.number.checked_sub(1) {
            m.hashes.insert(parent, head.parent_hash);
        }
        if let Some(tip) = m.tip {
            let floor = tip.saturating_sub(HASHES_KEPT);
            m.hashes = m.hashes.split_off(&floor);
        }
        let Some(gi) = self.group_of(net) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let at = head.seen.unwrap_or(now);
        let best = self.groups[gi]
            .members
            .iter()
            .filter_map(|&i| self.members[i].tip)
            .max()
            .unwrap_or(head.number);
        let g = &mut self.groups[gi];
        // A gap fill far below the best head (after an outage) is not raced: the
        // others delivered those blocks long ago, and their hashes are forgotten.
        let recent = head.number.saturating_add(HASHES_KEPT) >= best;
        if recent && !g.done.contains(&head.hash) {
            let open = g.open.entry(head.hash).or_insert_with(|| Open {
                number: head.number,
                got: Vec::new(),
            });
            if !open.got.iter().any(|(n, _, _)| *n == net) {
                open.got.push((net, at, head.source));
            }
            if open.got.len() == g.members.len() {
                self.settle(gi, head.hash, &mut out);
            } else if self.groups[gi].open.len() > OPEN_MAX {
                let oldest = self.groups[gi]
                    .open
                    .iter()
                    .min_by_key(|(_, o)| o.number)
                    .map(|(h, _)| *h);
                if let Some(h) = oldest {
                    self.settle(gi, h, &mut out);
                }
            }
        }
        self.behind(gi, &mut out);
        self.compare(gi, net, &mut out);
        self.settle_due(gi, now, &mut out);
        out
    }

    /// Every member's distance to the best head, where it changed.
    fn behind(&mut self, gi: usize, out: &mut Vec<Update>) {
        let g = &self.groups[gi];
        let Some(best) = g.members.iter().filter_map(|&i| self.members[i].tip).max() else {
            return;
        };
        for &i in &g.members {
            let m = &mut self.members[i];
            let Some(tip) = m.tip else { continue };
            let behind = best.saturating_sub(tip);
            if m.behind != Some(behind) {
                m.behind = Some(behind);
                out.push(Update::Behind {
                    net: i,
                    group: gi,
                    behind,
                    best,
                });
            }
        }
    }

    /// Numbers that `net` and another member are both 2 blocks past, compared once:
    /// different hashes, each still held, are a fork.
    fn compare(&mut self, gi: usize, net: NetIdx, out: &mut Vec<Update>) {
        let Some(tip) = self.members[net].tip else {
            return;
        };
        let others: Vec<NetIdx> = self.groups[gi]
            .members
            .iter()
            .copied()
            .filter(|&o| o != net)
            .collect();
        for other in others {
            let Some(other_tip) = self.members[other].tip else {
                continue;
            };
            let Some(upto) = tip.min(other_tip).checked_sub(2) else {
                continue;
            };
            let pair = (net.min(other), net.max(other));
            let g = &mut self.groups[gi];
            let from = g
                .compared
                .get(&pair)
                .map_or(0, |c| c + 1)
                .max(upto.saturating_sub(COMPARE_MAX - 1));
            if from > upto {
                continue;
            }
            g.compared.insert(pair, upto);
            for n in from..=upto {
                let (a, b) = (
                    self.members[net].hashes.get(&n),
                    self.members[other].hashes.get(&n),
                );
                let (Some(a), Some(b)) = (a, b) else { continue };
                // Both chains linked through the block above (a head shown before
                // the blocks under it were fetched is not yet either's word).
                let linked = |m: &Member| m.hashes.contains_key(&(n + 1));
                if a == b
                    || self.groups[gi].forked.contains(&n)
                    || !linked(&self.members[net])
                    || !linked(&self.members[other])
                {
                    continue;
                }
                let g = &mut self.groups[gi];
                g.forked.insert(n);
                while g.forked.len() > DONE_KEPT {
                    g.forked.pop_first();
                }
                let hashes = g
                    .members
                    .iter()
                    .filter_map(|&i| self.members[i].hashes.get(&n).map(|h| (i, *h)))
                    .collect();
                out.push(Update::Disputed {
                    net: pair.0,
                    group: gi,
                    dispute: Box::new(Dispute::Fork { number: n, hashes }),
                });
            }
        }
    }

    /// Settle the races whose time is up: every missing member 2 blocks past it
    /// (and the grace over), or open for [`OPEN_FOR`].
    fn settle_due(&mut self, gi: usize, now: Instant, out: &mut Vec<Update>) {
        let g = &self.groups[gi];
        let mut due: Vec<(u64, B256)> = g
            .open
            .iter()
            .filter(|(_, o)| {
                let first = o.got.iter().map(|(_, t, _)| *t).min().unwrap_or(now);
                let age = now.saturating_duration_since(first);
                // Each one that has not delivered it went past it, or is down.
                let passed = g.members.iter().all(|&i| {
                    let m = &self.members[i];
                    o.got.iter().any(|(n, _, _)| *n == i)
                        || !m.up
                        || m.tip.is_some_and(|t| t >= o.number.saturating_add(2))
                });
                age >= OPEN_FOR || (passed && age >= GRACE)
            })
            .map(|(h, o)| (o.number, *h))
            .collect();
        due.sort_unstable();
        for (_, h) in due {
            self.settle(gi, h, out);
        }
    }

    /// The race of `hash` is over: its result, and a head no one else confirms.
    fn settle(&mut self, gi: usize, hash: B256, out: &mut Vec<Update>) {
        let g = &mut self.groups[gi];
        let Some(open) = g.open.remove(&hash) else {
            return;
        };
        g.settled(hash);
        // Judged by those who delivered it themselves. Only gap fills (every member
        // caught up after being away): no one delivered it, there was no race.
        let own = |s: &HeadSource| *s != HeadSource::Backfill;
        let first = open
            .got
            .iter()
            .filter(|(_, _, s)| own(s))
            .min_by_key(|(_, t, _)| *t);
        let Some(&(first, first_at, _)) = first else {
            return;
        };
        let deliveries = g
            .members
            .iter()
            .map(|&i| {
                let d = match open.got.iter().find(|(n, _, _)| *n == i) {
                    Some((_, _, HeadSource::Backfill)) => Delivery::Backfilled,
                    Some((_, t, source)) => Delivery::After {
                        ms: t.saturating_duration_since(first_at).as_millis() as u64,
                        source: *source,
                    },
                    None => Delivery::Missed,
                };
                (i, d)
            })
            .collect::<Vec<_>>();
        let wall = SystemTime::now()
            .checked_sub(Instant::now().saturating_duration_since(first_at))
            .unwrap_or_else(SystemTime::now);
        // Delivered by one alone, and someone else went 2 blocks past it holding
        // another block there (or none): no one confirms it. A fork there is said
        // already.
        // (The first still holds it: one it reorged away itself is an orphan, not
        // a lie; and the others' hashes still reach back to it.)
        let alone = open.got.len() == 1
            && !g.forked.contains(&open.number)
            && self.members[first].hashes.get(&open.number) == Some(&hash);
        let denied = alone
            && g.members.iter().any(|&i| {
                let m = &self.members[i];
                i != first
                    && m.tip.is_some_and(|t| {
                        t >= open.number.saturating_add(2)
                            && t <= open.number.saturating_add(HASHES_KEPT)
                    })
                    && m.hashes.get(&open.number) != Some(&hash)
            });
        out.push(Update::Race {
            net: first,
            race: Box::new(RaceResult {
                group: gi,
                number: open.number,
                hash,
                first,
                first_at: wall,
                deliveries,
            }),
        });
        if denied {
            out.push(Update::Disputed {
                net: first,
                group: gi,
                dispute: Box::new(Dispute::Unconfirmed {
                    number: open.number,
                    net: first,
                    hash,
                }),
            });
        }
    }
}

#[cfg(test)]
mod tests;
