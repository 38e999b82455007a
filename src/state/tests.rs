//! Unit tests of the state: every fold and action.

use super::*;
use crate::event::{
    ConnState, EventLog, Head, HeadSource, Reorg, SubKind, SubStatus, TokenMeta, ViewValue,
};
use alloy_primitives::{Address, B256, U256};

impl AppState {
    fn apply_now(&mut self, update: Update) -> bool {
        self.apply(update, Instant::now())
    }
}

fn head(n: u64, fork: u8) -> Head {
    let h = |n: u64, f: u8| {
        let mut b = [0u8; 32];
        b[..8].copy_from_slice(&n.to_be_bytes());
        b[31] = f;
        B256::from(b)
    };
    Head {
        number: n,
        hash: h(n, fork),
        parent_hash: h(n.saturating_sub(1), 0),
        timestamp: 1_000 + n * 12,
        gas_used: 15_000_000,
        gas_limit: 30_000_000,
        base_fee: Some(U256::from(7_000_000_000u64)),
        tx_count: Some(3),
        source: HeadSource::Ws,
        seen: None,
    }
}

fn state() -> AppState {
    let mut n = NetworkState::new("a", "ws://x");
    n.watches.push(WatchRow::new("w", Address::repeat_byte(1)));
    AppState::new(vec![n, NetworkState::new("b", "ws://y")])
}

#[test]
fn heads_fold_in_order_with_derived_figures() {
    let mut s = state();
    for n in 1..=5 {
        assert!(s.apply_now(Update::Head {
            net: 0,
            head: head(n, 0)
        }));
    }
    let net = &s.networks[0];
    assert_eq!(net.latest().map(|h| h.number), Some(5));
    assert_eq!(net.avg_block_time(), Some(12.0));
    assert_eq!(net.gas_used_pct(), Some(50.0));
    assert_eq!(net.series(Chart::GasUsed, 3), vec![50.0, 50.0, 50.0]);
    assert_eq!(net.series(Chart::BlockTime, 3), vec![12.0, 12.0, 12.0]);
    assert_eq!(net.series(Chart::Txs, 2), vec![3.0, 3.0]);
    assert!(s.networks[1].heads.is_empty());
    // An update for an unknown network changes nothing.
    assert!(!s.apply_now(Update::Head {
        net: 9,
        head: head(6, 0)
    }));
}

#[test]
fn reorg_replaces_orphans_and_marks_replacements() {
    let mut s = state();
    for n in 1..=10 {
        s.apply_now(Update::Head {
            net: 0,
            head: head(n, 0),
        });
    }
    let new_tip = head(10, 1);
    s.apply_now(Update::Reorg {
        net: 0,
        reorg: Reorg {
            depth: 2,
            from_number: 9,
            old_hash: head(10, 0).hash,
            new_hash: new_tip.hash,
            orphaned: vec![(9, head(9, 0).hash), (10, head(10, 0).hash)],
            deeper_than_tracked: false,
        },
    });
    assert_eq!(s.networks[0].latest().map(|h| h.number), Some(8));
    s.apply_now(Update::Head {
        net: 0,
        head: head(9, 1),
    });
    s.apply_now(Update::Head {
        net: 0,
        head: new_tip,
    });
    s.apply_now(Update::Head {
        net: 0,
        head: head(11, 0),
    });
    let net = &s.networks[0];
    assert_eq!((net.reorgs, net.deepest_reorg), (1, 2));
    let marks: Vec<(u64, bool)> = net
        .heads
        .iter()
        .rev()
        .take(4)
        .map(|r| (r.head.number, r.reorged))
        .collect();
    assert_eq!(marks, vec![(11, false), (10, true), (9, true), (8, false)]);
}

#[test]
fn orphaned_blocks_take_their_logs_and_activity_with_them() {
    let mut s = state();
    for n in 1..=6 {
        s.apply_now(Update::Head {
            net: 0,
            head: head(n, 0),
        });
    }
    let orphan = head(5, 0);
    let mut l = log(0, false);
    l.block = Some(5);
    l.block_hash = Some(orphan.hash);
    s.apply_now(Update::Log {
        net: 0,
        log: Box::new(l),
    });
    s.apply_now(Update::Activity {
        net: 0,
        address: Address::repeat_byte(1),
        block: Some(5),
        block_hash: Some(orphan.hash),
        tx: B256::repeat_byte(3),
    });
    assert!(s.networks[0].watches[0].last_activity.is_some());
    s.apply_now(Update::Reorg {
        net: 0,
        reorg: Reorg {
            depth: 2,
            from_number: 5,
            old_hash: head(6, 0).hash,
            new_hash: head(5, 1).hash,
            orphaned: vec![(5, orphan.hash), (6, head(6, 0).hash)],
            deeper_than_tracked: false,
        },
    });
    let net = &s.networks[0];
    assert!(net.events.iter().all(|e| e.removed), "the feed strikes it");
    assert!(net.watches[0].last_activity.is_none(), "activity cleared");
    assert_eq!(net.latest().map(|h| h.number), Some(4));
}

