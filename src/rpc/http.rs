//! JSON-RPC over HTTP: single calls and batches, with timeouts, a response size
//! limit, and retries on rate limits that honour the server's hints.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;

use super::frame::{MAX_DEPTH, check_depth};
use super::types::{RpcErrorObj, RpcRequest};
use crate::text::Redactor;

/// Longest wait a rate-limit hint may impose before we give up on this call.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);
const ATTEMPTS: u32 = 4;
/// Smallest wait after a rate-limit answer without a hint; doubles per attempt.
const RETRY_BASE: Duration = Duration::from_millis(500);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum HttpError {
    #[error("HTTP transport error: {0}")]
    Transport(String),
    #[error("HTTP status {0}")]
    Status(u16),
    #[error("rate limited (retry after {0:?})")]
    RateLimited(Duration),
    #[error("RPC error {}: {}", .0.code, .0.message)]
    Rpc(RpcErrorObj),
    #[error("undecodable response: {0}")]
    Decode(String),
}

/// Counters shared with the supervisor's stats.
#[derive(Debug, Default)]
pub struct HttpMeter {
    pub requests: AtomicU64,
    pub errors: AtomicU64,
    /// Last round-trip in microseconds (0 = none yet).
    pub last_latency_us: AtomicU64,
}

impl HttpMeter {
    pub fn latency(&self) -> Option<Duration> {
        match self.last_latency_us.load(Ordering::Relaxed) {
            0 => None,
            us => Some(Duration::from_micros(us)),
        }
    }
}

/// One result of a batch entry.
pub type BatchResult = Result<Box<RawValue>, RpcErrorObj>;

#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    /// Swappable so endpoint failover moves every clone of this client at once.
    url: Arc<std::sync::RwLock<Arc<str>>>,
    redactor: Arc<Redactor>,
    max_bytes: usize,
    next_id: Arc<AtomicU64>,
    pub meter: Arc<HttpMeter>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("url", &self.redactor.url(&self.url()))
            .finish()
    }
}

/// Why a rate-limited answer says to wait, if it is one.
pub fn rate_limit_hint(err: &RpcErrorObj) -> Option<Duration> {
    // Infura answers "too many results" with -32005 too: that calls for a narrower
    // range (see is_range_error), not for waiting.
    if is_range_error(err) {
        return None;
    }
    let msg = err.message.to_ascii_lowercase();
    let limited = matches!(err.code, -32005 | -32016 | 429)
        || msg.contains("rate limit")
        || msg.contains("too many requests")
        || msg.contains("exceeded") && msg.contains("capacity");
    if !limited {
        return None;
    }
    let hinted = err
        .data
        .as_ref()
        .and_then(|d| d.get("backoff_seconds").or_else(|| d.get("retry_after")))
        .and_then(Value::as_f64)
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64);
    Some(hinted.unwrap_or(Duration::ZERO))
}

/// Is this an error that says "too many results / too wide a range" for eth_getLogs?
pub fn is_range_error(err: &RpcErrorObj) -> bool {
    let m = err.message.to_ascii_lowercase();
    [
        "more than 10000 results",  // Infura
        "query returned more than", // Infura / geth
        "exceed maximum block range",
        "block range limit exceeded", // QuickNode
        "block range is too wide",
        "range is too large",
        "log response size exceeded",    // Alchemy
        "limited to a 10,000",           // Alchemy
        "up to a 10000 block range",     // Alchemy
        "range limit",                   // Chainstack
        "block range too large",         // reth
        "query exceeds max block range", // reth
        "query exceeds max results",     // reth
        "exceeds the range allowed",     // Chainstack
        "eth_getlogs is limited",        // Chainstack
        "too many blocks",
    ]
    .iter()
    .any(|p| m.contains(p))
}

