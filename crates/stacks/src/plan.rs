//! The change set: what a deploy would do to reach a [`Desired`] state from the registry's last
//! complete state, per stack and resource (Add, Modify with the changed property paths, Replace
//! when AWS replaces the resource, Remove), and the CloudFormation rules checked before anything
//! changes: exports in use, data loss.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::Value;

use crate::desired::{Desired, DesiredResource};
use crate::{ExportRecord, ImportRecord, ResourceRecord, StackRecord, StacksError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Add,
    Modify,
    Replace,
    Remove,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Add => "Add",
            Action::Modify => "Modify",
            Action::Replace => "Replace",
            Action::Remove => "Remove",
        }
    }
}

/// One resource's change.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub action: Action,
    pub stack: String,
    pub logical_id: String,
    pub type_: String,
    /// The new physical id (the old one for Remove).
    pub physical_id: String,
    /// The deployed physical id, for Modify and Replace.
    pub old_physical_id: Option<String>,
    /// The property paths that differ (`VisibilityTimeout`, `KeySchema[0].AttributeName`).
    pub paths: Vec<String>,
    /// Whether the change deletes a table's items or a queue's messages.
    pub deletes_data: bool,
    /// A Remove whose DeletionPolicy is Retain: the resource stays, the registry forgets it.
    pub retained: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackAction {
    Create,
    Update,
    Delete,
}

/// The changes of one stack.
#[derive(Debug, Clone, PartialEq)]
pub struct StackChange {
    pub stack: String,
    pub logical_path: Vec<String>,
    pub action: StackAction,
    pub changes: Vec<Change>,
    /// Outputs, parameters or the template text differ even where no resource does.
    pub outputs_changed: bool,
}

/// Every stack with changes, root first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChangeSet {
    pub stacks: Vec<StackChange>,
}

impl ChangeSet {
    pub fn is_empty(&self) -> bool {
        self.stacks.is_empty()
    }

    /// Every resource change, stack by stack.
    pub fn changes(&self) -> impl Iterator<Item = &Change> {
        self.stacks.iter().flat_map(|s| s.changes.iter())
    }

    /// The changes that delete data.
    pub fn data_loss(&self) -> Vec<&Change> {
        self.changes().filter(|c| c.deletes_data).collect()
    }

    /// Fails with [`StacksError::DataLoss`] when a change deletes data and that was not allowed.
    pub fn check_data_loss(&self, allow_data_loss: bool) -> Result<(), StacksError> {
        let loss = self.data_loss();
        if allow_data_loss || loss.is_empty() {
            return Ok(());
        }
        Err(StacksError::DataLoss {
            changes: loss
                .iter()
                .map(|c| {
                    let what = if c.type_ == crate::QUEUE {
                        "messages"
                    } else {
                        "items"
                    };
                    format!(
                        "{} `{}/{}` ({}) deletes the {what} of `{}`",
                        c.action.as_str(),
                        c.stack,
                        c.logical_id,
                        c.type_,
                        c.old_physical_id.as_deref().unwrap_or(&c.physical_id)
                    )
                })
                .collect(),
        })
    }

