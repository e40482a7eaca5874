//! `deploy` and `destroy` through CloudFormation, as `sam deploy` does them: a change set
//! (CREATE when the stack does not exist, UPDATE otherwise), the changes shown as a table, then
//! executed and followed event by event until the stack reaches a final status.
//!
//! An empty change set is a success ([`Outcome::NoChanges`]) or an error
//! ([`ShipError::NoChanges`]) as the options say (`--no-fail-on-empty-changeset`). A failed run names the first resource that
//! failed, looking inside nested stacks, since the parent only says "Embedded stack ... was not
//! successfully created".

use crate::error::ShipError;
use crate::events::{self, ChangeRow, Event};
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::{Capability, ChangeSetStatus, ChangeSetType, Parameter};
use aws_sdk_cloudformation::Client;
use std::collections::HashSet;
use std::io::Write;
use std::time::Duration;

/// Where CloudFormation reads the root template from.
#[derive(Clone, Debug)]
pub enum TemplateSource {
    /// The text itself (CloudFormation takes up to 51,200 bytes this way).
    Body(String),
    /// An `https://` S3 URL of an uploaded template (up to 1 MB).
    Url(String),
}

/// The largest template CloudFormation accepts as a body.
pub const MAX_TEMPLATE_BODY: usize = 51_200;

#[derive(Clone, Debug)]
pub struct DeployOptions {
    pub stack_name: String,
    pub template: TemplateSource,
    pub parameters: Vec<(String, String)>,
    /// `CAPABILITY_IAM`, `CAPABILITY_NAMED_IAM`, `CAPABILITY_AUTO_EXPAND`.
    pub capabilities: Vec<String>,
    /// An empty change set is an error ([`ShipError::NoChanges`]) rather than
    /// [`Outcome::NoChanges`], as `sam deploy` without `--no-fail-on-empty-changeset`.
    pub fail_on_empty_changeset: bool,
    /// How long to wait between two polls of a change set or of the stack's events.
    pub poll: Duration,
}

/// How a deploy ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The stack reached `CREATE_COMPLETE` or `UPDATE_COMPLETE`.
    Deployed { status: String },
    /// The change set had no changes and `fail_on_empty_changeset` was off; nothing was executed.
    NoChanges,
    /// The stack ended in another final status (a rollback, a failure).
    Failed {
        status: String,
        failure: Option<Failure>,
    },
}

/// The resource that made a run fail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Logical ids from the root stack down (`Queues/EmployeeQueue`).
    pub path: String,
    pub type_: String,
    pub status: String,
    pub reason: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}) {}: {}",
            self.path, self.type_, self.status, self.reason
        )
    }
}

/// Creates, shows, executes and follows one change set.
pub async fn deploy(
    cfn: &Client,
    options: &DeployOptions,
    out: &mut dyn Write,
) -> Result<Outcome, ShipError> {
    let stack = &options.stack_name;
    let change_set_type = match stack_status(cfn, stack).await? {
        None => ChangeSetType::Create,
        // A stack left by a change set that was never executed has no resources yet.
        Some(s) if s == "REVIEW_IN_PROGRESS" => ChangeSetType::Create,
        Some(s) if s == "ROLLBACK_COMPLETE" || s == "ROLLBACK_FAILED" => {
            return Err(ShipError::StackState {
                stack: stack.clone(),
                status: s,
                hint: "its creation failed, so it cannot be updated: delete it first \
                       (`cascade destroy --target aws`)",
            })
        }
        Some(s) if !events::is_final(&s) => {
            return Err(ShipError::StackState {
                stack: stack.clone(),
                status: s,
                hint: "another operation is running on it; wait until it ends",
            })
        }
        Some(_) => ChangeSetType::Update,
    };
    let name = change_set_name();
    let mut request = cfn
        .create_change_set()
        .stack_name(stack)
        .change_set_name(&name)
        .change_set_type(change_set_type.clone())
        .description("cascade deploy --target aws");
    request = match &options.template {
        TemplateSource::Body(body) => request.template_body(body),
        TemplateSource::Url(url) => request.template_url(url),
    };
    for (key, value) in &options.parameters {
        request = request.parameters(
            Parameter::builder()
                .parameter_key(key)
                .parameter_value(value)
                .build(),
        );
    }
    for capability in &options.capabilities {
        request = request.capabilities(capability_of(capability)?);
    }
    let created = match request.send().await {
        Ok(created) => created,
        // AWS reports an empty change set as a FAILED change set (below); some endpoints
        // refuse to create it at all, with the same words.
        Err(e) if e.message().is_some_and(is_empty_change_set) => {
            return no_changes(options, out);
        }
        Err(e) => return Err(ShipError::aws("CreateChangeSet", e)),
    };
    let change_set_id = created.id().unwrap_or(&name).to_string();
    let stack_id = created.stack_id().unwrap_or(stack).to_string();
    writeln!(
        out,
        "created change set {name} ({}) for stack {stack}",
        if change_set_type == ChangeSetType::Create {
            "CREATE"
        } else {
            "UPDATE"
        }
    )?;

    let rows = match wait_for_change_set(cfn, &change_set_id, options.poll).await? {
        ChangeSetResult::Ready(rows) => rows,
        ChangeSetResult::Empty => {
            // An empty change set cannot be executed; leaving it would only clutter the console.
            let _ = cfn
                .delete_change_set()
                .change_set_name(&change_set_id)
                .send()
                .await;
            return no_changes(options, out);
        }
        ChangeSetResult::Failed(reason) => {
            return Err(ShipError::ChangeSetFailed { name, reason });
        }
    };
    write!(out, "{}", events::change_table(&rows))?;

    let seen = first_page_ids(cfn, &stack_id).await?;
    cfn.execute_change_set()
        .change_set_name(&change_set_id)
        .send()
        .await
        .map_err(|e| ShipError::aws("ExecuteChangeSet", e))?;
    writeln!(out, "executing change set {name}")?;
    let (status, seen_events) = follow(cfn, &stack_id, seen, options.poll, out).await?;
    if events::is_deployed(&status) {
        writeln!(out, "stack {stack}: {status}")?;
        return Ok(Outcome::Deployed { status });
    }
    let failure = explain(cfn, stack, &seen_events).await;
    writeln!(out, "stack {stack}: {status}")?;
    if let Some(f) = &failure {
        writeln!(out, "first failure: {f}")?;
    }
    Ok(Outcome::Failed { status, failure })
}

