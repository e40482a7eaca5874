//! Authorization of requests made with issued keys: each operation as its IAM action and
//! resource ARN, asked of an [`Authorizer`].
//!
//! The administrator (any key the engine did not issue) is never checked, and without an
//! authorizer nothing is. For an issued key, [`check`] reads just enough of the request to name
//! the IAM action (`sqs:SendMessage`; batch operations as their single form, as IAM names them)
//! and the resources (the queue ARN from the queue URL, the table ARN, each table of a batch or
//! transaction, the topic ARN, the function ARN, `*` for PutMetricData with the
//! `cloudwatch:namespace` context key)
//! and asks about each. PutItem, BatchWriteItem and BatchGetItem, which the server reads into the
//! engine's input first (`dynamodb_typed`), are checked by [`check_typed`] with the tables of that
//! input instead of a scan of the body. A denial is AWS's AccessDenied answer with AWS's message,
//! and one warning log line naming the principal, action and resource.
//!
//! Not precise: GetRecords names `*` (its shard iterator carries no ARN), as do the list and
//! move-task operations.

use std::sync::Arc;

use hyper::http::request::Parts;
use hyper::StatusCode;
use serde_json::Value;

use crate::dynamodb_typed::Input;
use crate::error::{ApiError, Protocol};
use crate::identity::Principal;
use crate::server::{App, RequestCtx};

/// Decides whether an issued principal may perform an action on a resource.
pub trait Authorizer: Send + Sync {
    /// `Err` holds AWS's denial message: "User: ARN is not authorized to perform: ACTION on
    /// resource: ARN".
    fn authorize(&self, principal: &str, action: &str, resource: &str) -> Result<(), String>;

    /// The same with request context keys (`cloudwatch:namespace`); by default they are ignored.
    fn authorize_in_context(
        &self,
        principal: &str,
        action: &str,
        resource: &str,
        context: &[(&str, &str)],
    ) -> Result<(), String> {
        let _ = context;
        self.authorize(principal, action, resource)
    }
}

/// The authorizer of a running endpoint, replaceable while it serves.
pub type AuthorizerSlot = crate::Slot<Arc<dyn Authorizer>>;

/// The IAM-backed authorizer: principals are role names, looked up in [`iam::Roles`] (which
/// `cascade up` fills from the deployed roles and may replace while serving).
#[derive(Debug, Clone)]
pub struct IamAuthorizer {
    pub roles: iam::Roles,
}

impl IamAuthorizer {
    pub fn new(roles: iam::Roles) -> IamAuthorizer {
        IamAuthorizer { roles }
    }
}

impl Authorizer for IamAuthorizer {
    fn authorize(&self, principal: &str, action: &str, resource: &str) -> Result<(), String> {
        self.authorize_in_context(principal, action, resource, &[])
    }

    fn authorize_in_context(
        &self,
        principal: &str,
        action: &str,
        resource: &str,
        context: &[(&str, &str)],
    ) -> Result<(), String> {
        self.roles.authorize(
            principal,
            &iam::Request {
                action,
                resource,
                context: context.to_vec(),
            },
        )
    }
}

/// One question for the authorizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask {
    pub action: String,
    pub resource: String,
    pub context: Vec<(String, String)>,
}

fn ask(action: String, resource: String) -> Ask {
    Ask {
        action,
        resource,
        context: Vec::new(),
    }
}

/// Refuses the request if its identity is an issued key that may not perform it.
pub fn check(
    app: &App,
    ctx: &RequestCtx,
    protocol: Protocol,
    operation: Option<&str>,
    parts: &Parts,
    body: &[u8],
) -> Result<(), ApiError> {
    let Some((name, authorizer)) = issued(app, ctx) else {
        return Ok(());
    };
    let config = app.services.sqs.config();
    let asks = requests(
        protocol,
        operation,
        parts,
        body,
        &config.region,
        &config.account_id,
    )?;
    ask_all(protocol, name, authorizer.as_ref(), asks)
}

