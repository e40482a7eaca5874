//! Model-based test: random operation sequences run against the service (on a real store) and
//! against a small in-memory model of the rules; every observation must be identical.
//!
//! The model states the rules directly: a receive takes the oldest visible messages (by visibility
//! time, then arrival), skips expired ones, moves one handed out `maxReceiveCount` times to the
//! dead-letter queue (new arrival there, original send time for retention), and hides the others for
//! the visibility timeout; a receipt handle works only for the latest receive.

use proptest::prelude::*;
use sqs::{ReceiveMessage, SendMessage};

use crate::support::{env, Env, T0};

const VISIBILITY_MS: i64 = 10_000;
/// The dead-letter queue keeps the default visibility timeout.
const DLQ_VISIBILITY_MS: i64 = 30_000;
const RETENTION_MS: i64 = 60_000;
const DLQ_RETENTION_MS: i64 = 120_000;
const MAX_RECEIVE_COUNT: i64 = 2;

#[derive(Debug, Clone)]
enum Op {
    Send {
        dlq: bool,
        delay_s: i64,
    },
    Receive {
        dlq: bool,
        max: i64,
        visibility_s: Option<i64>,
    },
    Delete {
        handle: usize,
    },
    ChangeVisibility {
        handle: usize,
        timeout_s: i64,
    },
    Advance {
        ms: i64,
    },
    Counts {
        dlq: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (any::<bool>(), prop_oneof![Just(0i64), Just(0), Just(5)])
            .prop_map(|(dlq, delay_s)| Op::Send { dlq, delay_s }),
        3 => (any::<bool>(), 1i64..4, prop::option::of(0i64..3))
            .prop_map(|(dlq, max, v)| Op::Receive { dlq, max, visibility_s: v.map(|v| v * 5) }),
        2 => (0usize..16).prop_map(|handle| Op::Delete { handle }),
        1 => (0usize..16, 0i64..3).prop_map(|(handle, t)| Op::ChangeVisibility { handle, timeout_s: t * 5 }),
        3 => (0i64..25_000).prop_map(|ms| Op::Advance { ms }),
        1 => any::<bool>().prop_map(|dlq| Op::Counts { dlq }),
    ]
}

#[derive(Debug, Clone)]
struct ModelMessage {
    /// Arrival order; a move to the dead-letter queue is a new arrival.
    arrival: u64,
    dlq: bool,
    body: String,
    sent_ms: i64,
    visible_ms: i64,
    expires_ms: i64,
    receive_count: i64,
    first_receive_ms: Option<i64>,
    last_receive_ms: Option<i64>,
}

#[derive(Default)]
struct Model {
    now: i64,
    next_arrival: u64,
    messages: Vec<ModelMessage>,
}

/// A handle as the model knows it: the message's arrival and the receive it came from.
#[derive(Debug, Clone, Copy)]
struct ModelHandle {
    arrival: u64,
    receive_count: i64,
}

impl Model {
    fn send(&mut self, dlq: bool, body: String, delay_s: i64) {
        self.next_arrival += 1;
        let retention = if dlq { DLQ_RETENTION_MS } else { RETENTION_MS };
        self.messages.push(ModelMessage {
            arrival: self.next_arrival,
            dlq,
            body,
            sent_ms: self.now,
            visible_ms: self.now + delay_s * 1000,
            expires_ms: self.now + retention,
            receive_count: 0,
            first_receive_ms: None,
            last_receive_ms: None,
        });
    }

    fn receive(
        &mut self,
        dlq: bool,
        max: i64,
        visibility_s: Option<i64>,
    ) -> Vec<(String, i64, i64, ModelHandle)> {
        let now = self.now;
        let mut candidates: Vec<usize> = (0..self.messages.len())
            .filter(|&i| self.messages[i].dlq == dlq && self.messages[i].visible_ms <= now)
            .collect();
        candidates.sort_by_key(|&i| (self.messages[i].visible_ms, self.messages[i].arrival));
        let chosen: Vec<u64> = candidates
            .iter()
            .map(|&i| self.messages[i].arrival)
            .collect();
        let mut out = Vec::new();
        for arrival in chosen {
            if out.len() as i64 == max {
                break;
            }
            let i = self
                .messages
                .iter()
                .position(|m| m.arrival == arrival)
                .unwrap();
            if self.messages[i].expires_ms <= now {
                self.messages.remove(i);
                continue;
            }
            if !dlq && self.messages[i].receive_count >= MAX_RECEIVE_COUNT {
                let m = self.messages.remove(i);
                if m.sent_ms + DLQ_RETENTION_MS > now {
                    self.next_arrival += 1;
                    self.messages.push(ModelMessage {
                        arrival: self.next_arrival,
                        dlq: true,
                        visible_ms: now,
                        expires_ms: m.sent_ms + DLQ_RETENTION_MS,
                        receive_count: 0,
                        first_receive_ms: None,
                        last_receive_ms: None,
                        ..m
                    });
                }
                continue;
            }
            let m = &mut self.messages[i];
            m.receive_count += 1;
            m.first_receive_ms.get_or_insert(now);
            m.last_receive_ms = Some(now);
            let default = if dlq {
                DLQ_VISIBILITY_MS
            } else {
                VISIBILITY_MS
            };
            m.visible_ms = now + visibility_s.map_or(default, |v| v * 1000);
            out.push((
                m.body.clone(),
                m.receive_count,
                m.first_receive_ms.unwrap(),
                ModelHandle {
                    arrival: m.arrival,
                    receive_count: m.receive_count,
                },
            ));
        }
        out
    }

