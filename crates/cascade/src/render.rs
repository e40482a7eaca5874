//! Printing diagnostics: the human form with the source line and a caret, like rustc, and the
//! JSON form of `--output json`.
//!
//! The human form is rendered by hand rather than through a snippet crate: every diagnostic points
//! at one position (the engine keeps start positions, not ranges), so one source line, a gutter
//! and an underline are all there is to draw, and the exact text stays under our control for tests.

use serde_json::json;
use std::collections::HashMap;
use template::{Diagnostic, Loader, Project};

/// The `--output json` object.
pub fn json(project: &Project) -> serde_json::Value {
    let diagnostics: Vec<serde_json::Value> = project
        .diagnostics
        .iter()
        .map(|d| {
            json!({
                "severity": d.severity.as_str(),
                "code": d.code,
                "file": d.file,
                "line": d.line,
                "column": d.column,
                "logical_id": d.logical_id,
                "path": d.path,
                "message": d.message,
            })
        })
        .collect();
    json!({"diagnostics": diagnostics, "stacks": project.stacks.len(), "resources": project.resource_count()})
}

/// How many characters to underline from `column`: the scalar or key written there. Inside a
/// flow collection (`[...]`, `{...}`) a plain scalar also ends at `,`, `]` or `}`.
fn underline_len(before: &str, rest: &str) -> usize {
    let rest = rest.trim_end();
    let in_flow = before.contains(['[', '{']);
    let rest = match rest.find([',', ']', '}']) {
        Some(i) if in_flow && !rest.starts_with(['[', '{']) => &rest[..i],
        _ => rest,
    };
    let len = if let Some(q @ ('\'' | '"')) = rest.chars().next() {
        rest[1..].find(q).map(|i| i + 2).unwrap_or(rest.len())
    } else {
        let cut = [
            rest.find(" #"),
            rest.find(": "),
            rest.strip_suffix(':').map(str::len),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(rest.len());
        rest[..cut].trim_end().chars().count()
    };
    len.max(1)
}

/// Every diagnostic with its source line, blank-line separated.
pub fn human(diags: &[Diagnostic], loader: &dyn Loader) -> String {
    let mut sources: HashMap<&str, Option<String>> = HashMap::new();
    let mut out = String::new();
    for d in diags {
        let text = sources
            .entry(d.file.as_str())
            .or_insert_with(|| loader.read(&d.file).ok());
        let line = text
            .as_deref()
            .and_then(|t| t.lines().nth(d.line.saturating_sub(1) as usize));
        let number = d.line.to_string();
        let pad = " ".repeat(number.len());
        out.push_str(&format!(
            "{}[{}]: {}\n",
            d.severity.as_str(),
            d.code,
            d.message
        ));
        out.push_str(&format!("{pad}--> {}:{}:{}\n", d.file, d.line, d.column));
        if let Some(line) = line {
            let line = line.replace('\t', " ");
            let start: String = line
                .chars()
                .take(d.column.saturating_sub(1) as usize)
                .collect();
            let rest: String = line
                .chars()
                .skip(d.column.saturating_sub(1) as usize)
                .collect();
            let label = if d.path.is_empty() {
                String::new()
            } else {
                format!(" {}", d.path)
            };
            out.push_str(&format!("{pad} |\n"));
            out.push_str(&format!("{number} | {line}\n"));
            out.push_str(&format!(
                "{pad} | {}{}{label}\n",
                " ".repeat(start.chars().count()),
                "^".repeat(underline_len(&start, &rest))
            ));
        } else if !d.path.is_empty() {
            out.push_str(&format!("{pad} = at: {}\n", d.path));
        }
        if let Some(help) = &d.help {
            out.push_str(&format!("{pad} = help: {help}\n"));
        }
        out.push('\n');
    }
    out
}

/// Prints a project's errors, rustc-style, and `error: N errors in the templates; nothing was
/// <done>`; true when there were any (the command must stop).
pub fn refuse_on_errors(project: &Project, loader: &dyn Loader, done: &str) -> bool {
    let errors: Vec<Diagnostic> = project
        .diagnostics
        .iter()
        .filter(|d| d.severity == template::Severity::Error)
        .cloned()
        .collect();
    if errors.is_empty() {
        return false;
    }
    eprint!("{}", human(&errors, loader));
    eprintln!(
        "error: {} error{} in the templates; nothing was {done}",
        errors.len(),
        if errors.len() == 1 { "" } else { "s" }
    );
    true
}
