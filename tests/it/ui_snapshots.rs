//! Snapshot tests of the whole screen at several sizes and in the awkward states a
//! user meets: backing off, chain id mismatch, unsupported subscriptions, hostile
//! error text, no colour, too many networks and tiny terminals.
//!
//! Fixtures are built through `AppState::apply` with fixed values; the clocks are then
//! pinned (`state.now`, `state.wall_now`, `live_since`) so every age is stable.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alloy_primitives::Bytes;
use alloy_primitives::utils::parse_ether;
use alloy_primitives::{Address, B256, U256, keccak256};
use chaintop::event::{
    AbiValue, Action, Arg, ConnState, ConnStats, EventLog, Head, HeadSource, HttpHealth, Reorg,
    SubKind, SubStatus, TokenMeta, Update,
};
use chaintop::state::{
    AppState, ContractRow, Focus, InputState, ListCursor, NetworkState, ViewRow, WatchRow,
};
use chaintop::ui::{Theme, draw};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

/// Wall clock of every fixture (unix seconds).
const WALL: u64 = 1_700_000_000;
const MAINNET_TIP: u64 = 19_234_567;
/// How long mainnet has been live when the fixture's clocks are pinned.
const UPTIME: Duration = Duration::from_secs(3_723);

fn wall() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(WALL)
}

fn hash(n: u64, salt: u8) -> B256 {
    let mut bytes = n.to_be_bytes().to_vec();
    bytes.push(salt);
    keccak256(bytes)
}

fn head(number: u64, timestamp: u64, fill: u64, source: HeadSource) -> Head {
    Head {
        number,
        hash: hash(number, 0),
        parent_hash: hash(number.saturating_sub(1), 0),
        timestamp,
        gas_used: 30_000_000 * fill / 100,
        gas_limit: 30_000_000,
        base_fee: Some(U256::from(12_345_678_901u64 + number % 7 * 100_000_000)),
        tx_count: Some(100 + (number % 50) as u32),
        source,
        seen: None,
    }
}

fn addr(s: &str) -> Address {
    s.parse().expect("fixture address")
}

/// Three networks: live mainnet with heads, a reorg, watches and traffic; one backing off;
/// one failed on a chain id mismatch. Clocks pinned to `base`.
fn fixture(base: Instant) -> AppState {
    let mut mainnet = NetworkState::new("mainnet", "wss://eth.example/ws/***");
    mainnet.expected_chain_id = Some(1);
    mainnet.watches = vec![
        WatchRow::new(
            "vitalik",
            addr("0xd8da6bf26964af9d7eed9e03e53415d37aa96045"),
        ),
        WatchRow::new(
            "treasury",
            addr("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"),
        ),
        WatchRow::new("new", addr("0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359")),
    ];
    let mut base_net = NetworkState::new("base", "wss://base.example/ws");
    base_net.expected_chain_id = Some(8453);
    let mut wrong = NetworkState::new("sepolia", "wss://sepolia.example/ws");
    wrong.expected_chain_id = Some(11_155_111);
    let mut s = AppState::new(vec![mainnet, base_net, wrong]);

    let live = ConnState::Live {
        endpoint: "wss://eth.example/ws/***".into(),
    };
    s.apply(
        Update::Connection {
            net: 0,
            state: live,
        },
        base + UPTIME,
    );
    s.apply(
        Update::ChainId {
            net: 0,
            chain_id: 1,
        },
        base + UPTIME,
    );
    let active = SubStatus::Active;
    s.apply(
        Update::Subscription {
            net: 0,
            kind: SubKind::NewHeads,
            status: active.clone(),
        },
        base + UPTIME,
    );
    s.apply(
        Update::Subscription {
            net: 0,
            kind: SubKind::NewPendingTransactions,
            status: active,
        },
        base + UPTIME,
    );
    let first = MAINNET_TIP - 59;
    for n in first..=MAINNET_TIP - 2 {
        let source = if n % 10 == 3 {
            HeadSource::Backfill
        } else {
            HeadSource::Ws
        };
        let ts = WALL - 3 - (MAINNET_TIP - n) * 12;
        s.apply(
            Update::Head {
                net: 0,
                head: head(n, ts, 30 + n * 37 % 70, source),
            },
            base + UPTIME,
        );
    }
    // A depth-2 reorg replaces the last two heads; the replacements are marked.
    let new_tip = hash(MAINNET_TIP - 2, 1);
    s.apply(
        Update::Reorg {
            net: 0,
            reorg: Reorg {
                depth: 2,
                from_number: MAINNET_TIP - 3,
                old_hash: hash(MAINNET_TIP - 2, 0),
                new_hash: new_tip,
                orphaned: vec![
                    (MAINNET_TIP - 3, hash(MAINNET_TIP - 3, 0)),
                    (MAINNET_TIP - 2, hash(MAINNET_TIP - 2, 0)),
                ],
                deeper_than_tracked: false,
            },
        },
        base + UPTIME,
    );
    for n in MAINNET_TIP - 3..=MAINNET_TIP - 2 {
        let mut h = head(
            n,
            WALL - 3 - (MAINNET_TIP - n) * 12,
            55,
            HeadSource::Backfill,
        );
        h.hash = hash(n, 1);
        s.apply(Update::Head { net: 0, head: h }, base + UPTIME);
    }
    for n in MAINNET_TIP - 1..=MAINNET_TIP {
        let ts = WALL - 3 - (MAINNET_TIP - n) * 12;
        s.apply(
            Update::Head {
                net: 0,
                head: head(n, ts, 48, HeadSource::Ws),
            },
            base + UPTIME,
        );
    }
    let vitalik = addr("0xd8da6bf26964af9d7eed9e03e53415d37aa96045");
    let treasury = addr("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed");
    let eth = |v: &str| parse_ether(v).expect("fixture amount");
    for (address, wei, block) in [
        (vitalik, eth("1234.56789"), MAINNET_TIP - 50),
        (vitalik, eth("1200.5"), MAINNET_TIP - 20),
        (treasury, eth("10"), MAINNET_TIP - 50),
        (treasury, eth("10.25"), MAINNET_TIP - 4),
    ] {
        s.apply(
            Update::Balance {
                net: 0,
                address,
                wei,
                block,
            },
            base + UPTIME,
        );
    }
    s.apply(
        Update::Pending {
            net: 0,
            count: 187,
            window_ms: 1000,
        },
        base + UPTIME,
    );
    s.apply(
        Update::Stats {
            net: 0,
            stats: ConnStats {
                messages: 12_345,
                bad_frames: 1,
                errors: 3,
                last_message: Some(wall() - Duration::from_secs(2)),
                http_latency: Some(Duration::from_millis(41)),
                http_at: Some(wall()),
                ping_at: Some(wall()),
                last_error_at: Some(wall() - Duration::from_secs(12)),
                ping_rtt: Some(Duration::from_micros(12_400)),
                http_requests: 1_234,
                pending_coalesced: 17,
                last_error: Some("ws read: connection reset by peer".into()),
                cost: chaintop::cost::CostSnapshot {
                    provider: Some("infura".into()),
                    unit: "credits".into(),
                    total: 98_640.0,
                    per_minute: Some(4_100.0),
                    daily_budget: Some(3_000_000.0),
                    ..Default::default()
                },
            },
        },
        base + UPTIME,
    );
    s.apply(Update::Reconnected { net: 0, count: 2 }, base + UPTIME);
    watch_extras(&mut s);

    s.apply(
        Update::ChainId {
            net: 1,
            chain_id: 8453,
        },
        base + UPTIME,
    );
    s.apply(
        Update::Head {
            net: 1,
            head: head(22_000_000, WALL - 40, 20, HeadSource::Ws),
        },
        base + UPTIME,
    );
    s.apply(
        Update::Connection {
            net: 1,
            state: ConnState::BackingOff {
                until: base + UPTIME + Duration::from_millis(3_200),
                attempt: 3,
                reason: "connection refused".into(),
            },
        },
        base + UPTIME,
    );
    s.apply(Update::Reconnected { net: 1, count: 5 }, base + UPTIME);

    s.apply(
        Update::ChainId {
            net: 2,
            chain_id: 5,
        },
        base + UPTIME,
    );
    s.apply(
        Update::Connection {
            net: 2,
            state: ConnState::Failed {
                reason: "chain id mismatch: expected 11155111, got 5".into(),
                until: base + UPTIME + Duration::from_secs(12),
            },
        },
        base + UPTIME,
    );

    pin_clocks(&mut s, base);
    s
}

