//! `cascade build`: builds every function whose `Metadata` says `BuildMethod: rust-cargolambda`
//! (cargo, release profile) into `.cascade/build/<LogicalId>/bootstrap` under the project folder,
//! skipping those already up to date, and reports where each function's `bootstrap` is.
//! `build(project, root, false)` is what `up` and `invoke` call before running functions: it
//! builds only what is stale.

use super::ProjectArgs;
use anyhow::Context;
use lambda::build::{BuildReport, BuildStatus, BuildTarget};
use std::path::Path;
use std::process::ExitCode;
use template::Project;

#[derive(clap::Args, Debug)]
#[command(
    about = "Build the functions (BuildMethod: rust-cargolambda) and show where each bootstrap is",
    after_help = "Examples:\n  cascade build\n  cascade build --template template.yml --force"
)]
pub struct Args {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Rebuild every function, even those up to date.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (project, _) = args.project.load();
    if project.errors() > 0 {
        eprintln!(
            "{} errors: run `cascade validate` to see them",
            project.errors()
        );
        return Ok(ExitCode::from(1));
    }
    let root = super::deploy::project_root(&args.project.template);
    let reports = build(&project, &root, args.force)?;
    if reports.is_empty() {
        println!("no functions to build");
    }
    for r in &reports {
        let status = match r.status {
            BuildStatus::Built => "built",
            BuildStatus::UpToDate => "up to date",
            BuildStatus::NotBuilt => "not built",
        };
        println!(
            "{status:<11} {:<28} {}",
            r.logical_id,
            r.bootstrap.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Every function of the project with a local `CodeUri`, as a build target.
pub fn targets(project: &Project, root: &Path) -> Vec<BuildTarget> {
    project
        .resources()
        .filter(|(_, r)| r.type_ == "AWS::Lambda::Function")
        .filter_map(|(_, r)| {
            let code_uri = r.code_uri.as_ref()?;
            Some(BuildTarget {
                logical_id: r.logical_id.clone(),
                code_dir: root.join(code_uri),
                build_method: r
                    .metadata
                    .as_ref()
                    .and_then(|m| m.get("BuildMethod"))
                    .and_then(|b| b.as_str())
                    .map(str::to_owned),
            })
        })
        .collect()
}

/// Builds the project's stale functions (all with `force`); one report per function, in
/// project order.
pub fn build(project: &Project, root: &Path, force: bool) -> anyhow::Result<Vec<BuildReport>> {
    lambda::build::build_functions(root, &targets(project, root), force)
        .context("build the functions")
}
