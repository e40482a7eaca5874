//! `cascade validate`: load every stack, resolve one environment, print every finding.

use super::ProjectArgs;
use crate::render;
use clap::ValueEnum;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
#[command(
    about = "Check the root template and every nested stack, across stacks",
    after_help = "Examples:\n  cascade validate --param Environment=dev\n  cascade validate --template stacks/template.yml --param Environment=prod --strict --output json\n\nExit status: 0 when there is no error (warnings allowed unless --strict), 1 when there is one, 2 on bad usage."
)]
pub struct Args {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Treat warnings as errors for the exit status.
    #[arg(long)]
    pub strict: bool,
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
    let (project, loader) = args.project.load();
    match args.output {
        Output::Json => println!("{}", render::json(&project)),
        Output::Human => {
            print!("{}", render::human(&project.diagnostics, &loader));
            println!(
                "validated {}, {}: {}, {}",
                count(project.stacks.len(), "stack"),
                count(project.resource_count(), "resource"),
                count(project.errors(), "error"),
                count(project.warnings(), "warning"),
            );
        }
    }
    let failed = project.errors() > 0 || (args.strict && project.warnings() > 0);
    // The process ends right after this: freeing every node of a large project one by one
    // costs a good part of the run, and the operating system reclaims it all at once anyway.
    std::mem::forget(project);
    Ok(ExitCode::from(u8::from(failed)))
}

/// `1 error`, `2 errors`.
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
