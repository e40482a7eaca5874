//! `cascade up`: build the functions, start the environment's companions, deploy the stacks,
//! serve the endpoint and run the pipeline: every schedule fires once at start and then at its
//! own pace, messages cascade through the queues into the next functions, alarms are evaluated,
//! and a summary is printed each time the cascade drains, until Ctrl-C. With `--once`, `up`
//! exits when the first run has drained, with the summary; it exits 1 if a message ended in a
//! dead-letter queue or an alarm is in ALARM.
//!
//! Everything is durable in the environment's store, so `kill -9` and `up` again continues:
//! the deploy recovers, asynchronous events resume, in-flight messages become visible again after
//! their visibility timeout as on AWS.

use super::deploy::{self, print_event, EnvArgs};
use super::ProjectArgs;
use crate::companion;
use crate::local::Local;
use crate::settings::Settings;
use anyhow::Context;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
#[command(
    about = "Build, deploy, serve and run the pipeline in the local cloud",
    after_help = "Examples:\n  cascade up\n  cascade up --once\n  cascade up --env prod --param VendorApiUrl=https://vendor.example\n\nExit status: with --once, 0 when the cascade drained with no dead letter and no alarm in ALARM, 1 otherwise; without it, 0 after Ctrl-C. 2 on bad usage."
)]
pub struct Args {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub env: EnvArgs,
    /// The endpoint's address.
    #[arg(long, default_value = api::DEFAULT_LISTEN, value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Exit when the run the schedules start with has drained, after its summary.
    #[arg(long)]
    pub once: bool,
    /// With --once: give up waiting for the cascade to drain after this many seconds.
    #[arg(long, default_value_t = 3600, value_name = "SECS")]
    pub timeout: u64,
    /// Allow replacements and removals that delete a table's items or a queue's messages.
    #[arg(long)]
    pub allow_data_loss: bool,
    /// A token every request must carry (needed to listen off loopback).
    #[arg(long, env = api::AUTH_TOKEN_ENV, value_name = "TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let root = deploy::project_root(&args.project.template);
    let root = std::path::absolute(&root).unwrap_or(root);
    let settings = Settings::load(&root)?;
    let env = args.env.env.clone();
    // The environment's parameters from cascade.toml; `--param` wins.
    let mut project = args.project.clone();
    for (k, v) in settings.parameters_for(&env) {
        if !project.params.iter().any(|(pk, _)| *pk == k) {
            project.params.push((k, v));
        }
    }
    let state_dir = args.env.state_dir(&args.project);
    let mut config = api::ServeConfig::new(&env, state_dir.clone());
    config.listen = args.listen;
    config.auth_token = args.auth_token.clone();
    if let Err(e) = config.check() {
        eprintln!("error: {e}");
        return Ok(ExitCode::from(2));
    }
    let Some((loaded, desired)) = deploy::load_valid(&project, &env) else {
        return Ok(ExitCode::from(1));
    };
    // The endpoint's address first: when another `up` holds it, say so before building,
    // starting companions or deploying anything.
    let listener = super::serve::bind(config.listen)?;

    eprintln!(
        "building the functions that changed (cargo, release profile; a first build takes minutes)"
    );
    for r in super::build::build(&loaded, &root, false)? {
        if r.status == lambda::build::BuildStatus::Built {
            eprintln!("built {} ({})", r.logical_id, r.bootstrap.display());
        }
    }

    let mut companions = Vec::new();
    for (name, spec) in settings.companions_for(&env) {
        eprintln!("starting companion {name}: {}", spec.command.join(" "));
        let running = companion::Running::start(name, spec, &root, &state_dir.join("logs"))?;
        if let Some(line) = &running.ready_line {
            eprintln!("  {name}: {line}");
        }
        companions.push(running);
    }

    let runtime = api::runtime().context("start the async runtime")?;
    let code = runtime.block_on(async move {
        tokio::select! {
            code = run_local(&args, &root, &state_dir, config, listener, &desired) => code,
            _ = tokio::signal::ctrl_c() => {
                eprintln!("interrupted; state is kept in {}", state_dir.display());
                Ok(ExitCode::from(130))
            }
        }
    });
    // Functions are children of this process; the runtime's shutdown kills them with their
    // instances, the companions go when dropped.
    runtime.shutdown_timeout(Duration::from_secs(5));
    drop(companions);
    code
}

