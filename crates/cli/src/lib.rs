//! The library half of the `ndcm` command line: the deterministic
//! simulator behind `ndcm sim`, so that the soak tests and the benchmarks
//! run exactly the code the command runs. The binary (`main.rs`) only
//! parses arguments and prints.

pub mod agent;
pub mod connect;
pub mod listen;
pub mod sim;
