//! `cascade logs [FUNCTION] [--follow]`: the log events of the environment's functions, read
//! from its store (each invocation's START, output lines, END and REPORT), oldest first. With
//! `--follow` it keeps printing what a running `cascade up` writes, until interrupted.

use super::deploy::EnvArgs;
use super::ProjectArgs;
use anyhow::Context;
use std::process::ExitCode;
use std::time::Duration;

#[derive(clap::Args, Debug)]
#[command(
    about = "Show the functions' log events",
    after_help = "Examples:\n  cascade logs\n  cascade logs SalespersonCollector --follow\n  cascade logs --env prod"
)]
pub struct Args {
    /// The function (name, logical id or ARN); every function when absent.
    pub function: Option<String>,
    /// Keep printing new events until interrupted.
    #[arg(long, short = 'f')]
    pub follow: bool,
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub env: EnvArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let path = args.env.state_dir(&args.project).join(api::STORE_FILE);
    if !path.exists() {
        anyhow::bail!(
            "environment {} has no state (`{}`): run `cascade up` or `cascade deploy` first",
            args.env.env,
            path.display()
        );
    }
    let store = store::Store::open(&path, store::Options::default())
        .with_context(|| format!("open the store `{}`", path.display()))?;
    let function = match &args.function {
        None => None,
        Some(given) => Some(function_name(&store, given)?),
    };
    let mut last = 0;
    loop {
        let events = lambda::read_logs(&store, function.as_deref(), last, 1000)
            .context("read the log events")?;
        for e in &events {
            println!(
                "{} {} {}",
                api::cloudwatch::time::iso(e.timestamp_ms),
                e.function,
                e.message
            );
            last = e.id;
        }
        if events.len() < 1000 {
            if !args.follow {
                return Ok(ExitCode::SUCCESS);
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

/// The deployed function's name for a name, logical id or ARN.
fn function_name(store: &store::Store, given: &str) -> anyhow::Result<String> {
    let name = lambda::function_name(given);
    let registry = stacks::Registry::open(store.clone())?;
    let functions = registry.resources_of_type("AWS::Lambda::Function")?;
    if let Some(f) = functions
        .iter()
        .find(|f| f.physical_id == name || f.logical_id == given)
    {
        return Ok(f.physical_id.clone());
    }
    let names: Vec<&str> = functions.iter().map(|f| f.physical_id.as_str()).collect();
    anyhow::bail!(
        "no deployed function `{given}`; the functions are: {}",
        names.join(", ")
    )
}