/// An empty change set: an error or a success, as the options say.
fn no_changes(options: &DeployOptions, out: &mut dyn Write) -> Result<Outcome, ShipError> {
    let stack = &options.stack_name;
    if options.fail_on_empty_changeset {
        return Err(ShipError::NoChanges {
            stack: stack.clone(),
        });
    }
    writeln!(out, "no changes to deploy: stack {stack} is up to date")?;
    Ok(Outcome::NoChanges)
}

/// How a deleted stack ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destroyed {
    /// There was no such stack.
    Missing,
    /// Deleted; these resources were kept (DeletionPolicy Retain, or skipped by CloudFormation).
    Deleted { retained: Vec<Retained> },
    Failed {
        status: String,
        failure: Option<Failure>,
    },
}

/// A resource that outlives its stack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retained {
    /// Logical ids from the root stack down.
    pub path: String,
    pub type_: String,
    pub physical_id: String,
}

/// Deletes the stack, waits for the end, and says what was retained.
pub async fn destroy(
    cfn: &Client,
    stack_name: &str,
    poll: Duration,
    out: &mut dyn Write,
) -> Result<Destroyed, ShipError> {
    let Some((stack_id, _)) = describe(cfn, stack_name).await? else {
        writeln!(out, "stack {stack_name} does not exist")?;
        return Ok(Destroyed::Missing);
    };
    let mut retained = Vec::new();
    retained_resources(cfn, &stack_id, "", &mut retained, 0).await?;
    let seen = first_page_ids(cfn, &stack_id).await?;
    cfn.delete_stack()
        .stack_name(&stack_id)
        .send()
        .await
        .map_err(|e| ShipError::aws("DeleteStack", e))?;
    writeln!(out, "deleting stack {stack_name}")?;
    let (status, seen_events) = follow(cfn, &stack_id, seen, poll, out).await?;
    if status != "DELETE_COMPLETE" {
        let failure = explain(cfn, stack_name, &seen_events).await;
        return Ok(Destroyed::Failed { status, failure });
    }
    // CloudFormation also skips deleting what it must keep for other reasons; its events say so.
    for e in seen_events.iter().filter(|e| e.status == "DELETE_SKIPPED") {
        if !retained.iter().any(|r: &Retained| r.path == e.logical_id) {
            retained.push(Retained {
                path: e.logical_id.clone(),
                type_: e.type_.clone(),
                physical_id: e.physical_id.clone().unwrap_or_default(),
            });
        }
    }
    writeln!(out, "stack {stack_name}: DELETE_COMPLETE")?;
    if retained.is_empty() {
        writeln!(out, "nothing was retained")?;
    } else {
        writeln!(
            out,
            "retained (delete these by hand when no longer needed):"
        )?;
        for r in &retained {
            writeln!(out, "  {} ({}) {}", r.path, r.type_, r.physical_id)?;
        }
    }
    Ok(Destroyed::Deleted { retained })
}