async fn run_local(
    args: &Args,
    root: &Path,
    state_dir: &Path,
    config: api::ServeConfig,
    listener: std::net::TcpListener,
    desired: &stacks::Desired,
) -> anyhow::Result<ExitCode> {
    let local = Local::open(state_dir)?;
    if local.deployer.recover(&mut print_event)? {
        println!(
            "rolled back the interrupted operation of environment {}",
            args.env.env
        );
    }
    let changes = local.deployer.plan(desired)?;
    if changes.is_empty() {
        println!("stacks of environment {} are up to date", args.env.env);
    } else {
        print!("{}", changes.render());
        changes.check_data_loss(args.allow_data_loss)?;
        let options = stacks::DeployOptions {
            allow_data_loss: args.allow_data_loss,
            after_step: None,
        };
        local.deployer.deploy(desired, &options, &mut print_event)?;
    }
    local.sync()?;

    let listener = tokio::net::TcpListener::from_std(listener).context("register the listener")?;
    let bound = listener.local_addr().context("read the bound address")?;
    let endpoint = format!("http://{bound}");
    let services = local.services.clone();
    let server = tokio::spawn(api::serve_with(config, services, listener));
    let (lambda, rules) = local.start_lambda(root, &endpoint, true)?;
    local
        .services
        .sns
        .add_sink(std::sync::Arc::new(TerminalAlarms));
    let delivery = tokio::spawn(local.services.sns.clone().run_delivery());
    let evaluator = tokio::spawn(evaluate_alarms(local.services.cloudwatch.clone()));
    eprintln!("endpoint {endpoint} (environment {})", args.env.env);
    eprintln!(
        "  aws --endpoint-url {endpoint} dynamodb scan --table-name <table>   (any access key works)"
    );

    let queues = std::sync::Arc::new(Queues::read(&local)?);
    let sampler = tokio::spawn(sample_queues(
        std::sync::Arc::clone(&queues),
        local.services.sqs.clone(),
        local.services.cloudwatch.clone(),
    ));
    let view = View::new(std::io::stderr().is_terminal());
    // Every schedule fires once at start, with or without --once; then each keeps its own pace.
    // The stages' counts are shown for the current run: since this point, then since the last
    // summary (when nothing runs, so nothing is counted in between).
    let mut baseline = stage_counts(&local, None);
    let started = Instant::now();
    for rule in &rules {
        let fired = lambda
            .fire_now(rule)
            .await
            .with_context(|| format!("fire schedule {rule}"))?;
        crate::console::line(&format!(
            "fired schedule {rule} ({} invocation)",
            fired.len()
        ));
    }
    let is_idle = || {
        let l = lambda.clone();
        async move {
            store::blocking(move || l.is_idle())
                .await
                .map_err(|_| anyhow::anyhow!("drain check panicked"))?
                .context("drain check")
        }
    };
    let code = if args.once {
        let deadline = started + Duration::from_secs(args.timeout);
        let mut drained = false;
        // The drain is checked every 50 ms, so the time the summary gives is at most that late;
        // the view is redrawn every fifth check.
        let mut checks = 0u32;
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if checks.is_multiple_of(5) {
                view.draw(&lambda, &queues, &local, started, &baseline);
            }
            checks += 1;
            if is_idle().await? {
                drained = true;
                break;
            }
        }
        // Alarms see the run's last datapoints before the verdict.
        record_queue_metrics(&queues, &local.services.sqs, &local.services.cloudwatch);
        let cw = local.services.cloudwatch.clone();
        let _ = store::blocking(move || cw.evaluate()).await;
        let summary = summary(
            &lambda,
            &queues,
            &local,
            started,
            &baseline,
            drained,
            &args.env.env,
        )?;
        crate::console::clear_view();
        println!("{}", summary.text);
        ExitCode::from(u8::from(!summary.ok))
    } else {
        // A run is the cascade from busy to drained; each one ends with a summary.
        let mut run_started = Some(started);
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            view.draw(&lambda, &queues, &local, started, &baseline);
            if server.is_finished() {
                anyhow::bail!("the endpoint stopped");
            }
            let idle = is_idle().await?;
            match run_started {
                Some(run) if idle => {
                    let text = summary(
                        &lambda,
                        &queues,
                        &local,
                        run,
                        &baseline,
                        true,
                        &args.env.env,
                    )?
                    .text;
                    crate::console::clear_view();
                    println!("{text}");
                    baseline = stage_counts(&local, None);
                    run_started = None;
                }
                None if !idle => run_started = Some(Instant::now()),
                _ => {}
            }
        }
    };
    lambda.stop().await;
    evaluator.abort();
    sampler.abort();
    delivery.abort();
    server.abort();
    Ok(code)
}

