//! Alerts through the binary against anvil: a stalled head (anvil stops mining) fires
//! and resolves, to a webhook (a local server that checks the signature), a command
//! (which writes a file) and the headless stream; a balance change fires once and its
//! repeat inside the cooldown is held back.

use crate::headless_child;
use crate::support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use headless_child::Headless;
use support::{Anvil, DEV_ACCOUNTS};

const T: Duration = Duration::from_secs(30);
const SECRET: &str = "hook-secret-42";

/// What a webhook receiver got: each POST's signature header and body.
type Posts = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// A webhook receiver.
async fn receiver() -> (String, Posts) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hook", l.local_addr().expect("addr"));
    let got: Posts = Arc::default();
    let store = got.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let store = store.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let Some((head, body)) = support::read_http_request(&mut s, &mut buf).await else {
                    return;
                };
                let sig = head
                    .lines()
                    .find_map(|l| l.strip_prefix("x-chaintop-signature:"))
                    .map(|v| v.trim().to_string())
                    .unwrap_or_default();
                if let Ok(mut g) = store.lock() {
                    g.push((sig, body));
                }
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    (url, got)
}

fn signed(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
    mac.update(body);
    format!(
        "sha256={}",
        alloy_primitives::hex::encode(mac.finalize().into_bytes())
    )
}

#[tokio::test]
async fn alerts_reach_a_webhook_a_command_and_the_stream_and_resolve() {
    let node = Anvil::builder().block_time(1.0).spawn();
    let url = node.http_url();
    let (hook, received) = receiver().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("alerts.txt");
    let watched = DEV_ACCOUNTS[1];
    let config = format!(
        r#"[[networks]]
name = "anvil"
ws = "{ws}"
http = "{url}"
chain_id = 31337

[[watch]]
address = "{watched}"
label = "one"

[[sinks]]
name = "ops"
kind = "webhook"
url = "{hook}"
secret = "${{HOOK_SECRET}}"

[[sinks]]
name = "file"
kind = "command"
program = "sh"
args = ["-c", "printf '%s %s %s\n' \"$CHAINTOP_ALERT_NAME\" \"$CHAINTOP_ALERT_STATE\" \"$CHAINTOP_ALERT_NETWORK\" >> \"$0\"", "{file}"]

[[alerts]]
name = "anvil stalled"
kind = "head_stalled"
secs = 3
cooldown_secs = 0
sinks = ["ops", "file", "tui"]

[[alerts]]
name = "one moved"
kind = "balance_change"
min_delta = 1
cooldown_secs = 600
sinks = ["ops"]
"#,
        ws = node.ws_url(),
        file = file.display(),
    );
    let mut h = Headless::start_with_env(
        &support::chaintop_bin(),
        &config,
        &[],
        &[("HOOK_SECRET", SECRET)],
    );
    h.wait_for("a head", T, |v| v["type"] == "head");
    // Two balance moves of 2 ether inside the cooldown: one notice, one held back.
    for _ in 0..2 {
        let before = support::balance(&url, watched, "latest").await;
        support::send_eth(&url, DEV_ACCOUNTS[0], watched, 2_000_000_000_000_000_000).await;
        support::eventually("the balance read", T, || async {
            let now = support::balance(&url, watched, "latest").await;
            (now != before).then_some(())
        })
        .await;
        h.wait_for("the new balance line", T, |v| v["type"] == "balance");
    }
    // The node stops making blocks: the head stalls.
    support::rpc(&url, "evm_setIntervalMining", json!([0])).await;
    let fired = h.wait_for("the stall alert", T, |v| {
        v["type"] == "alert" && v["alert"] == "anvil stalled" && v["state"] == "fired"
    });
    assert_eq!(fired["kind"], "head_stalled");
    support::rpc(&url, "evm_setIntervalMining", json!([1])).await;
    let resolved = h.wait_for("its resolution", T, |v| {
        v["type"] == "alert" && v["alert"] == "anvil stalled" && v["state"] == "resolved"
    });
    assert!(
        resolved["message"]
            .as_str()
            .is_some_and(|m| m.contains("heads again")),
        "{resolved}"
    );
    let moved: Vec<&Value> = h
        .seen
        .iter()
        .filter(|v| v["type"] == "alert" && v["alert"] == "one moved")
        .collect();
    assert_eq!(
        moved.len(),
        1,
        "the repeat is held back by the cooldown: {moved:?}"
    );

    // The webhook got each notice, signed; the command wrote each.
    let bodies = support::eventually("three webhook posts", T, || async {
        let got = received.lock().map(|g| g.clone()).unwrap_or_default();
        (got.len() >= 3).then_some(got)
    })
    .await;
    let mut seen = Vec::new();
    for (sig, body) in &bodies {
        assert_eq!(
            sig,
            &signed(body),
            "signature of {}",
            String::from_utf8_lossy(body)
        );
        let v: Value = serde_json::from_slice(body).expect("JSON body");
        for k in ["alert", "kind", "network", "state", "ts", "message"] {
            assert!(v.get(k).is_some(), "{k} missing from {v}");
        }
        seen.push((
            v["alert"].as_str().unwrap_or_default().to_string(),
            v["state"].to_string(),
        ));
    }
    for want in [
        ("anvil stalled", "\"fired\""),
        ("anvil stalled", "\"resolved\""),
        ("one moved", "\"fired\""),
    ] {
        assert!(
            seen.iter().any(|(a, s)| a == want.0 && s == want.1),
            "{want:?} not posted: {seen:?}"
        );
    }
    let written = support::eventually("the command's file", T, || async {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        text.contains("resolved").then_some(text)
    })
    .await;
    assert!(written.contains("anvil stalled fired anvil"), "{written}");
    assert!(
        written.contains("anvil stalled resolved anvil"),
        "{written}"
    );
    // The secret is in no line printed.
    assert!(!h.seen.iter().any(|v| v.to_string().contains(SECRET)));
}

