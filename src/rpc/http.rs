//! JSON-RPC over HTTP: single calls and batches, with timeouts, a response size
//! limit, and retries on rate limits that honour the server's hints.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;

use super::frame::{MAX_DEPTH, check_depth};
use super::types::{RpcErrorObj, RpcRequest};
use crate::event::HttpHealth;
use crate::text::Redactor;

/// Longest wait a rate-limit hint may impose before we give up on this call.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);
const ATTEMPTS: u32 = 4;
/// Smallest wait after a rate-limit answer without a hint; doubles per attempt.
const RETRY_BASE: Duration = Duration::from_millis(500);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum HttpError {
    #[error("{0}")]
    Transport(String),
    #[error("HTTP {0} {reason}", reason = status_reason(*.0))]
    Status(u16),
    #[error("rate limited (retry after {0:?})")]
    RateLimited(Duration),
    #[error("RPC error {}: {}", .0.code, .0.message)]
    Rpc(RpcErrorObj),
    #[error("undecodable response: {0}")]
    Decode(String),
}

/// Which work a request is for. When a rate limit closes the gate, requests wait
/// for it to open, and the chain's (heads, backfill, reorg walks, probes) go first:
/// the refresh lane (balances, views, confirmations, log refills) waits for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Chain,
    Refresh,
}

/// How long the refresh lane waits after the gate opens, so that waiting chain
/// requests are sent first.
const REFRESH_YIELD: Duration = Duration::from_millis(100);

/// `Bad Gateway` for 502.
fn status_reason(code: u16) -> &'static str {
    reqwest::StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

/// Counters and the health of one endpoint's HTTP side, shared with the stats.
#[derive(Debug, Default)]
pub struct HttpMeter {
    pub requests: AtomicU64,
    /// Failed attempts (rate limits included), even when a retry then succeeded.
    pub errors: AtomicU64,
    /// Last round-trip in microseconds (0 = none yet).
    pub last_latency_us: AtomicU64,
    /// When the last round-trip was measured (unix ms, 0 = never).
    pub last_latency_at_ms: AtomicU64,
    fail_streak: AtomicU32,
    health: Mutex<HttpHealth>,
    last_error: Mutex<Option<(String, SystemTime)>>,
    /// No request is sent before this (a rate limit's wait).
    gate: Mutex<Option<Instant>>,
    chain_waiting: AtomicUsize,
    /// Woken when the health or the last error changes.
    pub changed: tokio::sync::Notify,
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl HttpMeter {
    pub fn latency(&self) -> Option<Duration> {
        match self.last_latency_us.load(Ordering::Relaxed) {
            0 => None,
            us => Some(Duration::from_micros(us)),
        }
    }

    pub fn latency_at(&self) -> Option<SystemTime> {
        match self.last_latency_at_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(SystemTime::UNIX_EPOCH + Duration::from_millis(ms)),
        }
    }

    pub fn health(&self) -> HttpHealth {
        match self.health.lock() {
            Ok(h) => h.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    pub fn last_error(&self) -> Option<(String, SystemTime)> {
        self.last_error.lock().ok().and_then(|e| e.clone())
    }

    fn set_health(&self, h: HttpHealth) {
        let mut g = match self.health.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if *g != h {
            *g = h;
            self.changed.notify_one();
        }
    }

    fn answered(&self, latency: Duration) {
        self.last_latency_us
            .store(latency.as_micros().max(1) as u64, Ordering::Relaxed);
        self.last_latency_at_ms
            .store(unix_ms(SystemTime::now()), Ordering::Relaxed);
        self.fail_streak.store(0, Ordering::Relaxed);
        self.set_health(HttpHealth::Ok);
    }

    fn failed(&self, reason: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut e) = self.last_error.lock() {
            *e = Some((format!("http: {reason}"), SystemTime::now()));
        }
        self.changed.notify_one();
    }

    /// A request failed outright (5xx, transport, undecodable body).
    fn failing(&self, reason: String) {
        let in_a_row = self.fail_streak.fetch_add(1, Ordering::Relaxed) + 1;
        self.failed(reason.clone());
        self.set_health(HttpHealth::Failing { reason, in_a_row });
    }

    /// A rate limit: nothing is sent through this endpoint until `until`.
    fn limited(&self, until: Instant, reason: String, http_429: bool) {
        self.failed(reason.clone());
        if let Ok(mut g) = self.gate.lock() {
            *g = Some(g.map_or(until, |t| t.max(until)));
        }
        self.set_health(if http_429 {
            HttpHealth::RateLimited { until, reason }
        } else {
            HttpHealth::BackingOff { until, reason }
        });
    }

    fn gate(&self) -> Option<Instant> {
        self.gate
            .lock()
            .ok()
            .and_then(|g| *g)
            .filter(|t| *t > Instant::now())
    }

    /// Wait for this lane's turn: the gate open, and for the refresh lane no chain
    /// request waiting.
    async fn wait_turn(&self, lane: Lane) {
        let mut waited = false;
        loop {
            if let Some(until) = self.gate() {
                waited = true;
                if lane == Lane::Chain {
                    self.chain_waiting.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep_until(until.into()).await;
                    self.chain_waiting.fetch_sub(1, Ordering::SeqCst);
                } else {
                    tokio::time::sleep_until(until.into()).await;
                }
                continue;
            }
            if lane == Lane::Refresh && (waited || self.chain_waiting.load(Ordering::SeqCst) > 0) {
                waited = false;
                tokio::time::sleep(REFRESH_YIELD).await;
                if self.chain_waiting.load(Ordering::SeqCst) > 0 || self.gate().is_some() {
                    continue;
                }
            }
            return;
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
    lane: Lane,
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
            lane: Lane::Chain,
        })
    }

