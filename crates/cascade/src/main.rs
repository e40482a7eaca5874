//! The `cascade` command line: glue over the library crates.

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "cascade",
    version,
    about = "Validate, run and ship cascading serverless data pipelines"
)]
struct Cli {}

fn main() {
    Cli::parse();
}
