//! API keys never appear in headless output or in the log file, whether they came
//! from `${VAR}` interpolation or sit in the URL as a key-like path segment.

mod headless_child;

use std::process::Command;
use std::time::Duration;

use headless_child::Headless;

const SECRET: &str = "s3cretKey0123456789abcdefXYZ";
const INLINE_KEY: &str = "9aa3d95b3bc440fa88ea12eaa4456161";

#[test]
fn keys_are_masked_in_output_and_logs() {
    // Port 9 on loopback: nothing listens, so every connect fails and is reported.
    let config = format!(
        "[[networks]]\nname = \"a\"\nws = \"ws://127.0.0.1:9/ws/${{CHAINTOP_TEST_KEY}}\"\nhttp = \"http://127.0.0.1:9/${{CHAINTOP_TEST_KEY}}\"\n\
         [[networks]]\nname = \"b\"\nws = \"ws://user:pw@127.0.0.1:9/v3/{INLINE_KEY}?apikey={INLINE_KEY}\"\n"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, config).expect("write config");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chaintop"));
    cmd.arg("--config")
        .arg(&path)
        .arg("--headless")
        .env("CHAINTOP_TEST_KEY", SECRET);
    let mut h = Headless::spawn(cmd, tempfile::tempdir().expect("tempdir"));
    for net in ["a", "b"] {
        h.wait_for(
            &format!("{net} reconnecting"),
            Duration::from_secs(20),
            |v| v["type"] == "connection" && v["network"] == net && v["state"] == "reconnecting",
        );
    }
    let endpoints: Vec<String> = h
        .seen
        .iter()
        .filter_map(|v| v["endpoint"].as_str().map(str::to_string))
        .collect();
    assert!(
        endpoints.iter().any(|e| e == "ws://127.0.0.1:9/ws/***"),
        "{endpoints:?}"
    );
    assert!(
        endpoints
            .iter()
            .any(|e| e.starts_with("ws://***@127.0.0.1:9/v3/***?apikey=***")),
        "{endpoints:?}"
    );
    h.signal("TERM");
    h.wait_exit(Duration::from_secs(10));
    let out: String = h
        .seen
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    let log = std::fs::read_to_string(h.log_dir().join("chaintop.log")).expect("log file written");
    assert!(
        log.contains("reconnecting"),
        "the log records connection states"
    );
    for text in [&out, &log] {
        assert!(!text.contains(SECRET), "interpolated key leaked");
        assert!(!text.contains(INLINE_KEY), "inline key leaked");
        assert!(!text.contains("user:pw"), "userinfo leaked");
    }
}
