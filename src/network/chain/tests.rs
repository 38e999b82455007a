//! Unit tests of the chain tracker: extension, reorgs, gaps, retractions.

use super::*;

fn hash(n: u64, fork: u8) -> B256 {
    let mut h = [0u8; 32];
    h[..8].copy_from_slice(&n.to_be_bytes());
    h[31] = fork;
    B256::from(h)
}

/// Head `n` of branch `fork`, whose parent is on branch `parent_fork`.
fn head(n: u64, fork: u8, parent_fork: u8) -> Head {
    Head {
        number: n,
        hash: hash(n, fork),
        parent_hash: hash(n.wrapping_sub(1), parent_fork),
        timestamp: n * 12,
        gas_used: 1,
        gas_limit: 2,
        base_fee: None,
        tx_count: Some(0),
        source: HeadSource::Ws,
        seen: None,
    }
}

fn main(n: u64) -> Head {
    head(n, 0, 0)
}

fn fetched(range: std::ops::RangeInclusive<u64>, f: impl Fn(u64) -> Head) -> Vec<Option<Head>> {
    range
        .map(|n| {
            let mut h = f(n);
            h.source = HeadSource::Backfill;
            Some(h)
        })
        .collect()
}

fn shown(out: &[Step]) -> Vec<(u64, u8, HeadSource)> {
    out.iter()
        .filter_map(|s| match s {
            Step::Head(h) => Some((h.number, h.hash[31], h.source)),
            _ => None,
        })
        .collect()
}

fn reorgs(out: &[Step]) -> Vec<&Reorg> {
    out.iter()
        .filter_map(|s| match s {
            Step::Reorg(r) => Some(r),
            _ => None,
        })
        .collect()
}

#[test]
fn linked_heads_are_shown_at_once_and_duplicates_skipped() {
    let mut t = ChainTracker::default();
    let mut out = Vec::new();
    for n in 5..=7 {
        assert_eq!(t.offer(main(n), false, false, &mut out), Offer::Shown);
    }
    assert_eq!(t.offer(main(7), false, false, &mut out), Offer::Known);
    assert_eq!(t.offer(main(3), false, false, &mut out), Offer::Stale);
    assert_eq!(shown(&out).len(), 3);
    assert!(t.settled());
}

#[test]
fn a_gap_is_unlinked_until_fetched_then_filled_in_order() {
    let mut t = ChainTracker::default();
    let mut out = Vec::new();
    t.offer(main(5), false, false, &mut out);
    assert_eq!(t.offer(main(9), false, false, &mut out), Offer::Unlinked);
    assert_eq!(t.need_chunk(Some(9), 50), Some((6, 9)));
    assert_eq!(t.need_chunk(Some(9), 2), Some((6, 7)), "chunked");
    out.clear();
    t.apply_fetched(fetched(6..=8, main), &mut out);
    assert_eq!(t.offer(main(9), false, false, &mut out), Offer::Shown);
    assert_eq!(
        shown(&out),
        vec![
            (6, 0, HeadSource::Backfill),
            (7, 0, HeadSource::Backfill),
            (8, 0, HeadSource::Backfill),
            (9, 0, HeadSource::Ws)
        ]
    );
    assert!(t.settled());
}

#[test]
fn a_forced_head_is_shown_first_and_its_gap_filled_after() {
    let mut t = ChainTracker::default();
    let mut out = Vec::new();
    t.offer(main(5), false, false, &mut out);
    assert_eq!(t.offer(main(9), false, true, &mut out), Offer::Shown);
    // The next pushed head links to the provisional one and is shown too.
    assert_eq!(t.offer(main(10), false, false, &mut out), Offer::Shown);
    assert!(!t.settled());
    assert_eq!(t.need_chunk(None, 50), Some((6, 10)));
    assert_eq!(t.need_chunk(None, 2), Some((6, 7)));
    t.apply_fetched(fetched(6..=10, main), &mut out);
    assert!(t.settled(), "the provisional heads are linked now");
    let numbers: Vec<u64> = shown(&out).iter().map(|s| s.0).collect();
    assert_eq!(numbers, vec![5, 9, 10, 6, 7, 8]);
    assert!(reorgs(&out).is_empty());
}

