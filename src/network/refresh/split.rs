//! The refresh batch is one request, unless the endpoint refuses batches that big.

use serde_json::Value;

use crate::network::Shared;
use crate::rpc::http::{BatchResult, HttpClient, HttpError};

/// Entries per request once an endpoint has refused a big batch (many providers cap
/// batches at 100 to 1,000 entries).
pub(super) const SPLIT_BATCH: usize = 100;

/// One request, or (once the endpoint has refused a big one, and from then on) chunks
/// of [`SPLIT_BATCH`], which is said once as an error because it costs more requests
/// per head.
pub(super) async fn batch(
    http: &HttpClient,
    calls: &[(&str, Value)],
    limit: &mut Option<usize>,
    shared: &Shared,
) -> Result<Vec<BatchResult>, HttpError> {
    if limit.is_none_or(|l| calls.len() <= l) {
        match http.batch(calls).await {
            Ok(r) => return Ok(r),
            Err(e @ (HttpError::Transport(_) | HttpError::RateLimited(_))) => return Err(e),
            Err(e) if calls.len() <= SPLIT_BATCH => return Err(e),
            Err(e) => {
                shared.error(format!(
                    "the endpoint refused a batch of {} requests ({e}); \
                     splitting the refresh into requests of {SPLIT_BATCH}",
                    calls.len()
                ));
                *limit = Some(SPLIT_BATCH);
            }
        }
    }
    let mut out = Vec::with_capacity(calls.len());
    for chunk in calls.chunks(limit.unwrap_or(SPLIT_BATCH)) {
        out.extend(http.batch(chunk).await?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    /// A node refusing batches of more than 100 entries with a single error object
    /// (as hosted providers do).
    async fn capped_node() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        crate::network::test_server::json_rpc_server(|body| {
            let reqs = body.as_array().cloned().unwrap_or_default();
            if reqs.len() > 100 {
                json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32600, "message": "batch size too large"}})
            } else {
                Value::Array(
                    reqs.iter()
                        .map(|r| json!({"jsonrpc": "2.0", "id": r["id"], "result": "0x1"}))
                        .collect(),
                )
            }
        })
        .await
    }

    #[tokio::test]
    async fn a_refused_big_batch_is_split_from_then_on() {
        let (url, requests) = capped_node().await;
        let http = HttpClient::new(&url, Arc::default(), 1 << 22).expect("client");
        let shared = Shared::new("n".into(), Arc::default(), None);
        let calls: Vec<(&str, Value)> = (0..250)
            .map(|_| {
                (
                    "eth_getBalance",
                    json!(["0x0000000000000000000000000000000000000001", "latest"]),
                )
            })
            .collect();
        let mut limit = None;
        let r = batch(&http, &calls, &mut limit, &shared)
            .await
            .expect("split");
        assert_eq!(r.len(), 250);
        assert!(
            r.iter()
                .all(|x| x.as_ref().is_ok_and(|v| v.get() == "\"0x1\""))
        );
        assert_eq!(limit, Some(SPLIT_BATCH));
        // The refused batch, then 3 chunks.
        assert_eq!(requests.load(Ordering::Relaxed), 4);
        assert!(
            shared
                .stats()
                .last_error
                .is_some_and(|e| e.contains("splitting"))
        );
        // Next time it goes straight to chunks.
        batch(&http, &calls, &mut limit, &shared)
            .await
            .expect("split");
        assert_eq!(requests.load(Ordering::Relaxed), 7);
    }
}
