//! JSON-RPC on the wire: frame decoding with hostile-input checks, the HTTP client,
//! and the wire types shared with the devnet.

pub mod frame;
pub mod http;
pub mod multicall3;
pub mod types;
