//! Multicall3's wire interface, shared by the client's refresh and the devnet:
//! its address, `aggregate3` and `getEthBalance`.

use std::sync::OnceLock;

use alloy_json_abi::Function;
use alloy_primitives::{Address, address};

/// Multicall3's address, the same on every chain that has it.
pub const MULTICALL3: Address = address!("cA11bde05977b3631167028862bE2a173976CA11");

/// `getEthBalance(address)`.
pub const SEL_GET_ETH_BALANCE: [u8; 4] = [0x4d, 0x23, 0x01, 0xcc];

/// `aggregate3((address target, bool allowFailure, bytes callData)[])` returning
/// `(bool success, bytes returnData)[]`.
pub fn aggregate3() -> &'static Function {
    static F: OnceLock<Function> = OnceLock::new();
    F.get_or_init(|| {
        // A fixed signature: parsing it cannot fail (and a unit test parses it).
        Function::parse("aggregate3((address,bool,bytes)[])((bool,bytes)[])").unwrap_or_else(|_| {
            Function {
                name: String::new(),
                inputs: Vec::new(),
                outputs: Vec::new(),
                state_mutability: alloy_json_abi::StateMutability::View,
            }
        })
    })
}