impl HttpClient {
    pub fn new(url: &str, redactor: Arc<Redactor>, max_bytes: usize) -> Result<Self, HttpError> {
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("chaintop/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HttpError::Transport(redactor.text(&e.to_string())))?;
        Ok(Self {
            client,
            url: Arc::new(std::sync::RwLock::new(url.into())),
            redactor,
            max_bytes,
            next_id: Arc::new(AtomicU64::new(1)),
            meter: Arc::default(),
        })
    }

    /// The endpoint requests currently go to.
    pub fn url(&self) -> Arc<str> {
        match self.url.read() {
            Ok(u) => u.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Point this client (and all its clones) at another endpoint.
    pub fn set_url(&self, url: &str) {
        match self.url.write() {
            Ok(mut u) => *u = url.into(),
            Err(poisoned) => *poisoned.into_inner() = url.into(),
        }
    }

    /// One call, decoded into `T`.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        params: Value,
    ) -> Result<T, HttpError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = serde_json::to_vec(&RpcRequest::new(id, method, &params))
            .map_err(|e| HttpError::Decode(e.to_string()))?;
        let bytes = self.post_with_retry(body).await?;
        #[derive(serde::Deserialize)]
        struct Resp<'a> {
            #[serde(borrow, default)]
            result: Option<&'a RawValue>,
            #[serde(default)]
            error: Option<RpcErrorObj>,
        }
        let text = std::str::from_utf8(&bytes).map_err(|e| HttpError::Decode(e.to_string()))?;
        check_depth(text, MAX_DEPTH).map_err(|e| HttpError::Decode(e.to_string()))?;
        let resp: Resp<'_> =
            serde_json::from_str(text).map_err(|e| HttpError::Decode(e.to_string()))?;
        match (resp.result, resp.error) {
            (_, Some(e)) => Err(HttpError::Rpc(e)),
            (Some(r), None) => {
                serde_json::from_str(r.get()).map_err(|e| HttpError::Decode(e.to_string()))
            }
            (None, None) => Err(HttpError::Decode(
                "response has neither result nor error".into(),
            )),
        }
    }

    /// Many calls in ONE HTTP request. Results come back in the order of `calls`;
    /// one failing entry does not fail the others. Entries refused by a rate limit
    /// (providers count batch entries singly) are sent again after the hint.
    pub async fn batch(&self, calls: &[(&str, Value)]) -> Result<Vec<BatchResult>, HttpError> {
        let mut results = self.batch_once(calls).await?;
        let mut backoff = RETRY_BASE;
        for _ in 1..ATTEMPTS {
            let limited: Vec<usize> = (0..results.len())
                .filter(|&i| matches!(&results[i], Err(e) if rate_limit_hint(e).is_some()))
                .collect();
            let Some(hint) = limited
                .iter()
                .filter_map(|&i| results[i].as_ref().err().and_then(rate_limit_hint))
                .max()
            else {
                break;
            };
            self.wait_for_limit(hint, backoff).await;
            backoff = (backoff * 2).min(MAX_RETRY_WAIT);
            let again: Vec<(&str, Value)> = limited
                .iter()
                .map(|&i| (calls[i].0, calls[i].1.clone()))
                .collect();
            for (i, r) in limited.into_iter().zip(self.batch_once(&again).await?) {
                results[i] = r;
            }
        }
        Ok(results)
    }

    async fn wait_for_limit(&self, hint: Duration, backoff: Duration) {
        let wait = hint.max(backoff).min(MAX_RETRY_WAIT);
        tracing::debug!(?wait, "HTTP rate limited; waiting");
        tokio::time::sleep(wait).await;
    }

    async fn batch_once(&self, calls: &[(&str, Value)]) -> Result<Vec<BatchResult>, HttpError> {
        if calls.is_empty() {
            return Ok(Vec::new());
        }
        let first = self
            .next_id
            .fetch_add(calls.len() as u64, Ordering::Relaxed);
        let reqs: Vec<RpcRequest<'_>> = calls
            .iter()
            .enumerate()
            .map(|(i, (m, p))| RpcRequest::new(first + i as u64, m, p))
            .collect();
        let body = serde_json::to_vec(&reqs).map_err(|e| HttpError::Decode(e.to_string()))?;
        let bytes = self.post_with_retry(body).await?;
        let text = std::str::from_utf8(&bytes).map_err(|e| HttpError::Decode(e.to_string()))?;
        decode_batch(text, first, calls.len())
    }

