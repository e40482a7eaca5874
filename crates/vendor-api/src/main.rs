//! The `vendor-api` binary: parses the command line into a [`Config`], binds the listener, prints
//! `listening on http://ADDR` as its first line of standard output (a parent process reads the
//! bound address from it, which matters with port 0) and serves until killed.

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::Parser;
use vendor_api::{Config, SharedClock};

/// The demo Dunder Mifflin sales API, with deterministic data and fault injection.
///
/// Example: vendor-api --listen 127.0.0.1:0 --branches 100 --salespersons 100 --sales 100
///          --fail-rate 0.1 --slow-rate 0.02 --malformed-rate 0.01 --rate-limit 2000
#[derive(Debug, Parser)]
#[command(name = "vendor-api", version)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:4580")]
    listen: String,
    /// Seed of every generated value and fault decision.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Number of branches (the original's 13 names first).
    #[arg(long, default_value_t = 13)]
    branches: u32,
    /// Salespersons per branch (3 to 6 other employees are added).
    #[arg(long, default_value_t = 10)]
    salespersons: u32,
    /// Sales per salesperson.
    #[arg(long, default_value_t = 10)]
    sales: u32,
    /// Length of the sales window in seconds: sales fall in [now - window, now).
    #[arg(long, default_value_t = 86_400)]
    window_secs: u64,
    /// End of the sales window, as Unix seconds or RFC 3339; default: the start of the hour
    /// (UTC) the server starts in, so that a restart within the hour serves the same records.
    #[arg(long, value_parser = parse_time)]
    now: Option<SystemTime>,
    /// Data revision: revision k alters the records of revision class k modulo 20 (about 5%).
    #[arg(long, default_value_t = 0)]
    revision: u32,
    /// Share of requests answered with a 500 (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    fail_rate: f64,
    /// Share of requests answered after --slow-ms (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    slow_rate: f64,
    /// Delay of a slow answer, in milliseconds.
    #[arg(long, default_value_t = 5_000)]
    slow_ms: u64,
    /// Share of records served with no id or a bad timestamp (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    malformed_rate: f64,
    /// Requests per second served before answering 429 with Retry-After.
    #[arg(long)]
    rate_limit: Option<u32>,
    /// A branch id whose employees and sales always answer 500; repeatable. At run time,
    /// `PUT /_admin/fail-branch/ID` adds one and `DELETE /_admin/fail-branch/ID` clears it.
    #[arg(long = "fail-branch")]
    fail_branches: Vec<u64>,
    /// Worker threads of the server.
    #[arg(long, default_value_t = 2)]
    workers: usize,
}

fn parse_time(text: &str) -> Result<SystemTime, String> {
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(UNIX_EPOCH + Duration::from_secs(seconds));
    }
    let at = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|error| format!("expected Unix seconds or RFC 3339 (`{text}`): {error}"))?;
    Ok(at.into())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let filter = std::env::var("LOGGING_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .init();
    let config = Config {
        seed: args.seed,
        branches: args.branches,
        salespersons: args.salespersons,
        sales: args.sales,
        window: Duration::from_secs(args.window_secs),
        now: args.now,
        revision: args.revision,
        fail_rate: args.fail_rate,
        slow_rate: args.slow_rate,
        slow: Duration::from_millis(args.slow_ms),
        malformed_rate: args.malformed_rate,
        rate_limit: args.rate_limit,
        fail_branches: args.fail_branches,
        clock: SharedClock::default(),
    };
    config.validate()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers.max(1))
        .enable_all()
        .build()
        .context("start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("bind `{}`", args.listen))?;
        let address = listener.local_addr().context("read the bound address")?;
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on http://{address}").context("write the bound address")?;
        stdout.flush().context("write the bound address")?;
        drop(stdout);
        vendor_api::serve(config, listener).await?;
        Ok(())
    })
}
