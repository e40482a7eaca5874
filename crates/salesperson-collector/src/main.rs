//! The salesperson collector Lambda function: for each batch of the employee queue, collects the
//! salespersons of each branch message (see `collector::handle_branch_batch`) and answers with
//! the failed messages only (ReportBatchItemFailures). Configuration comes from the environment
//! (`collector::config`).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use collector::{Context, Stage};
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[global_allocator]
static ALLOCATOR: collector::Allocator = collector::Allocator;

#[tokio::main]
async fn main() -> Result<(), Error> {
    collector::init_logging();
    let ctx = Context::from_env(Stage::Salespersons).await?;
    let ctx = &ctx;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, Error>(collector::handle_branch_batch(event.payload, ctx).await)
    }))
    .await
}
