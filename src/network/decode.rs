//! Chain data turned into typed values: ABI values of logs and views, token text,
//! revert reasons. Text that came from a chain is escaped here, once.

use alloy_dyn_abi::{DynSolType, DynSolValue, FunctionExt};
use alloy_primitives::{Bytes, U256};
use serde_json::Value;

use crate::event::{AbiValue, ViewValue};
use crate::rpc::http::BatchResult;
use crate::rpc::types::RpcErrorObj;
use crate::text::sanitize;

/// Longest token symbol/name kept (after escaping).
const MAX_TOKEN_TEXT: usize = 64;

/// A decoded value, typed. `decimals`: it is an amount of a token with these
/// decimals (only unsigned integers take them).
pub(crate) fn abi_value(v: &DynSolValue, decimals: Option<u8>) -> AbiValue {
    match v {
        DynSolValue::Address(a) => AbiValue::Address(*a),
        DynSolValue::Uint(u, _) => AbiValue::Uint {
            value: *u,
            decimals,
        },
        DynSolValue::Int(i, _) => AbiValue::Int(*i),
        DynSolValue::Bool(b) => AbiValue::Bool(*b),
        DynSolValue::String(s) => AbiValue::Str(sanitize(s).into_owned()),
        DynSolValue::Bytes(b) => AbiValue::Bytes(Bytes::copy_from_slice(b)),
        DynSolValue::FixedBytes(w, n) => {
            AbiValue::Bytes(Bytes::copy_from_slice(&w[..(*n).min(32)]))
        }
        DynSolValue::Function(f) => AbiValue::Bytes(Bytes::copy_from_slice(f.as_slice())),
        DynSolValue::Array(items) | DynSolValue::FixedArray(items) => {
            AbiValue::Array(items.iter().map(|i| abi_value(i, None)).collect())
        }
        DynSolValue::Tuple(items) => {
            AbiValue::Tuple(items.iter().map(|i| abi_value(i, None)).collect())
        }
    }
}

/// The first 32-byte word of a call's answer as a number.
pub(crate) fn word(bytes: &[u8]) -> Option<U256> {
    (bytes.len() >= 32).then(|| U256::from_be_slice(&bytes[..32]))
}

/// A token's `symbol()`/`name()`: an ABI string, or a bytes32 in old tokens (MKR).
/// Escaped for display and bounded in length.
pub(crate) fn token_text(bytes: &[u8]) -> Option<String> {
    let text = match DynSolType::String.abi_decode(bytes) {
        Ok(DynSolValue::String(s)) => s,
        _ if bytes.len() == 32 => {
            let end = bytes.iter().position(|b| *b == 0).unwrap_or(32);
            String::from_utf8_lossy(&bytes[..end]).into_owned()
        }
        _ => return None,
    };
    let clean = sanitize(text.trim()).into_owned();
    if clean.is_empty() {
        return None;
    }
    Some(match clean.char_indices().nth(MAX_TOKEN_TEXT) {
        Some((i, _)) => format!("{}…", &clean[..i]),
        None => clean,
    })
}

/// A view's answer, or the reason it has none (revert, error, undecodable).
/// `token_decimals`: the view is on a configured token whose decimals are known.
pub(crate) fn view_value(
    res: &BatchResult,
    function: &alloy_json_abi::Function,
    token_decimals: Option<u8>,
) -> Result<ViewValue, String> {
    let raw = res.as_ref().map_err(revert_reason)?;
    let bytes: Bytes = serde_json::from_str(raw.get()).map_err(|e| format!("bad answer: {e}"))?;
    if bytes.is_empty() {
        return Err("empty answer (no contract at this address on this network?)".into());
    }
    let values = function
        .abi_decode_output(&bytes)
        .map_err(|e| sanitize(&format!("cannot decode the answer: {e}")).into_owned())?;
    Ok(match values.as_slice() {
        // On a configured token, the ERC-20 amount views answer in token units: show
        // them with the token's decimals (other views stay plain numbers).
        [one @ DynSolValue::Uint(_, 256)]
            if matches!(
                function.name.as_str(),
                "totalSupply" | "balanceOf" | "allowance"
            ) =>
        {
            abi_value(one, token_decimals)
        }
        [one] => abi_value(one, None),
        many => abi_value(&DynSolValue::Tuple(many.to_vec()), None),
    })
}

