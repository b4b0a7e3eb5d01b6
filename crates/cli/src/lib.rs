//! The library half of the `ndcm` command line: the deterministic
//! simulator behind `ndcm sim`, the agent, `listen`, `connect` and `decode`,
//! so that the tests and the benchmarks run exactly the code the commands run. The binary (`main.rs`) only
//! parses arguments and prints.

pub mod agent;
pub mod connect;
pub mod cpu;
pub mod decode;
pub mod interrupt;
pub mod listen;
pub mod sim;
