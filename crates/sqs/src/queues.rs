//! Queue actions: CreateQueue, GetQueueUrl, ListQueues, DeleteQueue, PurgeQueue,
//! Get/SetQueueAttributes, TagQueue/UntagQueue/ListQueueTags, ListDeadLetterSourceQueues.

use std::collections::BTreeMap;

use rusqlite::Connection;

use crate::attributes::{self, Settings};
use crate::schema;
use crate::{name_from_url, validate, CreateQueue, ListQueues, ListQueuesResult, Sqs, SqsError};

/// PurgeQueue may run once per queue in this window (ms).
const PURGE_INTERVAL_MS: i64 = 60_000;

/// The most tags a queue may carry.
const MAX_TAGS: usize = 50;

fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), SqsError> {
    for (key, value) in tags {
        if key.is_empty() || key.chars().count() > 128 || key.to_lowercase().starts_with("aws:") {
            return Err(SqsError::InvalidParameterValue(format!(
                "Tag key `{key}` must be 1 to 128 characters and not start with aws:"
            )));
        }
        if value.chars().count() > 256 {
            return Err(SqsError::InvalidParameterValue(format!(
                "The value of tag `{key}` is longer than 256 characters"
            )));
        }
    }
    Ok(())
}

fn put_tags(
    conn: &Connection,
    queue_id: i64,
    tags: &BTreeMap<String, String>,
) -> Result<(), SqsError> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO sqs_queue_tags (queue_id, key, value) VALUES (?1, ?2, ?3)
         ON CONFLICT (queue_id, key) DO UPDATE SET value = excluded.value",
    )?;
    for (key, value) in tags {
        stmt.execute(rusqlite::params![queue_id, key, value])?;
    }
    let count: i64 = conn
        .prepare_cached("SELECT count(*) FROM sqs_queue_tags WHERE queue_id = ?1")?
        .query_row([queue_id], |r| r.get(0))?;
    if count as usize > MAX_TAGS {
        return Err(SqsError::InvalidParameterValue(format!(
            "A queue can have at most {MAX_TAGS} tags; this request would give it {count}"
        )));
    }
    Ok(())
}

/// The limit of a paged listing: 1 to 1,000, or 1,000 when not given.
fn max_results(given: Option<i64>) -> Result<usize, SqsError> {
    match given {
        None => Ok(1_000),
        Some(n @ 1..=1_000) => Ok(n as usize),
        Some(n) => Err(SqsError::InvalidParameterValue(format!(
            "Value {n} for parameter MaxResults is invalid. Reason: must be between 1 and 1000"
        ))),
    }
}

/// Pages sorted `names`: those after `next_token`, at most `limit`, and the token of the next page
/// (only when the caller asked for paging with `paged`).
fn page(
    names: Vec<String>,
    next_token: Option<&str>,
    limit: usize,
    paged: bool,
) -> (Vec<String>, Option<String>) {
    let mut rest: Vec<String> = names
        .into_iter()
        .filter(|n| next_token.is_none_or(|t| n.as_str() > t))
        .collect();
    let more = rest.len() > limit;
    rest.truncate(limit);
    let token = (paged && more).then(|| rest.last().cloned()).flatten();
    (rest, token)
}

impl Sqs {
    /// Checks that `settings`' dead-letter target exists, is another queue of this account and
    /// accepts `source` by its RedriveAllowPolicy.
    fn check_redrive(
        &self,
        conn: &Connection,
        source: &str,
        settings: &Settings,
    ) -> Result<(), SqsError> {
        let Some(redrive) = &settings.redrive else {
            return Ok(());
        };
        let invalid = |reason: &str| SqsError::InvalidAttributeValue {
            name: "RedrivePolicy".into(),
            reason: reason.into(),
        };
        if redrive.dead_letter_target_arn != self.queue_arn(&redrive.target_name) {
            return Err(invalid(
                "Dead letter target does not exist in this account and region",
            ));
        }
        if redrive.target_name == source {
            return Err(invalid("A queue cannot be its own dead letter queue"));
        }
        let target = schema::find_queue(conn, &redrive.target_name)?
            .ok_or_else(|| invalid("Dead letter target does not exist"))?;
        if !attributes::redrive_allowed(
            target.settings.redrive_allow_policy.as_deref(),
            &self.queue_arn(source),
        ) {
            return Err(invalid(
                "The dead letter queue's RedriveAllowPolicy does not allow this queue",
            ));
        }
        Ok(())
    }