/// [`check`] for a DynamoDB request already read (the fast path of `dynamodb_typed`): the
/// tables are those of `input`, so the body is not scanned a second time for them.
pub fn check_typed(app: &App, ctx: &RequestCtx, input: &Input) -> Result<(), ApiError> {
    let Some((name, authorizer)) = issued(app, ctx) else {
        return Ok(());
    };
    let config = app.services.sqs.config();
    let asks = input
        .tables()
        .map(|table| {
            ask(
                format!("dynamodb:{}", input.operation()),
                table_arn(&config.region, &config.account_id, table),
            )
        })
        .collect();
    ask_all(Protocol::DynamoDb, name, authorizer.as_ref(), asks)
}

/// The issued principal of the request and the authorizer to ask, or `None` when nothing is to
/// be checked (the administrator, or no authorizer).
fn issued<'c>(app: &App, ctx: &'c RequestCtx) -> Option<(&'c str, Arc<dyn Authorizer>)> {
    let Principal::Issued { name } = &ctx.identity.principal else {
        return None;
    };
    Some((name, app.services.authorizer.get()?))
}

/// Asks each question in turn; the first denial is the answer.
fn ask_all(
    protocol: Protocol,
    name: &str,
    authorizer: &dyn Authorizer,
    asks: Vec<Ask>,
) -> Result<(), ApiError> {
    for a in asks {
        let context: Vec<(&str, &str)> = a
            .context
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if let Err(message) =
            authorizer.authorize_in_context(name, &a.action, &a.resource, &context)
        {
            tracing::warn!(principal = %name, action = %a.action, resource = %a.resource, "access denied");
            return Err(denied(protocol, message));
        }
    }
    Ok(())
}

fn table_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:dynamodb:{region}:{account}:table/{name}")
}

fn denied(protocol: Protocol, message: String) -> ApiError {
    let mut error =
        ApiError::client("AccessDeniedException", message).with_status(StatusCode::FORBIDDEN);
    error.query_code = Some("AccessDenied".into());
    match protocol {
        Protocol::SqsQuery | Protocol::CloudWatchQuery => {
            error.code = "AccessDenied".into();
            error.query_code = None;
        }
        // SNS names its denial AuthorizationError.
        Protocol::SnsQuery => {
            error.code = "AuthorizationError".into();
            error.query_code = None;
        }
        _ => {}
    }
    error
}

/// The members of a JSON request that name what it touches. Every other member (items, message
/// bodies) is skipped by the parser without being built, so the check costs a scan of the body,
/// not a second parse of it: the operation parses the body once, after.
#[derive(serde::Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct Targets {
    queue_url: Option<String>,
    queue_name: Option<String>,
    table_name: Option<String>,
    stream_arn: Option<String>,
    /// In name order, as the fast path reads them (`dynamodb_typed`), so that a request naming
    /// two denied tables is denied on the same one whichever path reads it.
    request_items: Option<std::collections::BTreeMap<String, serde::de::IgnoredAny>>,
    transact_items: Option<Vec<TransactTargets>>,
}

/// One entry of `TransactItems`: the table each kind of request names.
#[derive(serde::Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct TransactTargets {
    put: Option<Named>,
    update: Option<Named>,
    delete: Option<Named>,
    condition_check: Option<Named>,
    get: Option<Named>,
}

#[derive(serde::Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct Named {
    table_name: Option<String>,
}

