//! Decoding of incoming WebSocket text frames, with the hostile-input checks done
//! before anything is converted: size (by the socket config), nesting depth, and the
//! length of hex quantities (by the typed decoding, which rejects overflow).

use std::borrow::Cow;
use std::time::Instant;

use alloy_primitives::B256;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::types::{RpcErrorObj, WireBlock};

/// Deepest JSON nesting accepted. Real responses chaintop reads are < 10 deep.
pub const MAX_DEPTH: usize = 64;

/// A decoded incoming frame, borrowing from the text.
#[derive(Debug)]
pub enum Incoming<'a> {
    /// A response to one of our requests.
    Response {
        id: u64,
        result: Result<&'a RawValue, RpcErrorObj>,
    },
    /// A subscription notification.
    Notification {
        subscription: Cow<'a, str>,
        result: &'a RawValue,
    },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("JSON nested deeper than {MAX_DEPTH}")]
    TooDeep,
    #[error("invalid JSON-RPC frame: {0}")]
    Invalid(String),
    #[error("error answer without a request id: {0}")]
    ErrorWithoutId(String),
    #[error("frame is neither a response nor a subscription notification")]
    Unexpected,
    #[error("response id is not one of ours")]
    ForeignId,
}

/// Fail fast on deeply nested JSON without recursing (serde_json's own recursion
/// limit is 128; we reject earlier and never build a tree for hostile frames).
///
/// Runs on every frame before serde does, so it jumps from one structural byte to
/// the next instead of stepping a state machine through every byte: hot frames are
/// mostly long hex strings (a byte-at-a-time scan cost more than the whole parse).
pub fn check_depth(text: &str, max: usize) -> Result<(), FrameError> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(off) = bytes.get(i..).and_then(|r| {
        r.iter()
            .position(|&b| matches!(b, b'"' | b'[' | b'{' | b']' | b'}'))
    }) {
        i += off;
        match bytes[i] {
            b'"' => {
                // Skip to the closing quote; an escape hides the byte after it.
                i += 1;
                loop {
                    let Some(o) = bytes
                        .get(i..)
                        .and_then(|r| r.iter().position(|&b| b == b'"' || b == b'\\'))
                    else {
                        return Ok(()); // unterminated string: serde reports it
                    };
                    i += o;
                    if bytes[i] == b'"' {
                        break;
                    }
                    i += 2;
                }
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Err(FrameError::TooDeep);
                }
            }
            _ => depth = depth.saturating_sub(1),
        }
        i += 1;
    }
    Ok(())
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(default, borrow)]
    id: Option<&'a RawValue>,
    #[serde(default, borrow)]
    method: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    params: Option<Params<'a>>,
    /// Present even when `null` (an answer); `None` only when missing.
    #[serde(default, borrow, deserialize_with = "present")]
    result: Option<&'a RawValue>,
    #[serde(default)]
    error: Option<RpcErrorObj>,
}

fn present<'de, D>(d: D) -> Result<Option<&'de RawValue>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    <&RawValue>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
struct Params<'a> {
    #[serde(borrow)]
    subscription: Cow<'a, str>,
    #[serde(borrow)]
    result: &'a RawValue,
}

/// Decode one text frame.
pub fn decode(text: &str) -> Result<Incoming<'_>, FrameError> {
    check_depth(text, MAX_DEPTH)?;
    let env: Envelope<'_> =
        serde_json::from_str(text).map_err(|e| FrameError::Invalid(e.to_string()))?;
    if let Some(p) = env.params
        && env.method.as_deref() == Some("eth_subscription")
    {
        return Ok(Incoming::Notification {
            subscription: p.subscription,
            result: p.result,
        });
    }
    let id = match env.id {
        Some(raw) if raw.get() != "null" => raw,
        _ => {
            return Err(match env.error {
                Some(e) => FrameError::ErrorWithoutId(format!("{} {}", e.code, e.message)),
                None => FrameError::Unexpected,
            });
        }
    };
    let id: u64 = serde_json::from_str(id.get()).map_err(|_| FrameError::ForeignId)?;
    let result = match (env.result, env.error) {
        (_, Some(e)) => Err(e),
        (Some(r), None) => Ok(r),
        (None, None) => return Err(FrameError::Unexpected),
    };
    Ok(Incoming::Response { id, result })
}