#[test]
fn a_reorg_announced_as_the_new_tip_is_walked_back_and_reports_what_it_orphaned() {
    let mut t = ChainTracker::default();
    let mut out = Vec::new();
    for n in 5..=10 {
        t.offer(main(n), false, false, &mut out);
    }
    // 9 and 10 replaced; only the new tip 11 (branch 1) is announced.
    let tip = head(11, 1, 1);
    assert_eq!(
        t.offer(tip.clone(), false, false, &mut out),
        Offer::Unlinked
    );
    let need = t.need_chunk(Some(11), 50).expect("need");
    assert_eq!(need, (11, 11));
    out.clear();
    // The node's canonical chain: 9' (parent 8), 10', 11'.
    let canon = |n: u64| if n == 9 { head(9, 1, 0) } else { head(n, 1, 1) };
    t.apply_fetched(fetched(11..=11, canon), &mut out);
    assert!(out.is_empty(), "11' does not link to 10: walk lower");
    assert_eq!(t.need_chunk(Some(11), 50), Some((5, 10)));
    t.apply_fetched(
        fetched(5..=10, |n| if n < 9 { main(n) } else { canon(n) }),
        &mut out,
    );
    let r = reorgs(&out);
    assert_eq!(r.len(), 1);
    assert_eq!(
        (
            r[0].depth,
            r[0].from_number,
            r[0].old_hash,
            r[0].orphaned.clone()
        ),
        (2, 9, hash(10, 0), vec![(9, hash(9, 0)), (10, hash(10, 0))])
    );
    assert!(
        matches!(out[0], Step::Reorg(_)),
        "the reorg comes before its heads"
    );
    assert_eq!(t.offer(tip, false, false, &mut out), Offer::Known);
    assert_eq!(t.tip(), Some((11, hash(11, 1))));
    assert!(t.settled());
}

#[test]
fn a_same_height_replacement_is_a_depth_1_reorg_without_fetching() {
    let mut t = ChainTracker::default();
    let mut out = Vec::new();
    for n in 8..=10 {
        t.offer(main(n), false, false, &mut out);
    }
    out.clear();
    assert_eq!(
        t.offer(head(10, 2, 0), false, false, &mut out),
        Offer::Shown
    );
    let r = reorgs(&out);
    assert_eq!((r[0].depth, r[0].from_number), (1, 10));
    assert_eq!(shown(&out), vec![(10, 2, HeadSource::Ws)]);
}

#[test]
fn a_late_pushed_head_below_the_tip_is_checked_before_it_rewrites_history() {
    let mut t = ChainTracker::default();
    let mut out = Vec::new();
    for n in 5..=10 {
        t.offer(main(n), false, false, &mut out);
    }
    // A notification from a branch the node has already left: links to 6 but
    // would orphan 7..10.
    assert_eq!(
        t.offer(head(7, 3, 0), false, false, &mut out),
        Offer::Unlinked
    );
    assert_eq!(t.need_chunk(Some(7), 50), Some((7, 7)));
    out.clear();
    t.apply_fetched(fetched(7..=7, main), &mut out);
    assert!(out.is_empty(), "the node confirms what is shown");
    assert_eq!(t.tip(), Some((10, hash(10, 0))));
}