    /// This client (same endpoint, gate and counters) sending in `lane`.
    pub fn on(&self, lane: Lane) -> Self {
        Self {
            lane,
            ..self.clone()
        }
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
        self.undecodable(decode_one(&bytes))
    }

    /// An answer that could not be decoded makes the endpoint "failing" too.
    fn undecodable<T>(&self, res: Result<T, HttpError>) -> Result<T, HttpError> {
        if let Err(e @ HttpError::Decode(_)) = &res {
            self.meter.failing(e.to_string());
        }
        res
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
            let why = limited
                .first()
                .and_then(|&i| results[i].as_ref().err())
                .map(|e| {
                    format!(
                        "{} {} ({} of {} calls)",
                        e.code,
                        e.message,
                        limited.len(),
                        calls.len()
                    )
                })
                .unwrap_or_default();
            let wait = hint.max(backoff).min(MAX_RETRY_WAIT);
            self.meter.limited(Instant::now() + wait, why, false);
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
        self.undecodable(
            std::str::from_utf8(&bytes)
                .map_err(|e| HttpError::Decode(e.to_string()))
                .and_then(|text| decode_batch(text, first, calls.len())),
        )
    }

    /// Post `body`, waiting at the gate first; rate limits close the gate (for every
    /// clone of this client) and are retried after their wait.
    async fn post_with_retry(&self, body: Vec<u8>) -> Result<Vec<u8>, HttpError> {
        let mut backoff = RETRY_BASE;
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.meter.wait_turn(self.lane).await;
            let started = Instant::now();
            let res = self.post_once(body.clone()).await;
            let limit = match &res {
                Err(HttpError::RateLimited(hint)) => {
                    Some((*hint, "HTTP 429 Too Many Requests".to_string(), true))
                }
                Err(HttpError::Status(503)) => Some((
                    Duration::ZERO,
                    "HTTP 503 Service Unavailable".to_string(),
                    true,
                )),
                Ok(bytes) => rate_limited_body(bytes).map(|(hint, why)| (hint, why, false)),
                _ => None,
            };
            match (&res, limit) {
                (_, Some((hint, why, http_429))) => {
                    let wait = hint.max(backoff).min(MAX_RETRY_WAIT);
                    self.meter.limited(Instant::now() + wait, why, http_429);
                    backoff = (backoff * 2).min(MAX_RETRY_WAIT);
                    if attempt >= ATTEMPTS {
                        return match res {
                            Ok(_) => Err(HttpError::RateLimited(hint)),
                            other => other,
                        };
                    }
                }
                (Ok(_), None) => {
                    self.meter.answered(started.elapsed());
                    return res;
                }
                (Err(e), None) => {
                    self.meter.failing(e.to_string());
                    return res;
                }
            }
        }
    }

    /// A transport failure in words a person can act on: timed out, cannot connect
    /// (and the system's reason), the connection lost.
    fn transport(&self, e: reqwest::Error) -> HttpError {
        let mut root: &dyn std::error::Error = &e;
        while let Some(next) = root.source() {
            root = next;
        }
        let why = if e.is_timeout() {
            format!("timed out after {}s", REQUEST_TIMEOUT.as_secs())
        } else if e.is_connect() {
            format!("cannot connect: {root}")
        } else {
            format!("request failed: {root}")
        };
        HttpError::Transport(self.redactor.text(&why))
    }

    async fn post_once(&self, body: Vec<u8>) -> Result<Vec<u8>, HttpError> {
        self.meter.requests.fetch_add(1, Ordering::Relaxed);
        let mut resp = self
            .client
            .post(&*self.url())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| self.transport(e))?;
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
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.transport(e))? {
            if buf.len() + chunk.len() > self.max_bytes {
                return Err(HttpError::Decode(format!(
                    "response larger than {} bytes",
                    self.max_bytes
                )));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf)
    }
}

/// A field that is there, even as `null`, is `Some` (a `null` result is an answer:
/// "no such block"); only a missing one is `None`.
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// Decode the answer to one call.
fn decode_one<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, HttpError> {
    #[derive(serde::Deserialize)]
    struct Resp<'a> {
        #[serde(borrow, default, deserialize_with = "present")]
        result: Option<&'a RawValue>,
        #[serde(default)]
        error: Option<RpcErrorObj>,
    }
    let text = std::str::from_utf8(bytes).map_err(|e| HttpError::Decode(e.to_string()))?;
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

/// Decode the answer to a batch whose ids run from `first`: one result per request,
/// in request order, whatever order the server answered in. A single error object
/// (a whole-batch refusal) is an error.
pub fn decode_batch(text: &str, first: u64, n: usize) -> Result<Vec<BatchResult>, HttpError> {
    check_depth(text, MAX_DEPTH).map_err(|e| HttpError::Decode(e.to_string()))?;
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(default)]
        id: Option<u64>,
        #[serde(default, deserialize_with = "present")]
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

/// A 200 response whose body is a single rate-limit error object (-32005 style):
/// the wait it asks for, and the error as text.
fn rate_limited_body(bytes: &[u8]) -> Option<(Duration, String)> {
    // Cheap pre-filter: only look closer at small error bodies.
    if bytes.len() > 4096 || !bytes.windows(7).any(|w| w == b"\"error\"") {
        return None;
    }
    #[derive(serde::Deserialize)]
    struct E {
        error: RpcErrorObj,
    }
    let e: E = serde_json::from_slice(bytes).ok()?;
    rate_limit_hint(&e.error).map(|h| (h, format!("{} {}", e.error.code, e.error.message)))
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
}