/// Called with (network index, block number, when its frame was read off the socket):
/// the load benchmark's stamp (`backend::Options::head_probe`).
pub type HeadProbe = fn(usize, u64, Instant);

/// Decode a `newHeads` notification result.
pub fn decode_head(raw: &RawValue) -> Result<WireBlock, FrameError> {
    serde_json::from_str(raw.get()).map_err(|e| FrameError::Invalid(e.to_string()))
}

/// Decode a `newPendingTransactions` result: a bare hash, or a full transaction.
/// Only validity matters for counting, so the full form is not decoded further.
pub fn decode_pending(raw: &RawValue) -> Result<(), FrameError> {
    let s = raw.get();
    if s.starts_with('"') {
        let h: B256 = serde_json::from_str(s).map_err(|e| FrameError::Invalid(e.to_string()))?;
        let _ = h;
        Ok(())
    } else if s.starts_with('{') {
        Ok(())
    } else {
        Err(FrameError::Invalid(
            "pending transaction is neither a hash nor an object".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_notification_and_response() {
        let n = r#"{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"0xabc","result":"0x1111111111111111111111111111111111111111111111111111111111111111"}}"#;
        match decode(n).unwrap() {
            Incoming::Notification {
                subscription,
                result,
            } => {
                assert_eq!(subscription, "0xabc");
                decode_pending(result).unwrap();
            }
            other => panic!("{other:?}"),
        }
        let r = r#"{"jsonrpc":"2.0","id":7,"result":"0x1"}"#;
        match decode(r).unwrap() {
            Incoming::Response {
                id: 7,
                result: Ok(v),
            } => assert_eq!(v.get(), "\"0x1\""),
            other => panic!("{other:?}"),
        }
        let e = r#"{"jsonrpc":"2.0","id":8,"error":{"code":-32601,"message":"Method not found"}}"#;
        match decode(e).unwrap() {
            Incoming::Response {
                id: 8,
                result: Err(err),
            } => assert_eq!(err.code, -32601),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rejects_hostile_frames() {
        let deep = "[".repeat(10_000);
        assert_eq!(decode(&deep).unwrap_err(), FrameError::TooDeep);
        assert!(matches!(
            decode("{not json").unwrap_err(),
            FrameError::Invalid(_)
        ));
        let no_id =
            r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid request"}}"#;
        assert!(matches!(
            decode(no_id).unwrap_err(),
            FrameError::ErrorWithoutId(_)
        ));
        let big = format!(
            r#"{{"hash":"0x{h}","parentHash":"0x{h}","number":"0x{n}","timestamp":"0x1","gasUsed":"0x1","gasLimit":"0x1"}}"#,
            h = "11".repeat(32),
            n = "f".repeat(100)
        );
        let raw: Box<RawValue> = serde_json::from_str(&big).unwrap();
        assert!(decode_head(&raw).is_err());
        // Brackets inside strings do not count as nesting.
        let s = format!(
            r#"{{"jsonrpc":"2.0","id":1,"result":"{}"}}"#,
            "[".repeat(500)
        );
        assert!(decode(&s).is_ok());
        // Escaped quotes and backslashes do not end a string early.
        let esc = format!(r#"{{"a":"\\\"{}\\","b":1}}"#, "[".repeat(100));
        assert_eq!(check_depth(&esc, 2), Ok(()));
        assert_eq!(
            check_depth(r#"[["\\"],[[["x"]]]]"#, 3),
            Err(FrameError::TooDeep)
        );
        assert_eq!(check_depth(r#"[["\\"],[["x"]]]"#, 3), Ok(()));
        assert_eq!(check_depth(r#"["unterminated \"#, 1), Ok(()));
    }
}
