//! Service rules checked on the resolved project, across stacks: schedules, SQS and DynamoDB
//! limits and names, SQS triggers against visibility timeouts, environment variables that name
//! tables or queues no stack creates, function code folders, and types the local cloud does not
//! run. Event-source and data-flow edges of the graph are found here too, since they come from the
//! same matching of resolved values to resources.

use crate::diag::Diagnostic;
use crate::graph::{EdgeKind, Graph};
use crate::project::{Resource, Stack};
use crate::resolve::stringify;
use crate::schedule;
use crate::types;
use serde_json::Value;
use std::collections::HashMap;

/// A queue or table of some stack, by the values that identify it.
struct Target<'p> {
    node: Option<usize>,
    kind: &'static str,
    name: &'p str,
    stack: &'p Stack,
    resource: &'p Resource,
}

fn int(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A finding about `property` of `r`. For resources the SAM transform generated, the logical id
/// and path are those of the serverless function's event, where the author wrote the value.
fn diag(
    code: &'static str,
    stack: &Stack,
    r: &Resource,
    property: &str,
    msg: String,
) -> Diagnostic {
    if let (Some(origin), Some(sam_path)) = (&r.sam_origin, &r.sam_path) {
        let sam_property = match property {
            "ScheduleExpression" => ".Properties.Schedule",
            "EventSourceArn" => ".Properties.Queue",
            "BatchSize" => ".Properties.BatchSize",
            _ => "",
        };
        return Diagnostic::new(code, r.span_of(property), msg)
            .at(Some(origin), format!("{sam_path}{sam_property}"));
    }
    let path = if property.is_empty() {
        format!("Resources.{}", r.logical_id)
    } else {
        format!("Resources.{}.Properties.{property}", r.logical_id)
    };
    let _ = stack;
    Diagnostic::new(code, r.span_of(property), msg).at(Some(&r.logical_id), path)
}

pub(crate) fn run(
    stacks: &[Stack],
    graph: &mut Graph,
    exists: &dyn Fn(&str) -> bool,
    diags: &mut Vec<Diagnostic>,
) {
    // Index queues, tables and functions by every value that names them.
    let mut by_value: HashMap<String, Vec<Target>> = HashMap::new();
    let mut functions: HashMap<String, (usize, &Stack, &Resource)> = HashMap::new();
    for s in stacks {
        for r in s.resources.values() {
            let node = graph.node(s.id, &r.logical_id);
            let kind = match r.type_.as_str() {
                "AWS::SQS::Queue" => "queue",
                "AWS::DynamoDB::Table" => "table",
                "AWS::Lambda::Function" => {
                    if let Some(n) = node {
                        for key in [
                            Some(r.physical_name.clone()),
                            r.attributes.get("Arn").and_then(stringify),
                        ]
                        .into_iter()
                        .flatten()
                        {
                            functions.insert(key, (n, s, r));
                        }
                    }
                    continue;
                }
                _ => continue,
            };
            let mut keys = vec![r.physical_name.clone()];
            keys.extend(stringify(&r.ref_value));
            keys.extend(r.attributes.values().filter_map(stringify));
            keys.sort();
            keys.dedup();
            for k in keys {
                by_value.entry(k).or_default().push(Target {
                    node,
                    kind,
                    name: &r.physical_name,
                    stack: s,
                    resource: r,
                });
            }
        }
    }
    let names_of = |kind: &str| -> Vec<(&str, &Stack, &Resource)> {
        let mut v: Vec<(&str, &Stack, &Resource)> = by_value
            .values()
            .flatten()
            .filter(|t| t.kind == kind)
            .map(|t| (t.name, t.stack, t.resource))
            .collect();
        v.sort_by_key(|(n, _, _)| *n);
        v.dedup_by_key(|(n, _, _)| *n);
        v
    };
    let tables = names_of("table");
    let queues = names_of("queue");
    let mut unsupported: Vec<(&Stack, &Resource)> = Vec::new();
    // Named resources of one type share one namespace per account and region.
    let mut names: HashMap<(&str, &str), (&Stack, &Resource)> = HashMap::new();
    for s in stacks {
        for r in s.resources.values() {
            let Some(prop) = types::name_property(&r.type_) else {
                continue;
            };
            if r.type_ == "AWS::IAM::Policy" || r.properties.get(prop).is_none() {
                continue;
            }
            match names.get(&(r.type_.as_str(), r.physical_name.as_str())) {
                Some((fs, fr)) => diags.push(
                    diag(
                        "E4006",
                        s,
                        r,
                        prop,
                        format!(
                            "{} `{}` is also created by {} ({}:{})",
                            r.type_,
                            r.physical_name,
                            fs.qualified(&fr.logical_id),
                            fr.span.file,
                            fr.span.line
                        ),
                    )
                    .help("physical names are unique per account and region; rename one"),
                ),
                None => {
                    names.insert((r.type_.as_str(), r.physical_name.as_str()), (s, r));
                }
            }
        }
    }

    for s in stacks {
        for r in s.resources.values() {
            let p = &r.properties;
            if !types::runs_locally(&r.type_) {
                unsupported.push((s, r));
            }
            match r.type_.as_str() {
                "AWS::Events::Rule" => {
                    if let Some(expr) = p.get("ScheduleExpression").and_then(Value::as_str) {
                        if let Err(e) = schedule::check(expr) {
                            diags.push(diag("E5001", s, r, "ScheduleExpression", format!("invalid schedule expression: {e}")).help("see `rate(value unit)` and `cron(...)` in the EventBridge schedule expression rules"));
                        }
                    }
                    for t in p
                        .get("Targets")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        if let (Some(from), Some((to, _, _))) = (
                            graph.node(s.id, &r.logical_id),
                            t.get("Arn")
                                .and_then(stringify)
                                .and_then(|a| functions.get(&a)),
                        ) {
                            graph.add_edge(from, *to, EdgeKind::EventSource);
                        }
                    }
                }
                "AWS::SQS::Queue" => queue_rules(s, r, diags),
                "AWS::DynamoDB::Table" => table_rules(s, r, diags),
                "AWS::Lambda::EventSourceMapping" => {
                    let source = p
                        .get("EventSourceArn")
                        .and_then(stringify)
                        .and_then(|a| by_value.get(&a))
                        .and_then(|v| v.first());
                    let function = p
                        .get("FunctionName")
                        .and_then(stringify)
                        .and_then(|f| functions.get(&f));
                    if let (Some(src), Some((fnode, fstack, f))) = (source, function) {
                        if let Some(n) = src.node {
                            graph.add_edge(n, *fnode, EdgeKind::EventSource);
                        }
                        if src.kind == "queue" {
                            let timeout = int(f.properties.get("Timeout")).unwrap_or(3);
                            let visibility =
                                int(src.resource.properties.get("VisibilityTimeout")).unwrap_or(30);
                            if timeout > visibility {
                                let q = src.stack.qualified(&src.resource.logical_id);
                                diags.push(
                                    diag("E5002", fstack, f, "Timeout", format!("function Timeout {timeout} s exceeds the VisibilityTimeout {visibility} s of its SQS source `{}` ({q})", src.name))
                                        .help("AWS rejects the event source mapping; raise the queue's VisibilityTimeout (6 x the Timeout is AWS's advice) or lower the Timeout"),
                                );
                            }
                            let batch = int(p.get("BatchSize")).unwrap_or(10);
                            let window = int(p.get("MaximumBatchingWindowInSeconds")).unwrap_or(0);
                            if batch > 10 && window < 1 {
                                diags.push(diag("E5007", s, r, "BatchSize", format!("BatchSize {batch} above 10 needs MaximumBatchingWindowInSeconds of at least 1")));
                            }
                        }
                    }
                }
                "AWS::Lambda::Function" => {
                    if let Some(code) = &r.code_uri {
                        if !exists(code) {
                            let span = r.code_uri_span.as_ref().unwrap_or(&r.span);
                            diags.push(
                                Diagnostic::new(
                                    "W5002",
                                    span,
                                    format!("CodeUri folder `{code}` does not exist"),
                                )
                                .at(
                                    Some(&r.logical_id),
                                    format!("Resources.{}.Properties.CodeUri", r.logical_id),
                                )
                                .help("create the function's crate there, or point CodeUri at it"),
                            );
                        }
                    }
                    let Some(vars) = p
                        .pointer("/Environment/Variables")
                        .and_then(Value::as_object)
                    else {
                        continue;
                    };
                    let from = graph.node(s.id, &r.logical_id);
                    for (name, value) in vars {
                        let Some(value) = stringify(value) else {
                            continue;
                        };
                        let upper = name.to_ascii_uppercase();
                        let words: Vec<&str> =
                            upper.split(|c: char| !c.is_ascii_alphanumeric()).collect();
                        let kind = if words
                            .iter()
                            .any(|w| matches!(*w, "DB" | "TABLE" | "DYNAMODB" | "DDB"))
                        {
                            "table"
                        } else if words.iter().any(|w| matches!(*w, "SQS" | "QUEUE")) {
                            "queue"
                        } else {
                            continue;
                        };
                        if let Some(t) = by_value
                            .get(&value)
                            .and_then(|v| v.iter().find(|t| t.kind == kind))
                        {
                            if let (Some(f), Some(to)) = (from, t.node) {
                                graph.add_edge(f, to, EdgeKind::DataFlow);
                            }
                            continue;
                        }
                        // A queue URL or ARN names the queue by its last segment.
                        let short = value
                            .rsplit(['/', ':'])
                            .next()
                            .unwrap_or(&value)
                            .to_string();
                        let pool = if kind == "table" { &tables } else { &queues };
                        let best = pool
                            .iter()
                            .map(|(n, st, res)| {
                                (strsim::normalized_levenshtein(&short, n), *n, *st, *res)
                            })
                            .filter(|(score, ..)| *score >= 0.5)
                            .max_by(|a, b| a.0.total_cmp(&b.0));
                        let property = format!("Environment.Variables.{name}");
                        let mut d = diag("W5001", s, r, &property, format!("environment variable `{name}` names {kind} `{value}`, which no stack creates"));
                        if let Some((_, n, st, res)) = best {
                            d = d.help(format!(
                                "did you mean `{n}`? ({} at {}:{})",
                                st.qualified(&res.logical_id),
                                res.span.file,
                                res.span.line
                            ));
                        } else {
                            d = d.help(format!(
                                "create the {kind} in one of the stacks, or fix the name"
                            ));
                        }
                        diags.push(d);
                    }
                }
                _ => {}
            }
        }
    }
    if let Some((s, r)) = unsupported.first() {
        let mut types: Vec<String> = Vec::new();
        for (_, r) in &unsupported {
            let count = unsupported
                .iter()
                .filter(|(_, x)| x.type_ == r.type_)
                .count();
            let entry = format!("{} ({count})", r.type_);
            if !types.contains(&entry) {
                types.push(entry);
            }
        }
        let list: Vec<String> = unsupported
            .iter()
            .map(|(s, r)| s.qualified(&r.logical_id))
            .collect();
        diags.push(
            diag("W5003", s, r, "", format!("the local cloud does not run {}: {}", types.join(", "), list.join(", ")))
                .help("they validate and deploy to AWS, but `cascade up` skips them; the local cloud runs DynamoDB tables, SQS queues and policies, SNS topics and subscriptions, IAM roles and policies, Lambda functions, permissions and event source mappings, EventBridge rules, CloudWatch alarms and nested stacks"),
        );
    }
}