#[test]
fn backfilled_heads_go_in_order_and_retracted_ones_leave() {
    let mut s = state();
    for n in [1, 2, 6] {
        s.apply_now(Update::Head {
            net: 0,
            head: head(n, 0),
        });
    }
    for n in 3..=5 {
        let mut h = head(n, 0);
        h.source = HeadSource::Backfill;
        s.apply_now(Update::Head { net: 0, head: h });
    }
    let numbers = |s: &AppState| {
        s.networks[0]
            .heads
            .iter()
            .map(|r| r.head.number)
            .collect::<Vec<_>>()
    };
    assert_eq!(numbers(&s), vec![1, 2, 3, 4, 5, 6]);
    let fake = head(7, 9);
    s.apply_now(Update::Head {
        net: 0,
        head: fake.clone(),
    });
    s.apply_now(Update::HeadRetracted {
        net: 0,
        number: 7,
        hash: fake.hash,
    });
    assert_eq!(numbers(&s), vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(s.networks[0].retracted, 1);
    let mut geth = head(7, 0);
    geth.tx_count = None;
    s.apply_now(Update::Head {
        net: 0,
        head: geth.clone(),
    });
    assert!(s.apply_now(Update::HeadTxCount {
        net: 0,
        number: 7,
        hash: geth.hash,
        tx_count: 12
    }));
    assert_eq!(s.networks[0].latest().and_then(|h| h.tx_count), Some(12));
    s.apply_now(Update::ChainReset {
        net: 0,
        genesis: B256::repeat_byte(1),
        previous: B256::repeat_byte(2),
    });
    assert!(s.networks[0].heads.is_empty());
    assert_eq!(s.networks[0].chain_resets, 1);
}

#[test]
fn balances_track_start_and_change() {
    let mut s = state();
    let a = Address::repeat_byte(1);
    let b = |wei: u64, block| Update::Balance {
        net: 0,
        address: a,
        wei: U256::from(wei),
        block,
    };
    assert!(s.apply_now(b(100, 1)));
    assert!(
        !s.apply_now(b(100, 2)),
        "same balance is not a visible change"
    );
    assert!(s.apply_now(b(40, 3)));
    let w = &s.networks[0].watches[0];
    assert_eq!(w.change(), Some((true, U256::from(60))));
    assert_eq!(w.last_change_block, Some(3));
    assert!(!s.apply_now(Update::Balance {
        net: 0,
        address: Address::ZERO,
        wei: U256::from(1),
        block: 3
    }));
}

#[test]
fn connection_states_track_uptime_and_reconnects() {
    let mut s = state();
    s.apply_now(Update::Connection {
        net: 0,
        state: ConnState::Live {
            endpoint: "ws://z".into(),
        },
    });
    assert!(s.networks[0].live_since.is_some());
    assert_eq!(s.networks[0].endpoint, "ws://z");
    let until = Instant::now() + Duration::from_secs(3);
    s.apply_now(Update::Connection {
        net: 0,
        state: ConnState::BackingOff {
            until,
            attempt: 2,
            reason: "closed".into(),
        },
    });
    assert!(s.networks[0].live_since.is_none());
    assert_eq!(s.networks[0].conn.name(), "reconnecting");
    s.apply_now(Update::Reconnected { net: 0, count: 1 });
    assert_eq!(s.networks[0].reconnects, 1);
    s.apply_now(Update::Subscription {
        net: 0,
        kind: SubKind::NewPendingTransactions,
        status: SubStatus::Unsupported("-32602 nope".into()),
    });
    assert!(matches!(
        s.networks[0].subs_pending,
        Some(SubStatus::Unsupported(_))
    ));
    s.apply_now(Update::Pending {
        net: 0,
        count: 50,
        window_ms: 500,
    });
    assert_eq!(s.networks[0].pending_rate, 100.0);
    s.apply_now(Update::ChainId {
        net: 0,
        chain_id: 5,
    });
    assert_eq!(s.networks[0].chain_id, Some(5));
}

#[test]
fn actions_move_focus_select_and_request_reconnects() {
    let mut s = state();
    assert_eq!(s.on_action(Action::Right), None);
    assert_eq!(s.selected, 1);
    s.on_action(Action::Right);
    assert_eq!(s.selected, 0, "wraps around");
    s.on_action(Action::SelectNetwork(1));
    assert_eq!(s.selected, 1);
    s.on_action(Action::SelectNetwork(7));
    assert_eq!(s.selected, 1, "out of range is ignored");
    assert_eq!(
        s.on_action(Action::Reconnect),
        Some((1, Command::Reconnect))
    );
    s.on_action(Action::FocusNext);
    assert_eq!(s.focus, Focus::Heads);
    s.on_action(Action::FocusPrev);
    s.on_action(Action::FocusPrev);
    assert_eq!(s.focus, Focus::Contracts);
    assert_eq!(
        s.side_tab,
        Focus::Contracts,
        "the shared place follows focus"
    );
    s.on_action(Action::FocusPrev);
    assert_eq!(s.focus, Focus::Events);
    s.on_action(Action::FocusPrev);
    s.on_action(Action::FocusPrev);
    assert_eq!(s.focus, Focus::Heads);
    assert_eq!(s.side_tab, Focus::Watches, "heads keep the last side pane");
    s.on_action(Action::ToggleHelp);
    assert!(s.show_help);
    s.on_action(Action::Escape);
    assert!(!s.show_help);
    s.on_action(Action::Quit);
    assert!(s.should_quit);
}

fn token_addr() -> Address {
    Address::repeat_byte(0xee)
}

fn log(index: u64, removed: bool) -> EventLog {
    EventLog {
        address: token_addr(),
        source: Some("TT".into()),
        event: Some("Transfer".into()),
        args: Vec::new(),
        topics: Vec::new(),
        data: Default::default(),
        block: Some(5),
        block_hash: Some(B256::repeat_byte(5)),
        tx: Some(B256::repeat_byte(9)),
        log_index: Some(index),
        removed,
    }
}

#[test]
fn balance_change_in_the_last_block() {
    let mut s = state();
    let a = Address::repeat_byte(1);
    for (wei, block) in [(100u64, 1), (130, 2), (130, 3)] {
        s.apply_now(Update::Balance {
            net: 0,
            address: a,
            wei: U256::from(wei),
            block,
        });
    }
    let w = &s.networks[0].watches[0];
    assert_eq!(w.change_in_block(2), Some((false, U256::from(30))));
    assert_eq!(w.change_in_block(3), None, "no change in block 3");
}

#[test]
fn token_metadata_and_balances_fold_into_rows() {
    let mut s = state();
    let a = Address::repeat_byte(1);
    let meta = TokenMeta {
        address: token_addr(),
        symbol: Some("\\x1b[31mEVIL".into()),
        name: None,
        decimals: Some(6),
    };
    assert!(s.apply_now(Update::Token {
        net: 0,
        meta: meta.clone()
    }));
    assert_eq!(s.networks[0].token(token_addr()), Some(&meta));
    let tb = |amount: u64, block| Update::TokenBalance {
        net: 0,
        holder: a,
        token: token_addr(),
        amount: U256::from(amount),
        block,
    };
    assert!(s.apply_now(tb(5, 1)));
    assert!(
        !s.apply_now(tb(5, 2)),
        "same amount is not a visible change"
    );
    assert!(s.apply_now(tb(7, 3)));
    let row = s.networks[0].watches[0].token(token_addr()).expect("row");
    assert_eq!(
        (row.amount, row.initial, row.block, row.last_change_block),
        (U256::from(7), U256::from(5), 3, Some(3))
    );
    assert_eq!(crate::fmt::token_amount(row.amount, 6), "0.000007");
    assert_eq!(crate::fmt::token_amount(U256::from(1_500_000u64), 6), "1.5");
    assert_eq!(crate::fmt::token_amount(U256::from(2_000_000u64), 6), "2");
    assert_eq!(crate::fmt::token_amount(U256::from(42u64), 0), "42");
    assert_eq!(
        crate::fmt::token_amount(U256::from(49_875_930_521_091_811_414_392u128), 18),
        "49,875.930521"
    );
    assert_eq!(
        crate::fmt::token_amount(U256::from(1_234_567_000u64), 0),
        "1,234,567,000"
    );
}

#[test]
fn hostile_token_symbol_stays_escaped_in_state() {
    // The backend escapes chain text (see network::watch::token_text); the state
    // keeps it as it came, so nothing interpretable reaches drawing.
    let mut s = state();
    let symbol = crate::text::sanitize("\u{1b}[31mEVIL\u{1b}]0;owned\u{7}").into_owned();
    s.apply_now(Update::Token {
        net: 0,
        meta: TokenMeta {
            address: token_addr(),
            symbol: Some(symbol),
            name: None,
            decimals: None,
        },
    });
    let shown = s.networks[0]
        .token(token_addr())
        .and_then(|t| t.symbol.clone())
        .expect("symbol");
    assert!(!shown.chars().any(char::is_control), "{shown:?}");
    assert_eq!(shown, "\\x1b[31mEVIL\\x1b]0;owned\\x07");
}

#[test]
fn nonce_and_activity() {
    let mut s = state();
    let a = Address::repeat_byte(1);
    assert!(s.apply_now(Update::Nonce {
        net: 0,
        address: a,
        nonce: 3,
        block: 1
    }));
    assert!(!s.apply_now(Update::Nonce {
        net: 0,
        address: a,
        nonce: 3,
        block: 2
    }));
    assert_eq!(s.networks[0].watches[0].nonce, Some(3));
    let act = |block, tx: u8| Update::Activity {
        net: 0,
        address: a,
        block,
        tx: B256::repeat_byte(tx),
        block_hash: None,
    };
    assert!(s.apply_now(act(Some(10), 1)));
    assert!(
        !s.apply_now(act(Some(9), 2)),
        "older blocks never replace newer"
    );
    assert!(s.apply_now(act(Some(11), 3)));
    let last = s.networks[0].watches[0]
        .last_activity
        .clone()
        .expect("activity");
    assert_eq!((last.block, last.tx), (Some(11), B256::repeat_byte(3)));
}

#[test]
fn event_and_contract_cursors_stay_in_bounds_and_reset_on_select() {
    let mut s = state();
    for i in 0..3 {
        s.apply_now(Update::Log {
            net: 0,
            log: Box::new(log(i, false)),
        });
    }
    s.networks[0].contracts.push(ContractRow {
        address: token_addr(),
        label: "pool".into(),
        views: vec![ViewRow::new("f()(uint256)"), ViewRow::new("g()(uint256)")],
    });
    assert_eq!(s.networks[0].contract_lines(), 3);
    let events: fn(&AppState) -> usize = |s| s.cursors.events.get(usize::MAX);
    let contracts: fn(&AppState) -> usize = |s| s.cursors.contracts.get(usize::MAX);
    for (focus, cursor) in [(Focus::Events, events), (Focus::Contracts, contracts)] {
        s.focus = focus;
        for _ in 0..5 {
            s.on_action(Action::Down);
        }
        assert_eq!(cursor(&s), 2, "{focus:?} stops at the last row");
        s.on_action(Action::Up);
        assert_eq!(cursor(&s), 1);
    }
    s.on_action(Action::SelectNetwork(1));
    assert_eq!((events(&s), contracts(&s)), (0, 0));
}

#[test]
fn event_feed_is_bounded_and_retractions_mark_shown_logs() {
    let mut s = state();
    s.apply_now(Update::Log {
        net: 0,
        log: Box::new(log(0, false)),
    });
    s.apply_now(Update::Log {
        net: 0,
        log: Box::new(log(0, true)),
    });
    s.apply_now(Update::Log {
        net: 0,
        log: Box::new(log(1, true)),
    });
    let feed: Vec<(Option<u64>, bool)> = s.networks[0]
        .events
        .iter()
        .map(|e| (e.log_index, e.removed))
        .collect();
    assert_eq!(
        feed,
        vec![(Some(0), true), (Some(1), true)],
        "the shown log is marked reverted; an unseen retraction is listed as reverted"
    );
    for i in 0..(EVENTS_KEPT as u64 + 5) {
        s.apply_now(Update::Log {
            net: 0,
            log: Box::new(log(i + 10, false)),
        });
    }
    assert_eq!(s.networks[0].events.len(), EVENTS_KEPT);
    s.apply_now(Update::Subscription {
        net: 0,
        kind: SubKind::Logs,
        status: SubStatus::Unsupported("-32602 nope".into()),
    });
    assert!(matches!(
        s.networks[0].subs_logs,
        Some(SubStatus::Unsupported(_))
    ));
}

#[test]
fn views_track_last_change_and_errors_per_view() {
    let mut cfg = crate::config::NetworkConfig::new("a", None, None);
    cfg.tokens = vec![token_addr()];
    let f = alloy_json_abi::Function::parse("f()(uint256)").expect("sig");
    let view = |call: &str| crate::config::ViewConfig {
        call: call.into(),
        function: f.clone(),
        calldata: Default::default(),
        every: 1,
    };
    cfg.contracts = vec![crate::config::ContractConfig {
        address: token_addr(),
        label: "pool".into(),
        events: Vec::new(),
        views: vec![view("f()(uint256)"), view("g()(uint256)")],
    }];
    let mut s = state();
    s.networks[0].add_config(&cfg);
    assert_eq!(s.networks[0].tokens.len(), 1);
    assert_eq!(s.networks[0].label_of(token_addr()), Some("pool"));
    let v = |index, block, value: Result<u64, &str>| Update::View {
        net: 0,
        contract: token_addr(),
        index,
        block,
        value: value
            .map(|d| ViewValue::Uint {
                value: U256::from(d),
                decimals: None,
            })
            .map_err(str::to_string),
    };
    assert!(s.apply_now(v(0, 1, Ok(1))));
    assert!(s.apply_now(v(1, 1, Err("execution reverted: no"))));
    assert!(!s.apply_now(v(0, 2, Ok(1))), "same answer is no change");
    assert!(s.apply_now(v(0, 3, Ok(2))));
    assert!(!s.apply_now(v(7, 3, Ok(2))), "unknown view index");
    let rows = &s.networks[0].contracts[0].views;
    assert_eq!(rows[0].last_change_block, Some(3));
    assert_eq!(rows[0].block, Some(3));
    assert_eq!(
        rows[0].previous.as_ref().and_then(|p| p.as_ref().ok()),
        Some(&ViewValue::Uint {
            value: U256::from(1u8),
            decimals: None
        })
    );
    assert!(matches!(&rows[1].value, Some(Err(e)) if e.contains("reverted")));
}

#[test]
fn add_and_remove_watch_through_the_input() {
    let mut s = state();
    assert_eq!(s.on_action(Action::AddWatch), None);
    assert!(s.input.is_some());
    for c in "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266".chars() {
        s.on_action(Action::InputChar(c));
    }
    assert_eq!(s.on_action(Action::InputSubmit), None, "to the label field");
    for c in "dev".chars() {
        s.on_action(Action::InputChar(c));
    }
    s.on_action(Action::InputChar('x'));
    s.on_action(Action::InputBackspace);
    let a: Address = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
        .parse()
        .expect("addr");
    assert_eq!(
        s.on_action(Action::InputSubmit),
        Some((
            0,
            Command::AddWatch {
                address: a,
                label: "dev".into()
            }
        ))
    );
    assert!(s.input.is_none());
    assert!(
        s.networks
            .iter()
            .all(|n| n.watches.iter().any(|w| w.address == a))
    );

    // Escape closes the input without adding anything.
    s.on_action(Action::AddWatch);
    s.on_action(Action::InputChar('0'));
    assert_eq!(s.on_action(Action::Escape), None);
    assert!(s.input.is_none());

    // `d` on the watch list removes the selected address everywhere.
    s.on_action(Action::SelectNetwork(1));
    s.focus = Focus::Watches;
    assert_eq!(
        s.on_action(Action::RemoveWatch),
        Some((1, Command::RemoveWatch { address: a }))
    );
    assert!(
        s.networks
            .iter()
            .all(|n| n.watches.iter().all(|w| w.address != a))
    );
    assert_eq!(
        s.on_action(Action::RemoveWatch),
        None,
        "nothing left to remove"
    );
}

#[test]
fn a_replacement_head_delivered_again_stays_marked() {
    let mut s = state();
    for (n, fork) in [(5, 0), (6, 0), (6, 1), (6, 1)] {
        s.apply_now(Update::Head {
            net: 0,
            head: head(n, fork),
        });
    }
    let rows: Vec<(u64, bool)> = s.networks[0]
        .heads
        .iter()
        .map(|r| (r.head.number, r.reorged))
        .collect();
    assert_eq!(rows, vec![(5, false), (6, true)]);
}

#[test]
fn a_replacement_at_a_number_never_shown_is_marked_too() {
    // 9's push was lost (a reconnect): 10 is shown over the gap. The reorg replaces 9
    // and 10; 10's replacement is pushed and shown after HOLD, then the walk settles
    // it: the reorg orphans only the 10 that was shown, and 9's replacement follows.
    let mut s = state();
    for n in 1..=8 {
        s.apply_now(Update::Head {
            net: 0,
            head: head(n, 0),
        });
    }
    for fork in [0, 1] {
        s.apply_now(Update::Head {
            net: 0,
            head: head(10, fork),
        });
    }
    s.apply_now(Update::Reorg {
        net: 0,
        reorg: Reorg {
            depth: 2,
            from_number: 9,
            old_hash: head(10, 0).hash,
            new_hash: head(9, 1).hash,
            orphaned: vec![(10, head(10, 0).hash)],
            deeper_than_tracked: false,
        },
    });
    let mut nine = head(9, 1);
    nine.source = HeadSource::Backfill;
    s.apply_now(Update::Head { net: 0, head: nine });
    let marks: Vec<(u64, bool)> = s.networks[0]
        .heads
        .iter()
        .rev()
        .take(3)
        .map(|r| (r.head.number, r.reorged))
        .collect();
    assert_eq!(marks, vec![(10, true), (9, true), (8, false)]);
}

fn alert(sinks: &[&str], about: crate::event::Subject, state: AlertState) -> Update {
    Update::Alert {
        net: 0,
        alert: Box::new(crate::event::AlertNotice {
            rule: "r".into(),
            kind: "balance_change",
            network: "a".into(),
            state,
            message: "moved".into(),
            about,
            repeats: 0,
            resolves: false,
            at: SystemTime::UNIX_EPOCH,
            sinks: sinks.iter().map(|s| s.to_string()).collect(),
        }),
    }
}

#[test]
fn an_alert_for_the_dashboard_flashes_its_row_and_rings_its_bell() {
    use crate::event::Subject;
    let mut s = state();
    s.tui_sinks = vec![("tui".into(), false), ("loud".into(), true)];
    let t0 = Instant::now();
    let about = Subject::Balance {
        holder: Address::repeat_byte(1),
        token: None,
    };
    // A rule that only goes to a webhook: listed, not flashed, no bell.
    assert!(s.apply(alert(&["ops"], about, AlertState::Fired), t0));
    assert_eq!(s.networks[0].flashing(t0), None);
    assert_eq!(s.networks[0].alerts.len(), 1);
    // To the quiet `tui`: flashed, silent.
    s.apply(alert(&["ops", "tui"], about, AlertState::Fired), t0);
    assert_eq!(s.networks[0].flashing(t0), Some(about));
    assert_eq!(s.bells, 0);
    // On and off with the seconds, then over.
    let at = |secs: f64| t0 + Duration::from_secs_f64(secs);
    assert_eq!(s.networks[0].flashing(at(0.5)), Some(about));
    assert_eq!(s.networks[0].flashing(at(1.5)), None);
    assert_eq!(s.networks[0].flashing(at(2.5)), Some(about));
    assert_eq!(s.networks[0].flashing(at(6.5)), None);
    // A resolve neither flashes nor rings.
    let later = at(10.0);
    s.apply(alert(&["loud"], about, AlertState::Resolved), later);
    assert_eq!(s.networks[0].flashing(later), None);
    assert_eq!(s.bells, 0);
    // A sink with the bell rings it; the other network's rows stay still.
    s.apply(alert(&["loud"], Subject::Network, AlertState::Fired), later);
    assert_eq!(s.bells, 1);
    assert_eq!(s.networks[0].flashing(later), Some(Subject::Network));
    assert_eq!(s.networks[1].flashing(later), None);
}

#[test]
fn a_sink_failure_is_kept_once_per_sink() {
    let mut s = state();
    let fail = |reason: &str, off: bool| Update::SinkFailed {
        net: 0,
        failure: Box::new(crate::event::SinkFailure {
            net: 0,
            sink: "desk".into(),
            alert: "r".into(),
            reason: reason.into(),
            off,
            at: SystemTime::UNIX_EPOCH,
        }),
    };
    assert!(s.apply_now(fail("timed out", false)));
    assert!(s.apply_now(fail("no notification service", true)));
    let kept = &s.networks[0].sink_failures;
    assert_eq!(kept.len(), 1);
    assert!(kept[0].off);
    assert_eq!(kept[0].reason, "no notification service");
}

/// The state with heads `numbers` on network 0, the heads pane focused.
fn with_heads(numbers: impl IntoIterator<Item = u64>) -> AppState {
    let mut s = state();
    for n in numbers {
        s.apply_now(Update::Head {
            net: 0,
            head: head(n, 0),
        });
    }
    s.focus = Focus::Heads;
    s
}

fn block_detail(h: Head, txs: usize) -> Box<crate::event::Detail> {
    Box::new(crate::event::Detail::Block(crate::event::BlockDetail {
        head: h,
        miner: None,
        txs: (0..txs)
            .map(|i| crate::event::TxSummary {
                hash: B256::repeat_byte(0x40 + i as u8),
                from: Address::repeat_byte(1),
                to: None,
                value: U256::ZERO,
                selector: None,
                method: None,
            })
            .collect(),
    }))
}

#[test]
fn enter_opens_a_block_then_a_transaction_fetching_each_once_and_esc_goes_back() {
    use crate::event::DetailKey;
    let mut s = with_heads(1..=3);
    s.cursors.heads = ListCursor::at(1);
    let second = head(2, 0);
    // The selected head (newest first: #2) is opened and fetched.
    let key = DetailKey::Block(second.hash);
    assert_eq!(s.on_action(Action::Open), Some((0, Command::Fetch(key))));
    assert!(matches!(
        s.view(),
        Some(DetailView::Block { number: 2, .. })
    ));
    assert_eq!(s.networks[0].details.get(&key), Some(&Fetched::Loading));
    // Enter before the answer: nothing to open yet.
    assert_eq!(s.on_action(Action::Open), None);
    s.apply_now(Update::Detail {
        net: 0,
        key,
        result: Ok(block_detail(second.clone(), 3)),
    });
    s.on_action(Action::Down);
    s.on_action(Action::Down);
    s.on_action(Action::Down);
    let tx = B256::repeat_byte(0x42);
    assert_eq!(
        s.on_action(Action::Open),
        Some((0, Command::Fetch(DetailKey::Receipt(tx)))),
        "the third transaction (the cursor stops at the last)"
    );
    assert_eq!(s.views.len(), 2);
    // Keys that leave the view do nothing in it; Esc goes back one view at a time.
    s.on_action(Action::FocusNext);
    assert_eq!(s.focus, Focus::Heads);
    s.on_action(Action::Escape);
    assert!(matches!(s.view(), Some(DetailView::Block { .. })));
    s.on_action(Action::Escape);
    assert!(s.view().is_none());
    // Opened again: cached, not fetched again.
    assert_eq!(s.on_action(Action::Open), None);
    assert!(s.view().is_some());
    s.on_action(Action::Escape);
    // A failed fetch is asked again when opened again.
    s.cursors.heads = ListCursor::at(0);
    let newest = DetailKey::Block(head(3, 0).hash);
    assert_eq!(s.on_action(Action::Open), Some((0, Command::Fetch(newest))));
    s.apply_now(Update::Detail {
        net: 0,
        key: newest,
        result: Err("HTTP 503".into()),
    });
    assert_eq!(
        s.networks[0].details.get(&newest),
        Some(&Fetched::Failed("HTTP 503".into()))
    );
    s.on_action(Action::Escape);
    assert_eq!(s.on_action(Action::Open), Some((0, Command::Fetch(newest))));
}

#[test]
fn the_detail_cache_keeps_the_newest_answers() {
    use crate::event::DetailKey;
    let mut c = DetailCache::default();
    for i in 0..(DETAILS_KEPT + 5) {
        let key = DetailKey::Receipt(B256::with_last_byte(i as u8));
        assert!(c.want(key));
        c.put(key, Err("x".into()));
    }
    assert_eq!(c.len(), DETAILS_KEPT);
    assert!(
        c.get(&DetailKey::Receipt(B256::with_last_byte(0)))
            .is_none()
    );
    assert!(
        c.get(&DetailKey::Receipt(B256::with_last_byte(
            DETAILS_KEPT as u8 + 4
        )))
        .is_some()
    );
}

#[test]
fn the_connection_history_records_changes_and_errors_in_full() {
    let mut s = state();
    let t0 = Instant::now();
    let long = "ws read: ".to_string() + &"x".repeat(300);
    // The same state twice is one line.
    for _ in 0..2 {
        s.apply(
            Update::Connection {
                net: 0,
                state: ConnState::Live {
                    endpoint: "ws://x".into(),
                },
            },
            t0,
        );
    }
    s.apply(
        Update::Stats {
            net: 0,
            stats: crate::event::ConnStats {
                errors: 1,
                last_error: Some(long.clone()),
                ..Default::default()
            },
        },
        t0,
    );
    let h: Vec<(String, bool)> = s.networks[0]
        .history
        .iter()
        .map(|h| (h.what.clone(), h.error))
        .collect();
    assert_eq!(h, vec![("live on ws://x".to_string(), false), (long, true)]);
}

#[test]
fn a_selected_head_stays_selected_as_new_heads_arrive_and_the_newest_follows() {
    let mut s = with_heads(1..=3);
    s.cursors.heads = ListCursor::at(1);
    s.apply_now(Update::Head {
        net: 0,
        head: head(4, 0),
    });
    let n = &s.networks[0];
    let at = |s: &AppState| {
        let n = &s.networks[0];
        n.heads
            .iter()
            .rev()
            .nth(s.cursors.heads.get(n.heads.len()))
            .map(|r| r.head.number)
    };
    assert_eq!(n.heads.len(), 4);
    assert_eq!(at(&s), Some(2), "still block 2");
    // On the newest row, the cursor follows the newest.
    s.cursors.heads = ListCursor::at(0);
    s.apply_now(Update::Head {
        net: 0,
        head: head(5, 0),
    });
    assert_eq!(at(&s), Some(5));
}

#[test]
fn f_freezes_the_lists_and_counts_what_is_new_then_follows_again() {
    let mut s = with_heads(1..=3);
    s.on_action(Action::Freeze);
    for n in 4..=5 {
        s.apply_now(Update::Head {
            net: 0,
            head: head(n, 0),
        });
    }
    let numbers =
        |s: &AppState| -> Vec<u64> { s.shown_heads().iter().map(|r| r.head.number).collect() };
    assert_eq!(numbers(&s), vec![3, 2, 1], "the list stays where it was");
    assert_eq!(s.frozen_new(Focus::Heads), Some(2));
    // Enter opens what is shown at the cursor, not what came since.
    let Some((_, Command::Fetch(crate::event::DetailKey::Block(h)))) = s.on_action(Action::Open)
    else {
        panic!("a fetch");
    };
    assert_eq!(h, head(3, 0).hash);
    s.on_action(Action::Escape);
    s.on_action(Action::Freeze);
    assert_eq!(numbers(&s), vec![5, 4, 3, 2, 1]);
    assert_eq!(s.frozen_new(Focus::Heads), None);
}

#[test]
fn slash_filters_the_focused_list_and_esc_clears_it() {
    let mut s = with_heads([9, 10, 19, 20]);
    s.networks[0]
        .watches
        .push(WatchRow::new("Treasury", Address::repeat_byte(0xab)));
    s.on_action(Action::Filter);
    assert!(s.editing(), "keys go to the filter");
    s.on_action(Action::InputChar('1'));
    let numbers: Vec<u64> = s.shown_heads().iter().map(|r| r.head.number).collect();
    assert_eq!(numbers, vec![19, 10], "numbers starting with 1");
    s.on_action(Action::InputSubmit);
    assert!(!s.editing());
    assert!(s.filter.is_some(), "Enter keeps it");
    // Other panes are not filtered.
    assert_eq!(s.shown_watches().len(), 2);
    s.on_action(Action::Escape);
    assert!(s.filter.is_none());
    assert_eq!(s.shown_heads().len(), 4);
    // Watches by label, in any case; `d` removes the one shown at the cursor.
    s.focus = Focus::Watches;
    s.on_action(Action::Filter);
    for c in "treas".chars() {
        s.on_action(Action::InputChar(c));
    }
    s.on_action(Action::InputSubmit);
    assert_eq!(s.shown_watches().len(), 1);
    assert_eq!(
        s.on_action(Action::RemoveWatch),
        Some((
            0,
            Command::RemoveWatch {
                address: Address::repeat_byte(0xab)
            }
        ))
    );
    // Heads by hash prefix.
    s.focus = Focus::Heads;
    s.on_action(Action::Filter);
    let prefix = head(19, 0).hash.to_string()[..18].to_string();
    for c in prefix.chars() {
        s.on_action(Action::InputChar(c));
    }
    let numbers: Vec<u64> = s.shown_heads().iter().map(|r| r.head.number).collect();
    assert_eq!(numbers, vec![19]);
    // Digits are a number, never a hash prefix (every hash here starts 0x00…).
    s.on_action(Action::Escape);
    s.on_action(Action::Filter);
    for c in "00".chars() {
        s.on_action(Action::InputChar(c));
    }
    assert!(s.shown_heads().is_empty());
}

#[test]
fn pages_and_ends_move_the_cursor() {
    let mut s = with_heads(1..=25);
    s.on_action(Action::PageDown);
    assert_eq!(s.cursors.heads.get(25), 10);
    s.on_action(Action::Bottom);
    assert_eq!(s.cursors.heads.get(25), 24);
    s.on_action(Action::PageUp);
    assert_eq!(s.cursors.heads.get(25), 14);
    s.on_action(Action::Top);
    assert_eq!(s.cursors.heads.get(25), 0);
}

#[test]
fn y_copies_what_is_selected_and_u_undoes_a_removal() {
    let mut s = state();
    s.apply_now(Update::Head {
        net: 0,
        head: head(7, 0),
    });
    s.focus = Focus::Heads;
    s.on_action(Action::Copy);
    assert_eq!(s.copied, Some(head(7, 0).hash.to_string()));
    assert_eq!(s.copies, 1);
    s.focus = Focus::Watches;
    s.on_action(Action::Copy);
    assert_eq!(s.copied, Some(Address::repeat_byte(1).to_string()));
    assert_eq!(s.copies, 2);
    // Nothing to copy on the network row.
    s.focus = Focus::Networks;
    s.on_action(Action::Copy);
    assert_eq!(s.copies, 2);
    s.focus = Focus::Watches;
    assert!(matches!(
        s.on_action(Action::RemoveWatch),
        Some((_, Command::RemoveWatch { .. }))
    ));
    assert!(s.networks[0].watches.is_empty());
    assert_eq!(
        s.on_action(Action::Undo),
        Some((
            0,
            Command::AddWatch {
                address: Address::repeat_byte(1),
                label: "w".into()
            }
        ))
    );
    assert_eq!(s.networks[0].watches.len(), 1);
    assert_eq!(s.on_action(Action::Undo), None, "once");
}

#[test]
fn s_sorts_the_focused_list_by_its_next_column_and_back() {
    let mut s = state();
    let big = Address::repeat_byte(0xb1);
    s.networks[0].watches.push(WatchRow::new("Alpha", big));
    s.apply_now(Update::Balance {
        net: 0,
        address: big,
        wei: U256::from(500u64),
        block: 1,
    });
    s.apply_now(Update::Balance {
        net: 0,
        address: Address::repeat_byte(1),
        wei: U256::from(7u64),
        block: 1,
    });
    s.focus = Focus::Watches;
    let labels = |s: &AppState| -> Vec<String> {
        s.shown_watches().iter().map(|w| w.label.clone()).collect()
    };
    assert_eq!(labels(&s), ["w", "Alpha"], "as listed");
    s.on_action(Action::Sort);
    assert_eq!(s.watch_sort, WatchSort::Label);
    assert_eq!(labels(&s), ["Alpha", "w"]);
    s.on_action(Action::Sort);
    assert_eq!(labels(&s), ["Alpha", "w"], "the larger balance first");
    for _ in 0..3 {
        s.on_action(Action::Sort);
    }
    assert_eq!(s.watch_sort, WatchSort::Listed, "round again");
    // Heads by transactions; equal ones stay newest first.
    let mut s = with_heads(1..=3);
    s.apply_now(Update::HeadTxCount {
        net: 0,
        number: 1,
        hash: head(1, 0).hash,
        tx_count: 99,
    });
    s.on_action(Action::Sort);
    let numbers: Vec<u64> = s.shown_heads().iter().map(|r| r.head.number).collect();
    assert_eq!(numbers, [1, 3, 2]);
}

#[test]
fn a_freeze_whose_rows_aged_out_ends_and_says_so() {
    let mut s = with_heads(1..=3);
    s.on_action(Action::Freeze);
    for n in 4..=(HEADS_KEPT as u64 + 10) {
        s.apply_now(Update::Head {
            net: 0,
            head: head(n, 0),
        });
    }
    assert!(s.frozen.is_none(), "the frozen head is gone from memory");
    assert!(
        s.notice
            .as_ref()
            .is_some_and(|(t, _)| t.contains("aged out"))
    );
    assert_eq!(
        s.shown_heads().first().map(|r| r.head.number),
        Some(HEADS_KEPT as u64 + 10)
    );
}

#[test]
fn a_popup_takes_the_keys_and_esc_clears_a_filter_with_its_cursor() {
    let mut s = with_heads(1..=5);
    s.on_action(Action::ToggleHelp);
    // Behind the help, nothing moves and nothing is removed.
    s.on_action(Action::Down);
    s.on_action(Action::SelectNetwork(1));
    s.focus = Focus::Watches;
    assert_eq!(s.on_action(Action::RemoveWatch), None);
    assert_eq!(s.selected, 0);
    assert_eq!(s.networks[0].watches.len(), 1);
    s.on_action(Action::Escape);
    assert!(!s.show_help);
    s.focus = Focus::Heads;
    s.on_action(Action::Filter);
    s.on_action(Action::InputSubmit);
    s.on_action(Action::Down);
    s.on_action(Action::Down);
    s.on_action(Action::Escape);
    assert!(s.filter.is_none());
    assert_eq!(
        s.cursors.heads.get(5),
        0,
        "the cursor starts again at the top"
    );
}

#[test]
fn a_watch_removed_at_run_time_has_no_alert_firing_left() {
    use crate::event::Subject;
    let mut s = state();
    let holder = Address::repeat_byte(1);
    let mut a = alert(
        &["tui"],
        Subject::Balance {
            holder,
            token: None,
        },
        AlertState::Fired,
    );
    if let Update::Alert { alert, .. } = &mut a {
        alert.resolves = true;
    }
    s.apply_now(a);
    assert_eq!(s.networks[0].alerts_firing.len(), 1);
    assert!(s.apply_now(Update::Watching {
        net: 0,
        address: holder,
        label: None,
    }));
    assert!(s.networks[0].alerts_firing.is_empty());
}

#[test]
fn a_sorted_watch_list_keeps_the_selected_address_as_it_reorders() {
    let mut s = state();
    let (a, b) = (Address::repeat_byte(1), Address::repeat_byte(2));
    s.networks[0].watches.push(WatchRow::new("b", b));
    for (who, wei) in [(a, 10u64), (b, 5)] {
        s.apply_now(Update::Balance {
            net: 0,
            address: who,
            wei: U256::from(wei),
            block: 1,
        });
    }
    s.focus = Focus::Watches;
    s.on_action(Action::Sort);
    s.on_action(Action::Sort);
    assert_eq!(s.watch_sort, WatchSort::Balance);
    s.on_action(Action::Down);
    assert_eq!(s.shown_watches()[1].address, b);
    // b grows past a: the list reorders, the cursor stays on b.
    s.apply_now(Update::Balance {
        net: 0,
        address: b,
        wei: U256::from(50u64),
        block: 2,
    });
    let at = s.cursors.watches.get(2);
    assert_eq!(s.shown_watches()[at].address, b);
    assert_eq!(at, 0);
}

#[test]
fn round_trips_chart_only_while_their_side_is_up() {
    let mut s = state();
    let stats = || Update::Stats {
        net: 0,
        stats: crate::event::ConnStats {
            ping_rtt: Some(Duration::from_millis(5)),
            http_latency: Some(Duration::from_millis(9)),
            ..Default::default()
        },
    };
    s.apply_now(Update::Connection {
        net: 0,
        state: ConnState::Live {
            endpoint: "ws://x".into(),
        },
    });
    s.apply_now(stats());
    s.apply_now(Update::Connection {
        net: 0,
        state: ConnState::Stalled {
            reason: "silent".into(),
        },
    });
    s.apply_now(Update::Http {
        net: 0,
        health: crate::event::HttpHealth::Failing {
            reason: "500".into(),
            in_a_row: 1,
        },
    });
    s.apply_now(stats());
    assert_eq!(s.networks[0].series(Chart::Ping, 10), vec![5.0]);
    assert_eq!(s.networks[0].series(Chart::Http, 10), vec![9.0]);
}

#[test]
fn s_on_the_events_sorts_them_by_contract_then_by_event_and_back() {
    let mut s = state();
    let logs = [
        ("ZED", Some("Approval"), 1),
        ("ABC", None, 2),
        ("ZED", Some("Transfer"), 3),
    ];
    for (source, event, i) in logs {
        let mut l = log(i, false);
        l.source = Some(source.into());
        l.event = event.map(str::to_string);
        s.apply_now(Update::Log {
            net: 0,
            log: Box::new(l),
        });
    }
    let order = |s: &AppState| -> Vec<Option<u64>> {
        s.shown_events().iter().map(|e| e.log_index).collect()
    };
    assert_eq!(order(&s), [Some(3), Some(2), Some(1)], "newest first");
    s.focus = Focus::Events;
    s.on_action(Action::Sort);
    assert_eq!(s.event_sort, EventSort::Source);
    assert_eq!(
        order(&s),
        [Some(2), Some(3), Some(1)],
        "ABC, then ZED newest first"
    );
    s.on_action(Action::Sort);
    assert_eq!(
        order(&s),
        [Some(1), Some(3), Some(2)],
        "Approval, Transfer, raw last"
    );
    s.on_action(Action::Sort);
    assert_eq!(s.event_sort, EventSort::Newest);
}

#[test]
fn a_block_view_asks_for_the_selected_transactions_receipt_once_each() {
    use crate::event::DetailKey;
    let mut s = with_heads(1..=2);
    let h = head(2, 0);
    let block = DetailKey::Block(h.hash);
    assert_eq!(s.on_action(Action::Open), Some((0, Command::Fetch(block))));
    assert_eq!(s.fetch_wanted(), None, "the block is on its way");
    s.apply_now(Update::Detail {
        net: 0,
        key: block,
        result: Ok(block_detail(h, 2)),
    });
    let receipt = |b: u8| Some((0, Command::Fetch(DetailKey::Receipt(B256::repeat_byte(b)))));
    assert_eq!(s.fetch_wanted(), receipt(0x40), "the first row's status");
    assert_eq!(s.fetch_wanted(), None, "asked once");
    s.on_action(Action::Down);
    assert_eq!(s.fetch_wanted(), receipt(0x41));
    s.apply_now(Update::Detail {
        net: 0,
        key: DetailKey::Receipt(B256::repeat_byte(0x41)),
        result: Err("HTTP 429".into()),
    });
    assert_eq!(
        s.fetch_wanted(),
        None,
        "a failure is not asked again by itself"
    );
    // The cache let the block go (many answers since): it is asked for again.
    for i in 0..DETAILS_KEPT {
        let key = DetailKey::Receipt(B256::with_last_byte(i as u8));
        s.networks[0].details.want(key);
    }
    assert_eq!(s.networks[0].details.get(&block), None);
    assert_eq!(s.fetch_wanted(), Some((0, Command::Fetch(block))));
}

#[test]
fn the_mempool_keeps_the_latest_news_of_each_and_makes_room_from_the_finished() {
    use crate::event::{PendingTx, PendingTxEvent, TxState};
    let news = |h: u8, to: Address, state: TxState| PendingTxEvent {
        tx: PendingTx {
            hash: B256::repeat_byte(h),
            from: Address::repeat_byte(0xee),
            to: Some(to),
            value: U256::from(1u64),
            nonce: u64::from(h),
            tip: None,
            max_fee: None,
            token: None,
        },
        state,
        first_seen: std::time::UNIX_EPOCH,
        latency_ms: None,
    };
    let watched = Address::repeat_byte(1);
    let mut m = Mempool::default();
    m.apply(news(1, watched, TxState::Pending));
    assert_eq!(m.pending_for(watched).map(|e| e.tx.nonce), Some(1));
    m.apply(news(1, watched, TxState::Mined { block: 9 }));
    assert_eq!(m.txs.len(), 1, "the same transaction, its news replaced");
    assert!(m.pending_for(watched).is_none(), "mined: no longer pending");
    for h in 2..=MEMPOOL_KEPT as u8 {
        m.apply(news(h, Address::repeat_byte(2), TxState::Pending));
    }
    assert_eq!(m.txs.len(), MEMPOOL_KEPT);
    m.apply(news(0xff, watched, TxState::Pending));
    assert_eq!(m.txs.len(), MEMPOOL_KEPT);
    assert!(
        !m.txs.iter().any(|e| e.tx.hash == B256::repeat_byte(1)),
        "the finished one made room, not a pending one"
    );
    assert_eq!(m.pending(), MEMPOOL_KEPT);
    assert_eq!(m.pending_for(watched).map(|e| e.tx.nonce), Some(0xff));
}

#[test]
fn a_group_collects_its_races_and_new_rivals_start_its_figures_afresh() {
    use crate::event::{ChainGroup, Delivery, RaceResult};
    let mut s = state();
    s.networks.push(NetworkState::new("c", "ws://z"));
    let group = |members: Vec<usize>| Update::Group {
        net: members[0],
        group: 0,
        info: Box::new(ChainGroup {
            name: "g".into(),
            chain_id: Some(1),
            members,
        }),
    };
    let race = |n: u64| Update::Race {
        net: 0,
        race: Box::new(RaceResult {
            group: 0,
            number: n,
            hash: head(n, 0).hash,
            first: 0,
            first_at: SystemTime::now(),
            deliveries: vec![
                (
                    0,
                    Delivery::After {
                        ms: 0,
                        source: HeadSource::Ws,
                    },
                ),
                (
                    1,
                    Delivery::After {
                        ms: 250,
                        source: HeadSource::Ws,
                    },
                ),
            ],
        }),
    };
    assert!(s.group_of(0).is_none());
    s.apply_now(group(vec![0, 1]));
    for n in 1..=3 {
        assert!(s.apply_now(race(n)));
    }
    let (gi, g) = s.group_of(1).expect("b races");
    assert_eq!((gi, g.races_total, g.races.len()), (0, 3, 3));
    assert_eq!(s.networks[0].racer.recent.first, 3);
    assert_eq!(s.networks[1].racer.recent.delay, Some([250, 250, 250]));
    assert!(s.group_of(2).is_none(), "c is not in it");
    // c joins: other rivals, the old figures compare with no one.
    s.networks[1].racer.finality_every = 7;
    s.apply_now(group(vec![0, 1, 2]));
    let (_, g) = s.group_of(2).expect("c races");
    assert_eq!(g.races_total, 0);
    assert_eq!(s.networks[1].racer.recent.heads, 0);
    assert_eq!(
        s.networks[1].racer.finality_every, 7,
        "its own settings stay"
    );
    // b leaves for another chain: the group goes on without it.
    s.apply_now(group(vec![0, 2]));
    assert!(s.group_of(1).is_none());
    assert!(s.networks[1].racer.group.is_none());
    assert!(s.group_of(0).is_some());
    // And a group down to one races no more.
    s.apply_now(group(vec![0]));
    assert!(s.group_of(0).is_none() && s.group_of(2).is_none());
}
