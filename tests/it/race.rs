//! One chain, several endpoints, raced against real anvil nodes and the devnet:
//! who delivers each block first and how much later the others do, an endpoint
//! that stops advancing, and two nodes that claim one chain id but are not one
//! chain.

use crate::client_support::Client;
use crate::headless_child::Headless;
use crate::proxy::CountingProxy;
use crate::support::{self, Anvil};

use std::time::Duration;

use chaintop::config::NetworkConfig;
use serde_json::Value;

const T: Duration = Duration::from_secs(60);

fn net(name: &str, ws: &str, http: &str) -> NetworkConfig {
    let mut n = NetworkConfig::new(name, Some(ws.into()), Some(http.into()));
    n.ping_interval_secs = 2;
    n
}

fn toml_net(name: &str, a: &Anvil, extra: &str) -> String {
    format!(
        "[[networks]]\nname = \"{name}\"\nws = \"{}\"\nhttp = \"{}\"\nping_interval_secs = 2\n{extra}",
        a.ws_url(),
        a.http_url()
    )
}

fn is(v: &Value, ty: &str) -> bool {
    v["type"] == ty
}

#[test]
fn an_endpoint_behind_a_300_ms_slower_socket_reads_300_ms_at_p50() {
    let node = Anvil::builder().block_time(0.5).spawn();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let slow = CountingProxy::start_delayed(
            node.http_url(),
            node.ws_url(),
            chaintop::cost::table_for(Some("chainstack"), None).expect("a table"),
            Duration::from_millis(300),
        )
        .await;
        let config = crate::client_support::config(vec![
            net("direct", &node.ws_url(), &node.http_url()),
            net("slow", &slow.ws_url, &slow.http_url),
        ]);
        let mut c = Client::start_racing(&config);
        // Both report chain 31337: one group, and the race runs head by head.
        c.wait("20 raced heads with both delivering", T, |log| {
            (log.state.networks[1].racer.recent.delivered >= 20).then_some(())
        })
        .await;
        // One snapshot of the state for the figures and the screen alike.
        let log = c.log();
        let [p50, _, _] = log.state.networks[1].racer.recent.delay.expect("delays");
        assert!(
            (250..=350).contains(&p50),
            "the slow endpoint's p50 is {p50} ms, not 300 ± 50"
        );
        let direct = &log.state.networks[0].racer;
        assert_eq!(
            direct.recent.delay.map(|d| d[0]),
            Some(0),
            "the direct one is first"
        );
        assert!(
            direct.recent.first * 10 >= direct.recent.heads * 9,
            "direct first in {} of {}",
            direct.recent.first,
            direct.recent.heads
        );
        let (_, group) = log.state.group_of(1).expect("a group");
        assert_eq!(group.info.members, vec![0, 1]);
        assert_eq!(group.info.chain_id, Some(31_337));
        assert!(group.disputes.is_empty(), "one chain: no disagreement");
        // Raced, each reads its finality every 10 heads, in its refresh batch.
        for net in 0..2 {
            let (f, _) = log.state.networks[net]
                .racer
                .finality
                .as_ref()
                .unwrap_or_else(|| panic!("no finality read by network {net}"));
            let head = log.state.networks[net].latest().map_or(0, |h| h.number);
            for tag in [&f.safe, &f.finalized] {
                match tag {
                    chaintop::event::FinalityTag::Block { number, .. } => {
                        assert!(*number <= head, "{tag:?} above the head {head}")
                    }
                    other => panic!("anvil knows safe and finalized: {other:?}"),
                }
            }
        }
        // The view says it on screen, the slow row with its ~300 ms.
        let mut state = log.state.clone();
        state.selected = 1;
        state.on_action(chaintop::event::Action::Race);
        let text = crate::ui_snapshots::screen(&state, 100, 40);
        assert!(text.contains("race · chain 31337 · 2 endpoints"), "{text}");
        let row = text
            .lines()
            .find(|l| l.contains("slow") && l.contains("last"))
            .unwrap_or_else(|| panic!("no row for slow:\n{text}"));
        assert!(row.contains(&format!("{p50}ms")), "{row}");
    });
}

