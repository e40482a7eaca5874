//! `cascade graph`: the stack tree, the resources and the edges between them, as text, Mermaid or
//! Graphviz dot.

use super::ProjectArgs;
use clap::ValueEnum;
use std::fmt::Write;
use std::process::ExitCode;
use template::{EdgeKind, Project, StackId};

#[derive(clap::Args, Debug)]
#[command(
    about = "Show stacks, resources and their edges (references, DependsOn, imports, event sources, data flow)",
    after_help = "Examples:\n  cascade graph --param Environment=dev\n  cascade graph --param Environment=dev --format mermaid > graph.mmd\n  cascade graph --param Environment=dev --format dot | dot -Tsvg > graph.svg\n  cascade graph --format json"
)]
pub struct Args {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    Text,
    Mermaid,
    Dot,
    Json,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (project, _) = args.project.load();
    let out = match args.format {
        Format::Text => text(&project),
        Format::Mermaid => mermaid(&project),
        Format::Dot => dot(&project),
        Format::Json => format!("{}\n", json(&project)),
    };
    print!("{out}");
    if project.errors() > 0 {
        eprintln!(
            "{} errors: run `cascade validate` to see them",
            project.errors()
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn name(p: &Project, node: usize) -> String {
    let n = &p.graph.nodes[node];
    p.stacks[n.stack].qualified(&n.logical_id)
}

fn text(p: &Project) -> String {
    let mut out = String::from("stacks:\n");
    fn tree(p: &Project, id: StackId, depth: usize, out: &mut String) {
        let s = &p.stacks[id];
        let label = s
            .logical_path
            .last()
            .map(String::as_str)
            .unwrap_or("(root)");
        let _ = writeln!(
            out,
            "{}{label}  {} ({})",
            "  ".repeat(depth + 1),
            s.name,
            s.file
        );
        for r in s.resources.values() {
            if r.child.is_none() {
                let _ = writeln!(
                    out,
                    "{}- {} {}",
                    "  ".repeat(depth + 2),
                    r.logical_id,
                    r.type_
                );
            }
        }
        for &c in &s.children {
            tree(p, c, depth + 1, out);
        }
    }
    if !p.stacks.is_empty() {
        tree(p, 0, 0, &mut out);
    }
    out.push_str("edges:\n");
    for kind in [
        EdgeKind::Reference,
        EdgeKind::DependsOn,
        EdgeKind::Import,
        EdgeKind::EventSource,
        EdgeKind::DataFlow,
    ] {
        for e in p.graph.edges.iter().filter(|e| e.kind == kind) {
            let _ = writeln!(
                out,
                "  {} -> {} ({})",
                name(p, e.from),
                name(p, e.to),
                kind.as_str()
            );
        }
    }
    out.push_str("deployment order:\n");
    for (i, (s, r)) in p.deployment_order().enumerate() {
        let _ = writeln!(out, "  {:>3}. {}", i + 1, s.qualified(&r.logical_id));
    }
    out
}

/// Stacks, resources by qualified name, edges and the deployment order, for scripts.
fn json(p: &Project) -> serde_json::Value {
    let stacks: Vec<serde_json::Value> = p
        .stacks
        .iter()
        .map(|s| serde_json::json!({"name": s.name, "file": s.file, "path": s.logical_path.join("/"), "resources": s.resources.values().map(|r| serde_json::json!({"logical_id": r.logical_id, "type": r.type_})).collect::<Vec<_>>()}))
        .collect();
    let edges: Vec<serde_json::Value> =
        p.graph.edges.iter().map(|e| serde_json::json!({"from": name(p, e.from), "to": name(p, e.to), "kind": e.kind.as_str()})).collect();
    let order: Vec<String> = p
        .deployment_order()
        .map(|(s, r)| s.qualified(&r.logical_id))
        .collect();
    serde_json::json!({"stacks": stacks, "edges": edges, "order": order})
}

fn mermaid(p: &Project) -> String {
    let mut out = String::from("flowchart LR\n");
    fn stack(p: &Project, id: StackId, depth: usize, out: &mut String) {
        let s = &p.stacks[id];
        let pad = "  ".repeat(depth + 1);
        let label = s
            .logical_path
            .last()
            .cloned()
            .unwrap_or_else(|| s.name.clone());
        let _ = writeln!(out, "{pad}subgraph s{id}[\"{label} ({})\"]", s.file);
        for r in s.resources.values() {
            if r.child.is_none() {
                if let Some(n) = p.graph.node(id, &r.logical_id) {
                    let _ = writeln!(
                        out,
                        "{pad}  n{n}[\"{}<br/><small>{}</small>\"]",
                        r.logical_id, r.type_
                    );
                }
            }
        }
        for &c in &s.children {
            stack(p, c, depth + 1, out);
        }
        let _ = writeln!(out, "{pad}end");
    }
    if !p.stacks.is_empty() {
        stack(p, 0, 0, &mut out);
    }
    for e in &p.graph.edges {
        let (from, to) = (endpoint_mermaid(p, e.from), endpoint_mermaid(p, e.to));
        let arrow = match e.kind {
            EdgeKind::EventSource => "-.->",
            EdgeKind::DataFlow => "==>",
            _ => "-->",
        };
        let _ = writeln!(out, "  {from} {arrow}|{}| {to}", e.kind.as_str());
    }
    out
}

/// A nested stack resource is drawn as its subgraph.
fn endpoint_mermaid(p: &Project, node: usize) -> String {
    let n = &p.graph.nodes[node];
    match p.stacks[n.stack]
        .resources
        .get(&n.logical_id)
        .and_then(|r| r.child)
    {
        Some(child) => format!("s{child}"),
        None => format!("n{node}"),
    }
}

fn dot(p: &Project) -> String {
    let mut out = String::from(
        "digraph cascade {\n  rankdir=LR;\n  compound=true;\n  node [shape=box, fontsize=10];\n",
    );
    fn stack(p: &Project, id: StackId, depth: usize, out: &mut String) {
        let s = &p.stacks[id];
        let pad = "  ".repeat(depth + 1);
        let _ = writeln!(
            out,
            "{pad}subgraph cluster_{id} {{\n{pad}  label=\"{} ({})\";",
            s.logical_path.last().unwrap_or(&s.name),
            s.file
        );
        // An invisible anchor lets edges to a nested stack end at its cluster.
        let _ = writeln!(out, "{pad}  s{id} [shape=point, style=invis];");
        for r in s.resources.values() {
            if r.child.is_none() {
                if let Some(n) = p.graph.node(id, &r.logical_id) {
                    let _ = writeln!(
                        out,
                        "{pad}  n{n} [label=\"{}\\n{}\"];",
                        r.logical_id, r.type_
                    );
                }
            }
        }
        for &c in &s.children {
            stack(p, c, depth + 1, out);
        }
        let _ = writeln!(out, "{pad}}}");
    }
    if !p.stacks.is_empty() {
        stack(p, 0, 0, &mut out);
    }
    for e in &p.graph.edges {
        let (from, to) = (endpoint_mermaid(p, e.from), endpoint_mermaid(p, e.to));
        let style = match e.kind {
            EdgeKind::EventSource => "dashed",
            EdgeKind::DataFlow => "bold",
            EdgeKind::DependsOn => "dotted",
            _ => "solid",
        };
        let _ = writeln!(
            out,
            "  {from} -> {to} [label=\"{}\", style={style}];",
            e.kind.as_str()
        );
    }
    out.push_str("}\n");
    out
}
