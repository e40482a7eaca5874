//! Behaviour tests of the DynamoDB engine, one module per area. Each test runs the real engine on a
//! real SQLite store in a temporary folder, with a manual clock.

mod batch;
mod crash;
mod items;
mod model;
mod query;
mod streams;
mod support;
mod tables;
mod transact;
