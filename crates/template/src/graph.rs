//! The dependency graph across all stacks, the deployment order and its cycles.
//!
//! Nodes are resources of every stack. Dependency edges point from the dependent to what it needs:
//! `Reference` (Ref, Fn::GetAtt, Fn::Sub), `DependsOn`, and `Import` (an importing resource to
//! the resources the exporting output reads). A nested stack resource also waits for every
//! resource of its child, and the child's resources wait for whatever the nested stack resource
//! depends on; those implied edges shape the order but are not listed. `EventSource` (queue,
//! table stream or schedule rule to the function) and `DataFlow` (function to the queue or table
//! its environment names) edges describe the running pipeline and do not order deployment.

use crate::diag::Diagnostic;
use crate::node::{Node, NodeKind};
use crate::project::{Export, ImportUse, Stack, StackId};
use indexmap::IndexMap;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EdgeKind {
    Reference,
    DependsOn,
    Import,
    EventSource,
    DataFlow,
}

impl EdgeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::Reference => "reference",
            EdgeKind::DependsOn => "depends-on",
            EdgeKind::Import => "import",
            EdgeKind::EventSource => "event-source",
            EdgeKind::DataFlow => "data-flow",
        }
    }

    /// Whether the edge orders deployment.
    pub fn is_dependency(self) -> bool {
        matches!(
            self,
            EdgeKind::Reference | EdgeKind::DependsOn | EdgeKind::Import
        )
    }
}

#[derive(Clone, Debug)]
pub struct GraphNode {
    pub stack: StackId,
    pub logical_id: String,
    pub type_: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    pub kind: EdgeKind,
}

#[derive(Clone, Debug, Default)]
pub struct Graph {
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<Edge>,
    /// Node indices in deployment order: dependencies first, then cycle members.
    pub order: Vec<usize>,
    /// Each cycle as a path of node indices (the first node is not repeated at the end).
    pub cycles: Vec<Vec<usize>>,
    index: HashMap<(StackId, String), usize>,
    seen: HashSet<Edge>,
}

impl Graph {
    pub fn node(&self, stack: StackId, logical_id: &str) -> Option<usize> {
        self.index.get(&(stack, logical_id.to_string())).copied()
    }

    pub(crate) fn add_edge(&mut self, from: usize, to: usize, kind: EdgeKind) {
        let e = Edge { from, to, kind };
        if (from != to || kind.is_dependency()) && self.seen.insert(e) {
            self.edges.push(e);
        }
    }
}

/// Logical ids a node refers to by Ref, Fn::GetAtt or a Fn::Sub variable (pseudo parameters and
/// unknown names included; the caller keeps those that are resources).
pub fn references(node: &Node, out: &mut Vec<String>) {
    match &node.kind {
        NodeKind::Seq(items) => items.iter().for_each(|n| references(n, out)),
        NodeKind::Map(entries) => {
            if let Some((name, arg)) = node.intrinsic() {
                match (name, &arg.kind) {
                    ("Ref", NodeKind::Str(s)) => out.push(s.clone()),
                    ("Fn::GetAtt", NodeKind::Str(s)) => {
                        out.push(s.split('.').next().unwrap_or_default().to_string())
                    }
                    ("Fn::GetAtt", NodeKind::Seq(items)) => {
                        if let Some(s) = items.first().and_then(Node::as_str) {
                            out.push(s.to_string());
                        }
                    }
                    ("Fn::Sub", NodeKind::Str(s)) => sub_vars(s, out),
                    ("Fn::Sub", NodeKind::Seq(items)) => {
                        if let Some(s) = items.first().and_then(Node::as_str) {
                            let own: Vec<&str> = items
                                .get(1)
                                .and_then(Node::as_map)
                                .map(|m| m.iter().map(|(k, _)| k.name.as_str()).collect())
                                .unwrap_or_default();
                            let mut vars = Vec::new();
                            sub_vars(s, &mut vars);
                            out.extend(vars.into_iter().filter(|v| !own.contains(&v.as_str())));
                        }
                        items.iter().skip(1).for_each(|n| references(n, out));
                    }
                    _ => references(arg, out),
                }
            } else {
                entries.iter().for_each(|(_, n)| references(n, out));
            }
        }
        _ => {}
    }
}

fn sub_vars(text: &str, out: &mut Vec<String>) {
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { return };
        let var = after[..end].trim();
        if !var.starts_with('!') && !var.starts_with("AWS::") {
            out.push(var.split('.').next().unwrap_or_default().to_string());
        }
        rest = &after[end + 1..];
    }
}

