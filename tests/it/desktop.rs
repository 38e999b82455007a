//! The `desktop` sink through the binary against anvil. The session bus is a D-Bus
//! peer on a Unix socket that speaks the wire protocol (zbus, as a p2p server): it
//! answers `Hello` as a bus does and `Notify` as a notification service does, or
//! answers `Notify` with `ServiceUnknown` as a bus without one does. chaintop finds it
//! through `DBUS_SESSION_BUS_ADDRESS`, as on a desktop.

use crate::headless_child;
use crate::support;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;
use zbus::OwnedVariant;

use headless_child::Headless;
use support::Anvil;

const T: Duration = Duration::from_secs(30);

/// One notification as the service got it.
#[derive(Debug, Clone)]
struct Shown {
    app: String,
    summary: String,
    body: String,
    urgency: Option<u8>,
}

/// A session bus on a Unix socket; `service`: a notification service is on it.
struct Bus {
    address: String,
    shown: Arc<Mutex<Vec<Shown>>>,
    /// `Notify` calls answered with an error (no service).
    refused: Arc<Mutex<u32>>,
    _dir: tempfile::TempDir,
}

impl Bus {
    async fn start(service: bool) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path: PathBuf = dir.path().join("bus");
        let listener = tokio::net::UnixListener::bind(&path).expect("bind the bus socket");
        let shown: Arc<Mutex<Vec<Shown>>> = Arc::default();
        let refused: Arc<Mutex<u32>> = Arc::default();
        let (s, r) = (shown.clone(), refused.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let Ok(stream) = stream.into_std() else {
                    continue;
                };
                tokio::spawn(serve(stream, service, s.clone(), r.clone()));
            }
        });
        Self {
            address: format!("unix:path={}", path.display()),
            shown,
            refused,
            _dir: dir,
        }
    }

    fn shown(&self) -> Vec<Shown> {
        self.shown.lock().map(|g| g.clone()).unwrap_or_default()
    }

    fn refused(&self) -> u32 {
        self.refused.lock().map(|g| *g).unwrap_or_default()
    }
}

type NotifyArgs = (
    String,
    u32,
    String,
    String,
    String,
    Vec<String>,
    HashMap<String, OwnedVariant>,
    i32,
);

/// One client of the bus: authenticate it, then answer its calls.
async fn serve(
    stream: std::os::unix::net::UnixStream,
    service: bool,
    shown: Arc<Mutex<Vec<Shown>>>,
    refused: Arc<Mutex<u32>>,
) {
    let conn = match zbus::connection::Builder::unix_stream(stream)
        .server(zbus::Guid::generate())
        .p2p()
        .build()
        .await
    {
        Ok(c) => c,
        Err(_) => return,
    };
    let mut messages = zbus::MessageStream::from(&conn);
    while let Some(Ok(m)) = messages.next().await {
        let h = m.header();
        if h.message_type() != zbus::message::Type::MethodCall {
            continue;
        }
        let member = h.member().map(|m| m.as_str().to_string());
        let sent = match member.as_deref() {
            Some("Hello") => conn.reply(&h, &":1.42").await,
            Some("Notify") if service => {
                let Ok(args) = m.body().deserialize::<NotifyArgs>() else {
                    let _ = conn
                        .reply_error(&h, "org.freedesktop.DBus.Error.InvalidArgs", &"bad args")
                        .await;
                    continue;
                };
                let urgency = args
                    .6
                    .get("urgency")
                    .and_then(|v| u8::try_from(v.clone()).ok());
                if let Ok(mut g) = shown.lock() {
                    g.push(Shown {
                        app: args.0,
                        summary: args.3,
                        body: args.4,
                        urgency,
                    });
                }
                conn.reply(&h, &7u32).await
            }
            Some("Notify") => {
                if let Ok(mut g) = refused.lock() {
                    *g += 1;
                }
                conn.reply_error(
                    &h,
                    "org.freedesktop.DBus.Error.ServiceUnknown",
                    &"The name org.freedesktop.Notifications was not provided by any .service files",
                )
                .await
            }
            _ => {
                conn.reply_error(&h, "org.freedesktop.DBus.Error.UnknownMethod", &"unknown")
                    .await
            }
        };
        if sent.is_err() {
            return;
        }
    }
}