/// Evaluates every alarm every ten seconds (AWS evaluates about once a minute; a tighter loop
/// only makes a local run react sooner).
async fn evaluate_alarms(cloudwatch: api::cloudwatch::CloudWatch) {
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let cw = cloudwatch.clone();
        match store::blocking(move || cw.evaluate()).await {
            Ok(Err(e)) => tracing::warn!(error = %e, "evaluating alarms failed"),
            Err(_) => tracing::warn!("evaluating alarms panicked"),
            Ok(Ok(_)) => {}
        }
    }
}

/// Records the queues' metrics once a minute ([`record_queue_metrics`]), so alarms can watch them.
async fn sample_queues(
    queues: std::sync::Arc<Queues>,
    sqs: ::sqs::Sqs,
    cloudwatch: api::cloudwatch::CloudWatch,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let (queues, sqs, cw) = (queues.clone(), sqs.clone(), cloudwatch.clone());
        let _ = store::blocking(move || record_queue_metrics(&queues, &sqs, &cw)).await;
    }
}

/// Records every queue's metrics as SQS reports them to CloudWatch (namespace `AWS/SQS`,
/// dimension `QueueName`): the depths (`ApproximateNumberOfMessagesVisible`, `...NotVisible`,
/// `...Delayed`), the activity since the previous recording (`NumberOfMessagesSent`,
/// `NumberOfMessagesReceived`, `NumberOfMessagesDeleted`, `NumberOfEmptyReceives`, taken from
/// the engine's counters, so every count is recorded once) and `ApproximateAgeOfOldestMessage`.
/// Blocking (store reads and one CloudWatch write); a failure is logged, never fatal.
fn record_queue_metrics(
    queues: &Queues,
    sqs: &::sqs::Sqs,
    cloudwatch: &api::cloudwatch::CloudWatch,
) {
    let mut activity: BTreeMap<String, ::sqs::QueueActivity> = sqs
        .take_activity()
        .into_iter()
        .map(|a| (a.queue_name.clone(), a))
        .collect();
    let mut data = Vec::new();
    for (name, url, _) in &queues.all {
        let datum = |metric: &str, value: f64, unit: &str| api::cloudwatch::MetricDatum {
            metric_name: metric.to_string(),
            dimensions: vec![api::cloudwatch::Dimension::new("QueueName", name)],
            value: Some(value),
            values: Vec::new(),
            counts: Vec::new(),
            statistic_values: None,
            unit: Some(unit.to_string()),
            timestamp_ms: None,
            storage_resolution: None,
        };
        let Ok(attrs) = sqs.get_queue_attributes(url, &["All".to_string()]) else {
            continue;
        };
        for (attribute, metric) in [
            (
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesVisible",
            ),
            (
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesNotVisible",
            ),
            (
                "ApproximateNumberOfMessagesDelayed",
                "ApproximateNumberOfMessagesDelayed",
            ),
        ] {
            let value = attrs.get(attribute).and_then(|v| v.parse::<f64>().ok());
            data.push(datum(metric, value.unwrap_or(0.0), "Count"));
        }
        // A queue without activity since the last recording reports zeros, as SQS does.
        let a = activity.remove(name).unwrap_or_default();
        for (metric, value) in [
            ("NumberOfMessagesSent", a.sent),
            ("NumberOfMessagesReceived", a.received),
            ("NumberOfMessagesDeleted", a.deleted),
            ("NumberOfEmptyReceives", a.empty_receives),
        ] {
            data.push(datum(metric, value as f64, "Count"));
        }
        match sqs.age_of_oldest_message(url) {
            Ok(age) => data.push(datum(
                "ApproximateAgeOfOldestMessage",
                age as f64,
                "Seconds",
            )),
            Err(e) => {
                tracing::warn!(queue = %name, error = %e, "reading the oldest message's age failed")
            }
        }
    }
    if let Err(e) = cloudwatch.record("AWS/SQS", &data) {
        tracing::warn!(error = %e, "recording the queues' metrics failed");
    }
}