#[test]
fn a_reorg_deeper_than_what_is_tracked_resynchronises_and_says_so() {
    let mut t = ChainTracker::default();
    let mut out = Vec::new();
    for n in 1000..1000 + TRACKED as u64 {
        t.offer(main(n), false, false, &mut out);
    }
    let tip = 1000 + TRACKED as u64 - 1;
    out.clear();
    // After an outage, the node is on a branch that forked below 1000.
    t.set_target(tip + 5, &mut out);
    let other = |n: u64| head(n, 7, 7);
    let mut low = tip + 1;
    t.apply_fetched(fetched(low..=tip + 5, other), &mut out);
    while let Some((from, to)) = t.need_chunk(None, 50) {
        assert!(from < low, "walks down");
        low = from;
        t.apply_fetched(fetched(from..=to, other), &mut out);
        if !out.is_empty() {
            break;
        }
    }
    let r = reorgs(&out);
    assert_eq!(r.len(), 1, "{out:?}");
    assert!(r[0].deeper_than_tracked);
    assert_eq!(r[0].orphaned.len(), TRACKED);
    assert_eq!(r[0].depth, TRACKED as u64);
    assert_eq!(t.tip(), Some((tip + 5, hash(tip + 5, 7))));
    assert!(t.settled());
}

#[test]
fn a_forced_head_on_another_branch_is_settled_as_a_reorg_of_what_it_displaced() {
    let mut t = ChainTracker::default();
    let mut out = Vec::new();
    for n in 5..=10 {
        t.offer(main(n), false, false, &mut out);
    }
    // HTTP is slow: the new branch's tip 10' is shown before its parent is known.
    t.offer(head(10, 1, 1), false, true, &mut out);
    out.clear();
    t.apply_fetched(
        fetched(
            9..=10,
            |n| if n == 9 { head(9, 1, 0) } else { head(n, 1, 1) },
        ),
        &mut out,
    );
    let r = reorgs(&out);
    assert_eq!(r[0].orphaned, vec![(9, hash(9, 0)), (10, hash(10, 0))]);
    assert!(t.settled());
}

#[test]
fn a_forced_tip_the_node_confirms_still_has_its_fork_found() {
    let mut t = ChainTracker::default();
    let mut out = Vec::new();
    for n in 30..=34 {
        t.offer(main(n), false, false, &mut out);
    }
    // 32..34 replaced; 35' announced and shown before HTTP could answer.
    t.offer(head(35, 1, 1), false, true, &mut out);
    t.offer(head(36, 1, 1), false, false, &mut out);
    let canon = |n: u64| match n {
        ..=31 => main(n),
        32 => head(32, 1, 0),
        _ => head(n, 1, 1),
    };
    out.clear();
    let mut fetches = 0;
    while let Some((from, to)) = t.need_chunk(None, 50) {
        fetches += 1;
        assert!(fetches < 5, "no progress: {from}..={to}");
        t.apply_fetched(fetched(from..=to, canon), &mut out);
    }
    let r = reorgs(&out);
    assert_eq!(r.len(), 1, "{out:?}");
    assert_eq!(
        r[0].orphaned,
        vec![(32, hash(32, 0)), (33, hash(33, 0)), (34, hash(34, 0))]
    );
    assert_eq!(
        shown(&out).iter().map(|h| (h.0, h.1)).collect::<Vec<_>>(),
        vec![(32, 1), (33, 1), (34, 1)]
    );
    assert_eq!(t.tip(), Some((36, hash(36, 1))));
}

#[test]
fn blocks_fetched_below_the_first_tracked_head_are_not_a_reorg() {
    let mut t = ChainTracker::default();
    let mut out = Vec::new();
    t.set_target(1, &mut out);
    // The pushed head 2 arrives while block 1 is being fetched.
    t.offer(main(2), false, false, &mut out);
    t.apply_fetched(fetched(1..=1, main), &mut out);
    assert!(reorgs(&out).is_empty(), "{out:?}");
    assert_eq!(shown(&out).len(), 1);
    assert!(t.settled());
}