/// Builds the dependency part of the graph, the order and the cycles; reports cycles and imports
/// that could race their export.
pub(crate) fn build(
    stacks: &[Stack],
    exports: &IndexMap<String, Export>,
    imports: &[ImportUse],
    diags: &mut Vec<Diagnostic>,
) -> Graph {
    let mut g = Graph::default();
    for s in stacks {
        for r in s.resources.values() {
            g.index.insert((s.id, r.logical_id.clone()), g.nodes.len());
            g.nodes.push(GraphNode {
                stack: s.id,
                logical_id: r.logical_id.clone(),
                type_: r.type_.clone(),
            });
        }
    }
    // Edges within each stack.
    for s in stacks {
        for r in s.resources.values() {
            let from = g.index[&(s.id, r.logical_id.clone())];
            let mut refs = Vec::new();
            references(&r.source, &mut refs);
            for target in refs {
                if let Some(to) = g.node(s.id, &target) {
                    g.add_edge(from, to, EdgeKind::Reference);
                }
            }
            for dep in &r.depends_on {
                if let Some(to) = g.node(s.id, dep) {
                    g.add_edge(from, to, EdgeKind::DependsOn);
                }
            }
        }
    }
    // Import edges: importing resource to what the exporting output reads.
    for imp in imports {
        let (Some(id), Some(export)) = (&imp.logical_id, exports.get(&imp.export)) else {
            continue;
        };
        let Some(from) = g.node(imp.stack, id) else {
            continue;
        };
        let exporter = &stacks[export.stack];
        let Some(value) = exporter
            .template
            .as_ref()
            .and_then(|t| t.outputs.get(&export.output))
            .and_then(|o| o.value.clone())
        else {
            continue;
        };
        let mut refs = Vec::new();
        references(&value, &mut refs);
        for target in refs {
            if let Some(to) = g.node(export.stack, &target) {
                g.add_edge(from, to, EdgeKind::Import);
            }
        }
    }
    order(&mut g, stacks);
    for cycle in g.cycles.clone() {
        let names: Vec<String> = cycle
            .iter()
            .chain(cycle.first())
            .map(|&i| stacks[g.nodes[i].stack].qualified(&g.nodes[i].logical_id))
            .collect();
        let first = &g.nodes[cycle[0]];
        let r = &stacks[first.stack].resources[&first.logical_id];
        diags.push(
            Diagnostic::new(
                "E4002",
                &r.span,
                format!("dependency cycle: {}", names.join(" -> ")),
            )
            .at(
                Some(&first.logical_id),
                format!("Resources.{}", first.logical_id),
            )
            .help("break the cycle: remove one of these references or DependsOn entries"),
        );
    }
    races(&g, stacks, exports, imports, diags);
    g
}