/// One anvil network with a stall rule (`secs` = 2, no cooldown) to sink `desk`.
fn config(node: &Anvil) -> String {
    format!(
        r#"[[networks]]
name = "anvil"
ws = "{ws}"
http = "{http}"
chain_id = 31337

[[sinks]]
name = "desk"
kind = "desktop"

[[alerts]]
name = "anvil <b>stalled</b>"
kind = "head_stalled"
secs = 2
cooldown_secs = 0
sinks = ["desk"]
"#,
        ws = node.ws_url(),
        http = node.http_url(),
    )
}

/// The one `sink_failed` line printed (a second one fails the test).
fn the_one_failure(h: &Headless) -> serde_json::Value {
    let failed: Vec<_> = h
        .seen
        .iter()
        .filter(|v| v["type"] == "sink_failed")
        .collect();
    assert_eq!(failed.len(), 1, "said once: {failed:?}");
    failed[0].clone()
}

/// An anvil making a block a second, and chaintop headless on it with the session
/// bus at `bus`.
fn start(bus: &str) -> (Anvil, String, Headless) {
    let node = Anvil::builder().block_time(1.0).spawn();
    let url = node.http_url();
    let h = Headless::start_with_env(
        &support::chaintop_bin(),
        &config(&node),
        &[],
        &[("DBUS_SESSION_BUS_ADDRESS", bus)],
    );
    (node, url, h)
}

/// The node stops making blocks until the alert fires, then makes them again until
/// it resolves.
async fn stall_and_resume(h: &mut Headless, url: &str) {
    h.wait_for("a head", T, |v| v["type"] == "head");
    support::rpc(url, "evm_setIntervalMining", json!([0])).await;
    h.wait_for("the stall alert", T, |v| {
        v["type"] == "alert" && v["state"] == "fired"
    });
    support::rpc(url, "evm_setIntervalMining", json!([1])).await;
    h.wait_for("its resolution", T, |v| {
        v["type"] == "alert" && v["state"] == "resolved"
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_and_its_end_are_desktop_notifications() {
    let bus = Bus::start(true).await;
    let (_node, url, mut h) = start(&bus.address);
    stall_and_resume(&mut h, &url).await;
    let shown = support::eventually("both notifications", T, || async {
        let s = bus.shown();
        (s.len() >= 2).then_some(s)
    })
    .await;
    assert_eq!(shown[0].app, "chaintop");
    // The rule's name is the summary's; the body is markup to the server, escaped.
    assert_eq!(
        shown[0].summary,
        "chaintop: anvil <b>stalled</b> fired (anvil)"
    );
    assert!(
        shown[0].body.starts_with("no new head for"),
        "{:?}",
        shown[0].body
    );
    assert_eq!(shown[0].urgency, Some(2));
    assert_eq!(
        shown[1].summary,
        "chaintop: anvil <b>stalled</b> resolved (anvil)"
    );
    assert_eq!(shown[1].urgency, Some(0));
    assert!(
        !h.seen.iter().any(|v| v["type"] == "sink_failed"),
        "no delivery failed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bus_without_a_notification_service_is_told_once_and_not_retried() {
    let bus = Bus::start(false).await;
    let (_node, url, mut h) = start(&bus.address);
    stall_and_resume(&mut h, &url).await;
    h.saw_or_wait("the sink's failure", T, |v| v["type"] == "sink_failed");
    // A second episode: two more notices for the sink, none tried.
    stall_and_resume(&mut h, &url).await;
    let failed = the_one_failure(&h);
    assert_eq!(failed["sink"], "desk");
    assert_eq!(failed["off"], true);
    let reason = failed["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("no notification service"), "{reason}");
    assert_eq!(bus.refused(), 1, "Notify was tried once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_session_bus_is_told_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nowhere = format!("unix:path={}", dir.path().join("no-bus").display());
    let (_node, url, mut h) = start(&nowhere);
    stall_and_resume(&mut h, &url).await;
    h.saw_or_wait("the sink's failure", T, |v| v["type"] == "sink_failed");
    let failed = the_one_failure(&h);
    assert_eq!(failed["off"], true);
    let reason = failed["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("no D-Bus session bus"), "{reason}");
}