const SIMUSD: &str = "0x1111111111111111111111111111111111111111";
const WETH: &str = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2";
const POOL: &str = "0x2222222222222222222222222222222222222222";

fn token_meta(address: &str, symbol: &str, decimals: u8) -> TokenMeta {
    TokenMeta {
        address: addr(address),
        symbol: Some(symbol.into()),
        name: None,
        decimals: Some(decimals),
    }
}

fn arg(name: &str, ty: &str, value: AbiValue) -> Arg {
    Arg {
        name: name.into(),
        ty: ty.into(),
        indexed: ty == "address",
        value,
    }
}

/// `units` of a six-decimal token, in its smallest unit.
fn usd(units: u64, cents: u64) -> AbiValue {
    AbiValue::Uint {
        value: U256::from(units * 1_000_000 + cents * 10_000),
        decimals: Some(6),
    }
}

fn uint(v: u64) -> AbiValue {
    AbiValue::Uint {
        value: U256::from(v),
        decimals: None,
    }
}

fn transfer(from: Address, to: Address, value: AbiValue, block: u64, index: u64) -> EventLog {
    let addr_arg = |name: &str, a: Address| arg(name, "address", AbiValue::Address(a));
    EventLog {
        address: addr(SIMUSD),
        source: Some("SIMUSD".into()),
        event: Some("Transfer".into()),
        args: vec![
            addr_arg("from", from),
            addr_arg("to", to),
            arg("value", "uint256", value),
        ],
        topics: Vec::new(),
        data: Bytes::new(),
        block: Some(block),
        block_hash: Some(hash(block, 0)),
        tx: Some(hash(block, 100 + index as u8)),
        log_index: Some(index),
        removed: false,
    }
}

/// Mainnet's tokens, nonces, activity, event feed and contract views: two tokens, a
/// contract with a view that changed in the latest head and one that reverts, and a
/// feed with a retracted and an undecodable log.
fn watch_extras(s: &mut AppState) {
    let vitalik = addr("0xd8da6bf26964af9d7eed9e03e53415d37aa96045");
    let treasury = addr("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed");
    let stranger = addr("0x70997970c51812dc3a010c7d01b50e0d17dc79c8");
    s.networks[0].contracts.push(ContractRow {
        address: addr(POOL),
        label: "pool".into(),
        views: vec![
            ViewRow::new("totalSupply()(uint256)"),
            ViewRow::new("balanceOf(address)(uint256)"),
            ViewRow::new("getReserves()(uint112,uint112,uint32)"),
        ],
    });
    for meta in [
        token_meta(SIMUSD, "SIMUSD", 6),
        token_meta(WETH, "WETH", 18),
    ] {
        s.apply(Update::Token { net: 0, meta }, s.now);
    }
    let tb = |holder, token: &str, amount: U256, block| Update::TokenBalance {
        net: 0,
        holder,
        token: addr(token),
        amount,
        block,
    };
    let eth = |v: &str| parse_ether(v).expect("fixture amount");
    for u in [
        tb(
            vitalik,
            SIMUSD,
            U256::from(2_500_000_000u64),
            MAINNET_TIP - 40,
        ),
        tb(vitalik, SIMUSD, U256::from(1_000_250_000u64), MAINNET_TIP),
        tb(vitalik, WETH, eth("3.5"), MAINNET_TIP - 40),
        tb(
            treasury,
            SIMUSD,
            U256::from(12_000_000u64),
            MAINNET_TIP - 40,
        ),
        tb(treasury, WETH, U256::ZERO, MAINNET_TIP - 40),
    ] {
        s.apply(u, s.now);
    }
    for (address, nonce) in [(vitalik, 1_234), (treasury, 7)] {
        s.apply(
            Update::Nonce {
                net: 0,
                address,
                nonce,
                block: MAINNET_TIP,
            },
            s.now,
        );
    }
    s.apply(
        Update::Balance {
            net: 0,
            address: treasury,
            wei: eth("10.5"),
            block: MAINNET_TIP,
        },
        s.now,
    );
    s.apply(
        Update::Activity {
            net: 0,
            address: vitalik,
            block: Some(MAINNET_TIP),
            block_hash: None,
            tx: hash(MAINNET_TIP, 100),
        },
        s.now,
    );

    let logs = [
        transfer(vitalik, treasury, usd(1_500, 25), MAINNET_TIP, 0),
        transfer(stranger, vitalik, usd(3, 0), MAINNET_TIP - 1, 1),
        EventLog {
            address: addr(POOL),
            source: Some("pool".into()),
            event: None,
            args: Vec::new(),
            topics: vec![hash(1, 7), hash(2, 7)],
            data: Bytes::from(vec![0xab; 64]),
            block: Some(MAINNET_TIP - 1),
            block_hash: Some(hash(MAINNET_TIP - 1, 0)),
            tx: Some(hash(MAINNET_TIP - 1, 9)),
            log_index: Some(2),
            removed: false,
        },
    ];
    // Oldest first; the second log is then retracted by a reorg.
    for log in logs.into_iter().rev() {
        s.apply(
            Update::Log {
                net: 0,
                log: Box::new(log),
            },
            s.now,
        );
    }
    let mut retracted = transfer(stranger, vitalik, usd(3, 0), MAINNET_TIP - 1, 1);
    retracted.removed = true;
    s.apply(
        Update::Log {
            net: 0,
            log: Box::new(retracted),
        },
        s.now,
    );

    let view = |index, block, value: Result<AbiValue, &str>| Update::View {
        net: 0,
        contract: addr(POOL),
        index,
        block,
        value: value.map_err(str::to_string),
    };
    for u in [
        view(0, MAINNET_TIP - 5, Ok(uint(1_000_000))),
        view(0, MAINNET_TIP, Ok(uint(1_000_500))),
        view(1, MAINNET_TIP, Err("execution reverted: not allowed")),
        view(
            2,
            MAINNET_TIP - 30,
            Ok(AbiValue::Tuple(vec![
                uint(120),
                uint(340),
                uint(1_700_000_000),
            ])),
        ),
    ] {
        s.apply(u, s.now);
    }
}

fn pin_clocks(s: &mut AppState, base: Instant) {
    s.now = base + UPTIME;
    s.wall_now = wall();
    for net in &mut s.networks {
        if net.live_since.is_some() {
            net.live_since = Some(base);
        }
        // Derived from the OS clock between two samples; pin it.
        net.msgs_per_sec = 42.5;
    }
}

/// Five networks in every remaining connection state; too many for 80 columns.
fn five_networks(base: Instant) -> AppState {
    let mut s = fixture(base);
    s.networks
        .push(NetworkState::new("optimism", "wss://op.example/ws"));
    s.networks
        .push(NetworkState::new("arbitrum", "https://arb.example/rpc"));
    s.apply(
        Update::Connection {
            net: 3,
            state: ConnState::Stalled {
                reason: "no head for 60s".into(),
            },
        },
        base + UPTIME,
    );
    s.apply(
        Update::Connection {
            net: 4,
            state: ConnState::Polling {
                endpoint: "https://arb.example/rpc".into(),
                reason: "HTTP only (no WebSocket configured)".into(),
                retry_at: None,
            },
        },
        base + UPTIME,
    );
    s.apply(
        Update::Head {
            net: 4,
            head: head(250_000_000, WALL - 1, 5, HeadSource::Poll),
        },
        base + UPTIME,
    );
    pin_clocks(&mut s, base);
    s
}

fn render(state: &AppState, theme: &Theme, width: u16, height: u16) -> Buffer {
    let mut term = Terminal::new(TestBackend::new(width, height)).expect("test backend");
    term.draw(|f| draw(f, state, theme)).expect("draw");
    term.backend().buffer().clone()
}

