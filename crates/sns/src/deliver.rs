//! The outbox: delivering accepted messages to their subscriptions.
//!
//! `sqs` rows are sent through the `sqs` engine as soon as they are written
//! ([`Sns::deliver_local`]). `http` rows are POSTed by [`Sns::deliver_due`] with AWS's headers;
//! a failed attempt (connection refused, timeout, a status other than 2xx) is retried after the
//! configured delay on the clock until the retries run out, when the row is marked `failed`.
//! `https` endpoints need TLS, which the local engine does not speak: they fail at once, with the
//! reason stored. Other protocols (email, sms, lambda...) are not delivered locally; their rows
//! are marked `skipped` and the message still reaches the terminal sinks.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use rusqlite::params;

use crate::{Sns, SnsError};

/// One outbox row, as [`Sns::deliveries`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub message_id: String,
    pub topic_arn: String,
    pub subscription_arn: String,
    pub protocol: String,
    pub endpoint: String,
    /// `pending`, `delivered`, `failed` or `skipped`.
    pub state: String,
    pub attempts: i64,
    pub next_ms: i64,
    pub last_error: Option<String>,
}

/// What one [`Sns::deliver_due`] pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryOutcome {
    pub delivered: usize,
    pub retrying: usize,
    pub failed: usize,
}

struct Due {
    id: i64,
    record: DeliveryRecord,
    body: String,
}

