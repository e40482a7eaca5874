//! Authorization of requests made with issued keys: each operation as its IAM action and
//! resource ARN, asked of an [`Authorizer`].
//!
//! The administrator (any key the engine did not issue) is never checked, and without an
//! authorizer nothing is. For an issued key, [`check`] reads just enough of the request to name
//! the IAM action (`sqs:SendMessage`; batch operations as their single form, as IAM names them)
//! and the resources (the queue ARN from the queue URL, the table ARN, each table of a batch or
//! transaction, the topic ARN, `*` for PutMetricData with the `cloudwatch:namespace` context key)
//! and asks about each. A denial is AWS's AccessDenied answer with AWS's message, and one warning
//! log line naming the principal, action and resource.
//!
//! Not precise: GetRecords names `*` (its shard iterator carries no ARN), as do the list and
//! move-task operations.

use std::sync::{Arc, RwLock};

use hyper::http::request::Parts;
use hyper::StatusCode;
use serde_json::Value;

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

/// The authorizer of a running endpoint, replaceable while it serves. Cheap to clone; clones
/// share the slot.
#[derive(Clone, Default)]
pub struct AuthorizerSlot {
    /// A `std::sync::RwLock`: held only to clone or replace the `Arc`, never during a call.
    inner: Arc<RwLock<Option<Arc<dyn Authorizer>>>>,
}

impl AuthorizerSlot {
    /// Sets (or with `None` removes) the authorizer consulted for issued keys.
    pub fn set(&self, authorizer: Option<Arc<dyn Authorizer>>) {
        *self.inner.write().unwrap_or_else(|e| e.into_inner()) = authorizer;
    }

    pub fn get(&self) -> Option<Arc<dyn Authorizer>> {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

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
    let Principal::Issued { name } = &ctx.identity.principal else {
        return Ok(());
    };
    let Some(authorizer) = app.services.authorizer.get() else {
        return Ok(());
    };
    let config = app.services.sqs.config();
    let (region, account) = (config.region.clone(), config.account_id.clone());
    let asks = requests(protocol, operation, parts, body, &region, &account)?;
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

/// The IAM questions one request raises.
pub fn requests(
    protocol: Protocol,
    operation: Option<&str>,
    parts: &Parts,
    body: &[u8],
    region: &str,
    account: &str,
) -> Result<Vec<Ask>, ApiError> {
    let json_body =
        || -> Value { serde_json::from_slice(body).unwrap_or(Value::Object(Default::default())) };
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    match protocol {
        Protocol::SqsJson | Protocol::SqsQuery => {
            let (operation, request) = if protocol == Protocol::SqsJson {
                (operation.unwrap_or_default().to_owned(), json_body())
            } else {
                let params = crate::sqs_query::parse_params(parts.uri.query(), body)?;
                let action = params
                    .iter()
                    .find(|(k, _)| k == "Action")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                let mut request = crate::sqs_query::to_json(&params);
                let path = parts.uri.path().trim_matches('/');
                if !request.contains_key("QueueUrl") && path.split('/').count() == 2 {
                    request.insert("QueueUrl".into(), path.into());
                }
                (action, Value::Object(request))
            };
            let action = format!(
                "sqs:{}",
                operation.strip_suffix("Batch").unwrap_or(&operation)
            );
            let name = text(&request, "QueueUrl")
                .map(|url| {
                    url.trim_end_matches('/')
                        .rsplit('/')
                        .next()
                        .unwrap_or("")
                        .to_owned()
                })
                .or_else(|| text(&request, "QueueName"));
            let resource = match name {
                Some(name) => format!("arn:aws:sqs:{region}:{account}:{name}"),
                None => "*".to_owned(),
            };
            Ok(vec![ask(action, resource)])
        }
        Protocol::DynamoDb | Protocol::DynamoDbStreams => {
            let operation = operation.unwrap_or_default();
            let request = json_body();
            let table = |name: &str| format!("arn:aws:dynamodb:{region}:{account}:table/{name}");
            let mut asks = Vec::new();
            match operation {
                "BatchWriteItem" | "BatchGetItem" => {
                    if let Some(items) = request.get("RequestItems").and_then(Value::as_object) {
                        for name in items.keys() {
                            asks.push(ask(format!("dynamodb:{operation}"), table(name)));
                        }
                    }
                }
                "TransactWriteItems" | "TransactGetItems" => {
                    for item in request
                        .get("TransactItems")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        for (kind, action) in [
                            ("Put", "PutItem"),
                            ("Update", "UpdateItem"),
                            ("Delete", "DeleteItem"),
                            ("ConditionCheck", "ConditionCheckItem"),
                            ("Get", "GetItem"),
                        ] {
                            if let Some(name) = item.get(kind).and_then(|k| text(k, "TableName")) {
                                asks.push(ask(format!("dynamodb:{action}"), table(&name)));
                            }
                        }
                    }
                }
                _ => {
                    let resource = text(&request, "TableName")
                        .map(|n| table(&n))
                        .or_else(|| text(&request, "StreamArn"))
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
        #[allow(unreachable_patterns)]
        _ => Ok(Vec::new()),
    }
}
