//! The SNS tables (migrations of the component `sns`).
//!
//! `owner` says where a topic or subscription comes from: `template` ones are replaced when the
//! deployed set is synced ([`crate::Sns::sync_deployed`]), `api` ones (CreateTopic, Subscribe)
//! are left alone. `sns_deliveries` is the outbox: one row per message and subscription,
//! `state` pending until delivered or out of attempts.

pub const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE sns_topics (
    arn TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    display_name TEXT,
    owner TEXT NOT NULL,
    created_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE sns_subscriptions (
    arn TEXT PRIMARY KEY,
    topic_arn TEXT NOT NULL,
    protocol TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    raw INTEGER NOT NULL,
    owner TEXT NOT NULL,
    created_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX sns_subscriptions_topic ON sns_subscriptions (topic_arn);

CREATE TABLE sns_deliveries (
    id INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL,
    topic_arn TEXT NOT NULL,
    subscription_arn TEXT NOT NULL,
    protocol TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_ms INTEGER NOT NULL,
    last_error TEXT,
    created_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX sns_deliveries_due ON sns_deliveries (state, next_ms);
"#];
