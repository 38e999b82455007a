//! `--metrics` against anvil, through the binary: `/metrics` scraped while chaintop
//! follows the node, parsed as the Prometheus text format.

use crate::headless_child;
use crate::support;

use std::collections::HashMap;
use std::time::Duration;

use headless_child::Headless;
use support::Anvil;

/// One sample: its metric name, its labels and its value.
type Sample = (String, HashMap<String, String>, f64);

/// The samples of a text-format exposition; an error names the line that is not
/// one (a sample with no `# TYPE` before it among them).
fn parse(text: &str) -> Result<Vec<Sample>, String> {
    let mut typed: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split(' ').next().unwrap_or_default();
            typed.push(name.to_string());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').ok_or(format!("no value: {line}"))?;
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().map_err(|_| format!("bad value: {line}"))?,
        };
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => (
                n,
                rest.strip_suffix('}')
                    .ok_or(format!("bad labels: {line}"))?,
            ),
            None => (series, ""),
        };
        let family_typed = typed.iter().any(|t| {
            name == t
                || ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|s| name == format!("{t}{s}"))
        });
        if !family_typed {
            return Err(format!("sample before its # TYPE: {line}"));
        }
        let mut map = HashMap::new();
        for pair in labels.split("\",").filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once("=\"").ok_or(format!("bad label: {line}"))?;
            map.insert(k.to_string(), v.trim_end_matches('"').to_string());
        }
        out.push((name.to_string(), map, value));
    }
    Ok(out)
}

async fn scrape(addr: &str) -> Result<String, String> {
    let resp = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .map_err(|e| e.to_string())?;
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    resp.text().await.map_err(|e| e.to_string())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[tokio::test]
async fn metrics_show_the_nodes_head_while_chaintop_follows_it() {
    let node = Anvil::builder().chain_id(4242).block_time(1.0).spawn();
    let config = format!(
        "[[networks]]\nname = \"anvil\"\nws = \"{}\"\nhttp = \"{}\"\nchain_id = 4242\n\
         [[watch]]\naddress = \"{}\"\nlabel = \"zero\"\n",
        node.ws_url(),
        node.http_url(),
        support::DEV_ACCOUNTS[0]
    );
    let addr = format!("127.0.0.1:{}", free_port());
    let h = Headless::start(&support::chaintop_bin(), &config, &["--metrics", &addr]);
    let url = node.http_url();
    let (samples, tip) =
        support::eventually("a head in /metrics", Duration::from_secs(30), || async {
            let text = scrape(&addr).await.ok()?;
            let samples = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            let tip = support::block_number(&url).await;
            let shown = samples
                .iter()
                .find(|(n, l, _)| n == "chaintop_head_block_number" && l["network"] == "anvil")?
                .2 as u64;
            (shown >= 3 && shown + 1 >= tip && shown <= tip + 1).then_some((samples, tip))
        })
        .await;
    let find = |name: &str| {
        samples
            .iter()
            .find(|(n, l, _)| n == name && l.get("network").is_some_and(|v| v == "anvil"))
            .cloned()
    };
    let (_, labels, head) = find("chaintop_head_block_number").expect("head");
    assert!((head as u64).abs_diff(tip) <= 1, "{head} vs {tip}");
    assert_eq!(labels["chain_id"], "4242");
    assert_eq!(labels["endpoint"], "127.0.0.1");
    let compat = find("eth_exe_block_most_recent_number").expect("compat");
    assert_eq!((compat.1["identifier"].as_str(), compat.2), ("head", head));
    assert_eq!(find("chaintop_ws_connected").map(|s| s.2), Some(1.0));
    let age = find("chaintop_head_age_seconds").expect("age").2;
    assert!((0.0..10.0).contains(&age), "{age}");
    // The watched dev account's ether, in whole units.
    let balance = samples
        .iter()
        .find(|(n, l, _)| n == "chaintop_watch_balance" && l["label"] == "zero")
        .expect("watch_balance");
    assert_eq!(balance.1["token"], "native");
    assert!(balance.2 > 1_000.0, "{balance:?}");
    assert!(find("chaintop_http_request_duration_seconds_count").is_some());
    drop(h);
}

#[test]
fn a_remote_metrics_address_needs_an_explicit_yes() {
    // Refused before anything connects.
    let config = "[[networks]]\nname = \"n\"\nws = \"ws://127.0.0.1:9\"\n";
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("c.toml");
    std::fs::write(&file, config).expect("write");
    let o = std::process::Command::new(support::chaintop_bin())
        .args([
            "--config",
            file.to_str().expect("path"),
            "--headless",
            "--duration",
            "1",
        ])
        .args(["--metrics", "0.0.0.0:1"])
        .output()
        .expect("run chaintop");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("--metrics-allow-remote"), "{err}");
}