    /// CreateQueue: creates the queue, or returns the URL of an existing queue of that name whose
    /// attributes match every attribute given (QueueAlreadyExists otherwise).
    pub fn create_queue(&self, base_url: &str, request: CreateQueue) -> Result<String, SqsError> {
        validate::queue_name(&request.queue_name)?;
        let mut settings = Settings::default();
        for (name, value) in &request.attributes {
            settings.set(name, value)?;
        }
        check_tags(&request.tags)?;
        let url = self.queue_url(base_url, &request.queue_name);
        let this = self.clone();
        let now = self.now();
        self.inner.store.write(move |conn| {
            let name = &request.queue_name;
            if let Some(existing) = schema::find_queue(conn, name)? {
                let wanted = settings.to_map();
                let have = existing.settings.to_map();
                let differs = request
                    .attributes
                    .keys()
                    .filter(|k| *k != "FifoQueue")
                    .any(|k| wanted.get(k) != have.get(k));
                return if differs {
                    Err(SqsError::QueueAlreadyExists(name.clone()))
                } else {
                    Ok(())
                };
            }
            this.check_redrive(conn, name, &settings)?;
            let id = schema::insert_queue(conn, name, &settings, now)?;
            put_tags(conn, id, &request.tags)
        })?;
        Ok(url)
    }

    /// GetQueueUrl.
    pub fn get_queue_url(&self, base_url: &str, queue_name: &str) -> Result<String, SqsError> {
        let name = queue_name.to_owned();
        self.inner
            .store
            .read(|conn| schema::queue(conn, &name, &name).map(|_| ()))?;
        Ok(self.queue_url(base_url, queue_name))
    }

    /// ListQueues: queue URLs sorted by name, filtered by prefix, paged when `max_results` is given.
    pub fn list_queues(
        &self,
        base_url: &str,
        request: &ListQueues,
    ) -> Result<ListQueuesResult, SqsError> {
        let limit = max_results(request.max_results)?;
        let prefix = request.queue_name_prefix.clone().unwrap_or_default();
        let names: Vec<String> = self.inner.store.read(|conn| -> Result<_, SqsError> {
            let mut stmt = conn.prepare_cached("SELECT name FROM sqs_queues ORDER BY name")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            let mut names = Vec::new();
            for name in rows {
                let name = name?;
                if name.starts_with(&prefix) {
                    names.push(name);
                }
            }
            Ok(names)
        })?;
        let (names, next_token) = page(
            names,
            request.next_token.as_deref(),
            limit,
            request.max_results.is_some(),
        );
        Ok(ListQueuesResult {
            queue_urls: names.iter().map(|n| self.queue_url(base_url, n)).collect(),
            next_token,
        })
    }

