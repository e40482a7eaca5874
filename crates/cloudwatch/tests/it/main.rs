//! Behaviour tests of the CloudWatch engine on a real store and a virtual clock.
//!
//! Layout: `support.rs` (a store in a temporary folder, the clock, the alarm stepper), then one
//! module per area.

mod alarms;
mod metrics;
mod support;