/// Prints every SNS publication (alarm notifications above all) on the terminal.
struct TerminalAlarms;

impl api::sns::TerminalSink for TerminalAlarms {
    fn published(&self, topic_arn: &str, subject: Option<&str>, message: &str) {
        let topic = topic_arn.rsplit(':').next().unwrap_or(topic_arn);
        let text = subject
            .map(str::to_string)
            .unwrap_or_else(|| message.chars().take(160).collect::<String>());
        crate::console::line(&format!("notification on {topic}: {text}"));
    }
}

/// The queues of the environment, and which of them are dead-letter queues.
struct Queues {
    /// (name, URL, is a dead-letter queue)
    all: Vec<(String, String, bool)>,
}

impl Queues {
    fn read(local: &Local) -> anyhow::Result<Queues> {
        let registry = local.deployer.registry();
        let queues = registry.resources_of_type(stacks::QUEUE)?;
        let mut dead_letter_arns: Vec<String> = Vec::new();
        for q in &queues {
            if let Some(arn) = q
                .properties
                .pointer("/RedrivePolicy/deadLetterTargetArn")
                .and_then(|v| v.as_str())
            {
                dead_letter_arns.push(arn.to_string());
            }
        }
        for f in registry.resources_of_type("AWS::Lambda::Function")? {
            if let Some(arn) = f
                .properties
                .pointer("/DeadLetterConfig/TargetArn")
                .and_then(|v| v.as_str())
            {
                dead_letter_arns.push(arn.to_string());
            }
        }
        let mut all: Vec<(String, String, bool)> = queues
            .into_iter()
            .map(|q| {
                let name = q.physical_id.rsplit('/').next().unwrap_or("").to_string();
                let dlq = dead_letter_arns
                    .iter()
                    .any(|arn| arn.rsplit(':').next() == Some(name.as_str()));
                (name, q.physical_id, dlq)
            })
            .collect();
        all.sort_by(|a, b| (a.2, &a.0).cmp(&(b.2, &b.0)));
        Ok(Queues { all })
    }

    /// (name, visible, in flight, is a DLQ) of each queue.
    fn depths(&self, local: &Local) -> Vec<(String, u64, u64, bool)> {
        let names = [
            "ApproximateNumberOfMessages".to_string(),
            "ApproximateNumberOfMessagesNotVisible".to_string(),
        ];
        self.all
            .iter()
            .map(|(name, url, dlq)| {
                let attrs = local
                    .services
                    .sqs
                    .get_queue_attributes(url, &names)
                    .unwrap_or_default();
                let n = |k: &str| attrs.get(k).and_then(|v| v.parse().ok()).unwrap_or(0);
                (
                    name.clone(),
                    n("ApproximateNumberOfMessages"),
                    n("ApproximateNumberOfMessagesNotVisible"),
                    *dlq,
                )
            })
            .collect()
    }
}

/// The live view: redrawn in place on a terminal, printed when it changes otherwise ([`Printed`]).
struct View {
    tty: bool,
    /// Off a terminal: which views are printed.
    printed: std::sync::Mutex<Printed>,
    /// The store readings the view shows, retaken as often as their cost allows.
    readings: std::sync::Mutex<Paced<Readings>>,
}

