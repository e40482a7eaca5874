//! SNS engine tests on a real store, a virtual clock, the real SQS engine and real HTTP
//! listeners on loopback.
//!
//! Layout: `support.rs` (engines, a recording HTTP endpoint), then one module per area.

mod alarms;
mod delivery;
mod support;