fn queue_rules(s: &Stack, r: &Resource, diags: &mut Vec<Diagnostic>) {
    let p = &r.properties;
    let fifo = p
        .get("FifoQueue")
        .is_some_and(|v| v == &Value::Bool(true) || v.as_str() == Some("true"));
    if p.get("QueueName").is_some() {
        let name = &r.physical_name;
        let base = name.strip_suffix(".fifo").unwrap_or(name);
        let mut problem = None;
        if name.is_empty() || name.chars().count() > 80 {
            problem = Some(format!(
                "is {} characters long; SQS allows 1 to 80",
                name.chars().count()
            ));
        } else if !base
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            problem = Some("may use only letters, digits, hyphens and underscores".to_string());
        } else if fifo && !name.ends_with(".fifo") {
            problem = Some("must end in `.fifo` for a FIFO queue".to_string());
        } else if !fifo && name.ends_with(".fifo") {
            problem = Some("ends in `.fifo` but FifoQueue is not true".to_string());
        }
        if let Some(problem) = problem {
            diags.push(diag(
                "E5005",
                s,
                r,
                "QueueName",
                format!("queue name `{name}` {problem}"),
            ));
        }
    }
    for (prop, min, max) in [
        ("VisibilityTimeout", 0, 43_200),
        ("MessageRetentionPeriod", 60, 1_209_600),
        ("DelaySeconds", 0, 900),
        ("ReceiveMessageWaitTimeSeconds", 0, 20),
        ("MaximumMessageSize", 1_024, 1_048_576),
    ] {
        if let Some(v) = int(p.get(prop)) {
            if v < min || v > max {
                diags.push(diag(
                    "E5005",
                    s,
                    r,
                    prop,
                    format!("{prop} {v} is outside {min} to {max}"),
                ));
            }
        }
    }
    if let Some(policy) = p.get("RedrivePolicy") {
        let policy = match policy {
            Value::String(text) => serde_json::from_str(text).unwrap_or(Value::Null),
            other => other.clone(),
        };
        match int(policy.get("maxReceiveCount")) {
            Some(n) if !(1..=1000).contains(&n) => {
                diags.push(diag("E5003", s, r, "RedrivePolicy.maxReceiveCount", format!("maxReceiveCount {n} is outside 1 to 1000")).help("a message must be received at least once before it moves to the dead-letter queue"));
            }
            // A count that was written but did not resolve is already reported.
            None if r.source.lookup("RedrivePolicy.maxReceiveCount").is_none() => {
                diags.push(diag(
                    "E5003",
                    s,
                    r,
                    "RedrivePolicy",
                    "RedrivePolicy needs a maxReceiveCount of 1 to 1000".to_string(),
                ));
            }
            _ => {}
        }
    }
}

