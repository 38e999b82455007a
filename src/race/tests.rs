use std::time::{Duration, Instant};

use alloy_primitives::B256;

use super::*;
use crate::config::{Config, NetworkConfig};
use crate::event::{ConnState, Delivery, Dispute, Head, HeadSource, Reorg, Update};

fn config(nets: &[(&str, Option<u64>, Option<&str>)]) -> Config {
    Config::with_networks(
        nets.iter()
            .map(|(name, chain, group)| {
                let mut n = NetworkConfig::new(*name, Some("ws://127.0.0.1:1".into()), None);
                n.chain_id = *chain;
                n.group = group.map(str::to_string);
                n
            })
            .collect(),
    )
}

fn hash(n: u64, fork: u8) -> B256 {
    let mut b = [0u8; 32];
    b[..8].copy_from_slice(&n.to_be_bytes());
    b[31] = fork;
    B256::from(b)
}

fn head(n: u64, fork: u8, seen: Option<Instant>, source: HeadSource) -> Head {
    Head {
        number: n,
        hash: hash(n, fork),
        parent_hash: hash(n.saturating_sub(1), fork),
        timestamp: n,
        gas_used: 0,
        gas_limit: 0,
        base_fee: None,
        tx_count: None,
        source,
        seen,
    }
}

fn pushed(net: usize, n: u64, fork: u8, at: Instant) -> Update {
    Update::Head {
        net,
        head: head(n, fork, Some(at), HeadSource::Ws),
    }
}

fn races(out: &[Update]) -> Vec<&RaceResult> {
    out.iter()
        .filter_map(|u| match u {
            Update::Race { race, .. } => Some(&**race),
            _ => None,
        })
        .collect()
}

fn disputes(out: &[Update]) -> Vec<&Dispute> {
    out.iter()
        .filter_map(|u| match u {
            Update::Disputed { dispute, .. } => Some(&**dispute),
            _ => None,
        })
        .collect()
}

fn two() -> (Race, Instant) {
    let mut r = Race::new(&config(&[
        ("mainnet-infura", Some(1), None),
        ("mainnet-alchemy", Some(1), None),
    ]))
    .expect("two networks");
    let groups = r.start();
    assert_eq!(groups.len(), 1, "{groups:?}");
    let now = Instant::now();
    for net in 0..2 {
        r.observe(&live(net), now);
    }
    (r, now)
}

fn live(net: usize) -> Update {
    Update::Connection {
        net,
        state: ConnState::Live {
            endpoint: "ws://x".into(),
        },
    }
}

#[test]
fn networks_of_one_chain_form_a_group_named_by_what_their_names_share() {
    let (_, _) = two();
    let mut r = Race::new(&config(&[
        ("a", None, None),
        ("b", None, None),
        ("own", Some(5), Some("l1")),
        ("other", None, Some("l1")),
    ]))
    .expect("networks");
    let start = r.start();
    let [Update::Group { group: g, info, .. }] = start.as_slice() else {
        panic!("one named group: {start:?}");
    };
    assert_eq!(
        (info.name.as_str(), info.members.as_slice()),
        ("l1", &[2, 3][..])
    );
    // Chain ids as reported: a and b race as `chain 7`; a lone one is no news.
    let now = Instant::now();
    let one = r.observe(
        &Update::ChainId {
            net: 0,
            chain_id: 7,
        },
        now,
    );
    assert!(one.is_empty(), "{one:?}");
    let out = r.observe(
        &Update::ChainId {
            net: 1,
            chain_id: 7,
        },
        now,
    );
    let [Update::Group { group, info, .. }] = out.as_slice() else {
        panic!("{out:?}");
    };
    assert_ne!(group, g);
    assert_eq!(info.name, "chain 7");
    assert_eq!(info.members, vec![0, 1]);
    // b moves to another chain: the group is down to one, and says so.
    let out = r.observe(
        &Update::ChainId {
            net: 1,
            chain_id: 8,
        },
        now,
    );
    assert!(
        out.iter()
            .any(|u| matches!(u, Update::Group { info, .. } if info.members == vec![0])),
        "{out:?}"
    );
}

