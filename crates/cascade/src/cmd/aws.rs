//! `--target aws` of `cascade deploy` and `cascade destroy`: the same stacks and function
//! binaries on real AWS through CloudFormation change sets. Also what `cascade package` shares
//! with them: loading a project that validates, the AWS clients, and packaging to S3.
//!
//! Credentials and region come from the standard AWS chain (environment, profile, web identity
//! as in CI); `--region` and `--endpoint-url` override it. The work is done by the `ship` crate;
//! this file turns its outcomes into lines and exit codes.

use super::ProjectArgs;
use crate::render;
use anyhow::Context;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;
use template::Project;

/// Options only the AWS target reads; `deploy` and `destroy` flatten them into their arguments.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct AwsArgs {
    /// The S3 bucket for function zips and nested templates (created when absent).
    #[arg(long, value_name = "BUCKET")]
    pub bucket: Option<String>,
    /// The key prefix under the bucket [default: the environment name].
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<String>,
    /// Capabilities to acknowledge (CAPABILITY_IAM, CAPABILITY_NAMED_IAM, CAPABILITY_AUTO_EXPAND).
    #[arg(long, value_name = "CAP", num_args = 1..)]
    pub capabilities: Vec<String>,
    /// An empty change set is success rather than a failure (as `sam deploy`).
    #[arg(long)]
    pub no_fail_on_empty_changeset: bool,
    /// Send AWS requests to this endpoint instead of AWS's (a moto server, a proxy).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Do not run `cargo lambda build`: each Rust function folder already holds its `bootstrap`.
    #[arg(long)]
    pub no_build: bool,
}

/// How often CloudFormation is asked how far it got.
const POLL: Duration = Duration::from_secs(3);

/// Whether a flag was written on the command line, as opposed to taking its default: the
/// shared `--region` and `--stack-name` have defaults for local runs, while on AWS an unwritten
/// region comes from the credential chain and an unwritten stack name from the environment.
fn given(flag: &str) -> bool {
    let with_value = format!("{flag}=");
    std::env::args().any(|a| a == flag || a.starts_with(&with_value))
}

/// The AWS stack name: `--stack-name` when written, else `cascade-<env>`, so that two
/// environments in one account never share a stack.
pub fn stack_name(project: &ProjectArgs, env: &str) -> String {
    if given("--stack-name") {
        project.stack_name.clone()
    } else {
        format!("{}-{env}", project.stack_name)
    }
}

/// A project that validates, and the root parameters to send: the `--param` values, plus
/// `Environment=<env>` when the root template declares `Environment` and no `--param` sets it.
/// `None` after printing the errors when a template has any.
pub fn load_checked(project: &ProjectArgs, env: &str) -> Option<(Project, Vec<(String, String)>)> {
    let mut args = project.clone();
    let (first, _) = args.load();
    let declares = first
        .stacks
        .first()
        .and_then(|s| s.template.as_ref())
        .is_some_and(|t| t.parameters.contains_key("Environment"));
    if declares && !args.params.iter().any(|(k, _)| k == "Environment") {
        args.params.push(("Environment".into(), env.into()));
    }
    let (loaded, loader) = args.load();
    if render::refuse_on_errors(&loaded, &loader, "shipped") {
        return None;
    }
    Some((loaded, args.params))
}

/// The AWS clients for these options.
pub async fn clients(endpoint_url: Option<&str>, region: &str) -> ship::Clients {
    ship::Clients::connect(&ship::AwsOptions {
        region: given("--region").then(|| region.to_string()),
        endpoint_url: endpoint_url.map(str::to_string),
        static_credentials: None,
    })
    .await
}

/// What `package` needs besides the clients.
pub struct PackageRequest<'a> {
    pub project: &'a ProjectArgs,
    pub env: &'a str,
    pub bucket: &'a str,
    pub prefix: Option<&'a str>,
    pub no_build: bool,
    pub output: Option<&'a Path>,
}

