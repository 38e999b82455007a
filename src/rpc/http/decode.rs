//! Reading answers: one call's, a batch's (in request order, whatever order the
//! server used), and the rate-limit hint inside a body.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use super::error::{HttpError, rate_limit_hint};
use crate::rpc::frame::{MAX_DEPTH, check_depth};
use crate::rpc::types::RpcErrorObj;

/// One result of a batch entry.
pub type BatchResult = Result<Box<RawValue>, RpcErrorObj>;

/// A field that is there, even as `null`, is `Some` (a `null` result is an answer:
/// "no such block"); only a missing one is `None`.
pub(super) fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// Decode the answer to one call.
pub(super) fn decode_one<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, HttpError> {
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

pub(super) fn missing(what: &str) -> RpcErrorObj {
    RpcErrorObj {
        code: -32603,
        message: what.to_string(),
        data: None,
    }
}

/// A 200 response whose body is a single rate-limit error object (-32005 style):
/// the wait it asks for, and the error as text.
pub(super) fn rate_limited_body(bytes: &[u8]) -> Option<(Duration, String)> {
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