#[test]
fn group_name_is_the_shared_prefix_or_the_chain() {
    assert_eq!(
        group_name(&["mainnet-infura", "mainnet-alchemy"], Some(1)),
        "mainnet"
    );
    assert_eq!(group_name(&["sim-l1", "sim-l1-slow"], None), "sim-l1");
    assert_eq!(group_name(&["a", "b"], Some(10)), "chain 10");
    assert_eq!(group_name(&["x1", "x2"], Some(10)), "chain 10");
}

#[test]
fn the_first_to_deliver_wins_and_the_other_is_measured_from_it() {
    let (mut r, t0) = two();
    assert!(races(&r.observe(&pushed(0, 10, 0, t0), t0)).is_empty());
    // The slower one's head reaches the stream first: arrival times decide.
    let out = r.observe(&pushed(1, 11, 0, t0 + Duration::from_millis(5)), t0);
    assert!(races(&out).is_empty());
    let late = t0 + Duration::from_millis(300);
    let out = r.observe(&pushed(1, 10, 0, late), late);
    let [race] = races(&out)[..] else {
        panic!("{out:?}");
    };
    assert_eq!((race.number, race.first), (10, 0));
    assert_eq!(
        race.deliveries,
        vec![
            (
                0,
                Delivery::After {
                    ms: 0,
                    source: HeadSource::Ws
                }
            ),
            (
                1,
                Delivery::After {
                    ms: 300,
                    source: HeadSource::Ws
                }
            ),
        ]
    );
    // Seen out of order: 1 had 11 before 0.
    let out = r.observe(&pushed(0, 11, 0, t0 + Duration::from_millis(50)), late);
    let [race] = races(&out)[..] else {
        panic!("{out:?}");
    };
    assert_eq!(race.first, 1);
    assert_eq!(race.deliveries[0].1.ms(), Some(45));
    // Delivered again (a repeat after a reconnect): not raced twice.
    assert!(races(&r.observe(&pushed(1, 10, 0, late), late)).is_empty());
}

#[test]
fn a_gap_fill_is_no_delivery_and_a_block_never_sent_is_missed() {
    let (mut r, t0) = two();
    r.observe(&pushed(0, 10, 0, t0), t0);
    let fill = Update::Head {
        net: 1,
        head: head(10, 0, None, HeadSource::Backfill),
    };
    let out = r.observe(&fill, t0 + Duration::from_secs(1));
    assert_eq!(races(&out)[0].deliveries[1].1, Delivery::Backfilled);
    // 11 never comes from 1, which goes on at 13: missed once the grace is over.
    r.observe(&pushed(0, 11, 0, t0), t0);
    r.observe(&pushed(1, 13, 0, t0), t0);
    assert!(races(&r.tick(t0 + Duration::from_millis(500))).is_empty());
    let out = r.tick(t0 + GRACE);
    let [race] = races(&out)[..] else {
        panic!("{out:?}");
    };
    assert_eq!((race.number, race.deliveries[1].1), (11, Delivery::Missed));
    // 1 is ahead and 0 never catches up: 13 is settled when the race times out.
    assert!(races(&r.tick(t0 + OPEN_FOR - Duration::from_millis(1))).is_empty());
    let out = r.tick(t0 + OPEN_FOR);
    assert_eq!(races(&out)[0].deliveries[0].1, Delivery::Missed);
}

