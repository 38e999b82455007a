//! The command line says what is true: errors name what is wrong and what is known,
//! and `config check`, `config path` and a run agree with each other.

use crate::support;

use std::process::{Command, Output};

fn chaintop(args: &[&str], envs: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chaintop"))
        .args(args)
        .envs(envs.iter().copied())
        .env("CHAINTOP_LOG_DIR", std::env::temp_dir())
        .output()
        .expect("run chaintop")
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr)
}

#[test]
fn a_fault_for_an_unknown_network_is_an_error_naming_the_known_ones() {
    let o = chaintop(
        &[
            "demo",
            "--headless",
            "--duration",
            "1",
            "--fault",
            "5@stop-heads=40/sim-l3",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("sim-l3") && t.contains("sim-l1, sim-l2, sim-fast"),
        "{t}"
    );
    assert!(o.stdout.is_empty(), "nothing ran: {t}");
}

#[test]
fn config_check_fails_on_a_theme_a_run_cannot_load_in_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.toml");
    std::fs::write(
        &path,
        "theme = \"solarized\"\n[[networks]]\nname = \"a\"\nws = \"ws://127.0.0.1:9\"\n",
    )
    .expect("write");
    let p = path.to_string_lossy().to_string();
    let check = chaintop(
        &["--config", &p, "config", "check"],
        &[("HOME", &dir.path().to_string_lossy())],
    );
    assert_eq!(check.status.code(), Some(1), "{}", text(&check));
    let t = text(&check);
    assert!(t.contains(&format!("{p}:1: key `theme`")), "{t}");
    assert!(t.contains("solarized") && t.contains("dark, light"), "{t}");
    assert_eq!(t.trim_end().lines().count(), 1, "one line: {t:?}");
}

#[test]
fn config_path_and_a_run_agree_about_a_missing_named_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope.toml");
    let m = missing.to_string_lossy().to_string();
    let env = [("CHAINTOP_CONFIG", m.as_str())];
    let path = chaintop(&["config", "path"], &env);
    assert!(path.status.success());
    let said = text(&path);
    assert!(said.contains(&m) && said.contains("a run fails"), "{said}");
    assert!(!said.contains("built-in defaults are used"), "{said}");
    let run = chaintop(&["--headless", "--duration", "1"], &env);
    assert_eq!(run.status.code(), Some(1));
    assert!(
        text(&run).contains("config file not found"),
        "{}",
        text(&run)
    );
}

#[test]
fn cost_estimates_a_config_before_it_runs_and_never_shows_its_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("c.toml");
    let mut toml = String::from(
        "[[networks]]\nname = \"mainnet\"\nws = \"wss://mainnet.infura.io/ws/v3/${K}\"\nchain_id = 1\n\
         [pricing.infura]\ndaily_budget = 3000000\n",
    );
    for i in 0..1000 {
        toml += &format!("[[watch]]\naddress = \"0x{i:040x}\"\nlabel = \"w{i}\"\n");
    }
    std::fs::write(&file, toml).expect("write");
    let key = "sekret-key-123";
    let path = file.to_str().expect("utf-8 path");
    let o = chaintop(&["--config", path, "cost"], &[("K", key)]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    // 7,200 heads a day; each a newHeads event and its confirmation (130 credits),
    // one aggregate3 for the balances that are due (80), and a nonce sweep every
    // 10,000 blocks (a sender's nonce comes with its transaction).
    assert!(
        t.starts_with(
            "mainnet on infura: ~1.6M credits/day (heads 936.0k, balances 576.0k, nonces 57.6k)"
        ),
        "{t}"
    );
    assert!(t.contains("without Multicall3: ~13.1M credits/day"), "{t}");
    assert!(t.contains("52% of the daily budget of 3.0M"), "{t}");
    assert!(t.contains("assumed: refresh on activity"), "{t}");
    assert!(t.contains("cut: half of the 1000 watched addresses"), "{t}");
    assert!(!t.contains(key), "{t}");
}

#[test]
fn headless_lines_follow_the_schema_and_cost_lines_come_every_ten_seconds() {
    let o = chaintop(&["demo", "--headless", "--duration", "13"], &[]);
    assert!(o.status.success(), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let mut lines: Vec<serde_json::Value> = Vec::new();
    for raw in stdout.lines() {
        // `type` first, then the time and the schema version.
        assert!(raw.starts_with("{\"type\":\""), "{raw}");
        let v: serde_json::Value = serde_json::from_str(raw).expect("a JSON line");
        support::valid_line(&v).unwrap_or_else(|e| panic!("{e}"));
        lines.push(v);
    }
    let ts: Vec<&str> = lines.iter().filter_map(|v| v["ts"].as_str()).collect();
    assert_eq!(ts.len(), lines.len());
    assert!(ts.windows(2).all(|w| w[0] <= w[1]), "in time order");
    let types: std::collections::BTreeSet<&str> =
        lines.iter().filter_map(|v| v["type"].as_str()).collect();
    for t in [
        "head",
        "connection",
        "balance",
        "token_balance",
        "log",
        "view",
        "cost",
    ] {
        assert!(types.contains(t), "no {t} line in the demo: {types:?}");
    }
    // A view names its call.
    let view = lines.iter().find(|v| v["type"] == "view").expect("view");
    assert!(
        view["call"]
            .as_str()
            .is_some_and(|c| c.ends_with(")(uint256)")),
        "{view}"
    );
    let cost_at: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i]["type"] == "cost")
        .collect();
    // Four networks (sim-l1 twice, through two providers): four lines at 10 s,
    // four more at the end.
    assert_eq!(cost_at.len(), 8, "{cost_at:?}");
    assert!(
        cost_at[3] + 1 < cost_at[4],
        "the first four came before the end: {cost_at:?}"
    );
    assert!(
        lines[cost_at[7]]["calls"].as_u64() > lines[cost_at[3]]["calls"].as_u64(),
        "the totals grow"
    );
    // The 10-second line already has a rate.
    assert!(
        lines[cost_at[0]]["per_hour"].as_f64().is_some(),
        "{}",
        lines[cost_at[0]]
    );
}
