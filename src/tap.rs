//! Between the backend and the screen (or headless): every update passes through
//! the metrics and the alert rules on its way, and the alerts they raise join the
//! stream (and go to their sinks). A clock ticks the rules made of silence.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::alerts::Engine;
use crate::alerts::sinks::Dispatcher;
use crate::event::Update;
use crate::metrics::Metrics;

/// How often the rules made of time (a head that does not come) are judged.
const TICK: Duration = Duration::from_secs(1);

/// Pass `rx` through `metrics` and `alerts` (either may be absent).
pub fn tap(
    mut rx: mpsc::Receiver<Update>,
    metrics: Option<Arc<Metrics>>,
    mut alerts: Option<(Engine, Dispatcher)>,
) -> mpsc::Receiver<Update> {
    let (tx, out) = mpsc::channel(crate::backend::UPDATE_QUEUE);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let (update, raised) = tokio::select! {
                u = rx.recv() => match u {
                    Some(u) => {
                        let raised = alerts
                            .as_mut()
                            .map(|(e, _)| e.observe(&u, Instant::now()))
                            .unwrap_or_default();
                        (Some(u), raised)
                    }
                    None => return,
                },
                _ = tick.tick(), if alerts.is_some() => {
                    let raised = alerts
                        .as_mut()
                        .map(|(e, _)| e.tick(Instant::now()))
                        .unwrap_or_default();
                    (None, raised)
                }
            };
            let alert_updates = raised.into_iter().map(|(net, a)| {
                if let Some((_, d)) = &alerts {
                    d.send(a.clone());
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