#[test]
fn behind_is_told_when_it_changes() {
    let (mut r, t0) = two();
    r.observe(&pushed(1, 5, 0, t0), t0);
    let out = r.observe(&pushed(0, 8, 0, t0), t0);
    let behind: Vec<(usize, u64, u64)> = out
        .iter()
        .filter_map(|u| match u {
            Update::Behind {
                net, behind, best, ..
            } => Some((*net, *behind, *best)),
            _ => None,
        })
        .collect();
    assert_eq!(behind, vec![(0, 0, 8), (1, 3, 8)]);
    // Nothing changed for 0: only 1 is told.
    let out = r.observe(&pushed(1, 8, 0, t0), t0);
    assert!(
        matches!(
            out.as_slice(),
            [
                ..,
                Update::Behind {
                    net: 1,
                    behind: 0,
                    ..
                }
            ]
        ),
        "{out:?}"
    );
    assert_eq!(
        out.iter()
            .filter(|u| matches!(u, Update::Behind { .. }))
            .count(),
        1
    );
}

#[test]
fn different_blocks_at_one_height_are_a_fork_once_both_are_two_past_it() {
    let (mut r, t0) = two();
    for n in 1..=3 {
        r.observe(&pushed(0, n, 0, t0), t0);
    }
    // 1 is on another chain from block 1 on.
    let out = r.observe(&pushed(1, 1, 9, t0), t0);
    assert!(disputes(&out).is_empty(), "not 2 past yet: {out:?}");
    r.observe(&pushed(1, 2, 9, t0), t0);
    let out = r.observe(&pushed(1, 3, 9, t0), t0);
    let d = disputes(&out);
    let [Dispute::Fork { number: 1, hashes }] = d[..] else {
        panic!("{out:?}");
    };
    assert_eq!(hashes, &vec![(0, hash(1, 0)), (1, hash(1, 9))]);
    // Said once.
    let out = r.observe(&pushed(1, 3, 9, t0), t0);
    assert!(disputes(&out).is_empty());
    // A reorg on one side that the other follows is no fork: same hashes 2 past.
    let (mut r, t0) = two();
    r.observe(&pushed(0, 1, 0, t0), t0);
    r.observe(&pushed(1, 1, 0, t0), t0);
    r.observe(&pushed(0, 2, 5, t0), t0);
    r.observe(&pushed(0, 1, 5, t0), t0);
    r.observe(&pushed(1, 1, 5, t0), t0);
    let mut all = Vec::new();
    for n in 2..=4 {
        all.extend(r.observe(&pushed(0, n, 5, t0), t0));
        all.extend(r.observe(&pushed(1, n, 5, t0), t0));
    }
    assert!(disputes(&all).is_empty(), "{all:?}");
}

#[test]
fn a_head_only_one_endpoint_delivered_and_others_passed_is_unconfirmed() {
    let (mut r, t0) = two();
    r.observe(&pushed(0, 1, 0, t0), t0);
    r.observe(&pushed(1, 1, 0, t0), t0);
    // 0 announces a block at 2 that 1 never has: 1 skips to 4 (its 3 unknown).
    r.observe(&pushed(0, 2, 7, t0), t0);
    let mut four = head(4, 0, Some(t0), HeadSource::Ws);
    four.parent_hash = hash(3, 0);
    r.observe(&Update::Head { net: 1, head: four }, t0);
    let out = r.tick(t0 + GRACE);
    let d = disputes(&out);
    assert_eq!(
        d,
        vec![&Dispute::Unconfirmed {
            number: 2,
            net: 0,
            hash: hash(2, 7)
        }],
        "{out:?}"
    );
}

#[test]
fn open_races_are_bounded() {
    let (mut r, t0) = two();
    let mut settled = 0;
    for n in 0..(OPEN_MAX as u64 + 10) {
        settled += races(&r.observe(&pushed(0, n, 0, t0), t0)).len();
    }
    assert_eq!(r.groups[0].open.len(), OPEN_MAX);
    assert_eq!(settled, 10);
}

