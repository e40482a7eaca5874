//! The CloudFormation read API in the query protocol (version 2010-05-15): DescribeStacks,
//! ListStacks, DescribeStackResources, DescribeStackResource, ListStackResources,
//! DescribeStackEvents, ListExports, ListImports and GetTemplate, answered from the deployed-stack
//! registry of the `stacks` crate. Requests are routed here by the `cloudformation` service of
//! their SigV4 credential scope; answers are AWS's XML documents.

use bytes::Bytes;
use http_body_util::Full;
use hyper::http::request::Parts;
use hyper::{Response, StatusCode};

use crate::error::{xml_escape, ApiError, Protocol};
use crate::identity::SigV4;
use crate::server::{blocking, xml_response, App, RequestCtx};
use ::stacks::{Registry, StackRecord, StacksError};

pub const XMLNS: &str = "http://cloudformation.amazonaws.com/doc/2010-05-15/";

/// A query-protocol request whose credential scope names `cloudformation`.
pub fn route(parts: &Parts) -> Option<(Protocol, Option<String>)> {
    let scope = SigV4::from_request(parts)?.scope;
    (scope.split('/').nth(2)? == "cloudformation").then_some((Protocol::CloudFormationQuery, None))
}

impl From<StacksError> for ApiError {
    fn from(e: StacksError) -> ApiError {
        tracing::error!(error = %e, "stack registry failure");
        ApiError::internal(e.to_string())
    }
}

fn validation(message: impl Into<String>) -> ApiError {
    ApiError::client("ValidationError", message)
}

/// Serves one CloudFormation request.
pub async fn handle(
    app: &App,
    ctx: &RequestCtx,
    parts: &Parts,
    body: Bytes,
) -> Result<Response<Full<Bytes>>, ApiError> {
    let params = crate::sqs_query::parse_params(parts.uri.query(), &body)?;
    let action = param(&params, "Action")
        .ok_or_else(|| validation("The request must contain the parameter Action"))?
        .to_owned();
    let registry = app.services.stacks.clone();
    let request_action = action.clone();
    let result = blocking(move || dispatch(&registry, &request_action, &params)).await?;
    Ok(xml_response(
        format!(
            "<{action}Response xmlns=\"{XMLNS}\"><{action}Result>{result}</{action}Result><ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{action}Response>",
            ctx.request_id
        ),
        &ctx.request_id,
    ))
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// The values of a list parameter (`StackStatusFilter.member.1`, ...).
fn members<'a>(params: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    let prefix = format!("{name}.member.");
    params
        .iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .map(|(_, v)| v.as_str())
        .collect()
}

fn dispatch(
    registry: &Registry,
    action: &str,
    params: &[(String, String)],
) -> Result<String, ApiError> {
    match action {
        "DescribeStacks" => describe_stacks(registry, param(params, "StackName")),
        "ListStacks" => list_stacks(registry, &members(params, "StackStatusFilter")),
        "DescribeStackResources" => describe_stack_resources(
            registry,
            param(params, "StackName"),
            param(params, "LogicalResourceId"),
            param(params, "PhysicalResourceId"),
        ),
        "DescribeStackResource" => {
            let stack = required(params, "StackName")?;
            let logical = required(params, "LogicalResourceId")?;
            describe_stack_resource(registry, stack, logical)
        }
        "ListStackResources" => list_stack_resources(registry, required(params, "StackName")?),
        "DescribeStackEvents" => describe_stack_events(registry, param(params, "StackName")),
        "ListExports" => list_exports(registry),
        "ListImports" => list_imports(registry, required(params, "ExportName")?),
        "GetTemplate" => get_template(registry, required(params, "StackName")?),
        other => Err(ApiError::unknown_operation(
            Protocol::CloudFormationQuery,
            other,
        )),
    }
}

fn required<'a>(params: &'a [(String, String)], name: &str) -> Result<&'a str, ApiError> {
    param(params, name).ok_or_else(|| {
        validation(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            lower_first(name)
        ))
    })
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_lowercase().chain(c).collect())
        .unwrap_or_default()
}

/// One element, escaped; nothing when the value is absent.
fn el(name: &str, value: Option<&str>) -> String {
    match value {
        Some(v) => format!("<{name}>{}</{name}>", xml_escape(v)),
        None => String::new(),
    }
}

