//! The `cascade` command line: glue over the library crates. Each command is one file in
//! `src/cmd/` with its clap `Args` and a `run` that returns the process exit code; `main` only
//! parses and dispatches. Usage errors exit 2 (clap's convention), findings and failures 1.

mod cmd;
mod companion;
mod console;
mod loader;
mod local;
mod render;
mod settings;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// The engine allocates and frees many small values per request (JSON documents, items, keys);
/// mimalloc does that with less time in the allocator than the system's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "cascade",
    version,
    about = "Validate, run and ship cascading serverless data pipelines",
    after_help = "Examples:\n  cascade up\n  cascade up --once\n  cascade validate --param Environment=dev\n  cascade deploy --env prod\n  cascade serve"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Up(cmd::up::Args),
    Validate(cmd::validate::Args),
    Graph(cmd::graph::Args),
    Serve(cmd::serve::Args),
    Invoke(cmd::invoke::Args),
    Logs(cmd::logs::Args),
    Deploy(cmd::deploy::Args),
    Plan(cmd::plan::Args),
    Destroy(cmd::destroy::Args),
    Package(cmd::package::Args),
    Status(cmd::status::Args),
    Build(cmd::build::Args),
    Alarms(cmd::alarms::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    console::init_logging();
    let result = match cli.command {
        Command::Up(args) => cmd::up::run(args),
        Command::Validate(args) => cmd::validate::run(args),
        Command::Graph(args) => cmd::graph::run(args),
        Command::Serve(args) => cmd::serve::run(args),
        Command::Invoke(args) => cmd::invoke::run(args),
        Command::Logs(args) => cmd::logs::run(args),
        Command::Deploy(args) => cmd::deploy::run(args),
        Command::Plan(args) => cmd::plan::run(args),
        Command::Destroy(args) => cmd::destroy::run(args),
        Command::Package(args) => cmd::package::run(args),
        Command::Status(args) => cmd::status::run(args),
        Command::Build(args) => cmd::build::run(args),
        Command::Alarms(args) => cmd::alarms::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
