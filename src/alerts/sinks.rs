//! Delivering notices: webhooks (POST, timeout, retries with backoff, an optional
//! HMAC-SHA256 signature), commands (no shell, `CHAINTOP_ALERT_*` in the
//! environment, killed at their timeout) and desktop notifications (D-Bus). The
//! `tui` sink is the update stream itself. Failures are logged and reported,
//! redacted; they never stop the other sinks.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::mpsc;

use super::desktop::{Desktop, Failed};
use crate::config::{SinkConfig, SinkKind};
use crate::event::{AlertNotice, AlertState, NetIdx, SinkFailure};
use crate::text::Redactor;

/// Attempts of a webhook delivery, and the first wait between them (doubling).
const ATTEMPTS: u32 = 3;
const RETRY_BASE: Duration = Duration::from_secs(1);
/// Notices waiting per sink at most (more are dropped and logged).
const QUEUE: usize = 256;
/// The signature header: `sha256=` and the hex HMAC-SHA256 of the body.
pub const SIGNATURE_HEADER: &str = "x-chaintop-signature";

/// The JSON every webhook gets (and a command's `CHAINTOP_ALERT_JSON`).
pub fn body(a: &AlertNotice) -> Value {
    json!({
        "alert": a.rule,
        "kind": a.kind,
        "network": a.network,
        "state": a.state,
        "ts": crate::fmt::rfc3339_ms(a.at),
        "message": a.message,
        "subject": a.about.key(),
        "repeats": a.repeats,
    })
}

/// `sha256=HEX` of `body` keyed by `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        // HMAC takes keys of any length: not reached.
        Err(_) => return String::new(),
    };
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    format!("sha256={}", alloy_primitives::hex::encode(tag))
}

/// A sink's queue: notices with their network.
type Queue = mpsc::Sender<(NetIdx, AlertNotice)>;

/// Reports of failed deliveries waiting at most (more are dropped: the log has them).
const REPORTS: usize = 64;

/// Hands notices to their sinks: one worker per sink, so a sink gets its notices
/// in order (a resolve after its fire), one delivery at a time, from a bounded
/// queue (a full one drops the notice, logged). Each failed delivery is logged and
/// reported on the receiver that `start` returns.
#[derive(Clone)]
pub struct Dispatcher {
    queues: Arc<Vec<(String, Queue)>>,
}

impl Dispatcher {
    pub fn start(
        sinks: Vec<SinkConfig>,
        redactor: Arc<Redactor>,
    ) -> (Self, mpsc::Receiver<SinkFailure>) {
        let client = reqwest::Client::new();
        let (report, reports) = mpsc::channel(REPORTS);
        let queues = sinks
            .into_iter()
            .filter(|s| !matches!(s.kind, SinkKind::Tui { .. }))
            .map(|sink| {
                let (tx, rx) = mpsc::channel(QUEUE);
                let name = sink.name.clone();
                tokio::spawn(worker(
                    sink,
                    rx,
                    client.clone(),
                    redactor.clone(),
                    report.clone(),
                ));
                (name, tx)
            })
            .collect();
        let queues = Arc::new(queues);
        (Self { queues }, reports)
    }

    /// Queue a notice of network `net` for each of its sinks (`tui`: the stream
    /// shows it).
    pub fn send(&self, net: NetIdx, a: &AlertNotice) {
        for (name, tx) in self.queues.iter() {
            if a.sinks.iter().any(|s| s == name)
                && let Err(e) = tx.try_send((net, a.clone()))
            {
                tracing::warn!(sink = %name, "alert dropped, the sink's queue is full: {e}");
            }
        }
    }
}

/// One sink's deliveries, in order.
async fn worker(
    sink: SinkConfig,
    mut rx: mpsc::Receiver<(NetIdx, AlertNotice)>,
    client: reqwest::Client,
    redactor: Arc<Redactor>,
    report: mpsc::Sender<SinkFailure>,
) {
    let mut desktop = Desktop::default();
    while let Some((net, a)) = rx.recv().await {
        if desktop.is_off() {
            continue;
        }
        let (reason, off) = match deliver(&sink, &a, &client, &mut desktop).await {
            Ok(()) => continue,
            Err(Failed::Once(e)) => (redactor.text(&e), false),
            Err(Failed::Unavailable(e)) => (redactor.text(&e), true),
        };
        if off {
            tracing::warn!(sink = %sink.name, "desktop notifications are off: {reason}; not retried");
        } else {
            tracing::warn!(sink = %sink.name, alert = %a.rule, "alert not delivered: {reason}");
        }
        let failure = SinkFailure {
            net,
            sink: sink.name.clone(),
            alert: a.rule.clone(),
            reason,
            off,
            at: SystemTime::now(),
        };
        // Full: the screen is behind on reports; the log has this one.
        let _ = report.try_send(failure);
    }
}

async fn deliver(
    sink: &SinkConfig,
    a: &AlertNotice,
    client: &reqwest::Client,
    desktop: &mut Desktop,
) -> Result<(), Failed> {
    match &sink.kind {
        SinkKind::Webhook {
            url,
            secret,
            timeout,
        } => webhook(client, url, secret.as_deref(), *timeout, a)
            .await
            .map_err(Failed::Once),
        SinkKind::Command {
            program,
            args,
            timeout,
        } => command(program, args, *timeout, a)
            .await
            .map_err(Failed::Once),
        SinkKind::Desktop { timeout } => desktop.notify(a, *timeout).await,
        SinkKind::Tui { .. } => Ok(()),
    }
}

async fn webhook(
    client: &reqwest::Client,
    url: &str,
    secret: Option<&str>,
    timeout: Duration,
    a: &AlertNotice,
) -> Result<(), String> {
    let payload = serde_json::to_vec(&body(a)).map_err(|e| e.to_string())?;
    let mut wait = RETRY_BASE;
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        let mut req = client
            .post(url)
            .timeout(timeout)
            .header("content-type", "application/json")
            .body(payload.clone());
        if let Some(s) = secret {
            req = req.header(SIGNATURE_HEADER, signature(s, &payload));
        }
        match req.send().await {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => last = format!("HTTP {}", r.status().as_u16()),
            Err(e) => {
                last = if e.is_timeout() {
                    "timed out".into()
                } else {
                    "request failed".into()
                }
            }
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
    }
    Err(format!("webhook: {last} after {ATTEMPTS} attempts"))
}

async fn command(
    program: &str,
    args: &[String],
    timeout: Duration,
    a: &AlertNotice,
) -> Result<(), String> {
    let state = match a.state {
        AlertState::Fired => "fired",
        AlertState::Resolved => "resolved",
    };
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .env("CHAINTOP_ALERT_NAME", &a.rule)
        .env("CHAINTOP_ALERT_KIND", a.kind)
        .env("CHAINTOP_ALERT_NETWORK", &a.network)
        .env("CHAINTOP_ALERT_STATE", state)
        .env("CHAINTOP_ALERT_MESSAGE", &a.message)
        .env("CHAINTOP_ALERT_SUBJECT", a.about.key().unwrap_or_default())
        .env("CHAINTOP_ALERT_TS", crate::fmt::rfc3339_ms(a.at))
        .env("CHAINTOP_ALERT_JSON", body(a).to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("command {program:?}: cannot start: {e}"))?;
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(s)) if s.success() => Ok(()),
        Ok(Ok(s)) => Err(format!("command {program:?}: {s}")),
        Ok(Err(e)) => Err(format!("command {program:?}: {e}")),
        Err(_) => {
            let _ = child.kill().await;
            Err(format!(
                "command {program:?}: killed after {}s",
                timeout.as_secs()
            ))
        }
    }
}
