//! What the engine knows about each resource type: which property names the resource, what `Ref`
//! returns, which `Fn::GetAtt` attributes exist and their AWS-shaped values, and whether the local
//! cloud runs it.
//!
//! Physical names: a resource with a name property uses it; one without gets
//! `<stack name>-<LogicalId>` (AWS adds a random suffix; locally names must be stable across runs).
//! `Ref` of a queue is its AWS URL, `https://sqs.<region>.amazonaws.com/<account>/<name>`: the
//! local cloud accepts that URL as well as its own endpoint's, so one value works in both places.

use serde_json::{json, Value};

/// Account, region and partition every ARN is built from.
#[derive(Clone, Debug)]
pub struct Env {
    pub account: String,
    pub region: String,
}

/// What `Ref` returns for a type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RefShape {
    Name,
    Arn,
    QueueUrl,
    Id,
}

struct TypeInfo {
    name: &'static str,
    name_property: Option<&'static str>,
    reference: RefShape,
    attributes: &'static [&'static str],
    local: bool,
}

const TYPES: &[TypeInfo] = &[
    TypeInfo {
        name: "AWS::SQS::Queue",
        name_property: Some("QueueName"),
        reference: RefShape::QueueUrl,
        attributes: &["Arn", "QueueName", "QueueUrl"],
        local: true,
    },
    TypeInfo {
        name: "AWS::SQS::QueuePolicy",
        name_property: None,
        reference: RefShape::Id,
        attributes: &["Id"],
        local: true,
    },
    TypeInfo {
        name: "AWS::DynamoDB::Table",
        name_property: Some("TableName"),
        reference: RefShape::Name,
        attributes: &["Arn", "StreamArn"],
        local: true,
    },
    TypeInfo {
        name: "AWS::SNS::Topic",
        name_property: Some("TopicName"),
        reference: RefShape::Arn,
        attributes: &["TopicArn", "TopicName"],
        local: true,
    },
    TypeInfo {
        name: "AWS::SNS::Subscription",
        name_property: None,
        reference: RefShape::Arn,
        attributes: &["Arn"],
        local: true,
    },
    TypeInfo {
        name: "AWS::SNS::TopicPolicy",
        name_property: None,
        reference: RefShape::Id,
        attributes: &["Id"],
        local: true,
    },
    TypeInfo {
        name: "AWS::IAM::Role",
        name_property: Some("RoleName"),
        reference: RefShape::Name,
        attributes: &["Arn", "RoleId"],
        local: true,
    },
    TypeInfo {
        name: "AWS::IAM::Policy",
        name_property: Some("PolicyName"),
        reference: RefShape::Name,
        attributes: &["Id"],
        local: true,
    },
    TypeInfo {
        name: "AWS::IAM::ManagedPolicy",
        name_property: Some("ManagedPolicyName"),
        reference: RefShape::Arn,
        attributes: &[
            "PolicyArn",
            "PolicyId",
            "DefaultVersionId",
            "AttachmentCount",
            "CreateDate",
            "IsAttachable",
            "PermissionsBoundaryUsageCount",
            "Path",
            "UpdateDate",
        ],
        local: true,
    },
    TypeInfo {
        name: "AWS::Lambda::Function",
        name_property: Some("FunctionName"),
        reference: RefShape::Name,
        attributes: &[
            "Arn",
            "SnapStartResponse",
            "SnapStartResponse.ApplyOn",
            "SnapStartResponse.OptimizationStatus",
        ],
        local: true,
    },
    TypeInfo {
        name: "AWS::Lambda::Permission",
        name_property: None,
        reference: RefShape::Id,
        attributes: &["Id"],
        local: true,
    },
    TypeInfo {
        name: "AWS::Lambda::EventSourceMapping",
        name_property: None,
        reference: RefShape::Id,
        attributes: &["Id", "EventSourceMappingArn"],
        local: true,
    },
    TypeInfo {
        name: "AWS::Events::Rule",
        name_property: Some("Name"),
        reference: RefShape::Name,
        attributes: &["Arn"],
        local: true,
    },
    TypeInfo {
        name: "AWS::CloudWatch::Alarm",
        name_property: Some("AlarmName"),
        reference: RefShape::Name,
        attributes: &["Arn"],
        local: true,
    },
    TypeInfo {
        name: "AWS::CloudFormation::Stack",
        name_property: None,
        reference: RefShape::Arn,
        attributes: &[],
        local: true,
    },
    TypeInfo {
        name: "AWS::Serverless::Function",
        name_property: Some("FunctionName"),
        reference: RefShape::Name,
        attributes: &["Arn"],
        local: true,
    },
];

/// Whether the local cloud deploys and runs resources of this type.
pub fn runs_locally(type_: &str) -> bool {
    TYPES.iter().any(|t| t.name == type_ && t.local)
}

/// Whether the engine knows the attributes of this type (only then is a GetAtt checked).
pub fn is_known(type_: &str) -> bool {
    TYPES.iter().any(|t| t.name == type_)
}

/// The property that names resources of this type, if any.
pub fn name_property(type_: &str) -> Option<&'static str> {
    TYPES
        .iter()
        .find(|t| t.name == type_)
        .and_then(|t| t.name_property)
}

