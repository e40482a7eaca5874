//! `cascade invoke FUNCTION [-e event.json]`: one synchronous invocation of a deployed function
//! in the local cloud, as `sam local invoke` does: the response on standard output, the
//! invocation's log on standard error, exit 1 when the function failed. The function's AWS
//! calls go to a private endpoint on the same store, so it reads and writes the environment's
//! real queues and tables; its triggers do not run.

use super::deploy::EnvArgs;
use super::ProjectArgs;
use crate::local::Local;
use anyhow::Context;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
#[command(
    about = "Invoke a deployed function once, synchronously, and print its response",
    after_help = "Examples:\n  cascade invoke BranchCollector\n  cascade invoke SaleCollector -e event.json\n  echo '{}' | cascade invoke BranchCollector -e -"
)]
pub struct Args {
    /// The function: its name, logical id or ARN.
    pub function: String,
    /// The event: a JSON file, or `-` for standard input [default: {}]
    #[arg(long, short = 'e', value_name = "FILE")]
    pub event: Option<PathBuf>,
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub env: EnvArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let payload = match &args.event {
        None => b"{}".to_vec(),
        Some(p) if p.as_os_str() == "-" => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .context("read the event from standard input")?;
            buf
        }
        Some(p) => std::fs::read(p).with_context(|| format!("read the event `{}`", p.display()))?,
    };
    if let Err(e) = serde_json::from_slice::<serde_json::Value>(&payload) {
        eprintln!("error: the event is not JSON: {e}");
        return Ok(ExitCode::from(2));
    }
    let root = super::deploy::project_root(&args.project.template);
    let root = std::path::absolute(&root).unwrap_or(root);
    let (project, _) = args.project.load();
    if project.errors() == 0 {
        super::build::build(&project, &root, false)?;
    }
    let state_dir = args.env.state_dir(&args.project);
    if !state_dir.join(api::STORE_FILE).exists() {
        anyhow::bail!(
            "environment {} is not deployed (no `{}`): run `cascade deploy --env {}` first",
            args.env.env,
            state_dir.display(),
            args.env.env
        );
    }
    let runtime = api::runtime().context("start the async runtime")?;
    runtime.block_on(async move {
        let local = Local::open(&state_dir)?;
        local.sync()?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("listen on a loopback port")?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let config = api::ServeConfig::new(&args.env.env, state_dir.clone());
        let server = tokio::spawn(api::serve_with(config, local.services.clone(), listener));
        let (lambda, _) = local.start_lambda(&root, &endpoint, false)?;
        let name = resolve_name(&lambda, &local, &args.function)?;
        let result = lambda.invoke(&name, &payload).await;
        lambda.stop().await;
        server.abort();
        let result = result.with_context(|| format!("invoke {name}"))?;
        for line in &result.log {
            eprintln!("{line}");
        }
        println!("{}", String::from_utf8_lossy(&result.payload));
        Ok(match result.function_error {
            Some(e) => {
                eprintln!("function error {}: {}", e.error_type, e.error_message);
                ExitCode::from(1)
            }
            None => ExitCode::SUCCESS,
        })
    })
}

/// The deployed function named by a name, a logical id or an ARN.
pub fn resolve_name(lambda: &lambda::Lambda, local: &Local, given: &str) -> anyhow::Result<String> {
    let names = lambda.function_names();
    let wanted = lambda::function_name(given);
    if names.contains(&wanted) {
        return Ok(wanted);
    }
    let by_logical_id = local
        .deployer
        .registry()
        .resources_of_type("AWS::Lambda::Function")?
        .into_iter()
        .find(|r| r.logical_id == given)
        .map(|r| r.physical_id);
    by_logical_id.ok_or_else(|| {
        anyhow::anyhow!(
            "no deployed function `{given}`; the functions are: {}",
            names.join(", ")
        )
    })
}