/// Every other kind, against the devnet through the binary: a connection down and
/// back, a reorg, a token transfer, a balance under its threshold, a view above its
/// bound, and the day's projected spend past its share of a (tiny) budget.
// Multi-threaded: the devnet serves while this thread waits on the child's lines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_fires_against_the_devnet() {
    use chaintop::devnet::{DEMO_TOKEN, Fault, demo_watch};
    let d = crate::client_support::devnet("alerting", 31_301, 200, 21).await;
    let (alice, _) = demo_watch()[0];
    let config = format!(
        r#"[[networks]]
name = "sim"
ws = "{ws}"
http = "{http}"
chain_id = 31301
provider = "infura"
pending = "count"
tokens = ["{token:#x}"]

[pricing.infura]
daily_budget = 1000

[[contracts]]
network = "sim"
address = "{token:#x}"
label = "SIMUSD"
views = [{{ call = "totalSupply()(uint256)" }}]

[[watch]]
address = "{alice:#x}"
label = "alice"

[[alerts]]
name = "down"
kind = "connection_down"
secs = 1
cooldown_secs = 0
sinks = ["tui"]

[[alerts]]
name = "reorg"
kind = "reorg"
min_depth = 2
sinks = ["tui"]

[[alerts]]
name = "moves"
kind = "transfer"
min_value = 0.000001
contract = "{token:#x}"
sinks = ["tui"]

[[alerts]]
name = "poor"
kind = "balance_below"
threshold = 1e12
token = "native"
sinks = ["tui"]

[[alerts]]
name = "supply"
kind = "view"
contract = "{token:#x}"
view = "totalSupply()(uint256)"
above = 1
sinks = ["tui"]

[[alerts]]
name = "budget"
kind = "credits"
percent = 50
sinks = ["tui"]
"#,
        ws = d.ws_url(),
        http = d.http_url(),
        token = DEMO_TOKEN,
    );
    let mut h = Headless::start(&support::chaintop_bin(), &config, &[]);
    let alert = |name: &'static str, state: &'static str| {
        move |v: &Value| v["type"] == "alert" && v["alert"] == name && v["state"] == state
    };
    h.wait_for("live", T, |v| {
        v["type"] == "connection" && v["state"] == "live"
    });
    for name in ["moves", "poor", "supply"] {
        h.saw_or_wait(name, T, alert(name, "fired"));
    }
    // The devnet replaces blocks it made: some of them, at its tip, once shown.
    let n0 = d.head();
    h.wait_for("a few more heads", T, |v| {
        v["type"] == "head" && v["number"].as_u64().is_some_and(|n| n >= n0 + 10)
    });
    d.handle().inject(Fault::Reorg { depth: 2 });
    let seen_reorg = h.saw_or_wait("the reorg", T, |v| v["type"] == "reorg");
    let reorg = h.saw_or_wait(
        &format!("the reorg alert after {seen_reorg}"),
        T,
        alert("reorg", "fired"),
    );
    assert!(
        reorg["message"]
            .as_str()
            .is_some_and(|m| m.contains("2 deep")),
        "{reorg}"
    );
    d.handle().inject(Fault::Down(Duration::from_secs(3)));
    h.saw_or_wait("the connection down", T, alert("down", "fired"));
    h.saw_or_wait("and back", T, alert("down", "resolved"));
    // The meter's rate needs 10 s of history before it projects a day.
    let budget = h.saw_or_wait("the budget", T, alert("budget", "fired"));
    assert_eq!(budget["kind"], "credits");
    let poor = h
        .seen
        .iter()
        .find(|v| alert("poor", "fired")(v))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        poor["subject"],
        format!("{}/native", alice.to_checksum(None))
    );
}