impl Sns {
    fn due(&self, now: i64, protocols: &'static str) -> Result<Vec<Due>, SnsError> {
        self.store().read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, message_id, topic_arn, subscription_arn, protocol, endpoint, state, attempts, next_ms, last_error, body
                 FROM sns_deliveries WHERE state = 'pending' AND next_ms <= ?1 AND instr(?2, ' ' || protocol || ' ') > 0 ORDER BY id",
            )?;
            let rows = stmt
                .query_map(params![now, protocols], |r| {
                    Ok(Due {
                        id: r.get(0)?,
                        record: DeliveryRecord {
                            message_id: r.get(1)?,
                            topic_arn: r.get(2)?,
                            subscription_arn: r.get(3)?,
                            protocol: r.get(4)?,
                            endpoint: r.get(5)?,
                            state: r.get(6)?,
                            attempts: r.get(7)?,
                            next_ms: r.get(8)?,
                            last_error: r.get(9)?,
                        },
                        body: r.get(10)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    /// Records the result of an attempt: delivered, retry later, or out of attempts.
    fn settle(
        &self,
        id: i64,
        attempts: i64,
        error: Option<String>,
        retry: bool,
    ) -> Result<&'static str, SnsError> {
        let now = self.now();
        let config = self.config();
        let (state, next) = match &error {
            None => ("delivered", now),
            Some(_) if retry && attempts <= config.http_retries => {
                ("pending", now + config.http_retry_delay_ms)
            }
            Some(_) => ("failed", now),
        };
        self.store().write(move |conn| {
            conn.prepare_cached(
                "UPDATE sns_deliveries SET state = ?2, attempts = ?3, next_ms = ?4, last_error = ?5 WHERE id = ?1",
            )?
            .execute(params![id, state, attempts, next, error])?;
            Ok::<_, SnsError>(())
        })?;
        Ok(state)
    }

    /// Delivers the pending rows that need no network: `sqs` ones through the engine, and marks
    /// the protocols not delivered locally as `skipped`. Publish calls it for its own message.
    pub(crate) fn deliver_local(&self, message_id: &str) -> Result<(), SnsError> {
        let now = self.now();
        for due in self.due(
            now,
            " sqs email email-json sms lambda application firehose ",
        )? {
            if due.record.message_id != message_id {
                continue;
            }
            let attempts = due.record.attempts + 1;
            if due.record.protocol != "sqs" {
                let id = due.id;
                let protocol = due.record.protocol.clone();
                self.store().write(move |conn| {
                    conn.prepare_cached(
                        "UPDATE sns_deliveries SET state = 'skipped', last_error = ?2 WHERE id = ?1",
                    )?
                    .execute(params![id, format!("the {protocol} protocol is not delivered by the local engine")])?;
                    Ok::<_, SnsError>(())
                })?;
                continue;
            }
            let error = self.send_to_queue(&due.record.endpoint, &due.body).err();
            if let Some(e) = &error {
                tracing::warn!(subscription = %due.record.subscription_arn, queue = %due.record.endpoint, error = %e, "SNS delivery to SQS failed");
            }
            self.settle(due.id, attempts, error, false)?;
        }
        Ok(())
    }

    fn send_to_queue(&self, queue_arn: &str, body: &str) -> Result<(), String> {
        let Some(sqs) = &self.inner.sqs else {
            return Err("no SQS engine is attached to the SNS engine".into());
        };
        let name = queue_arn.rsplit(':').next().unwrap_or(queue_arn);
        sqs.send_message(sqs::SendMessage {
            queue_url: sqs.queue_url("http://localhost", name),
            message_body: body.to_owned(),
            ..Default::default()
        })
        .map(|_| ())
        .map_err(|e| e.to_string())
    }

    /// Delivers every pending `http`/`https` row that is due on the clock: one POST each, with
    /// AWS's headers; failures are retried later (see the module header).
    pub async fn deliver_due(&self) -> Result<DeliveryOutcome, SnsError> {
        let this = self.clone();
        let now = self.now();
        let due = blocking(move || this.due(now, " http https ")).await?;
        let mut outcome = DeliveryOutcome::default();
        for due in due {
            let attempts = due.record.attempts + 1;
            let (error, retry) = if due.record.protocol == "https" {
                (
                    Some("https endpoints need TLS, which the local engine does not speak; subscribe an http endpoint".to_owned()),
                    false,
                )
            } else {
                (self.post(&due).await.err(), true)
            };
            if let Some(e) = &error {
                tracing::warn!(subscription = %due.record.subscription_arn, endpoint = %due.record.endpoint, attempt = attempts, error = %e, "SNS delivery failed");
            }
            let this = self.clone();
            let state = blocking(move || this.settle(due.id, attempts, error, retry)).await?;
            match state {
                "delivered" => outcome.delivered += 1,
                "pending" => outcome.retrying += 1,
                _ => outcome.failed += 1,
            }
        }
        Ok(outcome)
    }

    async fn post(&self, due: &Due) -> Result<(), String> {
        let uri: hyper::Uri = due
            .record
            .endpoint
            .parse()
            .map_err(|e| format!("the endpoint is not a valid URL: {e}"))?;
        let host = uri.host().ok_or("the endpoint has no host")?.to_owned();
        let port = uri.port_u16().unwrap_or(80);
        let authority = uri
            .authority()
            .map(|a| a.to_string())
            .unwrap_or_else(|| host.clone());
        let path = uri
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_else(|| "/".into());
        // Only notifications are sent: subscriptions are confirmed without a confirmation message.
        let message_type = "Notification";
        let request = Request::post(path)
            .header("host", authority)
            .header("content-type", "text/plain; charset=UTF-8")
            .header("user-agent", "Amazon Simple Notification Service Agent")
            .header("x-amz-sns-message-type", message_type)
            .header("x-amz-sns-message-id", &due.record.message_id)
            .header("x-amz-sns-topic-arn", &due.record.topic_arn)
            .header("x-amz-sns-subscription-arn", &due.record.subscription_arn)
            .body(Full::new(Bytes::from(due.body.clone())))
            .map_err(|e| e.to_string())?;
        let attempt = async {
            let stream = tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port))
                .await
                .map_err(|e| format!("connect: {e}"))?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .map_err(|e| format!("handshake: {e}"))?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| format!("request: {e}"))?;
            let status = response.status();
            // The body is read so that the endpoint sees its answer consumed, then dropped.
            let _ = response.into_body().collect().await;
            if status.is_success() {
                Ok(())
            } else {
                Err(format!("the endpoint answered HTTP {status}"))
            }
        };
        match tokio::time::timeout(
            Duration::from_millis(self.config().http_timeout_ms),
            attempt,
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err("the endpoint did not answer in time".into()),
        }
    }

    /// The outbox rows of `message_id` (all messages when `None`), oldest first.
    pub fn deliveries(&self, message_id: Option<&str>) -> Result<Vec<DeliveryRecord>, SnsError> {
        self.store().read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT message_id, topic_arn, subscription_arn, protocol, endpoint, state, attempts, next_ms, last_error
                 FROM sns_deliveries WHERE (?1 IS NULL OR message_id = ?1) ORDER BY id",
            )?;
            let rows = stmt
                .query_map([message_id], |r| {
                    Ok(DeliveryRecord {
                        message_id: r.get(0)?,
                        topic_arn: r.get(1)?,
                        subscription_arn: r.get(2)?,
                        protocol: r.get(3)?,
                        endpoint: r.get(4)?,
                        state: r.get(5)?,
                        attempts: r.get(6)?,
                        next_ms: r.get(7)?,
                        last_error: r.get(8)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SnsError> + Send + 'static,
) -> Result<T, SnsError> {
    store::blocking(f).await.map_err(|_| {
        SnsError::Store(store::StoreError::CommitFailed(
            "a delivery task panicked".to_owned(),
        ))
    })?
}