    /// DeleteQueue: the queue and all its messages and tags.
    pub fn delete_queue(&self, queue_url: &str) -> Result<(), SqsError> {
        let name = name_from_url(queue_url)?.to_owned();
        let shown = queue_url.to_owned();
        let deleted = name.clone();
        self.inner.store.write(move |conn| {
            let queue = schema::queue(conn, &name, &shown)?;
            conn.prepare_cached("DELETE FROM sqs_messages WHERE queue_id = ?1")?
                .execute([queue.id])?;
            conn.prepare_cached("DELETE FROM sqs_queues WHERE id = ?1")?
                .execute([queue.id])?;
            Ok::<_, SqsError>(())
        })?;
        // Waiting long polls wake up and find the queue gone.
        let signal = self
            .inner
            .signals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&deleted);
        if let Some(signal) = signal {
            signal.notify();
        }
        self.inner.activity.remove(&deleted);
        Ok(())
    }

    /// PurgeQueue: deletes every message; at most once per 60 s per queue.
    pub fn purge_queue(&self, queue_url: &str) -> Result<(), SqsError> {
        let name = name_from_url(queue_url)?.to_owned();
        let shown = queue_url.to_owned();
        let now = self.now();
        self.inner.store.write(move |conn| {
            let queue = schema::queue(conn, &name, &shown)?;
            if queue
                .purged_ms
                .is_some_and(|at| now - at < PURGE_INTERVAL_MS)
            {
                return Err(SqsError::PurgeQueueInProgress(name));
            }
            conn.prepare_cached("DELETE FROM sqs_messages WHERE queue_id = ?1")?
                .execute([queue.id])?;
            conn.prepare_cached("UPDATE sqs_queues SET purged_ms = ?2 WHERE id = ?1")?
                .execute([queue.id, now])?;
            Ok(())
        })
    }

    /// Makes every in-flight message of a queue visible now, keeping its receive count; returns
    /// how many. Not an SQS action: it is for a consumer known to be gone. When `cascade up`
    /// starts again after it was killed, the messages its function pollers held have no consumer
    /// left (the instances died with the engine), so waiting out their visibility timeout would
    /// only stall the run; the receive still counts toward maxReceiveCount, as on AWS.
    pub fn release_in_flight(&self, queue_url: &str) -> Result<u64, SqsError> {
        let name = name_from_url(queue_url)?.to_owned();
        let shown = queue_url.to_owned();
        let now = self.now();
        let released = self.inner.store.write(move |conn| {
            let queue = schema::queue(conn, &name, &shown)?;
            let released = conn
                .prepare_cached(
                    "UPDATE sqs_messages SET visible_ms = ?2 \
                     WHERE queue_id = ?1 AND visible_ms > ?2 AND receive_count > 0 AND expires_ms > ?2",
                )?
                .execute([queue.id, now])?;
            Ok::<_, SqsError>(released as u64)
        })?;
        if released > 0 {
            self.notify(name_from_url(queue_url)?);
        }
        Ok(released)
    }

    /// Whether the queue holds any message, visible, delayed or in flight (expired ones aside).
    /// Not an SQS action: it answers "is this queue drained?" by reading the front of the
    /// queue's index, where counting its messages (GetQueueAttributes) reads all of them.
    pub fn holds_messages(&self, queue_url: &str) -> Result<bool, SqsError> {
        let name = name_from_url(queue_url)?;
        let now = self.now();
        self.inner.store.read(|conn| -> Result<bool, SqsError> {
            let id = schema::queue_id(conn, name, queue_url)?;
            Ok(conn
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM sqs_messages \
                     WHERE queue_id = ?1 AND expires_ms > ?2)",
                )?
                .query_row([id, now], |r| r.get(0))?)
        })
    }

    /// GetQueueAttributes: the named attributes (`All` for every one), computed ones included.
    pub fn get_queue_attributes(
        &self,
        queue_url: &str,
        attribute_names: &[String],
    ) -> Result<BTreeMap<String, String>, SqsError> {
        let (all, names) = attributes::requested_names(attribute_names)?;
        let name = name_from_url(queue_url)?;
        let now = self.now();
        let (queue, counts) = self.inner.store.read(|conn| -> Result<_, SqsError> {
            let queue = schema::queue(conn, name, queue_url)?;
            let counts = message_counts(conn, queue.id, now)?;
            Ok((queue, counts))
        })?;
        let mut every = queue.settings.to_map();
        let [visible, in_flight, delayed] = counts;
        every.insert("ApproximateNumberOfMessages".into(), visible.to_string());
        every.insert(
            "ApproximateNumberOfMessagesNotVisible".into(),
            in_flight.to_string(),
        );
        every.insert(
            "ApproximateNumberOfMessagesDelayed".into(),
            delayed.to_string(),
        );
        every.insert(
            "CreatedTimestamp".into(),
            (queue.created_ms / 1000).to_string(),
        );
        every.insert(
            "LastModifiedTimestamp".into(),
            (queue.modified_ms / 1000).to_string(),
        );
        every.insert("QueueArn".into(), self.queue_arn(&queue.name));
        if all {
            return Ok(every);
        }
        Ok(names
            .into_iter()
            .filter_map(|n| every.get(&n).map(|v| (n, v.clone())))
            .collect())
    }

    /// SetQueueAttributes: validates every attribute, then applies them all or none.
    pub fn set_queue_attributes(
        &self,
        queue_url: &str,
        attributes: BTreeMap<String, String>,
    ) -> Result<(), SqsError> {
        let name = name_from_url(queue_url)?.to_owned();
        let shown = queue_url.to_owned();
        let now = self.now();
        let this = self.clone();
        self.inner.store.write(move |conn| {
            let queue = schema::queue(conn, &name, &shown)?;
            let mut settings = queue.settings.clone();
            for (key, value) in &attributes {
                if key == "FifoQueue" {
                    // Whether a queue is FIFO is fixed at creation.
                    return Err(SqsError::InvalidAttributeName(key.clone()));
                }
                settings.set(key, value)?;
            }
            if attributes.contains_key("RedrivePolicy") {
                this.check_redrive(conn, &name, &settings)?;
            }
            schema::update_settings(conn, queue.id, &settings, now)
        })?;
        // A shorter delay or visibility timeout never makes a message visible by itself, but a
        // waiter's wake-up time may have been computed from the old settings.
        self.notify(name_from_url(queue_url)?);
        Ok(())
    }

    /// TagQueue: adds or replaces tags.
    pub fn tag_queue(
        &self,
        queue_url: &str,
        tags: BTreeMap<String, String>,
    ) -> Result<(), SqsError> {
        check_tags(&tags)?;
        let name = name_from_url(queue_url)?.to_owned();
        let shown = queue_url.to_owned();
        self.inner.store.write(move |conn| {
            let queue = schema::queue(conn, &name, &shown)?;
            put_tags(conn, queue.id, &tags)
        })
    }

    /// UntagQueue: removes the tags with these keys (absent keys are ignored).
    pub fn untag_queue(&self, queue_url: &str, tag_keys: Vec<String>) -> Result<(), SqsError> {
        let name = name_from_url(queue_url)?.to_owned();
        let shown = queue_url.to_owned();
        self.inner.store.write(move |conn| {
            let queue = schema::queue(conn, &name, &shown)?;
            let mut stmt =
                conn.prepare_cached("DELETE FROM sqs_queue_tags WHERE queue_id = ?1 AND key = ?2")?;
            for key in &tag_keys {
                stmt.execute(rusqlite::params![queue.id, key])?;
            }
            Ok(())
        })
    }

    /// ListQueueTags.
    pub fn list_queue_tags(&self, queue_url: &str) -> Result<BTreeMap<String, String>, SqsError> {
        let name = name_from_url(queue_url)?;
        self.inner.store.read(|conn| {
            let queue = schema::queue(conn, name, queue_url)?;
            let mut stmt =
                conn.prepare_cached("SELECT key, value FROM sqs_queue_tags WHERE queue_id = ?1")?;
            let rows = stmt.query_map([queue.id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// ListDeadLetterSourceQueues: the URLs of the queues whose RedrivePolicy targets this queue.
    pub fn list_dead_letter_source_queues(
        &self,
        base_url: &str,
        queue_url: &str,
        max_results: Option<i64>,
        next_token: Option<&str>,
    ) -> Result<ListQueuesResult, SqsError> {
        let limit = self::max_results(max_results)?;
        let name = name_from_url(queue_url)?;
        let names = self
            .inner
            .store
            .read(|conn| -> Result<Vec<String>, SqsError> {
                schema::queue(conn, name, queue_url)?;
                let mut stmt = conn.prepare_cached(
                    "SELECT name FROM sqs_queues WHERE dead_letter_target_name = ?1 ORDER BY name",
                )?;
                let rows = stmt.query_map([name], |r| r.get(0))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })?;
        let (names, next_token) = page(names, next_token, limit, max_results.is_some());
        Ok(ListQueuesResult {
            queue_urls: names.iter().map(|n| self.queue_url(base_url, n)).collect(),
            next_token,
        })
    }
}

/// `[visible, in flight, delayed]` message counts of a queue at `now`, expired messages excluded.
pub(crate) fn message_counts(
    conn: &Connection,
    queue_id: i64,
    now: i64,
) -> Result<[i64; 3], SqsError> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FILTER (WHERE visible_ms <= ?2),
                    count(*) FILTER (WHERE visible_ms > ?2 AND receive_count > 0),
                    count(*) FILTER (WHERE visible_ms > ?2 AND receive_count = 0)
             FROM sqs_messages WHERE queue_id = ?1 AND expires_ms > ?2",
        )?
        .query_row([queue_id, now], |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?]))?)
}