impl View {
    fn new(tty: bool) -> View {
        View {
            tty,
            printed: std::sync::Mutex::new(Printed::default()),
            readings: std::sync::Mutex::new(Paced::default()),
        }
    }

    fn draw(
        &self,
        lambda: &lambda::Lambda,
        queues: &Queues,
        local: &Local,
        started: Instant,
        baseline: &StageCounts,
    ) {
        let printed = || self.printed.lock().unwrap_or_else(|e| e.into_inner());
        if !self.tty && !printed().due(Instant::now()) {
            return;
        }
        let mut readings = self.readings.lock().unwrap_or_else(|e| e.into_inner());
        let readings = readings.get(|| Readings::take(queues, local, baseline));
        let text = status_text(lambda, readings, started);
        if !self.tty && !printed().print(&text, Instant::now()) {
            return;
        }
        crate::console::draw_view(&text, self.tty);
    }
}

/// Off a terminal (a log file, a CI job) the view is printed at most every
/// [`Printed::INTERVAL`], and only when its rows changed: an idle `up` prints nothing between
/// runs.
#[derive(Default)]
struct Printed {
    /// When the last view was printed, and its rows (the view without its time line).
    last: Option<(Instant, String)>,
}

impl Printed {
    const INTERVAL: Duration = Duration::from_secs(10);

    /// Whether a view may be printed at `now`, by time alone.
    fn due(&self, now: Instant) -> bool {
        self.last
            .as_ref()
            .is_none_or(|(at, _)| now.duration_since(*at) >= Self::INTERVAL)
    }

    /// Whether to print the view `text` at `now`; a yes is remembered as the last print.
    fn print(&mut self, text: &str, now: Instant) -> bool {
        let rows = text.split_once('\n').map_or("", |(_, rows)| rows);
        if !self.due(now) || self.last.as_ref().is_some_and(|(_, last)| last == rows) {
            return false;
        }
        self.last = Some((now, rows.to_owned()));
        true
    }
}

/// What the view reads from the store: each queue's depths and the stages' counts. Counting a
/// queue reads every message in it (about 0.2 s at a million), so the view retakes its readings
/// through [`Paced`] and a deep queue does not keep a core busy with redraws.
struct Readings {
    /// (name, visible, in flight, is a DLQ) of each queue.
    depths: Vec<(String, u64, u64, bool)>,
    counts: StageCounts,
}

impl Readings {
    fn take(queues: &Queues, local: &Local, baseline: &StageCounts) -> Readings {
        Readings {
            depths: queues.depths(local),
            counts: stage_counts(local, Some(baseline.from_ms)).since(baseline),
        }
    }
}

/// A reading retaken only when the time since the last one is at least [`Paced::RATIO`] times
/// what the last one took: a cheap reading is fresh at every redraw, a costly one uses at most
/// 1/RATIO of a core.
struct Paced<T> {
    /// The last reading, when it was taken and how long it took.
    last: Option<(Instant, Duration, T)>,
}

impl<T> Default for Paced<T> {
    fn default() -> Self {
        Paced { last: None }
    }
}

impl<T> Paced<T> {
    const RATIO: u32 = 20;

    /// Whether a reading is due at `now`.
    fn due(&self, now: Instant) -> bool {
        self.last
            .as_ref()
            .is_none_or(|(at, cost, _)| now.saturating_duration_since(*at) >= *cost * Self::RATIO)
    }

    fn get(&mut self, read: impl FnOnce() -> T) -> &T {
        let now = Instant::now();
        if self.due(now) {
            let value = read();
            self.last = Some((now, now.elapsed(), value));
        }
        let (_, _, value) = self.last.as_ref().expect("a reading was taken");
        value
    }
}

