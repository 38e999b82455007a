use super::*;

fn a(b: u8) -> Address {
    Address::repeat_byte(b)
}

fn watch(addrs: &[Address], tokens: &[Address]) -> Watchlist {
    Watchlist {
        addresses: addrs.iter().copied().collect(),
        tokens: tokens.iter().copied().collect(),
    }
}

fn wire(from: Address, to: Address, input: &str) -> String {
    format!(
        r#"{{"blockHash":null,"hash":"0x{h}","from":"{from}","to":"{to}","value":"0xde0b6b3a7640000",
        "nonce":"0x7","input":"{input}","maxPriorityFeePerGas":"0x3b9aca00","maxFeePerGas":"0x77359400",
        "accessList":[{{"address":"{to}","storageKeys":[]}}],"type":"0x2"}}"#,
        h = "ab".repeat(32)
    )
}

#[test]
fn a_transfer_to_a_watched_address_is_a_hit_and_others_give_only_their_tip() {
    let w = watch(&[a(1)], &[]);
    let hit = classify(&wire(a(9), a(1), "0x"), &w).expect("valid");
    let Pending::Tx { tip, hit: Some(tx) } = hit else {
        panic!("{hit:?}");
    };
    assert_eq!(tip, Some(1_000_000_000));
    assert_eq!((tx.from, tx.to, tx.nonce), (a(9), Some(a(1)), 7));
    assert_eq!(tx.value, U256::from(1_000_000_000_000_000_000u128));
    assert_eq!(tx.max_fee, Some(2_000_000_000));
    assert_eq!(
        classify(&wire(a(9), a(8), "0x"), &w),
        Ok(Pending::Tx {
            tip: Some(1_000_000_000),
            hit: None
        })
    );
    assert_eq!(
        classify(&format!("\"0x{}\"", "11".repeat(32)), &w),
        Ok(Pending::Hash)
    );
}

#[test]
fn a_token_transfer_naming_a_watched_address_is_a_hit() {
    let token = a(0x70);
    let w = watch(&[a(1)], &[token]);
    let to = format!("{:0>64}", alloy_primitives::hex::encode(a(1)));
    let amount = format!("{:064x}", 5u64);
    let input = format!("0x{TRANSFER}{to}{amount}");
    let Ok(Pending::Tx { hit: Some(tx), .. }) = classify(&wire(a(9), token, &input), &w) else {
        panic!("a transfer to a(1) on a configured token");
    };
    assert_eq!(
        tx.token,
        Some(TokenMove {
            token,
            from: a(9),
            to: a(1),
            amount: U256::from(5u64)
        })
    );
    // transferFrom(a(1) → a(3)): the watched holder sends.
    let from = format!("{:0>64}", alloy_primitives::hex::encode(a(1)));
    let to3 = format!("{:0>64}", alloy_primitives::hex::encode(a(3)));
    let input = format!("0x{TRANSFER_FROM}{from}{to3}{amount}");
    let Ok(Pending::Tx { hit: Some(tx), .. }) = classify(&wire(a(9), token, &input), &w) else {
        panic!("transferFrom of a(1)");
    };
    assert_eq!(tx.token.map(|m| (m.from, m.to)), Some((a(1), a(3))));
    // The same call on a contract that is not a configured token: nothing.
    let other = classify(&wire(a(9), a(0x71), &input), &w);
    assert!(
        matches!(other, Ok(Pending::Tx { hit: None, .. })),
        "{other:?}"
    );
}

