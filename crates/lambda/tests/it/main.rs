//! Behaviour tests of the Lambda service with real processes (the `test-function` binary), a real
//! store and a virtual clock.

mod async_invoke;
mod build;
mod invoke;
mod schedule;
mod sqs_trigger;
mod stream_trigger;
mod support;