/// The view's text: the time since `started`, then a row per function, queue and stage, each a
/// label (kind and name) padded to the longest label, then its figures.
fn status_text(lambda: &lambda::Lambda, readings: &Readings, started: Instant) -> String {
    let mut rows: Vec<(String, String)> = Vec::new();
    for s in lambda.stats() {
        rows.push((
            format!("function {}", s.function),
            format!(
                "invocations {:>8}  errors {:>6}  throttles {:>6}  running {:>3}",
                s.invocations, s.errors, s.throttles, s.running
            ),
        ));
    }
    for (name, visible, in_flight, dlq) in &readings.depths {
        rows.push((
            format!("{} {name}", if *dlq { "dlq  " } else { "queue" }),
            format!("visible {visible:>8}  in flight {in_flight:>6}"),
        ));
    }
    for (stage, [fetched, written, rejected]) in &readings.counts.stages {
        rows.push((
            format!("stage {stage}"),
            format!("fetched {fetched:>8}  written {written:>8}  rejected {rejected:>6}"),
        ));
    }
    for (label, value) in &readings.counts.other {
        rows.push((label.clone(), format!("{value:>10}")));
    }
    let mut out = format!("-- {:>6.1} s --\n", started.elapsed().as_secs_f64());
    out.push_str(&aligned(&rows));
    out
}

/// `(label, figures)` rows as lines, indented, each label padded to the longest.
fn aligned(rows: &[(String, String)]) -> String {
    let width = rows
        .iter()
        .map(|(label, _)| label.chars().count())
        .max()
        .unwrap_or(0);
    rows.iter()
        .map(|(label, figures)| format!("  {label:<width$} {figures}\n"))
        .collect()
}

/// The per-stage metrics of the collectors (dimension `Stage`), in the table's column order.
const STAGE_METRICS: [&str; 3] = ["FetchedRecords", "WrittenRecords", "RejectedRecords"];

/// The stages of the sales pipeline in cascade order; other stages follow by name.
const STAGE_ORDER: [&str; 3] = ["branches", "salespersons", "sales"];

/// The pipeline's own metrics, summed.
struct StageCounts {
    /// The start of the summed range: a minute boundary (CloudWatch's period grain).
    from_ms: i64,
    /// Per stage: records fetched, written and rejected, from the [`STAGE_METRICS`] that carry a
    /// `Stage` dimension (added up over their other dimensions), in cascade order.
    stages: Vec<(String, [u64; 3])>,
    /// Every other custom metric, labelled with its dimension values and name.
    other: Vec<(String, u64)>,
}

impl StageCounts {
    /// The counts added since `baseline` was taken.
    fn since(self, baseline: &StageCounts) -> StageCounts {
        let before = |label: &str| {
            baseline
                .stages
                .iter()
                .find(|(stage, _)| stage == label)
                .map_or([0; 3], |(_, row)| *row)
        };
        let other_before = |label: &str| {
            baseline
                .other
                .iter()
                .find(|(l, _)| l == label)
                .map_or(0, |(_, v)| *v)
        };
        StageCounts {
            from_ms: self.from_ms,
            stages: self
                .stages
                .into_iter()
                .map(|(stage, row)| {
                    let was = before(&stage);
                    let row = [0, 1, 2].map(|i| row[i].saturating_sub(was[i]));
                    (stage, row)
                })
                .collect(),
            other: self
                .other
                .into_iter()
                .map(|(label, value)| {
                    let was = other_before(&label);
                    (label, value.saturating_sub(was))
                })
                .collect(),
        }
    }
}