#[test]
fn a_node_that_stops_advancing_reads_blocks_behind_and_fires_provider_lag() {
    let live = Anvil::builder().block_time(1.0).spawn();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(support::mine(&live.http_url(), 3));
    // A node stuck at block 3 of the same chain: a fork of the live one that never
    // mines (its blocks up to there are the live one's).
    let stuck = Anvil::builder()
        .no_mining()
        .arg("--fork-url")
        .arg(live.http_url())
        .spawn();
    let config = format!(
        "{}{}[[alerts]]\nname = \"behind\"\nkind = \"provider_lag\"\nblocks = 3\nsecs = 2\nsinks = [\"tui\"]\n",
        toml_net("live", &live, ""),
        toml_net("stuck", &stuck, ""),
    );
    let mut h = Headless::start(&support::chaintop_bin(), &config, &[]);
    let group = h.wait_for("the group", T, |v| is(v, "group"));
    assert_eq!(group["networks"], serde_json::json!(["live", "stuck"]));
    let behind = h.wait_for("stuck 4 blocks behind", T, |v| {
        is(v, "behind") && v["network"] == "stuck" && v["blocks"].as_u64() >= Some(4)
    });
    assert!(behind["best"].as_u64() > Some(4), "{behind}");
    let alert = h.wait_for("the provider_lag alert", T, |v| {
        is(v, "alert") && v["kind"] == "provider_lag" && v["state"] == "fired"
    });
    assert_eq!(alert["network"], "stuck", "{alert}");
    // The live one never lags, and nothing the stuck one has differs.
    assert!(
        !h.seen
            .iter()
            .any(|v| (is(v, "alert") && v["network"] == "live") || is(v, "disagreement")),
        "{:?}",
        h.seen
            .iter()
            .filter(|v| is(v, "alert") || is(v, "disagreement"))
            .collect::<Vec<_>>()
    );
}

#[test]
fn two_nodes_with_one_chain_id_but_two_chains_are_flagged_as_disagreeing() {
    let a = Anvil::builder().block_time(1.0).spawn();
    // Another chain under the same id: its own genesis and blocks.
    let b = Anvil::builder()
        .block_time(1.0)
        .arg("--timestamp")
        .arg("1700000000")
        .spawn();
    let config = format!(
        "{}{}",
        toml_net("a", &a, "group = \"devnet\"\n"),
        toml_net("b", &b, "group = \"devnet\"\n"),
    );
    let mut h = Headless::start(&support::chaintop_bin(), &config, &[]);
    let fork = h.wait_for("a fork flagged", T, |v| {
        is(v, "disagreement") && v["kind"] == "fork"
    });
    assert_eq!(fork["group"], "devnet");
    let hashes = fork["hashes"].as_object().expect("hashes");
    assert_eq!(hashes.len(), 2, "{fork}");
    assert_ne!(hashes["a"], hashes["b"], "{fork}");
    // Both are 2 past the block when it is said.
    let n = fork["number"].as_u64().expect("number");
    for name in ["a", "b"] {
        let tip = h.heads(name).iter().map(|(n, ..)| *n).max().unwrap_or(0);
        assert!(tip >= n + 2, "{name} at {tip}, fork at {n}");
    }
}

#[test]
fn the_demo_races_sim_l1_through_a_slower_provider() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cmd = std::process::Command::new(support::chaintop_bin());
    cmd.args(["demo", "--headless"])
        .env("CHAINTOP_WATCHLIST", dir.path().join("watchlist.toml"));
    let mut h = Headless::spawn(cmd, dir);
    let group = h.wait_for("the sim-l1 group", T, |v| is(v, "group"));
    assert_eq!(group["group"], "sim-l1");
    assert_eq!(
        group["networks"],
        serde_json::json!(["sim-l1", "sim-l1-slow"])
    );
    // A head both pushed: sim-l1 first, the slow one its 350 ms later.
    let race = h.wait_for("a head both pushed", T, |v| {
        is(v, "race") && v["delays_ms"]["sim-l1-slow"].is_u64() && v["delays_ms"]["sim-l1"].is_u64()
    });
    assert_eq!(race["first"], "sim-l1", "{race}");
    let slow = race["delays_ms"]["sim-l1-slow"].as_u64().unwrap_or(0);
    let ms = chaintop::devnet::DEMO_SLOW_MS;
    assert!((ms - 50..=ms + 100).contains(&slow), "{race}");
    // Only the group's networks race: no line names another.
    assert!(
        !h.seen
            .iter()
            .any(|v| is(v, "race") && v["group"] != "sim-l1"),
        "{:?}",
        h.seen.iter().filter(|v| is(v, "race")).collect::<Vec<_>>()
    );
}
