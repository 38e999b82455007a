//! Under a pending-hash flood with a slow consumer, only pending counts may be lost:
//! every head is delivered once, in order, and the update queue stays bounded.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chaintop::backend::{self, UPDATE_QUEUE};
use chaintop::config::{Config, NetworkConfig};
use chaintop::devnet::{Devnet, DevnetConfig};
use chaintop::event::Update;
use chaintop::text::Redactor;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flood_drops_nothing_but_pending_counts() {
    let node = Devnet::start(DevnetConfig {
        name: "flood".into(),
        block_time: Duration::from_millis(2),
        pending_rate: 20_000,
        ..DevnetConfig::default()
    })
    .await
    .expect("devnet starts on loopback");
    let mut net = NetworkConfig::new("flood", Some(node.ws_url()), Some(node.http_url()));
    net.chain_id = Some(node.chain_id());
    let config = Config::with_networks(vec![net]);
    let mut be = backend::start(&config, &Arc::new(Redactor::new(Vec::new())));

    // Every head from the very first one counts: a fast chain's first notifications
    // racing the first catch-up must not show up as a reorg or a repeat.
    let mut buf = Vec::new();
    let mut heads: Vec<u64> = Vec::new();
    let mut pending = 0u64;
    let mut take = |buf: &mut Vec<Update>, heads: &mut Vec<u64>| {
        for u in buf.drain(..) {
            match u {
                Update::Head { head, .. } => heads.push(head.number),
                Update::Pending { count, .. } => pending += count,
                Update::Reorg { reorg, .. } => panic!("no reorgs configured, got {reorg:?}"),
                _ => {}
            }
        }
    };
    // A consumer that stops for a second at a time: heads must wait (or be backfilled
    // after the session skipped them), never vanish. A second is well inside the
    // devnet's 1,024-block history at this block time.
    let target = node.head() + 1500;
    let deadline = Instant::now() + Duration::from_secs(120);
    while heads.last().is_none_or(|&n| n < target) {
        assert!(Instant::now() < deadline, "did not reach {target}");
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(be.updates.len() <= UPDATE_QUEUE);
        while let Ok(u) = be.updates.try_recv() {
            buf.push(u);
        }
        take(&mut buf, &mut heads);
    }
    for w in heads.windows(2) {
        assert_eq!(w[1], w[0] + 1, "heads skipped or repeated around {}", w[0]);
    }
    assert!(pending > 0, "the flood was not seen at all");
    node.shutdown();
}
