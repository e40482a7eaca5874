//! Topics and subscriptions: CreateTopic, ListTopics, Subscribe, Unsubscribe, ListSubscriptions,
//! and syncing the deployed set.

use rusqlite::{params, Connection, OptionalExtension};

use crate::spec::{SubscriptionSpec, TopicSpec};
use crate::{Sns, SnsError};

/// The protocols AWS accepts; `http`, `https` and `sqs` are delivered locally.
const PROTOCOLS: &[&str] = &[
    "http",
    "https",
    "sqs",
    "email",
    "email-json",
    "sms",
    "lambda",
    "application",
    "firehose",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    pub arn: String,
    pub name: String,
    pub display_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub arn: String,
    pub topic_arn: String,
    pub protocol: String,
    pub endpoint: String,
    pub raw_message_delivery: bool,
}

fn check_topic_name(name: &str) -> Result<(), SnsError> {
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    if base.is_empty()
        || name.len() > 256
        || !base
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(SnsError::InvalidParameter(format!(
            "Topic Name `{name}`: topic names must be made up of only uppercase and lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters long."
        )));
    }
    Ok(())
}

fn check_subscription(protocol: &str, endpoint: &str) -> Result<(), SnsError> {
    if !PROTOCOLS.contains(&protocol) {
        return Err(SnsError::InvalidParameter(format!(
            "Invalid protocol type: {protocol}"
        )));
    }
    let ok = match protocol {
        "http" => endpoint.starts_with("http://"),
        "https" => endpoint.starts_with("https://"),
        "sqs" => endpoint.starts_with("arn:") && endpoint.split(':').nth(2) == Some("sqs"),
        _ => !endpoint.is_empty(),
    };
    if !ok {
        return Err(SnsError::InvalidParameter(format!(
            "Invalid parameter: Endpoint `{endpoint}` is not a valid {protocol} endpoint"
        )));
    }
    Ok(())
}

pub(crate) fn topic_exists(conn: &Connection, arn: &str) -> Result<bool, SnsError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM sns_topics WHERE arn = ?1")?
        .query_row([arn], |_| Ok(()))
        .optional()?
        .is_some())
}

