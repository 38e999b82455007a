//! `pending = "watched"` against anvil with mining off: a payment to a watched
//! address is seen pending before its block and mined in it; a same-nonce
//! replacement is a speed-up, one that sends nothing to its sender a cancel; an
//! endpoint that refuses whole pending transactions is said to give hashes only.

use crate::headless_child::Headless;
use crate::headless_watch::start;
use crate::proxy::CountingProxy;
use crate::support::{self, Anvil, DEV_ACCOUNTS};

use std::time::Duration;

use alloy_primitives::B256;
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(30);

fn config(ws: &str, http: &str, watched: &str) -> String {
    format!(
        "[[networks]]\nname = \"local\"\nws = \"{ws}\"\nhttp = \"{http}\"\npending = \"watched\"\n\n\
         [[watch]]\naddress = \"{watched}\"\nlabel = \"payee\"\n"
    )
}

fn is_tx(v: &Value, hash: B256, state: &str) -> bool {
    v["type"] == "pending_tx" && v["hash"] == hash.to_string() && v["state"] == state
}

/// A signed-by-anvil transaction from `from` with this nonce and these fees (gwei).
async fn send_at(
    url: &str,
    from: &str,
    to: &str,
    wei: u128,
    nonce: u64,
    tip: u64,
    max: u64,
) -> B256 {
    let gwei = 1_000_000_000u128;
    let v = support::rpc(
        url,
        "eth_sendTransaction",
        json!([{
            "from": from,
            "to": to,
            "value": format!("{wei:#x}"),
            "nonce": format!("{nonce:#x}"),
            "gas": "0x5208",
            "maxPriorityFeePerGas": format!("{:#x}", u128::from(tip) * gwei),
            "maxFeePerGas": format!("{:#x}", u128::from(max) * gwei),
        }]),
    )
    .await;
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{v}: {e}"))
}

/// Headless on `node` watching `watched`, once its pending feed is whole
/// transactions.
fn watching(node: &Anvil, watched: &str) -> Headless {
    let mut h = start(&config(&node.ws_url(), &node.http_url(), watched));
    let line = h.wait_for("the mempool feed", T, |v| v["type"] == "mempool");
    assert_eq!(line["feed"], "full", "{line}");
    h
}

#[test]
fn a_payment_to_a_watched_address_is_pending_before_its_block_and_mined_in_it() {
    let node = Anvil::builder().no_mining().spawn();
    let url = node.http_url();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (payer, payee) = (DEV_ACCOUNTS[0], DEV_ACCOUNTS[1]);
    let mut h = watching(&node, payee);
    let before = rt.block_on(support::block_number(&url));
    let wei = 1_500_000_000_000_000_000u128;
    let tx = rt.block_on(support::send_eth(&url, payer, payee, wei));
    let pending = h.wait_for("the payment, pending", T, |v| is_tx(v, tx, "pending"));
    assert_eq!(pending["from"], support::addr(payer).to_string());
    assert_eq!(pending["to"], support::addr(payee).to_string());
    assert_eq!(pending["value"], wei.to_string());
    assert_eq!(pending["block"], Value::Null);
    assert_eq!(
        rt.block_on(support::block_number(&url)),
        before,
        "seen before any block was mined"
    );
    rt.block_on(support::rpc(&url, "evm_mine", json!([])));
    let mined = h.wait_for("the payment, mined", T, |v| is_tx(v, tx, "mined"));
    assert_eq!(mined["block"], before + 1, "{mined}");
    assert!(mined["latency_ms"].as_u64().is_some(), "{mined}");
    // A transaction between two others is not followed.
    let other = rt.block_on(support::send_eth(&url, DEV_ACCOUNTS[2], DEV_ACCOUNTS[3], 1));
    rt.block_on(support::rpc(&url, "evm_mine", json!([])));
    h.wait_for("the next block", T, |v| {
        v["type"] == "head" && v["number"] == before + 2
    });
    assert!(
        !h.seen
            .iter()
            .any(|v| v["hash"] == other.to_string() && v["type"] == "pending_tx"),
        "a stranger's transaction is only counted"
    );
}

