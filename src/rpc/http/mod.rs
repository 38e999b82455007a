//! JSON-RPC over HTTP: single calls and batches, with timeouts, a response size
//! limit, and retries on rate limits that honour the server's hints.

mod decode;
mod error;
mod meter;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::types::RpcRequest;
use crate::cost::{Answer, Meter};
use crate::text::Redactor;
pub use decode::{BatchResult, decode_batch};
use decode::{decode_one, rate_limited_body};
pub use error::{HttpError, is_range_error, rate_limit_hint};
pub use meter::{HttpMeter, Lane};

/// Longest wait a rate-limit hint may impose before we give up on this call.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);
const ATTEMPTS: u32 = 4;
/// Smallest wait after a rate-limit answer without a hint; doubles per attempt.
const RETRY_BASE: Duration = Duration::from_millis(500);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    /// Swappable so endpoint failover moves every clone of this client at once.
    url: Arc<std::sync::RwLock<Arc<str>>>,
    redactor: Arc<Redactor>,
    max_bytes: usize,
    next_id: Arc<AtomicU64>,
    pub meter: Arc<HttpMeter>,
    /// Prices every call sent (each batch entry).
    cost: Arc<Meter>,
    lane: Lane,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("url", &self.redactor.url(&self.url()))
            .finish()
    }
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
            cost: Arc::default(),
            lane: Lane::Chain,
        })
    }

    /// This client, billing its calls to `cost` (the network's meter).
    pub fn metered(self, cost: Arc<Meter>) -> Self {
        Self { cost, ..self }
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
        let bytes = self.post_with_retry(body, &[method]).await?;
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

    /// One request, or one per `max_batch` entries where the provider's table caps
    /// batches.
    async fn batch_once(&self, calls: &[(&str, Value)]) -> Result<Vec<BatchResult>, HttpError> {
        match self.cost.max_batch() {
            Some(max) if calls.len() > max => {
                let mut out = Vec::with_capacity(calls.len());
                for chunk in calls.chunks(max) {
                    out.extend(self.request_batch(chunk).await?);
                }
                Ok(out)
            }
            _ => self.request_batch(calls).await,
        }
    }

    async fn request_batch(&self, calls: &[(&str, Value)]) -> Result<Vec<BatchResult>, HttpError> {
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
        let methods: Vec<&str> = calls.iter().map(|(m, _)| *m).collect();
        let bytes = self.post_with_retry(body, &methods).await?;
        self.undecodable(
            std::str::from_utf8(&bytes)
                .map_err(|e| HttpError::Decode(e.to_string()))
                .and_then(|text| decode_batch(text, first, calls.len())),
        )
    }

    /// Post `body`, waiting at the gate first; rate limits close the gate (for every
    /// clone of this client) and are retried after their wait.
    async fn post_with_retry(&self, body: Vec<u8>, methods: &[&str]) -> Result<Vec<u8>, HttpError> {
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
            // A rate limit is free, also when it came as a 200 with an error body.
            self.bill(&res, methods, limit.is_some());
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
                    self.cost.timed(methods, started.elapsed());
                    return res;
                }
                (Err(e), None) => {
                    self.meter.failing(e.to_string());
                    return res;
                }
            }
        }
    }

    /// Every call of an attempt the server answered is counted; providers bill
    /// answered calls and 4xx refusals, not 429s or 5xx (nor what never arrived).
    fn bill(&self, res: &Result<Vec<u8>, HttpError>, methods: &[&str], limited: bool) {
        let answer = match res {
            Ok(_) if limited => Answer::Free,
            Ok(_) => Answer::Billed,
            Err(HttpError::Status(s)) if (400..500).contains(s) && *s != 402 => Answer::ClientError,
            Err(HttpError::Status(_) | HttpError::RateLimited(_)) => Answer::Free,
            Err(_) => return,
        };
        self.cost.calls(methods, answer);
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
