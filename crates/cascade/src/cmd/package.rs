//! `cascade package`: build each function for Lambda, upload the zips and the nested templates
//! to S3 under content-addressed keys, and write the root template rewritten to point at them.

use super::aws::{self, PackageRequest};
use super::ProjectArgs;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
#[command(
    about = "Build the functions and upload them and the nested templates to S3",
    after_help = "Examples:\n  cascade package --env prod --bucket my-artifacts --output-template packaged.yml\n  cascade package --env dev --bucket my-artifacts --prefix cascade/feature-x/dev --no-build\n\nFunctions whose Metadata says `BuildMethod: rust-cargolambda` (or whose CodeUri is a cargo crate) are built with `cargo lambda build --release` (`pip install cargo-lambda`); other folders are zipped as they are. An unchanged function or template is not uploaded again.\n\nExit status: 0 when packaged, 1 on an error, 2 on bad usage."
)]
pub struct Args {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// The environment (the `Environment` parameter when not given, and the default prefix).
    #[arg(long, default_value = "dev", value_name = "NAME")]
    pub env: String,
    /// The S3 bucket (created when absent).
    #[arg(long, value_name = "BUCKET")]
    pub bucket: String,
    /// The key prefix under the bucket [default: the environment name].
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<String>,
    /// Where to write the packaged root template [default: standard output].
    #[arg(long, value_name = "FILE")]
    pub output_template: Option<PathBuf>,
    /// Do not run `cargo lambda build`: each Rust function folder already holds its `bootstrap`.
    #[arg(long)]
    pub no_build: bool,
    /// Send AWS requests to this endpoint instead of AWS's (a moto server, a proxy).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if aws::load_checked(&args.project, &args.env).is_none() {
        return Ok(ExitCode::from(1));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let clients = aws::clients(args.endpoint_url.as_deref(), &args.project.region).await;
        let request = PackageRequest {
            project: &args.project,
            env: &args.env,
            bucket: &args.bucket,
            prefix: args.prefix.as_deref(),
            no_build: args.no_build,
            output: args.output_template.as_deref(),
        };
        // With the template on standard output, progress goes to standard error.
        let packaged = if args.output_template.is_some() {
            aws::package(&clients, &request, &mut std::io::stdout()).await?
        } else {
            let packaged = aws::package(&clients, &request, &mut std::io::stderr()).await?;
            print!("{}", packaged.template);
            packaged
        };
        let uploaded = packaged.objects.iter().filter(|o| o.uploaded).count();
        eprintln!(
            "packaged: {uploaded} uploaded, {} unchanged",
            packaged.objects.len() - uploaded
        );
        Ok(ExitCode::SUCCESS)
    })
}