    fn delete(&mut self, h: ModelHandle) {
        self.messages
            .retain(|m| !(m.arrival == h.arrival && m.receive_count == h.receive_count));
    }

    fn change_visibility(&mut self, h: ModelHandle, timeout_s: i64) -> Result<(), &'static str> {
        let now = self.now;
        let Some(m) = self
            .messages
            .iter_mut()
            .find(|m| m.arrival == h.arrival && m.expires_ms > now)
        else {
            return Err("ReceiptHandleIsInvalid");
        };
        if m.receive_count != h.receive_count {
            return Err("ReceiptHandleIsInvalid");
        }
        if m.visible_ms <= now {
            return Err("MessageNotInflight");
        }
        m.visible_ms = now + timeout_s * 1000;
        Ok(())
    }

    fn counts(&self, dlq: bool) -> [i64; 3] {
        let now = self.now;
        let live = self
            .messages
            .iter()
            .filter(|m| m.dlq == dlq && m.expires_ms > now);
        let mut c = [0; 3];
        for m in live {
            if m.visible_ms <= now {
                c[0] += 1;
            } else if m.receive_count > 0 {
                c[1] += 1;
            } else {
                c[2] += 1;
            }
        }
        c
    }
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    let e: Env = env();
    let dlq_url = e.create("dlq", &[("MessageRetentionPeriod", "120")]);
    let src_url = e.create(
        "src",
        &[
            ("VisibilityTimeout", "10"),
            ("MessageRetentionPeriod", "60"),
            (
                "RedrivePolicy",
                r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":2}"#,
            ),
        ],
    );
    let url = |dlq: bool| {
        if dlq {
            dlq_url.clone()
        } else {
            src_url.clone()
        }
    };
    let mut model = Model {
        now: T0,
        ..Model::default()
    };
    // Handles handed out so far, stale ones included: (queue, the service's, the model's).
    let mut handles: Vec<(bool, String, ModelHandle)> = Vec::new();
    for (step, op) in ops.iter().enumerate() {
        match *op {
            Op::Send { dlq, delay_s } => {
                let body = format!("m{step}");
                e.sqs
                    .send_message(SendMessage {
                        queue_url: url(dlq),
                        message_body: body.clone(),
                        delay_seconds: Some(delay_s),
                        ..SendMessage::default()
                    })
                    .unwrap();
                model.send(dlq, body, delay_s);
            }
            Op::Receive {
                dlq,
                max,
                visibility_s,
            } => {
                let got = e
                    .sqs
                    .receive_message(&ReceiveMessage {
                        queue_url: url(dlq),
                        max_number_of_messages: Some(max),
                        visibility_timeout: visibility_s,
                        wait_time_seconds: Some(0),
                        attribute_names: vec!["All".into()],
                        ..ReceiveMessage::default()
                    })
                    .unwrap()
                    .messages;
                let expected = model.receive(dlq, max, visibility_s);
                let seen: Vec<(String, i64, i64)> = got
                    .iter()
                    .map(|m| {
                        (
                            m.body.clone(),
                            m.attributes["ApproximateReceiveCount"].parse().unwrap(),
                            m.attributes["ApproximateFirstReceiveTimestamp"]
                                .parse()
                                .unwrap(),
                        )
                    })
                    .collect();
                let wanted: Vec<(String, i64, i64)> = expected
                    .iter()
                    .map(|(b, c, f, _)| (b.clone(), *c, *f))
                    .collect();
                prop_assert_eq!(seen, wanted, "step {}: {:?}", step, op);
                for (m, (_, _, _, h)) in got.into_iter().zip(expected) {
                    handles.push((dlq, m.receipt_handle, h));
                }
            }
            Op::Delete { handle } => {
                if let Some((dlq, h, mh)) = handles.get(handle).cloned() {
                    e.sqs.delete_message(&url(dlq), &h).unwrap();
                    model.delete(mh);
                }
            }
            Op::ChangeVisibility { handle, timeout_s } => {
                if let Some((dlq, h, mh)) = handles.get(handle).cloned() {
                    let got = e
                        .sqs
                        .change_message_visibility(&url(dlq), &h, timeout_s)
                        .map_err(|e| e.code());
                    prop_assert_eq!(got, model.change_visibility(mh, timeout_s), "step {}", step);
                }
            }
            Op::Advance { ms } => {
                e.advance_ms(ms);
                model.now += ms;
            }
            Op::Counts { dlq } => {
                prop_assert_eq!(e.counts(&url(dlq)), model.counts(dlq), "step {}", step);
            }
        }
    }
    for dlq in [false, true] {
        prop_assert_eq!(e.counts(&url(dlq)), model.counts(dlq), "final counts");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn service_matches_the_model(ops in prop::collection::vec(op(), 1..60)) {
        run(&ops)?;
    }
}