/// The resources of a stack and its nested stacks whose `DeletionPolicy` keeps them, read from
/// the deployed templates (not the local ones, which may have changed since).
async fn retained_resources(
    cfn: &Client,
    stack_id: &str,
    path: &str,
    out: &mut Vec<Retained>,
    depth: usize,
) -> Result<(), ShipError> {
    let template = cfn
        .get_template()
        .stack_name(stack_id)
        .send()
        .await
        .map_err(|e| ShipError::aws("GetTemplate", e))?;
    let body = template.template_body().unwrap_or("{}");
    let root = crate::rewrite::parse(stack_id, body)?;
    let keeps = |logical_id: &str| {
        root.lookup(&format!("Resources.{logical_id}.DeletionPolicy"))
            .and_then(|n| n.as_str())
            .is_some_and(|p| p == "Retain" || p == "RetainExceptOnCreate")
    };
    let mut token: Option<String> = None;
    loop {
        let page = cfn
            .list_stack_resources()
            .stack_name(stack_id)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| ShipError::aws("ListStackResources", e))?;
        for r in page.stack_resource_summaries() {
            let logical_id = r.logical_resource_id().unwrap_or_default();
            let type_ = r.resource_type().unwrap_or_default();
            let physical_id = r.physical_resource_id().unwrap_or_default();
            let qualified = if path.is_empty() {
                logical_id.to_string()
            } else {
                format!("{path}/{logical_id}")
            };
            if keeps(logical_id) {
                out.push(Retained {
                    path: qualified,
                    type_: type_.to_string(),
                    physical_id: physical_id.to_string(),
                });
            } else if type_ == "AWS::CloudFormation::Stack" && !physical_id.is_empty() && depth < 8
            {
                Box::pin(retained_resources(
                    cfn,
                    physical_id,
                    &qualified,
                    out,
                    depth + 1,
                ))
                .await?;
            }
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(());
        }
    }
}

fn capability_of(name: &str) -> Result<Capability, ShipError> {
    match name {
        "CAPABILITY_IAM" => Ok(Capability::CapabilityIam),
        "CAPABILITY_NAMED_IAM" => Ok(Capability::CapabilityNamedIam),
        "CAPABILITY_AUTO_EXPAND" => Ok(Capability::CapabilityAutoExpand),
        other => Err(ShipError::Capability(other.to_string())),
    }
}

/// A change set name unique per second: it must start with a letter and hold only letters,
/// digits and dashes.
fn change_set_name() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!("cascade-{now}")
}

/// The stack's id and status, or `None` when it does not exist.
async fn describe(cfn: &Client, stack: &str) -> Result<Option<(String, String)>, ShipError> {
    match cfn.describe_stacks().stack_name(stack).send().await {
        Ok(out) => Ok(out.stacks().first().map(|s| {
            (
                s.stack_id().unwrap_or(stack).to_string(),
                s.stack_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            )
        })),
        // CloudFormation answers a missing stack with a generic ValidationError.
        Err(e) if e.message().is_some_and(|m| m.contains("does not exist")) => Ok(None),
        Err(e) => Err(ShipError::aws("DescribeStacks", e)),
    }
}

async fn stack_status(cfn: &Client, stack: &str) -> Result<Option<String>, ShipError> {
    Ok(describe(cfn, stack).await?.map(|(_, status)| status))
}

enum ChangeSetResult {
    Ready(Vec<ChangeRow>),
    Empty,
    Failed(String),
}

/// Polls the change set until it is ready or failed, then reads all its changes.
async fn wait_for_change_set(
    cfn: &Client,
    id: &str,
    poll: Duration,
) -> Result<ChangeSetResult, ShipError> {
    let mut rows = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = cfn
            .describe_change_set()
            .change_set_name(id)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| ShipError::aws("DescribeChangeSet", e))?;
        match page.status() {
            Some(ChangeSetStatus::CreateComplete) => {}
            Some(ChangeSetStatus::Failed) => {
                let reason = page
                    .status_reason()
                    .unwrap_or("no reason given")
                    .to_string();
                return Ok(if is_empty_change_set(&reason) {
                    ChangeSetResult::Empty
                } else {
                    ChangeSetResult::Failed(reason)
                });
            }
            _ => {
                tokio::time::sleep(poll).await;
                continue;
            }
        }
        for change in page.changes() {
            if let Some(rc) = change.resource_change() {
                rows.push(ChangeRow {
                    action: rc
                        .action()
                        .map(|a| a.as_str().to_string())
                        .unwrap_or_default(),
                    logical_id: rc.logical_resource_id().unwrap_or_default().to_string(),
                    type_: rc.resource_type().unwrap_or_default().to_string(),
                    replacement: rc
                        .replacement()
                        .map(|r| r.as_str().to_string())
                        .unwrap_or_default(),
                });
            }
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(ChangeSetResult::Ready(rows));
        }
    }
}

