//! The template model before resolution: sections read from the [`Node`] tree with their
//! positions, values still unresolved. One [`Template`] per file, shared by every stack that nests
//! the same file (with other parameter values).

use crate::diag::Diagnostic;
use crate::node::{Node, NodeKind, Span};
use indexmap::IndexMap;
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct Template {
    pub file: Arc<str>,
    /// `Transform: AWS::Serverless-2016-10-31` was declared (SAM).
    pub sam: bool,
    pub parameters: IndexMap<String, ParamDecl>,
    pub mappings: Option<Node>,
    pub conditions: IndexMap<String, Node>,
    pub globals: Option<Node>,
    /// After the SAM transform: the expanded resources, in source order.
    pub resources: IndexMap<String, RawResource>,
    pub outputs: IndexMap<String, RawOutput>,
}

#[derive(Clone, Debug)]
pub struct ParamDecl {
    pub name: String,
    pub span: Span,
    pub type_: String,
    pub default: Option<Node>,
    pub allowed_values: Option<Vec<String>>,
    pub allowed_pattern: Option<String>,
    pub min_length: Option<i64>,
    pub max_length: Option<i64>,
    pub min_value: Option<f64>,
    pub max_value: Option<f64>,
}

#[derive(Clone, Debug)]
pub struct RawResource {
    pub logical_id: String,
    /// The position of the logical id key.
    pub span: Span,
    pub type_: String,
    pub type_span: Span,
    /// The `Properties` mapping, or an empty mapping at the resource's position.
    pub properties: Arc<Node>,
    pub depends_on: Vec<(String, Span)>,
    pub condition: Option<(String, Span)>,
    pub deletion_policy: Option<String>,
    pub update_replace_policy: Option<String>,
    pub metadata: Option<Node>,
    /// For resources the SAM transform generated: the serverless function they came from.
    pub sam_origin: Option<String>,
    /// For generated resources: the path of the SAM source (`Resources.Fn.Properties.Events.E`).
    pub sam_path: Option<String>,
    /// For a SAM function: its `CodeUri`, as written.
    pub code_uri: Option<Node>,
}

#[derive(Clone, Debug)]
pub struct RawOutput {
    pub name: String,
    pub span: Span,
    pub value: Option<Node>,
    pub export_name: Option<Node>,
    pub condition: Option<(String, Span)>,
    pub description: Option<String>,
}

const SECTIONS: &[&str] = &[
    "AWSTemplateFormatVersion",
    "Description",
    "Metadata",
    "Parameters",
    "Rules",
    "Mappings",
    "Conditions",
    "Transform",
    "Globals",
    "Resources",
    "Outputs",
];

