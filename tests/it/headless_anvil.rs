//! End to end against real anvil nodes: `chaintop --headless` as a user runs it.

use crate::headless_child;
use crate::support;

use std::time::Duration;

use headless_child::{Headless, assert_linked};
use support::{Anvil, DEV_ACCOUNTS};

const WATCHED: &str = "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720"; // DEV_ACCOUNTS[9]

fn network_toml(name: &str, anvil: &Anvil, chain_id: u64) -> String {
    format!(
        "[[networks]]\nname = \"{name}\"\nws = \"{}\"\nhttp = \"{}\"\nchain_id = {chain_id}\nping_interval_secs = 2\n",
        anvil.ws_url(),
        anvil.http_url()
    )
}

fn count_heads(h: &Headless, net: &str) -> usize {
    h.heads(net).len()
}

#[test]
fn two_networks_stream_linked_heads_balances_and_survive_a_node_restart() {
    let state = tempfile::tempdir().expect("tempdir");
    let state_file = state.path().join("a.json");
    let mut a = Anvil::builder()
        .chain_id(1111)
        .block_time(1.0)
        .arg("--state")
        .arg(state_file.to_string_lossy())
        .spawn();
    let b = Anvil::builder().chain_id(2222).block_time(1.0).spawn();
    let config = format!(
        "{}{}[[watch]]\naddress = \"{}\"\nlabel = \"nine\"\n",
        network_toml("alpha", &a, 1111),
        network_toml("beta", &b, 2222),
        WATCHED.to_lowercase()
    );
    let mut h = Headless::start(&support::chaintop_bin(), &config, &[]);
    let t = Duration::from_secs(20);

    for net in ["alpha", "beta"] {
        h.saw_or_wait(&format!("{net} live"), t, |v| {
            v["type"] == "connection" && v["network"] == net && v["state"] == "live"
        });
    }
    while count_heads(&h, "alpha") < 3 || count_heads(&h, "beta") < 3 {
        h.wait_for("more heads", t, |v| v["type"] == "head");
    }

    // A transfer to the watched address shows up as a balance line within two blocks.
    let first = h.saw_or_wait("initial alpha balance", t, |v| {
        v["type"] == "balance" && v["network"] == "alpha"
    });
    assert_eq!(
        first["address"], WATCHED,
        "balances are shown EIP-55 checksummed"
    );
    let before: u128 = first["wei"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("wei");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(support::send_eth(
        &a.http_url(),
        DEV_ACCOUNTS[0],
        WATCHED,
        1_234_567,
    ));
    let sent_at = rt.block_on(support::block_number(&a.http_url()));
    let after = h.wait_for("alpha balance after the transfer", t, |v| {
        v["type"] == "balance" && v["network"] == "alpha" && v["wei"] != first["wei"]
    });
    assert_eq!(
        after["wei"].as_str().and_then(|s| s.parse::<u128>().ok()),
        Some(before + 1_234_567)
    );
    assert!(
        after["block"].as_u64().expect("block") <= sent_at + 2,
        "balance seen within two blocks: {after}"
    );

    // Stop alpha's node: alpha turns to reconnecting while beta keeps streaming.
    let alpha_tip = h.heads("alpha").last().map(|x| x.0).expect("alpha heads");
    a.stop();
    h.wait_for("alpha reconnecting", t, |v| {
        v["type"] == "connection" && v["network"] == "alpha" && v["state"] == "reconnecting"
    });
    let beta_before = count_heads(&h, "beta");
    while count_heads(&h, "beta") < beta_before + 2 {
        h.wait_for("beta heads while alpha is down", t, |v| {
            v["type"] == "head" && v["network"] == "beta"
        });
    }

    // Bring it back from its saved state: live again, and heads continue without a gap.
    a.restart();
    h.wait_for("alpha live again", Duration::from_secs(45), |v| {
        v["type"] == "connection" && v["network"] == "alpha" && v["state"] == "live"
    });
    h.wait_for("alpha heads past the old tip", t, |v| {
        v["type"] == "head" && v["network"] == "alpha" && v["number"].as_u64() > Some(alpha_tip + 2)
    });
    assert!(
        h.seen
            .iter()
            .any(|v| v["type"] == "reconnected" && v["network"] == "alpha")
    );
    assert_linked(&h, "alpha");
    assert_linked(&h, "beta");
    let mut numbers: Vec<u64> = h.heads("alpha").iter().map(|x| x.0).collect();
    let n = numbers.len();
    numbers.dedup();
    assert_eq!(numbers.len(), n, "no head shown twice");
}

#[test]
fn chain_id_mismatch_is_refused_and_its_data_not_shown() {
    let node = Anvil::builder().block_time(1.0).spawn();
    let config = format!(
        "{}{}",
        network_toml("right", &node, 31337),
        network_toml("wrong", &node, 1)
    );
    let mut h = Headless::start(&support::chaintop_bin(), &config, &[]);
    let failed = h.wait_for("wrong refused", Duration::from_secs(20), |v| {
        v["type"] == "connection" && v["network"] == "wrong" && v["state"] == "failed"
    });
    let reason = failed["reason"].as_str().expect("reason");
    assert!(
        reason.contains("chain id mismatch") && reason.contains("31337"),
        "{reason}"
    );
    while count_heads(&h, "right") < 3 {
        h.wait_for("heads on the right network", Duration::from_secs(20), |v| {
            v["type"] == "head"
        });
    }
    assert!(
        !h.seen.iter().any(|v| v["network"] == "wrong"
            && matches!(
                v["type"].as_str(),
                Some("head" | "balance" | "pending" | "chain_id")
            )),
        "no data from the refused endpoint"
    );
}

#[test]
fn headless_stops_cleanly_at_duration_and_on_sigterm() {
    let node = Anvil::builder().block_time(1.0).spawn();
    let config = network_toml("n", &node, 31337);
    let mut h = Headless::start(&support::chaintop_bin(), &config, &["--duration", "2"]);
    let status = h.wait_exit(Duration::from_secs(15));
    assert!(status.success(), "{status:?}");
    assert!(
        h.seen.iter().any(|v| v["type"] == "head"),
        "heads printed before exiting"
    );
    // The run's spend comes last. A loopback node with no `provider` is counted,
    // not priced: one request per call and per notification.
    let cost = h.seen.last().expect("output");
    assert_eq!(cost["type"], "cost", "{cost}");
    assert_eq!(
        (&cost["provider"], &cost["unit"]),
        (&serde_json::Value::Null, &"requests".into())
    );
    assert!(
        cost["by_method"]["eth_subscribe"]["count"].as_u64() >= Some(2),
        "{cost}"
    );
    assert!(
        cost["by_method"]["event:newHeads"]["count"].as_u64() >= Some(1),
        "{cost}"
    );

    // Priced as Infura (`provider` wins on loopback), and written on SIGTERM too.
    let infura = format!("{config}provider = \"infura\"\n");
    let mut h = Headless::start(&support::chaintop_bin(), &infura, &[]);
    h.wait_for("a head", Duration::from_secs(20), |v| v["type"] == "head");
    h.signal("TERM");
    let status = h.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "exit 0 on SIGTERM: {status:?}");
    let cost = h.seen.last().expect("output");
    assert_eq!(
        (&cost["type"], &cost["provider"], &cost["unit"]),
        (&"cost".into(), &"infura".into(), &"credits".into()),
        "{cost}"
    );
    // Each eth_subscribe is 5 credits, each newHeads event 50.
    let subs = cost["by_method"]["eth_subscribe"]["count"]
        .as_f64()
        .unwrap_or(0.0);
    assert_eq!(
        cost["by_method"]["eth_subscribe"]["cost"].as_f64(),
        Some(5.0 * subs),
        "{cost}"
    );
    assert!(cost["total"].as_f64() >= Some(5.0 * subs + 50.0), "{cost}");
}