    async fn post_with_retry(&self, body: Vec<u8>) -> Result<Vec<u8>, HttpError> {
        let mut backoff = RETRY_BASE;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let res = self.post_once(body.clone()).await;
            let wait = match &res {
                Err(HttpError::RateLimited(hint)) => Some(*hint),
                Err(HttpError::Status(503)) => Some(Duration::ZERO),
                Ok(bytes) => rate_limited_body(bytes),
                _ => None,
            };
            match wait {
                Some(hint) if attempt < ATTEMPTS => {
                    self.wait_for_limit(hint, backoff).await;
                    backoff = (backoff * 2).min(MAX_RETRY_WAIT);
                }
                _ => {
                    if res.is_err() {
                        self.meter.errors.fetch_add(1, Ordering::Relaxed);
                    }
                    return res;
                }
            }
        }
    }

    async fn post_once(&self, body: Vec<u8>) -> Result<Vec<u8>, HttpError> {
        let started = Instant::now();
        self.meter.requests.fetch_add(1, Ordering::Relaxed);
        let mut resp = self
            .client
            .post(&*self.url())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| HttpError::Transport(self.redactor.text(&e.without_url().to_string())))?;
        let status = resp.status();
        if status.as_u16() == 429 {
            let hint = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(Duration::from_secs_f64)
                .unwrap_or(Duration::ZERO);
            return Err(HttpError::RateLimited(hint));
        }
        if !status.is_success() {
            return Err(HttpError::Status(status.as_u16()));
        }
        if resp
            .content_length()
            .is_some_and(|l| l as usize > self.max_bytes)
        {
            return Err(HttpError::Decode(format!(
                "response larger than {} bytes",
                self.max_bytes
            )));
        }
        let mut buf = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| HttpError::Transport(self.redactor.text(&e.without_url().to_string())))?
        {
            if buf.len() + chunk.len() > self.max_bytes {
                return Err(HttpError::Decode(format!(
                    "response larger than {} bytes",
                    self.max_bytes
                )));
            }
            buf.extend_from_slice(&chunk);
        }
        self.meter.last_latency_us.store(
            started.elapsed().as_micros().max(1) as u64,
            Ordering::Relaxed,
        );
        Ok(buf)
    }
}

/// Decode the answer to a batch whose ids run from `first`: one result per request,
/// in request order, whatever order the server answered in. A single error object
/// (a whole-batch refusal) is an error.
pub fn decode_batch(text: &str, first: u64, n: usize) -> Result<Vec<BatchResult>, HttpError> {
    check_depth(text, MAX_DEPTH).map_err(|e| HttpError::Decode(e.to_string()))?;
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(default)]
        id: Option<u64>,
        #[serde(default)]
        result: Option<Box<RawValue>>,
        #[serde(default)]
        error: Option<RpcErrorObj>,
    }
    // A whole-batch error (e.g. rate limit) comes back as a single object.
    let entries: Vec<Entry> = match serde_json::from_str::<Vec<Entry>>(text) {
        Ok(v) => v,
        Err(_) => {
            let single: Entry =
                serde_json::from_str(text).map_err(|e| HttpError::Decode(e.to_string()))?;
            return Err(match single.error {
                Some(e) => HttpError::Rpc(e),
                None => HttpError::Decode("batch answered with a single result".into()),
            });
        }
    };
    let mut out: Vec<Option<BatchResult>> = (0..n).map(|_| None).collect();
    for e in entries {
        let Some(slot) =
            e.id.and_then(|id| id.checked_sub(first))
                .and_then(|i| out.get_mut(i as usize))
        else {
            continue;
        };
        *slot = Some(match (e.result, e.error) {
            (_, Some(err)) => Err(err),
            (Some(r), None) => Ok(r),
            (None, None) => Err(missing("empty answer")),
        });
    }
    Ok(out
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(missing("no answer in batch"))))
        .collect())
}

fn missing(what: &str) -> RpcErrorObj {
    RpcErrorObj {
        code: -32603,
        message: what.to_string(),
        data: None,
    }
}

/// A 200 response whose body is a single rate-limit error object (-32005 style).
fn rate_limited_body(bytes: &[u8]) -> Option<Duration> {
    // Cheap pre-filter: only look closer at small error bodies.
    if bytes.len() > 4096 || !bytes.windows(7).any(|w| w == b"\"error\"") {
        return None;
    }
    #[derive(serde::Deserialize)]
    struct E {
        error: RpcErrorObj,
    }
    let e: E = serde_json::from_slice(bytes).ok()?;
    rate_limit_hint(&e.error)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(rate_limited_body(body), Some(Duration::from_secs(2)));
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
}