    /// The change set as `plan` and `deploy` print it.
    pub fn render(&self) -> String {
        if self.is_empty() {
            return "No changes\n".to_string();
        }
        let mut out = String::new();
        for s in &self.stacks {
            let path = if s.logical_path.is_empty() {
                "root".to_string()
            } else {
                s.logical_path.join("/")
            };
            let action = match s.action {
                StackAction::Create => "create",
                StackAction::Update => "update",
                StackAction::Delete => "delete",
            };
            let _ = writeln!(out, "stack {} ({path}): {action}", s.stack);
            for c in &s.changes {
                let sign = match c.action {
                    Action::Add => '+',
                    Action::Modify => '~',
                    Action::Replace => '!',
                    Action::Remove => '-',
                };
                let mut line = format!(
                    "  {sign} {:<8} {} ({})",
                    c.action.as_str(),
                    c.logical_id,
                    c.type_
                );
                if !c.paths.is_empty() {
                    let _ = write!(line, " [{}]", c.paths.join(", "));
                }
                if c.deletes_data {
                    line.push_str(" (deletes data)");
                }
                if c.retained {
                    line.push_str(" (retained: DeletionPolicy Retain)");
                }
                let _ = writeln!(out, "{line}");
            }
            if s.outputs_changed && s.changes.is_empty() {
                let _ = writeln!(out, "  ~ outputs or parameters");
            }
        }
        let count = |a: Action| self.changes().filter(|c| c.action == a).count();
        let _ = writeln!(
            out,
            "{} to add, {} to modify, {} to replace, {} to remove",
            count(Action::Add),
            count(Action::Modify),
            count(Action::Replace),
            count(Action::Remove)
        );
        out
    }
}

/// Whether a stack of this status holds resources (a rolled-back create or a deleted stack does not).
pub(crate) fn is_live(status: &str) -> bool {
    status != "ROLLBACK_COMPLETE" && status != "DELETE_COMPLETE"
}

/// The property names whose change makes AWS replace a resource of `type_`.
fn replacement_properties(type_: &str) -> &'static [&'static str] {
    match type_ {
        "AWS::SQS::Queue" => &["QueueName", "FifoQueue"],
        "AWS::DynamoDB::Table" => &["TableName", "KeySchema", "LocalSecondaryIndexes"],
        "AWS::Lambda::Function" => &["FunctionName", "PackageType"],
        "AWS::SNS::Topic" => &["TopicName", "FifoTopic"],
        "AWS::SNS::Subscription" => &["Endpoint", "Protocol", "TopicArn"],
        "AWS::IAM::Role" => &["RoleName", "Path"],
        "AWS::IAM::ManagedPolicy" => &["ManagedPolicyName", "Path"],
        "AWS::Events::Rule" => &["Name", "EventBusName"],
        "AWS::CloudWatch::Alarm" => &["AlarmName"],
        "AWS::Lambda::EventSourceMapping" => &["EventSourceArn", "StartingPosition"],
        "AWS::Lambda::Permission" => &[
            "Action",
            "FunctionName",
            "Principal",
            "SourceArn",
            "SourceAccount",
        ],
        "AWS::Logs::LogGroup" => &["LogGroupName"],
        _ => &[],
    }
}

/// Types whose replacement or removal deletes data.
fn holds_data(type_: &str) -> bool {
    type_ == crate::QUEUE || type_ == crate::TABLE
}

/// The paths at which `old` and `new` differ: object members by name, list items by index.
pub fn diff_paths(old: &Value, new: &Value) -> Vec<String> {
    fn walk(path: &str, old: &Value, new: &Value, out: &mut Vec<String>) {
        match (old, new) {
            (Value::Object(a), Value::Object(b)) => {
                let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
                for k in keys {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    match (a.get(k), b.get(k)) {
                        (Some(x), Some(y)) => walk(&p, x, y, out),
                        _ => out.push(p),
                    }
                }
            }
            (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
                for (i, (x, y)) in a.iter().zip(b).enumerate() {
                    walk(&format!("{path}[{i}]"), x, y, out);
                }
            }
            (a, b) if a == b => {}
            // Numbers written as strings (and the reverse) are the same value to AWS.
            (a, b)
                if crate::desired::value_text(a) == crate::desired::value_text(b)
                    && !a.is_object()
                    && !b.is_object() => {}
            _ => out.push(path.to_string()),
        }
    }
    let mut out = Vec::new();
    walk("", old, new, &mut out);
    out
}

