//! Integration tests of the SQS service on a real store: one behaviour test per rule of
//! aws-semantics.md (on virtual time), a model-based property test, a crash test, and a check that
//! the queue cycle costs as many SQLite steps at any depth.

mod crash;
mod metrics;
mod model;
mod queues;
mod receive_cost;
mod redrive;
mod rules;
mod support;