/// Kahn's algorithm with declaration order as the tie-break, then cycle paths among the rest.
fn order(g: &mut Graph, stacks: &[Stack]) {
    let n = g.nodes.len();
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); n];
    for e in g.edges.iter().filter(|e| e.kind.is_dependency()) {
        deps[e.from].push(e.to);
    }
    // Implied nesting edges.
    for s in stacks {
        let Some((parent, id)) = &s.parent else {
            continue;
        };
        let Some(nested) = g.node(*parent, id) else {
            continue;
        };
        let nested_deps = deps[nested].clone();
        for r in s.resources.values() {
            let child = g.index[&(s.id, r.logical_id.clone())];
            deps[nested].push(child);
            deps[child].extend(nested_deps.iter().copied());
        }
    }
    // A nested stack's own dependencies must also reach resources of grandchildren, which the
    // loop above gives them when parents are handled before children (stacks are in that order).
    for d in deps.iter_mut() {
        d.sort_unstable();
        d.dedup();
    }
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut remaining: Vec<usize> = vec![0; n];
    for (from, ds) in deps.iter().enumerate() {
        remaining[from] = ds.len();
        for &to in ds {
            dependents[to].push(from);
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> =
        (0..n).filter(|&i| remaining[i] == 0).map(Reverse).collect();
    let mut placed = vec![false; n];
    while let Some(Reverse(i)) = ready.pop() {
        placed[i] = true;
        g.order.push(i);
        for &d in &dependents[i] {
            remaining[d] -= 1;
            if remaining[d] == 0 {
                ready.push(Reverse(d));
            }
        }
    }
    // What is left sits on or behind a cycle. Walk from each unreported node along unplaced
    // dependencies until a node repeats on the current path: that stretch is a cycle.
    let mut reported: HashSet<usize> = HashSet::new();
    let mut done: HashSet<usize> = HashSet::new();
    for start in 0..n {
        if placed[start] || done.contains(&start) {
            continue;
        }
        let mut path = vec![start];
        let mut on_path: HashMap<usize, usize> = HashMap::from([(start, 0)]);
        let mut current = start;
        while let Some(&next) = deps[current].iter().find(|&&d| !placed[d]) {
            if let Some(&pos) = on_path.get(&next) {
                let cycle = path[pos..].to_vec();
                if !cycle.iter().any(|c| reported.contains(c)) {
                    reported.extend(cycle.iter().copied());
                    g.cycles.push(cycle);
                }
                break;
            }
            if done.contains(&next) {
                break;
            }
            on_path.insert(next, path.len());
            path.push(next);
            current = next;
        }
        done.extend(path);
    }
    g.order.extend((0..n).filter(|&i| !placed[i]));
}

/// An import whose exporter is not ordered before the importer: CloudFormation would create the
/// two in parallel and the import could fail.
fn races(
    g: &Graph,
    stacks: &[Stack],
    exports: &IndexMap<String, Export>,
    imports: &[ImportUse],
    diags: &mut Vec<Diagnostic>,
) {
    // Reference and DependsOn edges only: what orders resources within one stack.
    let mut adjacency: Vec<Vec<usize>> = vec![Vec::new(); g.nodes.len()];
    for e in g
        .edges
        .iter()
        .filter(|e| matches!(e.kind, EdgeKind::Reference | EdgeKind::DependsOn))
    {
        adjacency[e.from].push(e.to);
    }
    let chain = |mut s: StackId| {
        let mut c = vec![s];
        while let Some((p, _)) = &stacks[s].parent {
            s = *p;
            c.push(s);
        }
        c.reverse();
        c
    };
    let mut seen = HashSet::new();
    for imp in imports {
        let Some(export) = exports.get(&imp.export) else {
            continue;
        };
        let (a, b) = (export.stack, imp.stack);
        if !seen.insert((a, b, imp.export.clone())) {
            continue;
        }
        let (ca, cb) = (chain(a), chain(b));
        let depth = ca.iter().zip(&cb).take_while(|(x, y)| x == y).count();
        let lca = ca[depth - 1];
        let lca_stack = &stacks[lca];
        let exporter = stacks[a].qualified("").trim_end_matches('/').to_string();
        let exporter = if exporter.is_empty() {
            "the root stack".to_string()
        } else {
            format!("stack `{exporter}`")
        };
        let message = if a == b || a == lca {
            format!("`{}` is exported by {exporter} ({}), which completes only after this stack: the import cannot be resolved", imp.export, stacks[a].file)
        } else {
            let node_a = &stacks[ca[depth]]
                .parent
                .as_ref()
                .map(|(_, id)| id.clone())
                .unwrap_or_default();
            let node_b = if b == lca {
                imp.logical_id.clone().unwrap_or_default()
            } else {
                stacks[cb[depth]]
                    .parent
                    .as_ref()
                    .map(|(_, id)| id.clone())
                    .unwrap_or_default()
            };
            if reaches(g, &adjacency, lca, &node_b, node_a) {
                continue;
            }
            let d = Diagnostic::new(
                "E4005",
                &imp.span,
                format!(
                    "`{}` is exported by {exporter} ({}), but nothing orders `{node_a}` before `{node_b}` in {}: CloudFormation may create them in parallel",
                    imp.export, stacks[a].file, lca_stack.file
                ),
            )
            .at(imp.logical_id.as_deref(), imp.path.clone())
            .help(format!("add `DependsOn: {node_a}` to `{node_b}` in {}", lca_stack.file));
            diags.push(d);
            continue;
        };
        diags.push(
            Diagnostic::new("E4005", &imp.span, message)
                .at(imp.logical_id.as_deref(), imp.path.clone()),
        );
    }
}

/// Whether `from` depends on `to`, directly or not, through Reference and DependsOn edges of one stack.
fn reaches(g: &Graph, adjacency: &[Vec<usize>], stack: StackId, from: &str, to: &str) -> bool {
    let (Some(from), Some(to)) = (g.node(stack, from), g.node(stack, to)) else {
        return false;
    };
    let mut todo = vec![from];
    let mut seen = HashSet::from([from]);
    while let Some(n) = todo.pop() {
        if n == to {
            return true;
        }
        for &next in &adjacency[n] {
            if seen.insert(next) {
                todo.push(next);
            }
        }
    }
    false
}
