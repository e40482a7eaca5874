//! The CloudFormation/SAM template engine. It does no IO of its own: callers hand it a
//! [`Loader`] that reads files relative to the root template's folder.
//!
//! One call does everything: [`load`] reads the root template and every nested stack, applies
//! the SAM transform, resolves one environment (parameters, conditions, intrinsics, pseudo
//! parameters, exports and imports), builds the dependency [`Graph`] and runs every check. It
//! never stops at the first problem; all findings are in [`Project::diagnostics`].
//!
//! ```text
//! let project = template::load("template.yml", &loader, &Options::default());
//! for stack in &project.stacks { for (id, r) in &stack.resources { /* r.type_, r.properties */ } }
//! for (stack, resource) in project.deployment_order() { /* create */ }
//! ```
//!
//! Layout: `parse` (text to [`Node`] trees with positions), `model` (sections of one template),
//! `sam` (the serverless transform), `resolve` (evaluation, nested stacks, exports), `types`
//! (what each resource type returns for Ref/GetAtt), `graph` (order and cycles), `checks` and
//! `schedule` (service rules), `diag` (diagnostics and their codes), `project` (the public model).

mod checks;
pub mod diag;
pub mod graph;
pub mod loader;
pub mod model;
pub mod node;
pub mod parse;
pub mod project;
mod resolve;
pub mod sam;
pub mod schedule;
pub mod types;

pub use diag::{Diagnostic, Severity};
pub use graph::{Edge, EdgeKind, Graph, GraphNode};
pub use loader::{LoadError, Loader};
pub use node::{Node, NodeKind, Span};
pub use project::{Export, ImportUse, Options, Output, Project, Resource, Stack, StackId};

use indexmap::IndexMap;

/// The most resolution passes; each one lets an import see exports found by the one before.
const MAX_PASSES: usize = 4;

/// Loads, resolves and checks the project whose root template is `root` (a path relative to the
/// folder the loader reads from, normally just the file name).
pub fn load(root: &str, loader: &dyn Loader, options: &Options) -> Project {
    let mut engine = resolve::Engine::new(loader, options);
    let mut known: IndexMap<String, Export> = IndexMap::new();
    let mut result = resolve::run_pass(&mut engine, root, &known);
    for _ in 1..MAX_PASSES {
        let new_exports =
            result.exports.keys().any(|k| !known.contains_key(k)) || result.exports != known;
        if result.import_misses == 0 || !new_exports {
            break;
        }
        known = result.exports.clone();
        result = resolve::run_pass(&mut engine, root, &known);
    }
    let mut diagnostics = std::mem::take(&mut engine.static_diags);
    diagnostics.extend(result.diags);
    let mut graph = graph::build(
        &result.stacks,
        &result.exports,
        &result.imports,
        &mut diagnostics,
    );
    checks::run(
        &result.stacks,
        &mut graph,
        &|p| engine.exists(p),
        &mut diagnostics,
    );
    diag::sort(&mut diagnostics);
    diagnostics.dedup();
    Project {
        root_file: root.to_string(),
        env: engine.env.clone(),
        stacks: result.stacks,
        exports: result.exports,
        imports: result.imports,
        diagnostics,
        graph,
    }
}
