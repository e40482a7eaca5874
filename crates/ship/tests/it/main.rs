//! Integration tests of the `ship` crate: packaging the shipped templates (`templates.rs`), and
//! packaging, deploying and destroying against a moto server started per test (`aws.rs`,
//! `moto.rs`).

mod aws;
mod moto;
mod templates;
