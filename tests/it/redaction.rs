//! API keys never appear on screen, in headless output, in `config check` or in the
//! log file (at every level), in every shape providers put them in a URL: `${VAR}`
//! values, UUID and short keys in the path, query values, userinfo. A hostile server
//! echoes the request path (key and all) in its errors and close reasons.

use crate::headless_child;
use crate::pty;

use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use headless_child::Headless;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

const VAR_KEY: &str = "s3cretKey0123456789abcdefXYZ";
const UUID_KEY: &str = "7a3e9c1d-0f2b-4c1e-9d3a-1b2c3d4e5f60";
const SHORT_KEY: &str = "ab12cd";
const QUERY_KEY: &str = "qk9z";
const USER_PW: &str = "pw9173";

/// Everything that must never be printed.
const SECRETS: [&str; 5] = [VAR_KEY, UUID_KEY, SHORT_KEY, QUERY_KEY, USER_PW];

/// A node that refuses every HTTP call with an error quoting the request's path
/// and query, and closes WebSockets with a reason quoting them.
// tungstenite's handshake callback returns its (large) error type by value.
#[allow(clippy::result_large_err)]
async fn echoing_node() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut peek = [0u8; 2048];
                let n = stream.peek(&mut peek).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&peek[..n]).to_string();
                let target = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                let error = |id: &str| {
                    format!(
                        r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32000,"message":"unknown project in {target}"}}}}"#
                    )
                };
                if head.to_ascii_lowercase().contains("upgrade: websocket") {
                    let mut path = String::new();
                    let ws = tokio_tungstenite::accept_hdr_async(
                        stream,
                        |req: &Request, resp: Response| {
                            path = req.uri().to_string();
                            Ok(resp)
                        },
                    )
                    .await;
                    let Ok(mut ws) = ws else { return };
                    // The first request is answered by a close quoting the path.
                    let _ = ws.next().await;
                    let reason: String = format!("bad key {path}").chars().take(100).collect();
                    let _ = ws
                        .send(Message::Close(Some(CloseFrame {
                            code: 1008u16.into(),
                            reason: reason.into(),
                        })))
                        .await;
                } else {
                    // Read the whole request, or closing would reset the connection.
                    let mut req = Vec::new();
                    let mut buf = [0u8; 4096];
                    loop {
                        let Ok(n) = stream.read(&mut buf).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        req.extend_from_slice(&buf[..n]);
                        let text = String::from_utf8_lossy(&req);
                        if let Some(end) = text.find("\r\n\r\n") {
                            let len = text[..end]
                                .lines()
                                .find_map(|l| {
                                    l.to_ascii_lowercase()
                                        .strip_prefix("content-length:")
                                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                                })
                                .unwrap_or(0);
                            if req.len() >= end + 4 + len {
                                break;
                            }
                        }
                    }
                    let body = error("1");
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(resp.as_bytes()).await;
                }
            });
        }
    });
    port
}

fn config(port: u16) -> String {
    format!(
        "[[networks]]\nname = \"var\"\nws = \"ws://127.0.0.1:{port}/ws/${{CHAINTOP_TEST_KEY}}\"\nhttp = \"http://127.0.0.1:{port}/${{CHAINTOP_TEST_KEY}}\"\n\
         [[networks]]\nname = \"uuid\"\nws = \"ws://127.0.0.1:{port}/v3/{UUID_KEY}\"\nhttp = \"http://127.0.0.1:{port}/v3/{UUID_KEY}\"\n\
         [[networks]]\nname = \"short\"\nws = \"ws://127.0.0.1:{port}/{SHORT_KEY}/\"\n\
         [[networks]]\nname = \"query\"\nhttp = \"http://127.0.0.1:{port}/rpc?apikey={QUERY_KEY}\"\n\
         [[networks]]\nname = \"userinfo\"\nws = \"ws://bob:{USER_PW}@127.0.0.1:{port}/\"\n"
    )
}

fn assert_no_secret(what: &str, text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "{what} shows the key {s}:\n{text}");
    }
}

#[test]
fn keys_never_appear_anywhere() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let port = rt.block_on(echoing_node());
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, config(port)).expect("write config");
    let path_s = path.to_string_lossy().to_string();

    // config check
    let check = Command::new(env!("CARGO_BIN_EXE_chaintop"))
        .args(["--config", &path_s, "config", "check"])
        .env("CHAINTOP_TEST_KEY", VAR_KEY)
        .output()
        .expect("config check");
    let check_out = String::from_utf8_lossy(&check.stdout).to_string()
        + &String::from_utf8_lossy(&check.stderr);
    assert!(check.status.success(), "{check_out}");
    assert!(
        check_out.contains(&format!("uuid ws://127.0.0.1:{port}/…")),
        "{check_out}"
    );
    assert_no_secret("config check", &check_out);

    // Headless, with the most verbose log.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chaintop"));
    cmd.args(["--config", &path_s, "--headless"])
        .env("CHAINTOP_TEST_KEY", VAR_KEY)
        .env("CHAINTOP_LOG", "trace");
    let mut h = Headless::spawn(cmd, tempfile::tempdir().expect("tempdir"));
    for net in ["var", "uuid", "short", "userinfo"] {
        h.saw_or_wait(
            &format!("{net}: the server's echo reported"),
            Duration::from_secs(20),
            |v| {
                v["network"] == net
                    && v["type"] == "connection"
                    && v["reason"].as_str().is_some_and(|r| r.contains("bad key"))
            },
        );
    }
    h.saw_or_wait("query: its error reported", Duration::from_secs(20), |v| {
        v["network"] == "query"
            && v["type"] == "error"
            && v["message"]
                .as_str()
                .is_some_and(|m| m.contains("unknown project"))
    });
    h.signal("TERM");
    h.wait_exit(Duration::from_secs(10));
    let out: String = h
        .seen
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert_no_secret("headless output", &out);
    let log = std::fs::read_to_string(h.log_dir().join("chaintop.log")).expect("log file");
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "the log is verbose"
    );
    assert_no_secret("the trace log", &log);
    let endpoints: Vec<&str> = h
        .seen
        .iter()
        .filter_map(|v| v["endpoint"].as_str())
        .collect();
    assert!(
        endpoints
            .iter()
            .all(|e| e.ends_with(&format!("127.0.0.1:{port}/…"))
                || e.ends_with(&format!("127.0.0.1:{port}"))),
        "endpoints show scheme://host:port only: {endpoints:?}"
    );

    // The dashboard, on a terminal.
    let p = pty::Pty::spawn(
        &["--config", &path_s, "--duration", "30"],
        &[("CHAINTOP_TEST_KEY", VAR_KEY), ("CHAINTOP_LOG", "trace")],
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !p.output().contains("bad key") {
        assert!(Instant::now() < deadline, "the TUI showed no server echo");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_no_secret("the TUI", &p.output());
    assert_no_secret("the TUI's log", &p.log());
}
