//! `cascade plan`: the change set `cascade deploy` would apply, per stack and resource, without
//! changing anything. It refuses what the deploy would refuse (data loss without
//! `--allow-data-loss`, an export in use), so CI can run it before a deploy.

use super::deploy::{load_valid, EnvArgs};
use super::ProjectArgs;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
#[command(
    about = "Show the change set a deploy would apply, changing nothing",
    after_help = "Examples:\n  cascade plan\n  cascade plan --env prod --allow-data-loss\n\nExit status: 0 when the change set may be applied (or is empty), 1 when the deploy would refuse it, 2 on bad usage."
)]
pub struct Args {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub env: EnvArgs,
    /// Accept replacements and removals that delete a table's items or a queue's messages.
    #[arg(long)]
    pub allow_data_loss: bool,
    /// Accepted for symmetry with `deploy`; an empty change set is not a failure of `plan`.
    #[arg(long, hide = true)]
    pub fail_on_empty_changeset: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let Some((_, desired)) = load_valid(&args.project, &args.env.env) else {
        return Ok(ExitCode::from(1));
    };
    let deployer = args.env.open(&args.project)?;
    if deployer.registry().interrupted()?.is_some() {
        println!("note: an interrupted operation will be rolled back first by the next deploy");
    }
    let changes = deployer.plan(&desired)?;
    print!("{}", changes.render());
    changes.check_data_loss(args.allow_data_loss)?;
    Ok(ExitCode::SUCCESS)
}
