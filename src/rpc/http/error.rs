//! What can go wrong with an HTTP call, and how a JSON-RPC error says "wait"
//! (a rate limit, with its hint) or "ask for less" (a log range too wide).

use std::time::Duration;

use serde_json::Value;

use crate::rpc::types::RpcErrorObj;

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

/// `Bad Gateway` for 502.
fn status_reason(code: u16) -> &'static str {
    reqwest::StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
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