fn table_rules(s: &Stack, r: &Resource, diags: &mut Vec<Diagnostic>) {
    let p = &r.properties;
    if p.get("TableName").is_some() {
        let name = &r.physical_name;
        let len = name.chars().count();
        if !(3..=255).contains(&len) {
            diags.push(diag(
                "E5006",
                s,
                r,
                "TableName",
                format!("table name `{name}` is {len} characters long; DynamoDB allows 3 to 255"),
            ));
        } else if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            diags.push(diag(
                "E5006",
                s,
                r,
                "TableName",
                format!("table name `{name}` may use only letters, digits, `_`, `-` and `.`"),
            ));
        }
    }
    let defs: HashMap<String, String> = p
        .get("AttributeDefinitions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| {
            Some((
                d.get("AttributeName").and_then(stringify)?,
                d.get("AttributeType")
                    .and_then(stringify)
                    .unwrap_or_default(),
            ))
        })
        .collect();
    for (i, d) in p
        .get("AttributeDefinitions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let t = d
            .get("AttributeType")
            .and_then(stringify)
            .unwrap_or_default();
        if !matches!(t.as_str(), "S" | "N" | "B") {
            diags.push(diag(
                "E5004",
                s,
                r,
                &format!("AttributeDefinitions.{i}.AttributeType"),
                format!("attribute type `{t}` must be S, N or B"),
            ));
        }
    }
    let mut schemas = vec![("KeySchema".to_string(), p.get("KeySchema"))];
    for index in ["GlobalSecondaryIndexes", "LocalSecondaryIndexes"] {
        for (i, ix) in p
            .get(index)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            schemas.push((format!("{index}.{i}.KeySchema"), ix.get("KeySchema")));
        }
    }
    for (prop, schema) in schemas {
        let Some(keys) = schema.and_then(Value::as_array) else {
            if prop == "KeySchema" {
                diags.push(diag(
                    "E5004",
                    s,
                    r,
                    "",
                    "a table needs a KeySchema".to_string(),
                ));
            }
            continue;
        };
        let kinds: Vec<String> = keys
            .iter()
            .map(|k| k.get("KeyType").and_then(stringify).unwrap_or_default())
            .collect();
        let ok = matches!(
            kinds.iter().map(String::as_str).collect::<Vec<_>>()[..],
            ["HASH"] | ["HASH", "RANGE"]
        );
        if !ok {
            diags.push(diag(
                "E5004",
                s,
                r,
                &prop,
                format!(
                    "key schema is [{}]; it must be one HASH key, or HASH then RANGE",
                    kinds.join(", ")
                ),
            ));
        }
        for (i, k) in keys.iter().enumerate() {
            let name = k
                .get("AttributeName")
                .and_then(stringify)
                .unwrap_or_default();
            if !defs.contains_key(&name) {
                diags.push(
                    diag("E5004", s, r, &format!("{prop}.{i}.AttributeName"), format!("key attribute `{name}` is not in AttributeDefinitions"))
                        .help(format!("add `{{AttributeName: {name}, AttributeType: S}}` (or N, B) to AttributeDefinitions")),
                );
            }
        }
    }
    for (property, consequence) in LOCALLY_IGNORED_TABLE_PROPERTIES {
        if p.get(property).is_some() {
            diags.push(
                diag(
                    "W5005",
                    s,
                    r,
                    property,
                    format!("the local cloud does not apply {property}: {consequence}"),
                )
                .help("it validates and deploys to AWS as written"),
            );
        }
    }
}

/// Table properties a local deploy leaves out, with what a local run then does differently.
const LOCALLY_IGNORED_TABLE_PROPERTIES: [(&str, &str); 3] = [
    ("GlobalSecondaryIndexes", NO_INDEX),
    ("LocalSecondaryIndexes", NO_INDEX),
    ("TimeToLiveSpecification", "items do not expire"),
];
const NO_INDEX: &str =
    "the table has no secondary index, and a Query or Scan with IndexName answers ValidationException";