pub(crate) fn subscriptions_of(
    conn: &Connection,
    topic_arn: Option<&str>,
) -> Result<Vec<Subscription>, SnsError> {
    let mut stmt = conn.prepare_cached(
        "SELECT arn, topic_arn, protocol, endpoint, raw FROM sns_subscriptions WHERE (?1 IS NULL OR topic_arn = ?1) ORDER BY created_ms, arn",
    )?;
    let subs = stmt
        .query_map([topic_arn], |r| {
            Ok(Subscription {
                arn: r.get(0)?,
                topic_arn: r.get(1)?,
                protocol: r.get(2)?,
                endpoint: r.get(3)?,
                raw_message_delivery: r.get::<_, i64>(4)? != 0,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(subs)
}

fn insert_subscription(
    conn: &Connection,
    topic_arn: &str,
    protocol: &str,
    endpoint: &str,
    raw: bool,
    owner: &str,
    now: i64,
) -> Result<String, SnsError> {
    // Subscribing the same endpoint twice gives the existing subscription, as on AWS.
    let existing: Option<String> = conn
        .prepare_cached(
            "SELECT arn FROM sns_subscriptions WHERE topic_arn = ?1 AND protocol = ?2 AND endpoint = ?3",
        )?
        .query_row(params![topic_arn, protocol, endpoint], |r| r.get(0))
        .optional()?;
    if let Some(arn) = existing {
        conn.prepare_cached("UPDATE sns_subscriptions SET raw = ?2 WHERE arn = ?1")?
            .execute(params![arn, raw])?;
        return Ok(arn);
    }
    let arn = format!("{topic_arn}:{}", uuid::Uuid::new_v4());
    conn.prepare_cached(
        "INSERT INTO sns_subscriptions (arn, topic_arn, protocol, endpoint, raw, owner, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![arn, topic_arn, protocol, endpoint, raw, owner, now])?;
    Ok(arn)
}

impl Sns {
    /// CreateTopic: the topic's ARN; creating an existing topic returns it unchanged.
    pub fn create_topic(&self, name: &str) -> Result<String, SnsError> {
        check_topic_name(name)?;
        let arn = self.topic_arn(name);
        let now = self.now();
        let name = name.to_owned();
        let arn2 = arn.clone();
        self.store().write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO sns_topics (arn, name, display_name, owner, created_ms) VALUES (?1, ?2, NULL, 'api', ?3) ON CONFLICT (arn) DO NOTHING",
            )?
            .execute(params![arn2, name, now])?;
            Ok::<_, SnsError>(())
        })?;
        Ok(arn)
    }

    /// ListTopics, sorted by ARN.
    pub fn list_topics(&self) -> Result<Vec<Topic>, SnsError> {
        self.store().read(|conn| {
            let mut stmt =
                conn.prepare_cached("SELECT arn, name, display_name FROM sns_topics ORDER BY arn")?;
            let topics = stmt
                .query_map([], |r| {
                    Ok(Topic {
                        arn: r.get(0)?,
                        name: r.get(1)?,
                        display_name: r.get(2)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(topics)
        })
    }

    /// Subscribe: confirmed at once (no SubscriptionConfirmation is sent locally).
    pub fn subscribe(
        &self,
        topic_arn: &str,
        protocol: &str,
        endpoint: &str,
        raw_message_delivery: bool,
    ) -> Result<String, SnsError> {
        check_subscription(protocol, endpoint)?;
        let now = self.now();
        let (topic_arn, protocol, endpoint) = (
            topic_arn.to_owned(),
            protocol.to_owned(),
            endpoint.to_owned(),
        );
        self.store().write(move |conn| {
            if !topic_exists(conn, &topic_arn)? {
                return Err(SnsError::NotFound("Topic does not exist".into()));
            }
            insert_subscription(
                conn,
                &topic_arn,
                &protocol,
                &endpoint,
                raw_message_delivery,
                "api",
                now,
            )
        })
    }

    /// Unsubscribe.
    pub fn unsubscribe(&self, subscription_arn: &str) -> Result<(), SnsError> {
        let arn = subscription_arn.to_owned();
        self.store().write(move |conn| {
            let n = conn
                .prepare_cached("DELETE FROM sns_subscriptions WHERE arn = ?1")?
                .execute([&arn])?;
            if n == 0 {
                return Err(SnsError::NotFound("Subscription does not exist".into()));
            }
            Ok(())
        })
    }

    /// ListSubscriptions (all topics) or ListSubscriptionsByTopic.
    pub fn list_subscriptions(
        &self,
        topic_arn: Option<&str>,
    ) -> Result<Vec<Subscription>, SnsError> {
        if let Some(arn) = topic_arn {
            if !self.store().read(|conn| topic_exists(conn, arn))? {
                return Err(SnsError::NotFound("Topic does not exist".into()));
            }
        }
        self.store().read(|conn| subscriptions_of(conn, topic_arn))
    }

    /// Makes the template-owned topics and subscriptions exactly the deployed set: the topics'
    /// inline `Subscription` lists and the `AWS::SNS::Subscription` resources. Topics and
    /// subscriptions made through the API are kept.
    pub fn sync_deployed(
        &self,
        topics: &[TopicSpec],
        subscriptions: &[SubscriptionSpec],
    ) -> Result<(), SnsError> {
        for topic in topics {
            check_topic_name(&topic.name)?;
        }
        let mut all: Vec<SubscriptionSpec> = topics
            .iter()
            .flat_map(|t| t.subscriptions.iter().cloned())
            .collect();
        all.extend(subscriptions.iter().cloned());
        for s in &all {
            check_subscription(&s.protocol, &s.endpoint)?;
        }
        let topics = topics.to_vec();
        let now = self.now();
        self.store().write(move |conn| {
            conn.execute("DELETE FROM sns_topics WHERE owner = 'template'", [])?;
            conn.execute("DELETE FROM sns_subscriptions WHERE owner = 'template'", [])?;
            for t in &topics {
                conn.prepare_cached(
                    "INSERT INTO sns_topics (arn, name, display_name, owner, created_ms) VALUES (?1, ?2, ?3, 'template', ?4)
                     ON CONFLICT (arn) DO UPDATE SET display_name = excluded.display_name, owner = 'template'",
                )?
                .execute(params![t.arn, t.name, t.display_name, now])?;
            }
            for s in &all {
                if !topic_exists(conn, &s.topic_arn)? {
                    return Err(SnsError::NotFound(format!(
                        "Topic `{}` of a subscription does not exist",
                        s.topic_arn
                    )));
                }
                insert_subscription(
                    conn,
                    &s.topic_arn,
                    &s.protocol,
                    &s.endpoint,
                    s.raw_message_delivery,
                    "template",
                    now,
                )?;
            }
            Ok(())
        })
    }
}