/// Sums of the pipeline's own metrics (namespaces other than AWS's) from `from_ms` (by default
/// the start of the current minute) on: the stages' fetched, written and rejected records as a
/// table, every other metric per metric and dimension set. A run's counts are the difference of
/// two sums from the same start ([`StageCounts::since`]): exact, where a window starting when
/// the run did would be rounded down to CloudWatch's minute and count what came just before.
fn stage_counts(local: &Local, from_ms: Option<i64>) -> StageCounts {
    use api::cloudwatch::{Statistic, StatisticsRequest};
    let now = local.clock.now_millis();
    let start = from_ms.unwrap_or(now - now.rem_euclid(60_000));
    let mut counts = StageCounts {
        from_ms: start,
        stages: Vec::new(),
        other: Vec::new(),
    };
    let cw = &local.services.cloudwatch;
    let Ok(metrics) = cw.list_metrics(None, None, &[]) else {
        return counts;
    };
    // One period over the whole range: a multiple of 60 s, as CloudWatch requires.
    let period_s = ((now + 60_000 - start) / 60_000 + 1) * 60;
    let mut stages: BTreeMap<(usize, String), [u64; 3]> = BTreeMap::new();
    let mut other: BTreeMap<String, u64> = BTreeMap::new();
    for m in metrics
        .into_iter()
        .filter(|m| !m.namespace.starts_with("AWS/"))
    {
        let request = StatisticsRequest {
            metric: m.clone(),
            start_ms: start,
            end_ms: now + 60_000,
            period_s,
            statistics: vec![Statistic::Sum],
            unit: None,
        };
        let Ok(points) = cw.get_metric_statistics(&request) else {
            continue;
        };
        let sum = points.iter().map(|p| p.sum).sum::<f64>() as u64;
        let column = STAGE_METRICS.iter().position(|n| *n == m.name);
        let stage = m.dimensions.iter().find(|d| d.name == "Stage");
        if let (Some(column), Some(stage)) = (column, stage) {
            let order = STAGE_ORDER
                .iter()
                .position(|s| *s == stage.value)
                .unwrap_or(STAGE_ORDER.len());
            stages.entry((order, stage.value.clone())).or_default()[column] += sum;
            continue;
        }
        let dims: Vec<String> = m.dimensions.iter().map(|d| d.value.clone()).collect();
        let label = if dims.is_empty() {
            m.name.clone()
        } else {
            format!("{} {}", dims.join("/"), m.name)
        };
        *other.entry(label).or_default() += sum;
    }
    counts.stages = stages
        .into_iter()
        .map(|((_, stage), row)| (stage, row))
        .collect();
    counts.other = other.into_iter().collect();
    counts
}

struct Summary {
    text: String,
    ok: bool,
}

/// The peak resident memory of the engine (this process) and of each function's largest
/// instance, one line.
fn peak_memory_text(lambda: &lambda::Lambda) -> String {
    let mib = |kib: u64| format!("{:.1} MiB", kib as f64 / 1024.0);
    let engine = lambda::peak_memory_kib("/proc/self/status").map_or("unknown".into(), mib);
    let mut text = format!("peak memory: engine {engine}");
    for s in lambda.stats().into_iter().filter(|s| s.peak_memory_kib > 0) {
        text.push_str(&format!(", {} {}", s.function, mib(s.peak_memory_kib)));
    }
    text.push('\n');
    text
}

/// A line per function whose last error ended after `since`: the error (shortened) and where to
/// read the rest.
fn last_errors_text(stats: &[lambda::FunctionStats], since: Instant, env: &str) -> String {
    const LONGEST: usize = 300;
    let mut text = String::new();
    for s in stats {
        let Some((at, error)) = &s.last_error else {
            continue;
        };
        if *at < since {
            continue;
        }
        let mut error = error.replace('\n', " ");
        if error.chars().count() > LONGEST {
            error = error.chars().take(LONGEST).collect::<String>() + "...";
        }
        text.push_str(&format!(
            "last error of {}: {error} (all of it: `cascade logs {} --env {env}`)\n",
            s.function, s.function
        ));
    }
    text
}

