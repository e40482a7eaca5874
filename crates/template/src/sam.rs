//! The SAM transform (`AWS::Serverless-2016-10-31`) for `AWS::Serverless::Function`, done on the
//! unresolved tree so that the generated resources carry the author's intrinsics and positions:
//!
//! - `F` becomes an `AWS::Lambda::Function` (Globals.Function merged in first: scalars are
//!   overridden by the function, mappings merged, lists appended);
//! - `FRole`, an `AWS::IAM::Role`, unless `Role` is given, with the managed policies SAM attaches
//!   for the function's event sources and its dead-letter queue;
//! - per `Schedule` event `E`: `FE` (`AWS::Events::Rule`) and `FEPermission`
//!   (`AWS::Lambda::Permission`);
//! - per `SQS` or `DynamoDB` event `E`: `FE` (`AWS::Lambda::EventSourceMapping`);
//! - `DeadLetterQueue: {Type, TargetArn}` becomes `DeadLetterConfig: {TargetArn}`.
//!
//! `CodeUri` is kept on the resource (`RawResource::code_uri`) rather than turned into an S3
//! location: locally the code is built from that folder, and packaging for AWS rewrites it.

use crate::diag::Diagnostic;
use crate::model::{RawResource, Template};
use crate::node::{Key, Node, NodeKind, Span};
use indexmap::IndexMap;
use std::sync::Arc;

/// Properties of `AWS::Serverless::Function` copied unchanged to `AWS::Lambda::Function`.
const COPIED: &[&str] = &[
    "FunctionName",
    "Handler",
    "Runtime",
    "Description",
    "MemorySize",
    "Timeout",
    "Environment",
    "VpcConfig",
    "ReservedConcurrentExecutions",
    "Layers",
    "Architectures",
    "EphemeralStorage",
    "KmsKeyArn",
    "LoggingConfig",
    "ImageConfig",
    "PackageType",
    "FileSystemConfigs",
    "SnapStart",
    "RuntimeManagementConfig",
    "CodeSigningConfigArn",
];

/// Event types the local cloud runs; others are warned about.
const LOCAL_EVENTS: &[&str] = &["Schedule", "SQS", "DynamoDB"];

const BASIC_ROLE: &str = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";

/// Expands every serverless function of `t` in place.
pub fn transform(t: &mut Template) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    if !t
        .resources
        .values()
        .any(|r| r.type_ == "AWS::Serverless::Function")
    {
        return diags;
    }
    let globals = t.globals.as_ref().and_then(|g| g.get("Function")).cloned();
    let old = std::mem::take(&mut t.resources);
    let mut out = IndexMap::new();
    for (id, r) in old {
        if r.type_ != "AWS::Serverless::Function" {
            out.insert(id, r);
            continue;
        }
        for g in function(r, globals.as_ref(), &mut diags) {
            out.insert(g.logical_id.clone(), g);
        }
    }
    t.resources = out;
    diags
}

/// Globals merged under the function's own properties.
fn merge(global: &Node, own: &Node) -> Node {
    match (&global.kind, &own.kind) {
        (NodeKind::Map(g), NodeKind::Map(o))
            if own.intrinsic().is_none() && global.intrinsic().is_none() =>
        {
            let mut entries: Vec<(Key, Node)> = Vec::new();
            for (k, v) in g {
                match o.iter().find(|(ok, _)| ok.name == k.name) {
                    Some((ok, ov)) => entries.push((ok.clone(), merge(v, ov))),
                    None => entries.push((k.clone(), v.clone())),
                }
            }
            for (k, v) in o {
                if !entries.iter().any(|(ek, _)| ek.name == k.name) {
                    entries.push((k.clone(), v.clone()));
                }
            }
            Node::new(NodeKind::Map(entries), own.span.clone())
        }
        (NodeKind::Seq(g), NodeKind::Seq(o)) => Node::new(
            NodeKind::Seq(g.iter().chain(o).cloned().collect()),
            own.span.clone(),
        ),
        _ => own.clone(),
    }
}

fn s(text: &str, span: &Span) -> Node {
    Node::str(text, span.clone())
}

fn seq(items: Vec<Node>, span: &Span) -> Node {
    Node::new(NodeKind::Seq(items), span.clone())
}

fn getatt(id: &str, attr: &str, span: &Span) -> Node {
    Node::call(
        "Fn::GetAtt",
        seq(vec![s(id, span), s(attr, span)], span),
        span.clone(),
    )
}

fn reference(id: &str, span: &Span) -> Node {
    Node::call("Ref", s(id, span), span.clone())
}