#[test]
fn malformed_pending_results_are_errors_not_panics() {
    let w = watch(&[a(1)], &[]);
    for bad in [
        "42",
        "\"0x12\"",
        "{\"hash\":1}",
        "{not json",
        r#"{"hash":"0x00","from":"0xzz"}"#,
    ] {
        assert!(classify(bad, &w).is_err(), "{bad}");
    }
    // A hit without a nonce cannot be followed.
    let no_nonce = wire(a(9), a(1), "0x").replace(r#""nonce":"0x7","#, "");
    assert!(classify(&no_nonce, &w).is_err());
}

#[test]
fn percentiles_by_nearest_rank() {
    assert_eq!(percentiles(&[]), None);
    let tips: Vec<u128> = (1..=100).rev().collect();
    assert_eq!(percentiles(&tips), Some([10, 50, 90]));
    assert_eq!(percentiles(&[7]), Some([7, 7, 7]));
}

fn tx(hash: u8, from: Address, nonce: u64, bid: u128) -> PendingTx {
    PendingTx {
        hash: B256::repeat_byte(hash),
        from,
        to: Some(a(1)),
        value: U256::from(10u64),
        nonce,
        tip: Some(bid),
        max_fee: Some(bid),
        token: None,
    }
}

fn mined(t: &PendingTx) -> MinedTx {
    MinedTx {
        hash: t.hash,
        from: t.from,
        nonce: Some(t.nonce),
        to: t.to,
        value: t.value,
    }
}

fn states(events: &[PendingTxEvent]) -> Vec<(u8, TxState)> {
    events.iter().map(|e| (e.tx.hash.0[0], e.state)).collect()
}

#[test]
fn pending_then_mined_with_the_time_it_took() {
    let mut t = Tracker::new(Duration::from_secs(600), 16);
    let t0 = Instant::now();
    let p = tx(0xaa, a(9), 3, 100);
    let ev = t.seen(p.clone(), t0, SystemTime::now());
    assert_eq!(states(&ev), [(0xaa, TxState::Pending)]);
    assert_eq!(ev[0].latency_ms, None);
    assert!(
        t.seen(p.clone(), t0, SystemTime::now()).is_empty(),
        "seen once"
    );
    let ev = t.block(
        5,
        B256::repeat_byte(5),
        &[mined(&p)],
        t0 + Duration::from_millis(1500),
    );
    assert_eq!(states(&ev), [(0xaa, TxState::Mined { block: 5 })]);
    assert_eq!(ev[0].latency_ms, Some(1500));
    assert!(t.block(6, B256::repeat_byte(6), &[], t0).is_empty(), "once");
}

#[test]
fn a_higher_bid_with_the_same_nonce_replaces_seen_or_mined() {
    let mut t = Tracker::new(Duration::from_secs(600), 16);
    let now = Instant::now();
    t.seen(tx(0xa1, a(9), 3, 100), now, SystemTime::now());
    let ev = t.seen(tx(0xa2, a(9), 3, 150), now, SystemTime::now());
    let by = B256::repeat_byte(0xa2);
    assert_eq!(
        states(&ev),
        [
            (0xa1, TxState::Replaced { by, cancel: false }),
            (0xa2, TxState::Pending)
        ]
    );
    // A cancel: zero to itself, mined without being seen pending.
    t.seen(tx(0xb1, a(8), 1, 100), now, SystemTime::now());
    let cancel = MinedTx {
        hash: B256::repeat_byte(0xb2),
        from: a(8),
        nonce: Some(1),
        to: Some(a(8)),
        value: U256::ZERO,
    };
    let ev = t.block(7, B256::repeat_byte(7), &[cancel], now);
    assert_eq!(
        states(&ev),
        [(
            0xb1,
            TxState::Replaced {
                by: B256::repeat_byte(0xb2),
                cancel: true
            }
        )]
    );
}

#[test]
fn a_reorg_makes_a_mined_one_pending_again_and_the_new_block_can_mine_it() {
    let mut t = Tracker::new(Duration::from_secs(600), 16);
    let now = Instant::now();
    let p = tx(0xaa, a(9), 3, 100);
    t.seen(p.clone(), now, SystemTime::now());
    t.block(5, B256::repeat_byte(5), &[mined(&p)], now);
    // Block 5 replaced by one without it: pending again.
    let ev = t.block(5, B256::repeat_byte(0x55), &[], now);
    assert_eq!(states(&ev), [(0xaa, TxState::Pending)]);
    // Block 6 of the new branch mines it.
    let ev = t.block(6, B256::repeat_byte(6), &[mined(&p)], now);
    assert_eq!(states(&ev), [(0xaa, TxState::Mined { block: 6 })]);
    // The same block again changes nothing.
    assert!(
        t.block(6, B256::repeat_byte(6), &[mined(&p)], now)
            .is_empty()
    );
}

#[test]
fn unseen_too_long_is_dropped_and_the_set_is_bounded() {
    let mut t = Tracker::new(Duration::from_secs(60), 3);
    let t0 = Instant::now();
    t.seen(tx(1, a(9), 1, 1), t0, SystemTime::now());
    assert!(t.due(t0 + Duration::from_secs(59)).is_empty());
    // Due: the node is asked first (once); not known there, it is dropped.
    let late = t0 + Duration::from_secs(60);
    assert_eq!(t.due(late), [B256::repeat_byte(1)]);
    assert!(t.due(late).is_empty(), "asked once");
    let ev = t.answered(B256::repeat_byte(1), None, late);
    assert_eq!(states(&ev), [(1, TxState::Dropped)]);
    // Room: the finished one goes first, then the oldest pending, counted.
    for h in 2..=4 {
        t.seen(tx(h, a(9), u64::from(h), 1), t0, SystemTime::now());
    }
    assert_eq!((t.len(), t.evicted), (3, 0));
    t.seen(tx(5, a(9), 5, 1), t0, SystemTime::now());
    assert_eq!((t.len(), t.evicted), (3, 1));
    // Finished long ago: forgotten.
    t.block(9, B256::repeat_byte(9), &[mined(&tx(5, a(9), 5, 1))], t0);
    t.tick(t0 + KEEP_FINISHED);
    assert_eq!(t.len(), 2);
}

#[test]
fn seen_pending_after_its_block_was_read_is_mined_at_once() {
    let mut t = Tracker::new(Duration::from_secs(600), 16);
    let now = Instant::now();
    let p = tx(0xaa, a(9), 3, 100);
    t.block(5, B256::repeat_byte(5), &[mined(&p)], now);
    let ev = t.seen(p.clone(), now, SystemTime::now());
    assert_eq!(
        states(&ev),
        [
            (0xaa, TxState::Pending),
            (0xaa, TxState::Mined { block: 5 })
        ]
    );
    // Unless that block was replaced since.
    let q = tx(0xbb, a(9), 4, 100);
    t.block(6, B256::repeat_byte(6), &[mined(&q)], now);
    t.block(6, B256::repeat_byte(0x66), &[], now);
    assert_eq!(
        states(&t.seen(q, now, SystemTime::now())),
        [(0xbb, TxState::Pending)]
    );
}

#[test]
fn a_receipt_found_before_dropping_makes_it_mined() {
    let mut t = Tracker::new(Duration::from_secs(60), 8);
    let t0 = Instant::now();
    t.seen(tx(1, a(9), 1, 1), t0, SystemTime::now());
    let late = t0 + Duration::from_secs(61);
    assert_eq!(t.due(late).len(), 1);
    let ev = t.answered(
        B256::repeat_byte(1),
        Some((42, B256::repeat_byte(42))),
        late,
    );
    assert_eq!(states(&ev), [(1, TxState::Mined { block: 42 })]);
    // A block at that height with another hash: pending again, the timer anew.
    let ev = t.block(42, B256::repeat_byte(0x43), &[], late);
    assert_eq!(states(&ev), [(1, TxState::Pending)]);
    assert!(
        t.due(late + Duration::from_secs(59)).is_empty(),
        "counted from the reorg"
    );
}

#[test]
fn dropped_or_replaced_then_mined_is_mined_and_an_older_block_orphans_nothing() {
    let mut t = Tracker::new(Duration::from_secs(60), 8);
    let t0 = Instant::now();
    let slow = tx(1, a(9), 1, 1);
    t.seen(slow.clone(), t0, SystemTime::now());
    let late = t0 + Duration::from_secs(60);
    t.due(late);
    t.answered(slow.hash, None, late);
    let ev = t.block(10, B256::repeat_byte(10), &[mined(&slow)], late);
    assert_eq!(
        states(&ev),
        [(1, TxState::Mined { block: 10 })],
        "mined after all"
    );
    // A block below it, come late (a backfilled head behind pushed ones): no reorg.
    assert!(t.block(9, B256::repeat_byte(9), &[], late).is_empty());
    // Replaced by a faster one, whose block is then replaced by one mining the slow.
    let (first, faster) = (tx(2, a(8), 5, 1), tx(3, a(8), 5, 9));
    t.seen(first.clone(), t0, SystemTime::now());
    t.seen(faster.clone(), t0, SystemTime::now());
    t.block(11, B256::repeat_byte(11), &[mined(&faster)], late);
    let ev = t.block(11, B256::repeat_byte(0x11), &[mined(&first)], late);
    let got = states(&ev);
    assert!(got.contains(&(3, TxState::Pending)), "{got:?}");
    assert!(got.contains(&(2, TxState::Mined { block: 11 })), "{got:?}");
}