/// The definitions of a table's key attributes: (name, type) for each KeySchema attribute.
fn key_definitions(props: &Value) -> BTreeMap<String, String> {
    let keys: BTreeSet<&str> = props["KeySchema"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|k| k["AttributeName"].as_str())
        .collect();
    props["AttributeDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| {
            let name = d["AttributeName"].as_str()?;
            keys.contains(name).then(|| {
                (
                    name.to_string(),
                    d["AttributeType"].as_str().unwrap_or("").to_string(),
                )
            })
        })
        .collect()
}

fn first_segment(path: &str) -> &str {
    path.split(['.', '[']).next().unwrap_or(path)
}

fn is_retain(policy: Option<&str>) -> bool {
    matches!(policy, Some("Retain") | Some("RetainExceptOnCreate"))
}

/// The change of one resource that exists in both states, if any.
fn modify_or_replace(old: &ResourceRecord, new: &DesiredResource) -> Option<Change> {
    let paths = diff_paths(&old.resource.properties, &new.properties);
    let type_changed = old.resource.type_ != new.type_;
    let renamed = old.resource.physical_id != new.physical_id;
    if paths.is_empty() && !type_changed && !renamed {
        return None;
    }
    let replace_props = replacement_properties(&new.type_);
    let mut replace = type_changed
        || renamed
        || paths
            .iter()
            .any(|p| replace_props.contains(&first_segment(p)));
    if new.type_ == crate::TABLE
        && paths
            .iter()
            .any(|p| first_segment(p) == "AttributeDefinitions")
        && key_definitions(&old.resource.properties) != key_definitions(&new.properties)
    {
        replace = true;
    }
    let action = if replace {
        Action::Replace
    } else {
        Action::Modify
    };
    Some(Change {
        action,
        stack: new.stack.clone(),
        logical_id: new.logical_id.clone(),
        type_: new.type_.clone(),
        physical_id: new.physical_id.clone(),
        old_physical_id: Some(old.resource.physical_id.clone()),
        paths,
        deletes_data: replace
            && holds_data(&old.resource.type_)
            && !is_retain(old.update_replace_policy.as_deref()),
        // A replaced resource whose UpdateReplacePolicy is Retain keeps its old object.
        retained: replace && is_retain(old.update_replace_policy.as_deref()),
    })
}

