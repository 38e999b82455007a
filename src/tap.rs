//! Between the backend and the screen (or headless): every update passes through
//! the race between a chain's endpoints, the metrics and the alert rules on its
//! way; what the race finds and the alerts raised join the stream (alerts go to
//! their sinks too), as do the sinks' failed deliveries. A clock settles races and
//! ticks the rules made of silence.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::alerts::Engine;
use crate::alerts::sinks::Dispatcher;
use crate::event::{SinkFailure, Update};
use crate::metrics::Metrics;
use crate::race::Race;

/// How often the rules made of time (a head that does not come) are judged, and
/// races whose time is up settled.
const TICK: Duration = Duration::from_secs(1);

/// The race between the endpoints of each chain group, and each network's switch
/// for its finality reads (on while it races).
pub struct Racing {
    pub race: Race,
    pub finality: Vec<Arc<AtomicU64>>,
}

impl Racing {
    /// `None` with fewer than two networks.
    pub fn new(
        config: &crate::config::Config,
        networks: &[crate::network::NetworkHandle],
    ) -> Option<Self> {
        Some(Self {
            race: Race::new(config)?,
            finality: networks.iter().map(|n| n.finality.clone()).collect(),
        })
    }

    fn switch_finality(&self) {
        for (i, f) in self.finality.iter().enumerate() {
            f.store(self.race.finality_every(i), Ordering::Relaxed);
        }
    }
}

/// The alert rules and where their notices go.
pub struct Alerting {
    pub engine: Engine,
    pub sinks: Dispatcher,
    /// The sinks' failed deliveries: into the stream as `Update::SinkFailed`.
    pub failures: mpsc::Receiver<SinkFailure>,
}

/// Pass `rx` through `race`, `metrics` and `alerts` (any may be absent).
pub fn tap(
    mut rx: mpsc::Receiver<Update>,
    mut race: Option<Racing>,
    metrics: Option<Arc<Metrics>>,
    mut alerts: Option<Alerting>,
) -> mpsc::Receiver<Update> {
    let (tx, out) = mpsc::channel(crate::backend::UPDATE_QUEUE);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failures_open = alerts.is_some();
        let mut batch: Vec<Update> = race.as_mut().map(|r| r.race.start()).unwrap_or_default();
        if let Some(r) = &race {
            r.switch_finality();
        }
        loop {
            let now = Instant::now();
            for u in std::mem::take(&mut batch) {
                let raised = alerts
                    .as_mut()
                    .map(|a| a.engine.observe(&u, now))
                    .unwrap_or_default();
                if !send(&tx, u, &metrics).await {
                    return;
                }
                if !raise(&tx, raised, &alerts, &metrics).await {
                    return;
                }
            }
            // Idle, with no alert rules, the clock has nothing to do: it does not
            // wake the process.
            let ticking = alerts.is_some() || race.as_ref().is_some_and(|r| r.race.waiting());
            tokio::select! {
                u = rx.recv() => match u {
                    Some(u) => {
                        let now = Instant::now();
                        let found = race.as_mut().map(|r| r.race.observe(&u, now)).unwrap_or_default();
                        batch.push(u);
                        if found.iter().any(|f| matches!(f, Update::Group { .. }))
                            && let Some(r) = &race
                        {
                            r.switch_finality();
                        }
                        batch.extend(found);
                    }
                    None => return,
                },
                _ = tick.tick(), if ticking => {
                    let now = Instant::now();
                    if let Some(r) = race.as_mut() {
                        batch.extend(r.race.tick(now));
                    }
                    let raised = alerts
                        .as_mut()
                        .map(|a| a.engine.tick(now))
                        .unwrap_or_default();
                    if !raise(&tx, raised, &alerts, &metrics).await {
                        return;
                    }
                }
                f = next_failure(&mut alerts), if failures_open => match f {
                    Some(f) => batch.push(Update::SinkFailed { net: f.net, failure: Box::new(f) }),
                    None => failures_open = false,
                },
            }
        }
    });
    out
}

/// On into the stream, through the metrics. False when the stream has gone.
async fn send(tx: &mpsc::Sender<Update>, u: Update, metrics: &Option<Arc<Metrics>>) -> bool {
    if let Some(m) = metrics {
        m.observe(&u);
    }
    tx.send(u).await.is_ok()
}

/// Raised alerts to their sinks and into the stream.
async fn raise(
    tx: &mpsc::Sender<Update>,
    raised: Vec<(crate::event::NetIdx, crate::event::AlertNotice)>,
    alerts: &Option<Alerting>,
    metrics: &Option<Arc<Metrics>>,
) -> bool {
    for (net, a) in raised {
        if let Some(al) = alerts {
            al.sinks.send(net, &a);
        }
        let u = Update::Alert {
            net,
            alert: Box::new(a),
        };
        if !send(tx, u, metrics).await {
            return false;
        }
    }
    true
}

async fn next_failure(alerts: &mut Option<Alerting>) -> Option<SinkFailure> {
    match alerts {
        Some(a) => a.failures.recv().await,
        None => None,
    }
}
