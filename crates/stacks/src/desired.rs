//! [`Desired`]: what a deploy wants the environment to be, taken from a resolved
//! [`template::Project`]: every stack with its template text, parameters and outputs, every
//! resource in deployment order with its resolved properties and physical id, every export and
//! who imports it. The change set compares this with the registry.

use std::path::Path;

use indexmap::IndexMap;
use serde_json::Value;
use sha2::{Digest, Sha256};
use template::{Loader, Project};

use crate::OutputRecord;

#[derive(Debug, Clone)]
pub struct Desired {
    pub region: String,
    pub account: String,
    /// Root first, then depth-first in declaration order.
    pub stacks: Vec<DesiredStack>,
    /// Every resource of every stack, in deployment order (dependencies first).
    pub resources: Vec<DesiredResource>,
    /// Export name to (exporting stack, value).
    pub exports: IndexMap<String, (String, String)>,
    /// (export, importing stack) pairs.
    pub imports: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct DesiredStack {
    pub name: String,
    pub stack_id: String,
    pub parent: Option<String>,
    pub logical_id: Option<String>,
    pub logical_path: Vec<String>,
    pub template_file: String,
    pub template_body: String,
    pub template_hash: String,
    pub parameters: Vec<(String, String)>,
    pub outputs: Vec<OutputRecord>,
}

#[derive(Debug, Clone)]
pub struct DesiredResource {
    pub stack: String,
    pub logical_id: String,
    pub type_: String,
    pub physical_id: String,
    pub arn: Option<String>,
    pub properties: Value,
    pub properties_hash: String,
    pub code_dir: Option<String>,
    pub metadata: Option<Value>,
    pub deletion_policy: Option<String>,
    pub update_replace_policy: Option<String>,
}

/// A JSON value as CloudFormation passes it as a string: strings as they are, lists joined by
/// commas (`CommaDelimitedList`), anything else as JSON text.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(value_text).collect::<Vec<_>>().join(","),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The hash of a value's JSON with object keys sorted, so key order does not count as a change.
pub(crate) fn value_hash(v: &Value) -> String {
    fn canonical(v: &Value) -> Value {
        match v {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), canonical(&map[k])))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
            other => other.clone(),
        }
    }
    sha256_hex(canonical(v).to_string().as_bytes())
}

/// The stack id CloudFormation would give a stack of that name.
pub fn stack_id(region: &str, account: &str, name: &str) -> String {
    format!(
        "arn:aws:cloudformation:{region}:{account}:stack/{name}/{}",
        template::types::stack_uuid(name)
    )
}

impl Desired {
    /// What `project` deploys. `loader` gives the template texts (kept for GetTemplate) and
    /// `project_root` (the root template's folder) makes `CodeUri` folders absolute.
    pub fn from_project(project: &Project, loader: &dyn Loader, project_root: &Path) -> Desired {
        let env = &project.env;
        let stacks = project
            .stacks
            .iter()
            .map(|s| {
                let body = loader.read(&s.file).unwrap_or_default();
                DesiredStack {
                    name: s.name.clone(),
                    stack_id: stack_id(&env.region, &env.account, &s.name),
                    parent: s
                        .parent
                        .as_ref()
                        .map(|(p, _)| project.stacks[*p].name.clone()),
                    logical_id: s.parent.as_ref().map(|(_, id)| id.clone()),
                    logical_path: s.logical_path.clone(),
                    template_file: s.file.clone(),
                    template_hash: sha256_hex(body.as_bytes()),
                    template_body: body,
                    parameters: s
                        .parameters
                        .iter()
                        .map(|(k, v)| (k.clone(), value_text(v)))
                        .collect(),
                    outputs: s
                        .outputs
                        .values()
                        .map(|o| OutputRecord {
                            key: o.name.clone(),
                            value: value_text(&o.value),
                            description: o.description.clone(),
                            export_name: o.export.clone(),
                        })
                        .collect(),
                }
            })
            .collect();
        let resources = project
            .deployment_order()
            .map(|(s, r)| {
                let physical_id = match (&r.ref_value, r.child) {
                    (_, Some(child)) => {
                        stack_id(&env.region, &env.account, &project.stacks[child].name)
                    }
                    (Value::String(v), None) => v.clone(),
                    _ => r.physical_name.clone(),
                };
                let arn = ["Arn", "TopicArn"]
                    .iter()
                    .find_map(|a| r.attributes.get(*a).and_then(Value::as_str))
                    .map(str::to_string);
                DesiredResource {
                    stack: s.name.clone(),
                    logical_id: r.logical_id.clone(),
                    type_: r.type_.clone(),
                    physical_id,
                    arn,
                    properties_hash: value_hash(&r.properties),
                    properties: r.properties.clone(),
                    code_dir: r
                        .code_uri
                        .as_ref()
                        .map(|c| project_root.join(c).to_string_lossy().into_owned()),
                    metadata: r.metadata.clone(),
                    deletion_policy: r.deletion_policy.clone(),
                    update_replace_policy: r.update_replace_policy.clone(),
                }
            })
            .collect();
        let exports = project
            .exports
            .iter()
            .map(|(name, e)| {
                (
                    name.clone(),
                    (project.stacks[e.stack].name.clone(), value_text(&e.value)),
                )
            })
            .collect();
        let mut imports: Vec<(String, String)> = project
            .imports
            .iter()
            .map(|i| (i.export.clone(), project.stacks[i.stack].name.clone()))
            .collect();
        imports.sort();
        imports.dedup();
        Desired {
            region: env.region.clone(),
            account: env.account.clone(),
            stacks,
            resources,
            exports,
            imports,
        }
    }

    /// Nothing: what `destroy` deploys.
    pub fn empty() -> Desired {
        Desired {
            region: "us-east-1".into(),
            account: "000000000000".into(),
            stacks: Vec::new(),
            resources: Vec::new(),
            exports: IndexMap::new(),
            imports: Vec::new(),
        }
    }
}
