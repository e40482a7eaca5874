//! `cascade destroy`: delete every stack of an environment in reverse dependency order. Tables
//! and queues with `DeletionPolicy: Retain` stay (and leave the registry).

use super::aws::AwsArgs;
use super::deploy::{print_event, EnvArgs, Target};
use super::ProjectArgs;
use stacks::Outcome;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
#[command(
    about = "Delete every stack of an environment",
    after_help = "Examples:\n  cascade destroy\n  cascade destroy --env prod\n\nExit status: 0 when the environment is empty, 1 on a failure, 2 on bad usage."
)]
pub struct Args {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub env: EnvArgs,
    /// Where the stacks are.
    #[arg(long, value_enum, default_value_t = Target::Local)]
    pub target: Target,
    #[command(flatten)]
    pub aws: AwsArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.target == Target::Aws {
        return super::aws::destroy(&args.project, &args.env.env, &args.aws);
    }
    let deployer = args.env.open(&args.project)?;
    match deployer.destroy(&mut print_event)? {
        Outcome::NoChanges => println!("Nothing to destroy in environment {}", args.env.env),
        Outcome::Applied(done) => println!(
            "destroyed environment {}: {} stacks deleted",
            args.env.env,
            done.stacks.len()
        ),
    }
    Ok(ExitCode::SUCCESS)
}