/// The reasons CloudFormation gives for a change set with nothing in it.
pub fn is_empty_change_set(reason: &str) -> bool {
    reason.contains("didn't contain changes") || reason.contains("No updates are to be performed")
}

/// The ids of the newest page of events: everything after them belongs to this run.
async fn first_page_ids(cfn: &Client, stack_id: &str) -> Result<HashSet<String>, ShipError> {
    let page = cfn
        .describe_stack_events()
        .stack_name(stack_id)
        .send()
        .await
        .map_err(|e| ShipError::aws("DescribeStackEvents", e))?;
    Ok(page
        .stack_events()
        .iter()
        .filter_map(|e| e.event_id().map(str::to_string))
        .collect())
}

/// Events not seen yet, oldest first. Pages are newest first, so paging stops at the first
/// event already seen.
async fn new_events(
    cfn: &Client,
    stack_id: &str,
    seen: &mut HashSet<String>,
) -> Result<Vec<Event>, ShipError> {
    let mut fresh = Vec::new();
    let mut token: Option<String> = None;
    'pages: loop {
        let page = cfn
            .describe_stack_events()
            .stack_name(stack_id)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| ShipError::aws("DescribeStackEvents", e))?;
        for e in page.stack_events() {
            let id = e.event_id().unwrap_or_default().to_string();
            if seen.contains(&id) {
                break 'pages;
            }
            fresh.push(Event {
                id,
                timestamp: e
                    .timestamp()
                    .and_then(|t| {
                        t.fmt(aws_sdk_cloudformation::primitives::DateTimeFormat::DateTime)
                            .ok()
                    })
                    .unwrap_or_default(),
                logical_id: e.logical_resource_id().unwrap_or_default().to_string(),
                type_: e.resource_type().unwrap_or_default().to_string(),
                status: e
                    .resource_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                reason: e.resource_status_reason().map(str::to_string),
                physical_id: e.physical_resource_id().map(str::to_string),
            });
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    for e in &fresh {
        seen.insert(e.id.clone());
    }
    fresh.reverse();
    Ok(fresh)
}

/// Prints each new event until the stack reaches a final status; returns that status and every
/// event of the run, oldest first.
async fn follow(
    cfn: &Client,
    stack_id: &str,
    mut seen: HashSet<String>,
    poll: Duration,
    out: &mut dyn Write,
) -> Result<(String, Vec<Event>), ShipError> {
    let mut all = Vec::new();
    loop {
        let status = stack_status(cfn, stack_id)
            .await?
            .unwrap_or_else(|| "DELETE_COMPLETE".to_string());
        // Events are read after the status, so the events that led to a final status are shown.
        for e in new_events(cfn, stack_id, &mut seen).await? {
            writeln!(out, "{}", events::progress_line(&e))?;
            all.push(e);
        }
        if events::is_final(&status) {
            return Ok((status, all));
        }
        tokio::time::sleep(poll).await;
    }
}

/// The first failure of a run, followed into nested stacks as far as they go.
async fn explain(cfn: &Client, stack: &str, run: &[Event]) -> Option<Failure> {
    let first = events::first_failure(run, stack)?.clone();
    let mut path = first.logical_id.clone();
    let mut failure = first;
    for _ in 0..8 {
        if failure.type_ != "AWS::CloudFormation::Stack" {
            break;
        }
        let Some(nested) = failure.physical_id.clone().filter(|p| !p.is_empty()) else {
            break;
        };
        let mut none = HashSet::new();
        let Ok(nested_events) = new_events(cfn, &nested, &mut none).await else {
            break;
        };
        let nested_name = nested_events
            .first()
            .map(|e| e.logical_id.clone())
            .unwrap_or_default();
        let Some(inner) = events::first_failure(&nested_events, &nested_name).cloned() else {
            break;
        };
        path = format!("{path}/{}", inner.logical_id);
        failure = inner;
    }
    Some(Failure {
        path,
        type_: failure.type_,
        status: failure.status,
        reason: failure.reason.unwrap_or_default(),
    })
}