#[test]
fn a_member_that_is_down_holds_no_race_open() {
    let (mut r, t0) = two();
    r.observe(
        &Update::Connection {
            net: 1,
            state: ConnState::BackingOff {
                until: t0,
                attempt: 1,
                reason: "gone".into(),
            },
        },
        t0,
    );
    r.observe(&pushed(0, 10, 0, t0), t0);
    assert!(races(&r.tick(t0 + Duration::from_secs(1))).is_empty());
    let out = r.tick(t0 + GRACE);
    assert_eq!(races(&out)[0].deliveries[1].1, Delivery::Missed, "{out:?}");
    // Back: it holds the next one open again.
    r.observe(&live(1), t0);
    r.observe(&pushed(0, 11, 0, t0), t0);
    assert!(races(&r.tick(t0 + GRACE)).is_empty());
}

#[test]
fn gap_fills_alone_are_no_race_nor_are_old_ones() {
    let (mut r, t0) = two();
    let fill = |net, n| Update::Head {
        net,
        head: head(n, 0, None, HeadSource::Backfill),
    };
    // Both catch up on 5 after a reconnect: no one pushed it.
    r.observe(&fill(0, 5), t0);
    let out = r.observe(&fill(1, 5), t0);
    assert!(races(&out).is_empty(), "{out:?}");
    // After an outage, 0 fills in blocks long gone by: not raced, not disputed.
    r.observe(&pushed(1, 2_000, 0, t0), t0);
    let mut all = Vec::new();
    for n in 1_000..1_010 {
        all.extend(r.observe(&fill(0, n), t0));
    }
    all.extend(r.tick(t0 + OPEN_FOR));
    assert!(
        races(&all).iter().all(|race| race.number == 2_000),
        "{all:?}"
    );
    assert!(disputes(&all).is_empty(), "{all:?}");
}

#[test]
fn a_reorg_drops_its_orphans_and_a_retracted_head_lowers_the_tip() {
    let (mut r, t0) = two();
    r.observe(&pushed(0, 4, 0, t0), t0);
    r.observe(&pushed(1, 4, 0, t0), t0);
    // 0 shows 5 (fork 7), then takes it back in a reorg: its race is gone.
    r.observe(&pushed(0, 5, 7, t0), t0);
    r.observe(
        &Update::Reorg {
            net: 0,
            reorg: Reorg {
                depth: 1,
                from_number: 5,
                old_hash: hash(5, 7),
                new_hash: hash(5, 0),
                orphaned: vec![(5, hash(5, 7))],
                deeper_than_tracked: false,
            },
        },
        t0,
    );
    r.observe(&pushed(1, 7, 0, t0), t0);
    let out = r.tick(t0 + OPEN_FOR);
    assert!(races(&out).iter().all(|race| race.number != 5), "{out:?}");
    assert!(disputes(&out).is_empty(), "an orphan is no lie: {out:?}");
    // 1 announces 8 that its node does not have: taken back, it is at 7 again and
    // 0 is 3 behind 7, not 4 behind 8.
    r.observe(&pushed(1, 8, 0, t0), t0);
    let out = r.observe(
        &Update::HeadRetracted {
            net: 1,
            number: 8,
            hash: hash(8, 0),
        },
        t0,
    );
    assert!(
        out.iter().any(|u| matches!(
            u,
            Update::Behind {
                net: 0,
                behind: 3,
                best: 7,
                ..
            }
        )),
        "{out:?}"
    );
}

#[test]
fn a_group_named_on_one_provider_takes_in_the_others_of_its_chain() {
    let mut r = Race::new(&config(&[
        ("infura", Some(1), None),
        ("alchemy", Some(1), Some("mainnet")),
        ("base", Some(8453), None),
        ("lab", None, Some("mainnet")),
    ]))
    .expect("networks");
    let out = r.start();
    let [Update::Group { info, .. }] = out.as_slice() else {
        panic!("one group: {out:?}");
    };
    assert_eq!(
        (info.name.as_str(), info.members.as_slice()),
        ("mainnet", &[0, 1, 3][..])
    );
    assert!(r.races(0) && r.races(3) && !r.races(2));
}
