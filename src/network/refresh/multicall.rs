//! Multicall3: many reads in one `eth_call` to `aggregate3`, each allowed to fail
//! alone. A provider bills one call where a batch would bill one per entry, so a
//! refresh of 1,000 balances costs one or two calls instead of 1,000.
//!
//! Used when the canonical contract has code on the chain (asked once per chain,
//! with `eth_getCode`); its answers are taken apart into one result per read, in
//! the shape an `eth_call` or `eth_getBalance` entry of a batch would have had, so
//! the rest of the refresh does not know the difference.

use alloy_dyn_abi::{DynSolValue, FunctionExt, JsonAbiExt};
use alloy_primitives::{Address, Bytes, U256};
use serde_json::value::RawValue;

use crate::rpc::http::BatchResult;
pub use crate::rpc::multicall3::MULTICALL3;
use crate::rpc::multicall3::{SEL_GET_ETH_BALANCE, aggregate3};
use crate::rpc::types::RpcErrorObj;

/// Reads per `aggregate3` call: about 7,000 gas each (a cold account or storage
/// read and the call), so 1,000 stay far under providers' `eth_call` gas caps
/// (tens of millions) and their request size limits (about 200 kB).
pub const CHUNK: usize = 1000;

/// One read: the contract called and the calldata.
pub type Read = (Address, Bytes);

/// The read of `holder`'s native balance (Multicall3 calls itself).
pub fn eth_balance(holder: Address) -> Read {
    let mut data = SEL_GET_ETH_BALANCE.to_vec();
    data.extend_from_slice(holder.into_word().as_slice());
    (MULTICALL3, data.into())
}

/// The calldata of one `aggregate3` call carrying `reads`, each allowed to fail.
pub fn encode(reads: &[Read]) -> Option<Bytes> {
    let calls = reads
        .iter()
        .map(|(to, data)| {
            DynSolValue::Tuple(vec![
                DynSolValue::Address(*to),
                DynSolValue::Bool(true),
                DynSolValue::Bytes(data.to_vec()),
            ])
        })
        .collect();
    aggregate3()
        .abi_encode_input(&[DynSolValue::Array(calls)])
        .ok()
        .map(Bytes::from)
}

fn raw(json: String) -> Option<Box<RawValue>> {
    RawValue::from_string(json).ok()
}

fn failed(message: &str, data: Option<&[u8]>) -> RpcErrorObj {
    RpcErrorObj {
        code: 3,
        message: message.into(),
        data: data.map(|d| serde_json::Value::String(Bytes::copy_from_slice(d).to_string())),
    }
}

/// One result per read from the answer to `aggregate3` (`balance`: the read was
/// `getEthBalance`, so its result is a quantity like `eth_getBalance`'s). The
/// whole call failing fails every read with its reason.
pub fn split(answer: &BatchResult, balance: &[bool]) -> Vec<BatchResult> {
    let every = |e: RpcErrorObj| balance.iter().map(|_| Err(e.clone())).collect();
    let bytes: Bytes = match answer {
        Ok(raw) => match serde_json::from_str(raw.get()) {
            Ok(b) => b,
            Err(e) => return every(failed(&format!("Multicall3: bad answer: {e}"), None)),
        },
        Err(e) => return every(e.clone()),
    };
    let results = match aggregate3().abi_decode_output(&bytes).as_deref() {
        Ok([DynSolValue::Array(items)]) if items.len() == balance.len() => items.clone(),
        _ => {
            return every(failed(
                "Multicall3: undecodable answer (no Multicall3 at its address?)",
                None,
            ));
        }
    };
    results
        .iter()
        .zip(balance)
        .map(|(item, is_balance)| match item.as_tuple() {
            Some([DynSolValue::Bool(true), DynSolValue::Bytes(ret)]) => {
                let json = if *is_balance {
                    if ret.len() != 32 {
                        return Err(failed("Multicall3: getEthBalance answered no word", None));
                    }
                    format!("\"{:#x}\"", U256::from_be_slice(ret))
                } else {
                    format!("\"{}\"", Bytes::copy_from_slice(ret))
                };
                raw(json).ok_or_else(|| failed("Multicall3: unencodable result", None))
            }
            Some([DynSolValue::Bool(false), DynSolValue::Bytes(ret)]) => {
                Err(failed("execution reverted", Some(ret)))
            }
            _ => Err(failed("Multicall3: undecodable result", None)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(items: Vec<(bool, Vec<u8>)>) -> BatchResult {
        let values = DynSolValue::Array(
            items
                .into_iter()
                .map(|(ok, b)| {
                    DynSolValue::Tuple(vec![DynSolValue::Bool(ok), DynSolValue::Bytes(b)])
                })
                .collect(),
        );
        let bytes = DynSolValue::Tuple(vec![values]).abi_encode_params();
        Ok(raw(format!("\"{}\"", Bytes::from(bytes))).expect("json"))
    }

    #[test]
    fn calls_are_encoded_with_the_aggregate3_selector() {
        assert_eq!(aggregate3().selector().as_slice(), [0x82, 0xad, 0x56, 0xcb]);
        let data = encode(&[eth_balance(Address::repeat_byte(7))]).expect("encoded");
        assert_eq!(&data[..4], [0x82, 0xad, 0x56, 0xcb]);
        // The read is inside: getEthBalance's selector and the holder.
        let hex = data.to_string();
        assert!(
            hex.contains("4d2301cc0000000000000000000000000707"),
            "{hex}"
        );
    }

    #[test]
    fn answers_are_taken_apart_one_per_read_and_failures_fail_alone() {
        let word = U256::from(1234u64).to_be_bytes::<32>().to_vec();
        let res = split(
            &answer(vec![
                (true, word.clone()),
                (false, vec![0xde, 0xad]),
                (true, word),
            ]),
            &[true, false, false],
        );
        assert_eq!(res.len(), 3);
        assert_eq!(res[0].as_ref().map(|r| r.get()).ok(), Some("\"0x4d2\""));
        let err = res[1].as_ref().expect_err("reverted");
        assert_eq!(err.data, Some(serde_json::json!("0xdead")));
        assert!(
            res[2]
                .as_ref()
                .is_ok_and(|r| r.get().starts_with("\"0x00000000"))
        );
    }

    #[test]
    fn a_wrong_sized_or_failed_answer_fails_every_read() {
        let short = split(&answer(vec![(true, vec![1])]), &[true, true]);
        assert!(short.iter().all(|r| r.is_err()));
        let e = RpcErrorObj {
            code: -32000,
            message: "out of gas".into(),
            data: None,
        };
        let all = split(&Err(e), &[false, false]);
        assert!(
            all.iter()
                .all(|r| r.as_ref().is_err_and(|e| e.message == "out of gas"))
        );
    }
}
