//! Embedded simulated devnet (see devnet/README in the module docs).
