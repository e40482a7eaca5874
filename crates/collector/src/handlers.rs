//! The three stage handlers, plain async functions over real Lambda event structs.
//!
//! - [`handle_schedule`] (branch collector, scheduled): fetches the branches (all, or those the
//!   event names), upserts them and sends one [`BranchMessage`] per branch. An error fails the
//!   invocation, so Lambda retries it and then hands it to the function's dead-letter queue.
//! - [`handle_branch_batch`] (salesperson collector, employee queue): per message, fetches the
//!   branch's employees, keeps the salespersons, upserts them and sends one
//!   [`SalespersonMessage`] each.
//! - [`handle_salesperson_batch`] (sale collector, sale queue): per message, fetches the
//!   salesperson's sales, keeps those of the run's window, upserts them.
//!
//! The queue handlers work on the messages of a batch concurrently and answer with
//! ReportBatchItemFailures: only the failed messages' ids, so SQS redelivers just those and the
//! queue's redrive policy moves one that keeps failing to its dead-letter queue. A message's
//! rejected records are counted only when the message completes, so a retried message is not
//! counted twice.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures_util::future::join_all;
use serde::Serialize;
use serde_json::Value;

use crate::config::Stage;
use crate::message::{BranchMessage, MessageError, SalespersonMessage};
use crate::queue::QueueError;
use crate::records::{BranchRecord, EmployeeRecord, SaleRecord};
use crate::table::TableError;
use crate::telemetry::Tally;
use crate::time::{last_modified, parse_window_end, to_utc, window_end};
use crate::vendor::VendorError;
use crate::Context;

/// Why a scheduled run or a message failed.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    Vendor(#[from] VendorError),
    #[error(transparent)]
    Table(#[from] TableError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Message(#[from] MessageError),
    #[error("the scheduled event's detail is not understood: {0}")]
    BadDetail(String),
    #[error("the message has no body")]
    NoBody,
    #[error("the message's `window_end` is not an RFC 3339 time: `{0}`")]
    BadWindowEnd(String),
    #[error("this collector has no target queue (TARGET_QUEUE_URL)")]
    NoQueue,
}

/// What a scheduled run started: the Lambda response of the branch collector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunStarted {
    pub run_id: String,
    pub window_end: String,
    pub branches: u64,
    pub written: u64,
    pub unchanged: u64,
    pub rejected: u64,
    pub sent: u64,
}

/// The branch collector's event: an EventBridge scheduled event, or any part of one. A test
/// invoke with `{}` starts a full run, and `{"detail": {"branches": ["Scranton"]}}` a run of
/// the branches it names; EventBridge's other fields are not needed, so they are not required.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ScheduleEvent {
    /// The event's id: the run id when neither the detail nor `RUN_ID` gives one.
    pub id: Option<String>,
    /// When the schedule fired: the end of the sales window unless the detail gives one.
    pub time: Option<chrono::DateTime<chrono::Utc>>,
    /// A [`ScheduleDetail`]; a plain schedule sends `{}`.
    pub detail: Value,
}

/// What a scheduled event's `detail` may carry (a plain schedule sends `{}`).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct ScheduleDetail {
    /// Branch names to collect; empty means all.
    branches: Vec<String>,
    run_id: Option<String>,
    /// The end of the sales window (RFC 3339); defaults to the event's time.
    window_end: Option<String>,
}

/// The branch collector: one scheduled run.
///
/// The run id is the detail's `run_id`, else the `RUN_ID` variable, else the event's id; the
/// window ends at the detail's `window_end`, else at the event's time, else now (whole seconds).
pub async fn handle_schedule(
    event: ScheduleEvent,
    ctx: &Context,
) -> Result<RunStarted, HandlerError> {
    let detail: ScheduleDetail = match event.detail {
        Value::Null => ScheduleDetail::default(),
        detail => serde_json::from_value(detail)
            .map_err(|error| HandlerError::BadDetail(error.to_string()))?,
    };
    let now = ctx.clock.now();
    let run_id = detail
        .run_id
        .or_else(|| ctx.config.run_id.clone())
        .or(event.id)
        .unwrap_or_else(|| format!("run-{}", last_modified(now)));
    let window_end = match detail.window_end {
        Some(text) => {
            let seconds =
                parse_window_end(&text).ok_or_else(|| HandlerError::BadWindowEnd(text.clone()))?;
            window_end(chrono::DateTime::from_timestamp(seconds, 0).unwrap_or_default())
        }
        None => window_end(event.time.unwrap_or_else(|| to_utc(now))),
    };
    let mut tally = Tally::default();
    let result = collect_branches(ctx, &detail.branches, &run_id, &window_end, &mut tally).await;
    if result.is_err() {
        tally.failed += 1;
    }
    finish(ctx, Stage::Branches, &run_id, tally).await;
    let branches = result?;
    Ok(RunStarted {
        run_id,
        window_end,
        branches,
        written: tally.written,
        unchanged: tally.unchanged,
        rejected: tally.rejected,
        sent: tally.sent,
    })
}

