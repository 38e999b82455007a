//! The `desktop` sink: a notification over D-Bus (`org.freedesktop.Notifications`
//! on the session bus), through zbus on tokio. The connection is made at the first
//! notice and kept. Where there is no session bus, or no notification service on it,
//! the sink says so once and stays off: it does not retry.

use std::collections::HashMap;
use std::time::Duration;

use zbus::Variant;

use crate::event::{AlertNotice, AlertState};

const SERVICE: &str = "org.freedesktop.Notifications";
const PATH: &str = "/org/freedesktop/Notifications";
/// How long the notification stays up, in milliseconds (the server may ignore it).
const EXPIRE_MS: i32 = 10_000;

/// Why a notice was not shown.
#[derive(Debug)]
pub enum Failed {
    /// No session bus or no notification service: the sink is off from now on.
    Unavailable(String),
    /// This notice only (a timeout, an error from the service).
    Once(String),
}

/// One desktop sink's connection to the session bus.
#[derive(Default)]
pub struct Desktop {
    conn: Option<zbus::Connection>,
    off: bool,
}

impl Desktop {
    /// Whether a notice found no notification service (nothing more is tried).
    pub fn is_off(&self) -> bool {
        self.off
    }

    /// Show `a` as a notification, waiting at most `timeout` for the bus.
    pub async fn notify(&mut self, a: &AlertNotice, timeout: Duration) -> Result<(), Failed> {
        if self.off {
            return Err(Failed::Unavailable("off".into()));
        }
        match tokio::time::timeout(timeout, self.call(a)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(f)) => {
                if matches!(f, Failed::Unavailable(_)) {
                    self.off = true;
                    self.conn = None;
                }
                Err(f)
            }
            Err(_) => {
                // A bus that hangs may be a dead connection: the next notice dials again.
                self.conn = None;
                Err(Failed::Once(format!(
                    "no answer from the session bus in {}s",
                    timeout.as_secs()
                )))
            }
        }
    }

    async fn call(&mut self, a: &AlertNotice) -> Result<(), Failed> {
        let conn = match &self.conn {
            Some(c) => c.clone(),
            None => {
                let c = zbus::Connection::session().await.map_err(|e| {
                    Failed::Unavailable(format!("no D-Bus session bus ({})", short(&e)))
                })?;
                self.conn = Some(c.clone());
                c
            }
        };
        let (summary, body) = text(a);
        let urgency: u8 = match a.state {
            AlertState::Fired => 2,
            AlertState::Resolved => 0,
        };
        let mut hints: HashMap<&str, Variant<'_>> = HashMap::new();
        hints.insert("urgency", Variant::from(urgency));
        let args = (
            "chaintop",
            0u32,
            "",
            summary.as_str(),
            body.as_str(),
            Vec::<&str>::new(),
            hints,
            EXPIRE_MS,
        );
        match conn
            .call_method(Some(SERVICE), PATH, Some(SERVICE), "Notify", &args)
            .await
        {
            Ok(_) => Ok(()),
            Err(zbus::Error::FDO(e))
                if matches!(
                    *e,
                    zbus::fdo::Error::ServiceUnknown(_) | zbus::fdo::Error::NameHasNoOwner(_)
                ) =>
            {
                Err(Failed::Unavailable(format!(
                    "no notification service ({SERVICE}) on the session bus"
                )))
            }
            Err(e) => {
                if matches!(e, zbus::Error::InputOutput(_)) {
                    self.conn = None;
                }
                Err(Failed::Once(format!("notification failed: {}", short(&e))))
            }
        }
    }
}

/// The notification's summary and body. Servers read the body as a small subset of
/// HTML, so `&`, `<` and `>` are escaped: text from a chain stays text.
pub fn text(a: &AlertNotice) -> (String, String) {
    let state = match a.state {
        AlertState::Fired => "fired",
        AlertState::Resolved => "resolved",
    };
    let summary = format!("chaintop: {} {state} ({})", a.rule, a.network);
    let mut body = a.message.clone();
    if a.repeats > 0 {
        body.push_str(&format!(" ({} more held back by the cooldown)", a.repeats));
    }
    (summary, markup_escape(&body))
}

fn markup_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// A zbus error in one line, at most 160 characters.
fn short(e: &zbus::Error) -> String {
    let s = e.to_string().replace(['\n', '\r'], " ");
    match s.char_indices().nth(160) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn notice(message: &str, state: AlertState, repeats: u64) -> AlertNotice {
        AlertNotice {
            rule: "big".into(),
            kind: "transfer",
            network: "main".into(),
            state,
            message: message.into(),
            about: crate::event::Subject::Network,
            repeats,
            resolves: false,
            at: SystemTime::UNIX_EPOCH,
            sinks: vec!["desk".into()],
        }
    }

    #[test]
    fn markup_from_a_chain_stays_text() {
        let (summary, body) = text(&notice(
            "token <b>FAKE</b> & <a href=\"x\">",
            AlertState::Fired,
            0,
        ));
        assert_eq!(summary, "chaintop: big fired (main)");
        assert_eq!(
            body,
            "token &lt;b&gt;FAKE&lt;/b&gt; &amp; &lt;a href=\"x\"&gt;"
        );
    }

    #[test]
    fn repeats_are_told() {
        let (summary, body) = text(&notice("head moves", AlertState::Resolved, 3));
        assert_eq!(summary, "chaintop: big resolved (main)");
        assert_eq!(body, "head moves (3 more held back by the cooldown)");
    }
}