#[test]
fn a_higher_fee_at_the_same_nonce_is_a_speed_up_and_zero_to_oneself_a_cancel() {
    let node = Anvil::builder().no_mining().spawn();
    let url = node.http_url();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (sender, payee) = (DEV_ACCOUNTS[4], DEV_ACCOUNTS[5]);
    let mut h = watching(&node, payee);
    let first = rt.block_on(send_at(&url, sender, payee, 1_000, 0, 1, 100));
    h.wait_for("the first, pending", T, |v| is_tx(v, first, "pending"));
    let faster = rt.block_on(send_at(&url, sender, payee, 1_000, 0, 5, 200));
    let replaced = h.wait_for("the first, replaced", T, |v| is_tx(v, first, "replaced"));
    assert_eq!(replaced["replaced_by"], faster.to_string(), "{replaced}");
    assert_eq!(replaced["cancel"], false, "a speed-up");
    h.saw_or_wait("the faster one, pending", T, |v| {
        is_tx(v, faster, "pending")
    });
    // Nonce 1 to the payee, then nonce 1 again: nothing, to the sender itself.
    let second = rt.block_on(send_at(&url, sender, payee, 1_000, 1, 1, 100));
    h.wait_for("the second, pending", T, |v| is_tx(v, second, "pending"));
    let cancel = rt.block_on(send_at(&url, sender, sender, 0, 1, 5, 200));
    // The cancel names no watched address: it is known from the block.
    rt.block_on(support::rpc(&url, "evm_mine", json!([])));
    let gone = h.wait_for("the second, cancelled", T, |v| is_tx(v, second, "replaced"));
    assert_eq!(gone["replaced_by"], cancel.to_string(), "{gone}");
    assert_eq!(gone["cancel"], true, "{gone}");
    h.saw_or_wait("the faster one, mined", T, |v| is_tx(v, faster, "mined"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_that_refuses_whole_pending_transactions_gives_hashes_honestly() {
    let node = Anvil::builder().no_mining().spawn();
    let url = node.http_url();
    let table = chaintop::cost::table_for(Some("chainstack"), None).expect("a table");
    let proxy = CountingProxy::start_with(url.clone(), node.ws_url(), table, true).await;
    let payee = DEV_ACCOUNTS[1];
    let cfg = config(&proxy.ws_url, &url, payee);
    let mut h = tokio::task::block_in_place(|| {
        let mut h = start(&cfg);
        let line = h.wait_for("the mempool feed", T, |v| v["type"] == "mempool");
        assert_eq!(line["feed"], "hashes_only", "{line}");
        assert!(
            line["reason"]
                .as_str()
                .is_some_and(|r| r.contains("not supported")),
            "{line}"
        );
        h.saw_or_wait("pending hashes subscribed", T, |v| {
            v["type"] == "subscription"
                && v["kind"] == "new_pending_transactions"
                && v["status"] == "active"
        });
        h
    });
    support::send_eth(&url, DEV_ACCOUNTS[0], payee, 7).await;
    tokio::task::block_in_place(|| {
        h.wait_for("the hash counted", T, |v| {
            v["type"] == "pending" && v["count"].as_u64().is_some_and(|c| c >= 1)
        });
        assert!(
            !h.seen.iter().any(|v| v["type"] == "pending_tx"),
            "nothing is said of a transaction known by its hash only"
        );
    });
}

/// The demo's devnet announces the next block's payments between its watched
/// accounts as pending transactions, then mines them: the feature shows in the demo.
#[test]
fn the_demo_shows_its_payments_pending_then_mined() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cmd = std::process::Command::new(support::chaintop_bin());
    cmd.args(["demo", "--headless", "--duration", "60"]);
    let mut h = Headless::spawn(cmd, dir);
    let feed = h.wait_for("the demo's mempool feed", T, |v| v["type"] == "mempool");
    assert_eq!(feed["feed"], "full", "{feed}");
    let pending = h.wait_for("a payment pending", T, |v| {
        v["type"] == "pending_tx" && v["state"] == "pending"
    });
    let hash = pending["hash"].clone();
    let network = pending["network"].clone();
    let mined = h.wait_for("the same payment mined", T, |v| {
        v["type"] == "pending_tx" && v["hash"] == hash && v["state"] == "mined"
    });
    let block = mined["block"].as_u64().expect("its block");
    // The block it names is one the demo showed.
    h.saw_or_wait("that block's head", T, |v| {
        v["type"] == "head" && v["network"] == network && v["number"] == block
    });
}

/// On Alchemy (named by `provider`, or recognised from its host) chaintop asks for
/// `alchemy_pendingTransactions` filtered to the watched addresses, so only theirs
/// are pushed and billed. No Alchemy endpoint is reachable here: the embedded
/// devnet serves the subscription as Alchemy documents it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_alchemy_the_pending_feed_is_filtered_to_the_watches() {
    use chaintop::devnet::{Devnet, DevnetConfig, demo_watch};
    let node = Devnet::start(DevnetConfig {
        block_time: Duration::from_millis(250),
        pending_rate: 200,
        ..DevnetConfig::default()
    })
    .await
    .expect("devnet");
    let watched = demo_watch();
    let mut cfg = format!(
        "[[networks]]\nname = \"local\"\nws = \"{}\"\nhttp = \"{}\"\nprovider = \"alchemy\"\npending = \"watched\"\n",
        node.ws_url(),
        node.http_url()
    );
    for (a, label) in &watched {
        cfg.push_str(&format!(
            "[[watch]]\naddress = \"{a}\"\nlabel = \"{label}\"\n"
        ));
    }
    tokio::task::block_in_place(|| {
        let mut h = start(&cfg);
        let feed = h.wait_for("the mempool feed", T, |v| v["type"] == "mempool");
        assert_eq!(feed["feed"], "filtered", "{feed}");
        let tx = h.wait_for("a watched payment, pending", T, |v| {
            v["type"] == "pending_tx" && v["state"] == "pending"
        });
        let named = |k: &str| watched.iter().any(|(a, _)| tx[k] == a.to_string());
        assert!(named("from") || named("to"), "{tx}");
        // Only the watched addresses' transactions were pushed: the devnet's 200
        // strangers' a second are not counted.
        h.wait_for("a pending count", T, |v| v["type"] == "pending");
        let counted: u64 = h
            .seen
            .iter()
            .filter(|v| v["type"] == "pending")
            .filter_map(|v| v["count"].as_u64())
            .sum();
        let windows = h.seen.iter().filter(|v| v["type"] == "pending").count() as u64;
        assert!(counted <= 30 * windows, "{counted} in {windows} windows");
    });
}

/// Neither mined nor replaced within `pending_drop_secs`, and no receipt at the node
/// either: dropped.
#[test]
fn a_transaction_never_mined_is_dropped_after_its_time() {
    let node = Anvil::builder().no_mining().spawn();
    let url = node.http_url();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let payee = DEV_ACCOUNTS[1];
    let cfg = config(&node.ws_url(), &url, payee).replace(
        "pending = \"watched\"\n",
        "pending = \"watched\"\npending_drop_secs = 2\n",
    );
    let mut h = start(&cfg);
    h.wait_for("the mempool feed", T, |v| v["type"] == "mempool");
    let tx = rt.block_on(support::send_eth(&url, DEV_ACCOUNTS[0], payee, 5));
    h.wait_for("pending", T, |v| is_tx(v, tx, "pending"));
    let dropped = h.wait_for("dropped", T, |v| is_tx(v, tx, "dropped"));
    assert!(
        dropped["latency_ms"].as_u64().is_some_and(|ms| ms >= 2_000),
        "{dropped}"
    );
}

/// A reorg that replaces the block a watched transaction was mined in, with one
/// that does not carry it, makes it pending again.
#[test]
fn a_reorg_that_orphans_its_block_makes_it_pending_again() {
    let node = Anvil::builder().no_mining().keep_history().spawn();
    let url = node.http_url();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let payee = DEV_ACCOUNTS[1];
    let mut h = watching(&node, payee);
    let tx = rt.block_on(support::send_eth(&url, DEV_ACCOUNTS[0], payee, 5));
    h.wait_for("pending", T, |v| is_tx(v, tx, "pending"));
    rt.block_on(support::rpc(&url, "evm_mine", json!([])));
    h.wait_for("mined", T, |v| is_tx(v, tx, "mined"));
    let n = h.seen.iter().filter(|v| is_tx(v, tx, "pending")).count();
    // The block replaced by an empty one (anvil_reorg re-emits it on newHeads).
    rt.block_on(support::rpc(&url, "anvil_reorg", json!([1, []])));
    h.wait_for("pending again", T, |v| is_tx(v, tx, "pending"));
    assert_eq!(
        h.seen.iter().filter(|v| is_tx(v, tx, "pending")).count(),
        n + 1
    );
}