fn generated<K: Into<String>>(
    base: &RawResource,
    sam_path: &str,
    id: String,
    type_: &str,
    props: Vec<(K, Node)>,
    span: &Span,
) -> RawResource {
    RawResource {
        logical_id: id,
        span: span.clone(),
        type_: type_.to_string(),
        type_span: span.clone(),
        properties: Arc::new(Node::map(props, span.clone())),
        depends_on: Vec::new(),
        condition: base.condition.clone(),
        deletion_policy: None,
        update_replace_policy: None,
        metadata: None,
        sam_origin: Some(base.logical_id.clone()),
        sam_path: Some(sam_path.to_string()),
        code_uri: None,
    }
}

fn function(
    r: RawResource,
    globals: Option<&Node>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<RawResource> {
    let id = r.logical_id.clone();
    let span = r.span.clone();
    let props = match globals {
        Some(g) => merge(g, &r.properties),
        None => (*r.properties).clone(),
    };
    let path = format!("Resources.{id}.Properties");
    let mut lambda_props: Vec<(Key, Node)> = Vec::new();
    for (k, v) in props.as_map().unwrap_or(&[]) {
        if COPIED.contains(&k.name.as_str()) {
            lambda_props.push((k.clone(), v.clone()));
        }
    }
    let mut push = |name: &str, node: Node| {
        lambda_props.push((
            Key {
                name: name.to_string(),
                span: node.span.clone(),
            },
            node,
        ))
    };
    if let Some(code) = props.get("InlineCode") {
        push(
            "Code",
            Node::map(vec![("ZipFile", code.clone())], code.span.clone()),
        );
    }
    if let Some(mode) = props.get("Tracing") {
        push(
            "TracingConfig",
            Node::map(vec![("Mode", mode.clone())], mode.span.clone()),
        );
    }
    if let Some(tags) = props.get("Tags").and_then(Node::as_map) {
        let list = tags
            .iter()
            .map(|(k, v)| {
                Node::map(
                    vec![("Key", s(&k.name, &k.span)), ("Value", v.clone())],
                    k.span.clone(),
                )
            })
            .collect();
        push("Tags", seq(list, &span));
    }
    let mut managed = vec![s(BASIC_ROLE, &span)];
    let mut inline = Vec::new();
    if let Some(dlq) = props.get("DeadLetterQueue") {
        let kind = dlq.get("Type").and_then(Node::scalar_text);
        match (kind.as_deref(), dlq.get("TargetArn")) {
            (Some(k @ ("SQS" | "SNS")), Some(target)) => {
                push(
                    "DeadLetterConfig",
                    Node::map(vec![("TargetArn", target.clone())], dlq.span.clone()),
                );
                let action = if k == "SQS" {
                    "sqs:SendMessage"
                } else {
                    "sns:Publish"
                };
                inline.push(statement(action, target.clone(), &dlq.span));
            }
            _ => diags.push(
                Diagnostic::new(
                    "E5007",
                    &dlq.span,
                    "DeadLetterQueue needs `Type: SQS|SNS` and `TargetArn`",
                )
                .at(Some(&id), format!("{path}.DeadLetterQueue")),
            ),
        }
    }
    let mut extra = Vec::new();
    for (ek, ev) in props.get("Events").and_then(Node::as_map).unwrap_or(&[]) {
        let epath = format!("{path}.Events.{}", ek.name);
        let etype = ev
            .get("Type")
            .and_then(Node::scalar_text)
            .unwrap_or_default();
        let eprops = ev
            .get("Properties")
            .cloned()
            .unwrap_or_else(|| Node::new(NodeKind::Map(Vec::new()), ev.span.clone()));
        let gid = format!("{id}{}", ek.name);
        let espan = ev.span.clone();
        match etype.as_str() {
            "Schedule" => {
                let Some(expr) = eprops.get("Schedule") else {
                    diags.push(
                        Diagnostic::new(
                            "E5007",
                            &espan,
                            "a Schedule event needs `Properties.Schedule`",
                        )
                        .at(Some(&id), epath),
                    );
                    continue;
                };
                let enabled = match eprops.get("Enabled").map(|n| &n.kind) {
                    Some(NodeKind::Bool(false)) => "DISABLED",
                    _ => "ENABLED",
                };
                let state = eprops
                    .get("State")
                    .cloned()
                    .unwrap_or_else(|| s(enabled, &espan));
                let mut target = vec![
                    ("Arn", getatt(&id, "Arn", &espan)),
                    ("Id", s(&format!("{gid}LambdaTarget"), &espan)),
                ];
                if let Some(input) = eprops.get("Input") {
                    target.push(("Input", input.clone()));
                }
                let mut rule = vec![
                    ("ScheduleExpression", expr.clone()),
                    ("State", state),
                    (
                        "Targets",
                        seq(vec![Node::map(target, espan.clone())], &espan),
                    ),
                ];
                for k in ["Name", "Description"] {
                    if let Some(v) = eprops.get(k) {
                        rule.push((k, v.clone()));
                    }
                }
                extra.push(generated(
                    &r,
                    &epath,
                    gid.clone(),
                    "AWS::Events::Rule",
                    rule,
                    &espan,
                ));
                let perm = vec![
                    ("Action", s("lambda:InvokeFunction", &espan)),
                    ("FunctionName", reference(&id, &espan)),
                    ("Principal", s("events.amazonaws.com", &espan)),
                    ("SourceArn", getatt(&gid, "Arn", &espan)),
                ];
                extra.push(generated(
                    &r,
                    &epath,
                    format!("{gid}Permission"),
                    "AWS::Lambda::Permission",
                    perm,
                    &espan,
                ));
            }
            "SQS" | "DynamoDB" => {
                let (source_key, policy) = if etype == "SQS" {
                    (
                        "Queue",
                        "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
                    )
                } else {
                    (
                        "Stream",
                        "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole",
                    )
                };
                let Some(source) = eprops.get(source_key) else {
                    diags.push(
                        Diagnostic::new(
                            "E5007",
                            &espan,
                            format!("an {etype} event needs `Properties.{source_key}`"),
                        )
                        .at(Some(&id), epath),
                    );
                    continue;
                };
                // Event source mapping properties have the same names in SAM and CloudFormation.
                let mut esm = vec![
                    ("EventSourceArn".to_string(), source.clone()),
                    ("FunctionName".to_string(), reference(&id, &espan)),
                ];
                for (k, v) in eprops.as_map().unwrap_or(&[]) {
                    if k.name != source_key {
                        esm.push((k.name.clone(), v.clone()));
                    }
                }
                extra.push(generated(
                    &r,
                    &epath,
                    gid,
                    "AWS::Lambda::EventSourceMapping",
                    esm,
                    &espan,
                ));
                if !managed.iter().any(|m| m.as_str() == Some(policy)) {
                    managed.push(s(policy, &espan));
                }
            }
            other => diags.push(
                Diagnostic::new(
                    "W5003",
                    &espan,
                    format!("event type `{other}` is not run by the local cloud"),
                )
                .at(Some(&id), format!("{epath}.Type"))
                .help(format!(
                    "the local cloud runs {} events",
                    LOCAL_EVENTS.join(", ")
                )),
            ),
        }
    }
    let mut out = Vec::new();
    match props.get("Role") {
        Some(role) => push("Role", role.clone()),
        None => {
            push("Role", getatt(&format!("{id}Role"), "Arn", &span));
            for p in props
                .get("Policies")
                .map(|p| match &p.kind {
                    NodeKind::Seq(items) => items.clone(),
                    _ => vec![p.clone()],
                })
                .unwrap_or_default()
            {
                match &p.kind {
                    NodeKind::Str(name) if name.starts_with("arn:") => managed.push(p.clone()),
                    NodeKind::Str(name) => {
                        managed.push(s(&format!("arn:aws:iam::aws:policy/{name}"), &p.span))
                    }
                    NodeKind::Map(_) if p.get("Statement").is_some() => inline.push(p.clone()),
                    NodeKind::Map(entries) if entries.len() == 1 && p.intrinsic().is_none() => {
                        let (name, args) = (&entries[0].0, &entries[0].1);
                        match policy_template(&name.name, args, &p.span) {
                            Some(doc) => inline.push(doc),
                            None => diags.push(
                                Diagnostic::new(
                                    "W5004",
                                    &name.span,
                                    format!("SAM policy template `{}` is not known to cascade; it is left out of the role", name.name),
                                )
                                .at(Some(&id), format!("{path}.Policies"))
                                .help(format!("known templates: {}; or write the statement out", POLICY_TEMPLATES.join(", "))),
                            ),
                        }
                    }
                    _ => managed.push(p.clone()),
                }
            }
            let assume = Node::map(
                vec![
                    ("Version", s("2012-10-17", &span)),
                    (
                        "Statement",
                        seq(
                            vec![Node::map(
                                vec![
                                    ("Effect", s("Allow", &span)),
                                    (
                                        "Principal",
                                        Node::map(
                                            vec![(
                                                "Service",
                                                seq(vec![s("lambda.amazonaws.com", &span)], &span),
                                            )],
                                            span.clone(),
                                        ),
                                    ),
                                    ("Action", seq(vec![s("sts:AssumeRole", &span)], &span)),
                                ],
                                span.clone(),
                            )],
                            &span,
                        ),
                    ),
                ],
                span.clone(),
            );
            let mut role = vec![
                ("AssumeRolePolicyDocument", assume),
                ("ManagedPolicyArns", seq(managed, &span)),
            ];
            if !inline.is_empty() {
                let policies = inline
                    .into_iter()
                    .enumerate()
                    .map(|(i, doc)| {
                        Node::map(
                            vec![
                                ("PolicyName", s(&format!("{id}RolePolicy{i}"), &doc.span)),
                                ("PolicyDocument", doc.clone()),
                            ],
                            doc.span.clone(),
                        )
                    })
                    .collect();
                role.push(("Policies", seq(policies, &span)));
            }
            out.push(generated(
                &r,
                &format!("Resources.{id}"),
                format!("{id}Role"),
                "AWS::IAM::Role",
                role,
                &span,
            ));
        }
    }
    let code_uri = props.get("CodeUri").cloned();
    let mut f = r;
    f.type_ = "AWS::Lambda::Function".to_string();
    f.properties = Arc::new(Node::new(
        NodeKind::Map(lambda_props),
        f.properties.span.clone(),
    ));
    f.sam_origin = Some(id.clone());
    f.code_uri = code_uri;
    out.insert(0, f);
    out.extend(extra);
    out
}

/// A policy document allowing `action` on `resource`.
fn statement(action: &str, resource: Node, span: &Span) -> Node {
    let st = Node::map(
        vec![
            ("Effect", s("Allow", span)),
            ("Action", s(action, span)),
            ("Resource", resource),
        ],
        span.clone(),
    );
    Node::map(
        vec![
            ("Version", s("2012-10-17", span)),
            ("Statement", seq(vec![st], span)),
        ],
        span.clone(),
    )
}

/// The SAM policy templates cascade expands (AWS's `policy_templates.json` has many more; these
/// are the ones for the services the local cloud runs).
const POLICY_TEMPLATES: &[&str] = &[
    "SQSPollerPolicy",
    "SQSSendMessagePolicy",
    "DynamoDBCrudPolicy",
    "DynamoDBReadPolicy",
    "DynamoDBWritePolicy",
    "DynamoDBStreamReadPolicy",
    "SNSPublishMessagePolicy",
    "LambdaInvokePolicy",
    "CloudWatchPutMetricPolicy",
];

/// The policy document of a SAM policy template, with its parameters substituted through
/// `Fn::Sub` so that intrinsics in them resolve like anywhere else.
fn policy_template(name: &str, args: &Node, span: &Span) -> Option<Node> {
    let (param, actions, resources): (&str, &[&str], &[&str]) = match name {
        "SQSPollerPolicy" => (
            "QueueName",
            &["sqs:ChangeMessageVisibility", "sqs:ChangeMessageVisibilityBatch", "sqs:DeleteMessage", "sqs:DeleteMessageBatch", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
            &["arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${QueueName}"],
        ),
        "SQSSendMessagePolicy" => ("QueueName", &["sqs:SendMessage*"], &["arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${QueueName}"]),
        "DynamoDBCrudPolicy" => (
            "TableName",
            &["dynamodb:GetItem", "dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:Scan", "dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem", "dynamodb:BatchGetItem", "dynamodb:DescribeTable", "dynamodb:ConditionCheckItem"],
            &["arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${TableName}", "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${TableName}/index/*"],
        ),
        "DynamoDBReadPolicy" => (
            "TableName",
            &["dynamodb:GetItem", "dynamodb:Scan", "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:DescribeTable"],
            &["arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${TableName}", "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${TableName}/index/*"],
        ),
        "DynamoDBWritePolicy" => (
            "TableName",
            &["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem"],
            &["arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${TableName}", "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${TableName}/index/*"],
        ),
        "DynamoDBStreamReadPolicy" => (
            "TableName",
            &["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"],
            &["arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${TableName}/stream/*"],
        ),
        "SNSPublishMessagePolicy" => ("TopicName", &["sns:Publish"], &["arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:${TopicName}"]),
        "LambdaInvokePolicy" => ("FunctionName", &["lambda:InvokeFunction"], &["arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${FunctionName}*"]),
        "CloudWatchPutMetricPolicy" => ("", &["cloudwatch:PutMetricData"], &["*"]),
        _ => return None,
    };
    let value = args.get(param).cloned().unwrap_or_else(|| s("", span));
    let resource = |template: &str| {
        if param.is_empty() {
            s(template, span)
        } else {
            let vars = Node::map(vec![(param, value.clone())], span.clone());
            Node::call(
                "Fn::Sub",
                seq(vec![s(template, span), vars], span),
                span.clone(),
            )
        }
    };
    let statement = Node::map(
        vec![
            ("Effect", s("Allow", span)),
            (
                "Action",
                seq(actions.iter().map(|a| s(a, span)).collect(), span),
            ),
            (
                "Resource",
                seq(resources.iter().map(|r| resource(r)).collect(), span),
            ),
        ],
        span.clone(),
    );
    Some(Node::map(
        vec![
            ("Version", s("2012-10-17", span)),
            ("Statement", seq(vec![statement], span)),
        ],
        span.clone(),
    ))
}
