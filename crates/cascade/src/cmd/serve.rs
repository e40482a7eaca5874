//! `cascade serve`: the environment's local cloud on one loopback port, speaking the AWS wire
//! protocols (SQS in JSON and Query form, DynamoDB, DynamoDB Streams), until interrupted.

use anyhow::Context;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
#[command(
    about = "Serve the environment's local cloud on one port, without running functions",
    after_help = "Examples:\n  \
    cascade serve\n  \
    aws --endpoint-url http://127.0.0.1:4566 dynamodb list-tables\n  \
    cascade serve --env prod --listen 127.0.0.1:4567\n  \
    CASCADE_AUTH_TOKEN=secret cascade serve --listen 0.0.0.0:4566"
)]
pub struct Args {
    /// The address to listen on. An address other than loopback requires an auth token.
    #[arg(long, default_value = api::DEFAULT_LISTEN, value_name = "ADDR")]
    pub listen: SocketAddr,
    /// The environment whose state is served.
    #[arg(long, default_value = "dev", value_name = "NAME")]
    pub env: String,
    /// The environment's state folder [default: .cascade/<env>]
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// A token every request must carry (header `x-cascade-auth-token`, or as the secret access
    /// key of its signature).
    #[arg(long, env = api::AUTH_TOKEN_ENV, value_name = "TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let state_dir = args
        .state_dir
        .unwrap_or_else(|| PathBuf::from(".cascade").join(&args.env));
    let mut config = api::ServeConfig::new(&args.env, state_dir);
    config.listen = args.listen;
    config.auth_token = args.auth_token;
    // Refuse a bad configuration before binding anything; it is a usage error (exit 2).
    if let Err(e) = config.check() {
        eprintln!("error: {e}");
        return Ok(ExitCode::from(2));
    }
    let listener = bind(config.listen)?;
    let runtime = api::runtime().context("start the async runtime")?;
    runtime.block_on(async move {
        let listener =
            tokio::net::TcpListener::from_std(listener).context("register the listener")?;
        tokio::select! {
            served = api::serve(config, listener) => served,
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Binds the endpoint's address, non-blocking, ready for `tokio::net::TcpListener::from_std`.
/// An address in use names the likely cause: another `up` or `serve` of some environment.
pub fn bind(addr: SocketAddr) -> anyhow::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(addr).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
            "; is another `cascade up` or `cascade serve` running? `--listen` takes another address"
        } else {
            ""
        };
        anyhow::anyhow!("listen on {addr}: {e}{hint}")
    })?;
    listener
        .set_nonblocking(true)
        .context("make the listener non-blocking")?;
    Ok(listener)
}