async fn collect_branches(
    ctx: &Context,
    names: &[String],
    run_id: &str,
    window_end: &str,
    tally: &mut Tally,
) -> Result<u64, HandlerError> {
    let queue = ctx.queue.as_ref().ok_or(HandlerError::NoQueue)?;
    let raw = ctx.vendor.branches(names).await?;
    tally.fetched += raw.len() as u64;
    let mut branches = Vec::with_capacity(raw.len());
    for record in raw {
        match BranchRecord::check(record) {
            Ok(branch) => branches.push(branch),
            Err(rejection) => {
                rejection.log();
                tally.rejected += 1;
            }
        }
    }
    for name in names {
        if !branches.iter().any(|b| &b.branch_name == name) {
            tracing::warn!(branch = %name, "the vendor has no branch of this name");
        }
    }
    let items = branches.iter().map(BranchRecord::to_item).collect();
    let counts = ctx
        .table
        .upsert(items, &last_modified(ctx.clock.now()))
        .await?;
    tally.written += counts.written;
    tally.unchanged += counts.unchanged;
    let bodies = branches
        .iter()
        .map(|branch| BranchMessage::new(run_id, window_end, branch.id).encode())
        .collect();
    tally.sent += queue.send_all(bodies).await?;
    Ok(branches.len() as u64)
}

/// The salesperson collector: one batch of the employee queue.
pub async fn handle_branch_batch(event: SqsEvent, ctx: &Context) -> SqsBatchResponse {
    handle_batch(event, ctx, Stage::Salespersons).await
}

/// The sale collector: one batch of the sale queue.
pub async fn handle_salesperson_batch(event: SqsEvent, ctx: &Context) -> SqsBatchResponse {
    handle_batch(event, ctx, Stage::Sales).await
}

async fn handle_batch(event: SqsEvent, ctx: &Context, stage: Stage) -> SqsBatchResponse {
    let outcomes = join_all(event.records.iter().map(|message| async move {
        let mut tally = Tally::default();
        let result = match stage {
            Stage::Salespersons => collect_salespersons(ctx, message, &mut tally).await,
            _ => collect_sales(ctx, message, &mut tally).await,
        };
        (message, tally, result)
    }))
    .await;
    let mut total = Tally::default();
    let mut run_id = String::new();
    let mut failures = Vec::new();
    for (message, tally, result) in outcomes {
        match result {
            Ok(id) => {
                total += tally;
                if run_id.is_empty() {
                    run_id = id;
                }
            }
            Err(error) => {
                total.failed += 1;
                let id = message.message_id.clone().unwrap_or_default();
                tracing::error!(
                    stage = stage.as_str(),
                    message_id = %id,
                    error = %error,
                    "message failed; SQS will deliver it again"
                );
                // An empty identifier makes Lambda retry the whole batch, the safe choice for
                // a message that came without an id.
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                failures.push(failure);
            }
        }
    }
    finish(ctx, stage, &run_id, total).await;
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures;
    response
}

/// Collects the salespersons of one branch message; the message's run id.
async fn collect_salespersons(
    ctx: &Context,
    message: &SqsMessage,
    tally: &mut Tally,
) -> Result<String, HandlerError> {
    let body = message.body.as_deref().ok_or(HandlerError::NoBody)?;
    let message = BranchMessage::decode(body)?;
    let queue = ctx.queue.as_ref().ok_or(HandlerError::NoQueue)?;
    let raw = ctx.vendor.employees(message.branch_id).await?;
    tally.fetched += raw.len() as u64;
    let mut salespersons = Vec::new();
    for record in raw {
        match EmployeeRecord::check(record, message.branch_id) {
            Ok(employee) if employee.is_salesperson() => salespersons.push(employee),
            Ok(_) => tally.skipped += 1,
            Err(rejection) => {
                rejection.log();
                tally.rejected += 1;
            }
        }
    }
    let items = salespersons.iter().map(EmployeeRecord::to_item).collect();
    let counts = ctx
        .table
        .upsert(items, &last_modified(ctx.clock.now()))
        .await?;
    tally.written += counts.written;
    tally.unchanged += counts.unchanged;
    let bodies = salespersons
        .iter()
        .map(|employee| {
            SalespersonMessage::new(
                &message.run_id,
                &message.window_end,
                message.branch_id,
                employee.id,
            )
            .encode()
        })
        .collect();
    tally.sent += queue.send_all(bodies).await?;
    Ok(message.run_id)
}

/// Collects the sales of one salesperson message inside the run's window; the run id.
async fn collect_sales(
    ctx: &Context,
    message: &SqsMessage,
    tally: &mut Tally,
) -> Result<String, HandlerError> {
    let body = message.body.as_deref().ok_or(HandlerError::NoBody)?;
    let message = SalespersonMessage::decode(body)?;
    let end = parse_window_end(&message.window_end)
        .ok_or_else(|| HandlerError::BadWindowEnd(message.window_end.clone()))?;
    let start = end - ctx.config.window.as_secs() as i64;
    let raw = ctx.vendor.sales(message.employee_id).await?;
    tally.fetched += raw.len() as u64;
    let mut items = Vec::with_capacity(raw.len());
    for record in raw {
        match SaleRecord::check(record, message.employee_id) {
            Ok(sale) if (start..end).contains(&sale.at) => items.push(sale.into_item()),
            Ok(_) => tally.skipped += 1,
            Err(rejection) => {
                rejection.log();
                tally.rejected += 1;
            }
        }
    }
    let counts = ctx
        .table
        .upsert(items, &last_modified(ctx.clock.now()))
        .await?;
    tally.written += counts.written;
    tally.unchanged += counts.unchanged;
    Ok(message.run_id)
}

/// Logs the summary line, adds to the counters and puts the invocation's metrics.
async fn finish(ctx: &Context, stage: Stage, run_id: &str, tally: Tally) {
    tally.log(stage, run_id);
    ctx.counters.add(&tally);
    ctx.metrics.put(stage, &tally, &ctx.counters).await;
}