fn text(buf: &Buffer) -> String {
    let width = usize::from(buf.area.width.max(1));
    let mut out = String::new();
    for row in buf.content.chunks(width) {
        let line: String = row.iter().map(|c| c.symbol()).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

pub(crate) fn screen(state: &AppState, width: u16, height: u16) -> String {
    text(&render(state, &dark(), width, height))
}

fn dark() -> Theme {
    Theme::builtin("dark").expect("built-in theme")
}

fn assert_clean(buf: &Buffer) {
    for (i, cell) in buf.content.iter().enumerate() {
        let sym = cell.symbol();
        let bad = sym.chars().any(|c| {
            c.is_control()
                || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
        });
        assert!(!bad, "cell {i} holds {sym:?}");
    }
}

#[test]
fn overview_80x24() {
    let s = fixture(Instant::now());
    insta::assert_snapshot!(screen(&s, 80, 24));
}

#[test]
fn overview_200x60() {
    let s = fixture(Instant::now());
    insta::assert_snapshot!(screen(&s, 200, 60));
}

#[test]
fn overview_120x40() {
    let s = fixture(Instant::now());
    insta::assert_snapshot!(screen(&s, 120, 40));
}

#[test]
fn narrow_50x24_shows_one_column() {
    let mut s = fixture(Instant::now());
    s.selected = 1;
    let out = screen(&s, 50, 24);
    assert!(out.contains("2 base"), "{out}");
    assert!(!out.contains("1 mainnet"), "{out}");
    assert!(
        out.contains("◀ 1 more") && out.contains("1 more ▶"),
        "{out}"
    );
    insta::assert_snapshot!(out);
}

#[test]
fn alerts_popup_and_the_firing_count_80x24() {
    use chaintop::event::{AlertNotice, AlertState};
    let mut s = fixture(Instant::now());
    let at = std::time::UNIX_EPOCH + Duration::from_secs(1_796_142_536);
    let notice = |rule: &str, state, secs: u64, message: &str, repeats| AlertNotice {
        rule: rule.into(),
        kind: if rule == "whale" {
            "transfer"
        } else {
            "head_stalled"
        },
        resolves: rule != "whale",
        network: "mainnet".into(),
        state,
        // A hostile message from a chain is shown as text.
        message: message.into(),
        about: chaintop::event::Subject::Network,
        repeats,
        at: at + Duration::from_secs(secs),
        sinks: vec!["tui".into()],
    };
    for (rule, state, secs, message, repeats) in [
        (
            "mainnet stalled",
            AlertState::Fired,
            0,
            "no new head for 60s (last: 19,000,000)",
            0,
        ),
        (
            "mainnet stalled",
            AlertState::Resolved,
            75,
            "heads again: 19,000,001 after 75s",
            0,
        ),
        (
            "node down",
            AlertState::Fired,
            80,
            "not live for 30s \u{1b}[31m",
            2,
        ),
        (
            "whale",
            AlertState::Fired,
            90,
            "USDC Transfer of 2500000 (at least 1000000)",
            0,
        ),
    ] {
        let alert = Box::new(notice(rule, state, secs, message, repeats));
        s.apply(Update::Alert { net: 0, alert }, Instant::now());
    }
    let title = screen(&s, 80, 24);
    assert!(
        title
            .lines()
            .next()
            .is_some_and(|l| l.contains("1 alert firing")),
        "{title}"
    );
    s.on_action(chaintop::event::Action::ToggleAlerts);
    let buf = render(&s, &dark(), 80, 24);
    assert_clean(&buf);
    let out = text(&buf);
    assert!(out.contains("(+2 held)"), "{out}");
    insta::assert_snapshot!(out);
    s.on_action(chaintop::event::Action::Escape);
    assert!(!s.show_alerts);
}

#[test]
fn help_popup_80x24() {
    let mut s = fixture(Instant::now());
    s.show_help = true;
    let out = screen(&s, 80, 24);
    for key in [
        "quit",
        "Tab",
        "reconnect the selected network",
        "add a watch / remove it / undo",
        "pick a network by name",
        "Esc or ? closes",
    ] {
        assert!(out.contains(key), "{key} missing:\n{out}");
    }
    insta::assert_snapshot!(out);
}

#[test]
fn five_networks_80x24_window_follows_selection() {
    let mut s = five_networks(Instant::now());
    let first = screen(&s, 80, 24);
    assert!(
        first.contains("1 mainnet") && first.contains("2 more ▶"),
        "{first}"
    );
    assert!(!first.contains("◀"), "{first}");
    s.selected = 2;
    let middle = screen(&s, 80, 24);
    assert!(
        middle.contains("◀ 1 more") && middle.contains("1 more ▶"),
        "{middle}"
    );
    insta::assert_snapshot!(middle);
    s.selected = 4;
    let last = screen(&s, 80, 24);
    assert!(
        last.contains("5 arbitrum") && last.contains("◀ 2 more"),
        "{last}"
    );
    assert!(!last.contains("more ▶"), "{last}");
    insta::assert_snapshot!(last);
}

#[test]
fn five_networks_200x60() {
    let s = five_networks(Instant::now());
    insta::assert_snapshot!(screen(&s, 200, 60));
}

#[test]
fn backing_off_counts_down() {
    let mut s = fixture(Instant::now());
    s.selected = 1;
    let out = screen(&s, 200, 60);
    assert!(out.contains("reconnecting in 4s · try 3"), "{out}");
    assert!(out.contains("connection refused"), "{out}");
    let now = s.now;
    s.tick(
        now + Duration::from_millis(1_500),
        wall() + Duration::from_millis(1_500),
    );
    let later = screen(&s, 200, 60);
    assert!(later.contains("reconnecting in 2s · try 3"), "{later}");
    // Past the deadline the countdown stays at zero rather than going negative.
    s.tick(
        now + Duration::from_secs(10),
        wall() + Duration::from_secs(10),
    );
    assert!(screen(&s, 200, 60).contains("reconnecting in 0s · try 3"));
    insta::assert_snapshot!(screen(&s, 100, 30));
}

#[test]
fn failed_chain_id_mismatch() {
    let mut s = fixture(Instant::now());
    s.selected = 2;
    for (w, h, mismatch) in [
        (80, 24, "chain 5 ≠ 11155111"),
        (200, 60, "chain 5 ≠ expected 11155111"),
    ] {
        let out = screen(&s, w, h);
        assert!(out.contains(mismatch), "{out}");
        assert!(out.contains("● failed"), "{out}");
        assert!(out.contains("chain id mismatch"), "{out}");
    }
    insta::assert_snapshot!(screen(&s, 80, 24));
}

#[test]
fn pending_unsupported_by_endpoint() {
    let base = Instant::now();
    let mut s = fixture(base);
    let refused = SubStatus::Unsupported("the method eth_subscribe does not exist".into());
    s.apply(
        Update::Subscription {
            net: 0,
            kind: SubKind::NewPendingTransactions,
            status: refused,
        },
        s.now,
    );
    pin_clocks(&mut s, base);
    let wide = screen(&s, 200, 60);
    assert!(wide.contains("pending: unsupported by endpoint"), "{wide}");
    let short = screen(&s, 80, 24);
    assert!(short.contains("pending: unsupported"), "{short}");
    insta::assert_snapshot!(wide);
}

#[test]
fn pending_off_where_billed_is_said_plainly() {
    let base = Instant::now();
    let mut s = fixture(base);
    s.apply(
        Update::Subscription {
            net: 0,
            kind: SubKind::NewPendingTransactions,
            status: SubStatus::Off("infura bills each pending event".into()),
        },
        s.now,
    );
    pin_clocks(&mut s, base);
    let wide = screen(&s, 200, 60);
    assert!(wide.contains("pending: off (billed/event)"), "{wide}");
    // The rate it replaces is gone: no "pending 187/s" for a stream not asked for.
    assert!(!wide.contains("pending 187"), "{wide}");
    let short = screen(&s, 80, 24);
    assert!(short.contains("pending: off"), "{short}");
}

#[test]
fn hostile_text_is_escaped() {
    let mut s = fixture(Instant::now());
    let evil = "bad\x1b[31mred\x1b]8;;http://x\x07link\u{202E}gnp.exe\r\n";
    s.networks[0].stats.last_error = Some(evil.into());
    s.networks[1].conn = ConnState::BackingOff {
        until: s.now + Duration::from_secs(3),
        attempt: 1,
        reason: format!("refused {evil}"),
    };
    s.networks[2].endpoint = "wss://x\x1b[2J\u{2066}.example".into();
    s.networks[2].conn = ConnState::Connecting {
        endpoint: s.networks[2].endpoint.clone(),
    };
    s.networks[0].watches[0].label = "lbl\x1b[5m\u{202E}".into();
    s.networks[0].name = "main\x1bnet".into();
    for (w, h) in [(80, 24), (200, 60), (120, 40)] {
        let buf = render(&s, &dark(), w, h);
        assert_clean(&buf);
        let out = text(&buf);
        assert!(out.contains("\\x1b"), "{out}");
    }
    let out = screen(&s, 200, 60);
    assert!(
        out.contains("bad\\x1b[31mred\\x1b]8;;http://x\\x07link\\u{202e}gnp.exe"),
        "{out}"
    );
    assert!(out.contains("wss://x\\x1b[2J\\u{2066}.example"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn no_color_theme_uses_only_modifiers() {
    let mut s = fixture(Instant::now());
    s.focus = Focus::Heads;
    s.cursors.heads = ListCursor::at(1);
    let theme = Theme::no_color();
    let buf = render(&s, &theme, 120, 40);
    for cell in &buf.content {
        assert_eq!((cell.fg, cell.bg), (Color::Reset, Color::Reset), "{cell:?}");
    }
    // The focused list's cursor row is still visible without colour.
    let row = text(&buf)
        .lines()
        .position(|l| l.contains("19,234,566"))
        .unwrap();
    let reversed = buf.content[row * 120..(row + 1) * 120]
        .iter()
        .filter(|c| c.modifier.contains(Modifier::REVERSED))
        .count();
    assert!(reversed > 20, "cursor row not highlighted");
    insta::assert_snapshot!(text(&buf));
}

#[test]
fn focused_heads_row_is_highlighted_in_colour() {
    let mut s = fixture(Instant::now());
    s.focus = Focus::Heads;
    s.cursors.heads = ListCursor::at(2);
    let theme = dark();
    let buf = render(&s, &theme, 200, 60);
    let out = text(&buf);
    let row = out
        .lines()
        .position(|l| l.contains("19,234,565"))
        .expect("third head shown");
    let selected_bg = theme.selected().bg;
    assert!(selected_bg.is_some());
    let hits = buf.content[row * 200..(row + 1) * 200]
        .iter()
        .filter(|c| Some(c.bg) == selected_bg)
        .count();
    assert!(hits > 20, "cursor row not highlighted");
}

#[test]
fn heads_list_scrolls_with_cursor() {
    let mut s = fixture(Instant::now());
    s.focus = Focus::Heads;
    s.cursors.heads = ListCursor::at(30);
    let theme = dark();
    let buf = render(&s, &theme, 80, 24);
    let out = text(&buf);
    let cursor_number = "19,234,537";
    assert!(
        !out.contains("19,234,567 0x"),
        "newest row should have scrolled away:\n{out}"
    );
    let row = out
        .lines()
        .position(|l| l.contains(cursor_number))
        .expect("cursor row shown");
    let cell = &buf.content[row * 80 + 5];
    assert_eq!(Some(cell.bg), theme.selected().bg, "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn selected_and_focused_borders_differ() {
    let mut s = fixture(Instant::now());
    let theme = dark();
    // Top-left corner of the first (selected) and second network column.
    let corner_fg = |s: &AppState, x: usize| render(s, &theme, 80, 24).content[80 + x].fg;
    let selected_focused = corner_fg(&s, 0);
    let other = corner_fg(&s, 27);
    s.focus = Focus::Heads;
    let selected_unfocused = corner_fg(&s, 0);
    assert_eq!(Some(selected_focused), theme.block_selected(true).fg);
    assert_eq!(Some(selected_unfocused), theme.block_selected(false).fg);
    assert_eq!(Some(other), theme.block(false).fg);
    assert_ne!(selected_focused, selected_unfocused);
    assert_ne!(selected_unfocused, other);
}

#[test]
fn no_cell_holds_escape_or_control_chars() {
    let base = Instant::now();
    let mut states = vec![fixture(base), five_networks(base)];
    let mut help = fixture(base);
    help.show_help = true;
    states.push(help);
    for focus in [Focus::Watches, Focus::Events, Focus::Contracts] {
        let mut s = fixture(base);
        s.focus = focus;
        s.side_tab = focus;
        states.push(s);
    }
    let mut typing = fixture(base);
    typing.input = Some(InputState::new());
    states.push(typing);
    for s in &states {
        for (w, h) in [(80, 24), (200, 60), (50, 20), (26, 10)] {
            assert_clean(&render(s, &dark(), w, h));
        }
    }
}

#[test]
fn tiny_sizes_do_not_panic() {
    let base = Instant::now();
    let mut s = five_networks(base);
    s.show_help = true;
    let empty = AppState::new(Vec::new());
    for (w, h) in [(1, 1), (20, 5), (2, 2), (0, 0), (5, 1), (1, 40), (300, 3)] {
        render(&s, &dark(), w, h);
        render(&empty, &dark(), w, h);
    }
    for w in (1..=90).step_by(7) {
        for h in (1..=45).step_by(4) {
            s.show_help = !s.show_help;
            s.selected = usize::from(w % 5);
            render(&s, &dark(), w, h);
        }
    }
    // Every detail view, fetched or not, at every size.
    use chaintop::state::DetailView;
    let mut f = fixture(base);
    let log = f.networks[0].events.iter().next_back().cloned();
    let views = [
        DetailView::Block {
            net: 0,
            hash: hash(MAINNET_TIP, 0),
            number: MAINNET_TIP,
            cursor: ListCursor::default(),
        },
        DetailView::Receipt {
            net: 0,
            tx: hash(MAINNET_TIP, 100),
        },
        DetailView::Watch {
            net: 0,
            address: addr("0xd8da6bf26964af9d7eed9e03e53415d37aa96045"),
        },
        DetailView::Health { net: 0 },
    ];
    for view in views.into_iter().chain(log.map(|log| DetailView::Event {
        net: 0,
        log: Box::new(log),
    })) {
        f.views = vec![view];
        for w in (1..=90).step_by(11) {
            for h in (1..=45).step_by(6) {
                render(&f, &dark(), w, h);
            }
        }
    }
    s.show_help = false;
    s.selected = 0;
    insta::assert_snapshot!(screen(&s, 20, 5));
}

#[test]
fn theme_load_rejects_bad_user_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("broken.toml");
    std::fs::write(&path, "text = \"#ffffff\"\nborder = \"blue\"\n").expect("write theme");
    let err = Theme::load("broken", Some(dir.path()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("broken.toml:2: key `border`"), "{err}");
    assert!(Theme::builtin_names().contains(&"light"));
}

/// Row index of the first line containing `needle`.
fn row_of(out: &str, needle: &str) -> usize {
    out.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not shown:\n{out}"))
}

/// The cells of `buf` where `needle` starts on the first line holding it.
fn cells_of<'a>(buf: &'a Buffer, needle: &str) -> &'a [ratatui::buffer::Cell] {
    let out = text(buf);
    let width = usize::from(buf.area.width);
    let row = row_of(&out, needle);
    let line = out.lines().nth(row).unwrap_or_default();
    let col = line[..line.find(needle).unwrap_or(0)].chars().count();
    &buf.content[row * width + col..row * width + col + needle.chars().count()]
}

#[test]
fn watches_show_tokens_nonce_and_activity() {
    let s = fixture(Instant::now());
    let wide = screen(&s, 200, 60);
    let vitalik = wide
        .lines()
        .nth(row_of(&wide, "vitalik "))
        .unwrap_or_default();
    for want in [
        "0xd8dA…6045",
        "1,200.5000",
        "1,234",
        "1,000.2500",
        "3.5000",
        "block 19,234,567",
    ] {
        assert!(vitalik.contains(want), "{want} missing: {vitalik}");
    }
    let treasury = wide
        .lines()
        .nth(row_of(&wide, "treasury "))
        .unwrap_or_default();
    assert!(
        treasury.contains("+0.2500"),
        "change in the last block: {treasury}"
    );
    assert!(wide.contains("activity from blocks only"), "{wide}");
    for header in ["SIMUSD", "WETH", "nonce", "activity", "Δ block"] {
        assert!(wide.contains(header), "{header} column missing");
    }

    // Narrow with three tokens: one compact column, first token with its symbol.
    let mut s = fixture(Instant::now());
    let dai = "0x3333333333333333333333333333333333333333";
    s.apply(
        Update::Token {
            net: 0,
            meta: token_meta(dai, "DAI", 18),
        },
        s.now,
    );
    s.apply(
        Update::TokenBalance {
            net: 0,
            holder: addr("0xd8da6bf26964af9d7eed9e03e53415d37aa96045"),
            token: addr(dai),
            amount: parse_ether("12345678.9").expect("amount"),
            block: MAINNET_TIP,
        },
        s.now,
    );
    s.focus = Focus::Watches;
    let narrow = screen(&s, 60, 24);
    assert!(narrow.contains("1,000.25 SIMUSD +2"), "{narrow}");
    insta::assert_snapshot!(narrow);
}

#[test]
fn event_feed_marks_reverted_and_raw_logs() {
    let mut s = fixture(Instant::now());
    s.focus = Focus::Events;
    s.side_tab = Focus::Events;
    let theme = dark();
    let buf = render(&s, &theme, 80, 24);
    let out = text(&buf);
    let lines: Vec<&str> = out.lines().collect();
    let first = row_of(&out, "Transfer");
    assert!(lines[first].contains("#19,234,567"), "newest first:\n{out}");
    assert!(
        lines[first].contains("from=vitalik to=treasury"),
        "watched addresses by label:\n{out}"
    );
    let reverted = row_of(&out, "reverted");
    assert!(lines[reverted].contains("to=vitalik"), "{out}");
    assert!(
        lines[reverted].contains("0x7099…79C8"),
        "others shortened:\n{out}"
    );
    let struck = cells_of(&buf, "Transfer")
        .iter()
        .all(|c| !c.modifier.contains(Modifier::CROSSED_OUT));
    assert!(struck, "a live log is not struck through");
    let width = usize::from(buf.area.width);
    let crossed = buf.content[reverted * width..(reverted + 1) * width]
        .iter()
        .filter(|c| c.modifier.contains(Modifier::CROSSED_OUT))
        .count();
    assert!(crossed > 20, "reverted row struck through:\n{out}");
    assert!(
        !out.contains("heads ·"),
        "the focused feed takes the width:\n{out}"
    );
    assert!(
        screen(&s, 120, 40).contains("heads ·"),
        "beside the heads when wide"
    );
    let raw = row_of(&out, " raw ");
    assert!(
        lines[raw].contains("t0=0x") && lines[raw].contains("data=0xabab"),
        "{out}"
    );
    insta::assert_snapshot!(out);
    let wide = screen(&s, 200, 60);
    assert!(wide.contains("data=0xabab…abab (64 B)"), "{wide}");
    assert!(
        wide.contains("SIMUSD Transfer"),
        "source shown when wide:\n{wide}"
    );
    insta::assert_snapshot!(wide);
}

#[test]
fn contracts_pane_highlights_change_and_shows_revert() {
    let mut s = fixture(Instant::now());
    s.focus = Focus::Contracts;
    s.side_tab = Focus::Contracts;
    let theme = dark();
    let buf = render(&s, &theme, 80, 24);
    let out = text(&buf);
    assert!(out.contains("pool  0x2222…2222"), "{out}");
    assert!(out.contains("was 1,000,000"), "{out}");
    let changed = cells_of(&buf, "1,000,500");
    assert!(
        changed.iter().all(|c| Some(c.fg) == theme.up().fg),
        "{changed:?}"
    );
    let old = cells_of(&buf, "was 1,000,000");
    assert!(old.iter().all(|c| Some(c.fg) == theme.dim().fg));
    let revert = cells_of(&buf, "execution reverted");
    assert!(revert.iter().all(|c| Some(c.fg) == theme.error().fg));
    let steady = cells_of(&buf, "(120, 340");
    assert!(
        steady.iter().all(|c| Some(c.fg) == theme.text().fg),
        "unchanged views are plain"
    );
    insta::assert_snapshot!(out);
}

#[test]
fn add_watch_popup_validates_as_typed() {
    let mut s = fixture(Instant::now());
    let mut input = InputState::new();
    for c in "0x12ab".chars() {
        input.push(c);
    }
    s.input = Some(input);
    let small = screen(&s, 80, 24);
    for want in [
        "add watch address",
        "▸ address",
        "0x12ab█",
        "✗ 4/40 hex digits",
        "Enter",
        "Esc cancel",
    ] {
        assert!(small.contains(want), "{want} missing:\n{small}");
    }
    insta::assert_snapshot!(small);

    let mut input = InputState::new();
    for c in "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266".chars() {
        input.push(c);
    }
    input.submit();
    input.push('d');
    s.input = Some(input);
    let wide = screen(&s, 200, 60);
    assert!(
        wide.contains("✓ 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"),
        "{wide}"
    );
    assert!(wide.contains("▸ label     d█"), "{wide}");
    insta::assert_snapshot!(wide);
}

#[test]
fn logs_unsupported_by_endpoint_is_said() {
    let base = Instant::now();
    let mut s = fixture(base);
    s.apply(
        Update::Subscription {
            net: 0,
            kind: SubKind::Logs,
            status: SubStatus::Unsupported("no logs here".into()),
        },
        s.now,
    );
    pin_clocks(&mut s, base);
    assert!(screen(&s, 200, 60).contains("logs: unsupported by endpoint"));
    assert!(screen(&s, 80, 24).contains("logs: unsupported"));
}

#[test]
fn hostile_token_symbol_is_displayed_escaped() {
    let mut s = fixture(Instant::now());
    // What a hostile `symbol()` returns, escaped the way the backend escapes chain text.
    let hostile = "\x1b[31mEVIL\x1b]0;owned\x07\u{202E}";
    s.apply(
        Update::Token {
            net: 0,
            meta: TokenMeta {
                address: addr(SIMUSD),
                symbol: Some(chaintop::text::sanitize(hostile).into_owned()),
                name: None,
                decimals: Some(6),
            },
        },
        s.now,
    );
    // The feed's source is the symbol too.
    let mut log = transfer(
        addr("0xd8da6bf26964af9d7eed9e03e53415d37aa96045"),
        addr(WETH),
        usd(1, 0),
        MAINNET_TIP,
        5,
    );
    log.source = Some(hostile.into());
    s.apply(
        Update::Log {
            net: 0,
            log: Box::new(log),
        },
        s.now,
    );
    s.apply(
        Update::Token {
            net: 0,
            meta: token_meta("0x3333333333333333333333333333333333333333", hostile, 18),
        },
        s.now,
    );
    for (w, h) in [(80, 24), (120, 40), (200, 60)] {
        for focus in [Focus::Watches, Focus::Events] {
            s.focus = focus;
            s.side_tab = focus;
            let buf = render(&s, &dark(), w, h);
            assert_clean(&buf);
            let out = text(&buf);
            // The feed names its source only when wide.
            if focus == Focus::Watches || w == 200 {
                assert!(out.contains("\\x1b[31mEVIL"), "{w}x{h}:\n{out}");
            }
        }
    }
    s.focus = Focus::Watches;
    let out = screen(&s, 200, 60);
    // Long symbols are cut to keep the columns readable; what shows is escaped.
    assert!(out.contains("\\x1b[31mEVIL\\x1b]0;…"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn events_and_contracts_cursor_rows_are_highlighted() {
    let mut s = fixture(Instant::now());
    let theme = dark();
    let selected = theme.selected().bg;
    assert!(selected.is_some());
    for (focus, needle) in [(Focus::Events, " raw "), (Focus::Contracts, "balanceOf")] {
        s.focus = focus;
        s.side_tab = focus;
        s.cursors.events = ListCursor::at(2);
        s.cursors.contracts = ListCursor::at(2);
        let buf = render(&s, &theme, 80, 24);
        let out = text(&buf);
        let row = row_of(&out, needle);
        let hits = buf.content[row * 80..(row + 1) * 80]
            .iter()
            .filter(|c| c.bg == selected.unwrap_or_default())
            .count();
        assert!(hits > 20, "{focus:?} cursor row not highlighted:\n{out}");
        let others = buf
            .content
            .iter()
            .filter(|c| c.bg == selected.unwrap_or_default())
            .count();
        assert_eq!(others, hits, "only the cursor row is highlighted");
    }
}

/// The health pane never shows a figure as current when it is not: heads frozen on a
/// live connection, a rate or round-trip from before the socket went away.
#[test]
fn nothing_older_than_it_looks() {
    let base = Instant::now();
    let mut s = fixture(base);
    s.selected = 0;
    // Mainnet's last head came at `s.now`; a minute later nothing else has.
    s.networks[0].last_head_at = Some(s.now);
    let now = s.now;
    s.tick(
        now + Duration::from_secs(60),
        wall() + Duration::from_secs(60),
    );
    let out = screen(&s, 120, 40);
    assert!(out.contains("live · no head for 1m00s"), "{out}");
    assert!(!out.contains("up 1h"), "not 'live, up' while frozen: {out}");
    // The pending rate and ping of a minute ago are dimmed with their age.
    assert!(out.contains("pending 187/s 1m00s ago"), "{out}");
    assert!(out.contains("ping 12ms 1m00s ago"), "{out}");
    // The network that is reconnecting shows no rates at all.
    assert!(out.contains("msgs —"), "{out}");
    // Pressing `r` is acknowledged until the backend answers.
    s.on_action(Action::Reconnect);
    let out = screen(&s, 120, 40);
    assert!(out.contains("reconnecting mainnet…"), "{out}");
    s.apply(
        Update::Connection {
            net: 0,
            state: ConnState::Connecting {
                endpoint: "wss://eth.example/ws".into(),
            },
        },
        s.now,
    );
    assert!(!screen(&s, 120, 40).contains("reconnecting mainnet…"));
}

/// HTTP trouble has a line of its own, with its countdown.
#[test]
fn http_state_is_shown_with_its_countdown() {
    let base = Instant::now();
    let mut s = fixture(base);
    s.apply(
        Update::Http {
            net: 0,
            health: HttpHealth::RateLimited {
                until: s.now + Duration::from_secs(8),
                reason: "HTTP 429 Too Many Requests".into(),
            },
        },
        s.now,
    );
    s.apply(
        Update::Http {
            net: 1,
            health: HttpHealth::Failing {
                reason: "HTTP 502 Bad Gateway".into(),
                in_a_row: 3,
            },
        },
        s.now,
    );
    let out = screen(&s, 200, 60);
    assert!(out.contains("http rate-limited, retry in 8s"), "{out}");
    assert!(
        out.contains("http failing: HTTP 502 Bad Gateway (3 in a row)"),
        "{out}"
    );
    insta::assert_snapshot!(screen(&s, 80, 24));
}

#[test]
fn the_budget_share_is_warning_coloured_only_above_80_percent() {
    let theme = dark();
    // The share's cells: find "197%" (fixture: 4,100 credits a minute, a 3M budget).
    let share_fg = |s: &AppState, text: &str| {
        let buf = render(s, &theme, 120, 40);
        let joined: String = buf.content.iter().map(|c| c.symbol()).collect();
        let at = joined
            .find(text)
            .unwrap_or_else(|| panic!("{text} not on screen"));
        // One cell per char (box drawing is several bytes): the digit after the space.
        buf.content[joined[..at].chars().count() + 1].fg
    };
    let mut s = fixture(Instant::now());
    assert_eq!(Some(share_fg(&s, " 197%")), theme.warn().fg);
    s.networks[0].stats.cost.daily_budget = Some(30_000_000.0);
    assert_eq!(Some(share_fg(&s, " 20%")), theme.dim().fg);
}

/// Cells drawn reversed on the first line holding `needle`.
fn reversed_on_line_of(buf: &Buffer, needle: &str) -> usize {
    let width = usize::from(buf.area.width);
    let row = row_of(&text(buf), needle);
    buf.content[row * width..(row + 1) * width]
        .iter()
        .filter(|c| c.modifier.contains(Modifier::REVERSED))
        .count()
}

#[test]
fn an_alert_flashes_the_row_it_is_about_on_and_off() {
    use chaintop::event::Subject;
    let mut s = fixture(Instant::now());
    let theme = dark();
    let now = s.now;
    let off = now - Duration::from_millis(1_500);
    let vitalik = addr("0xd8da6bf26964af9d7eed9e03e53415d37aa96045");
    let cases = [
        (
            Focus::Watches,
            Subject::Balance {
                holder: vitalik,
                token: Some(addr(SIMUSD)),
            },
            "1,200.5000",
        ),
        (
            Focus::Contracts,
            Subject::View {
                contract: addr(POOL),
                index: 1,
            },
            "balanceOf",
        ),
        // The contract's newest event (the feed is newest first).
        (Focus::Events, Subject::Contract(addr(SIMUSD)), "Transfer"),
        (Focus::Networks, Subject::Network, " 1 mainnet"),
    ];
    for (tab, about, needle) in cases {
        if tab != Focus::Networks {
            s.side_tab = tab;
        }
        s.networks[0].flash = Some((about, now));
        let on = reversed_on_line_of(&render(&s, &theme, 120, 40), needle);
        assert!(
            on >= "mainnet".len(),
            "{about:?}: {needle} flashes ({on} cells)"
        );
        s.networks[0].flash = Some((about, off));
        let dark_phase = reversed_on_line_of(&render(&s, &theme, 120, 40), needle);
        assert_eq!(dark_phase, 0, "{about:?}: off on the odd second");
        s.networks[0].flash = Some((about, now - Duration::from_secs(7)));
        let over = reversed_on_line_of(&render(&s, &theme, 120, 40), needle);
        assert_eq!(over, 0, "{about:?}: over after a while");
    }
}

#[test]
fn a_sink_that_is_off_is_said_in_the_title_and_the_popup() {
    let mut s = fixture(Instant::now());
    let failure = chaintop::event::SinkFailure {
        net: 0,
        sink: "desk".into(),
        alert: "mainnet stalled".into(),
        reason: "no notification service (org.freedesktop.Notifications) on the session bus".into(),
        off: true,
        at: UNIX_EPOCH + Duration::from_secs(1_796_142_536),
    };
    // Another sink failed in between (not off).
    let mut ops = failure.clone();
    ops.sink = "ops".into();
    ops.off = false;
    ops.at += Duration::from_millis(500);
    s.apply(
        Update::SinkFailed {
            net: 0,
            failure: Box::new(ops),
        },
        s.now,
    );
    // The same sink failed on two networks (the later one, the other's notice).
    for net in [0, 1] {
        let mut failure = failure.clone();
        failure.net = net;
        failure.at += Duration::from_secs(net as u64);
        s.apply(
            Update::SinkFailed {
                net,
                failure: Box::new(failure),
            },
            s.now,
        );
    }
    let out = screen(&s, 80, 24);
    let title = out.lines().next().unwrap_or_default();
    assert!(title.contains("1 sink off (!)"), "{title}");
    s.on_action(chaintop::event::Action::ToggleAlerts);
    let out = screen(&s, 120, 34);
    assert_eq!(
        out.matches("sink desk is off, not retried: no notification service")
            .count(),
        1,
        "once, however many networks:\n{out}"
    );
}

/// Every detail view at 80x24 and 200x50: a block with transactions (one with its
/// receipt read), a receipt with a decoded and a raw log, a watched address, an
/// event, a connection's history; and a fetch loading and one that failed.
#[test]
fn detail_views_80x24_and_200x50() {
    use chaintop::event::{BlockDetail, Detail, DetailKey, ReceiptDetail, TxSummary};
    use chaintop::state::DetailView;
    let mut s = fixture(Instant::now());
    let vitalik = addr("0xd8da6bf26964af9d7eed9e03e53415d37aa96045");
    let treasury = addr("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed");
    let tip = s.networks[0]
        .heads
        .iter()
        .next_back()
        .map(|r| r.head.clone())
        .expect("a head");
    let tx = |i: u8| hash(MAINNET_TIP, 100 + i);
    let txs = vec![
        TxSummary {
            hash: tx(0),
            from: vitalik,
            to: Some(addr(SIMUSD)),
            value: U256::ZERO,
            selector: Some([0xa9, 0x05, 0x9c, 0xbb]),
            method: Some("transfer(address,uint256)".into()),
        },
        TxSummary {
            hash: tx(1),
            from: treasury,
            to: Some(vitalik),
            value: parse_ether("1.5").expect("ether"),
            selector: None,
            method: None,
        },
        TxSummary {
            hash: tx(2),
            from: addr("0x70997970c51812dc3a010c7d01b50e0d17dc79c8"),
            to: None,
            value: U256::ZERO,
            selector: Some([0x60, 0x80, 0x60, 0x40]),
            method: None,
        },
    ];
    let block = Detail::Block(BlockDetail {
        head: tip.clone(),
        miner: Some(addr("0x95222290dd7278aa3ddd389cc1e1d165cc4bafe5")),
        txs,
    });
    let mut raw = transfer(vitalik, treasury, usd(1_500, 25), MAINNET_TIP, 0);
    raw.event = None;
    raw.args.clear();
    raw.source = None;
    raw.address = addr("0x3333333333333333333333333333333333333333");
    raw.topics = vec![keccak256("Swap(address,uint256)"), treasury.into_word()];
    raw.data = Bytes::from(vec![0xab; 40]);
    raw.log_index = Some(1);
    let receipt = Detail::Receipt(ReceiptDetail {
        tx: tx(0),
        from: vitalik,
        to: Some(addr(SIMUSD)),
        success: Some(true),
        block: Some(MAINNET_TIP),
        block_hash: Some(tip.hash),
        gas_used: 51_509,
        effective_gas_price: Some(U256::from(12_550_000_000u64)),
        contract_created: None,
        logs: vec![
            transfer(vitalik, treasury, usd(1_500, 25), MAINNET_TIP, 0),
            raw,
        ],
    });
    for (key, d) in [
        (DetailKey::Block(tip.hash), block),
        (DetailKey::Receipt(tx(0)), receipt),
    ] {
        s.apply(
            Update::Detail {
                net: 0,
                key,
                result: Ok(Box::new(d)),
            },
            s.now,
        );
    }
    let failed = hash(MAINNET_TIP - 1, 0);
    s.apply(
        Update::Detail {
            net: 0,
            key: DetailKey::Block(failed),
            result: Err("HTTP 429 Too Many Requests".into()),
        },
        s.now,
    );
    let event = s.networks[0]
        .events
        .iter()
        .next_back()
        .cloned()
        .expect("an event");
    let views = [
        (
            "block",
            DetailView::Block {
                net: 0,
                hash: tip.hash,
                number: tip.number,
                cursor: ListCursor::at(1),
            },
        ),
        ("receipt", DetailView::Receipt { net: 0, tx: tx(0) }),
        ("loading", DetailView::Receipt { net: 0, tx: tx(1) }),
        (
            "failed",
            DetailView::Block {
                net: 0,
                hash: failed,
                number: MAINNET_TIP - 1,
                cursor: ListCursor::default(),
            },
        ),
        (
            "watch",
            DetailView::Watch {
                net: 0,
                address: vitalik,
            },
        ),
        (
            "event",
            DetailView::Event {
                net: 0,
                log: Box::new(event),
            },
        ),
        ("health", DetailView::Health { net: 0 }),
    ];
    for (name, view) in views {
        s.views = vec![view];
        for (w, h) in [(80, 24), (200, 50)] {
            let buf = render(&s, &dark(), w, h);
            assert_clean(&buf);
            insta::assert_snapshot!(format!("detail_{name}_{w}x{h}"), text(&buf));
        }
    }
}

#[test]
fn help_popup_with_its_legend_120x40() {
    let mut s = fixture(Instant::now());
    s.show_help = true;
    let out = screen(&s, 120, 40);
    for text in [
        "legend",
        "⤳",
        "a head that replaced an orphaned one",
        "Δ",
        "freeze the lists",
        "Esc or ? closes",
    ] {
        assert!(out.contains(text), "{text} missing:\n{out}");
    }
    insta::assert_snapshot!(out);
}

#[test]
fn c_cycles_the_chart_of_every_card_and_names_it() {
    let mut s = fixture(Instant::now());
    let title = |s: &AppState| {
        screen(s, 120, 40)
            .lines()
            .nth(6)
            .map(|l| l.split('│').nth(1).unwrap_or_default().trim().to_string())
            .unwrap_or_default()
    };
    assert!(title(&s).starts_with("gas used 48.0%"), "{}", title(&s));
    let mut seen = Vec::new();
    for _ in 0..7 {
        s.on_action(chaintop::event::Action::Chart);
        seen.push(title(&s));
    }
    let names = [
        "txs/block",
        "pending",
        "ping",
        "http",
        "block time",
        "base fee",
        "gas used",
    ];
    for (name, got) in names.iter().zip(&seen) {
        assert!(got.starts_with(name), "{name}: {seen:?}");
    }
    assert!(seen[0].starts_with("txs/block 117"), "{seen:?}");
    assert!(seen[4].starts_with("block time 12.0s"), "{seen:?}");
}

/// Twelve networks: `n` and part of a name reach the eleventh, which no digit does.
#[test]
fn the_network_picker_reaches_every_network() {
    use chaintop::event::Action;
    let names: Vec<String> = (1..=12).map(|i| format!("chain-{i:02}")).collect();
    let mut s = AppState::new(
        names
            .iter()
            .map(|n| NetworkState::new(n.clone(), "wss://x.example/ws"))
            .collect(),
    );
    s.on_action(Action::PickNetwork);
    assert!(s.editing(), "keys go to the picker");
    for c in "-1".chars() {
        s.on_action(Action::InputChar(c));
    }
    // chain-10, chain-11, chain-12 match "-1"; the second is chain-11.
    s.on_action(Action::Down);
    let out = screen(&s, 80, 24);
    assert!(out.contains("3 of 12"), "{out}");
    insta::assert_snapshot!(out);
    s.on_action(Action::InputSubmit);
    assert!(s.picker.is_none());
    assert_eq!(s.selected, 10);
    assert!(
        screen(&s, 80, 24)
            .lines()
            .next()
            .is_some_and(|l| l.contains("chain-11"))
    );
}

/// One network on a wide screen: card and health side by side, the lists below in
/// a grid.
#[test]
fn one_network_uses_the_width_160x40() {
    let mut s = fixture(Instant::now());
    s.networks.truncate(1);
    let out = screen(&s, 160, 40);
    let top = out.lines().nth(1).unwrap_or_default();
    assert!(
        top.contains("1 mainnet") && top.contains("health"),
        "side by side:\n{out}"
    );
    assert!(out.contains("events · mainnet") && out.contains("contracts · mainnet"));
    insta::assert_snapshot!(out);
}

/// A block whose timestamp no clock can hold is said, not a panic.
#[test]
fn a_block_from_the_far_future_is_drawn() {
    use chaintop::event::{BlockDetail, Detail, DetailKey};
    use chaintop::state::DetailView;
    let mut s = fixture(Instant::now());
    let mut h = head(7, u64::MAX, 10, HeadSource::Backfill);
    h.hash = hash(7, 9);
    s.apply(
        Update::Detail {
            net: 0,
            key: DetailKey::Block(h.hash),
            result: Ok(Box::new(Detail::Block(BlockDetail {
                head: h.clone(),
                miner: None,
                txs: Vec::new(),
            }))),
        },
        s.now,
    );
    s.views = vec![DetailView::Block {
        net: 0,
        hash: h.hash,
        number: 7,
        cursor: ListCursor::default(),
    }];
    let out = screen(&s, 80, 24);
    assert!(out.contains("18446744073709551615 (not a time)"), "{out}");
}

#[test]
fn the_mempool_of_the_watches_80x24_and_200x50() {
    use chaintop::event::{PendingFeed, PendingTx, PendingTxEvent, TokenMove, TxState, Update};
    use chaintop::state::DetailView;
    let base = Instant::now();
    let mut s = fixture(base);
    let vitalik = addr("0xd8da6bf26964af9d7eed9e03e53415d37aa96045");
    let treasury = addr("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed");
    let stranger = addr("0x3333333333333333333333333333333333333333");
    let gwei = 1_000_000_000u128;
    let tx = |i: u8, from: Address, to: Address, eth: &str, token: Option<TokenMove>| PendingTx {
        hash: hash(7, i),
        from,
        to: Some(to),
        value: parse_ether(eth).expect("ether"),
        nonce: u64::from(i),
        tip: Some(u128::from(i) * gwei),
        max_fee: Some(40 * gwei),
        token,
    };
    let news = [
        (
            tx(1, stranger, vitalik, "1.5", None),
            TxState::Pending,
            3,
            None,
        ),
        (
            tx(
                2,
                treasury,
                addr(SIMUSD),
                "0",
                Some(TokenMove {
                    token: addr(SIMUSD),
                    from: treasury,
                    to: stranger,
                    amount: U256::from(12_500_000u64),
                }),
            ),
            TxState::Pending,
            40,
            None,
        ),
        (
            tx(3, vitalik, stranger, "0.25", None),
            TxState::Mined { block: MAINNET_TIP },
            20,
            Some(8_400),
        ),
        (
            tx(4, vitalik, stranger, "2", None),
            TxState::Replaced {
                by: hash(7, 5),
                cancel: true,
            },
            90,
            Some(31_000),
        ),
        (
            tx(6, treasury, stranger, "3", None),
            TxState::Dropped,
            700,
            Some(600_000),
        ),
    ];
    for (tx, state, ago, latency_ms) in news {
        s.apply(
            Update::PendingTx {
                net: 0,
                event: Box::new(PendingTxEvent {
                    tx,
                    state,
                    first_seen: wall() - Duration::from_secs(ago),
                    latency_ms,
                }),
            },
            base,
        );
    }
    pin_clocks(&mut s, base);
    let now = s.now;
    s.apply(
        Update::Mempool {
            net: 0,
            feed: PendingFeed::Full,
            tips: Some([gwei / 10, 3 * gwei / 2, 4 * gwei]),
            evicted: 2,
        },
        now,
    );
    let wide = screen(&s, 200, 60);
    let row = wide
        .lines()
        .nth(row_of(&wide, "vitalik "))
        .unwrap_or_default();
    assert!(row.contains("pending 3s · incoming 1.5000 ET"), "{row}");
    assert!(
        wide.contains("activity from blocks and the mempool"),
        "{wide}"
    );
    s.views = vec![DetailView::Mempool { net: 0 }];
    for (w, h) in [(80, 24), (200, 50)] {
        let buf = render(&s, &dark(), w, h);
        assert_clean(&buf);
        insta::assert_snapshot!(format!("mempool_{w}x{h}"), text(&buf));
    }
    // Fee percentiles that stopped coming say how old they are.
    s.now += Duration::from_secs(30);
    let later = screen(&s, 80, 24);
    assert!(later.contains("gwei (as of 30s ago)"), "{later}");
}

/// Mainnet raced through a second provider (network 3), 40 heads in: the backup
/// is 300–420 ms late, missed one, and is a block behind now; a fork was seen.
fn raced(base: Instant) -> AppState {
    use chaintop::event::{ChainGroup, Delivery, Dispute, Finality, FinalityTag, RaceResult};
    let mut s = fixture(base);
    s.networks.push(NetworkState::new(
        "mainnet-backup",
        "wss://backup.example/…",
    ));
    let now = base + UPTIME;
    s.apply(
        Update::Head {
            net: 3,
            head: head(MAINNET_TIP - 1, WALL - 15, 9, HeadSource::Ws),
        },
        now,
    );
    s.apply(
        Update::Group {
            net: 0,
            group: 0,
            info: Box::new(ChainGroup {
                name: "mainnet".into(),
                chain_id: Some(1),
                members: vec![0, 3],
            }),
        },
        now,
    );
    let ws = |ms| Delivery::After {
        ms,
        source: HeadSource::Ws,
    };
    for i in 0..40u64 {
        let late = match i {
            7 => Delivery::Missed,
            12 => Delivery::Backfilled,
            _ => ws(300 + (i * 3) % 120),
        };
        s.apply(
            Update::Race {
                net: 0,
                race: Box::new(RaceResult {
                    group: 0,
                    number: MAINNET_TIP - 40 + i,
                    hash: hash(MAINNET_TIP - 40 + i, 0),
                    first: 0,
                    first_at: wall(),
                    deliveries: vec![(0, ws(0)), (3, late)],
                }),
            },
            now - Duration::from_secs(12 * (40 - i)),
        );
    }
    for (net, behind) in [(0, 0), (3, 3), (3, 1)] {
        s.apply(
            Update::Behind {
                net,
                group: 0,
                behind,
                best: MAINNET_TIP,
            },
            now,
        );
    }
    s.apply(
        Update::Disputed {
            net: 0,
            group: 0,
            dispute: Box::new(Dispute::Fork {
                number: MAINNET_TIP - 5,
                hashes: vec![(0, hash(MAINNET_TIP - 5, 0)), (3, hash(MAINNET_TIP - 5, 9))],
            }),
        },
        now - Duration::from_secs(40),
    );
    for (net, finalized) in [
        (
            0,
            FinalityTag::Block {
                number: MAINNET_TIP - 64,
                hash: hash(1, 1),
            },
        ),
        (
            3,
            FinalityTag::Unsupported("unknown block tag finalized".into()),
        ),
    ] {
        s.apply(
            Update::Finality {
                net,
                finality: Box::new(Finality {
                    // The backup's was read 40 heads ago, and not since.
                    head: if net == 3 {
                        MAINNET_TIP - 40
                    } else {
                        MAINNET_TIP
                    },
                    // 32 under the head it was read at.
                    safe: FinalityTag::Block {
                        number: if net == 3 {
                            MAINNET_TIP - 72
                        } else {
                            MAINNET_TIP - 32
                        },
                        hash: hash(2, 2),
                    },
                    finalized,
                }),
            },
            now,
        );
    }
    pin_clocks(&mut s, base);
    s
}

#[test]
fn the_race_between_two_providers_of_one_chain_80x24_and_120x40() {
    let base = Instant::now();
    let mut s = raced(base);
    // At a glance, on the cards: mainnet first, the backup late and behind.
    let overview = screen(&s, 120, 40);
    let card = |name: &str| {
        overview
            .lines()
            .find(|l| l.contains("race 1st"))
            .map(|l| l.to_string())
            .unwrap_or_else(|| panic!("no race line for {name}:\n{overview}"))
    };
    assert!(
        card("mainnet").contains("race 1st 100% ⚠ fork"),
        "{overview}"
    );
    let r = &s.networks[3].racer;
    assert_eq!(
        (r.recent.heads, r.recent.missed, r.recent.backfilled),
        (40, 1, 1)
    );
    let [p50, p95, _] = r.recent.delay.expect("delays");
    assert!(p50 >= 300 && p95 >= p50 && p95 <= 420, "{p50} {p95}");
    s.selected = 3;
    let backup_card = screen(&s, 120, 40);
    assert!(
        backup_card.contains(&format!("race 1st 0% +{p50}ms 1 behind")),
        "{backup_card}"
    );
    s.on_action(Action::Race);
    for (w, h) in [(80, 24), (120, 40)] {
        let buf = render(&s, &dark(), w, h);
        assert_clean(&buf);
        let out = text(&buf);
        assert!(out.contains("race · mainnet · 2 endpoints"), "{out}");
        assert!(
            out.contains("⚠ 1 disagreement · fork at #19,234,562"),
            "{out}"
        );
        assert!(out.contains("unsupported"), "{out}");
        // Its lag as it said it when read, and one more under the best (it is 1
        // behind now), marked as an old reading.
        assert!(out.contains("-32 (-33)*"), "an old reading says so: {out}");
        insta::assert_snapshot!(format!("race_{w}x{h}"), out);
    }
    // A meter that stopped reporting is not current spend.
    let mut later = s.clone();
    later.now += Duration::from_secs(60);
    let out = screen(&later, 120, 40);
    let row = out
        .lines()
        .find(|l| l.contains("● mainnet ") && l.contains("cr"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(row.contains(" cr*"), "{row}");
    // A network in no group says how groups form.
    s.views.clear();
    s.selected = 1;
    s.on_action(Action::Race);
    let alone = screen(&s, 80, 24);
    assert!(alone.contains("base races no other endpoint"), "{alone}");
}