fn summary(
    lambda: &lambda::Lambda,
    queues: &Queues,
    local: &Local,
    started: Instant,
    baseline: &StageCounts,
    drained: bool,
    env: &str,
) -> anyhow::Result<Summary> {
    let mut ok = drained;
    let mut text = if drained {
        format!("drained in {:.1} s\n", started.elapsed().as_secs_f64())
    } else {
        format!(
            "NOT drained after {:.1} s\n",
            started.elapsed().as_secs_f64()
        )
    };
    let readings = Readings::take(queues, local, baseline);
    text.push_str(&status_text(lambda, &readings, started));
    text.push_str(&peak_memory_text(lambda));
    for (name, visible, in_flight, dlq) in &readings.depths {
        if *dlq && visible + in_flight > 0 {
            ok = false;
            text.push_str(&format!(
                "dead letters: {} message(s) in {name}\n",
                visible + in_flight
            ));
        }
    }
    text.push_str(&last_errors_text(&lambda.stats(), started, env));
    let alarms = local
        .services
        .cloudwatch
        .describe_alarms(&[], None, None)
        .map_err(|e| anyhow::anyhow!("read the alarms: {e}"))?;
    for a in alarms {
        if a.state == api::cloudwatch::AlarmState::Alarm {
            ok = false;
            text.push_str(&format!("alarm in ALARM: {} ({})\n", a.spec.name, a.reason));
        }
    }
    text.push_str(if ok { "result: ok" } else { "result: FAILED" });
    Ok(Summary { text, ok })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_line_up_behind_the_longest_label() {
        let rows = [
            ("function f", "invocations        1"),
            ("dlq   a-long-dead-letter-queue-name", "visible        0"),
            ("stage sales", "fetched     1300"),
        ]
        .map(|(l, f)| (l.to_owned(), f.to_owned()));
        assert_eq!(
            aligned(&rows),
            concat!(
                "  function f                          invocations        1\n",
                "  dlq   a-long-dead-letter-queue-name visible        0\n",
                "  stage sales                         fetched     1300\n",
            )
        );
        assert_eq!(aligned(&[]), "");
    }

    #[test]
    fn off_a_terminal_a_view_is_printed_when_its_rows_change_and_at_most_every_interval() {
        let t0 = Instant::now();
        let later = |secs| t0 + Duration::from_secs(secs);
        let mut printed = Printed::default();
        assert!(printed.print("--  1.0 s --\n  queue q  visible 3", t0));
        assert!(!printed.due(later(9)));
        assert!(
            !printed.print("--  9.0 s --\n  queue q  visible 2", later(9)),
            "too soon"
        );
        assert!(printed.due(later(10)));
        assert!(
            !printed.print("-- 10.0 s --\n  queue q  visible 3", later(10)),
            "only the time changed"
        );
        assert!(printed.print("-- 11.0 s --\n  queue q  visible 0", later(11)));
        assert!(!printed.print("-- 30.0 s --\n  queue q  visible 0", later(30)));
    }

    #[test]
    fn the_summary_quotes_each_function_error_of_its_run_only() {
        let t0 = Instant::now();
        let stats = |function: &str, last_error: Option<(Instant, String)>| lambda::FunctionStats {
            function: function.to_owned(),
            invocations: 3,
            errors: u64::from(last_error.is_some()),
            throttles: 0,
            running: 0,
            warm_instances: 0,
            peak_memory_kib: 0,
            last_error,
        };
        let long = format!("Vendor(GaveUp {{ {} }})\nsecond line", "x".repeat(400));
        let text = last_errors_text(
            &[
                stats("old-f", Some((t0, "before the run".to_owned()))),
                stats("clean-f", None),
                stats("failed-f", Some((t0 + Duration::from_millis(5), long))),
            ],
            t0 + Duration::from_millis(1),
            "staging",
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text}");
        assert!(
            lines[0].starts_with("last error of failed-f: Vendor(GaveUp { xxx"),
            "{text}"
        );
        assert!(
            lines[0].ends_with("... (all of it: `cascade logs failed-f --env staging`)"),
            "{text}"
        );
    }

    #[test]
    fn a_costly_reading_is_retaken_less_often() {
        let t0 = Instant::now();
        let mut paced = Paced::<u32>::default();
        assert!(paced.due(t0), "the first reading");
        paced.last = Some((t0, Duration::from_millis(200), 1));
        assert!(!paced.due(t0 + Duration::from_millis(3_999)));
        assert!(paced.due(t0 + Duration::from_secs(4)));
        paced.last = Some((t0, Duration::ZERO, 1));
        assert!(paced.due(t0), "a free reading is always due");

        paced.last = Some((Instant::now(), Duration::from_secs(3_600), 7));
        assert_eq!(*paced.get(|| 8), 7, "not due: the last reading stays");
        paced.last = Some((Instant::now(), Duration::ZERO, 7));
        assert_eq!(*paced.get(|| 8), 8, "due: a new reading");
        assert!(matches!(paced.last, Some((_, _, 8))));
    }
}