/// The IAM questions one request raises.
pub fn requests(
    protocol: Protocol,
    operation: Option<&str>,
    parts: &Parts,
    body: &[u8],
    region: &str,
    account: &str,
) -> Result<Vec<Ask>, ApiError> {
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    // A body that does not parse names nothing; the operation itself reports it.
    let targets = || serde_json::from_slice::<Targets>(body).unwrap_or_default();
    match protocol {
        Protocol::SqsJson | Protocol::SqsQuery => {
            let (operation, queue_url, queue_name) = if protocol == Protocol::SqsJson {
                let t = targets();
                (
                    operation.unwrap_or_default().to_owned(),
                    t.queue_url,
                    t.queue_name,
                )
            } else {
                let params = crate::sqs_query::parse_params(parts.uri.query(), body)?;
                let member = |name: &str| {
                    params
                        .iter()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.clone())
                };
                let path = parts.uri.path().trim_matches('/');
                let queue_url = member("QueueUrl")
                    .or_else(|| (path.split('/').count() == 2).then(|| path.to_owned()));
                (
                    member("Action").unwrap_or_default(),
                    queue_url,
                    member("QueueName"),
                )
            };
            let action = format!(
                "sqs:{}",
                operation.strip_suffix("Batch").unwrap_or(&operation)
            );
            let name = queue_url
                .map(|url| {
                    url.trim_end_matches('/')
                        .rsplit('/')
                        .next()
                        .unwrap_or("")
                        .to_owned()
                })
                .or(queue_name);
            let resource = match name {
                Some(name) => format!("arn:aws:sqs:{region}:{account}:{name}"),
                None => "*".to_owned(),
            };
            Ok(vec![ask(action, resource)])
        }
        Protocol::DynamoDb | Protocol::DynamoDbStreams => {
            let operation = operation.unwrap_or_default();
            let request = targets();
            let table = |name: &str| table_arn(region, account, name);
            let mut asks = Vec::new();
            match operation {
                "BatchWriteItem" | "BatchGetItem" => {
                    for name in request.request_items.unwrap_or_default().keys() {
                        asks.push(ask(format!("dynamodb:{operation}"), table(name)));
                    }
                }
                "TransactWriteItems" | "TransactGetItems" => {
                    for item in request.transact_items.unwrap_or_default() {
                        for (named, action) in [
                            (item.put, "PutItem"),
                            (item.update, "UpdateItem"),
                            (item.delete, "DeleteItem"),
                            (item.condition_check, "ConditionCheckItem"),
                            (item.get, "GetItem"),
                        ] {
                            if let Some(name) = named.and_then(|n| n.table_name) {
                                asks.push(ask(format!("dynamodb:{action}"), table(&name)));
                            }
                        }
                    }
                }
                _ => {
                    let resource = request
                        .table_name
                        .map(|n| table(&n))
                        .or(request.stream_arn)
                        .unwrap_or_else(|| "*".to_owned());
                    asks.push(ask(format!("dynamodb:{operation}"), resource));
                }
            }
            Ok(asks)
        }
        Protocol::CloudWatchJson | Protocol::CloudWatchCbor | Protocol::CloudWatchQuery => {
            let (operation, request, _) =
                crate::cloudwatch_api::decode_request(protocol, operation, parts, body)?;
            let action = format!("cloudwatch:{operation}");
            Ok(vec![match operation.as_str() {
                "PutMetricData" => Ask {
                    action,
                    resource: "*".into(),
                    context: text(&request, "Namespace")
                        .map(|n| vec![("cloudwatch:namespace".to_owned(), n)])
                        .unwrap_or_default(),
                },
                "SetAlarmState" | "DescribeAlarmHistory" => {
                    let resource = text(&request, "AlarmName")
                        .map(|n| format!("arn:aws:cloudwatch:{region}:{account}:alarm:{n}"))
                        .unwrap_or_else(|| "*".into());
                    ask(action, resource)
                }
                _ => ask(action, "*".into()),
            }])
        }
        Protocol::SnsQuery => {
            let (operation, request, _) =
                crate::cloudwatch_api::decode_request(protocol, None, parts, body)?;
            let resource = match operation.as_str() {
                "CreateTopic" => {
                    text(&request, "Name").map(|n| format!("arn:aws:sns:{region}:{account}:{n}"))
                }
                _ => text(&request, "TopicArn").or_else(|| text(&request, "TargetArn")),
            }
            .unwrap_or_else(|| "*".into());
            Ok(vec![ask(format!("sns:{operation}"), resource)])
        }
        Protocol::Lambda => {
            let operation = crate::lambda_api::operation(parts)?;
            Ok(vec![ask(
                operation.action().to_owned(),
                operation.resource(region, account),
            )])
        }
        Protocol::Logs => {
            let request: Value = serde_json::from_slice(body).unwrap_or_default();
            let resource = text(&request, "logGroupName")
                .map(|g| format!("arn:aws:logs:{region}:{account}:log-group:{g}:*"))
                .unwrap_or_else(|| "*".into());
            Ok(vec![ask(
                format!("logs:{}", operation.unwrap_or_default()),
                resource,
            )])
        }
        #[allow(unreachable_patterns)]
        _ => Ok(Vec::new()),
    }
}
