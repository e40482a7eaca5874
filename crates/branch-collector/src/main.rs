//! The branch collector Lambda function: on each scheduled event (or a direct invoke with any
//! part of one, `{}` included), collects the branches and starts a run of the cascade (see
//! `collector::handle_schedule`). Configuration comes from the environment
//! (`collector::config`); an error fails the invocation so that Lambda retries it.

use collector::{Context, ScheduleEvent, Stage};
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[global_allocator]
static ALLOCATOR: collector::Allocator = collector::Allocator;

// One thread: a Lambda instance handles one event at a time, and its work is waiting on the
// network; a second worker only adds wake-ups across threads (`up --once` of 200,000 sales took
// 6.4 to 7.4 s with one thread against 8.1 to 9.5 s with two).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    collector::init_logging();
    let ctx = Context::from_env(Stage::Branches).await?;
    let ctx = &ctx;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ScheduleEvent>| async move {
            collector::handle_schedule(event.payload, ctx)
                .await
                .map_err(Error::from)
        },
    ))
    .await
}
