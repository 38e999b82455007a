//! The reporter of one network: its counters (best effort: a full channel skips a
//! sample) and every change of its HTTP state (never skipped), woken by errors.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::Shared;
use crate::event::{ConnStats, HttpHealth, NetIdx, Update};

/// How often counters and the HTTP state are looked at (sent only when changed).
pub const REPORT_EVERY: Duration = Duration::from_secs(1);

pub(super) async fn run(net: NetIdx, shared: Arc<Shared>, updates: mpsc::Sender<Update>) {
    let mut tick = tokio::time::interval(REPORT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_stats = ConnStats::default();
    let mut last_http = HttpHealth::Ok;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shared.changed.notified() => {
                // A burst of errors is one report.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            () = async {
                match &shared.http {
                    Some(m) => m.changed.notified().await,
                    None => std::future::pending().await,
                }
            } => tokio::time::sleep(Duration::from_millis(20)).await,
        }
        let stats = shared.stats();
        if stats != last_stats {
            match updates.try_send(Update::Stats {
                net,
                stats: stats.clone(),
            }) {
                Ok(()) => last_stats = stats,
                Err(mpsc::error::TrySendError::Full(_)) => {}
                Err(mpsc::error::TrySendError::Closed(_)) => return,
            }
        }
        let health = shared.http_health();
        if health != last_http {
            last_http = health.clone();
            if updates.send(Update::Http { net, health }).await.is_err() {
                return;
            }
        }
    }
}