fn num(n: &Node) -> Option<f64> {
    match &n.kind {
        NodeKind::Int(i) => Some(*i as f64),
        NodeKind::Float(f) => Some(*f),
        NodeKind::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Reads the sections of a parsed file. Shape errors become diagnostics; what can be read is kept.
pub fn build(file: &Arc<str>, root: &Node) -> (Template, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let mut t = Template {
        file: file.clone(),
        sam: false,
        parameters: IndexMap::new(),
        mappings: None,
        conditions: IndexMap::new(),
        globals: None,
        resources: IndexMap::new(),
        outputs: IndexMap::new(),
    };
    let Some(top) = root.as_map() else {
        diags.push(Diagnostic::new(
            "E1006",
            &root.span,
            format!("a template must be a mapping, found {}", root.kind_name()),
        ));
        return (t, diags);
    };
    for (key, value) in top {
        if !SECTIONS.contains(&key.name.as_str()) {
            diags.push(
                Diagnostic::new(
                    "W1001",
                    &key.span,
                    format!("unknown top-level section `{}`", key.name),
                )
                .at(None, key.name.clone())
                .help(format!("the sections are {}", SECTIONS.join(", "))),
            );
        }
        if SECTIONS.contains(&key.name.as_str())
            && key.name != "Transform"
            && key.name != "Description"
            && key.name != "AWSTemplateFormatVersion"
            && !matches!(value.kind, NodeKind::Map(_) | NodeKind::Null)
        {
            diags.push(
                Diagnostic::new(
                    "E1006",
                    &value.span,
                    format!(
                        "section `{}` must be a mapping, found {}",
                        key.name,
                        value.kind_name()
                    ),
                )
                .at(None, key.name.clone()),
            );
            continue;
        }
        match key.name.as_str() {
            "Transform" => {
                let names: Vec<String> = match &value.kind {
                    NodeKind::Seq(items) => items.iter().filter_map(Node::scalar_text).collect(),
                    _ => value.scalar_text().into_iter().collect(),
                };
                t.sam = names.iter().any(|n| n.starts_with("AWS::Serverless"));
            }
            "Parameters" => {
                for (pk, pv) in value.as_map().unwrap_or(&[]) {
                    let path = format!("Parameters.{}", pk.name);
                    let Some(_) = pv.as_map() else {
                        diags.push(
                            Diagnostic::new(
                                "E1006",
                                &pv.span,
                                format!("parameter `{}` must be a mapping", pk.name),
                            )
                            .at(None, path),
                        );
                        continue;
                    };
                    let type_ = match pv.get("Type").and_then(Node::scalar_text) {
                        Some(t) => t,
                        None => {
                            diags.push(
                                Diagnostic::new(
                                    "E1006",
                                    &pk.span,
                                    format!("parameter `{}` has no Type", pk.name),
                                )
                                .at(None, path)
                                .help("add `Type: String`"),
                            );
                            "String".to_string()
                        }
                    };
                    let allowed_values = pv.get("AllowedValues").map(|n| match &n.kind {
                        NodeKind::Seq(items) => {
                            items.iter().filter_map(Node::scalar_text).collect()
                        }
                        _ => n.scalar_text().into_iter().collect(),
                    });
                    t.parameters.insert(
                        pk.name.clone(),
                        ParamDecl {
                            name: pk.name.clone(),
                            span: pk.span.clone(),
                            type_,
                            default: pv.get("Default").cloned(),
                            allowed_values,
                            allowed_pattern: pv.get("AllowedPattern").and_then(Node::scalar_text),
                            min_length: pv.get("MinLength").and_then(num).map(|f| f as i64),
                            max_length: pv.get("MaxLength").and_then(num).map(|f| f as i64),
                            min_value: pv.get("MinValue").and_then(num),
                            max_value: pv.get("MaxValue").and_then(num),
                        },
                    );
                }
            }
            "Mappings" => t.mappings = Some(value.clone()),
            "Globals" => t.globals = Some(value.clone()),
            "Conditions" => {
                for (ck, cv) in value.as_map().unwrap_or(&[]) {
                    t.conditions.insert(ck.name.clone(), cv.clone());
                }
            }
            "Resources" => {
                for (rk, rv) in value.as_map().unwrap_or(&[]) {
                    if let Some(r) = resource(&rk.name, &rk.span, rv, &mut diags) {
                        t.resources.insert(rk.name.clone(), r);
                    }
                }
            }
            "Outputs" => {
                for (ok, ov) in value.as_map().unwrap_or(&[]) {
                    let path = format!("Outputs.{}", ok.name);
                    if ov.as_map().is_none() {
                        diags.push(
                            Diagnostic::new(
                                "E1006",
                                &ov.span,
                                format!("output `{}` must be a mapping", ok.name),
                            )
                            .at(None, path),
                        );
                        continue;
                    }
                    let value = ov.get("Value").cloned();
                    if value.is_none() {
                        diags.push(
                            Diagnostic::new(
                                "E1006",
                                &ok.span,
                                format!("output `{}` has no Value", ok.name),
                            )
                            .at(None, path.clone()),
                        );
                    }
                    let export_name = match ov.get("Export") {
                        Some(e) => match e.get("Name") {
                            Some(n) => Some(n.clone()),
                            None => {
                                diags.push(
                                    Diagnostic::new("E1006", &e.span, "Export needs a Name")
                                        .at(None, format!("{path}.Export")),
                                );
                                None
                            }
                        },
                        None => None,
                    };
                    t.outputs.insert(
                        ok.name.clone(),
                        RawOutput {
                            name: ok.name.clone(),
                            span: ok.span.clone(),
                            value,
                            export_name,
                            condition: ov
                                .get("Condition")
                                .and_then(|c| c.scalar_text().map(|s| (s, c.span.clone()))),
                            description: ov.get("Description").and_then(Node::scalar_text),
                        },
                    );
                }
            }
            _ => {}
        }
    }
    if t.resources.is_empty() && !top.iter().any(|(k, _)| k.name == "Resources") {
        diags.push(
            Diagnostic::new("E1006", &root.span, "the template has no Resources section")
                .help("every template needs at least one resource"),
        );
    }
    (t, diags)
}

fn resource(
    id: &str,
    span: &Span,
    node: &Node,
    diags: &mut Vec<Diagnostic>,
) -> Option<RawResource> {
    let path = format!("Resources.{id}");
    if node.as_map().is_none() {
        diags.push(
            Diagnostic::new(
                "E1006",
                &node.span,
                format!("resource `{id}` must be a mapping"),
            )
            .at(Some(id), path),
        );
        return None;
    }
    let Some(type_node) = node.get("Type") else {
        diags.push(
            Diagnostic::new("E1006", span, format!("resource `{id}` has no Type"))
                .at(Some(id), path)
                .help("add `Type: AWS::...`"),
        );
        return None;
    };
    let Some(type_) = type_node.as_str() else {
        diags.push(
            Diagnostic::new("E1006", &type_node.span, "Type must be a string")
                .at(Some(id), format!("{path}.Type")),
        );
        return None;
    };
    let properties = match node.get("Properties") {
        Some(p) if matches!(p.kind, NodeKind::Map(_)) => Arc::new(p.clone()),
        Some(p) => {
            if !matches!(p.kind, NodeKind::Null) {
                diags.push(
                    Diagnostic::new(
                        "E1006",
                        &p.span,
                        format!("Properties must be a mapping, found {}", p.kind_name()),
                    )
                    .at(Some(id), format!("{path}.Properties")),
                );
            }
            Arc::new(Node::new(NodeKind::Map(Vec::new()), p.span.clone()))
        }
        None => Arc::new(Node::new(NodeKind::Map(Vec::new()), span.clone())),
    };
    let mut depends_on = Vec::new();
    if let Some(d) = node.get("DependsOn") {
        match &d.kind {
            NodeKind::Seq(items) => {
                for item in items {
                    match item.as_str() {
                        Some(s) => depends_on.push((s.to_string(), item.span.clone())),
                        None => diags.push(
                            Diagnostic::new(
                                "E1006",
                                &item.span,
                                "DependsOn entries must be logical ids",
                            )
                            .at(Some(id), format!("{path}.DependsOn")),
                        ),
                    }
                }
            }
            NodeKind::Str(s) => depends_on.push((s.clone(), d.span.clone())),
            _ => diags.push(
                Diagnostic::new(
                    "E1006",
                    &d.span,
                    "DependsOn must be a logical id or a list of them",
                )
                .at(Some(id), format!("{path}.DependsOn")),
            ),
        }
    }
    Some(RawResource {
        logical_id: id.to_string(),
        span: span.clone(),
        type_: type_.to_string(),
        type_span: type_node.span.clone(),
        properties,
        depends_on,
        condition: node
            .get("Condition")
            .and_then(|c| c.scalar_text().map(|s| (s, c.span.clone()))),
        deletion_policy: node.get("DeletionPolicy").and_then(Node::scalar_text),
        update_replace_policy: node.get("UpdateReplacePolicy").and_then(Node::scalar_text),
        metadata: node.get("Metadata").cloned(),
        sam_origin: None,
        sam_path: None,
        code_uri: None,
    })
}