#[test]
fn a_tip_replaced_at_the_same_height_while_away_is_found_on_recheck() {
    let mut t = ChainTracker::default();
    let mut out = Vec::new();
    for n in 5..=10 {
        t.offer(main(n), false, false, &mut out);
    }
    t.recheck(10);
    t.set_target(10, &mut out);
    assert_eq!(t.need_chunk(None, 50), Some((10, 10)));
    out.clear();
    // 9 and 10 were replaced while away.
    let canon = |n: u64| match n {
        9 => head(9, 1, 0),
        10 => head(10, 1, 1),
        _ => main(n),
    };
    while let Some((from, to)) = t.need_chunk(None, 50) {
        t.apply_fetched(fetched(from..=to, canon), &mut out);
    }
    let r = reorgs(&out);
    assert_eq!(
        (r.len(), r[0].depth, r[0].from_number),
        (1, 2, 9),
        "{out:?}"
    );
    // Nothing changed: the recheck settles with one fetch and no steps.
    let mut t = ChainTracker::default();
    t.offer(main(5), false, false, &mut out);
    t.offer(main(6), false, false, &mut out);
    out.clear();
    t.recheck(6);
    t.apply_fetched(fetched(6..=6, main), &mut out);
    assert!(out.is_empty() && t.settled(), "{out:?}");
    // A lone anchor too.
    let mut t = ChainTracker::default();
    t.offer(main(5), false, false, &mut out);
    out.clear();
    t.recheck(9);
    t.apply_fetched(fetched(5..=5, main), &mut out);
    assert!(out.is_empty() && t.settled(), "{out:?}");
}

#[test]
fn retraction_takes_back_an_invented_head() {
    let mut t = ChainTracker::default();
    let mut out = Vec::new();
    for n in 5..=7 {
        t.offer(main(n), false, false, &mut out);
    }
    let fake = head(8, 9, 0);
    t.offer(fake.clone(), false, false, &mut out);
    out.clear();
    t.retract(fake.hash, &mut out);
    assert_eq!(
        out,
        vec![Step::Retracted {
            number: 8,
            hash: fake.hash
        }]
    );
    out.clear();
    // The real 8 then links without a reorg.
    assert_eq!(t.offer(main(8), false, false, &mut out), Offer::Shown);
    assert!(reorgs(&out).is_empty());
}

#[test]
fn a_suspect_head_replaced_by_the_real_one_is_retracted_not_a_reorg() {
    let mut t = ChainTracker::default();
    let mut out = Vec::new();
    for n in 5..=7 {
        t.offer(main(n), false, false, &mut out);
    }
    let fake = head(8, 9, 0);
    t.offer(fake.clone(), false, false, &mut out);
    t.suspect(fake.hash);
    out.clear();
    t.offer(main(8), false, false, &mut out);
    assert_eq!(
        out,
        vec![
            Step::Retracted {
                number: 8,
                hash: fake.hash
            },
            Step::Head(main(8))
        ]
    );
    // A head the node did know is a reorg as before.
    out.clear();
    t.offer(head(8, 2, 0), false, false, &mut out);
    assert_eq!(reorgs(&out).len(), 1);
}

#[test]
fn catch_up_targets_and_the_first_head() {
    let mut t = ChainTracker::default();
    let mut out = Vec::new();
    t.set_target(100, &mut out);
    assert_eq!(
        t.need_chunk(None, 50),
        Some((100, 100)),
        "first connect: the current head"
    );
    t.apply_fetched(fetched(100..=100, main), &mut out);
    t.set_target(180, &mut out);
    assert_eq!(t.need_chunk(None, 50), Some((101, 150)));
    t.apply_fetched(fetched(101..=150, main), &mut out);
    assert_eq!(t.need_chunk(None, 50), Some((151, 180)));
    // A fetch that stops early (the HTTP node is behind) is applied as far as it goes.
    let mut part = fetched(151..=160, main);
    part.push(None);
    t.apply_fetched(part, &mut out);
    assert_eq!(t.need_chunk(None, 50), Some((161, 180)));
    t.set_target(20_000, &mut out);
    assert!(
        matches!(
            out.last(),
            Some(Step::Gap {
                from: 161,
                to: 19_999,
                ..
            })
        ),
        "{:?}",
        out.last()
    );
}