/// Computes the change set from the registry's state to `desired` and checks the export rules.
pub(crate) fn compute(
    desired: &Desired,
    stacks: &[StackRecord],
    resources: &[ResourceRecord],
    exports: &[ExportRecord],
    imports: &[ImportRecord],
) -> Result<ChangeSet, StacksError> {
    let live: BTreeMap<&str, &StackRecord> = stacks
        .iter()
        .filter(|s| is_live(&s.status))
        .map(|s| (s.name.as_str(), s))
        .collect();
    let current: BTreeMap<(&str, &str), &ResourceRecord> = resources
        .iter()
        .map(|r| {
            (
                (r.resource.stack.as_str(), r.resource.logical_id.as_str()),
                r,
            )
        })
        .collect();
    let wanted: BTreeSet<(&str, &str)> = desired
        .resources
        .iter()
        .map(|r| (r.stack.as_str(), r.logical_id.as_str()))
        .collect();
    let desired_stacks: BTreeSet<&str> = desired.stacks.iter().map(|s| s.name.as_str()).collect();

    check_exports(desired, &desired_stacks, exports, imports)?;

    let mut per_stack: BTreeMap<&str, Vec<Change>> = BTreeMap::new();
    for new in &desired.resources {
        let change = match current.get(&(new.stack.as_str(), new.logical_id.as_str())) {
            None => Some(Change {
                action: Action::Add,
                stack: new.stack.clone(),
                logical_id: new.logical_id.clone(),
                type_: new.type_.clone(),
                physical_id: new.physical_id.clone(),
                old_physical_id: None,
                paths: Vec::new(),
                deletes_data: false,
                retained: false,
            }),
            Some(old) => modify_or_replace(old, new),
        };
        if let Some(change) = change {
            if change.action == Action::Replace
                && change.old_physical_id.as_deref() == Some(change.physical_id.as_str())
                && is_retain(
                    current[&(new.stack.as_str(), new.logical_id.as_str())]
                        .update_replace_policy
                        .as_deref(),
                )
            {
                return Err(StacksError::RetainedReplacement {
                    stack: change.stack,
                    logical_id: change.logical_id,
                    physical_id: change.physical_id,
                });
            }
            per_stack.entry(&new.stack).or_default().push(change);
        }
    }
    // Removals in reverse deployment order: dependents go first.
    for old in resources.iter().rev() {
        let key = (
            old.resource.stack.as_str(),
            old.resource.logical_id.as_str(),
        );
        if wanted.contains(&key) {
            continue;
        }
        let retained = is_retain(old.deletion_policy.as_deref());
        per_stack
            .entry(&old.resource.stack)
            .or_default()
            .push(Change {
                action: Action::Remove,
                stack: old.resource.stack.clone(),
                logical_id: old.resource.logical_id.clone(),
                type_: old.resource.type_.clone(),
                physical_id: old.resource.physical_id.clone(),
                old_physical_id: None,
                paths: Vec::new(),
                deletes_data: !retained && holds_data(&old.resource.type_),
                retained,
            });
    }

    let mut out = Vec::new();
    for s in &desired.stacks {
        let changes = per_stack.remove(s.name.as_str()).unwrap_or_default();
        let (action, outputs_changed) = match live.get(s.name.as_str()) {
            None => (StackAction::Create, true),
            Some(old) => (
                StackAction::Update,
                old.outputs != s.outputs
                    || old.parameters != s.parameters
                    || old.template_hash != s.template_hash
                    || old.parent != s.parent,
            ),
        };
        if action == StackAction::Create || !changes.is_empty() || outputs_changed {
            out.push(StackChange {
                stack: s.name.clone(),
                logical_path: s.logical_path.clone(),
                action,
                changes,
                outputs_changed,
            });
        }
    }
    // Stacks that are no longer wanted, children before parents.
    for old in stacks.iter().rev() {
        if !is_live(&old.status) || desired_stacks.contains(old.name.as_str()) {
            continue;
        }
        out.push(StackChange {
            stack: old.name.clone(),
            logical_path: old.logical_path.clone(),
            action: StackAction::Delete,
            changes: per_stack.remove(old.name.as_str()).unwrap_or_default(),
            outputs_changed: false,
        });
    }
    Ok(ChangeSet { stacks: out })
}

/// CloudFormation's export rules: an export another stack imports may be neither removed nor
/// changed, and its stack may not be deleted. The importers are those of the last complete state:
/// as on AWS, an importer must first be deployed without the import.
fn check_exports(
    desired: &Desired,
    desired_stacks: &BTreeSet<&str>,
    exports: &[ExportRecord],
    imports: &[ImportRecord],
) -> Result<(), StacksError> {
    for export in exports {
        let importers: Vec<String> = imports
            .iter()
            .filter(|i| i.export == export.name && i.stack != export.stack)
            // An importer deleted in the same operation goes first (reverse order), as on AWS.
            .filter(|i| desired_stacks.contains(i.stack.as_str()))
            .map(|i| i.stack.clone())
            .collect();
        if importers.is_empty() {
            continue;
        }
        match desired.exports.get(&export.name) {
            Some((_, value)) if *value == export.value => {}
            Some(_) => {
                return Err(StacksError::ExportInUse {
                    export: export.name.clone(),
                    stack: export.stack.clone(),
                    change: "change",
                    importers,
                })
            }
            None if !desired_stacks.contains(export.stack.as_str()) => {
                return Err(StacksError::StackExportImported {
                    stack: export.stack.clone(),
                    export: export.name.clone(),
                    importers,
                })
            }
            None => {
                return Err(StacksError::ExportInUse {
                    export: export.name.clone(),
                    stack: export.stack.clone(),
                    change: "remove",
                    importers,
                })
            }
        }
    }
    Ok(())
}
