//! The lines of the race between a chain group's endpoints: `group`, `race`,
//! `behind`, `disagreement`, `finality`. Networks are named as configured, groups
//! by their name.

use serde_json::{Map, Value, json};

use super::NetworkNames;
use crate::event::{ChainGroup, Delivery, Dispute, Finality, FinalityTag, RaceResult, Update};

/// Group names by index, as the `group` updates told them.
#[derive(Debug, Default)]
pub(super) struct Groups(Vec<String>);

impl Groups {
    fn name(&self, gi: usize) -> &str {
        self.0.get(gi).map_or("?", String::as_str)
    }

    /// The line of a race update; `None` for any other update.
    pub(super) fn line(&mut self, u: &Update, nets: &[NetworkNames]) -> Option<Value> {
        let name = |i: usize| nets.get(i).map_or("?", |n| n.name.as_str());
        Some(match u {
            Update::Group { group, info, .. } => {
                if self.0.len() <= *group {
                    self.0.resize(*group + 1, String::new());
                }
                self.0[*group] = info.name.clone();
                group_line(info, name)
            }
            Update::Race { race, .. } => race_line(self.name(race.group), race, name),
            Update::Behind {
                net,
                group,
                behind,
                best,
            } => json!({
                "type": "behind",
                "network": name(*net),
                "group": self.name(*group),
                "blocks": behind,
                "best": best,
            }),
            Update::Disputed { group, dispute, .. } => {
                dispute_line(self.name(*group), dispute, name)
            }
            Update::Finality { net, finality } => finality_line(name(*net), finality),
            _ => return None,
        })
    }
}

fn group_line<'a>(g: &ChainGroup, name: impl Fn(usize) -> &'a str) -> Value {
    json!({
        "type": "group",
        "group": g.name,
        "chain_id": g.chain_id,
        "networks": g.members.iter().map(|&i| name(i)).collect::<Vec<_>>(),
    })
}

fn race_line<'a>(group: &str, r: &RaceResult, name: impl Fn(usize) -> &'a str) -> Value {
    let mut delays = Map::new();
    let (mut backfilled, mut missed) = (Vec::new(), Vec::new());
    for (i, d) in &r.deliveries {
        delays.insert(name(*i).to_string(), json!(d.ms()));
        match d {
            Delivery::Backfilled => backfilled.push(name(*i)),
            Delivery::Missed => missed.push(name(*i)),
            Delivery::After { .. } => {}
        }
    }
    json!({
        "type": "race",
        "group": group,
        "number": r.number,
        "hash": r.hash,
        "first": name(r.first),
        "delays_ms": delays,
        "backfilled": backfilled,
        "missed": missed,
    })
}

fn dispute_line<'a>(group: &str, d: &Dispute, name: impl Fn(usize) -> &'a str) -> Value {
    match d {
        Dispute::Fork { number, hashes } => {
            let by: Map<String, Value> = hashes
                .iter()
                .map(|(i, h)| (name(*i).to_string(), json!(h)))
                .collect();
            json!({
                "type": "disagreement",
                "group": group,
                "kind": "fork",
                "number": number,
                "hashes": by,
            })
        }
        Dispute::Unconfirmed { number, net, hash } => json!({
            "type": "disagreement",
            "group": group,
            "kind": "unconfirmed",
            "number": number,
            "network": name(*net),
            "hash": hash,
        }),
    }
}

fn tag_json(t: &FinalityTag) -> Value {
    match t {
        FinalityTag::Block { number, hash } => json!({"number": number, "hash": hash}),
        FinalityTag::None => Value::Null,
        FinalityTag::Unsupported(why) => json!({"unsupported": why}),
    }
}

fn finality_line(network: &str, f: &Finality) -> Value {
    json!({
        "type": "finality",
        "network": network,
        "head": f.head,
        "safe": tag_json(&f.safe),
        "finalized": tag_json(&f.finalized),
    })
}