/// The message of a failed call, with the `Error(string)` reason when the node only
/// gives it in `data`.
pub(crate) fn revert_reason(e: &RpcErrorObj) -> String {
    let reason = e
        .data
        .as_ref()
        .and_then(Value::as_str)
        .and_then(|d| d.parse::<Bytes>().ok())
        .filter(|d| d.len() > 4 && d[..4] == [0x08, 0xc3, 0x79, 0xa0])
        .and_then(|d| match DynSolType::String.abi_decode(&d[4..]) {
            Ok(DynSolValue::String(s)) => Some(s),
            _ => None,
        });
    let msg = match reason {
        Some(r) if !e.message.contains(&r) => format!("{}: {r}", e.message),
        _ => e.message.clone(),
    };
    sanitize(&msg).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn abi_string(s: &str) -> Vec<u8> {
        DynSolValue::String(s.to_string()).abi_encode()
    }

    #[test]
    fn token_amount_views_carry_decimals_and_other_views_do_not() {
        let answer: BatchResult = Ok(serde_json::value::to_raw_value(&Bytes::from(
            U256::from(1_500_000u64).to_be_bytes::<32>().to_vec(),
        ))
        .expect("raw"));
        let f = |sig: &str| alloy_json_abi::Function::parse(sig).expect("signature");
        let amount = |decimals| AbiValue::Uint {
            value: U256::from(1_500_000u64),
            decimals,
        };
        assert_eq!(
            view_value(
                &answer,
                &f("function totalSupply() returns (uint256)"),
                Some(6)
            ),
            Ok(amount(Some(6)))
        );
        assert_eq!(
            view_value(&answer, &f("function flag() returns (uint256)"), Some(6)),
            Ok(amount(None))
        );
        assert_eq!(
            view_value(
                &answer,
                &f("function totalSupply() returns (uint256)"),
                None
            ),
            Ok(amount(None))
        );
    }

    #[test]
    fn hostile_and_old_style_token_text_is_escaped() {
        let hostile = abi_string("\x1b[31mUSDC\x1b]0;pwned\x07\u{202e}");
        let shown = token_text(&hostile).expect("text");
        assert!(!shown.chars().any(|c| c.is_control()), "{shown:?}");
        assert!(
            shown.starts_with("\\x1b[31mUSDC\\x1b]0;pwned\\x07"),
            "{shown:?}"
        );
        let mut b32 = [0u8; 32];
        b32[..3].copy_from_slice(b"MKR");
        assert_eq!(token_text(&b32).as_deref(), Some("MKR"));
        assert_eq!(token_text(&[1, 2]), None);
        let long = abi_string(&"A".repeat(200));
        assert_eq!(
            token_text(&long).map(|s| s.chars().count()),
            Some(MAX_TOKEN_TEXT + 1)
        );
    }

    #[test]
    fn strings_from_a_chain_are_escaped_in_values() {
        let v = abi_value(&DynSolValue::String("a\x1b[2Jb".into()), None);
        assert_eq!(v, AbiValue::Str("a\\x1b[2Jb".into()));
    }

    #[test]
    fn revert_reasons_are_read_from_data_when_the_message_lacks_them() {
        let mut data = vec![0x08, 0xc3, 0x79, 0xa0];
        data.extend(DynSolValue::String("nope".into()).abi_encode_params());
        let e = RpcErrorObj {
            code: 3,
            message: "execution reverted".into(),
            data: Some(json!(Bytes::from(data))),
        };
        assert_eq!(revert_reason(&e), "execution reverted: nope");
    }
}