/// Builds, zips and uploads everything, and returns the packaged root template.
pub async fn package(
    clients: &ship::Clients,
    request: &PackageRequest<'_>,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<ship::Packaged> {
    let root = super::deploy::project_root(&request.project.template);
    let options = ship::PackageOptions {
        template: request.project.template.clone(),
        bucket: request.bucket.to_string(),
        prefix: request.prefix.unwrap_or(request.env).to_string(),
        build: if request.no_build {
            ship::Build::Prebuilt
        } else {
            ship::Build::default()
        },
        work_dir: root.join(".cascade").join(request.env).join("package"),
    };
    ship::package(clients, &options, request.output, out)
        .await
        .with_context(|| format!("package to s3://{}", request.bucket))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the async runtime")
}

/// `cascade deploy --target aws`.
pub fn deploy(project: &ProjectArgs, env: &str, args: &AwsArgs) -> anyhow::Result<ExitCode> {
    let bucket = args.bucket.as_deref().context(
        "--bucket is required with --target aws: the S3 bucket for function zips and nested \
         templates (created when absent)",
    )?;
    let Some((_, parameters)) = load_checked(project, env) else {
        return Ok(ExitCode::from(1));
    };
    let stack = stack_name(project, env);
    runtime()?.block_on(async {
        let clients = clients(args.endpoint_url.as_deref(), &project.region).await;
        let mut out = std::io::stdout();
        let request = PackageRequest {
            project,
            env,
            bucket,
            prefix: args.prefix.as_deref(),
            no_build: args.no_build,
            output: None,
        };
        let packaged = package(&clients, &request, &mut out).await?;
        // CloudFormation takes a template body up to 51,200 bytes; a larger root goes to S3.
        let template = if packaged.template.len() <= ship::deploy::MAX_TEMPLATE_BODY {
            ship::TemplateSource::Body(packaged.template)
        } else {
            let location = ship::package::Location {
                bucket: bucket.to_string(),
                prefix: args.prefix.as_deref().unwrap_or(env).to_string(),
                region: clients.region.clone(),
            };
            let url = ship::package::upload_root(&clients, &location, &packaged.template)
                .await
                .context("upload the packaged root template")?;
            ship::TemplateSource::Url(url)
        };
        let options = ship::DeployOptions {
            stack_name: stack.clone(),
            template,
            parameters,
            capabilities: args.capabilities.clone(),
            fail_on_empty_changeset: !args.no_fail_on_empty_changeset,
            poll: POLL,
        };
        let outcome = ship::deploy(&clients.cloudformation, &options, &mut out)
            .await
            .with_context(|| format!("deploy stack {stack}"))?;
        Ok(match outcome {
            ship::Outcome::Deployed { .. } | ship::Outcome::NoChanges => ExitCode::SUCCESS,
            ship::Outcome::Failed { status, failure } => {
                match failure {
                    Some(f) => eprintln!("error: stack {stack} ended in {status}: {f}"),
                    None => eprintln!("error: stack {stack} ended in {status}"),
                }
                ExitCode::from(1)
            }
        })
    })
}

/// `cascade destroy --target aws`.
pub fn destroy(project: &ProjectArgs, env: &str, args: &AwsArgs) -> anyhow::Result<ExitCode> {
    let stack = stack_name(project, env);
    runtime()?.block_on(async {
        let clients = clients(args.endpoint_url.as_deref(), &project.region).await;
        let mut out = std::io::stdout();
        let destroyed = ship::destroy(&clients.cloudformation, &stack, POLL, &mut out)
            .await
            .with_context(|| format!("delete stack {stack}"))?;
        Ok(match destroyed {
            ship::Destroyed::Missing | ship::Destroyed::Deleted { .. } => ExitCode::SUCCESS,
            ship::Destroyed::Failed { status, failure } => {
                match failure {
                    Some(f) => eprintln!("error: stack {stack} ended in {status}: {f}"),
                    None => eprintln!("error: stack {stack} ended in {status}"),
                }
                ExitCode::from(1)
            }
        })
    })
}
