//! `cascade deploy`: resolve the stacks, compute the change set against what the environment
//! has deployed, print it, and apply it to the local cloud (or, with `--target aws`, to AWS).
//! Also the pieces `plan`, `destroy` and `status` share: the environment options, the state
//! folder next to the root template, loading a project that validates, and event lines.

use super::aws::AwsArgs;
use super::ProjectArgs;
use crate::render;
use anyhow::Context;
use clap::ValueEnum;
use stacks::{DeployOptions, Deployer, Desired, Outcome, StackEvent};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use template::Project;

/// Set to `N` to hold a deploy in place after its `N`th resource (the crash tests kill it there).
pub const HOLD_ENV: &str = "CASCADE_DEPLOY_HOLD_AFTER";

#[derive(clap::Args, Debug)]
#[command(
    about = "Deploy the stacks into an environment of the local cloud (or AWS)",
    after_help = "Examples:\n  cascade deploy\n  cascade deploy --env prod --param VendorApiUrl=https://vendor.example\n  cascade deploy --allow-data-loss --fail-on-empty-changeset\n\nExit status: 0 when deployed or when there is nothing to change, 1 on a failure (the environment is rolled back) or an empty change set with --fail-on-empty-changeset, 2 on bad usage."
)]
pub struct Args {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub env: EnvArgs,
    /// Exit 1 when there is nothing to change (as `sam deploy` does by default).
    #[arg(long)]
    pub fail_on_empty_changeset: bool,
    /// Allow replacements and removals that delete a table's items or a queue's messages.
    #[arg(long)]
    pub allow_data_loss: bool,
    /// Where to deploy.
    #[arg(long, value_enum, default_value_t = Target::Local)]
    pub target: Target,
    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Target {
    Local,
    Aws,
}

/// Which environment, and where its state is.
#[derive(clap::Args, Clone, Debug)]
pub struct EnvArgs {
    /// The environment (its state folder, and the `Environment` parameter when not given).
    #[arg(long, default_value = "dev", value_name = "NAME")]
    pub env: String,
    /// The environment's state folder [default: .cascade/<env> next to the root template]
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

impl EnvArgs {
    /// The state folder: `--state-dir`, or `.cascade/<env>` in the root template's folder.
    pub fn state_dir(&self, project: &ProjectArgs) -> PathBuf {
        self.state_dir.clone().unwrap_or_else(|| {
            project_root(&project.template)
                .join(".cascade")
                .join(&self.env)
        })
    }

    /// Opens the environment's store and the deployer on it.
    pub fn open(&self, project: &ProjectArgs) -> anyhow::Result<Deployer> {
        let path = self.state_dir(project).join(api::STORE_FILE);
        let store = store::Store::open(&path, store::Options::default())
            .with_context(|| format!("open the store `{}`", path.display()))?;
        Deployer::new(store, Arc::new(store::SystemClock))
            .with_context(|| format!("open the deployed stacks in `{}`", path.display()))
    }
}

/// The root template's folder.
pub fn project_root(template: &Path) -> PathBuf {
    template
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

/// Loads the project for `env`; `None` (after printing the errors as `validate` does) when a
/// template has errors.
/// `Environment=<env>` is passed when the root template declares an `Environment` parameter and
/// no `--param` sets it.
pub fn load_valid(args: &ProjectArgs, env: &str) -> Option<(Project, Desired)> {
    let (mut project, mut loader) = args.load();
    let declares = project
        .stacks
        .first()
        .and_then(|s| s.template.as_ref())
        .is_some_and(|t| t.parameters.contains_key("Environment"));
    if declares && !args.params.iter().any(|(k, _)| k == "Environment") {
        let mut args = args.clone();
        args.params.push(("Environment".into(), env.into()));
        (project, loader) = args.load();
    }
    if render::refuse_on_errors(&project, &loader, "deployed") {
        return None;
    }
    let root = std::path::absolute(&loader.root).unwrap_or_else(|_| loader.root.clone());
    let desired = Desired::from_project(&project, &loader, &root);
    Some((project, desired))
}

/// One line per event, as the deploy goes.
pub fn print_event(e: &StackEvent) {
    let reason = e
        .reason
        .as_deref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    println!(
        "  {:<36} {}/{} ({}){reason}",
        e.status, e.stack, e.logical_id, e.type_
    );
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.target == Target::Aws {
        return super::aws::deploy(&args.project, &args.env.env, &args.aws);
    }
    let Some((_, desired)) = load_valid(&args.project, &args.env.env) else {
        return Ok(ExitCode::from(1));
    };
    let deployer = args.env.open(&args.project)?;
    if deployer.recover(&mut print_event)? {
        println!(
            "rolled back the interrupted operation of environment {}",
            args.env.env
        );
    }
    let changes = deployer.plan(&desired)?;
    print!("{}", changes.render());
    if changes.is_empty() {
        return Ok(ExitCode::from(u8::from(args.fail_on_empty_changeset)));
    }
    changes.check_data_loss(args.allow_data_loss)?;
    let hold = std::env::var(HOLD_ENV)
        .ok()
        .and_then(|v| v.parse::<usize>().ok());
    let hook = move |done: usize| {
        if Some(done) == hold {
            eprintln!("holding after {done} resources");
            loop {
                std::thread::park();
            }
        }
    };
    let options = DeployOptions {
        allow_data_loss: args.allow_data_loss,
        after_step: Some(&hook),
    };
    match deployer.deploy(&desired, &options, &mut print_event)? {
        Outcome::NoChanges => println!("No changes"),
        Outcome::Applied(done) => {
            let count = |a: stacks::Action| done.changes().filter(|c| c.action == a).count();
            println!(
                "deployed environment {}: {} stacks changed, {} added, {} modified, {} replaced, {} removed",
                args.env.env,
                done.stacks.len(),
                count(stacks::Action::Add),
                count(stacks::Action::Modify),
                count(stacks::Action::Replace),
                count(stacks::Action::Remove),
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
