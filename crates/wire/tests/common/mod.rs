//! Helpers shared by the integration tests of ndcm-wire.
pub mod arb;
