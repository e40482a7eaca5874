//! The `cascade` command line: glue over the library crates. Each command is one file in
//! `src/cmd/` with its clap `Args` and a `run` that returns the process exit code; `main` only
//! parses and dispatches. Usage errors exit 2 (clap's convention), findings and failures 1.

mod cmd;
mod loader;
mod render;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "cascade",
    version,
    about = "Validate, run and ship cascading serverless data pipelines",
    after_help = "Examples:\n  cascade validate --param Environment=dev\n  cascade graph --format mermaid\n  cascade serve"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Validate(cmd::validate::Args),
    Graph(cmd::graph::Args),
    Serve(cmd::serve::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(args) => cmd::validate::run(args),
        Command::Graph(args) => cmd::graph::run(args),
        Command::Serve(args) => cmd::serve::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
