//! What the devnet's contracts answer to a read-only call: the demo token's ERC-20
//! views, and Multicall3's `aggregate3` and `getEthBalance`.

use alloy_dyn_abi::{DynSolValue, FunctionExt, JsonAbiExt};
use alloy_primitives::{Address, B256, Bytes, U256};

use super::chain::{State, token_total_supply};
use super::{DEMO_TOKEN, DEMO_TOKEN_DECIMALS, DEMO_TOKEN_NAME, DEMO_TOKEN_SYMBOL};
use crate::rpc::multicall3::{MULTICALL3, SEL_GET_ETH_BALANCE, aggregate3};

/// A read-only call: the demo token's views, Multicall3's `aggregate3` and
/// `getEthBalance`; any other account has no code and returns nothing.
pub(crate) fn run_call(state: &State, to: Option<Address>, data: &[u8]) -> Result<Bytes, Reverted> {
    match to {
        Some(DEMO_TOKEN) => token_call(state, data),
        Some(MULTICALL3) => multicall(state, data),
        // Calls to accounts without code succeed with empty output.
        _ => Ok(Bytes::new()),
    }
}

/// The call reverted (no reason given, as the devnet's contracts give none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reverted;

fn reverted() -> Reverted {
    Reverted
}

fn multicall(state: &State, data: &[u8]) -> Result<Bytes, Reverted> {
    if data.get(..4) == Some(&SEL_GET_ETH_BALANCE[..]) {
        let arg = data.get(4..36).ok_or_else(reverted)?;
        let who = Address::from_word(B256::from_slice(arg));
        return Ok(abi_uint(
            State::account(&who).map_or(U256::ZERO, |i| state.eth[i]),
        ));
    }
    let f = aggregate3();
    if data.get(..4) != Some(f.selector().as_slice()) {
        return Err(reverted());
    }
    let input = f.abi_decode_input(&data[4..]).map_err(|_| reverted())?;
    let Some(DynSolValue::Array(calls)) = input.first() else {
        return Err(reverted());
    };
    let mut results = Vec::with_capacity(calls.len());
    for c in calls {
        let Some(
            [
                DynSolValue::Address(target),
                DynSolValue::Bool(allow),
                DynSolValue::Bytes(d),
            ],
        ) = c.as_tuple()
        else {
            return Err(reverted());
        };
        // One level only: an aggregate3 inside an aggregate3 reverts (a crafted
        // request cannot recurse the devnet's stack away).
        let inner = if *target == MULTICALL3 && d.get(..4) != Some(&SEL_GET_ETH_BALANCE[..]) {
            Err(Reverted)
        } else {
            run_call(state, Some(*target), d)
        };
        let (ok, ret) = match inner {
            Ok(b) => (true, b.to_vec()),
            Err(_) if *allow => (false, Vec::new()),
            Err(e) => return Err(e),
        };
        results.push(DynSolValue::Tuple(vec![
            DynSolValue::Bool(ok),
            DynSolValue::Bytes(ret),
        ]));
    }
    f.abi_encode_output(&[DynSolValue::Array(results)])
        .map(Bytes::from)
        .map_err(|_| reverted())
}

fn token_call(state: &State, data: &[u8]) -> Result<Bytes, Reverted> {
    let out = match data.get(..4) {
        Some([0x70, 0xa0, 0x82, 0x31]) => {
            let arg = data.get(4..36).ok_or_else(reverted)?;
            let who = Address::from_word(B256::from_slice(arg));
            abi_uint(State::account(&who).map_or(U256::ZERO, |i| state.token[i]))
        }
        Some([0x31, 0x3c, 0xe5, 0x67]) => abi_uint(U256::from(DEMO_TOKEN_DECIMALS)),
        Some([0x95, 0xd8, 0x9b, 0x41]) => abi_string(DEMO_TOKEN_SYMBOL),
        Some([0x06, 0xfd, 0xde, 0x03]) => abi_string(DEMO_TOKEN_NAME),
        Some([0x18, 0x16, 0x0d, 0xdd]) => abi_uint(token_total_supply()),
        _ => return Err(reverted()),
    };
    Ok(out)
}

pub(crate) fn abi_uint(v: U256) -> Bytes {
    Bytes::from(v.to_be_bytes::<32>().to_vec())
}

pub(crate) fn abi_string(s: &str) -> Bytes {
    let mut out = Vec::with_capacity(96 + s.len());
    out.extend_from_slice(&U256::from(32).to_be_bytes::<32>());
    out.extend_from_slice(&U256::from(s.len()).to_be_bytes::<32>());
    out.extend_from_slice(s.as_bytes());
    out.resize(64 + s.len().div_ceil(32) * 32, 0);
    Bytes::from(out)
}
