//! The resolved model: what `validate` checks and what later crates (local deploy, runtime, AWS
//! packaging) consume. A [`Project`] is a tree of [`Stack`]s for one environment, each with its
//! resolved parameters, conditions, [`Resource`]s and [`Output`]s, plus the one export registry
//! of the account, the dependency [`Graph`] and every [`Diagnostic`].
//!
//! Both faces of each resource stay reachable: `properties` is the resolved JSON value, `source`
//! the unresolved tree with positions (`source.lookup("Environment.Variables.DB")` finds where a
//! value was written).

use crate::diag::{Diagnostic, Severity};
use crate::graph::Graph;
use crate::model::Template;
use crate::node::{Node, Span};
use crate::types::Env;
use indexmap::IndexMap;
use serde_json::Value;
use std::sync::Arc;

/// Index of a stack in [`Project::stacks`]; the root stack is 0.
pub type StackId = usize;

/// What one resolution is for.
#[derive(Clone, Debug)]
pub struct Options {
    /// Parameter values of the root stack (`--param K=V`).
    pub params: IndexMap<String, String>,
    pub region: String,
    pub account: String,
    /// The root stack's name (`AWS::StackName`); nested stacks are `<parent>-<LogicalId>`.
    pub stack_name: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            params: IndexMap::new(),
            region: "us-east-1".to_string(),
            account: "000000000000".to_string(),
            stack_name: "cascade".to_string(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Project {
    /// The root template's file name, relative to its own folder.
    pub root_file: String,
    pub env: Env,
    /// Stacks depth-first in declaration order; `stacks[0]` is the root.
    pub stacks: Vec<Stack>,
    /// Every export of every stack, by export name.
    pub exports: IndexMap<String, Export>,
    /// Every `Fn::ImportValue` that found its export.
    pub imports: Vec<ImportUse>,
    /// Sorted by file, line and column.
    pub diagnostics: Vec<Diagnostic>,
    pub graph: Graph,
}

impl Project {
    pub fn errors(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    pub fn warnings(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count()
    }

    pub fn resource_count(&self) -> usize {
        self.stacks.iter().map(|s| s.resources.len()).sum()
    }

    /// The stack at a logical path (`""` for the root, `"IAM"`, `"Parent/Child"`).
    pub fn stack(&self, path: &str) -> Option<&Stack> {
        self.stacks
            .iter()
            .find(|s| s.logical_path.join("/") == path)
    }

    /// A resource by its qualified name (`IAM/LambdaRole`, or `Queue` in the root stack).
    pub fn resource(&self, qualified: &str) -> Option<(&Stack, &Resource)> {
        let (path, id) = qualified.rsplit_once('/').unwrap_or(("", qualified));
        let stack = self.stack(path)?;
        stack.resources.get(id).map(|r| (stack, r))
    }

    /// Every resource of every stack, with its stack.
    pub fn resources(&self) -> impl Iterator<Item = (&Stack, &Resource)> {
        self.stacks
            .iter()
            .flat_map(|s| s.resources.values().map(move |r| (s, r)))
    }

    /// The resources in deployment order (dependencies first; cycle members last).
    pub fn deployment_order(&self) -> impl Iterator<Item = (&Stack, &Resource)> {
        self.graph.order.iter().filter_map(|&i| {
            let n = &self.graph.nodes[i];
            let s = &self.stacks[n.stack];
            s.resources.get(&n.logical_id).map(|r| (s, r))
        })
    }
}

#[derive(Clone, Debug)]
pub struct Stack {
    pub id: StackId,
    /// Physical stack name (`AWS::StackName`).
    pub name: String,
    /// Logical ids from the root to this stack; empty for the root.
    pub logical_path: Vec<String>,
    /// The stack and nested-stack resource that created this one.
    pub parent: Option<(StackId, String)>,
    /// Template file relative to the root template's folder.
    pub file: String,
    /// The unresolved template (after the SAM transform); `None` when it could not be read.
    pub template: Option<Arc<Template>>,
    pub parameters: IndexMap<String, Value>,
    pub conditions: IndexMap<String, bool>,
    /// Resources whose condition holds, in source order, after the SAM transform.
    pub resources: IndexMap<String, Resource>,
    pub outputs: IndexMap<String, Output>,
    pub children: Vec<StackId>,
}

impl Stack {
    /// `IAM/LambdaRole`-style display name of a resource of this stack.
    pub fn qualified(&self, logical_id: &str) -> String {
        if self.logical_path.is_empty() {
            logical_id.to_string()
        } else {
            format!("{}/{logical_id}", self.logical_path.join("/"))
        }
    }
}

#[derive(Clone, Debug)]
pub struct Resource {
    pub logical_id: String,
    pub type_: String,
    /// The resolved properties (`AWS::NoValue` entries removed).
    pub properties: Value,
    /// The unresolved `Properties` tree with positions.
    pub source: Arc<Node>,
    /// The position of the logical id.
    pub span: Span,
    pub depends_on: Vec<String>,
    pub condition: Option<String>,
    pub deletion_policy: Option<String>,
    pub update_replace_policy: Option<String>,
    pub metadata: Option<Value>,
    /// The physical name: the name property when given, `<stack>-<LogicalId>` otherwise.
    pub physical_name: String,
    /// What `Ref` returns.
    pub ref_value: Value,
    /// What `Fn::GetAtt` returns, by attribute name.
    pub attributes: IndexMap<String, Value>,
    /// For resources from the SAM transform: the serverless function they came from.
    pub sam_origin: Option<String>,
    /// For resources the SAM transform generated from an event or the role: the path of what the
    /// author wrote (`Resources.Fn.Properties.Events.Nightly`).
    pub sam_path: Option<String>,
    /// For functions with a local `CodeUri`: the folder, relative to the root template's folder.
    pub code_uri: Option<String>,
    /// Where `CodeUri` was written.
    pub code_uri_span: Option<Span>,
    /// For `AWS::CloudFormation::Stack`: the nested stack.
    pub child: Option<StackId>,
}

impl Resource {
    /// The source position of a property (`Timeout`, `Environment.Variables.DB`), or of the
    /// resource when the property was not written (defaults, SAM-generated values).
    pub fn span_of(&self, property: &str) -> &Span {
        if property.is_empty() {
            return &self.span;
        }
        self.source
            .lookup(property)
            .map(|n| &n.span)
            .unwrap_or(&self.span)
    }
}

#[derive(Clone, Debug)]
pub struct Output {
    pub name: String,
    pub value: Value,
    pub export: Option<String>,
    pub span: Span,
    pub description: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Export {
    pub name: String,
    pub value: Value,
    pub stack: StackId,
    pub output: String,
    pub span: Span,
}

/// One `Fn::ImportValue` matched to its export.
#[derive(Clone, Debug)]
pub struct ImportUse {
    pub stack: StackId,
    /// The importing resource (`None` for an import in Outputs).
    pub logical_id: Option<String>,
    pub path: String,
    pub export: String,
    pub span: Span,
}
