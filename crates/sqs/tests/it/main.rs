//! Integration tests of the SQS service on a real store: one behaviour test per rule of
//! aws-semantics.md (on virtual time), a model-based property test, and a crash test.

mod crash;
mod model;
mod queues;
mod redrive;
mod rules;
mod support;
