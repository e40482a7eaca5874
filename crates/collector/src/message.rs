//! The messages that chain the stages: versioned JSON, one type per queue.
//!
//! Every message carries `v` (the schema version), the run id that started the cascade and the
//! end of the run's sales window, so that a message redelivered or redriven later collects the
//! same window as its siblings. Ids are JSON integers, as the vendor serves them.
//!
//! ```text
//! employee queue: {"v":1,"run_id":"…","window_end":"2023-11-14T22:13:20Z","branch_id":1}
//! sale queue:     {"v":1,"run_id":"…","window_end":"2023-11-14T22:13:20Z","branch_id":1,"employee_id":100002}
//! ```
//!
//! Decoding reads `v` first, so that a message of another version is refused with its version
//! named rather than with a confusing missing-field error.

use serde::{Deserialize, Serialize};

/// The only message version this code writes and reads.
pub const VERSION: u32 = 1;

/// Sent by the branch collector, one per branch; read by the salesperson collector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BranchMessage {
    pub v: u32,
    pub run_id: String,
    /// RFC 3339, whole seconds, UTC.
    pub window_end: String,
    pub branch_id: u64,
}

/// Sent by the salesperson collector, one per salesperson; read by the sale collector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SalespersonMessage {
    pub v: u32,
    pub run_id: String,
    /// RFC 3339, whole seconds, UTC.
    pub window_end: String,
    pub branch_id: u64,
    pub employee_id: u64,
}

/// Why a message body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("the message is not a JSON object with a numeric `v`: {0}")]
    NoVersion(String),
    #[error("message version {found} is not supported (this collector reads version {VERSION})")]
    UnsupportedVersion { found: u64 },
    #[error("the version {VERSION} message is malformed: {0}")]
    Malformed(String),
}

#[derive(Deserialize)]
struct Envelope {
    v: u64,
}

fn decode<T: for<'de> Deserialize<'de>>(body: &str) -> Result<T, MessageError> {
    let envelope: Envelope =
        serde_json::from_str(body).map_err(|error| MessageError::NoVersion(error.to_string()))?;
    if envelope.v != u64::from(VERSION) {
        return Err(MessageError::UnsupportedVersion { found: envelope.v });
    }
    serde_json::from_str(body).map_err(|error| MessageError::Malformed(error.to_string()))
}

fn encode(message: &impl Serialize) -> String {
    // Plain structs of strings and integers always serialise.
    serde_json::to_string(message).unwrap_or_default()
}

impl BranchMessage {
    pub fn new(run_id: &str, window_end: &str, branch_id: u64) -> Self {
        BranchMessage {
            v: VERSION,
            run_id: run_id.to_owned(),
            window_end: window_end.to_owned(),
            branch_id,
        }
    }

    pub fn decode(body: &str) -> Result<Self, MessageError> {
        decode(body)
    }

    pub fn encode(&self) -> String {
        encode(self)
    }
}

impl SalespersonMessage {
    pub fn new(run_id: &str, window_end: &str, branch_id: u64, employee_id: u64) -> Self {
        SalespersonMessage {
            v: VERSION,
            run_id: run_id.to_owned(),
            window_end: window_end.to_owned(),
            branch_id,
            employee_id,
        }
    }

    pub fn decode(body: &str) -> Result<Self, MessageError> {
        decode(body)
    }

    pub fn encode(&self) -> String {
        encode(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(body: &str, expected: expect_test::Expect) {
        let actual = match SalespersonMessage::decode(body) {
            Ok(message) => format!("ok {}", message.encode()),
            Err(error) => error.to_string(),
        };
        expected.assert_eq(&actual);
    }

    #[test]
    fn messages_round_trip_and_other_versions_are_refused() {
        let message = SalespersonMessage::new("r1", "2023-11-14T22:13:20Z", 1, 100_002);
        check(
            &message.encode(),
            expect_test::expect![[
                r#"ok {"v":1,"run_id":"r1","window_end":"2023-11-14T22:13:20Z","branch_id":1,"employee_id":100002}"#
            ]],
        );
        check(
            r#"{"v":2,"run_id":"r1","branch_id":1}"#,
            expect_test::expect![
                "message version 2 is not supported (this collector reads version 1)"
            ],
        );
        check(
            "{'branch': 'Scranton'}",
            expect_test::expect!["the message is not a JSON object with a numeric `v`: key must be a string at line 1 column 2"],
        );
        check(
            r#"{"v":1,"run_id":"r1","window_end":"2023-11-14T22:13:20Z","branch":1,"employee_id":2}"#,
            expect_test::expect!["the version 1 message is malformed: unknown field `branch`, expected one of `v`, `run_id`, `window_end`, `branch_id`, `employee_id` at line 1 column 65"],
        );
        let branch = BranchMessage::new("r1", "2023-11-14T22:13:20Z", 7);
        assert_eq!(BranchMessage::decode(&branch.encode()), Ok(branch));
    }
}
