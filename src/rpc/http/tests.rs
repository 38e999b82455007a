//! Unit tests of the HTTP client's decoding and error classification.

use std::sync::Arc;

use super::*;
use crate::rpc::types::RpcErrorObj;
use serde_json::json;

fn err(code: i64, message: &str, data: Option<Value>) -> RpcErrorObj {
    RpcErrorObj {
        code,
        message: message.into(),
        data,
    }
}

#[test]
fn recognises_rate_limits_and_hints() {
    let e = err(
        -32005,
        "limit exceeded",
        Some(serde_json::json!({"backoff_seconds": 3})),
    );
    assert_eq!(rate_limit_hint(&e), Some(Duration::from_secs(3)));
    assert_eq!(
        rate_limit_hint(&err(-32016, "over rate limit", None)),
        Some(Duration::ZERO)
    );
    assert_eq!(
        rate_limit_hint(&err(-32000, "Too Many Requests", None)),
        Some(Duration::ZERO)
    );
    assert_eq!(
        rate_limit_hint(&err(-32000, "execution reverted", None)),
        None
    );
    let body = br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32005,"message":"limit exceeded","data":{"backoff_seconds":2}}}"#;
    assert_eq!(
        rate_limited_body(body).map(|(h, _)| h),
        Some(Duration::from_secs(2))
    );
}

#[test]
fn a_null_result_is_an_answer_and_a_missing_one_is_not() {
    let r = decode_batch(
        r#"[{"jsonrpc":"2.0","id":1,"result":null},{"jsonrpc":"2.0","id":2}]"#,
        1,
        2,
    )
    .expect("decodes");
    assert_eq!(r[0].as_ref().map(|v| v.get()), Ok("null"));
    assert!(r[1].is_err());
    let none: Option<u64> =
        decode_one(br#"{"jsonrpc":"2.0","id":1,"result":null}"#).expect("null is an answer");
    assert_eq!(none, None);
}

#[test]
fn batch_answers_are_put_back_in_request_order() {
    let text = r#"[{"jsonrpc":"2.0","id":11,"result":"0x2"},
        {"jsonrpc":"2.0","id":10,"error":{"code":-32000,"message":"nope"}},
        {"jsonrpc":"2.0","id":99,"result":"0x9"}]"#;
    let r = decode_batch(text, 10, 3).expect("decodes");
    assert_eq!(
        r[0].as_ref().map(|v| v.get()).map_err(|e| e.code),
        Err(-32000)
    );
    assert_eq!(r[1].as_ref().map(|v| v.get()), Ok("\"0x2\""));
    assert_eq!(
        r[2].as_ref()
            .map(|v| v.get())
            .map_err(|e| e.message.as_str()),
        Err("no answer in batch")
    );
    let refused =
        r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"batch too large"}}"#;
    assert!(matches!(decode_batch(refused, 10, 3), Err(HttpError::Rpc(e)) if e.code == -32600));
}

#[test]
fn recognises_provider_range_errors() {
    for m in [
        "query returned more than 10000 results",
        "exceed maximum block range: 5000",
        "Block range limit exceeded.",
        "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range",
        "block range too large",
        "query exceeds max block range 100000",
    ] {
        assert!(is_range_error(&err(-32005, m, None)), "{m}");
    }
    assert!(!is_range_error(&err(-32000, "header not found", None)));
}

/// Run both lanes against a gate closed for 8 s; when each got its turn.
async fn turns(gate_for: Duration) -> (Duration, Duration) {
    let meter = Arc::new(HttpMeter::default());
    let t0 = tokio::time::Instant::now();
    if !gate_for.is_zero() {
        meter.limited((t0 + gate_for).into_std(), "HTTP 429".into(), true);
    }
    let lane = |lane: Lane| {
        let m = meter.clone();
        tokio::spawn(async move {
            m.wait_turn(lane).await;
            t0.elapsed()
        })
    };
    // The refresh request asks first; the chain's must still go first.
    let refresh = lane(Lane::Refresh);
    let chain = lane(Lane::Chain);
    (
        chain.await.expect("chain lane"),
        refresh.await.expect("refresh lane"),
    )
}

#[tokio::test(start_paused = true)]
async fn the_chain_lane_goes_first_when_a_rate_limit_ends() {
    let (chain, refresh) = turns(Duration::from_secs(8)).await;
    assert_eq!(chain, Duration::from_secs(8));
    assert!(
        refresh > chain,
        "refresh {refresh:?} before chain {chain:?}"
    );
    assert!(refresh < Duration::from_secs(9), "{refresh:?}");
}

#[tokio::test(start_paused = true)]
async fn an_open_gate_holds_nobody() {
    let (chain, refresh) = turns(Duration::ZERO).await;
    assert_eq!((chain, refresh), (Duration::ZERO, Duration::ZERO));
}

#[tokio::test]
async fn a_table_that_caps_batches_splits_them() {
    use crate::cost::{Meter, table_for};
    let sizes = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = sizes.clone();
    let url = crate::network::test_server::json_rpc_server(move |body| {
        let reqs = body.as_array().cloned().unwrap_or_default();
        if let Ok(mut s) = seen.lock() {
            s.push(reqs.len());
        }
        Value::Array(
            reqs.iter()
                .map(|r| json!({"jsonrpc": "2.0", "id": r["id"], "result": r["id"]}))
                .collect(),
        )
    })
    .await
    .0;
    let mut table = table_for(Some("alchemy"), None).expect("alchemy");
    assert_eq!(table.max_batch, Some(1000), "the published cap");
    table.max_batch = Some(40);
    let cost = Meter::new(Some(table));
    let http = HttpClient::new(&url, Arc::default(), 1 << 22)
        .expect("client")
        .metered(cost.clone());
    let calls: Vec<(&str, Value)> = (0..100).map(|_| ("eth_blockNumber", json!([]))).collect();
    let results = http.batch(&calls).await.expect("batch");
    // Every answer, in order, from requests of at most 40 entries, all billed.
    let ids: Vec<u64> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().and_then(|v| v.get().parse().ok()))
        .collect();
    assert_eq!(ids.len(), 100);
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "{ids:?}");
    assert_eq!(
        sizes.lock().map(|s| s.clone()).unwrap_or_default(),
        vec![40, 40, 20]
    );
    assert_eq!(cost.snapshot(std::time::SystemTime::now()).calls, 100);
}
