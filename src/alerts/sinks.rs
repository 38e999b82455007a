//! Delivering notices: webhooks (POST, timeout, retries with backoff, an optional
//! HMAC-SHA256 signature) and commands (no shell, `CHAINTOP_ALERT_*` in the
//! environment, killed at their timeout). The `tui` sink is the update stream
//! itself. Failures are logged, redacted; they never stop the other sinks.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::config::{SinkConfig, SinkKind};
use crate::event::{AlertNotice, AlertState};
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
        "subject": a.subject,
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

/// Hands notices to their sinks: one worker per sink, so a sink gets its notices
/// in order (a resolve after its fire), one delivery at a time, from a bounded
/// queue (a full one drops the notice, logged).
#[derive(Clone)]
pub struct Dispatcher {
    queues: Arc<Vec<(String, mpsc::Sender<AlertNotice>)>>,
}

impl Dispatcher {
    pub fn start(sinks: Vec<SinkConfig>, redactor: Arc<Redactor>) -> Self {
        let client = reqwest::Client::new();
        let queues = sinks
            .into_iter()
            .filter(|s| !matches!(s.kind, SinkKind::Tui { .. }))
            .map(|sink| {
                let (tx, mut rx) = mpsc::channel::<AlertNotice>(QUEUE);
                let (client, redactor) = (client.clone(), redactor.clone());
                let name = sink.name.clone();
                tokio::spawn(async move {
                    while let Some(a) = rx.recv().await {
                        if let Err(e) = deliver(&sink, &a, &client).await {
                            tracing::warn!(
                                sink = %sink.name,
                                alert = %a.rule,
                                "alert not delivered: {}",
                                redactor.text(&e)
                            );
                        }
                    }
                });
                (name, tx)
            })
            .collect();
        Self {
            queues: Arc::new(queues),
        }
    }

    /// Queue a notice for each of its sinks (`tui`: the stream shows it).
    pub fn send(&self, a: AlertNotice) {
        for (name, tx) in self.queues.iter() {
            if a.sinks.iter().any(|s| s == name)
                && let Err(e) = tx.try_send(a.clone())
            {
                tracing::warn!(sink = %name, "alert dropped, the sink's queue is full: {e}");
            }
        }
    }
}

async fn deliver(
    sink: &SinkConfig,
    a: &AlertNotice,
    client: &reqwest::Client,
) -> Result<(), String> {
    match &sink.kind {
        SinkKind::Webhook {
            url,
            secret,
            timeout,
        } => webhook(client, url, secret.as_deref(), *timeout, a).await,
        SinkKind::Command {
            program,
            args,
            timeout,
        } => command(program, args, *timeout, a).await,
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
        .env(
            "CHAINTOP_ALERT_SUBJECT",
            a.subject.as_deref().unwrap_or_default(),
        )
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
