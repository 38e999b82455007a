//! Between the backend and the screen (or headless): every update passes through
//! the metrics and the alert rules on its way, and the alerts they raise join the
//! stream (and go to their sinks), as do the sinks' failed deliveries. A clock
//! ticks the rules made of silence.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::alerts::Engine;
use crate::alerts::sinks::Dispatcher;
use crate::event::{SinkFailure, Update};
use crate::metrics::Metrics;

/// How often the rules made of time (a head that does not come) are judged.
const TICK: Duration = Duration::from_secs(1);

/// The alert rules and where their notices go.
pub struct Alerting {
    pub engine: Engine,
    pub sinks: Dispatcher,
    /// The sinks' failed deliveries: into the stream as `Update::SinkFailed`.
    pub failures: mpsc::Receiver<SinkFailure>,
}

/// Pass `rx` through `metrics` and `alerts` (either may be absent).
pub fn tap(
    mut rx: mpsc::Receiver<Update>,
    metrics: Option<Arc<Metrics>>,
    mut alerts: Option<Alerting>,
) -> mpsc::Receiver<Update> {
    let (tx, out) = mpsc::channel(crate::backend::UPDATE_QUEUE);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failures_open = alerts.is_some();
        loop {
            let (update, raised) = tokio::select! {
                u = rx.recv() => match u {
                    Some(u) => {
                        let raised = alerts
                            .as_mut()
                            .map(|a| a.engine.observe(&u, Instant::now()))
                            .unwrap_or_default();
                        (Some(u), raised)
                    }
                    None => return,
                },
                _ = tick.tick(), if alerts.is_some() => {
                    let raised = alerts
                        .as_mut()
                        .map(|a| a.engine.tick(Instant::now()))
                        .unwrap_or_default();
                    (None, raised)
                }
                f = next_failure(&mut alerts), if failures_open => match f {
                    Some(f) => (Some(Update::SinkFailed { net: f.net, failure: Box::new(f) }), Vec::new()),
                    None => {
                        failures_open = false;
                        (None, Vec::new())
                    }
                },
            };
            let alert_updates = raised.into_iter().map(|(net, a)| {
                if let Some(al) = &alerts {
                    al.sinks.send(net, &a);
                }
                Update::Alert {
                    net,
                    alert: Box::new(a),
                }
            });
            for u in update.into_iter().chain(alert_updates) {
                if let Some(m) = &metrics {
                    m.observe(&u);
                }
                if tx.send(u).await.is_err() {
                    return;
                }
            }
        }
    });
    out
}

async fn next_failure(alerts: &mut Option<Alerting>) -> Option<SinkFailure> {
    match alerts {
        Some(a) => a.failures.recv().await,
        None => None,
    }
}
