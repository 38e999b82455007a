//! Signals from outside the terminal: the terminating ones end the TUI (the
//! terminal is restored first, and the process exits with 128 + the number);
//! SIGTSTP (`kill -TSTP`) suspends it. Ctrl-Z in raw mode is a key, not a signal.

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::mpsc;

use super::Outside;

/// Install the handlers now (so no signal is missed) and forward what arrives.
/// Must be called inside a tokio runtime.
pub fn watch() -> mpsc::Receiver<Outside> {
    let terminating: Vec<(i32, Signal)> = [
        (libc::SIGTERM, SignalKind::terminate()),
        (libc::SIGHUP, SignalKind::hangup()),
        (libc::SIGINT, SignalKind::interrupt()),
        (libc::SIGQUIT, SignalKind::quit()),
    ]
    .into_iter()
    .filter_map(|(n, k)| signal(k).ok().map(|s| (n, s)))
    .collect();
    let tstp = signal(SignalKind::from_raw(libc::SIGTSTP)).ok();
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(forward(terminating, tstp, tx));
    rx
}

async fn forward(
    mut terminating: Vec<(i32, Signal)>,
    mut tstp: Option<Signal>,
    tx: mpsc::Sender<Outside>,
) {
    loop {
        let got = tokio::select! {
            n = next_terminating(&mut terminating) => Outside::Signal(n),
            () = next_tstp(&mut tstp) => Outside::Suspend,
        };
        if tx.send(got).await.is_err() {
            return;
        }
    }
}

/// The next terminating signal's number.
async fn next_terminating(signals: &mut [(i32, Signal)]) -> i32 {
    if signals.is_empty() {
        return std::future::pending().await;
    }
    let waits = signals.iter_mut().map(|(n, s)| {
        let n = *n;
        Box::pin(async move {
            s.recv().await;
            n
        })
    });
    futures_util::future::select_all(waits).await.0
}

async fn next_tstp(s: &mut Option<Signal>) {
    match s {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}
