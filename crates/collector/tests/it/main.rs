//! Integration tests of the collectors against real parts: the `api` endpoint on a temporary
//! store (real AWS SDK clients), the demo vendor API over loopback HTTP, and the shipped stacks'
//! tables, queues and function variables.
//!
//! Layout: `support` starts the parts and holds the drain loop and the check helpers;
//! `expected` computes the tables' contents from the vendor's dataset and compares them;
//! `cascade` runs the three handlers end to end; `vendor_client` checks the retry rules against
//! the vendor with a virtual sleeper.

mod cascade;
mod expected;
mod support;
mod vendor_client;
