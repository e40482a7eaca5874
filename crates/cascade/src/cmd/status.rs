//! `cascade status`: the deployed stacks of an environment as a tree: status, outputs, exports
//! and each resource's physical id; `--output json` for scripts.

use super::deploy::EnvArgs;
use super::ProjectArgs;
use clap::ValueEnum;
use serde_json::{json, Value};
use stacks::{Registry, StackRecord};
use std::fmt::Write as _;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
#[command(
    about = "Show the deployed stacks of an environment",
    after_help = "Examples:\n  cascade status\n  cascade status --env prod --output json"
)]
pub struct Args {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub env: EnvArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Human)]
    pub output: Output,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Output {
    Human,
    Json,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let deployer = args.env.open(&args.project)?;
    let registry = deployer.registry();
    let stacks: Vec<StackRecord> = registry
        .stacks()?
        .into_iter()
        .filter(|s| s.status != "DELETE_COMPLETE")
        .collect();
    let interrupted = registry.interrupted()?;
    let tree = roots(&stacks)
        .map(|s| stack_json(registry, &stacks, s))
        .collect::<anyhow::Result<Vec<Value>>>()?;
    match args.output {
        Output::Json => {
            let doc = json!({
                "environment": args.env.env,
                "interrupted": interrupted,
                "stacks": tree,
            });
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        Output::Human => {
            if tree.is_empty() {
                println!("No stacks deployed in environment {}", args.env.env);
            }
            let mut out = String::new();
            for s in &tree {
                human(&mut out, s, 0);
            }
            print!("{out}");
            if let Some(kind) = interrupted {
                println!("note: an interrupted {kind} will be rolled back or completed by the next deploy or destroy");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn roots(stacks: &[StackRecord]) -> impl Iterator<Item = &StackRecord> {
    stacks.iter().filter(|s| {
        s.parent
            .as_ref()
            .is_none_or(|p| !stacks.iter().any(|o| &o.name == p))
    })
}

fn stack_json(registry: &Registry, all: &[StackRecord], s: &StackRecord) -> anyhow::Result<Value> {
    let resources: Vec<Value> = registry
        .stack_resources(&s.name)?
        .into_iter()
        .map(|r| {
            json!({
                "logical_id": r.resource.logical_id,
                "type": r.resource.type_,
                "physical_id": r.resource.physical_id,
                "arn": r.resource.arn,
                "status": r.status,
            })
        })
        .collect();
    let children = all
        .iter()
        .filter(|c| c.parent.as_deref() == Some(s.name.as_str()))
        .map(|c| stack_json(registry, all, c))
        .collect::<anyhow::Result<Vec<Value>>>()?;
    Ok(json!({
        "name": s.name,
        "stack_id": s.stack_id,
        "logical_id": s.logical_id,
        "status": s.status,
        "status_reason": s.status_reason,
        "outputs": s.outputs.iter().map(|o| json!({
            "key": o.key,
            "value": o.value,
            "description": o.description,
            "export": o.export_name,
        })).collect::<Vec<_>>(),
        "resources": resources,
        "stacks": children,
    }))
}

fn human(out: &mut String, s: &Value, depth: usize) {
    let pad = "  ".repeat(depth);
    let name = s["name"].as_str().unwrap_or("");
    let _ = match s["logical_id"].as_str() {
        Some(id) => writeln!(
            out,
            "{pad}{name} ({id})  {}",
            s["status"].as_str().unwrap_or("")
        ),
        None => writeln!(out, "{pad}{name}  {}", s["status"].as_str().unwrap_or("")),
    };
    if let Some(reason) = s["status_reason"].as_str() {
        let _ = writeln!(out, "{pad}  reason: {reason}");
    }
    for o in s["outputs"].as_array().into_iter().flatten() {
        let export = o["export"]
            .as_str()
            .map(|e| format!("  (export {e})"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{pad}  output {} = {}{export}",
            o["key"].as_str().unwrap_or(""),
            o["value"].as_str().unwrap_or("")
        );
    }
    for r in s["resources"].as_array().into_iter().flatten() {
        if r["type"] == "AWS::CloudFormation::Stack" {
            continue;
        }
        let _ = writeln!(
            out,
            "{pad}  {} {} {}",
            r["logical_id"].as_str().unwrap_or(""),
            r["type"].as_str().unwrap_or(""),
            r["physical_id"].as_str().unwrap_or("")
        );
    }
    for c in s["stacks"].as_array().into_iter().flatten() {
        human(out, c, depth + 1);
    }
}
