//! JSON-RPC on the wire.

pub mod types;