/// The attributes a type has, `None` when the type is not in the catalogue.
pub fn attributes(type_: &str) -> Option<&'static [&'static str]> {
    TYPES.iter().find(|t| t.name == type_).map(|t| t.attributes)
}

/// The generated name of a resource with no name property, as `<stack>-<LogicalId>`, cut to the
/// shortest name limit among the types (SQS and IAM roles: 64 to 80 characters).
pub fn generated_name(stack_name: &str, logical_id: &str) -> String {
    let mut name = format!("{stack_name}-{logical_id}");
    name.truncate(64);
    name
}

/// The ARN of a resource of `type_` named `name`.
pub fn arn(env: &Env, type_: &str, name: &str, stack_name: &str, logical_id: &str) -> String {
    let (r, a) = (&env.region, &env.account);
    match type_ {
        "AWS::SQS::Queue" => format!("arn:aws:sqs:{r}:{a}:{name}"),
        "AWS::DynamoDB::Table" => format!("arn:aws:dynamodb:{r}:{a}:table/{name}"),
        "AWS::SNS::Topic" => format!("arn:aws:sns:{r}:{a}:{name}"),
        "AWS::SNS::Subscription" => format!("arn:aws:sns:{r}:{a}:{stack_name}-{logical_id}:{name}"),
        "AWS::IAM::Role" => format!("arn:aws:iam::{a}:role/{name}"),
        "AWS::IAM::ManagedPolicy" => format!("arn:aws:iam::{a}:policy/{name}"),
        "AWS::Lambda::Function" | "AWS::Serverless::Function" => {
            format!("arn:aws:lambda:{r}:{a}:function:{name}")
        }
        "AWS::Lambda::EventSourceMapping" => {
            format!("arn:aws:lambda:{r}:{a}:event-source-mapping:{name}")
        }
        "AWS::Events::Rule" => format!("arn:aws:events:{r}:{a}:rule/{name}"),
        "AWS::CloudWatch::Alarm" => format!("arn:aws:cloudwatch:{r}:{a}:alarm:{name}"),
        "AWS::CloudFormation::Stack" => format!(
            "arn:aws:cloudformation:{r}:{a}:stack/{name}/{}",
            stack_uuid(name)
        ),
        _ => {
            let service = type_
                .split("::")
                .nth(1)
                .unwrap_or("unknown")
                .to_ascii_lowercase();
            format!("arn:aws:{service}:{r}:{a}:{name}")
        }
    }
}

/// A stable UUID-shaped suffix for stack ids, derived from the name so runs are reproducible.
pub fn stack_uuid(name: &str) -> String {
    // FNV-1a over the name, twice with different seeds, laid out as a UUID.
    let h = |seed: u64| {
        name.bytes()
            .fold(seed, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3))
    };
    let (x, y) = (h(0xcbf29ce484222325), h(0x84222325cbf29ce4));
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        x >> 32,
        (x >> 16) & 0xffff,
        x & 0xffff,
        y >> 48,
        y & 0xffff_ffff_ffff
    )
}

/// The stream label in a table's resolved `StreamArn`. On AWS the label is the stream's creation
/// time, known only once the table exists; the template is resolved before that, so a local
/// deploy creates each table's stream with this label, and the resolved ARN names it.
pub const RESOLVED_STREAM_LABEL: &str = "1970-01-01T00:00:00.000";

/// `Ref` and every attribute of a resource named `name`.
pub fn values(
    env: &Env,
    type_: &str,
    name: &str,
    stack_name: &str,
    logical_id: &str,
) -> (Value, Vec<(String, Value)>) {
    let arn = arn(env, type_, name, stack_name, logical_id);
    let shape = TYPES
        .iter()
        .find(|t| t.name == type_)
        .map(|t| t.reference)
        .unwrap_or(RefShape::Id);
    let url = format!(
        "https://sqs.{}.amazonaws.com/{}/{}",
        env.region, env.account, name
    );
    let reference = match shape {
        RefShape::Name => json!(name),
        RefShape::Arn => json!(arn),
        RefShape::QueueUrl => json!(url),
        RefShape::Id => json!(name),
    };
    let mut attrs = Vec::new();
    for attr in attributes(type_).unwrap_or(&[]) {
        let v = match (type_, *attr) {
            ("AWS::SQS::Queue", "QueueName") | ("AWS::SNS::Topic", "TopicName") => json!(name),
            ("AWS::SQS::Queue", "QueueUrl") => json!(url),
            ("AWS::DynamoDB::Table", "StreamArn") => {
                json!(format!("{arn}/stream/{RESOLVED_STREAM_LABEL}"))
            }
            ("AWS::IAM::Role", "RoleId") => json!(format!("AROA{}", id_suffix(name))),
            ("AWS::IAM::ManagedPolicy", "PolicyId") => json!(format!("ANPA{}", id_suffix(name))),
            ("AWS::IAM::ManagedPolicy", "Path") => json!("/"),
            ("AWS::IAM::ManagedPolicy", "DefaultVersionId") => json!("v1"),
            (_, "Id") => json!(name),
            _ => json!(arn),
        };
        attrs.push((attr.to_string(), v));
    }
    (reference, attrs)
}

fn id_suffix(name: &str) -> String {
    stack_uuid(name).replace('-', "").to_ascii_uppercase()[..17].to_string()
}
