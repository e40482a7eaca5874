//! Integration tests of the vendor API over real HTTP on loopback.
//!
//! Layout: `support` starts servers and holds the HTTP client and the check helpers; each other
//! module covers one feature (paths and shapes, pagination, determinism and revisions, faults,
//! the binary).

mod determinism;
mod faults;
mod pagination;
mod paths;
mod process;
mod support;