/// Epoch milliseconds as AWS's ISO 8601 timestamp (`2024-05-01T12:00:00.000Z`).
pub fn iso8601(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rest = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The stack named (or identified) `name`, live or deleted; AWS's error when there is none.
fn find_stack(registry: &Registry, name: &str) -> Result<StackRecord, ApiError> {
    registry
        .stack(name)?
        .ok_or_else(|| validation(format!("Stack with id {name} does not exist")))
}

fn live(s: &StackRecord) -> bool {
    s.status != "DELETE_COMPLETE"
}

/// The root stack's id of `s`.
fn root_id(all: &[StackRecord], s: &StackRecord) -> Option<String> {
    let mut current = s;
    let mut hops = 0;
    while let Some(parent) = current.parent.as_deref() {
        current = all.iter().find(|p| p.name == parent)?;
        hops += 1;
        if hops > all.len() {
            return None;
        }
    }
    (hops > 0).then(|| current.stack_id.clone())
}

fn parent_id(all: &[StackRecord], s: &StackRecord) -> Option<String> {
    let parent = s.parent.as_deref()?;
    all.iter()
        .find(|p| p.name == parent)
        .map(|p| p.stack_id.clone())
}

fn describe_stacks(registry: &Registry, name: Option<&str>) -> Result<String, ApiError> {
    let all = registry.stacks()?;
    let chosen: Vec<StackRecord> = match name {
        Some(name) => vec![find_stack(registry, name)?],
        None => all.iter().filter(|s| live(s)).cloned().collect(),
    };
    let mut out = String::from("<Stacks>");
    for s in &chosen {
        let parameters: String = s
            .parameters
            .iter()
            .map(|(k, v)| {
                format!(
                    "<member>{}{}</member>",
                    el("ParameterKey", Some(k)),
                    el("ParameterValue", Some(v))
                )
            })
            .collect();
        let outputs: String = s
            .outputs
            .iter()
            .map(|o| {
                format!(
                    "<member>{}{}{}{}</member>",
                    el("OutputKey", Some(&o.key)),
                    el("OutputValue", Some(&o.value)),
                    el("Description", o.description.as_deref()),
                    el("ExportName", o.export_name.as_deref())
                )
            })
            .collect();
        out.push_str(&format!(
            "<member>{}{}{}{}{}{}{}{}<Parameters>{parameters}</Parameters><Outputs>{outputs}</Outputs><DisableRollback>false</DisableRollback><Tags/></member>",
            el("StackName", Some(&s.name)),
            el("StackId", Some(&s.stack_id)),
            el("CreationTime", Some(&iso8601(s.created_ms))),
            el("LastUpdatedTime", s.updated_ms.map(iso8601).as_deref()),
            el("StackStatus", Some(&s.status)),
            el("StackStatusReason", s.status_reason.as_deref()),
            el("ParentId", parent_id(&all, s).as_deref()),
            el("RootId", root_id(&all, s).as_deref()),
        ));
    }
    out.push_str("</Stacks>");
    Ok(out)
}

fn list_stacks(registry: &Registry, filter: &[&str]) -> Result<String, ApiError> {
    let all = registry.stacks()?;
    let mut out = String::from("<StackSummaries>");
    for s in all
        .iter()
        .filter(|s| filter.is_empty() || filter.contains(&s.status.as_str()))
    {
        let deleted = (!live(s)).then(|| iso8601(s.updated_ms.unwrap_or(s.created_ms)));
        out.push_str(&format!(
            "<member>{}{}{}{}{}{}{}{}{}</member>",
            el("StackId", Some(&s.stack_id)),
            el("StackName", Some(&s.name)),
            el("CreationTime", Some(&iso8601(s.created_ms))),
            el("LastUpdatedTime", s.updated_ms.map(iso8601).as_deref()),
            el("DeletionTime", deleted.as_deref()),
            el("StackStatus", Some(&s.status)),
            el("StackStatusReason", s.status_reason.as_deref()),
            el("ParentId", parent_id(&all, s).as_deref()),
            el("RootId", root_id(&all, s).as_deref()),
        ));
    }
    out.push_str("</StackSummaries>");
    Ok(out)
}

/// The resources of one stack (or of the stack holding `physical`), optionally one logical id.
fn describe_stack_resources(
    registry: &Registry,
    stack: Option<&str>,
    logical: Option<&str>,
    physical: Option<&str>,
) -> Result<String, ApiError> {
    let stack = match (stack, physical) {
        (Some(name), _) => find_stack(registry, name)?,
        (None, Some(physical)) => {
            let owner = registry
                .resources()?
                .into_iter()
                .find(|r| r.physical_id == physical)
                .ok_or_else(|| validation(format!("Stack for {physical} does not exist")))?;
            find_stack(registry, &owner.stack)?
        }
        (None, None) => {
            return Err(validation(
                "Either StackName or PhysicalResourceId must be specified",
            ))
        }
    };
    let mut out = String::from("<StackResources>");
    for r in registry.stack_resources(&stack.name)? {
        if logical.is_some_and(|l| l != r.resource.logical_id)
            || physical.is_some_and(|p| p != r.resource.physical_id)
        {
            continue;
        }
        out.push_str(&format!(
            "<member>{}{}{}{}{}{}{}</member>",
            el("StackName", Some(&stack.name)),
            el("StackId", Some(&stack.stack_id)),
            el("LogicalResourceId", Some(&r.resource.logical_id)),
            el("PhysicalResourceId", Some(&r.resource.physical_id)),
            el("ResourceType", Some(&r.resource.type_)),
            el("Timestamp", Some(&iso8601(r.updated_ms))),
            el("ResourceStatus", Some(&r.status)),
        ));
    }
    out.push_str("</StackResources>");
    Ok(out)
}

fn describe_stack_resource(
    registry: &Registry,
    stack: &str,
    logical: &str,
) -> Result<String, ApiError> {
    let s = find_stack(registry, stack)?;
    let r = registry
        .stack_resources(&s.name)?
        .into_iter()
        .find(|r| r.resource.logical_id == logical)
        .ok_or_else(|| {
            validation(format!(
                "Resource {logical} does not exist for stack {}",
                s.name
            ))
        })?;
    let metadata = r.resource.metadata.as_ref().map(|m| m.to_string());
    Ok(format!(
        "<StackResourceDetail>{}{}{}{}{}{}{}{}</StackResourceDetail>",
        el("StackName", Some(&s.name)),
        el("StackId", Some(&s.stack_id)),
        el("LogicalResourceId", Some(&r.resource.logical_id)),
        el("PhysicalResourceId", Some(&r.resource.physical_id)),
        el("ResourceType", Some(&r.resource.type_)),
        el("LastUpdatedTimestamp", Some(&iso8601(r.updated_ms))),
        el("ResourceStatus", Some(&r.status)),
        el("Metadata", metadata.as_deref()),
    ))
}

fn list_stack_resources(registry: &Registry, stack: &str) -> Result<String, ApiError> {
    let s = find_stack(registry, stack)?;
    let mut out = String::from("<StackResourceSummaries>");
    for r in registry.stack_resources(&s.name)? {
        out.push_str(&format!(
            "<member>{}{}{}{}{}</member>",
            el("LogicalResourceId", Some(&r.resource.logical_id)),
            el("PhysicalResourceId", Some(&r.resource.physical_id)),
            el("ResourceType", Some(&r.resource.type_)),
            el("LastUpdatedTimestamp", Some(&iso8601(r.updated_ms))),
            el("ResourceStatus", Some(&r.status)),
        ));
    }
    out.push_str("</StackResourceSummaries>");
    Ok(out)
}

fn describe_stack_events(registry: &Registry, stack: Option<&str>) -> Result<String, ApiError> {
    let stack = match stack {
        Some(name) => Some(find_stack(registry, name)?.name),
        None => None,
    };
    let mut out = String::from("<StackEvents>");
    for e in registry.events(stack.as_deref())? {
        out.push_str(&format!(
            "<member>{}{}{}{}{}{}{}{}{}</member>",
            el("StackId", Some(&e.stack_id)),
            el("EventId", Some(&e.event_id)),
            el("StackName", Some(&e.stack)),
            el("LogicalResourceId", Some(&e.logical_id)),
            el("PhysicalResourceId", Some(&e.physical_id)),
            el("ResourceType", Some(&e.type_)),
            el("Timestamp", Some(&iso8601(e.timestamp_ms))),
            el("ResourceStatus", Some(&e.status)),
            el("ResourceStatusReason", e.reason.as_deref()),
        ));
    }
    out.push_str("</StackEvents>");
    Ok(out)
}

fn list_exports(registry: &Registry) -> Result<String, ApiError> {
    let mut out = String::from("<Exports>");
    for e in registry.exports()? {
        out.push_str(&format!(
            "<member>{}{}{}</member>",
            el("ExportingStackId", Some(&e.stack_id)),
            el("Name", Some(&e.name)),
            el("Value", Some(&e.value)),
        ));
    }
    out.push_str("</Exports>");
    Ok(out)
}

fn list_imports(registry: &Registry, export: &str) -> Result<String, ApiError> {
    let importers: Vec<String> = registry
        .imports()?
        .into_iter()
        .filter(|i| i.export == export)
        .map(|i| i.stack)
        .collect();
    if importers.is_empty() {
        return Err(validation(format!(
            "Export '{export}' is not imported by any stack."
        )));
    }
    let members: String = importers
        .iter()
        .map(|s| format!("<member>{}</member>", xml_escape(s)))
        .collect();
    Ok(format!("<Imports>{members}</Imports>"))
}

fn get_template(registry: &Registry, stack: &str) -> Result<String, ApiError> {
    let s = find_stack(registry, stack)?;
    let body = registry.template(&s.name)?.unwrap_or_default();
    Ok(format!(
        "{}<StagesAvailable><member>Original</member><member>Processed</member></StagesAvailable>",
        el("TemplateBody", Some(&body))
    ))
}

/// CloudFormation's XML error document.
pub fn render_error(error: &ApiError, request_id: &str) -> Response<Full<Bytes>> {
    let fault = if error.sender_fault {
        "Sender"
    } else {
        "Receiver"
    };
    let body = format!(
        "<ErrorResponse xmlns=\"{XMLNS}\"><Error><Type>{fault}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
        xml_escape(error.query_code.as_deref().unwrap_or(&error.code)),
        xml_escape(&error.message)
    );
    Response::builder()
        .status(error.status)
        .header("content-type", "text/xml")
        .header("x-amzn-RequestId", request_id)
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| {
            let mut r = Response::new(Full::new(Bytes::from_static(b"internal error")));
            *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            r
        })
}

#[cfg(test)]
mod tests {
    use super::iso8601;

    #[test]
    fn timestamps_are_iso8601_utc() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
