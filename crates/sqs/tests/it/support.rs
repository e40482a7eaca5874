//! The check helpers every test uses: an environment on a temporary store with a virtual clock.

use std::collections::BTreeMap;
use std::sync::Arc;

use sqs::{Config, Message, ReceiveMessage, SendMessage, Sqs, SqsError};
use store::{ManualClock, Options, Store};

pub const BASE: &str = "http://localhost:4566";
/// Virtual time starts at 2023-11-14T22:13:20Z.
pub const T0: i64 = 1_700_000_000_000;

pub struct Env {
    pub dir: tempfile::TempDir,
    pub clock: Arc<ManualClock>,
    pub sqs: Sqs,
}

pub fn env() -> Env {
    env_with(Config::default())
}

pub fn env_with(config: Config) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("state.db"), Options::default()).unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let sqs = Sqs::new(store, clock.clone(), config).unwrap();
    Env { dir, clock, sqs }
}

/// `code: message` of an error, for assertions that name both.
pub fn describe(e: &SqsError) -> String {
    format!("{}: {e}", e.code())
}

impl Env {
    pub fn create(&self, name: &str, attributes: &[(&str, &str)]) -> String {
        self.try_create(name, attributes).unwrap()
    }

    pub fn try_create(&self, name: &str, attributes: &[(&str, &str)]) -> Result<String, SqsError> {
        self.sqs.create_queue(
            BASE,
            sqs::CreateQueue {
                queue_name: name.into(),
                attributes: attributes
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                tags: BTreeMap::new(),
            },
        )
    }

    pub fn send(&self, url: &str, body: &str) -> String {
        self.sqs
            .send_message(SendMessage {
                queue_url: url.into(),
                message_body: body.into(),
                ..SendMessage::default()
            })
            .unwrap()
            .message_id
    }

    pub fn send_delayed(&self, url: &str, body: &str, delay: i64) {
        self.sqs
            .send_message(SendMessage {
                queue_url: url.into(),
                message_body: body.into(),
                delay_seconds: Some(delay),
                ..SendMessage::default()
            })
            .unwrap();
    }

    /// A non-waiting receive of up to `max` messages with every system attribute.
    pub fn receive(&self, url: &str, max: i64) -> Vec<Message> {
        self.sqs
            .receive_message(&ReceiveMessage {
                queue_url: url.into(),
                max_number_of_messages: Some(max),
                wait_time_seconds: Some(0),
                attribute_names: vec!["All".into()],
                message_attribute_names: vec!["All".into()],
                ..ReceiveMessage::default()
            })
            .unwrap()
            .messages
    }

    /// The bodies a non-waiting receive of up to 10 returns.
    pub fn bodies(&self, url: &str) -> Vec<String> {
        self.receive(url, 10).into_iter().map(|m| m.body).collect()
    }

    pub fn advance_ms(&self, ms: i64) {
        self.clock.advance_millis(ms);
    }

    pub fn attribute(&self, url: &str, name: &str) -> String {
        self.sqs
            .get_queue_attributes(url, &[name.to_owned()])
            .unwrap()
            .remove(name)
            .unwrap_or_else(|| panic!("no attribute {name}"))
    }

    /// `[visible, not visible, delayed]` counts as GetQueueAttributes reports them.
    pub fn counts(&self, url: &str) -> [i64; 3] {
        let a = self
            .sqs
            .get_queue_attributes(url, &["All".to_owned()])
            .unwrap();
        [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ]
        .map(|n| a[n].parse().unwrap())
    }
}

impl Env {
    pub fn clock_now(&self) -> i64 {
        use store::Clock;
        self.clock.now_millis()
    }
}
